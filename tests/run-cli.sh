#!/bin/sh
# run-cli.sh — tests of the hnn command-line program (lang/cli/cli.c, lang/cli/repl.c).
#
# Run by `make check` with HNN set to the built binary and srcdir to the
# source directory.  Each case prints PASS or FAIL and its name; the exit
# status is 1 if any case failed.  Stdin is never a terminal here, so the
# REPL runs in its non-interactive (piped) mode.

HNN=${HNN:-./hnn}
srcdir=${srcdir:-.}
T=$(mktemp -d "${TMPDIR:-/tmp}/hnn-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
nl='
'
. "$srcdir/tests/harness.sh"

# expect_usage NAME: the last run was refused as a usage error.
expect_usage() {
  case $err in
    "hnn: "*"try 'hnn --help'"*) ;;
    *) fail "$1" "stderr '$err' lacks 'hnn: ...' and the --help hint"; return ;;
  esac
  expect "$1" 2 ""
}

# ---- basics ----------------------------------------------------------------

run "$HNN" -e 'print 1+2'
expect e-print 0 3

run "$HNN" -e 'print 1' -e 'print 2'
expect e-repeat 0 "1${nl}2"

echo 'print 2^10' >"$T/in"
run "$HNN"
expect stdin-pipe 0 1024

printf 'print (1 +\n 2)\n' >"$T/in"
run "$HNN"
expect stdin-continuation 0 3

echo 'print 6*7' >"$T/in"
run "$HNN" -
expect stdin-dash 0 42

run "$HNN" --version
case $out in
  "hnn "[0-9]*.[0-9]*) expect version 0 "$out" ;;
  *) fail version "output '$out'" ;;
esac

run "$HNN" --help
missing=
for opt in -e -D --seed --seed-offset --task-id SLURM_ARRAY_TASK_ID -o -i \
           --list-params --dump-ast --dump-c --version --help "exit status"; do
  case $out in *"$opt"*) ;; *) missing="$missing $opt" ;; esac
done
wide=$(printf '%s\n' "$out" | awk 'length > 80' | head -n 1)
if [ -n "$missing" ]; then fail help "does not mention:$missing"
elif [ -n "$wide" ]; then fail help "line wider than 80 columns: $wide"
else expect help 0 "$out"
fi

# ---- usage errors ------------------------------------------------------------

run "$HNN" --no-such-option
expect_usage bad-option
run "$HNN" -e
expect_usage missing-argument
run "$HNN" --seed banana -e 'print 1'
expect_usage bad-number
run "$HNN" --seed=-1 -e 'print 1'
expect_usage negative-number
echo 'print 1' >"$T/a.hnn"
run "$HNN" "$T/a.hnn" "$T/a.hnn"
expect_usage two-scripts
run "$HNN" -D novalue -e 'print 1'
expect_usage bad-define

# ---- script errors -------------------------------------------------------------

run "$HNN" "$T/no-such-file.hnn"
case $err in
  *no-such-file.hnn*) expect missing-file 1 "" ;;
  *) fail missing-file "stderr does not name the file: $err" ;;
esac

printf 'print 1\nprint no_such_name\nprint 2\n' >"$T/in"
run "$HNN"
case $err in
  *no_such_name*) expect pipe-error-continues 1 "1${nl}2" ;;
  *) fail pipe-error-continues "stderr does not name the bad name: $err" ;;
esac

# ---- params, seeds, reports ------------------------------------------------------

printf 'param n = 3\nprint n*2\n' >"$T/n.hnn"
run "$HNN" "$T/n.hnn"
expect define-default 0 6
run "$HNN" -D n=5 "$T/n.hnn"
expect define-override 0 10
run "$HNN" -Dn=7 "$T/n.hnn"
expect define-attached 0 14

printf 'param r = uniform(0, 1)\nprint r\n' >"$T/r.hnn"
run "$HNN" --seed 42 "$T/r.hnn"; r42=$out
run "$HNN" --seed 42 "$T/r.hnn"
if [ -n "$r42" ] && [ "$out" = "$r42" ]; then pass seed-repeatable
else fail seed-repeatable "'$r42' then '$out'"
fi
run "$HNN" --seed 43 "$T/r.hnn"
if [ -n "$out" ] && [ "$out" != "$r42" ]; then pass seed-differs
else fail seed-differs "seeds 42 and 43 both give '$out'"
fi

run "$HNN" --seed 42 --task-id 1 "$T/r.hnn"; t1=$out
run env SLURM_ARRAY_TASK_ID=1 "$HNN" --seed 42 "$T/r.hnn"
if [ -n "$t1" ] && [ "$t1" != "$r42" ] && [ "$out" = "$t1" ]; then pass task-id
else fail task-id "seed 42: '$r42'; --task-id 1: '$t1'; SLURM_ARRAY_TASK_ID=1: '$out'"
fi
run env SLURM_ARRAY_TASK_ID=1 "$HNN" --seed 42 --seed-offset 2 "$T/r.hnn"
if [ "$out" != "$t1" ]; then pass task-id-option-wins
else fail task-id-option-wins "--seed-offset 2 gave the output of task 1"
fi

run "$HNN" -D n=5 --list-params "$T/n.hnn"
if printf '%s\n' "$out" | grep -Eq '^[[:space:]]*n[[:space:]].*5'; then pass list-params
else fail list-params "no line for n = 5 in: $out"
fi
if printf '%s\n' "$out" | grep -qx '10'; then fail list-params-dry "the print ran: $out"
else pass list-params-dry
fi

# --dump-ast prints the tree and exits, as the man page says: nothing runs
printf 'print 6*7\nobjective f(x[1]) = x[1]^2\nflow g = gradient(f)\nrun g from [1] until 1 -> "g.csv"\n' >"$T/d.hnn"
run "$HNN" -o "$T/dump" --dump-ast "$T/d.hnn"
if [ "$rc" = 0 ] && printf '%s\n' "$out" | grep -q '^(print (\* 6 7))$' &&
   ! printf '%s\n' "$out" | grep -qx '42' && [ ! -e "$T/dump/g.csv" ]; then pass dump-ast-dry
else fail dump-ast-dry "exit $rc, stdout '$out', $(ls "$T/dump" 2>/dev/null)"
fi

run "$HNN" -o "$T/outdir/deep/dir" -e 'print 1'
if [ -d "$T/outdir/deep/dir" ]; then expect output-dir 0 1
else fail output-dir "directory not created"
fi

# the EXAMPLE commands of the man page run as printed, without a warning
# (from a directory of their own holding examples/, where their files go)
top_srcdir=${top_srcdir:-$(cd "$srcdir" && pwd)}
mkdir "$T/man" && ln -s "$top_srcdir/examples" "$T/man/examples"
sed -n '/^\.SH EXAMPLE/,/^\.SH/{ /^hnn /p; }' "$top_srcdir/docs/hnn.1" | sed 's/\\-/-/g' >"$T/man.sh"
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  (cd "$T/man" && eval "\"\$HNN\" ${cmd#hnn }") </dev/null >"$T/man.out" 2>"$T/man.err"
  rc=$?
  if [ "$rc" = 0 ] && ! grep -Eq '(warning|error):' "$T/man.err"; then pass "man-example-$n"
  else fail "man-example-$n" "'$cmd': exit $rc, stderr: $(cat "$T/man.err")"
  fi
done <"$T/man.sh"
[ "$n" -ge 2 ] || fail man-examples "found $n commands in the EXAMPLE section of hnn.1"

# ---- warnings --------------------------------------------------------------------

# eps far too small for the entropic kernel: the fixed point fails at every
# step; the first failure is reported in full, the rest in one summary line
printf 'objective f(x[2]) = 0.5*dot(x, x)\nmetric G = euclidean\nflow w = wasserstein(f, G, T = 1, eps = 1e-9)\nrun w from uniform([0, 1]^2) particles 20 h 0.01 steps 6 maxiter 50\n' >"$T/w.hnn"
run "$HNN" "$T/w.hnn"
case $err in
  "hnn: warning: run w: the proximal fixed point did not converge at step 1 "*"${nl}hnn: warning: run w: the proximal fixed point did not converge in 6 of 6 steps "*)
    if [ "$(printf '%s\n' "$err" | wc -l)" -eq 2 ] && [ "$rc" = 0 ]; then pass prox-warning-summary
    else fail prox-warning-summary "exit $rc, stderr: $err"
    fi ;;
  *) fail prox-warning-summary "stderr: $err" ;;
esac

# the progress line of an ensemble, on a terminal (script(1) provides one):
# about 1.5 s of dual iterations that never meet tol
if command -v script >/dev/null 2>&1; then
  printf 'activation s(u) = 0.5*tanh(u - 0.5) + 0.5\nobjective J(x[2]) = 0.5*dot(x, x)\nfunction g1(x[2]) = sum(x) - 1\nflow al = augmented_lagrangian(J, [g1], s, step = 1e-2, dual_step = 1e-1)\nrun al from [0.5, 0.5] repeat 4 steps 200 tol 1e-300 inner 20000 -> "%s/al.csv"\n' "$T" >"$T/al.hnn"
  script -qc "HNN_THREADS=1 $HNN $T/al.hnn" /dev/null >"$T/tty" 2>&1
  if grep -q 'hnn: run al  [1-4] of 4 runs' "$T/tty"; then pass progress-ensemble
  else fail progress-ensemble "no progress line in: $(tr '\r' '|' <"$T/tty" | head -c 300)"
  fi
fi

# ... and of an ODE run with no output between its start and end
if command -v script >/dev/null 2>&1; then
  printf 'use "objectives"\nflow g = gradient(himmelblau)\nrun g from [0.35, 0.62] until 150 method rk4 h 1e-5 -> "%s/g.csv"\n' "$T" >"$T/g.hnn"
  script -qc "$HNN $T/g.hnn" /dev/null >"$T/tty" 2>&1
  if grep -q 'hnn: run g  t = [0-9.]* *step [0-9]* *[1-9][0-9]\{0,1\}%' "$T/tty"; then pass progress-between-outputs
  else fail progress-between-outputs "no progress line in: $(tr '\r' '|' <"$T/tty" | head -c 300)"
  fi
fi

# the ELD example, shortened: the early dual iterations take the hidden
# state to u ~ 16, where 1 - tanh^2 had no digits left and d_geodesic was nan
sed 's/repeat 100 steps 200 tol 1e-7 inner 10000/repeat 2 steps 20 tol 1e-7 inner 100/; /^plot/d' \
  "$srcdir/examples/eld.hnn" >"$T/eld.hnn"
run "$HNN" -o "$T" "$T/eld.hnn"
if [ "$rc" = 0 ] && [ -z "$err" ] && [ -s "$T/eld.csv" ] && ! grep -qi nan "$T/eld.csv"; then pass eld-distances-finite
else fail eld-distances-finite "exit $rc, stderr '$err', $(grep -ci nan "$T/eld.csv" 2>/dev/null) nan rows"
fi

# bounded work: a run is sized before it starts (lang/flows/flows.c)
printf 'objective f(x[2]) = dot(x, x)\nflow g = gradient(f)\nrun g from [1, 2] until 1e6 dt 1e-6 -> "big.csv"\n' >"$T/big.hnn"
run "$HNN" -o "$T/bigout" "$T/big.hnn"
if [ "$rc" = 1 ] && [ ! -e "$T/bigout/big.csv" ] && ! ls "$T/bigout" 2>/dev/null | grep -q . &&
   echo "$err" | grep -q 'would write 1000000000002 rows, about 125 TB, over the output limit of 4 GB'; then
  pass output-limit-refused
else fail output-limit-refused "exit $rc, stderr '$err', files: $(ls "$T/bigout" 2>/dev/null)"
fi
printf 'objective f(x[2]) = dot(x, x)\nflow d = gradient_descent(f, step = 0.1)\nrun d from [1, 2] steps 1000 every 1 -> "d.csv"\n' >"$T/d.hnn"
run "$HNN" -o "$T/dout" --max-output 10k "$T/d.hnn"
rc1=$rc
run "$HNN" -o "$T/dout" --max-output=200k "$T/d.hnn"
if [ "$rc1" = 1 ] && [ "$rc" = 0 ] && [ "$(grep -vc '^#' "$T/dout/d.csv")" = 1001 ]; then pass output-limit-option
else fail output-limit-option "exit $rc1 then $rc; $err"
fi
run "$HNN" --max-output 0 -e 'print 1'
rc1=$rc
run "$HNN" --max-output 12x -e 'print 1'
if [ "$rc1" = 2 ] && [ "$rc" = 2 ] && echo "$err" | grep -q "expects a size such as 500M, 20G or none, got '12x'"; then
  pass output-limit-bad-size
else fail output-limit-bad-size "exit $rc1, $rc: $err"
fi
# an adaptive run written every step has no bound before it starts: it
# stops at the limit (EFBIG), and its temporary file is removed
printf 'objective f(x[2]) = dot(x, x)\nflow g = gradient(f)\nrun g from [1, 2] until 1e6 every 1 -> "adapt.csv"\n' >"$T/adapt.hnn"
run "$HNN" -o "$T/aout" --max-output 100k "$T/adapt.hnn"
if [ "$rc" = 3 ] && echo "$err" | grep -q "output failed at t = .*: File too large" &&
   [ -z "$(ls "$T/aout")" ]; then pass output-limit-at-run-time
else fail output-limit-at-run-time "exit $rc, files '$(ls "$T/aout")': $err"
fi
# memory: 10^6 particles with a stored N x N cost (a metric without
# geodesic coordinates) need ~8 TB; refused with the estimate
printf 'use "objectives"\nmetric G(x[2]) = diag(1 + x^2)\nflow w = wasserstein(himmelblau, G, T = 1, eps = 0.1)\nrun w from uniform([0, 1]^2) particles 1000000 steps 2\n' >"$T/mem.hnn"
run "$HNN" "$T/mem.hnn"
if [ "$rc" = 1 ] && echo "$err" | grep -q 'run w needs about 8 TB of memory, but only .* are available'; then
  pass memory-refused
else fail memory-refused "exit $rc: $err"
fi

# an ensemble without a file writes its rows to standard output (2 runs of
# 3 iterations), then its summary as # lines
sed 's/repeat 100 steps 200 tol 1e-7 inner 10000/repeat 2 steps 3 tol 1e-7 inner 100/; /^plot/d; s/ -> "eld.csv"//' \
  "$srcdir/examples/eld.hnn" >"$T/eld_stdout.hnn"
run "$HNN" "$T/eld_stdout.hnn"
if [ "$rc" = 0 ] && [ "$(echo "$out" | grep -c '^[0-9]')" = 6 ] && echo "$out" | head -n1 | grep -q '^# t,step,run,d_geodesic' &&
   echo "$out" | grep -q '^# eld: 2 runs of 3 dual iterations'; then pass ensemble-rows-stdout
else fail ensemble-rows-stdout "exit $rc: $(echo "$out" | grep -v '^# param' | head -c 400)"
fi

# every example parses and checks (a dry run: nothing runs)
for ex in "$srcdir"/examples/*.hnn; do
  run "$HNN" --list-params "$ex"
  if [ "$rc" = 0 ]; then pass "example-checks-$(basename "$ex")"
  else fail "example-checks-$(basename "$ex")" "exit $rc: $err"
  fi
done

[ $failures -eq 0 ] || echo "$failures failure(s)"
[ $failures -eq 0 ]
