#!/usr/bin/python3
"""rl_numpy.py -- the peer of bench/hidden/rl.hnn: the same Recall-and-Learn
(source 001, Alg. 14) written in numpy/scipy as a user would, vectorized over
the samples of a pattern: 32 visible and 32 hidden units, g = tanh,
f = tanh + 0.01 h, 3 patterns, 30 rounds of 16 samples x 50 EM steps,
the free energy by scipy.integrate.quad per hidden unit, recall by 400
Euler steps from 20%-corrupted cues.  Writes the same columns as hnn.

usage: rl_numpy.py OUT.csv
"""
import sys

import numpy as np
from scipy import integrate

nv, nh, P, T = 32, 32, 3, 0.01
rounds, rate, N, relax, dt, recall, corrupt = 30, 0.05, 16, 50, 0.05, 400, 0.2
eps = 0.01


def logcosh(x):
    a = np.abs(x)
    return a + np.log1p(np.exp(-2 * a)) - np.log(2)


def f(h):
    return np.tanh(h) + eps * h


def Lh(h):
    return logcosh(h) + 0.5 * eps * h * h


def main(out):
    rng = np.random.default_rng(1)
    U = rng.normal(0, 0.3, (nv, nh))
    xi = np.sign(rng.normal(0, 1, (P, nv)))
    cues = xi.copy()
    for p in range(P):
        flip = rng.choice(nv, int(round(corrupt * nv)), replace=False)
        cues[p, flip] *= -1
    g = np.tanh(xi)
    hs = [np.tile(U.T @ g[p], (N, 1)) for p in range(P)]
    rows = []
    for r in range(rounds + 1):
        F = E = ov = rec = 0.0
        fm = np.zeros((P, nh))
        for p in range(P):
            b = U.T @ g[p]
            h = hs[p]
            for _ in range(relax):
                s2 = 1 / np.cosh(h) ** 2
                H = s2 + eps
                K = 1 / H
                divK = 2 * s2 * np.tanh(h) / H ** 2
                h = h + dt * (b - h + T * divK) + np.sqrt(2 * T * dt * K) * rng.standard_normal(h.shape)
            hs[p] = h
            fh = f(h)
            fm[p] = fh.mean(axis=0)
            ev = (xi[p] * g[p]).sum() - logcosh(xi[p]).sum()
            e = ev + (h * fh - Lh(h)).sum(axis=1) - fh @ b
            E += e.mean() / P
            c = h.mean(axis=0)
            lnz = 0.0
            phi0 = c * f(c) - Lh(c) - b * f(c)
            for j in range(nh):
                def integrand(t, j=j):
                    return np.exp(-((t * f(t) - Lh(t) - b[j] * f(t)) - phi0[j]) / T)
                lo = integrate.quad(integrand, -np.inf, c[j], epsrel=1e-10)[0]
                hi = integrate.quad(integrand, c[j], np.inf, epsrel=1e-10)[0]
                lnz += np.log(lo + hi)
            F += (ev + phi0.sum() - T * lnz) / P
            v = cues[p].copy()
            hh = U.T @ np.tanh(v)
            for _ in range(recall):
                dv = U @ f(hh) - v
                dh = U.T @ np.tanh(v) - hh
                v, hh = v + dt * dv, hh + dt * dh
            ov += np.mean(np.sign(v) * xi[p]) / P
            rec += float(np.all(np.sign(v) == xi[p])) / P
        rows.append((r, r, F, rec, ov, E, np.linalg.norm(U)))
        if r < rounds:
            U = U + rate * (g.T @ fm) / P
    np.savetxt(out, rows, delimiter=",", header="t,step,free_energy,recall_rate,overlap,energy,norm_U")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "rl_numpy.csv")
