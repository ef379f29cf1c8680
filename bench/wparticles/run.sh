#!/bin/sh
# run.sh -- one Heun step of `particles(E)` (docs/performance.md, "Particle
# flows of energies"): E = potential + Gaussian interaction (recognized,
# ks_sum) + entropy (KDE score, ks_sum), N particles in 2-D, against the
# blocked numpy reference np_step.py of the same step.  hnn's time per step
# is (time of 21 steps - time of 1 step) / 20, so start-up and compilation
# cancel; both start from the same points, and the particles after one step
# are compared.  Needs a built tree (make) and /usr/bin/python3 with numpy.
# Usage: run.sh [N]
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
. "$top/bench/need.sh"
need numpy "/usr/bin/python3 -c 'import numpy'" python3-numpy
need_built "$top" hnn
N=${1:-5000}
tmp=${TMPDIR:-/tmp}/hnn-wp-bench.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 -c "
import numpy as np
np.savetxt('$tmp/start.csv', np.random.default_rng(1).normal(size=($N, 2)), delimiter=',')"
cat >"$tmp/step.hnn" <<HNN
param steps = 1
objective V(x[2]) = norm2(x)/2
kernel k(x[2], y[2]) = exp(-norm2(x - y)/(2*0.5^2))
energy E = potential(V) + 0.5*interaction(k) + 0.25*entropy
flow p = particles(E)
run p from csv("$tmp/start.csv") particles $N h 0.01 steps steps every steps bandwidth 0.1 -> "$tmp/p.csv"
HNN
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)"
"$top/hnn" "$tmp/step.hnn"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/np_step.py" "$tmp/start.csv" 0.01 "$tmp/np.bin"
/usr/bin/python3 - "$tmp/p.csv" "$tmp/np.bin" <<'PY'
import sys, numpy as np
d = np.loadtxt(sys.argv[1], delimiter=",")
x = d[d[:, 1] == 1][:, 3:5]
y = np.fromfile(sys.argv[2]).reshape(-1, 2)
print("max |x_hnn - x_numpy| after one step: %.3g" % np.abs(x - y).max())
PY
/usr/bin/python3 "$top/bench/timeit.py" 3 "one=$top/hnn -D steps=1 $tmp/step.hnn" "many=$top/hnn -D steps=21 $tmp/step.hnn" |
  tee "$tmp/t"
awk '$1 == "one" { a = $2 } $1 == "many" { b = $2 } END { printf "hnn step N=%d seconds=%.4f\n", '"$N"', (b - a) / 20 }' "$tmp/t"
