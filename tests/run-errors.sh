#!/bin/sh
# run-errors.sh -- every tests/errors/NAME.hnn must fail: its exit status must
# equal tests/errors/NAME.status (default 1) and its standard error must equal
# tests/errors/NAME.err exactly.
#
# Each script runs with the errors directory as working directory and is
# named by its base name, so messages read "NAME.hnn:LINE:COL: error: ...".
# Optional NAME.args: extra command-line arguments (one line).
# Environment (set by 'make check'): HNN (the hnn binary), srcdir, HNN_STDLIB.

srcdir=${srcdir:-.}
HNN=${HNN:-${top_builddir:-.}/hnn}
dir=$srcdir/tests/errors

case $HNN in /*) ;; *) HNN=`pwd`/$HNN ;; esac
if test ! -x "$HNN"; then
  echo "FAIL: hnn binary not found or not executable: $HNN"
  exit 1
fi

tmp=`mktemp -d "${TMPDIR:-/tmp}/hnn-errors.XXXXXX"` || exit 1
trap 'rm -rf "$tmp"' 0 1 2 15

pass=0; fail=0
for f in "$dir"/*.hnn; do
  test -f "$f" || continue
  name=`basename "$f" .hnn`
  exp=$dir/$name.err
  want=1
  test -f "$dir/$name.status" && want=`cat "$dir/$name.status"`
  args=
  test -f "$dir/$name.args" && args=`cat "$dir/$name.args"`
  if test ! -f "$exp"; then
    echo "FAIL $name (missing $name.err)"
    fail=`expr $fail + 1`
    continue
  fi
  # shellcheck disable=SC2086
  (cd "$dir" && "$HNN" $args "$name.hnn") >"$tmp/$name.out" 2>"$tmp/$name.err"
  st=$?
  if test "$st" -eq 0; then
    echo "FAIL $name (exit status 0, expected $want)"
    fail=`expr $fail + 1`
  elif test "$st" -ne "$want"; then
    echo "FAIL $name (exit status $st, expected $want)"
    sed 's/^/  stderr: /' "$tmp/$name.err"
    fail=`expr $fail + 1`
  elif ! diff -u "$exp" "$tmp/$name.err" >"$tmp/$name.diff" 2>&1; then
    echo "FAIL $name (stderr differs)"
    cat "$tmp/$name.diff"
    fail=`expr $fail + 1`
  else
    echo "PASS $name"
    pass=`expr $pass + 1`
  fi
done

total=`expr $pass + $fail`
if test "$total" -eq 0; then
  echo "FAIL: no error tests found in $dir"
  exit 1
fi
echo "run-errors: $pass passed, $fail failed"
test "$fail" -eq 0
