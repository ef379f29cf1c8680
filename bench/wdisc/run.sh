#!/bin/sh
# run.sh -- the discrepancy-flow figures of source 002 (docs/ot.md,
# "Discrepancy flows"): docs/img/wdisc_particle_count.png and
# docs/img/wdisc_geometries.png, from runtime/wfield_disc.c driven by
# wdisc_figs.c.  Needs a built tree (make) and /usr/bin/python3 with numpy
# and matplotlib.  Takes ~5 min on 2 cores (N = 10^4 with a 10^4-point
# teacher dominates).
# usage: bench/wdisc/run.sh [OUTDIR]   (default docs/img)
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
out=${1:-$top/docs/img}
tmp=${TMPDIR:-/tmp}/hnn-wdisc-figs.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
gcc -O2 -pthread -I"$top/runtime" "$here/wdisc_figs.c" "$top/.libs/libhnn_core.a" \
  $(pkg-config --libs gsl) -lstdc++ -ldl -lm -o "$tmp/wf"
"$tmp/wf" geometries "$tmp"
"$tmp/wf" count "$tmp"
cat "$tmp/count.csv"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/plot_figs.py" "$tmp" "$out"
