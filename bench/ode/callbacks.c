/* callbacks.c — hand-written hnn-ABI callbacks for the bench system, exported
** as a function table (bench_fns.h); a JIT-compiled table can replace it. */
#include <math.h>
#include <stddef.h>

#include "bench_fns.h"

static int act(const double *u, const double *d, double *o, double *w) {
  (void)d, (void)w;
  o[0] = 1 / (1 + exp(-u[0]));
  o[1] = 1 / (1 + exp(-u[1]));
  return 0;
}
static int act_d(const double *u, const double *d, double *o, double *w) {
  (void)d, (void)w;
  for (int i = 0; i < 2; i++) { double s = 1 / (1 + exp(-u[i])); o[i] = s * (1 - s); }
  return 0;
}
static int act_inv(const double *x, const double *d, double *o, double *w) {
  (void)d, (void)w;
  o[0] = log(x[0] / (1 - x[0]));
  o[1] = log(x[1] / (1 - x[1]));
  return 0;
}
static int grad(const double *x, const double *d, double *o, double *w) {
  (void)d, (void)w;
  double a = 10 * x[0] - 5, b = 10 * x[1] - 5, f1 = a * a + b - 11, f2 = a + b * b - 7;
  o[0] = 10 * (4 * a * f1 + 2 * f2);
  o[1] = 10 * (2 * f1 + 4 * b * f2);
  return 0;
}
static int hess(const double *x, const double *d, double *o, double *w) {
  (void)d, (void)w;
  double a = 10 * x[0] - 5, b = 10 * x[1] - 5, f1 = a * a + b - 11, f2 = a + b * b - 7;
  o[0] = 100 * (4 * f1 + 8 * a * a + 2);
  o[1] = o[2] = 100 * (4 * a + 4 * b);
  o[3] = 100 * (4 * f2 + 8 * b * b + 2);
  return 0;
}

static int field(const double *u, const double *d, double *o, double *w) {
  (void)d, (void)w;
  double x[2] = { 1 / (1 + exp(-u[0])), 1 / (1 + exp(-u[1])) };
  grad(x, NULL, o, NULL);
  o[0] = -o[0];
  o[1] = -o[1];
  return 0;
}

static int f(const double *x, const double *d, double *o, double *w) {
  (void)d, (void)w;
  double a = 10 * x[0] - 5, b = 10 * x[1] - 5, f1 = a * a + b - 11, f2 = a + b * b - 7;
  o[0] = f1 * f1 + f2 * f2;
  return 0;
}

const bench_fns BENCH_FNS = { 2, f, act, act_d, act_inv, grad, hess, field };
