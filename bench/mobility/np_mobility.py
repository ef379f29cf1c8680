"""np_mobility.py -- the peer of bench/mobility/mobility.hnn in numpy: the same
SDE, vectorized over the particles, with the drift and div K written by hand
and the 2 x 2 Cholesky factor of S in closed form.  Prints the final mean and
covariance (the stationary law is N(0, diag(0.25, 0.5))).

usage: np_mobility.py N"""
import sys

import numpy as np


def main(n):
    rng = np.random.default_rng(1)
    T, h, steps = 0.5, 0.01, 600
    x = np.column_stack([rng.normal(1, np.sqrt(0.1), n), rng.normal(-1, np.sqrt(0.2), n)])
    c = np.sqrt(2 * T * h)
    for _ in range(steps):
        x1, x2 = x[:, 0], x[:, 1]
        g1, g2 = 2 * x1, x2                      # grad E
        s11, a = 1 + 0.5 * x2 ** 2, 1 + 0.5 * np.sin(x1)
        # K = [[s11, a], [-a, 1]]; div K = (d1 s11 + d2 a, -d1 a + 0) = (0, -cos(x1)/2)
        b1 = -(s11 * g1 + a * g2)
        b2 = -(-a * g1 + g2) + T * (-0.5 * np.cos(x1))
        z = rng.standard_normal((n, 2))
        l11 = np.sqrt(s11)                       # chol(diag(s11, 1))
        x = np.column_stack([x1 + b1 * h + c * l11 * z[:, 0], x2 + b2 * h + c * z[:, 1]])
    print("mean", x.mean(axis=0), "cov", np.cov(x.T).ravel())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
