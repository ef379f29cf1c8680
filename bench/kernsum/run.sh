#!/bin/sh
# run.sh -- the kernel-sum benchmark (docs/performance.md, "Kernel sums"), in
# one run: the exact Gaussian force on N = 10^5 particles in 2-D (hnn with 1
# and 2 threads, the hand-written OpenMP loop, the blocked numpy reference),
# then the fast path at N = 10^6 for bandwidths 0.01 .. 1 on a uniform and a
# clustered cloud.  Needs a built tree (make) and /usr/bin/python3 with
# numpy (installed here when run as root).  Usage: run.sh [N_exact [N_fast]]
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
NE=${1:-100000}; NF=${2:-1000000}
tmp=${TMPDIR:-/tmp}/hnn-ks-bench.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-numpy >/dev/null
  else
    echo "run.sh: the numpy peer needs Debian's python3-numpy (apt-get install python3-numpy)" >&2; exit 1
  fi
fi
gcc -O2 -pthread -I"$top/runtime" "$here/ks_bench.c" "$top/.libs/libhnn_core.a" $(pkg-config --libs gsl) -ldl -lm -o "$tmp/ksb"
gcc -O3 -march=native -ffast-math -fopenmp "$here/omp_peer.c" -o "$tmp/peer" -lm
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)  cpu: $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1)"
"$tmp/ksb" exact "$NE" 2 | tee "$tmp/h2"
OMP_NUM_THREADS=2 "$tmp/peer" "$NE" "$tmp/cloud.bin" | tee "$tmp/p2"
"$tmp/ksb" exact "$NE" 1 | tee "$tmp/h1"
# OpenBLAS settings of this shell are unset for the numpy peer only
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/np_peer.py" "$tmp/cloud.bin" "$NE" | tee "$tmp/np"
awk '/^hnn exact/ { split($5, a, "="); h = a[2] }
     /^omp peer/  { split($5, b, "="); p = b[2] }
     /^numpy/     { split($6, c, "="); n = c[2] }
     END { printf "ratio    hnn(2t)/omp %.2f   numpy/hnn(2t) %.1f\n", h / p, n / h }' "$tmp/h2" "$tmp/p2" "$tmp/np"
for cl in uniform clustered; do
  for h in 0.01 0.02 0.05 0.1 0.2 0.5 1; do
    "$tmp/ksb" fast "$NF" $h $cl 1e-10
  done
done
