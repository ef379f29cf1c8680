#!/usr/bin/python3
# prox_ref.py -- numpy reference of the same proximal step (plain domain,
# kernel stored, matrix-vector sweeps), on the inputs dumped by prox_bench.
# Usage: /usr/bin/python3 prox_ref.py N dumpfile   -> one timing line.
#        /usr/bin/python3 prox_ref.py N dumpfile blocks ITERS
# The blocks form is for N where the N x N kernel does not fit (N = 1e5: 80
# GB): it times one block of B rows (kernel built, then K z and K'y, as a
# blocked solver would do every iteration) and scales it by N/B blocks and
# ITERS + 1 sweeps (hnn's iteration count).  An estimate, not a run.
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
if len(sys.argv) > 3 and sys.argv[3] == "blocks":
    iters = int(sys.argv[4]); B = 500; p = 1/(1 + EPS/(T*H))
    co = np.sqrt(2/BETA)*np.arcsin(np.sqrt(xo)); cn = np.sqrt(2/BETA)*np.arcsin(np.sqrt(xn))
    z = np.ones(N); y = np.ones(B); best = 1e9
    for r in range(3):
        t0 = time.perf_counter()
        C = ((co[:B, None, :] - cn[None, :, :])**2).sum(-1)
        K = np.exp(-C/(2*EPS)); s = K @ z; t = K.T @ y
        best = min(best, time.perf_counter() - t0)
    est = best*(N/B)*(iters + 1)
    print("numpy    N=%d time=%.1f s (estimate: %d blocks of %d rows, %.4f s each, x %d sweeps)" % (N, est, N//B, B, best, iters + 1))
    sys.exit(0)
best = 1e9
for r in range(3 if N <= 2000 else 1):
    t0 = time.perf_counter(); out, it = step(); best = min(best, time.perf_counter() - t0)
print("numpy    N=%d time=%.4f s iters=%d" % (N, best, it))
