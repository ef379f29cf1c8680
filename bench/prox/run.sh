#!/bin/sh
# run.sh -- benchmark table of the proximal step (docs/prox.md): hnn with 1
# and 2 threads, the hand-written C reference and the numpy reference, in one
# run; at N = 1e4 and 1e5 also the kernel-sum engine (sums fast).  Needs a built tree (make) and /usr/bin/python3 with numpy: as root
# it installs numpy (bench/need.sh), else it names it and stops.
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
. "$here/../need.sh"
need_built "$top" .libs/libhnn_core.a
need "numpy for /usr/bin/python3" "/usr/bin/python3 -c 'import numpy'" python3-numpy
need "pkg-config and GSL" "pkg-config --exists gsl" pkg-config libgsl-dev
tmp=${TMPDIR:-/tmp}/hnn-prox-bench.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
gcc -O2 -pthread -I"$top/runtime" "$here/prox_bench.c" "$top/.libs/libhnn_core.a" \
  $(pkg-config --libs gsl) -ldl -lm -o "$tmp/pb"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)"
for N in 500 2000; do
  "$tmp/pb" $N "$tmp/d$N.bin" | tee "$tmp/hnn$N"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/prox_ref.py" $N "$tmp/d$N.bin" | tee "$tmp/np$N"
  # numpy time over hnn's best (single-precision kernel, 2 threads)
  awk -v N=$N '/kernel=single threads=2/ { split($5, a, "="); h = a[2] }
       /^numpy/ { split($3, b, "="); p = b[2] }
       END { printf "ratio    N=%d numpy/hnn(single, 2t) %.1f\n", N, p / h }' "$tmp/hnn$N" "$tmp/np$N"
done
# N = 1e4: the direct kernel (stored single, 400 MB), the C reference and
# the kernel-sum engine (exact sums, sums_tol 1e-6 and 1e-9); numpy
"$tmp/pb" 10000 "$tmp/d10000.bin" 536870912 sums
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/prox_ref.py" 10000 "$tmp/d10000.bin"
if [ -x /usr/bin/time ]; then   # Debian package "time": peak memory
  /usr/bin/time -f "on the fly: %M KB max RSS" "$tmp/pb" 10000 - 0
else
  "$tmp/pb" 10000 - 0
fi
# N = 1e5: the kernel-sum engine only (the direct step would take minutes);
# numpy scaled from blocks (the kernel would need 80 GB)
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "fast path N=1e5: %M KB max RSS, %e s wall, %U s user" "$tmp/pb" 100000 "$tmp/d100000.bin" 0 fast |
    tee "$tmp/fast"
else
  "$tmp/pb" 100000 "$tmp/d100000.bin" 0 fast | tee "$tmp/fast"
fi
it=$(awk '/^sums/ { split($9, a, "="); print a[2]; exit }' "$tmp/fast")
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/prox_ref.py" 100000 "$tmp/d100000.bin" blocks "$it"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
