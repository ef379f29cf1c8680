# golden.sh -- sourced by run-scripts.sh and run-errors.sh: run every
# DIR/NAME.hnn through hnn and compare one of its streams with a file.
#
#   golden DIR STREAM STATUS
#     DIR     tests/DIR under $srcdir
#     STREAM  out (standard output vs NAME.out) or err (standard error vs
#             NAME.err)
#     STATUS  the expected exit status unless NAME.status gives one
#
# Each script runs with DIR as working directory and is named by its base
# name, so messages read "NAME.hnn:LINE:COL: ..." and relative data paths
# are stable.  Optional NAME.args: extra command-line arguments (one line,
# split on blanks).  Environment (set by 'make check'): HNN (the hnn
# binary), srcdir, HNN_STDLIB.

golden() {
  dir=${srcdir:-.}/tests/$1 stream=$2 status=$3
  HNN=${HNN:-${top_builddir:-.}/hnn}
  case $HNN in /*) ;; *) HNN=`pwd`/$HNN ;; esac
  if test ! -x "$HNN"; then
    echo "FAIL: hnn binary not found or not executable: $HNN"
    return 1
  fi
  tmp=`mktemp -d "${TMPDIR:-/tmp}/hnn-$1.XXXXXX"` || return 1
  trap 'rm -rf "$tmp"' 0 1 2 15

  pass=0; fail=0
  for f in "$dir"/*.hnn; do
    test -f "$f" || continue
    name=`basename "$f" .hnn`
    exp=$dir/$name.$stream
    want=$status
    test -f "$dir/$name.status" && want=`cat "$dir/$name.status"`
    args=
    test -f "$dir/$name.args" && args=`cat "$dir/$name.args"`
    if test ! -f "$exp"; then
      echo "FAIL $name (missing $name.$stream)"
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
    elif ! diff -u "$exp" "$tmp/$name.$stream" >"$tmp/$name.diff" 2>&1; then
      echo "FAIL $name (std$stream differs)"
      cat "$tmp/$name.diff"
      test "$stream" = err || sed 's/^/  stderr: /' "$tmp/$name.err"
      fail=`expr $fail + 1`
    else
      echo "PASS $name"
      pass=`expr $pass + 1`
    fi
  done

  total=`expr $pass + $fail`
  if test "$total" -eq 0; then
    echo "FAIL: no tests found in $dir"
    return 1
  fi
  echo "tests/$1: $pass passed, $fail failed"
  test "$fail" -eq 0
}
