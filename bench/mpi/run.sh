#!/bin/sh
# run.sh -- MPI scaling of hnn on this machine (docs/performance.md, "MPI"):
# strong scaling (one problem on 1, 2 and 4 processes; 4 is oversubscribed
# on this 2-core machine and marked so) and weak scaling (work per process
# fixed) for
#   prox  the proximal recursion: one step of `wasserstein` at N particles
#         (default 2e4) with the N x N kernel (sums exact), its fused
#         sweep's row parts split over the processes (runtime/prox_kernel.c)
#   ks    ks_sum, the exact Gaussian force on M = 1e6 targets from N sources
#         (default 1000: 1e6 x 1e6 pairs would take an hour here)
#   eld   the ELD ensemble (examples/eld.hnn, nG = 10), R repetitions
# One thread per process (HNN_THREADS=1): the processes are the only
# parallelism.  The machine is shared with other work, so wall times say
# little; every process reports its CPU seconds and those spent in MPI
# exchanges (HNN_MPI_STATS; waits spin), and the work of the busiest
# process, compute = max over ranks of (cpu - exchange cpu), is what a
# dedicated core would take.  Columns: wall_s, compute_s, exchange_s (max
# over ranks), efficiency = compute(1) / (np compute(np)) for strong and
# compute(1) / compute(np) for weak scaling, bytes rank 0 received, and
# detail (prox: kernel sweeps of the step).  The baseline runs under
# mpirun -np 1 too, so its statistics are printed the same way.
# Quick check: NPROX=4000 MKS=100000 RELD=4 sh bench/mpi/run.sh
# BENCHES (default "prox ks eld") selects the benches.
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
. "$here/../need.sh"
need_built "$top" hnn tests/mpi/ks_driver
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HNN_THREADS=1 HNN_MPI_STATS=1
# waiting processes yield the CPU instead of spinning (the machine is shared)
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_mpi_yield_when_idle=1
tmp=${TMPDIR:-/tmp}/hnn-mpibench.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
NPROX=${NPROX:-20000} MKS=${MKS:-1000000} NKS=${NKS:-1000} RELD=${RELD:-8} BENCHES=${BENCHES:-prox ks eld}
want() { case " $BENCHES " in *" $1 "*) return 0 ;; esac; return 1; }

cat >"$tmp/prox.hnn" <<'H'
param N = 20000
objective f(x[2]) = 0.5*dot(x, x)
metric G = euclidean
flow w = wasserstein(f, G, T = 1, eps = 0.05)
run w from normal([0.5, -0.5], [0.3, 0.3]) particles N h 1e-2 steps 1 sums exact -> "prox.csv"
H
sed -e 's/^param nG = 40/param nG = 10/' -e 's/z0\[80\]/z0[20]/' -e 's/repeat 100 steps 200/repeat R steps 100/' \
    -e '/^plot/d' -e 's/^param beta = 1/param beta = 1\nparam R = 8/' "$top/examples/eld.hnn" >"$tmp/eld.hnn"

now() { date +%s.%N; }
# one BENCH SCALING NP SIZE BASE CMD...: one CSV row; BASE is compute(1)
# (empty for the baseline itself, whose compute is then printed in $base)
one() {
  b=$1 sc=$2 np=$3 size=$4 base=$5; shift 5
  t0=$(now)
  mpirun -np "$np" "$@" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  t1=$(now)
  detail=
  [ "$b" = prox ] && detail=$(tail -n 1 "$tmp/prox_monitor.csv" | awk -F, '{ print $11 + 1 }')
  awk -v b="$b" -v sc="$sc" -v np="$np" -v size="$size" -v base="$base" -v wall="$(echo "$t1 - $t0" | bc -l)" \
      -v detail="$detail" '
    /hnn: mpi: rank/ {
      split($0, w, " "); r = w[4]; bytes = w[8]; cpu = w[11]; x = w[15]
      if (cpu - x > comp) comp = cpu - x
      if (x > xmax) xmax = x
      if (r == 0) b0 = bytes
    }
    END {
      if (base == "") base = comp
      eff = sc == "weak" ? base / comp : base / (np * comp)
      printf "%s,%s,%d,%s,%s,%.2f,%.3f,%.3f,%.2f,%.0f,%s\n", b, sc, np, (np > 2 ? "yes" : "no"), size, wall, comp, xmax,
             eff, b0, detail
    }' "$tmp/err"
}
basecomp() { echo "$1" | cut -d, -f7; }

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg)"
echo "bench,scaling,np,oversubscribed,size,wall_s,compute_s,exchange_s,efficiency,bytes_rank0,detail"
if want prox; then
  r=$(one prox strong 1 $NPROX "" "$top/hnn" -D N=$NPROX "$tmp/prox.hnn" -o "$tmp"); echo "$r"; c1=$(basecomp "$r")
  for np in 2 4; do one prox strong $np $NPROX "$c1" "$top/hnn" -D N=$NPROX "$tmp/prox.hnn" -o "$tmp"; done
  for np in 2 4; do
    n=$(awk -v a=$NPROX -v p=$np 'BEGIN { printf "%d", a * sqrt(p) }')
    one prox weak $np $n "$c1" "$top/hnn" -D N=$n "$tmp/prox.hnn" -o "$tmp"
  done
fi
if want ks; then
  r=$(one ks strong 1 "${MKS}x$NKS" "" "$top/tests/mpi/ks_driver" $MKS $NKS 2 "$tmp/ks.bin"); echo "$r"; c1=$(basecomp "$r")
  for np in 2 4; do one ks strong $np "${MKS}x$NKS" "$c1" "$top/tests/mpi/ks_driver" $MKS $NKS 2 "$tmp/ks.bin"; done
  for np in 2 4; do
    n=$((NKS * np)); one ks weak $np "${MKS}x$n" "$c1" "$top/tests/mpi/ks_driver" $MKS $n 2 "$tmp/ks.bin"
  done
fi
if want eld; then
  r=$(one eld strong 1 $RELD "" "$top/hnn" -D R=$RELD "$tmp/eld.hnn" -o "$tmp"); echo "$r"; c1=$(basecomp "$r")
  for np in 2 4; do one eld strong $np $RELD "$c1" "$top/hnn" -D R=$RELD "$tmp/eld.hnn" -o "$tmp"; done
  for np in 2 4; do
    r=$((RELD * np)); one eld weak $np $r "$c1" "$top/hnn" -D R=$r "$tmp/eld.hnn" -o "$tmp"
  done
fi
