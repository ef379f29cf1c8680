/*
** kind_ode.c — the continuous flows of one point on the ODE engine
** (runtime/ode.c): gradient x' = -grad f(x), hopfield x_H' = -grad f(s(x_H))
** with x = s(x_H) (000 eqs. 1-3), natural_gradient x' = -G(x)^-1 grad f(x)
** (000 Thm 1).  The vector field is compiled in one piece (lower_flow_field)
** except for full metrics, which the engine inverts by Cholesky and so
** names a metric that is not positive definite.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "flowkind.h"
#include "lower.h"
#include "ode.h"
#include "strbuf.h"

static const char *const ode_run_options[] = { "until", "method", "h", "dt", "every", "atol", "rtol", "tol", "steps",
                                           "fixed", NULL };

int ode_kind_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  static const char *const special[] = { "method", NULL };
  int errs = flow_check_options(S, run, k, special);
  ast *m = flow_option(run, "method");
  if (m && (m->kind != AST_NAME || ode_method_from_name(m->name) < 0)) {
    strbuf b = STRBUF_INIT;
    for (int i = 0; i < ODE_NMETHODS; i++) sb_printf(&b, "%s%s", i ? ", " : "", ode_method_name((ode_method)i));
    diag_error(&S->diags, m->src, m->loc, "unknown method (methods: %s)", b.s);
    sb_free(&b);
    errs++;
  }
  return errs + point_check_start(S, run, flow, k);
}

/* The rows a run writes: every dt, every `every` steps of a fixed step, or
** the first and last point; an adaptive run written every k steps has no
** bound but its step limit. */
static double ode_rows(const ode_options *o) {
  double span = o->t_end - o->t0, rows = 2;
  if (o->out_dt > 0) rows = floor(span / o->out_dt) + 2;
  if (o->out_every > 0) {
    double steps = o->fixed ? ceil(span / o->h) : o->max_steps > 0 ? (double)o->max_steps : 0;
    rows = fmax(rows, floor(steps / (double)o->out_every) + 2);
  }
  if (o->max_steps > 0) rows = fmin(rows, (double)o->max_steps + 2);
  return rows;
}

int ode_kind_prepare(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  int status = point_prepare(J);
  if (status != HNN_OK) return status;
  point_run *pr = J->priv;
  ode_options *o = &pr->o;
  ode_options_default(o);
  const char *num[] = { "until", "h", "dt", "atol", "rtol", "tol" };
  double *dst[] = { &o->t_end, &o->h, &o->out_dt, &o->atol, &o->rtol, &o->grad_tol };
  for (int i = 0; i < 6; i++)
    if (flow_opt_positive(S, run, num[i], dst[i])) return HNN_ERR_SCRIPT;
  if (flow_opt_count(S, run, "every", 1, FLOW_COUNT_MAX, &o->out_every) ||
      flow_opt_count(S, run, "steps", 1, FLOW_COUNT_MAX, &o->max_steps))
    return HNN_ERR_SCRIPT;
  ast *m = flow_option(run, "method");
  if (m) o->method = (ode_method)ode_method_from_name(m->name);
  /* rk4 runs with fixed steps (our own loop); the others adapt unless the
  ** run says `fixed 1` */
  double fixed = o->method == ODE_RK4;
  ast *fx = flow_option(run, "fixed");
  if (fx && flow_eval_number(S, fx, &fixed)) return HNN_ERR_SCRIPT;
  o->fixed = fixed != 0;
  if (o->fixed && !flow_option(run, "h")) o->h = 1e-3;
  if (!flow_option(run, "until")) {
    diag_error(&S->diags, run->src, run->loc, "a %s run needs 'until T' (the final time)", J->kind->name);
    return HNN_ERR_SCRIPT;
  }
  J->plan.rows = ode_rows(o);
  J->plan.values = pr->n + 3;
  return HNN_OK;
}

/* The vector field in one piece (cached per flow and size). */
static int compile_field(hnn_state *S, sym *flow, const flow_kind *k, int gsize, int n, flow_problem *P) {
  if (k->variant == ODE_NATURAL_GRADIENT && !P->metric_diagonal) return 0;
  char key[300];
  snprintf(key, sizeof key, "%s/field/%d", flow->name, n);
  hnn_fn *f = state_cached(S, key);
  if (!f) {
    ir_ctx *ir = ir_ctx_new();
    ir_node *y = ir_var(ir, ir_vector_shape(n), "y");
    sym *a = k->variant == ODE_HOPFIELD ? flow_role_sym(S, flow, R_ACTIVATION) : NULL;
    sym *m = k->variant == ODE_NATURAL_GRADIENT ? flow_role_sym(S, flow, R_METRIC) : NULL;
    ir_node *F = lower_flow_field(S, ir, flow_role_sym(S, flow, R_OBJECTIVE), gsize, a, m, y);
    f = F ? state_compile(S, ir, 1, &y, 0, NULL, 1, &F, 0) : NULL;
    ir_ctx_free(ir);
    if (!f) return 1;
    state_remember(f, key);
  }
  state_fn_later(S, f, &P->field.fn);
  P->field.nwork = f->nwork;
  return 0;
}

int ode_kind_problem(hnn_state *S, sym *flow, int nsize, int n, int hessian, flow_problem *P) {
  const flow_kind *k = flow_kind_of(flow);
  state_batch_begin(S);
  int bad = flow_compile_roles(S, flow, k, nsize, n, hessian, P) ||
            compile_field(S, flow, k, nsize > 0 ? nsize : 0, n, P);
  return state_batch_end(S) || bad;
}

static int ode_compile(flow_job *J) {
  point_run *pr = J->priv;
  return ode_kind_problem(J->S, J->flow, pr->nsize, pr->n, ode_method_needs_jacobian(pr->o.method), &pr->P);
}

int ode_kind_engine(flow_job *J, point_run *pr, ode_emit emit, run_ctx *c, ode_result *res) {
  c->t_end = pr->o.t_end;
  c->steps_end = pr->o.max_steps;
  pr->o.tick = flow_progress_tick;
  return ode_run(&pr->P, (ode_flow_kind)J->kind->variant, J->flow->name, &pr->o, pr->x0, NULL, emit, c, res);
}

static int ode_kind_run(flow_job *J) { return point_run_engine(J, ode_kind_engine); }

#define ODE_KIND(id, use_, nroles_, r2, variant_) \
  const flow_kind flow_kind_##id = { .name = #id, .usage = use_, .nroles = nroles_, .roles = { R_OBJECTIVE, r2 }, \
                                     .options = ode_run_options, .variant = variant_, .check_run = ode_kind_check_run, \
                                     .prepare = ode_kind_prepare, .compile = ode_compile, .run = ode_kind_run, \
                                     .release = point_release }

ODE_KIND(gradient, "gradient(f)", 1, R_OBJECTIVE, ODE_GRADIENT);
ODE_KIND(hopfield, "hopfield(f, s)", 2, R_ACTIVATION, ODE_HOPFIELD);
ODE_KIND(natural_gradient, "natural_gradient(f, G)", 2, R_METRIC, ODE_NATURAL_GRADIENT);
