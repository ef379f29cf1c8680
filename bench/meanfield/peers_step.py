#!/usr/bin/python3
"""peers_step.py -- one full-batch step (forward, backward, update) of a
two-layer ReLU network, width M, N points in D dimensions, square loss:
PyTorch (float32, autograd, as a user would write it) and numpy (float64,
the n x m activations through OpenBLAS).  Best and median of REPS.
Usage: peers_step.py M N D REPS"""
import sys
import time

import numpy as np
import torch

M, N, D, REPS = (int(a) for a in sys.argv[1:5])
rng = np.random.default_rng(1)
X = rng.uniform(-1, 1, (N, D))
y = rng.uniform(-1, 1, N)
W = rng.uniform(-1, 1, (M, D))
b = rng.uniform(-1, 1, M)
c = rng.uniform(-1, 1, M)


def report(name, ts, cs):
    ts = sorted(ts)
    print(f"{name} m={M} n={N} d={D} step best={1e3 * ts[0]:.2f} ms median={1e3 * ts[len(ts) // 2]:.2f} ms "
          f"cpu={1e3 * min(cs):.2f} ms")


# torch
Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
Wt = torch.tensor(W, dtype=torch.float32, requires_grad=True)
bt = torch.tensor(b, dtype=torch.float32, requires_grad=True)
ct = torch.tensor(c, dtype=torch.float32, requires_grad=True)
opt = torch.optim.SGD([Wt, bt, ct], lr=1e-3)
ts, cs = [], []
for _ in range(REPS):
    t0, c0 = time.perf_counter(), time.process_time()
    opt.zero_grad()
    f = torch.relu(Xt @ Wt.T + bt) @ ct / M
    loss = 0.5 * ((f - yt) ** 2).mean()
    loss.backward()
    opt.step()
    ts.append(time.perf_counter() - t0)
    cs.append(time.process_time() - c0)
report(f"torch float32 threads={torch.get_num_threads()}", ts, cs)

# numpy float64
ts, cs = [], []
for _ in range(REPS):
    t0, c0 = time.perf_counter(), time.process_time()
    U = X @ W.T + b
    A = np.maximum(U, 0)
    f = A @ c / M
    r = (f - y) / N
    gc = A.T @ r
    G = (U > 0) * np.outer(r, c)
    gW = G.T @ X
    gb = G.sum(axis=0)
    W -= 1e-3 * gW
    b -= 1e-3 * gb
    c -= 1e-3 * gc
    ts.append(time.perf_counter() - t0)
    cs.append(time.process_time() - c0)
report("numpy float64", ts, cs)
