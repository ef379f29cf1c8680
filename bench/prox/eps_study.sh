#!/bin/sh
# eps_study.sh -- the bias of the entropic regularization on the Himmelblau
# study (docs/prox.md): examples/himmelblau.hnn at the paper's settings for
# 1000 steps (t = 0.1, long after the cloud has mixed), for several eps and
# N.  At the last snapshot it compares the normalized rho at the particles
# with the Gibbs density exp(-f/T)/Z: the largest value (Gibbs: 8.99), the
# slope of log rho against -f/T (1 when the shape is right), and the relative
# L2 error.  Needs a built tree and /usr/bin/python3 with numpy: as root it
# installs numpy (bench/need.sh), else it names it and stops.
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
. "$here/../need.sh"
need_built "$top" hnn
need "numpy for /usr/bin/python3" "/usr/bin/python3 -c 'import numpy'" python3-numpy
tmp=${TMPDIR:-/tmp}/hnn-eps.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
echo "N,eps,max_rho,max_gibbs,slope,rel_L2,seconds"
for N in ${NS:-500 2000}; do
  for eps in ${EPSS:-0.1 0.05 0.02 0.01 0.005}; do
    t0=$(date +%s.%N)
    # the script prints gibbs at a minimum, where f = 0: that is 1/Z
    invZ=$("$top/hnn" -o "$tmp" -D N=$N -D eps=$eps "$top/examples/himmelblau.hnn" | tail -1 | cut -d' ' -f1)
    t1=$(date +%s.%N)
    /usr/bin/python3 - "$tmp/himmelblau.csv" "$invZ" $N $eps "$t0" "$t1" <<'PY'
import sys
import numpy as np
d = np.loadtxt(sys.argv[1], delimiter=",")     # t, step, particle, x1, x2, rho, f
last = d[d[:, 1] == d[:, 1].max()]
rho, f = last[:, 5], last[:, 6]
T = 25.0
gibbs = float(sys.argv[2]) * np.exp(-f / T)
slope = np.polyfit(-f / T, np.log(rho), 1)[0]
err = np.linalg.norm(rho - gibbs) / np.linalg.norm(gibbs)
print("%s,%s,%.2f,%.2f,%.3f,%.3f,%.1f" % (sys.argv[3], sys.argv[4], rho.max(), gibbs.max(), slope, err,
                                         float(sys.argv[6]) - float(sys.argv[5])))
PY
  done
done
