#!/bin/sh
# run.sh -- the mean-field network benchmark (docs/performance.md, "Mean-field
# networks"), in one run on 2 threads:
#   1. 004 Experiment 2 end to end: examples/meanfield_width.hnn (three
#      widths, 1000 epochs, snapshots and monitors written; the whole hnn
#      process timed by bench/timeit.py) against 004's PyTorch script
#      (torch_exp2.py: the training loop and its files, imports excluded),
#      hnn on one thread too, and the machine's limit for the same training
#      arithmetic (exp2_peer.c: plain -O3 -march=native -ffast-math loops,
#      one thread, no files);
#   2. one full-batch step at width 10^4, 10^3 points in d = 10, ReLU,
#      square loss: hnn's fused path (mf_bench, 1 and 2 threads), its
#      generic path (a neuron called per pair, the path of a user-written
#      activation; here a C callback), the fused -O3 -march=native OpenMP
#      loop (fused_peer.c), PyTorch float32 and numpy float64.
# Needs a built tree (make) and Debian's python3-torch and python3-numpy.
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
. "$here/../need.sh"
need_built "$top" hnn .libs/libhnn_core.a
need "PyTorch" "/usr/bin/python3 -c 'import torch'" python3-torch
need "numpy" "/usr/bin/python3 -c 'import numpy'" python3-numpy
tmp=${TMPDIR:-/tmp}/hnn-mf-bench.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
gcc -O2 -pthread -I"$top/runtime" "$here/mf_bench.c" "$top/.libs/libhnn_core.a" $(pkg-config --libs gsl) -ldl -lm -lstdc++ -o "$tmp/mfb"
gcc -O3 -march=native -ffast-math -fopenmp "$here/fused_peer.c" -o "$tmp/peer"
gcc -O3 -march=native -ffast-math "$here/exp2_peer.c" -lm -o "$tmp/exp2peer"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)  cpu: $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1)"
export OMP_NUM_THREADS=2 HNN_THREADS=2
# 1. Experiment 2 end to end
cp -r "$top/examples/data" "$tmp/"
/usr/bin/python3 "$top/bench/timeit.py" 5 "hnn_exp2=$top/hnn -o $tmp $top/examples/meanfield_width.hnn" | tee "$tmp/h"
HNN_THREADS=1 /usr/bin/python3 "$top/bench/timeit.py" 5 "hnn_exp2_1thread=$top/hnn -o $tmp $top/examples/meanfield_width.hnn"
"$tmp/exp2peer" 10
for r in 1 2; do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/torch_exp2.py" "$tmp"
done | tee "$tmp/t"
# PyTorch's own default here (one thread): its CPU time has no spinning in it
OMP_NUM_THREADS=1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/torch_exp2.py" "$tmp"
# wall and CPU seconds: best of the runs; hnn's timeit line is "label best median best-cpu"
awk 'FNR == NR { hw = $2; hc = $4; next }
     { split($3, a, "="); split($4, b, "="); if (w == "" || a[2] < w) w = a[2]; if (c == "" || b[2] < c) c = b[2] }
     END { printf "ratio    torch/hnn (Experiment 2)  wall %.1f  cpu %.1f\n", w / hw, c / hc }' "$tmp/h" "$tmp/t"
# 2. one step at width 10^4
"$tmp/mfb" 10000 1000 10 2 20
"$tmp/mfb" 10000 1000 10 1 10
"$tmp/mfb" 10000 1000 10 2 3 generic
"$tmp/peer" 10000 1000 10 20
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/peers_step.py" 10000 1000 10 5
