#!/bin/sh
# run.sh — build and run the ODE benchmark: Hopfield flow on scaled
# Himmelblau (logistic), RK4 dt = 1e-4 to t = 200 (2,000,000 steps), output
# every 1000 steps; plus rkf45 at atol = rtol = TOL.  Prints times and ratios.
# usage: bench/ode/run.sh [TOL]    (from anywhere; builds in a temp dir)
set -e
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
tol=${1:-1e-8}
CC=${CC:-gcc}
CFLAGS="-O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
$CC $CFLAGS -I"$here" -o plain_rk4 "$here/plain_rk4.c" -lm
$CC $CFLAGS -I"$here" -o gsl_ode "$here/gsl_ode.c" -lgsl -lgslcblas -lm
$CC $CFLAGS -I"$here" -I"$top/runtime" -o hnn_ode "$here/hnn_ode.c" "$here/callbacks.c" \
  "$top/runtime/ode.c" "$top/runtime/flow.c" "$top/runtime/csvw.c" -lgsl -lgslcblas -lm

best() {  # best of $REPS (default 3) wall times (first field of the output)
  b=
  for i in $(seq ${REPS:-3}); do
    t=$("$@" | awk '{print $1}')
    if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
  done
  echo "$b"
}
plain=$(best ./plain_rk4 plain.dat)
hnn_rk4=$(best ./hnn_ode rk4 hnn_rk4.csv)
gsl_rk4=$(best ./gsl_ode rk4 gsl_rk4.dat)
# the adaptive runs last ~30 ms: best of 9 against scheduling noise
hnn_rkf=$(REPS=9 best ./hnn_ode rkf45 hnn_rkf.csv "$tol")
gsl_rkf=$(REPS=9 best ./gsl_ode rkf45 gsl_rkf.dat "$tol")
xpp=
if command -v xppaut >/dev/null 2>&1; then
  cp "$here/himmel.ode" .
  s=$(date +%s.%N)
  xppaut -silent himmel.ode >xpp.log 2>&1 || true
  e=$(date +%s.%N)
  if [ -s output.dat ]; then xpp=$(awk "BEGIN{printf \"%.4f\", $e - $s}"); fi
fi

echo "final points (x1 x2):"
echo "  plain  $(./plain_rk4 p2.dat | cut -d' ' -f2-)"
echo "  hnn    $(./hnn_ode rk4 h2.csv | cut -d' ' -f2-3)"
[ -n "$xpp" ] && echo "  xppaut $(tail -1 output.dat | awk '{printf "%.17g %.17g", 1/(1+exp(-$2)), 1/(1+exp(-$3))}')"
echo "rows: plain $(wc -l < plain.dat), hnn $(grep -vc '^#' hnn_rk4.csv), xppaut $( [ -s output.dat ] && wc -l < output.dat || echo -)"
echo
printf "%-34s %10s %10s\n" "program" "seconds" "ratio"
r() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
printf "%-34s %10s %10s\n" "plain C RK4 (gcc -O2)" "$plain" "1.00"
printf "%-34s %10s %10s\n" "hnn ode rk4 fixed (own loop)" "$hnn_rk4" "$(r "$hnn_rk4" "$plain")"
printf "%-34s %10s %10s\n" "gsl_odeiv2 rk4 fixed" "$gsl_rk4" "$(r "$gsl_rk4" "$plain")"
[ -n "$xpp" ] && printf "%-34s %10s %10s\n" "xppaut -silent rungekutta" "$xpp" "$(r "$xpp" "$plain")"
printf "%-34s %10s %10s\n" "gsl_odeiv2 rkf45 tol=$tol" "$gsl_rkf" "1.00"
printf "%-34s %10s %10s\n" "hnn ode rkf45 tol=$tol" "$hnn_rkf" "$(r "$hnn_rkf" "$gsl_rkf")"
echo
echo "targets: hnn rk4 / plain <= 1.5: $(r "$hnn_rk4" "$plain");" \
  "xppaut / hnn rk4 >= 4: $( [ -n "$xpp" ] && r "$xpp" "$hnn_rk4" || echo n/a);" \
  "hnn rkf45 / gsl rkf45 <= 1.3: $(r "$hnn_rkf" "$gsl_rkf")"
