#!/usr/bin/python3
"""disc_peers.py -- numpy and POT peers of bench/wdisc/disc_bench.c.

usage: disc_peers.py mmd N FILE   the energy-distance MMD field by blocked
                                  numpy (rows in blocks of 256)
       disc_peers.py w2 N FILE    POT emd plan (C++ network simplex) and the
                                  barycentric map
Prints "peer-KIND N=.. time=SECONDS check=.." (best of 3); check is the mean
|v| component, to compare with disc_bench's.  Needs python3-numpy and
python3-pot; run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.
"""
import sys
import time

import numpy as np


def best_of(k, f):
    t, v = float("inf"), None
    for _ in range(k):
        t0 = time.perf_counter()
        v = f()
        t = min(t, time.perf_counter() - t0)
    return t, v


def mmd_field(x, y):
    N = len(x)
    src = np.vstack([x, y])
    w = np.concatenate([np.full(N, 1.0 / N), np.full(len(y), -1.0 / len(y))])
    g = np.empty_like(x)
    for i in range(0, N, 256):
        d = x[i:i + 256, None, :] - src[None, :, :]
        r = np.sqrt((d * d).sum(-1))
        r[r == 0] = np.inf  # grad of -|x - y| at x = y taken as 0
        g[i:i + 256] = -np.einsum("ijk,ij,j->ik", d, 1.0 / r, w)
    return -2 * g


def w2_field(x, y):
    import ot
    N = len(x)
    a = np.full(N, 1.0 / N)
    P = ot.emd(a, np.full(len(y), 1.0 / len(y)), ot.dist(x, y), numItermax=10 ** 7)
    return -(x - (P @ y) / a[:, None])


def main(argv):
    kind, N, path = argv[1], int(argv[2]), argv[3]
    z = np.fromfile(path)
    x, y = z[:2 * N].reshape(N, 2), z[2 * N:].reshape(N, 2)
    f = mmd_field if kind == "mmd" else w2_field
    t, v = best_of(3, lambda: f(x, y))
    print("peer-%s N=%d time=%.4f check=%.12g  (numpy %s)" % (kind, N, t, np.abs(v).mean(), np.__version__))


if __name__ == "__main__":
    main(sys.argv)
