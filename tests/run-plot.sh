#!/bin/sh
# run-plot.sh — tests of `hnn plot` (lang/plotcmd.c, runtime/plot*.c).
#
# Run by `make check` with HNN set to the built binary.  Writes a small CSV
# in the layout hnn's runs produce, plots it to PNG, SVG and PDF, checks the
# files' magic bytes, and checks that bad input fails with a message and a
# non-zero status without leaving a file behind.  Prints PASS/FAIL per case;
# exit status 1 if any case failed.

HNN=${HNN:-./hnn}
T=$(mktemp -d "${TMPDIR:-/tmp}/hnn-plot.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
failures=0

# fontconfig (under cairo's text) keeps process-lifetime caches that
# LeakSanitizer reports in sanitizer builds; they are not hnn's leaks.
printf 'leak:libfontconfig.so\n' >"$T/lsan.supp"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp"
export LSAN_OPTIONS

pass() { echo "PASS $1"; }
fail() {
  echo "FAIL $1: $2"
  failures=$((failures + 1))
}

# magic FILE PREFIX: does FILE start with PREFIX (printf escapes allowed)?
magic() {
  want=$(printf "$2" | od -An -tx1 | tr -d ' \n')
  n=$(printf "$2" | wc -c)
  got=$(head -c "$n" "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')
  [ -n "$want" ] && [ "$got" = "$want" ]
}

# ok NAME CMD...: CMD succeeds.
ok() {
  name=$1
  shift
  if "$@" >"$T/out" 2>"$T/err"; then pass "$name"; else fail "$name" "exit $?: $(cat "$T/err")"; fi
}

# bad NAME PATTERN CMD...: CMD fails, and its stderr contains PATTERN.
bad() {
  name=$1 pat=$2
  shift 2
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    fail "$name" "exit status 0, expected an error"
  elif [ "$rc" -gt 3 ]; then
    fail "$name" "exit status $rc (crash?): $(cat "$T/err")"
  elif ! grep -q -- "$pat" "$T/err"; then
    fail "$name" "stderr lacks '$pat': $(cat "$T/err")"
  else
    pass "$name"
  fi
}

# A trajectory file (t,step,x1,x2,f) and a particle file with 3 particles.
{
  echo "# hnn 0.1.0"
  echo "# seed 0"
  echo "# param x0 = [1, 2]    # model.hnn:2"
  echo "# t,step,x1,x2,f"
  i=0
  while [ $i -le 20 ]; do
    awk -v i=$i 'BEGIN { t = i / 10; printf "%.17g,%d,%.17g,%.17g,%.17g\n", t, i, exp(-t), 2 * exp(-2 * t), exp(-3 * t) }'
    i=$((i + 1))
  done
} >"$T/run.csv"
{
  echo "# t,step,particle,x1,x2,rho,f"
  for t in 0 0.5 1; do
    for p in 1 2 3; do
      echo "$t,0,$p,$p.5,$t,0.$p,1$p"
    done
  done
} >"$T/parts.csv"

ok "png" "$HNN" plot "$T/run.csv" -o "$T/a.png"
if magic "$T/a.png" '\211PNG\r\n'; then pass "png magic"; else fail "png magic" "not a PNG"; fi
ok "svg" "$HNN" plot "$T/run.csv" --y f --logy --title "decay" -o "$T/a.svg"
if magic "$T/a.svg" '<?xml' || magic "$T/a.svg" '<svg'; then pass "svg magic"; else fail "svg magic" "not SVG"; fi
ok "pdf" "$HNN" plot "$T/run.csv" --x x1 --y x2 -o "$T/a.pdf"
if magic "$T/a.pdf" '%%PDF'; then pass "pdf magic"; else fail "pdf magic" "not a PDF"; fi
ok "default output name" "$HNN" plot "$T/run.csv"
if magic "$T/run.png" '\211PNG'; then pass "default name run.png"; else fail "default name" "no run.png"; fi
ok "group" "$HNN" plot "$T/parts.csv" --group particle --y x1 -o "$T/g.png"
ok "scatter color last" "$HNN" plot "$T/parts.csv" --x x1 --y x2 --color rho --last -o "$T/s.png"
ok "scatter" "$HNN" plot "$T/parts.csv" --x x1 --y x2 --scatter -o "$T/s2.svg"
ok "help" "$HNN" plot --help
# non-finite values are left out with a warning; zeros on a log axis quietly
printf '# t,step,x1\n0,0,nan\n1,1,inf\n2,2,3\n3,3,0\n' >"$T/nonfinite.csv"
ok "non-finite points" "$HNN" plot "$T/nonfinite.csv" --logy -o "$T/nf.png"
# (grep -x: sanitizer builds append LeakSanitizer's suppression summary)
if grep -qx "hnn: warning: plot $T/nonfinite.csv: 2 of 4 points are not finite and left out" "$T/err"; then
  pass "non-finite warning"
else
  fail "non-finite warning" "stderr: $(cat "$T/err")"
fi

bad "missing file" "cannot open" "$HNN" plot "$T/nope.csv" -o "$T/x.png"
bad "unknown column" "no column 'zz'" "$HNN" plot "$T/run.csv" --y x1,zz -o "$T/x.png"
bad "unknown x column" "no column 'q'" "$HNN" plot "$T/run.csv" --x q -o "$T/x.png"
printf '# t,step,x1\n' >"$T/empty.csv"
bad "no data" "no data rows" "$HNN" plot "$T/empty.csv" -o "$T/x.png"
printf '# t,step,x1\n0,0,1\n1,1,abc\n' >"$T/badnum.csv"
bad "not a number" "not a number" "$HNN" plot "$T/badnum.csv" -o "$T/x.png"
printf '# t,step,x1\n0,0,1\n1,1\n' >"$T/short.csv"
bad "short row" "expected 3" "$HNN" plot "$T/short.csv" -o "$T/x.png"
bad "bad extension" "image format" "$HNN" plot "$T/run.csv" -o "$T/x.jpg"
bad "unwritable" "cannot write" "$HNN" plot "$T/run.csv" -o "$T/no/such/dir/x.png"
bad "no csv" "needs a CSV" "$HNN" plot
bad "unknown option" "unknown option" "$HNN" plot "$T/run.csv" --frobnicate
printf '# a,b\n1,2\n3,4\n' >"$T/not.csv"
bad "last without t" "needs a column 't'" "$HNN" plot "$T/not.csv" --last -o "$T/x.png"
"$HNN" plot "$T/nope.csv" -o "$T/x.png" 2>/dev/null
rc=$?
if [ "$rc" -eq 1 ]; then pass "bad input exits 1"; else fail "bad input exits 1" "exit status $rc"; fi
if ls "$T" | grep -q 'tmp'; then fail "no temporary files left" "$(ls "$T")"; else pass "no temporary files left"; fi
if [ -e "$T/x.png" ] || [ -e "$T/x.jpg" ]; then fail "no output on error" "$(ls "$T")"; else pass "no output on error"; fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
exit 0
