#!/bin/sh
# run-msgs.sh — the messages of the hnn program outside a script's text:
# environment switches, `hnn plot --size`, control bytes in argv and REPL
# input, REPL line numbers and the empty line that abandons an input.
# Messages follow one convention: "file:line:col: error: ..." with a place,
# else "hnn: error: ..." (or "hnn: warning: ...").  Run by `make check`.

HNN=${HNN:-./hnn}
srcdir=${srcdir:-.}
T=$(mktemp -d "${TMPDIR:-/tmp}/hnn-msgs.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
esc=$(printf '\033')
. "$srcdir/tests/harness.sh"

# ---- environment switches: a bad value is refused, not ignored -------------

run env HNN_THREADS=abc "$HNN" -e 'print 1'
expect env-threads-word 2 "" "hnn: error: HNN_THREADS is 'abc'; it must be a whole number of threads, at least 1"
run env HNN_THREADS=0 "$HNN" -e 'print 1'
expect env-threads-zero 2 "" "hnn: error: HNN_THREADS is '0'; it must be a whole number of threads, at least 1"
run env HNN_THREADS=2 "$HNN" -e 'print 1'
expect env-threads-ok 0 1 ""
run env HNN_STDLIB="$T/none" "$HNN" -e 'print 1'
expect env-stdlib 2 "" "hnn: error: HNN_STDLIB is '$T/none', which is not a directory (it names the folder of the standard modules)"
run env HNN_TCC_LIBDIR="$T" "$HNN" -e 'print 1'
expect env-tcc-libdir 2 "" "hnn: error: HNN_TCC_LIBDIR is '$T', which is not a directory holding tcc's libtcc1.a"

# ---- hnn plot --size ---------------------------------------------------------

printf '# t,x\n0,1\n1,2\n' >"$T/p.csv"
for size in 0x0 10x600 800x600junk 800x99999; do
  run "$HNN" plot "$T/p.csv" --size $size -o "$T/p.png"
  expect "plot-size-$size" 2 "" "hnn: error: plot: --size expects WxH, each from 16 to 20000 pixels (e.g. 800x600), got '$size'
try 'hnn --help'"
done
run "$HNN" plot "$T/p.csv" --size 320x200 -o "$T/p.png"
if [ "$rc" = 0 ] && [ -s "$T/p.png" ]; then pass plot-size-ok
else fail plot-size-ok "exit status $rc; stderr: $err"
fi

# ---- control bytes are shown as \xNN -----------------------------------------

run "$HNN" "--x${esc}[2J"
expect escape-argv 2 "" "hnn: error: unknown option '--x\\x1b[2J'
try 'hnn --help'"
printf ':x\033[2J\n' >"$T/in"
run "$HNN"
expect escape-repl-command 1 "" "hnn: error: unknown command ':x\\x1b[2J' (try :help)"

# ---- the REPL ----------------------------------------------------------------

# a param's origin is its line in the session, not the line in its input
printf 'param a = 1\n\nparam b = 2\nparam c = [1,\n  2]\n:params\n' >"$T/in"
run "$HNN"
expect repl-origin 0 "a = 1    # <stdin>:1
b = 2    # <stdin>:3
c[2] = [1, 2]    # <stdin>:4
# seed = 0" ""

# an empty line abandons an unfinished input (saying why); the next line
# starts afresh
printf 'print (1 +\n\nprint 2\n' >"$T/in"
run "$HNN"
expect repl-empty-line 1 2 "<stdin>:1:11: error: unexpected end of file (the input ends in the middle of a statement)
    1 | print (1 +
      |           ^"

[ "$failures" -eq 0 ]
