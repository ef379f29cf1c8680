#!/bin/sh
# run-scripts.sh -- run every tests/scripts/NAME.hnn through hnn and compare
# its standard output with tests/scripts/NAME.out.
#
# Each script runs with the scripts directory as working directory and is
# named by its base name (so messages and relative data paths are stable).
# Optional per-test files:
#   NAME.args    extra command-line arguments (one line, split on blanks)
#   NAME.status  expected exit status (default 0)
# Environment (set by 'make check'): HNN (the hnn binary), srcdir, HNN_STDLIB.

srcdir=${srcdir:-.}
HNN=${HNN:-${top_builddir:-.}/hnn}
dir=$srcdir/tests/scripts

case $HNN in /*) ;; *) HNN=`pwd`/$HNN ;; esac
if test ! -x "$HNN"; then
  echo "FAIL: hnn binary not found or not executable: $HNN"
  exit 1
fi

tmp=`mktemp -d "${TMPDIR:-/tmp}/hnn-scripts.XXXXXX"` || exit 1
trap 'rm -rf "$tmp"' 0 1 2 15

pass=0; fail=0
for f in "$dir"/*.hnn; do
  test -f "$f" || continue
  name=`basename "$f" .hnn`
  exp=$dir/$name.out
  want=0
  test -f "$dir/$name.status" && want=`cat "$dir/$name.status"`
  args=
  test -f "$dir/$name.args" && args=`cat "$dir/$name.args"`
  if test ! -f "$exp"; then
    echo "FAIL $name (missing $name.out)"
    fail=`expr $fail + 1`
    continue
  fi
  # shellcheck disable=SC2086
  (cd "$dir" && "$HNN" $args "$name.hnn") >"$tmp/$name.out" 2>"$tmp/$name.err"
  st=$?
  if test "$st" -ne "$want"; then
    echo "FAIL $name (exit status $st, expected $want)"
    sed 's/^/  stderr: /' "$tmp/$name.err"
    fail=`expr $fail + 1`
  elif ! diff -u "$exp" "$tmp/$name.out" >"$tmp/$name.diff" 2>&1; then
    echo "FAIL $name (stdout differs)"
    cat "$tmp/$name.diff"
    sed 's/^/  stderr: /' "$tmp/$name.err"
    fail=`expr $fail + 1`
  else
    echo "PASS $name"
    pass=`expr $pass + 1`
  fi
done

total=`expr $pass + $fail`
if test "$total" -eq 0; then
  echo "FAIL: no test scripts found in $dir"
  exit 1
fi
echo "run-scripts: $pass passed, $fail failed"
test "$fail" -eq 0
