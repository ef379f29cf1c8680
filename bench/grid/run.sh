#!/bin/sh
# run.sh -- the refinement study, timings and figures of docs/grid.md.
# Needs a built tree (./bootstrap).  Usage: bench/grid/run.sh [refine|time|figs]
# (no argument: all three; figures go to docs/img/), or
# bench/grid/run.sh views GRID.csv PARTICLES.csv [--sinkhorn EPS]: W2 between
# a grid run's density and a particle run's cloud at their common output
# times (three_views_w2.c; examples/grid_three_views.hnn writes the grid file),
# or bench/grid/run.sh fv [THREADS [K [N]]]: the 2-D finite-volume step with
# each thread's CPU time (fv_bench.c).
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
CC=${CC:-gcc}
tmp=${TMPDIR:-/tmp}/hnn-grid.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
$CC -O2 -I"$top/runtime" $(pkg-config --cflags cairo) -o "$tmp/grid_study" "$here/grid_study.c" \
  "$top/.libs/libhnn_core.a" -lgsl -lgslcblas -lm -ldl -lpthread
if [ "$1" = fv ]; then
  shift
  $CC -O2 -I"$top/runtime" -o "$tmp/fv_bench" "$here/fv_bench.c" "$top/.libs/libhnn_core.a" -lgsl -lgslcblas -lm -ldl -lpthread
  "$tmp/fv_bench" "$@"
  exit
fi
if [ "$1" = views ]; then
  shift
  $CC -O2 -I"$top/runtime" -o "$tmp/three_views_w2" "$here/three_views_w2.c" "$top/.libs/libhnn_core.a" \
    -lgsl -lgslcblas -lstdc++ -lm -ldl -lpthread
  "$tmp/three_views_w2" "$@"
  exit
fi
for what in ${1:-refine time figs}; do
  case $what in
    figs) "$tmp/grid_study" figs "$top/docs/img" ;;
    *) "$tmp/grid_study" "$what" ;;
  esac
done
