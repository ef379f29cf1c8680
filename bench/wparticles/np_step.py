#!/usr/bin/python3
"""np_step.py -- the numpy reference of one Heun step of `particles(E)` for
    E = potential(|x|^2/2) + 0.5*interaction(exp(-|x - y|^2/(2 s^2))) + T*entropy
(s = 0.5, T = 0.25, KDE bandwidth b = 0.1; weights 1/N), in blocks of 500
targets (r^2 by a BLAS dgemm), the same formulas as lang/flows/wpstep.c:
    v_i = -x_i + 0.5 sum_j w_j (x_i - x_j)/s^2 k_ij - T grad rho_b / rho_b (x_i)
x' = x + h/2 (v(x) + v(x + h v(x))).  Reads the start (csv, one point a
row), writes the particles after the step to OUT (raw doubles) and the
seconds of the step.  Usage: np_step.py start.csv h OUT"""
import sys, time
import numpy as np

S, T, B_W, BLOCK = 0.5, 0.25, 0.1, 500

def sums(x, h):
    """sum_j w_j g_ij and sum_j w_j (x_i - x_j) g_ij, g = exp(-r^2/(2h^2))"""
    N = len(x)
    x2 = (x * x).sum(1)
    p = np.empty(N)
    q = np.empty_like(x)
    for a in range(0, N, BLOCK):
        xb = x[a:a + BLOCK]
        r2 = np.maximum(x2[a:a + BLOCK, None] + x2[None, :] - 2 * xb @ x.T, 0)
        g = np.exp(-r2 / (2 * h * h)) / N
        p[a:a + BLOCK] = g.sum(1)
        q[a:a + BLOCK] = p[a:a + BLOCK, None] * xb - g @ x
    return p, q

def velocity(x):
    _, qi = sums(x, S)
    p, q = sums(x, B_W)
    # grad rho_b / rho_b = -q / (b^2 p)
    return -x + 0.5 * qi / (S * S) + T * q / (B_W * B_W * p[:, None])

def main():
    x = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2)
    h = float(sys.argv[2])
    t0 = time.perf_counter()
    v = velocity(x)
    x1 = x + 0.5 * h * (v + velocity(x + h * v))
    dt = time.perf_counter() - t0
    x1.tofile(sys.argv[3])
    print("numpy step N=%d seconds=%.4f" % (len(x), dt))

main()
