/*
** kind_adam.c — Adam as a continuous-time system (source 004, "Adam
** Optimizer", Continuous-Time Limit; issue #18): the point x, the first
** moment m and the second moment v of the gradient g = grad f(x) move by
**
**   x' = -m / (sqrt(v) + eps),  m' = a (g - m),  v' = b (g^2 - v),
**   a = (1 - beta1)/lr,  b = (1 - beta2)/lr,  m(0) = v(0) = 0,
**
** the limit of Adam's iterates x_k ~ x(k lr) as lr -> 0 with a and b fixed
** (first order in lr; docs/geometry.md derives it, without Adam's bias
** correction, whose 1/(1 - beta^k) is 0/0 at t = 0).  sqrt(v) + eps acts as
** a diagonal metric that moves with the gradient's history.  Declared as
** `flow a = adam(f, lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)`;
** runs are ODE runs (kind_ode.c) of the 3n-vector (x, m, v), written as
** t, step, x1..xn, m1..mn, v1..vn, f.  `adam_descent` is the discrete
** iteration itself (runtime/adam.c), written alike with t = k lr.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowkind.h"
#include "lower.h"
#include "adam.h"
#include "strbuf.h"

static const char *const adam_run_options[] = { "until", "method", "h", "dt", "every", "atol", "rtol", "steps",
                                                "fixed", NULL };

/* Adam's hyperparameters from the flow's keywords (defaults beta1 0.9,
** beta2 0.999, eps 1e-8); the checks report at the keyword. */
static int adam_hyper(hnn_state *S, sym *flow, double *lr, double *beta, double *eps) {
  const char *bname[2] = { "beta1", "beta2" };
  beta[0] = 0.9, beta[1] = 0.999, *eps = 1e-8;
  if (flow_kw_number(S, flow, "lr", 0, 0, lr) || flow_kw_number(S, flow, "eps", 0, 0, eps)) return 1;
  for (int i = 0; i < 2; i++) {
    if (flow_kw_number(S, flow, bname[i], 0, 1, &beta[i])) return 1;
    if (!(beta[i] < 1)) {
      ast *e = flow_keyword(flow, bname[i]);
      diag_error(&S->diags, e->src, e->loc, "'%s' must be below 1 (a moment forgets at rate (1 - %s)/lr)", bname[i],
                 bname[i]);
      return 1;
    }
  }
  return 0;
}

/* The flow's rates: a = (1 - beta1)/lr, b = (1 - beta2)/lr. */
static int adam_rates(hnn_state *S, sym *flow, double *a, double *b, double *eps) {
  double lr = 0, beta[2];
  if (adam_hyper(S, flow, &lr, beta, eps)) return 1;
  *a = (1 - beta[0]) / lr;
  *b = (1 - beta[1]) / lr;
  return 0;
}

/* The state (x, m, v) from the start x: m = v = 0, columns named. */
static void adam_state(point_run *pr) {
  int n = pr->n;
  pr->x0 = hnn_xrealloc(pr->x0, 3 * (size_t)n * sizeof *pr->x0);
  memset(pr->x0 + n, 0, 2 * (size_t)n * sizeof *pr->x0);
  pr->names = hnn_xcalloc(3 * (size_t)n, sizeof *pr->names);
  run_out_names(pr->names, "x", n);
  run_out_names(pr->names + n, "m", n);
  run_out_names(pr->names + 2 * n, "v", n);
  pr->n = 3 * n;
}

/* The ODE options, minus the gradient stop (the state is not a point of f)
** and the implicit methods (no Jacobian of the coupled field). */
static int adam_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  int errs = ode_kind_check_run(S, run, flow, k);
  ast *m = flow_option(run, "method");
  int mi = m && m->kind == AST_NAME ? ode_method_from_name(m->name) : -1;
  if (!errs && mi >= 0 && ode_method_needs_jacobian((ode_method)mi)) {
    diag_error(&S->diags, m->src, m->loc, "an adam run takes an explicit method (rk4, rk2, rkf45, rkck, rk8pd, msadams)");
    errs++;
  }
  return errs;
}

static int adam_prepare(flow_job *J) {
  int status = ode_kind_prepare(J);
  if (status != HNN_OK) return status;
  point_run *pr = J->priv;
  double a, b, eps;
  if (adam_rates(J->S, J->flow, &a, &b, &eps)) return HNN_ERR_SCRIPT;
  adam_state(pr);
  J->plan.values = pr->n + 3;
  return HNN_OK;
}

/* Elements off..off+n-1 of y as a vector. */
static ir_node *slice(ir_ctx *ir, ir_node *y, int off, int n) {
  ir_node **el = hnn_xmalloc((size_t)n * sizeof *el);
  for (int i = 0; i < n; i++) el[i] = ir_index(ir, y, off + i, 0);
  ir_node *r = ir_pack(ir, ir_vector_shape(n), el);
  free(el);
  return r;
}

static int adam_compile(flow_job *J) {
  hnn_state *S = J->S;
  point_run *pr = J->priv;
  int n = pr->n / 3;
  double a, b, eps;
  if (adam_rates(S, J->flow, &a, &b, &eps) || flow_compile_roles(S, J->flow, J->kind, pr->nsize, n, 0, &pr->P))
    return 1;
  char key[300];
  snprintf(key, sizeof key, "%s/adam/%d/%a/%a/%a", J->flow->name, n, a, b, eps);
  hnn_fn *f = state_cached(S, key);
  if (!f) {
    ir_ctx *ir = ir_ctx_new();
    ir_node *y = ir_var(ir, ir_vector_shape(3 * n), "y");
    ir_node *x = slice(ir, y, 0, n), *m = slice(ir, y, n, n), *v = slice(ir, y, 2 * n, n);
    ir_node *mg = lower_flow_field(S, ir, flow_role_sym(S, J->flow, R_OBJECTIVE), pr->nsize > 0 ? pr->nsize : 0, NULL,
                                   NULL, x);   /* -grad f(x) */
    if (mg) {
      ir_shape sh = ir_vector_shape(n);
      ir_node *g = ir_neg(ir, mg), *parts[3];
      parts[0] = ir_neg(ir, ir_div(ir, m, ir_add(ir, ir_fn(ir, IR_SQRT, v), ir_bcast(ir, ir_const(ir, eps), sh))));
      parts[1] = ir_mul(ir, ir_bcast(ir, ir_const(ir, a), sh), ir_sub(ir, g, m));
      parts[2] = ir_mul(ir, ir_bcast(ir, ir_const(ir, b), sh), ir_sub(ir, ir_mul(ir, g, g), v));
      ir_node *F = ir_concat(ir, 3, parts);
      f = state_compile(S, ir, 1, &y, 0, NULL, 1, &F, 0);
    }
    ir_ctx_free(ir);
    if (!f) return 1;
    state_remember(f, key);
  }
  state_fn_later(S, f, &pr->P.field.fn);
  pr->P.field.nwork = f->nwork;
  pr->P.n = 3 * n;
  return 0;
}

static int adam_flow_run(flow_job *J) { return point_run_engine(J, ode_kind_engine); }

const flow_kind flow_kind_adam = {
  .name = "adam", .usage = "adam(f, lr = step, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)", .nroles = 1,
  .roles = { R_OBJECTIVE }, .keywords = { "lr", "beta1", "beta2", "eps" }, .options = adam_run_options,
  .variant = ODE_GRADIENT, .check_run = adam_check_run, .prepare = adam_prepare, .compile = adam_compile,
  .run = adam_flow_run, .release = point_release
};

/* ------------------------------------------------------ discrete Adam */

static const char *const adam_descent_run_options[] = { "steps", "every", NULL };

static int adam_descent_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  return flow_check_options(S, run, k, NULL) + point_check_start(S, run, flow, k);
}

/* A prepared discrete run: the point run and Adam's options. */
typedef struct adam_descent_run {
  point_run pr;                /* first: point.c frees it as a point_run */
  adam_opts ao;
} adam_descent_run;

static int adam_descent_prepare(flow_job *J) {
  hnn_state *S = J->S;
  int status = point_prepare(J);
  if (status != HNN_OK) return status;
  adam_descent_run *r = hnn_xrealloc(J->priv, sizeof *r);
  J->priv = r;
  adam_opts *o = &r->ao;
  memset(o, 0, sizeof *o);
  double beta[2], bc = 1;
  o->steps = 1000;
  if (adam_hyper(S, J->flow, &o->lr, beta, &o->eps) ||
      flow_kw_number(S, J->flow, "bias_correction", -INFINITY, 0, &bc) ||
      flow_opt_count(S, J->run, "steps", 1, FLOW_COUNT_MAX, &o->steps) ||
      flow_opt_count(S, J->run, "every", 1, FLOW_COUNT_MAX, &o->every))
    return HNN_ERR_SCRIPT;
  o->beta1 = beta[0], o->beta2 = beta[1], o->bias_correction = bc != 0;
  adam_state(&r->pr);
  J->plan.rows = o->every > 0 ? (double)(o->steps / o->every) + 2 : 2;
  J->plan.values = r->pr.n + 3;
  return HNN_OK;
}

static int adam_descent_compile(flow_job *J) {
  point_run *pr = J->priv;
  return flow_compile_roles(J->S, J->flow, J->kind, pr->nsize, pr->n / 3, 0, &pr->P);
}

static int adam_descent_engine(flow_job *J, point_run *pr, ode_emit emit, run_ctx *c, ode_result *res) {
  adam_descent_run *r = (adam_descent_run *)pr;
  c->steps_end = r->ao.steps;
  return adam_run(&pr->P, J->flow->name, &r->ao, pr->x0, emit, flow_progress_tick, c, res);
}

static int adam_descent_run_engine(flow_job *J) { return point_run_engine(J, adam_descent_engine); }

const flow_kind flow_kind_adam_descent = {
  .name = "adam_descent", .usage = "adam_descent(f, lr = step, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, bias_correction = 1)",
  .nroles = 1, .roles = { R_OBJECTIVE }, .keywords = { "lr", "beta1", "beta2", "eps", "bias_correction" },
  .options = adam_descent_run_options, .variant = 0, .check_run = adam_descent_check_run,
  .prepare = adam_descent_prepare, .compile = adam_descent_compile, .run = adam_descent_run_engine,
  .release = point_release
};
