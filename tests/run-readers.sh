#!/bin/sh
# run-readers.sh — the readers README.md names read every CSV hnn writes,
# as is: numpy.loadtxt(f, delimiter=","), numpy.genfromtxt(f, delimiter=",",
# names=True) (the numpy of /usr/bin/python3: Debian python3-numpy) and
# gnuplot after `set datafile separator ","` (Debian gnuplot-nox).
#
# Files: an ODE run, a discrete run, a particle run (diffusion) and a
# density run (wasserstein) with their _monitor siblings, an ensemble
# (augmented_lagrangian) with its _zstar sibling, a geodesic path; and the
# same runs without '->', whose rows go to standard output.  Each reader
# must see the names of the file's first line and, in every column, the
# numbers the text holds (Python's float() of each field).
#
# Without numpy or gnuplot the test says which is missing and exits 77
# (SKIP), after running the readers it has; HNN_REQUIRE_READERS=1 (.ci/run)
# makes a missing reader a failure.  HNN_TEST_PYTHON and HNN_TEST_GNUPLOT
# name other programs.

HNN=${HNN:-./hnn}
PY=${HNN_TEST_PYTHON:-/usr/bin/python3}
GNUPLOT=${HNN_TEST_GNUPLOT:-gnuplot}
T=$(mktemp -d "${TMPDIR:-/tmp}/hnn-readers.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
failures=0
missing=

pass() { echo "PASS $1"; }
fail() {
  echo "FAIL $1: $2"
  failures=$((failures + 1))
}

if ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
  missing="$missing numpy ($PY cannot import numpy; Debian: apt-get install python3-numpy)"
  PY=
fi
if ! "$GNUPLOT" -e 'exit' >/dev/null 2>&1; then
  missing="$missing${missing:+;} gnuplot ('$GNUPLOT' does not run; Debian: apt-get install gnuplot-nox)"
  GNUPLOT=
fi

# ---- the runs --------------------------------------------------------------

# params, so that '# param ...' lines (with a '#' of their own) are in the headers
cat >"$T/defs.hnn" <<'EOF'
param T = 1
param h = 1e-4
activation s(u) = 1/(1 + exp(-u))
objective f(x[2]) = ((10*x[1] - 5)^2 + 10*x[2] - 16)^2 + (10*x[1] - 12 + (10*x[2] - 5)^2)^2
metric G = hopfield(s)
mirror psi = hopfield(s)
flow det = hopfield(f, s)
flow md = mirror_descent(f, psi, step = 1e-3)
flow dm = diffusion(f, G, T = T)
flow fp = wasserstein(f, G, T = T, eps = 0.1)
flow path = geodesic(G)
objective J(x[2]) = 0.5*dot(x, x)
function total(x[2]) = sum(x) - 1
flow al = augmented_lagrangian(J, [total], s, step = 1e-2, dual_step = 1e-1)
EOF
# one run per kind; NAME.csv, and NAME_stdout.csv from the run without '->'
run_det='run det from [0.2, 0.7] until 0.2 method rk8pd dt 0.05'
run_md='run md from [0.2, 0.7] steps 100 every 50'
run_dm='run dm from uniform([0.2, 0.8]^2) particles 5 h h steps 20 every 10 boundary reflect'
run_fp='run fp from uniform([0.2, 0.8]^2) particles 5 h h steps 20 every 10 boundary reflect'
run_path='run path from [0.2, 0.7] to [0.9, 0.1] points 5'
run_al='run al from [0.5, 0.5] repeat 2 steps 4 tol 1e-300 inner 50'
files=
for k in det md dm fp path al; do
  eval "r=\$run_$k"
  { cat "$T/defs.hnn"; echo "$r -> \"$k.csv\""; } >"$T/$k.hnn"
  if ! "$HNN" -o "$T" "$T/$k.hnn" >"$T/$k.out" 2>"$T/$k.err"; then
    fail "run-$k" "exit status $?: $(cat "$T/$k.err")"
    continue
  fi
  files="$files $k.csv"
  case $k in
    dm|fp) files="$files ${k}_monitor.csv" ;;
    al) files="$files al_zstar.csv" ;;
  esac
  # an ensemble without '->' prints its summary only, no rows
  [ $k = al ] && continue
  { cat "$T/defs.hnn"; echo "$r"; } >"$T/${k}_stdout.hnn"
  if "$HNN" -o "$T" "$T/${k}_stdout.hnn" >"$T/${k}_stdout.csv" 2>"$T/$k.err"; then
    files="$files ${k}_stdout.csv"
  else
    fail "run-${k}-stdout" "exit status $?: $(cat "$T/$k.err")"
  fi
done

# ---- numpy -------------------------------------------------------------------

# For each file: PASS/FAIL lines, and FILE.want with what gnuplot's stats
# must report per column: "records invalid min max" (NaN is invalid there).
if [ -n "$PY" ]; then
  cat >"$T/check.py" <<'EOF'
import sys
import numpy as np

bad = 0
for path in sys.argv[1:]:
    name = path.rsplit("/", 1)[-1]
    what = "loadtxt"
    try:
        a = np.loadtxt(path, delimiter=",", ndmin=2)
        what = "genfromtxt(names=True)"
        g = np.atleast_1d(np.genfromtxt(path, delimiter=",", names=True))
        what = "the text"
        with open(path) as f:
            lines = f.read().splitlines()
        if not lines or not lines[0].startswith("# t,step,"):
            raise AssertionError("the first line is not the names line: %r" % lines[:1])
        names = lines[0][2:].split(",")
        rows = [l for l in lines if l.strip() and not l.startswith("#")]
        if not rows:
            raise AssertionError("no data rows")
        want = np.array([[float(x) for x in r.split(",")] for r in rows])
        if want.shape[1] != len(names):
            raise AssertionError("%d names, %d fields a row" % (len(names), want.shape[1]))
        if a.shape != want.shape or not np.array_equal(a, want, equal_nan=True):
            raise AssertionError("loadtxt read %s, not the %s numbers of the text" % (a.shape, want.shape))
        if g.dtype.names != tuple(names):
            raise AssertionError("genfromtxt names %s, the file %s" % (g.dtype.names, names))
        for j, n in enumerate(names):
            if not np.array_equal(g[n], want[:, j], equal_nan=True):
                raise AssertionError("genfromtxt column %s differs from the text" % n)
        with open(path + ".want", "w") as w:
            for j in range(len(names)):
                c = want[:, j]
                ok = c[~np.isnan(c)]
                w.write("%d %d %.17g %.17g\n" % (ok.size, c.size - ok.size, ok.min(), ok.max()))
        print("PASS numpy-%s" % name)
    except Exception as e:
        print("FAIL numpy-%s: %s: %s" % (name, what, e))
        bad += 1
sys.exit(1 if bad else 0)
EOF
  set --
  for f in $files; do set -- "$@" "$T/$f"; done
  "$PY" "$T/check.py" "$@" >"$T/numpy.log" 2>&1
  cat "$T/numpy.log"
  failures=$((failures + $(grep -c '^FAIL' "$T/numpy.log")))
  grep -Eq '^(PASS|FAIL) ' "$T/numpy.log" || fail numpy "the checker did not run: $(cat "$T/numpy.log")"
fi

# ---- gnuplot -----------------------------------------------------------------

# stats per column: records, invalid points (NaN), min, max, against the text
# (numpy's check above wrote FILE.want; without numpy, only that gnuplot
# reads as many records as the file has rows in every column)
if [ -n "$GNUPLOT" ]; then
  for f in $files; do
    p=$T/$f
    ncols=$(head -n 1 "$p" | tr ',' '\n' | wc -l)
    nrows=$(grep -cv '^#' "$p")
    cat >"$p.gp" <<EOF
set print '-'
set datafile separator ','
do for [j=1:$ncols] {
  stats '$p' using (column(j)) nooutput
  print sprintf('%d %d %.17g %.17g', STATS_records, STATS_invalid, STATS_min, STATS_max)
}
EOF
    "$GNUPLOT" "$p.gp" >"$p.got" 2>"$p.gperr"
    if [ -f "$p.want" ]; then
      if cmp -s "$p.want" "$p.got"; then pass "gnuplot-$f"
      else fail "gnuplot-$f" "stats per column (records invalid min max) $(tr '\n' '|' <"$p.got"), the text $(tr '\n' '|' <"$p.want") $(cat "$p.gperr")"
      fi
    elif [ "$(awk '{ n += $1 + $2 } END { print n + 0 }' "$p.got")" = $((ncols * nrows)) ]; then
      pass "gnuplot-$f"
    else
      fail "gnuplot-$f" "$nrows rows of $ncols columns, gnuplot read: $(tr '\n' '|' <"$p.got") $(cat "$p.gperr")"
    fi
  done
fi

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
if [ -n "$missing" ]; then
  if [ "${HNN_REQUIRE_READERS:-0}" = 1 ]; then
    echo "FAIL readers missing (HNN_REQUIRE_READERS=1):$missing"
    exit 1
  fi
  echo "SKIP readers missing:$missing"
  exit 77
fi
exit 0
