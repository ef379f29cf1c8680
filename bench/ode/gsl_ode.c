/* gsl_ode.c — the same system hand-written on gsl_odeiv2: "rk4" (fixed step
** DT through driver_apply_fixed_step) or an adaptive method (rkf45, rkck,
** rk8pd, msadams, msbdf; atol = rtol = argv[3], a row every 0.1, msbdf with
** the Jacobian written by hand); the same rows as hnn (common.h).
** usage: gsl_ode METHOD out.csv [tol] */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <string.h>
#include <stdlib.h>

#include "common.h"

static int rhs(double t, const double y[], double f[], void *p) {
  (void)t, (void)p;
  himmel_rhs(y, f);
  return GSL_SUCCESS;
}

/* J = -H(x) diag(s'(u)), x = s(u), H the Hessian of scaled Himmelblau */
static int jac(double t, const double u[], double *J, double dfdt[], void *p) {
  (void)t, (void)p;
  double x1 = 1 / (1 + exp(-u[0])), x2 = 1 / (1 + exp(-u[1]));
  double a = 10 * x1 - 5, b = 10 * x2 - 5, f1 = a * a + b - 11, f2 = a + b * b - 7;
  double h11 = 100 * (4 * f1 + 8 * a * a + 2), h12 = 100 * (4 * a + 4 * b), h22 = 100 * (4 * f2 + 8 * b * b + 2);
  double d1 = x1 * (1 - x1), d2 = x2 * (1 - x2);
  J[0] = -h11 * d1, J[1] = -h12 * d2, J[2] = -h12 * d1, J[3] = -h22 * d2;
  dfdt[0] = dfdt[1] = 0;
  return GSL_SUCCESS;
}

int main(int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "rk4";
  int fixed = !strcmp(m, "rk4");
  const gsl_odeiv2_step_type *T = fixed ? gsl_odeiv2_step_rk4
                                  : !strcmp(m, "rkf45")   ? gsl_odeiv2_step_rkf45
                                  : !strcmp(m, "rkck")    ? gsl_odeiv2_step_rkck
                                  : !strcmp(m, "rk8pd")   ? gsl_odeiv2_step_rk8pd
                                  : !strcmp(m, "msadams") ? gsl_odeiv2_step_msadams
                                  : !strcmp(m, "msbdf")   ? gsl_odeiv2_step_msbdf
                                                          : NULL;
  if (!T) { fprintf(stderr, "gsl_ode: unknown method %s\n", m); return 2; }
  FILE *f = fopen(argc > 2 ? argv[2] : "gsl.dat", "w");
  double tol = argc > 3 ? atof(argv[3]) : 1e-8;
  if (!f) return 1;
  gsl_set_error_handler_off();
  double t0 = now();
  gsl_odeiv2_system sys = { rhs, jac, 2, NULL };
  gsl_odeiv2_driver *d = gsl_odeiv2_driver_alloc_y_new(&sys, T, fixed ? DT : 1e-6, tol, tol);
  double t = 0, u[2] = { log(X0_1 / (1 - X0_1)), log(X0_2 / (1 - X0_2)) };
  long nout = fixed ? NSTEPS / EVERY : 2000;
  write_row(f, 0, 0, u);
  for (long k = 1; k <= nout; k++) {
    int st = fixed ? gsl_odeiv2_driver_apply_fixed_step(d, &t, DT, EVERY, u)
                   : gsl_odeiv2_driver_apply(d, &t, k * (T_END / nout), u);
    if (st) { fprintf(stderr, "gsl: %s\n", gsl_strerror(st)); return 1; }
    write_row(f, t, fixed ? k * EVERY : (long)d->n, u);
  }
  gsl_odeiv2_driver_free(d);
  fclose(f);
  printf("%.4f %.17g %.17g\n", now() - t0, 1 / (1 + exp(-u[0])), 1 / (1 + exp(-u[1])));
  return 0;
}
