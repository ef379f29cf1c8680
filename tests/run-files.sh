#!/bin/sh
# run-files.sh — output files and signals (runtime/afile.c, lang/runout.c,
# lang/state.c's output check, lang/cli/cli.c, lang/cli/repl.c).
#
# Run by `make check` with HNN set to the built binary.  What `-> "PATH"`
# does with a symbolic link, a FIFO, a character device, a /proc link and a
# directory; every output path checked before a unit's first statement
# runs; the reason of a failed write (a full device); `hnn plot` never
# replacing a file the user did not name.  Then tests/files_signals.py
# sends real SIGINT/SIGTERM to runs and drives the REPL through a pty.
# Never touches /dev: as root, a regression would replace system nodes, so
# the device cases use private nodes (mknod) when they can.  Prints
# PASS/FAIL per case; exit status 1 if any case failed.

HNN=${HNN:-./hnn}
case $HNN in /*) ;; *) HNN=$(pwd)/$HNN ;; esac
SRC=$(cd "${srcdir:-.}" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/hnn-files.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
failures=0
cd "$T" || exit 1

pass() { echo "PASS $1"; }
fail() {
  echo "FAIL $1: $2"
  failures=$((failures + 1))
}

# script NAME PATH [OPTIONS]: NAME.hnn prints 7, then runs a short gradient
# flow into PATH (`print` first: an output check must fail before it).
script() {
  printf 'objective f(x[2]) = (x[1] - 1)^2 + (x[2] - 1)^2\nflow gd = gradient(f)\nprint 7\nrun gd from [0, 0] until 1 %s-> "%s"\n' \
    "$3" "$2" >"$1.hnn"
}

# no_temps NAME: no temporary file is left in the test directory (any depth).
no_temps() {
  left=$(find . -name '*.tmp.*' | head -3)
  if [ -n "$left" ]; then fail "$1" "temporary files left: $left"; else pass "$1"; fi
}

# checked NAME PATTERN SCRIPT: SCRIPT fails with status 1 before printing
# anything, with PATTERN on its standard error.
checked() {
  "$HNN" "$3" >out.txt 2>err.txt
  rc=$?
  if [ "$rc" -ne 1 ]; then fail "$1" "exit status $rc, expected 1: $(cat err.txt)"
  elif [ -s out.txt ]; then fail "$1" "the unit ran before its output was checked: $(cat out.txt)"
  elif ! grep -q -- "$2" err.txt; then fail "$1" "stderr lacks '$2': $(cat err.txt)"
  else pass "$1"; fi
}

# ---- what -> "PATH" writes -----------------------------------------------

# a symbolic link is followed: the file it names is replaced, the link stays
printf 'old\n' >target.csv
ln -s target.csv link.csv
script link link.csv
if "$HNN" link.hnn >/dev/null 2>err.txt && [ -L link.csv ] && grep -q '^1,' target.csv; then
  pass link-followed
else
  fail link-followed "link.csv $(ls -l link.csv) target: $(cat target.csv) $(cat err.txt)"
fi

# a dangling link, relative to its own directory: its target is created
mkdir sub
ln -s ../made.csv sub/dangling.csv
script dangling sub/dangling.csv
if "$HNN" dangling.hnn >/dev/null 2>err.txt && [ -L sub/dangling.csv ] && grep -q '^1,' made.csv; then
  pass link-dangling
else
  fail link-dangling "$(ls -l sub) $(cat err.txt)"
fi

# a FIFO is written straight through and stays a FIFO
if mkfifo fifo 2>/dev/null; then
  cat fifo >fifo.out &
  reader=$!
  script fifo fifo
  "$HNN" fifo.hnn >/dev/null 2>err.txt
  rc=$?
  # never hang: a writer's open and close gives the reader its end of file
  # if hnn did not write (O_RDWR does not block on a FIFO), and a reader of
  # a FIFO hnn replaced is stopped
  if [ -p fifo ]; then : 1<>fifo; else kill $reader 2>/dev/null; fi
  wait $reader
  if [ "$rc" -eq 0 ] && [ -p fifo ] && grep -q '^# t,step,x1,x2,f' fifo.out && grep -q '^1,' fifo.out; then
    pass fifo
  else
    fail fifo "exit $rc, $(ls -l fifo) read: $(cat fifo.out) $(cat err.txt)"
  fi
else
  fail fifo "mkfifo failed"
fi

# a character device is written straight through and stays one
if mknod null c 1 3 2>/dev/null; then dev=$T/null; else dev=/dev/null; fi
script chr "$dev"
if "$HNN" chr.hnn >/dev/null 2>err.txt && [ -c "$dev" ]; then pass chardev; else fail chardev "$(ls -l "$dev") $(cat err.txt)"; fi

# a link into /proc (what /dev/stdout is): the open file behind it, a file
# the shell opened or a pipe, is appended to, never renamed over
ln -s /proc/self/fd/1 stdout
script proc stdout
"$HNN" proc.hnn >proc.out 2>err.txt
rc=$?
if [ "$rc" -eq 0 ] && [ -L stdout ] && [ "$(head -1 proc.out)" = 7 ] && grep -q '^1,' proc.out; then
  pass proc-link-file
else
  fail proc-link-file "exit $rc: $(cat proc.out) $(cat err.txt)"
fi
"$HNN" proc.hnn 2>err.txt | cat >proc.pipe
if [ -L stdout ] && grep -q '^1,' proc.pipe; then pass proc-link-pipe; else fail proc-link-pipe "$(cat proc.pipe) $(cat err.txt)"; fi
no_temps no-temps-after-writes

# ---- every output path is checked before the unit runs --------------------

mkdir adir
script dir adir
checked dir-refused "dir.hnn:4:31: error: 'adir' is a directory" dir.hnn
script missing nodir/x.csv
checked missing-dir "missing.hnn:4:31: error: cannot write 'nodir/x.csv': the directory 'nodir' does not exist" missing.hnn
# -o DIR applies to the check as to the run
"$HNN" -o outdir dir.hnn >out.txt 2>err.txt
if [ -f outdir/adir ] && [ "$(cat out.txt)" = 7 ]; then pass outdir-check; else fail outdir-check "$(ls outdir) $(cat err.txt)"; fi
# a file the flow kind writes beside PATH (particles: PATH_monitor.csv)
mkdir p_monitor.csv
printf 'objective f(x[2]) = 0.5*dot(x, x)\nmetric E = euclidean\nflow ou = diffusion(f, E, T = 0.5)\nprint 7\nrun ou from normal([1, -1], [0.1, 0.2]) particles 10 h 0.01 steps 10 -> "p.csv"\n' >sib.hnn
checked sibling-checked "sib.hnn:5:.*'p_monitor.csv' is a directory" sib.hnn
# plot outputs too, and every bad path of the unit is reported
printf 'objective f(x[2]) = dot(x, x)\nflow gd = gradient(f)\nprint 7\nrun gd from [1, 1] until 1 -> "adir"\nplot contour(f, [0, 1]^2) -> "nodir/f.png"\n' >plot.hnn
checked plot-checked "plot.hnn:5:.*the directory 'nodir' does not exist" plot.hnn
if grep -q "plot.hnn:4:.*'adir' is a directory" err.txt; then pass all-paths-reported; else fail all-paths-reported "$(cat err.txt)"; fi

# ---- a failed write says why ----------------------------------------------

if mknod full c 1 7 2>/dev/null; then full=$T/full; else full=/dev/full; fi
if [ -c "$full" ]; then
  # many rows: the write fails during the run
  script fullrun "$full" 'method rk4 h 1e-4 every 1 '
  "$HNN" fullrun.hnn >/dev/null 2>err.txt
  rc=$?
  if [ "$rc" -eq 3 ] && grep -q 'output failed at t = .*: No space left on device' err.txt; then pass full-during-run
  else fail full-during-run "exit $rc: $(cat err.txt)"; fi
  # a few rows: the write fails when the file is closed
  script fullend "$full"
  "$HNN" fullend.hnn >/dev/null 2>err.txt
  rc=$?
  if [ "$rc" -eq 3 ] && grep -q "cannot write '$full': No space left on device" err.txt; then pass full-at-close
  else fail full-at-close "exit $rc: $(cat err.txt)"; fi
  [ -c "$full" ] && pass full-still-device || fail full-still-device "$(ls -l "$full")"
else
  fail full-device "no /dev/full"
fi

# ---- hnn plot: only -o replaces a file -------------------------------------

script runcsv run.csv
"$HNN" runcsv.hnn >/dev/null 2>&1
if "$HNN" plot run.csv >/dev/null 2>err.txt && [ -s run.png ]; then pass plot-default-new; else fail plot-default-new "$(cat err.txt)"; fi
cp run.png run.png.orig
"$HNN" plot run.csv --logy >/dev/null 2>err.txt
rc=$?
if [ "$rc" -eq 2 ] && grep -q "'run.png' exists" err.txt && cmp -s run.png run.png.orig; then pass plot-default-kept
else fail plot-default-kept "exit $rc: $(cat err.txt)"; fi
if "$HNN" plot run.csv --logy -o run.png >/dev/null 2>err.txt && ! cmp -s run.png run.png.orig; then pass plot-o-replaces
else fail plot-o-replaces "$(cat err.txt)"; fi
mkdir dir.png
"$HNN" plot run.csv -o dir.png >/dev/null 2>err.txt
rc=$?
if [ "$rc" -eq 3 ] && grep -q "'dir.png' is a directory" err.txt && [ -d dir.png ]; then pass plot-o-dir
else fail plot-o-dir "exit $rc: $(cat err.txt)"; fi
no_temps no-temps-after-failures

# ---- signals and the REPL (real signals, a pty) ----------------------------

if command -v python3 >/dev/null 2>&1; then
  mkdir sig
  python3 "$SRC/tests/files_signals.py" "$HNN" "$T/sig" || failures=$((failures + 1))
else
  fail signals "python3 is needed for the signal and REPL tests"
fi

echo "files: $failures failure(s)"
[ "$failures" -eq 0 ]
