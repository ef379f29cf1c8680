#!/usr/bin/python3
# prox_ref.py -- numpy reference of the same proximal step (plain domain,
# kernel stored, matrix-vector sweeps), on the inputs dumped by prox_bench.
# Usage: /usr/bin/python3 prox_ref.py N dumpfile   -> one timing line.
import sys, time
import numpy as np
T, BETA, H, EPS, TOL = 25.0, 0.25, 1e-4, 0.1, 1e-9
N = int(sys.argv[1]); d = np.fromfile(sys.argv[2])
xo = d[:2*N].reshape(N, 2); xn = d[2*N:4*N].reshape(N, 2); f = d[4*N:5*N]
rho = np.ones(N)
def step():
    co = np.sqrt(2/BETA)*np.arcsin(np.sqrt(xo)); cn = np.sqrt(2/BETA)*np.arcsin(np.sqrt(xn))
    C = ((co[:, None, :] - cn[None, :, :])**2).sum(-1)
    K = np.exp(-C/(2*EPS)); xi = np.exp(-f/T - 1); p = 1/(1 + EPS/(T*H))
    z = np.ones(N); y = np.zeros(N); it = 0
    while True:
        s = K @ z
        err = np.abs(y*s - rho).sum()/rho.sum()
        y = rho/s
        if (it > 0 and err < TOL) or it >= 500: break
        z = (xi/(K.T @ y))**p; it += 1
    return z*(K.T @ y), it
best = 1e9
for r in range(3 if N <= 2000 else 1):
    t0 = time.perf_counter(); out, it = step(); best = min(best, time.perf_counter() - t0)
print("numpy    N=%d time=%.4f s iters=%d" % (N, best, it))
