#!/bin/sh
# run.sh -- build and run the language-core benchmarks (bench.c) against the
# in-tree library (build it first: make), and print a table with ratios.
#   bench/lang/run.sh [REPS]        REPS: compile repetitions (default 200)
# Environment: CC (default gcc), CFLAGS (default -O2), PKG_CONFIG.
# Timings only; nothing is asserted (the exit status is non-zero only if the
# build fails or the JIT and hand-written gradients disagree).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CC=${CC:-gcc}
CFLAGS=${CFLAGS:--O2}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
reps=${1:-200}

if test ! -f "$top/.libs/libhnn.so" && test ! -f "$top/.libs/libhnn.a"; then
  echo "run.sh: no library in $top/.libs: run make first" >&2
  exit 1
fi
# The uninstalled library (hnn-uninstalled.pc), else the plain flags.
if libs=$(PKG_CONFIG_PATH=$top $PKG_CONFIG --libs hnn 2>/dev/null) &&
   cflags=$(PKG_CONFIG_PATH=$top $PKG_CONFIG --cflags hnn 2>/dev/null); then :; else
  cflags="-I$top/lang"
  libs="-L$top/.libs -Wl,-rpath,$top/.libs -lhnn -ltcc -ldl -lpthread"
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/hnn-bench.XXXXXX")
trap 'rm -rf "$out"' EXIT
# handgrad.c is its own translation unit: the reference gradients are not inlined.
$CC $CFLAGS -c -o "$out/handgrad.o" "$here/handgrad.c"
# shellcheck disable=SC2086
$CC $CFLAGS $cflags -o "$out/bench" "$here/bench.c" "$out/handgrad.o" $libs -lm

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:  $(nproc 2>/dev/null || echo '?') CPUs, ${cpu:-unknown CPU}"
echo "compiler: $($CC --version | head -n 1) ($CFLAGS)"
echo

"$out/bench" "$reps" >"$out/result" 2>"$out/stderr" || st=$?
awk '
  { v[$1] = $2 }
  function row(what, a, b, unit, ratio) {
    if (ratio) printf "%-46s %12.3f %12.3f %8.2fx\n", what, a, b, a / b
    else       printf "%-46s %12.3f %12s %9s\n", what, a, "", ""
  }
  END {
    printf "%-46s %12s %12s %9s\n", "benchmark", "hnn", "C -O2", "ratio"
    printf "%-46s %12s %12s %9s\n", "---------", "---", "-----", "-----"
    row("(a) himmelblau parse+check+derive+JIT, ms", v["compile_total_ms"], 0, "", 0)
    row("    of which open+parse+check, ms", v["compile_load_ms"], 0, "", 0)
    row("(b) grad himmelblau per call, ns (hnn_call_ws)", v["call_himmelblau_jit_ns"], v["call_himmelblau_c_ns"], "", 1)
    row("    the same, raw entry point, ns", v["call_himmelblau_raw_ns"], v["call_himmelblau_c_ns"], "", 1)
    row("(c) quadratic n=1000: load (1e6 draws), ms", v["quad_load_ms"], 0, "", 0)
    row("    compile grad, ms", v["quad_grad_compile_ms"], 0, "", 0)
    row("    grad per call, us", v["call_quad_jit_us"], v["call_quad_c_us"], "", 1)
    printf "\n(a) median of %d fresh states; (b), (c) best of several timed loops\n", v["compile_reps"]
  }' "$out/result"
if test "${st:-0}" -ne 0; then
  cat "$out/stderr" >&2
  exit "$st"
fi
