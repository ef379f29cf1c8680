#!/bin/bash
# run-mpi.sh — the MPI build (configure --with-mpi; docs/mpi.md).
#
# Run by `make check` only in that build, with HNN set to the built binary.
# Each tests/mpi/*.hnn (particle blocks of the diffusion machine, absorbed
# flags, the proximal recursion's kernel parts, the ELD ensemble, Sinkhorn's
# row blocks) runs in
# one process and under mpirun -np 1, 2 and 4 (--oversubscribe: this
# machine has 2 cores), 2 processes also with 2 threads each: every
# output file must be byte-identical (cmp) to the one-process run, and so
# must standard output.  wasserstein_parts.hnn (64 parts) also runs on 3
# processes, whose shares of the parts cut through subtrees of the tree its
# column sums are added over.  fail.hnn fails on the last process only: exit 3
# everywhere, the one-process message, no file.  protocol_driver checks the
# failure protocol of runtime/par_mpi.c case by case; ks_driver checks the
# split kernel sums as the scripts are checked, prox_driver the proximal
# step's log-domain fallbacks of rows and columns.  The slurm recipes of docs/mpi.md parse
# (bash -n) and their srun line is the one the docs show.
# Open MPI refuses root unless told: CI runs as root.

HNN=${HNN:-./hnn}
case $HNN in /*) ;; *) HNN=$(pwd)/$HNN ;; esac
SRC=$(cd "${srcdir:-.}" && pwd)
BUILD=$(cd "${top_builddir:-.}" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/hnn-mpi.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
. "$SRC/tests/harness.sh"
cd "$T" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# 4 processes on 2 cores; containers often forbid the cross-memory attach
# of the shared-memory transport
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

if ! command -v mpirun >/dev/null 2>&1; then
  echo "FAIL mpirun: not found (Debian: apt-get install openmpi-bin)"
  exit 1
fi

# same_dir NAME A B: every file of A is in B with the same bytes, and B has no other
same_dir() {
  local f bad=
  for f in "$2"/*; do
    [ -e "$f" ] || continue
    cmp -s "$f" "$3/${f##*/}" || bad="$bad ${f##*/}"
  done
  [ "$(ls "$2")" = "$(ls "$3")" ] || bad="$bad (file lists: $(ls "$2" | tr '\n' ' ')/ $(ls "$3" | tr '\n' ' '))"
  if [ -z "$bad" ]; then pass "$1"; else fail "$1" "differs:$bad"; fi
}

for s in "$SRC"/tests/mpi/*.hnn; do
  name=$(basename "$s" .hnn)
  [ "$name" = fail ] && continue
  run "$HNN" "$s" -o "one_$name"
  expect "$name: one process" 0 "$out"
  ref=$out
  for np in 1 2 4; do
    run mpirun -np "$np" "$HNN" "$s" -o "np${np}_$name"
    expect "$name: mpirun -np $np, exit and stdout" 0 "$ref"
    same_dir "$name: mpirun -np $np, files" "one_$name" "np${np}_$name"
  done
  if [ "$name" = wasserstein_parts ]; then
    run mpirun -np 3 "$HNN" "$s" -o "np3_$name"
    expect "$name: mpirun -np 3, exit and stdout" 0 "$ref"
    same_dir "$name: mpirun -np 3, files" "one_$name" "np3_$name"
  fi
  for th in 2; do   # (1 thread each is what -np 2 gives when bound to cores)
    run mpirun -np 2 -x HNN_THREADS=$th "$HNN" "$s" -o "th${th}_$name"
    expect "$name: mpirun -np 2, $th threads each, exit and stdout" 0 "$ref"
    same_dir "$name: mpirun -np 2, $th threads each, files" "one_$name" "th${th}_$name"
  done
done

# --seed and -D reach every process alike.
run "$HNN" "$SRC/tests/mpi/absorb.hnn" --seed 9 -D 'T=0.5' -o seed1
run mpirun -np 2 "$HNN" "$SRC/tests/mpi/absorb.hnn" --seed 9 -D 'T=0.5' -o seed2
expect "--seed and -D: mpirun -np 2, exit" 0 ""
same_dir "--seed and -D: mpirun -np 2, files" seed1 seed2
if cmp -s seed1/absorb.csv one_absorb/absorb.csv; then fail "--seed and -D" "the seed changed nothing"; fi

# A failure on one process stops all of them with its message.
run "$HNN" "$SRC/tests/mpi/fail.hnn" --seed 4 -o fail1
msg=$(head -n 3 "$T/err")
[ "$rc" = 3 ] && [ -n "$msg" ] && pass "fail: one process, exit 3" || fail "fail: one process" "exit $rc: $err"
for np in 2 4; do
  run mpirun -np "$np" "$HNN" "$SRC/tests/mpi/fail.hnn" --seed 4 -o "fail$np"
  if [ "$rc" != 3 ]; then
    fail "fail: mpirun -np $np" "exit status $rc, expected 3; stderr: $err"
  elif [ "$(head -n 3 "$T/err")" != "$msg" ]; then
    fail "fail: mpirun -np $np" "message '$(head -n 3 "$T/err")', expected '$msg'"
  elif [ -n "$(ls -A "fail$np" 2>/dev/null)" ]; then
    fail "fail: mpirun -np $np" "files left: $(ls -A "fail$np")"
  else
    pass "fail: mpirun -np $np: exit 3, the failing rank's message, no file"
  fi
done

# Script errors are printed once, by rank 0.
printf 'param a = 1\nprint a +\n' >bad.hnn
run "$HNN" bad.hnn
ref_err=$err
run mpirun -np 2 "$HNN" bad.hnn
[ "$rc" = 1 ] && [ "$(printf '%s\n' "$err" | head -n "$(printf '%s\n' "$ref_err" | wc -l)")" = "$ref_err" ] &&
  pass "script error: exit 1, printed once" || fail "script error" "exit $rc: $err"
run mpirun -np 2 "$HNN"
[ "$rc" = 2 ] && pass "no REPL under MPI (exit 2)" || fail "no REPL under MPI" "exit $rc: $err"

# The failure protocol itself (runtime/par_mpi.c): a failure at the end, in
# a gather, and a process that stops on its own while the others gather.
PD=$BUILD/tests/mpi/protocol_driver
for np in 2 4; do
  want_finish= want_gather= want_stray="rank 0: finish 3 'rank 0 could not write'"
  for r in $(seq 0 $((np - 1))); do
    want_finish="$want_finish${want_finish:+
}rank $r: gathered ok, finish 3 'boom on the last rank'"
    want_gather="$want_gather${want_gather:+
}rank $r: gather -5 'block failed on the last rank', again -5, finish 3 'wrapped'"
    [ "$r" -gt 0 ] && want_stray="$want_stray
rank $r: gather -100 'rank 0 could not write', finish 3 'rank 0 could not write'"
  done
  for c in finish gather stray; do
    run mpirun -np "$np" "$PD" "$c"
    out=$(printf '%s\n' "$out" | sort)
    eval "want=\$want_$c"
    expect "protocol: $c, mpirun -np $np" 0 "$want"
  done
done

# Kernel sums split into target rows.
KS=$BUILD/tests/mpi/ks_driver
if [ -x "$KS" ]; then
  run "$KS" 700 900 2 ks1.bin
  [ "$rc" = 0 ] || fail "ks_sum: one process" "exit $rc: $err"
  for np in 2 4; do
    run mpirun -np "$np" "$KS" 700 900 2 "ks$np.bin"
    if [ "$rc" = 0 ] && cmp -s ks1.bin "ks$np.bin"; then pass "ks_sum: mpirun -np $np, identical sums"
    else fail "ks_sum: mpirun -np $np" "exit $rc or different bytes: $err"; fi
  done
else
  fail "ks_sum" "$KS was not built"
fi

# The proximal step where every row and column sum falls back to the log
# domain (and the stored kernels are rebuilt): the same bits and counts on
# 1 to 3 processes, in the three storage modes (32 parts at N = 1100).
PX=$BUILD/tests/mpi/prox_driver
if [ -x "$PX" ]; then
  for mode in 0 1 2; do
    run "$PX" 1100 1.3 $mode
    ref=$out
    case $ref in "status 0 fallbacks "[1-9]*) pass "prox fallbacks: mode $mode, one process" ;; *) fail "prox fallbacks: mode $mode, one process" "exit $rc: $ref $err" ;; esac
    for np in 2 3; do
      run mpirun -np "$np" "$PX" 1100 1.3 $mode
      expect "prox fallbacks: mode $mode, mpirun -np $np" 0 "$ref"
    done
  done
else
  fail "prox fallbacks" "$PX was not built"
fi

# Slurm recipes: they parse, and the srun line is the documented one.
for r in "$SRC"/docs/slurm/*.sbatch; do
  bash -n "$r" && pass "slurm: $(basename "$r") parses" || fail "slurm: $(basename "$r")" "bash -n failed"
  line=$(grep -m1 '^srun ' "$r")
  if [ -n "$line" ] && grep -qxF -- "$line" "$SRC/docs/mpi.md"; then pass "slurm: $(basename "$r"): docs/mpi.md shows its srun line"
  else fail "slurm: $(basename "$r")" "srun line '$line' is not in docs/mpi.md"; fi
done

[ "$failures" -eq 0 ]
