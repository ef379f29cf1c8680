#!/bin/sh
# bench.sh -- the discrepancy fields of runtime/wfield_disc.c against their
# peers on the same 2-D clouds, in one run (docs/performance.md,
# "Discrepancy fields"): the energy-distance MMD field against blocked numpy,
# the W2 field (exact plan and barycentric map) against POT's emd, and the
# Sinkhorn-divergence field alone.  Needs a built tree and /usr/bin/python3
# with numpy and POT.  ~2 min.
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
tmp=${TMPDIR:-/tmp}/hnn-wdisc-bench.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
gcc -O2 -pthread -I"$top/runtime" "$here/disc_bench.c" "$top/.libs/libhnn_core.a" \
  $(pkg-config --libs gsl) -lstdc++ -ldl -lm -o "$tmp/db"
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/disc_peers.py" "$@"; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)"
N=${1:-5000}
"$tmp/db" mmd "$N" "$tmp/m.bin" | tee "$tmp/h"
py mmd "$N" "$tmp/m.bin" | tee -a "$tmp/h"
"$tmp/db" w2 1000 "$tmp/w.bin" | tee -a "$tmp/h"
py w2 1000 "$tmp/w.bin" | tee -a "$tmp/h"
"$tmp/db" sinkhorn 1000 0.01 | tee -a "$tmp/h"
awk '{ for (i = 2; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] } }
     /^hnn-/ && v["threads"] == 2 { h[substr($1, 5)] = v["time"] }
     /^peer-/ { p[substr($1, 6)] = v["time"] }
     END { printf "ratio    peer/hnn (2 threads): mmd %.1f   w2 %.2f\n", p["mmd"] / h["mmd"], p["w2"] / h["w2"] }' "$tmp/h"
