#!/bin/sh
# run.sh -- the OT benchmark table (docs/performance.md, "Optimal transport"):
# hnn's solvers against POT 0.8.2 and scipy on the same clouds, in one run.
# Needs a built tree (make) and /usr/bin/python3 with numpy, scipy and POT
# (ot_peers.py says what is missing).  Takes ~15 min: POT's numpy
# log-domain Sinkhorn at N = 10^4 dominates (and needs ~4 GB).
# usage: bench/ot/run.sh [N_sinkhorn [EPS [STOPTHR]]]
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
tmp=${TMPDIR:-/tmp}/hnn-ot-bench.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
gcc -O2 -pthread -I"$top/runtime" "$here/ot_bench.c" "$top/.libs/libhnn_core.a" \
  $(pkg-config --libs gsl) -lstdc++ -ldl -lm -o "$tmp/ob"
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/ot_peers.py" "$@"; }
N=${1:-10000}; EPS=${2:-0.01}; THR=${3:-1e-5}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)  $(grep -m1 'model name' /proc/cpuinfo)"

echo "== Sinkhorn divergence, 2-D, N = $N per side, eps = $EPS"
"$tmp/ob" sinkhorn 1000 "$EPS" 1e-3 1 "$tmp/s.bin" >/dev/null      # warm-up
"$tmp/ob" sinkhorn "$N" "$EPS" 1 1 "$tmp/s.bin" >/dev/null || true # writes the clouds
py sinkhorn "$N" "$EPS" "$THR" "$tmp/s.bin" | tee "$tmp/pot"
tol=$(awk '/^pot-sinkhorn_log/ { for (i = 1; i <= NF; i++) if ($i ~ /^l1err=/) { split($i, a, "="); print a[2] } }' "$tmp/pot")
for t in 1 2; do "$tmp/ob" sinkhorn "$N" "$EPS" "$tol" $t | tee "$tmp/hnn$t"; done
awk '/^pot-sinkhorn_log/ { for (i = 1; i <= NF; i++) if ($i ~ /^time=/) { split($i, a, "="); p = a[2] } }
     /^hnn-sinkhorn/ { for (i = 1; i <= NF; i++) if ($i ~ /^(time|threads)=/) { split($i, a, "="); v[a[1]] = a[2] }
                       h[v["threads"]] = v["time"] }
     END { printf "ratio    POT/hnn: %.1f (1 thread), %.1f (2 threads)\n", p / h[1], p / h[2] }' \
  "$tmp/pot" "$tmp/hnn1" "$tmp/hnn2"

echo "== W2 in 1-D, 10^6 samples per side"
"$tmp/ob" w1d 1000000 2 "$tmp/w.bin" | tee "$tmp/w1"
"$tmp/ob" w1d 1000000 1 | tee -a "$tmp/w1"
py w1d 1000000 "$tmp/w.bin" | tee "$tmp/w2"
awk '/^hnn-w1d/ && /threads=2/ { split($5, a, "="); if ($3 == "p=2") h2 = a[2]; else h1 = a[2] }
     /^scipy/ { split($3, a, "="); s = a[2] }
     /^pot-wasserstein_1d p=2/ { split($4, a, "="); p2 = a[2] }
     /^pot-wasserstein_1d p=1/ { split($4, a, "="); p1 = a[2] }
     END { printf "ratio    scipy W1 / hnn W1: %.1f   POT W2^2 / hnn W2^2: %.1f   POT W1 / hnn W1: %.1f\n", s / h1, p2 / h2, p1 / h1 }' \
  "$tmp/w1" "$tmp/w2"

echo "== exact OT, 2-D, N = 1000 per side"
"$tmp/ob" exact 1000 "$tmp/e.bin" | tee "$tmp/e1"
py exact 1000 "$tmp/e.bin" | tee "$tmp/e2"
awk '/^hnn-exact/ { split($3, a, "="); h = a[2] } /^pot-emd2/ { split($3, a, "="); p = a[2] }
     END { printf "ratio    hnn/POT emd2: %.2f (target <= 2)\n", h / p }' "$tmp/e1" "$tmp/e2"
