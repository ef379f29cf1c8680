#!/usr/bin/python3
"""ot_peers.py -- the Python peers of bench/ot/ot_bench.c on the same clouds.

usage: ot_peers.py sinkhorn N EPS STOPTHR FILE   POT sinkhorn_log (numpy), the
                                                   three problems of the divergence
       ot_peers.py w1d N FILE                     scipy wasserstein_distance (W1),
                                                   POT wasserstein_1d p=2 and p=1,
                                                   numpy sort of both samples
       ot_peers.py exact N FILE                   POT emd2 (C++ network simplex)
FILE: the raw doubles ot_bench wrote (x then y).  Needs python3-numpy,
python3-scipy, python3-pot (Debian: apt-get install -y python3-numpy
python3-scipy python3-pot).  Run numpy with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset (run.sh does).

POT's sinkhorn_log stops on the L2 norm of the column-marginal error (checked
every 10 iterations); the L1 errors of both marginals of its plan are
printed here, and run.sh gives hnn the smallest of them as its tolerance, so
hnn is timed at a marginal error no larger than POT's.
"""
import resource
import sys
import time

import numpy as np

try:
    import ot
    import scipy
    import scipy.stats
except ImportError as e:
    sys.exit("ot_peers.py: %s (Debian: apt-get install -y python3-numpy python3-scipy python3-pot)" % e)


def best_of(k, f):
    t = float("inf")
    for _ in range(k):
        t0 = time.perf_counter()
        v = f()
        t = min(t, time.perf_counter() - t0)
    return t, v


def main(argv):
    mode, N = argv[1], int(argv[2])
    print("peers: numpy %s, scipy %s, POT %s" % (np.__version__, scipy.__version__, ot.__version__))
    if mode == "sinkhorn":
        eps, thr, path = float(argv[3]), float(argv[4]), argv[5]
        z = np.fromfile(path)
        x, y = z[:2 * N].reshape(N, 2), z[2 * N:].reshape(N, 2)
        a = np.full(N, 1.0 / N)
        total, vals, least = 0.0, [], float("inf")
        for name, u, v in (("(a,b)", x, y), ("(a,a)", x, x), ("(b,b)", y, y)):
            t0 = time.perf_counter()
            M = ot.dist(u, v)
            P, log = ot.sinkhorn(a, a, M, eps, method="sinkhorn_log", numItermax=100000,
                                 stopThr=thr, log=True)
            t = time.perf_counter() - t0
            total += t
            e1, e2 = np.abs(P.sum(1) - a).sum(), np.abs(P.sum(0) - a).sum()
            least = min(least, e1 + e2)
            Q = P[P > 0]
            reg_v = float((P * M).sum()) + eps * float((Q * np.log(Q * N * N)).sum())
            vals.append(reg_v)
            print("  POT %s: %.3f s, %d iterations, L1 marginal error %.3g (rows %.2g, columns %.2g)"
                  % (name, t, log["niter"] + 1, e1 + e2, e1, e2))
            del M, P, Q
        print("pot-sinkhorn_log N=%d eps=%g time=%.3f S=%.12g l1err=%.6g"
              % (N, eps, total, vals[0] - 0.5 * (vals[1] + vals[2]), least))
        print("  max RSS %d KB" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    elif mode == "w1d":
        z = np.fromfile(argv[3])
        x, y = z[:N], z[N:]
        t, v = best_of(3, lambda: scipy.stats.wasserstein_distance(x, y))
        print("scipy-wasserstein_distance(W1) N=%d time=%.4f value=%.12g" % (N, t, v))
        t, v = best_of(3, lambda: ot.wasserstein_1d(x, y, p=2))
        print("pot-wasserstein_1d p=2 N=%d time=%.4f value=%.12g" % (N, t, v))
        t, v = best_of(3, lambda: ot.wasserstein_1d(x, y, p=1))
        print("pot-wasserstein_1d p=1 N=%d time=%.4f value=%.12g" % (N, t, v))
        t, _ = best_of(3, lambda: (np.sort(x), np.sort(y)))
        print("numpy-sort(both) N=%d time=%.4f" % (N, t))
    elif mode == "exact":
        z = np.fromfile(argv[3])
        x, y = z[:2 * N].reshape(N, 2), z[2 * N:].reshape(N, 2)
        a = np.full(N, 1.0 / N)
        t, v = best_of(3, lambda: ot.emd2(a, a, ot.dist(x, y), numItermax=10000000))
        print("pot-emd2 N=%d time=%.4f value=%.12g (cost matrix included)" % (N, t, v))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
