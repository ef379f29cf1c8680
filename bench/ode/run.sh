#!/bin/sh
# run.sh — the ODE benchmark, every program timed the same way in one run:
# whole processes (start-up, parsing, compiling and writing included),
# interleaved rounds, best wall time (bench/timeit.py).
#
# System: the Hopfield flow on scaled Himmelblau with the logistic
# activation from (0.35, 0.62).
#   fixed step: RK4, h = 1e-4 to t = 200 (2,000,000 steps), a row every 1000
#               steps: hnn, a plain C loop, gsl_odeiv2 by hand, XPPAUT;
#   adaptive:   rkf45, rkck, rk8pd, msadams, msbdf at the first TOL, rkf45
#               at the others; a row every 0.1 to t = 200: hnn
#               and gsl_odeiv2 by hand.
# The hand-written programs write the rows hnn writes (t, step, x1, x2, f).
# "hnn runtime" is runtime/ode.c driven by hand-written gcc -O2 callbacks
# (hnn_ode.c): the runtime's share, without the JIT.
#
# usage: bench/ode/run.sh [TOL ...]   (default 1e-8; needs `make` first;
#        ROUNDS_FIXED (5) and ROUNDS_ADAPTIVE (41) set the rounds)
# With valgrind installed it also counts the instructions of the adaptive
# runs at the first TOL: a figure that scheduling noise does not move.
# Needs /usr/bin/python3 (bench/timeit.py) and GSL's headers: as root it
# installs them (bench/need.sh), else it names them and stops.
set -e
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../need.sh"
[ $# -gt 0 ] || set -- 1e-8
hnn=$top/hnn
need_built "$top" hnn
py=/usr/bin/python3
need "$py (bench/timeit.py)" "test -x $py" python3
need "GSL's headers" "test -f /usr/include/gsl/gsl_odeiv2.h" libgsl-dev
CC=${CC:-gcc}
CFLAGS="-O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
$CC $CFLAGS -I"$here" -o plain_rk4 "$here/plain_rk4.c" -lm
$CC $CFLAGS -I"$here" -o gsl_ode "$here/gsl_ode.c" -lgsl -lgslcblas -lm
$CC $CFLAGS -I"$here" -I"$top/runtime" -o hnn_ode "$here/hnn_ode.c" "$here/callbacks.c" \
  "$top/runtime/ode.c" "$top/runtime/flow.c" "$top/runtime/csvw.c" "$top/runtime/numfmt.c" "$top/runtime/afile.c" -lgsl -lgslcblas -lm
cp "$here/himmel.ode" "$here/himmel_rk4.hnn" "$here/himmel_rkf45.hnn" .

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)"
echo "final points, x1 x2 at t = 200:"
echo "  plain C rk4  $(./plain_rk4 p.csv | cut -d' ' -f2-3)"
"$hnn" himmel_rk4.hnn >/dev/null
echo "  hnn rk4      $(tail -n 1 hnn_rk4.csv | cut -d, -f3-4 | tr , ' ')"
xpp=
if command -v xppaut >/dev/null 2>&1; then
  xppaut -silent himmel.ode >/dev/null 2>&1 && [ -s output.dat ] && xpp=xppaut
  [ -n "$xpp" ] && echo "  xppaut       $(tail -n 1 output.dat | awk '{printf "%.17g %.17g", 1/(1+exp(-$2)), 1/(1+exp(-$3))}')"
fi
echo

$py "$here/../timeit.py" "${ROUNDS_FIXED:-5}" \
  "plain=./plain_rk4 p.csv" "hnn=$hnn himmel_rk4.hnn" "runtime=./hnn_ode rk4 r.csv" \
  "gsl=./gsl_ode rk4 g.csv" ${xpp:+"xpp=xppaut -silent himmel.ode"} >fixed.txt
best() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
r() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# row LABEL FILE KEY BASE: one table line, KEY's best time and its ratio to BASE
row() { printf "%-44s %9s %7s\n" "$1" "$(best "$2" "$3")" "$(r "$(best "$2" "$3")" "$4")"; }
plain=$(best fixed.txt plain)
printf "%-44s %9s %7s\n" "RK4, h = 1e-4, 2,000,000 steps" "best (s)" "ratio"
row "plain C loop (gcc -O2)" fixed.txt plain "$plain"
row "hnn himmel_rk4.hnn" fixed.txt hnn "$plain"
row "  hnn runtime, hand-written callbacks" fixed.txt runtime "$plain"
row "gsl_odeiv2 rk4 by hand (step doubling)" fixed.txt gsl "$plain"
[ -n "$xpp" ] && row "xppaut -silent, rungekutta, nout=1000" fixed.txt xpp "$plain"
echo
targets="hnn/plain $(r "$(best fixed.txt hnn)" "$plain") (<= 1.5)"
[ -n "$xpp" ] && targets="$targets; xppaut/hnn $(r "$(best fixed.txt xpp)" "$(best fixed.txt hnn)") (>= 4)"

# every adaptive method at the first TOL (hnn scripts made from the rkf45
# one), with the runtime-only row for rkf45
tol1=$1 tol=$1
echo "runtime=./hnn_ode rkf45 r.csv $tol" >methods.spec
for m in rkf45 rkck rk8pd msadams msbdf; do
  sed "s/rkf45/$m/g" himmel_rkf45.hnn >"adaptive_$m.hnn"
  echo "gsl_$m=./gsl_ode $m g.csv $tol" >>methods.spec
  echo "hnn_$m=$hnn -D tol=$tol adaptive_$m.hnn" >>methods.spec
done
$py "$here/../timeit.py" "${ROUNDS_ADAPTIVE:-41}" @methods.spec >methods.txt
printf "%-44s %9s %9s %7s\n" "adaptive, atol = rtol = $tol" "gsl (s)" "hnn (s)" "ratio"
for m in rkf45 rkck rk8pd msadams msbdf; do
  g=$(best methods.txt "gsl_$m"); h=$(best methods.txt "hnn_$m")
  printf "%-44s %9s %9s %7s\n" "$m$( [ $m = msbdf ] && echo ' (exact Jacobian)')" "$g" "$h" "$(r "$h" "$g")"
  targets="$targets; $m hnn/gsl $(r "$h" "$g") (<= 1.3)"
done
row "  hnn runtime, hand-written callbacks, rkf45" methods.txt runtime "$(best methods.txt gsl_rkf45)"
echo

# rkf45 at the other tolerances
shift
for tol in "$@"; do
  $py "$here/../timeit.py" "${ROUNDS_ADAPTIVE:-41}" \
    "gsl=./gsl_ode rkf45 g.csv $tol" "hnn=$hnn -D tol=$tol himmel_rkf45.hnn" \
    "runtime=./hnn_ode rkf45 r.csv $tol" >adaptive.txt
  gsl=$(best adaptive.txt gsl)
  printf "%-44s %9s %7s\n" "rkf45, atol = rtol = $tol" "best (s)" "ratio"
  row "gsl_odeiv2 by hand" adaptive.txt gsl "$gsl"
  row "hnn himmel_rkf45.hnn" adaptive.txt hnn "$gsl"
  row "  hnn runtime, hand-written callbacks" adaptive.txt runtime "$gsl"
  echo
  targets="$targets; rkf45 $tol hnn/gsl $(r "$(best adaptive.txt hnn)" "$gsl") (<= 1.3)"
done
# Instructions executed (deterministic, unlike times on a shared machine)
if command -v valgrind >/dev/null 2>&1; then
  ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
         awk '/refs:/ { gsub(",", "", $NF); print $NF }'; }
  for m in rkf45 msbdf; do
    gi=$(ir ./gsl_ode $m g.csv "$tol1"); hi=$(ir "$hnn" -D tol="$tol1" "adaptive_$m.hnn")
    echo "instructions, $m $tol1 (callgrind): gsl_odeiv2 by hand $gi, hnn $hi, ratio $(r "$hi" "$gi")"
  done
  echo
fi
echo "targets: $targets"
