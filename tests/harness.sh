# harness.sh — what the shell tests share; sourced after T (a temporary
# directory) is set.  pass/fail print a case's result and count failures;
# run runs a command with stdin from $T/in (empty unless written), leaving
# stdout in $out, stderr in $err and the exit status in $rc; expect NAME RC
# STDOUT [STDERR] checks the last run: its status, its stdout exactly, and
# its stderr exactly when STDERR is given.

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

expect() {
  if [ "$rc" != "$2" ]; then
    fail "$1" "exit status $rc, expected $2; stderr: $err"
  elif [ "$out" != "$3" ]; then
    fail "$1" "stdout '$out', expected '$3'"
  elif [ $# -ge 4 ] && [ "$err" != "$4" ]; then
    fail "$1" "stderr '$err', expected '$4'"
  else
    pass "$1"
  fi
}
