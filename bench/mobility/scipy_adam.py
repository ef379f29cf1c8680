"""scipy_adam.py -- the peer of bench/mobility/adam.hnn: the same adam flow
(x' = -m/(sqrt(v) + eps), m' = a(g - m), v' = b(g^2 - v)) with the field
written in numpy, integrated by scipy's solve_ivp (RK45, the same
tolerances).  Prints f at t = 20 and the number of right-hand sides."""
import numpy as np
from scipy.integrate import solve_ivp


def main():
    n, a, b, eps = 100, (1 - 0.9) / 0.01, (1 - 0.999) / 0.01, 1e-8
    c = np.arange(1.0, n + 1)

    def field(t, y):
        x, m, v = y[:n], y[n:2 * n], y[2 * n:]
        g = c * x
        return np.concatenate([-m / (np.sqrt(v) + eps), a * (g - m), b * (g * g - v)])

    y0 = np.concatenate([np.ones(n), np.zeros(2 * n)])
    r = solve_ivp(field, (0, 20), y0, method="RK45", rtol=1e-8, atol=1e-8)
    x = r.y[:n, -1]
    print("f", 0.5 * np.sum(c * x * x), "nfev", r.nfev, "steps", r.t.size - 1)


if __name__ == "__main__":
    main()
