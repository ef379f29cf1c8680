/* hnn_ode.c — the hnn runtime (runtime/ode.c) on the bench system, callbacks
** from the BENCH_FNS table, CSV output through runtime/csvw.c.
** usage: hnn_ode rk4|rkf45 out.csv [tol] */
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_errno.h>

#include "bench_fns.h"
#include "common.h"
#include "csvw.h"
#include "ode.h"

int main(int argc, char **argv) {
  int fixed = argc < 2 || !strcmp(argv[1], "rk4");
  const char *out = argc > 2 ? argv[2] : "hnn.csv";
  double tol = argc > 3 ? atof(argv[3]) : 1e-8;
  gsl_set_error_handler_off();
  double t0 = now();
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = BENCH_FNS.n;
  p.act.fn = BENCH_FNS.act;
  p.act_d.fn = BENCH_FNS.act_d;
  p.act_inv.fn = BENCH_FNS.act_inv;
  p.grad.fn = BENCH_FNS.grad;
  p.hess.fn = BENCH_FNS.hess;
  ode_options o;
  ode_options_default(&o);
  o.t_end = T_END;
  if (fixed) {
    o.method = ODE_RK4;
    o.fixed = 1;
    o.h = DT;
    o.out_every = EVERY;
  } else {
    o.method = ODE_RKF45;
    o.atol = o.rtol = tol;
    o.out_dt = T_END / 2000;
  }
  char err[256];
  const char *com[] = { "hnn bench", "hopfield himmelblau logistic" };
  csvw *w = csvw_open(out, p.n, com, 2, NULL, err, sizeof err);
  if (!w) { fprintf(stderr, "%s\n", err); return 1; }
  double x0[2] = { X0_1, X0_2 }, x[2];
  ode_result r;
  int st = ode_run(&p, ODE_HOPFIELD, "bench", &o, x0, x, csvw_emit, w, &r);
  if (st) { fprintf(stderr, "%s\n", r.msg); csvw_abort(w); return 3; }
  if (csvw_commit(w, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 3; }
  printf("%.4f %.17g %.17g %ld\n", now() - t0, x[0], x[1], r.steps);
  return 0;
}
