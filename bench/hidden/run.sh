#!/bin/sh
# run.sh — Recall-and-Learn (bench/hidden/rl.hnn: 32 + 32 units, 3 patterns,
# 30 rounds) in hnn against the same algorithm in numpy/scipy
# (rl_numpy.py), whole processes, interleaved rounds (bench/timeit.py).
# numpy runs on one OpenBLAS thread, hnn on HNN_THREADS (default 2).
#
# usage: bench/hidden/run.sh [ROUNDS]   (default 3; needs `make` first)
set -e
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../need.sh"
need_built "$top" hnn
py=/usr/bin/python3
need "$py with numpy and scipy" "$py -c 'import numpy, scipy'" python3-scipy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here/rl.hnn" .
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS=1 HNN_THREADS=${HNN_THREADS:-2}
"$py" "$top/bench/timeit.py" "${1:-3}" \
  "hnn=$top/hnn rl.hnn" \
  "numpy=$py $here/rl_numpy.py np.csv"
