# harness.sh — what the shell tests share; sourced after T (a temporary
# directory) is set.  pass/fail print a case's result and count failures;
# run runs a command with stdin from $T/in (empty unless written), leaving
# stdout in $out, stderr in $err and the exit status in $rc.

failures=0

pass() { echo "PASS $1"; }
fail() {
  echo "FAIL $1: $2"
  failures=$((failures + 1))
}

run() {
  [ -f "$T/in" ] || : >"$T/in"
  "$@" <"$T/in" >"$T/out" 2>"$T/err"
  rc=$?
  out=$(cat "$T/out")
  err=$(cat "$T/err")
  rm -f "$T/in"
}
