/* gsl_ode.c — the same system hand-written on gsl_odeiv2: "rk4" (fixed step
** dt through driver_apply_fixed_step) or "rkf45" (adaptive, atol = rtol =
** argv[3], output every 0.1); the same rows as hnn (common.h). */
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

int main(int argc, char **argv) {
  int fixed = argc < 2 || !strcmp(argv[1], "rk4");
  FILE *f = fopen(argc > 2 ? argv[2] : "gsl.dat", "w");
  double tol = argc > 3 ? atof(argv[3]) : 1e-8;
  if (!f) return 1;
  gsl_set_error_handler_off();
  double t0 = now();
  gsl_odeiv2_system sys = { rhs, NULL, 2, NULL };
  gsl_odeiv2_driver *d = gsl_odeiv2_driver_alloc_y_new(&sys, fixed ? gsl_odeiv2_step_rk4 : gsl_odeiv2_step_rkf45,
                                                       fixed ? DT : 1e-6, tol, tol);
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
