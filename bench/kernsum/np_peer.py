#!/usr/bin/python3
"""np_peer.py -- the blocked numpy reference of the exact benchmark: the
Gaussian force on the cloud that omp_peer wrote (raw doubles, N x 2), in
blocks of 500 targets: r^2 = |x|^2 + |y|^2 - 2 x.y (a BLAS dgemm),
K = exp(-r^2 / 2h^2), F = (K y - (K 1) x) / (h^2 N).  Times `targets` rows
against all N sources and scales to N rows (the work is linear in the rows).
Usage: np_peer.py dumpfile N [targets]"""
import ctypes, sys, time
import numpy as np

def blas_kernel():
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if "blas" in p.lower() and ".so" in p:
                libs.add(p)
    for p in sorted(libs):
        if "openblas" in p.lower():
            lib = ctypes.CDLL(p)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return "%s (OpenBLAS core %s)" % (p, lib.openblas_get_corename().decode())
    return ", ".join(sorted(libs)) or "none found"

def main():
    path, N = sys.argv[1], int(sys.argv[2])
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    x = np.fromfile(path, dtype=np.float64).reshape(N, 2)
    h, B = 0.1, 500
    y2 = (x * x).sum(1)
    F = np.empty((rows, 2))
    t = time.perf_counter()
    for i0 in range(0, rows, B):
        xb = x[i0:i0 + B]
        r2 = (xb * xb).sum(1)[:, None] + y2[None, :] - 2.0 * (xb @ x.T)
        K = np.exp(r2 * (-0.5 / (h * h)))
        F[i0:i0 + B] = (K @ x - K.sum(1)[:, None] * xb) / (h * h * N)
    t = time.perf_counter() - t
    print("numpy peer N=%d rows=%d seconds=%.3f scaled_to_N=%.1f blas=%s"
          % (N, rows, t, t * N / rows, blas_kernel()))

main()
