/*
** handgrad.c -- hand-written reference gradients for bench.c, in their own
** translation unit (and called through function pointers) so the compiler
** cannot inline them into the benchmark loop.
*/
#include <stddef.h>

#include "handgrad.h"

/* grad of the scaled Himmelblau function (stdlib/objectives.hnn):
** f = (u^2 + v - 11)^2 + (u + v^2 - 7)^2 with u = 10 x1 - 5, v = 10 x2 - 5. */
void himmelblau_grad(const double *x, double *g) {
  double u = 10 * x[0] - 5, v = 10 * x[1] - 5;
  double a = u * u + v - 11, b = u + v * v - 7;
  g[0] = 10 * (4 * a * u + 2 * b);
  g[1] = 10 * (2 * a + 4 * b * v);
}

/* grad of 0.5 x'Qx + b'x: 0.5 (Q + Q') x + b, Q row-major n x n. */
void quadratic_grad(size_t n, const double *Q, const double *b, const double *x, double *g) {
  for (size_t i = 0; i < n; i++) g[i] = b[i];
  for (size_t i = 0; i < n; i++) {
    const double *row = Q + i * n;
    double s = 0, xi = 0.5 * x[i];
    for (size_t j = 0; j < n; j++) {
      s += row[j] * x[j];
      g[j] += xi * row[j];        /* (Q' x)_j */
    }
    g[i] += 0.5 * s;              /* (Q x)_i */
  }
}
