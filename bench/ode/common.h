/* common.h — shared bits of the bench/ode programs: the system, its
** objective, the output row (the row hnn writes: t, step, x1, x2, f). */
#ifndef BENCH_ODE_COMMON_H
#define BENCH_ODE_COMMON_H
#include <math.h>
#include <stdio.h>
#include <time.h>

#define T_END 200.0
#define DT 1e-4
#define NSTEPS 2000000L
#define EVERY 1000L
#define X0_1 0.35
#define X0_2 0.62

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Hopfield right-hand side in the hidden state u (inlined in the hand-written programs) */
static inline void himmel_rhs(const double *u, double *du) {
  double x1 = 1 / (1 + exp(-u[0])), x2 = 1 / (1 + exp(-u[1]));
  double a = 10 * x1 - 5, b = 10 * x2 - 5, f1 = a * a + b - 11, f2 = a + b * b - 7;
  du[0] = -10 * (4 * a * f1 + 2 * f2);
  du[1] = -10 * (2 * f1 + 4 * b * f2);
}

/* One output row as hnn writes it: t, step, x = s(u), f(x). */
static inline void write_row(FILE *f, double t, long step, const double *u) {
  double x1 = 1 / (1 + exp(-u[0])), x2 = 1 / (1 + exp(-u[1]));
  double a = 10 * x1 - 5, b = 10 * x2 - 5, f1 = a * a + b - 11, f2 = a + b * b - 7;
  fprintf(f, "%.17g,%ld,%.17g,%.17g,%.17g\n", t, step, x1, x2, f1 * f1 + f2 * f2);
}
#endif
