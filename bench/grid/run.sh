#!/bin/sh
# run.sh -- the refinement study, timings and figures of docs/grid.md.
# Needs a built tree (./bootstrap).  Usage: bench/grid/run.sh [refine|time|figs]
# (no argument: all three; figures go to docs/img/).
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
CC=${CC:-gcc}
tmp=${TMPDIR:-/tmp}/hnn-grid.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
$CC -O2 -I"$top/runtime" $(pkg-config --cflags cairo) -o "$tmp/grid_study" "$here/grid_study.c" \
  "$top/.libs/libhnn_core.a" -lgsl -lgslcblas -lm -ldl -lpthread
for what in ${1:-refine time figs}; do
  case $what in
    figs) "$tmp/grid_study" figs "$top/docs/img" ;;
    *) "$tmp/grid_study" "$what" ;;
  esac
done
