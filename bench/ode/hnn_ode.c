/* hnn_ode.c — the hnn runtime alone (runtime/ode.c, runtime/csvw.c) on the
** bench system, with the hand-written callbacks of callbacks.c in place of
** JIT-compiled ones; rows as the language writes them (t, step, x, f).
** usage: hnn_ode rk4|rkf45 out.csv [tol] */
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_errno.h>

#include "bench_fns.h"
#include "common.h"
#include "csvw.h"
#include "ode.h"

typedef struct { csvw *w; double row[3]; } out_ctx;

static int emit(void *ctx, double t, long step, const double *x, int n) {
  out_ctx *c = ctx;
  memcpy(c->row, x, (size_t)n * sizeof *x);
  BENCH_FNS.f(x, NULL, &c->row[n], NULL);
  return csvw_row(c->w, t, step, c->row, n + 1);
}

int main(int argc, char **argv) {
  int fixed = argc < 2 || !strcmp(argv[1], "rk4");
  const char *out = argc > 2 ? argv[2] : "hnn.csv";
  double tol = argc > 3 ? atof(argv[3]) : 1e-8;
  gsl_set_error_handler_off();
  double t0 = now();
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = BENCH_FNS.n;
  p.f.fn = BENCH_FNS.f;
  p.act.fn = BENCH_FNS.act;
  p.act_d.fn = BENCH_FNS.act_d;
  p.act_inv.fn = BENCH_FNS.act_inv;
  p.grad.fn = BENCH_FNS.grad;
  p.hess.fn = BENCH_FNS.hess;
  p.field.fn = BENCH_FNS.field;
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
  out_ctx c;
  c.w = csvw_open(out, p.n + 1, com, 2, NULL, err, sizeof err);
  if (!c.w) { fprintf(stderr, "%s\n", err); return 1; }
  double x0[2] = { X0_1, X0_2 }, x[2];
  ode_result r;
  int st = ode_run(&p, ODE_HOPFIELD, "bench", &o, x0, x, emit, &c, &r);
  if (st) { fprintf(stderr, "%s\n", r.msg); csvw_abort(c.w); return 3; }
  if (csvw_commit(c.w, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 3; }
  printf("%.4f %.17g %.17g %ld\n", now() - t0, x[0], x[1], r.steps);
  return 0;
}
