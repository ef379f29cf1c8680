#!/bin/sh
# run.sh — the mobility benchmark: hnn's `mobility` particle run against
# numpy doing the same Euler-Maruyama steps vectorized over the particles
# (np_mobility.py), whole processes timed alike (bench/timeit.py:
# interleaved rounds, best wall time), at N = 20000 and 100000 particles.
# The hnn run uses every core (runtime/pool.h); numpy's element-wise
# loops use one.  Both print moments close to N(0, diag(0.25, 0.5)).
#
# usage: bench/mobility/run.sh [ROUNDS]   (default 5; needs `make` first)
set -e
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../need.sh"
hnn=$top/hnn
need_built "$top" hnn
py=/usr/bin/python3
need "numpy for $py" "$py -c 'import numpy'" python3-numpy
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
rounds=${1:-5}
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)"
for n in 20000 100000; do
  echo "N = $n:"
  echo "  hnn   $("$hnn" -D N=$n "$here/mobility.hnn" | tail -n 1 | cut -d, -f3-8)"
  echo "  numpy $($py "$here/np_mobility.py" $n)"
  $py "$here/../timeit.py" "$rounds" "hnn=$hnn -D N=$n $here/mobility.hnn" "numpy=$py $here/np_mobility.py $n" >"/tmp/hnn-mob-bench.$$"
  awk '{ t[$1] = $2; c[$1] = $4 } END { printf "  wall: hnn %.3f s, numpy %.3f s, numpy/hnn %.2f; cpu: hnn %.3f s, numpy %.3f s, numpy/hnn %.2f\n", t["hnn"], t["numpy"], t["numpy"] / t["hnn"], c["hnn"], c["numpy"], c["numpy"] / c["hnn"] }' "/tmp/hnn-mob-bench.$$"
  rm -f "/tmp/hnn-mob-bench.$$"
done

# adam: the flow of a 100-d quadratic by hnn (rkf45, JIT field) and by
# scipy's solve_ivp (RK45, numpy field), both at atol = rtol = 1e-8
need "scipy for $py" "$py -c 'import scipy'" python3-scipy
echo "adam, n = 100, t = 20:"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{ echo c; seq 1 100; } >"$work/c.csv"
cp "$here/adam.hnn" "$work/"
echo "  hnn   f = $(cd "$work" && "$hnn" adam.hnn | tail -n 1 | awk -F, '{ print $NF ", steps " $2 }')"
echo "  scipy $($py "$here/scipy_adam.py")"
$py "$here/../timeit.py" "$rounds" "hnn=$hnn $work/adam.hnn" "scipy=$py $here/scipy_adam.py" >"$work/t.txt"
awk '{ t[$1] = $2; c[$1] = $4 } END { printf "  wall: hnn %.3f s, scipy %.3f s, scipy/hnn %.2f; cpu: hnn %.3f s, scipy %.3f s, scipy/hnn %.2f\n", t["hnn"], t["scipy"], t["scipy"] / t["hnn"], c["hnn"], c["scipy"], c["scipy"] / c["hnn"] }' "$work/t.txt"
