#!/bin/sh
# run-limits.sh — generated scripts too large for tests/errors or the fuzzer:
# long chains of declarations (each using the next) in both orders.  Each
# must work, or fail with a clear message and exit status 1 — never crash
# (the check and the lowering recurse along such chains), and never take
# quadratic time (run by `make check`, also under ASan).
#
# Environment: HNN (the binary), HNN_STDLIB.

HNN=${HNN:-./hnn}
case $HNN in /*) ;; *) HNN=$(pwd)/$HNN ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/hnn-limits.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
failures=0

pass() { echo "PASS $1"; }
fail() {
  echo "FAIL $1: $2"
  failures=$((failures + 1))
}

# gen SHAPE N ORDER: a chain of N declarations; ORDER up (each declared
# after what it uses) or down (before it), then a use of the last one.
gen() {
  awk -v shape="$1" -v n="$2" -v order="$3" '
    function decl(i) {
      if (shape == "function") return i ? sprintf("function f%d(x) = f%d(x) + 1", i, i - 1) : "function f0(x) = x"
      if (shape == "param") return i ? sprintf("param p%d = p%d", i, i - 1) : "param p0 = 1"
      if (shape == "activation") return i ? sprintf("activation a%d(u) = a%d(u)", i, i - 1) : "activation a0(u) = tanh(u)"
      if (shape == "metric") return i ? sprintf("metric M%d(x[k]) = M%d(x)", i, i - 1) : "metric M0(x[k]) = diag(1 + x^2)"
      if (shape == "cycle") return sprintf("function g%d(x) = g%d(x)", i, (i + 1) % n)
    }
    BEGIN {
      if (order == "up") for (i = 0; i < n; i++) print decl(i)
      else for (i = n - 1; i >= 0; i--) print decl(i)
      m = n - 1
      if (shape == "function") printf "print f%d(1)\n", m
      if (shape == "param") printf "print p%d\n", m
      if (shape == "activation") printf "print a%d(1)\n", m
      if (shape == "metric") printf "print M%d([1, 2])\n", m
      if (shape == "cycle") print "print g0(1)"
    }' >"$T/$1_$2_$3.hnn"
}

# check NAME STATUS STDOUT PATTERN: run $T/NAME.hnn; stderr must match
# PATTERN, or be empty when PATTERN is.
check() {
  (cd "$T" && "$HNN" "$1.hnn") >"$T/out" 2>"$T/err"
  rc=$?
  out=$(cat "$T/out")
  if [ "$rc" != "$2" ]; then
    fail "$1" "exit status $rc, expected $2; stderr: $(head -c 300 "$T/err")"
  elif [ "$out" != "$3" ]; then
    fail "$1" "stdout '$out', expected '$3'"
  elif [ -z "$4" ] && [ -s "$T/err" ]; then
    fail "$1" "stderr: $(head -c 300 "$T/err")"
  elif [ -n "$4" ] && ! grep -q "$4" "$T/err"; then
    fail "$1" "stderr lacks '$4': $(head -c 300 "$T/err")"
  else
    pass "$1"
  fi
}

# Params are read by value: a chain of any length works, in either order,
# in linear time (50,000 took a minute when names were found by a scan).
for order in up down; do
  gen param 50000 $order
  check param_50000_$order 0 1 ''
done

# Calls are expanded in place: a chain of 1,000 works; 100,000 is refused.
for order in up down; do
  gen function 1000 $order
  check function_1000_$order 0 1000 ''
  gen function 100000 $order
  check function_100000_$order 1 '' 'error: calls nested too deeply'
done

# Activations and metrics are inlined by their own lowering paths.
for shape in activation metric; do
  for order in up down; do
    gen $shape 20000 $order
    check ${shape}_20000_$order 1 '' 'error: calls nested too deeply'
  done
done

# A long cycle: checked on demand, so it must stop at the nesting limit.
gen cycle 20000 up
check cycle_20000_up 1 '' 'error: declarations nested too deeply'

[ "$failures" -eq 0 ]
