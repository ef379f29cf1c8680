#!/usr/bin/python3
"""vs_numpy.py -- the grid flows of hnn against vectorized numpy references of
the same schemes, in one run (docs/performance.md, "Densities on grids").

  fv     one implicit finite-volume step of the 2-D Ornstein-Uhlenbeck
         Fokker-Planck equation (V = |x|^2/2, T = 1) on 512 x 512 cells,
         dt = 0.01: the CCH upwind flux, fully implicit Euler by Newton with
         the tridiagonal per-line Jacobian, two sweeps (x then y), the same
         line search and stopping rule as runtime/fv.c; numpy solves the
         tridiagonal systems of all lines at once (Thomas, vectorized over
         the lines).
  ent    one entropic JKO step (Peyre) of T*entropy, T = 0.01, tau = 0.01,
         eps = 1e-3 on a 256 x 256 grid of [0, 1]^2 from N((1/2, 1/2), 0.01 I),
         marginal tolerance 1e-6: the same log-domain generalized Sinkhorn
         iterations as runtime/jko_entropic.c (separable kernel, one 1-D
         log-sum-exp per line and direction); numpy does the log-sum-exps of
         a block of lines at once and is timed per iteration.
  jko    one exact 1-D JKO step of the heat flow with N = 10^6 quantile
         points (hnn only: the issue asks for < 1 s per step).

hnn runs through the language (`hnn` on a script), at HNN_THREADS=1 and 2; a
step's time is (time of K + 1 steps - time of 1 step) / K, so loading,
compiling and the start are left out.  Usage (from a built tree):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/grid/vs_numpy.py [fv] [jko]
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
HNN = os.path.join(HERE, "..", "..", "hnn")


# ---------------------------------------------------------------- numpy FV
def thomas(a, b, c, r):
    """Solve the tridiagonal systems a[:, k] x[k-1] + b x[k] + c x[k+1] = r, one per row."""
    n = b.shape[1]
    cp = np.empty_like(b)
    dp = np.empty_like(b)
    cp[:, 0] = c[:, 0] / b[:, 0]
    dp[:, 0] = r[:, 0] / b[:, 0]
    for k in range(1, n):
        m = b[:, k] - a[:, k] * cp[:, k - 1]
        cp[:, k] = c[:, k] / m
        dp[:, k] = (r[:, k] - a[:, k] * dp[:, k - 1]) / m
    x = np.empty_like(b)
    x[:, -1] = dp[:, -1]
    for k in range(n - 2, -1, -1):
        x[:, k] = dp[:, k] - cp[:, k] * x[:, k + 1]
    return x


class FV:
    """runtime/fv.c's scheme with T > 0, nu = 0, W = 0, mobility 1."""

    def __init__(self, V, T, h):
        self.V, self.T, self.h = V, T, h
        self.newton = 0

    def residual(self, rho, rstar, V, lam, jac):
        xi = V + self.T * np.log(rho)
        u = -(xi[:, 1:] - xi[:, :-1]) / self.h
        up = np.where(u >= 0, rho[:, :-1], rho[:, 1:])
        F = u * up
        r = rho - rstar
        r[:, :-1] += lam * F
        r[:, 1:] -= lam * F
        scale = 2 * lam * np.abs(F).sum() + np.abs(rho).sum() + np.abs(rstar).sum()
        if not jac:
            return r, scale, None
        pos = up > 0
        d0 = np.maximum(u, 0) + np.where(pos, up * self.T / rho[:, :-1] / self.h, 0)
        d1 = np.minimum(u, 0) - np.where(pos, up * self.T / rho[:, 1:] / self.h, 0)
        a = np.zeros_like(rho)
        b = np.ones_like(rho)
        c = np.zeros_like(rho)
        b[:, :-1] += lam * d0
        c[:, :-1] += lam * d1
        a[:, 1:] -= lam * d0
        b[:, 1:] -= lam * d1
        return r, scale, (a, b, c)

    def sweep(self, rho, V, dt):
        """One implicit sweep along the last axis (lines are rows); as in fv.c, a trial point is
        evaluated with its Newton step, which is the next iteration's when the trial is taken,
        and a full step that would end the sweep (dmax <= tol rmax) without its Jacobian (the
        Jacobian is made after all if the mass test keeps the sweep going)."""
        lam = dt / self.h
        rstar = rho.copy()
        rmax, rsum = rho.max(), rho.sum()
        r, _, (a, b, c) = self.residual(rho, rstar, V, lam, True)
        nrm = np.abs(r).sum()
        delta = thomas(a, b, c, -r)
        for _ in range(60):
            self.newton += 1
            dmax = np.abs(delta).max()
            alpha = 1.0
            for _ in range(40):
                jac = not (alpha == 1 and dmax <= 1e-12 * rmax)
                d = alpha * delta
                v = rho + d
                mult = d < -0.5 * rho
                with np.errstate(over="ignore"):   # the exp branch is taken only where d/rho < -1/2
                    trial = np.where(mult, rho * np.exp(np.maximum(d / rho, -700.0)), v)
                off = np.abs(trial - v).sum()
                tr, tscale, tj = self.residual(trial, rstar, V, lam, jac)
                tn = np.abs(tr).sum()
                if tn < nrm or tn <= 1e-13 * tscale:
                    break
                alpha *= 0.5
            else:
                raise RuntimeError("line search failed")
            rho = trial
            if alpha == 1 and off <= 1e-15 * rsum and dmax <= 1e-12 * rmax:
                return rho
            rmax = rho.max()
            nrm = tn
            if tj is None:
                tr, _, tj = self.residual(rho, rstar, V, lam, True)
            delta = thomas(*tj, -tr)
        raise RuntimeError("Newton failed")

    def step(self, rho, dt, parity):
        # rho[j, i]: x fastest (axis 1); the sweep order alternates between steps
        order = (1, 0) if parity % 2 == 0 else (0, 1)
        for ax in order:
            if ax == 1:
                rho = self.sweep(rho, self.V, dt)
            else:
                rho = self.sweep(rho.T.copy(), self.V.T.copy(), dt).T.copy()
        return rho


def numpy_fv(n, steps, dt, reps):
    """CPU seconds per step over steps 2..steps+1 (as hnn_per_step measures hnn), the least of
    reps runs, and the Newton iterations per step."""
    lo, hi = -4.0, 4.0
    h = (hi - lo) / n
    x = lo + (np.arange(n) + 0.5) * h
    X1, X2 = np.meshgrid(x, x)          # X1 varies along axis 1 (x fastest)
    V = 0.5 * (X1 ** 2 + X2 ** 2)
    best = float("inf")
    for _ in range(reps):
        rho = np.exp(-((X1 - 1) ** 2 + X2 ** 2) / (2 * 0.25)) / (2 * np.pi * 0.25)
        rho /= rho.sum() * h * h
        fv = FV(V, 1.0, h)
        rho = fv.step(rho, dt, 0)
        fv.newton = 0
        t0 = time.process_time()
        for k in range(1, steps + 1):
            rho = fv.step(rho, dt, k)
        best = min(best, (time.process_time() - t0) / steps)
    return best, fv.newton / steps, rho


# ---------------------------------------------------------------- numpy entropic JKO
def lse_apply(L, C):
    """out[r, i] = log sum_j exp(L[r, j] - C[i, j]) for every row r, in blocks of rows."""
    out = np.empty_like(L)
    for r0 in range(0, L.shape[0], 16):
        Z = L[r0:r0 + 16, None, :] - C[None, :, :]
        mx = Z.max(axis=2, keepdims=True)
        out[r0:r0 + 16] = (mx + np.log(np.exp(Z - mx).sum(axis=2, keepdims=True)))[:, :, 0]
    return out


def stab_apply(L, K):
    """The same by jko_entropic.c's stabilized product: M + log((exp(L - M) K)), M each row's maximum
    (a BLAS matrix product; the log-domain fallback of tiny sums is not needed for this start)."""
    M = L.max(axis=1, keepdims=True)
    return M + np.log(np.exp(L - M) @ K)


def kapply2(L, C, K=None):
    if K is not None:
        return stab_apply(stab_apply(L, K).T.copy(), K).T.copy()
    return lse_apply(lse_apply(L, C).T.copy(), C).T.copy()


def numpy_entropic(n, iters, stabilized):
    h = 1.0 / n
    x = (np.arange(n) + 0.5) * h
    X1, X2 = np.meshgrid(x, x)
    p = np.exp(-((X1 - 0.5) ** 2 + (X2 - 0.5) ** 2) / (2 * 0.01))
    p /= p.sum()
    eps, tau, T = 1e-3, 0.01, 0.01
    d = np.arange(n) * h
    C = (d[:, None] - d[None, :]) ** 2 / eps
    K = np.exp(-C) if stabilized else None
    g = 2 * tau / eps
    lvol = np.log(h * h)
    lp = np.log(p)
    alpha = np.zeros_like(p)
    t0 = time.process_time()
    for _ in range(iters):
        lK = kapply2(alpha, C, K)
        y = (lK - g * T * (1 - lvol)) / (1 + g * T)
        beta = y - lK
        lK = kapply2(beta, C, K)
        viol = np.abs(np.exp(alpha + lK) - p).sum()
        alpha = lp - lK
    return (time.process_time() - t0) / iters, viol


# ---------------------------------------------------------------- hnn runs
def hnn_time(script, threads):
    """CPU and wall seconds of `hnn script` (HNN_THREADS = threads)."""
    env = dict(os.environ, HNN_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "b.hnn")
        with open(path, "w") as f:
            f.write(script)
        t0 = time.time()
        r0 = os.times()
        out = subprocess.run([HNN, "-o", d, path], env=env, capture_output=True, text=True)
        r1 = os.times()
        if out.returncode:
            sys.exit("hnn failed: " + out.stderr)
        return (r1.children_user + r1.children_system - r0.children_user - r0.children_system,
                time.time() - t0, out.stdout)


def hnn_per_step(template, steps, threads, dt, reps=1):
    """(CPU, wall) seconds per step over steps 2..steps+1: runs of steps + 1 and 1 steps, the
    least CPU and the least wall of reps runs of each (the machine is shared)."""
    one = [hnn_time(template % (dt, dt), threads) for _ in range(reps)]
    many = [hnn_time(template % (dt, (steps + 1) * dt), threads) for _ in range(reps)]
    cpu = min(m[0] for m in many) - min(o[0] for o in one)
    wall = min(m[1] for m in many) - min(o[1] for o in one)
    return cpu / steps, wall / steps, many[-1][2]


FV_SCRIPT = """param T = 1
objective V(x[2]) = norm2(x)/2
energy E = potential(V) + T*entropy
flow fp = fokker_planck(E)
run fp from normal([1, 0], [0.25, 0.25]) grid [-4, 4] cells 512 dt %.17g until %.17g every 100
"""

JKO_SCRIPT = """energy H = entropy
flow j = jko(H)
run j from normal([0], [1]) grid [-8, 8] cells 2000 points 1000000 dt %.17g until %.17g every 100
"""


ENT_SCRIPT = """param T = 0.01
energy H = T*entropy
flow je = entropic_jko(H, eps = 1e-3)
run je from normal([0.5, 0.5], [0.01, 0.01]) grid [0, 1] cells 256 dt %.17g until %.17g every 100 tol 1e-6
"""


def iterations(stdout):
    lines = stdout.splitlines()
    names = lines[0].lstrip("# ").split(",")
    rows = [l.split(",") for l in lines if l and not l.startswith("#")]
    return float(rows[-1][names.index("iterations")]) if rows else float("nan")


def main():
    what = sys.argv[1:] or ["fv", "ent", "jko"]
    if "fv" in what:
        steps = 8
        print("fv 512x512 OU step dt = 0.01 (steps 2..%d; least of 3 numpy runs, 5 hnn runs)" % (steps + 1))
        print("  load before: %.2f %.2f %.2f" % os.getloadavg())
        np_step, np_newton, _ = numpy_fv(512, steps, 0.01, 3)
        c1, w1, out = hnn_per_step(FV_SCRIPT, steps, 1, 0.01, 5)
        c2, w2, _ = hnn_per_step(FV_SCRIPT, steps, 2, 0.01, 5)
        print("  numpy      cpu %.3f s/step  (%.2f Newton iterations/step over both sweeps)" % (np_step, np_newton))
        print("  hnn 1 thr  cpu %.4f s/step  wall %.4f s/step  (%g Newton iterations in the last step)"
              % (c1, w1, iterations(out)))
        print("  hnn 2 thr  cpu %.4f s/step  wall %.4f s/step" % (c2, w2))
        print("  ratio numpy cpu / hnn: 1 thread cpu %.1fx; 2 threads cpu %.1fx, wall %.1fx"
              % (np_step / c1, np_step / c2, np_step / w2))
        print("  load after: %.2f %.2f %.2f" % os.getloadavg())
    if "ent" in what:
        c1, w1, out = hnn_per_step(ENT_SCRIPT, 1, 1, 0.01)
        it = iterations(out)
        c2, w2, _ = hnn_per_step(ENT_SCRIPT, 1, 2, 0.01)
        np_log, _ = numpy_entropic(256, 3, False)
        np_stab, _ = numpy_entropic(256, 10, True)
        print("entropic jko 256x256, eps = 1e-3, tau = 0.01, tol 1e-6")
        print("  hnn 1 thr  cpu %.3f s/step  wall %.3f s/step  (%g iterations in the second step: %.4f s cpu each)"
              % (c1, w1, it, c1 / it))
        print("  hnn 2 thr  cpu %.3f s/step  wall %.3f s/step" % (c2, w2))
        print("  numpy log-domain   cpu %.4f s/iteration  (ratio to hnn 1 thread cpu %.1fx)" % (np_log, np_log / (c1 / it)))
        print("  numpy stabilized   cpu %.4f s/iteration  (ratio to hnn 1 thread cpu %.1fx)" % (np_stab, np_stab / (c1 / it)))
    if "jko" in what:
        c1, w1, out = hnn_per_step(JKO_SCRIPT, 3, 1, 0.01)
        print("jko 1-D heat, N = 10^6 quantile points, tau = 0.01")
        print("  hnn 1 thr  cpu %.3f s/step  wall %.3f s/step  (%g Newton iterations in the last step)"
              % (c1, w1, iterations(out)))


if __name__ == "__main__":
    main()
