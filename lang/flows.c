/*
** flows.c — flow declarations and run statements.
**
** One table names every flow kind: the declarations it takes (objective,
** activation, metric, mirror map), its keyword arguments, the options its
** runs accept, and the runtime engine behind it.  A run compiles the
** callbacks its engine needs through the same path as every other
** expression (state_get), fills a flow_problem, and streams the engine's
** output to a CSV file (or standard output) with a header that records the
** version, the seed and the params in effect.
*/
#include "flows.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "discrete.h"
#include "lower.h"
#include "ode.h"
#include "runout.h"
#include "strbuf.h"
#include "flows_impl.h"

static const char *const ode_run_options[] = { "until", "method", "h", "dt", "every", "atol", "rtol", "tol", "steps",
                                               "fixed", NULL };
static const char *const md_run_options[] = { "steps", "every", "tol", NULL };

static const flow_kind kinds[] = {
  { "gradient", "gradient(f)", 1, { R_OBJECTIVE }, { NULL }, ENG_ODE, ODE_GRADIENT },
  { "hopfield", "hopfield(f, s)", 2, { R_OBJECTIVE, R_ACTIVATION }, { NULL }, ENG_ODE, ODE_HOPFIELD },
  { "natural_gradient", "natural_gradient(f, G)", 2, { R_OBJECTIVE, R_METRIC }, { NULL }, ENG_ODE,
    ODE_NATURAL_GRADIENT },
  { "gradient_descent", "gradient_descent(f, step = h)", 1, { R_OBJECTIVE }, { "step", NULL }, ENG_MD,
    MD_GRADIENT },
  { "natural_gradient_descent", "natural_gradient_descent(f, G, step = h)", 2, { R_OBJECTIVE, R_METRIC },
    { "step", NULL }, ENG_MD, MD_NATURAL },
  { "mirror_descent", "mirror_descent(f, psi, step = h)", 2, { R_OBJECTIVE, R_MIRROR }, { "step", NULL },
    ENG_MD, MD_MIRROR },
  { "diffusion", "diffusion(f, G, T = temperature)", 2, { R_OBJECTIVE, R_METRIC }, { "T", "divergence", NULL },
    ENG_SDE, 0 },
  { "augmented_lagrangian", "augmented_lagrangian(J, [g1, g2, ...], s, step = h, dual_step = h2, r = 1)", 3,
    { R_OBJECTIVE, R_CONSTRAINTS, R_ACTIVATION }, { "step", "dual_step", "r", NULL }, ENG_DUAL, 0 },
  { "wasserstein", "wasserstein(f, G, T = temperature, eps = regularization)", 2, { R_OBJECTIVE, R_METRIC },
    { "T", "eps", NULL }, ENG_SDE, 1 },
  { "geodesic", "geodesic(G)", 1, { R_METRIC }, { NULL }, ENG_GEO, 0 },
};

static const flow_kind *find_kind(const char *name) {
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
    if (strcmp(kinds[i].name, name) == 0) return &kinds[i];
  return NULL;
}

static const char *const *options_of(const flow_kind *k) { return k->eng == ENG_ODE ? ode_run_options : md_run_options; }

static const char *role_name(role r) {
  static const char *n[] = { "an objective", "an activation", "a metric", "a mirror map", "a list of constraints" };
  return n[r];
}

static int role_ok(role r, sym_kind k) {
  switch (r) {
  case R_OBJECTIVE: return k == SYM_OBJECTIVE || k == SYM_FUNCTION;
  case R_ACTIVATION: return k == SYM_ACTIVATION;
  case R_METRIC: return k == SYM_METRIC;
  default: return k == SYM_MIRROR;
  }
}

static void list_words(strbuf *b, const char *const *w) {
  for (int i = 0; w[i]; i++) sb_printf(b, "%s%s", i ? ", " : "", w[i]);
}

/* ------------------------------------------------------------ checks */

int flow_bad_option(hnn_state *S, ast *run, int i, const char *const *opts, const char *kind) {
  ast *o = run->kids[i];
  for (int j = 2; j < i; j++)
    if (strcmp(run->kids[j]->name, o->name) == 0) {
      diag_error(&S->diags, o->src, o->name_loc, "option '%s' is given twice", o->name);
      return 1;
    }
  for (int w = 0; opts[w]; w++)
    if (strcmp(opts[w], o->name) == 0) return 0;
  strbuf b = STRBUF_INIT;
  list_words(&b, opts);
  diag_error(&S->diags, o->src, o->name_loc, "a %s run has no option '%s' (options: %s)", kind, o->name, b.s);
  sb_free(&b);
  return 1;
}

int flow_check_number(hnn_state *S, ast *e, const char *what) {
  ty t;
  if (sema_check_expr(S, e, &t)) return 1;
  if (t.kind != TY_SCALAR) {
    diag_error(&S->diags, e->src, e->loc, "%s must be a number", what);
    return 1;
  }
  return 0;
}

static int check_mirror(hnn_state *S, sym *s) {
  ast *body = s->decl->kids[0];
  if (body->kind == AST_CALL && strcmp(body->name, "hopfield") == 0 && body->nkids == 1 &&
      body->kids[0]->kind == AST_NAME) {
    sym *a = state_lookup(S, body->kids[0]->name);
    if (a && a->kind == SYM_ACTIVATION) {
      if (sema_check_sym(S, a)) return 1;
      free(s->mact);
      s->mact = hnn_xstrdup(a->name);
      return 0;
    }
  }
  diag_error(&S->diags, body->src, body->loc, "a mirror map is hopfield(s) for an activation s");
  return 1;
}

int flows_check_decl(hnn_state *S, sym *s) {
  if (s->kind == SYM_MIRROR) return check_mirror(S, s);
  ast *call = s->decl->kids[0];
  const flow_kind *k = find_kind(call->name);
  if (!k) {
    strbuf b = STRBUF_INIT;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) sb_printf(&b, "%s%s", i ? ", " : "", kinds[i].name);
    diag_error(&S->diags, call->src, call->name_loc, "unknown flow kind '%s' (hnn has: %s)", call->name, b.s);
    sb_free(&b);
    return 1;
  }
  if (k->eng == ENG_DUAL) return dualflow_check_decl(S, s, k);
  int errs = 0, npos = 0, have_required = k->keywords[0] == NULL;
  for (int i = 0; i < call->nkids; i++) {
    ast *a = call->kids[i];
    if (a->kind == AST_KWARG) {
      int ok = 0;
      for (int w = 0; k->keywords[w]; w++) ok |= strcmp(k->keywords[w], a->name) == 0;
      if (!ok) {
        diag_error(&S->diags, a->src, a->name_loc, "%s takes no argument '%s' (usage: %s)", k->name, a->name, k->usage);
        errs++;
        continue;
      }
      if (k->keywords[0] && strcmp(a->name, k->keywords[0]) == 0) have_required = 1;
      errs += flow_check_number(S, a->kids[0], a->name);
      continue;
    }
    if (npos >= k->nroles || a->kind != AST_NAME) {
      diag_error(&S->diags, a->src, a->loc, "usage: flow %s = %s", s->name, k->usage);
      errs++;
      npos++;
      continue;
    }
    sym *d = state_lookup(S, a->name);
    role r = k->roles[npos++];
    if (!d || !role_ok(r, d->kind)) {
      diag_error(&S->diags, a->src, a->loc, "%s expects %s here; '%s' is %s", k->name, role_name(r), a->name,
                 d ? sym_kind_name(d->kind) : "not defined");
      errs++;
    } else if (sema_check_sym(S, d)) {
      errs++;
    } else if (r == R_OBJECTIVE && d->sig.result.kind != TY_SCALAR) {
      diag_error(&S->diags, a->src, a->loc, "the objective '%s' is not scalar-valued", a->name);
      errs++;
    }
  }
  if (!errs && npos != k->nroles) {
    diag_error(&S->diags, call->src, call->loc, "usage: flow %s = %s", s->name, k->usage);
    errs++;
  }
  if (!errs && !have_required) {
    diag_error(&S->diags, call->src, call->loc, "%s needs %s = ... (usage: %s)", k->name, k->keywords[0], k->usage);
    errs++;
  }
  return errs;
}

ast *flow_option(ast *run, const char *name) {
  for (int i = 2; i < run->nkids; i++)
    if (strcmp(run->kids[i]->name, name) == 0) return run->kids[i]->kids[0];
  return NULL;
}

const flow_kind *flow_kind_of(sym *f) { return find_kind(f->decl->kids[0]->name); }

sym *flow_role_sym(hnn_state *S, sym *flow, role r) {
  const flow_kind *k = flow_kind_of(flow);
  ast *call = flow->decl->kids[0];
  int pos = 0;
  for (int i = 0; i < call->nkids; i++) {
    if (call->kids[i]->kind == AST_KWARG) continue;
    if (k->roles[pos++] == r) return state_lookup(S, call->kids[i]->name);
  }
  return NULL;
}

ast *flow_keyword(sym *flow, const char *name) {
  ast *call = flow->decl->kids[0];
  for (int i = 0; i < call->nkids; i++)
    if (call->kids[i]->kind == AST_KWARG && strcmp(call->kids[i]->name, name) == 0) return call->kids[i]->kids[0];
  return NULL;
}

/* The size n of the objective's (concatenated) argument for a start of
** length total: every formal is a vector of a fixed size or of the one free
** size variable.  0 when impossible (message in S->diags). */
int flow_objective_size(hnn_state *S, sym *obj, int total, ast *at) {
  int fixed = 0, per_n = 0;
  for (int i = 0; i < obj->sig.nformals; i++) {
    ty t = obj->sig.formal[i];
    if (t.kind == TY_MATRIX) {
      diag_error(&S->diags, at->src, at->loc, "a flow moves vectors; '%s' takes a matrix argument", obj->name);
      return 0;
    }
    if (t.kind == TY_SCALAR) fixed += 1;
    else if (t.r.val > 0) fixed += t.r.val;
    else per_n += 1;
  }
  if (obj->sig.ngen > 1) {
    diag_error(&S->diags, at->src, at->loc, "'%s' has several free sizes; fix them to run a flow", obj->name);
    return 0;
  }
  if (per_n == 0) {
    if (fixed != total) {
      diag_error(&S->diags, at->src, at->loc, "the start has %d values but '%s' takes %d", total, obj->name, fixed);
      return 0;
    }
    return -1;                 /* no free size */
  }
  int n = (total - fixed) / per_n;
  if (n < 1 || n * per_n + fixed != total || n < obj->sig.gen_min[0]) {
    diag_error(&S->diags, at->src, at->loc, "a start of %d values does not fit the arguments of '%s'", total, obj->name);
    return 0;
  }
  return n;
}

int flows_check_run(hnn_state *S, ast *run) {
  sym *f = state_lookup(S, run->name);
  if (!f || f->kind != SYM_FLOW) {
    diag_error(&S->diags, run->src, run->name_loc, "'%s' is %s, not a flow", run->name,
               f ? sym_kind_name(f->kind) : "not defined");
    return 1;
  }
  if (sema_check_sym(S, f)) return 1;
  const flow_kind *k = flow_kind_of(f);
  if (k->eng == ENG_SDE) return particles_check_run(S, run, f, k);
  if (k->eng == ENG_DUAL) return dualflow_check_run(S, run, f, k);
  if (k->eng == ENG_GEO) return geoflow_check_run(S, run, f, k);
  const char *const *opts = options_of(k);
  int errs = 0;
  for (int i = 2; i < run->nkids; i++) {
    ast *o = run->kids[i];
    if (flow_bad_option(S, run, i, opts, k->name)) {
      errs++;
    } else if (strcmp(o->name, "method") == 0) {
      if (o->kids[0]->kind != AST_NAME || ode_method_from_name(o->kids[0]->name) < 0) {
        strbuf b = STRBUF_INIT;
        for (int m = 0; m < ODE_NMETHODS; m++) sb_printf(&b, "%s%s", m ? ", " : "", ode_method_name((ode_method)m));
        diag_error(&S->diags, o->kids[0]->src, o->kids[0]->loc, "unknown method (methods: %s)", b.s);
        sb_free(&b);
        errs++;
      }
    } else {
      errs += flow_check_number(S, o->kids[0], o->name);
    }
  }
  ty t;
  if (sema_check_expr(S, run->kids[0], &t)) return errs + 1;
  if (t.kind != TY_VECTOR) {
    diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "a %s run starts from a point (a vector)", k->name);
    return errs + 1;
  }
  sym *obj = flow_role_sym(S, f, R_OBJECTIVE);
  if (!flow_objective_size(S, obj, t.r.val, run->kids[0])) errs++;
  if (run->kids[1] && !run->kids[1]->name[0]) {
    diag_error(&S->diags, run->kids[1]->src, run->kids[1]->loc, "empty output file name");
    errs++;
  }
  return errs;
}

/* -------------------------------------------------------------- runs */

double flow_seconds_since(const struct timespec *a) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - a->tv_sec) + 1e-9 * (double)(now.tv_nsec - a->tv_nsec);
}

void flow_progress_start(run_ctx *c, hnn_state *S, const char *name) {
  c->S = S;
  c->name = name;
  c->progress = isatty(STDERR_FILENO) && S->warn;
  clock_gettime(CLOCK_MONOTONIC, &c->start);
  c->last = c->start;
}

void flow_progress_end(run_ctx *c) {
  if (c->progress && flow_seconds_since(&c->start) >= 0.5) fputs("\r\033[K", stderr);
}

void flow_progress(run_ctx *c, double t, long step) {
  if (!c->progress || flow_seconds_since(&c->start) < 0.5 || flow_seconds_since(&c->last) < 0.2) return;
  clock_gettime(CLOCK_MONOTONIC, &c->last);
  double frac = c->t_end > 0 ? t / c->t_end : c->steps_end > 0 ? (double)step / (double)c->steps_end : 0;
  if (isnan(t)) /* an ensemble: step counts finished runs */
    fprintf(stderr, "\rhnn: run %s  %ld of %ld runs  %3.0f%%  ", c->name, step, c->steps_end, 100 * frac);
  else
    fprintf(stderr, "\rhnn: run %s  t = %-12.6g step %-10ld %3.0f%%  ", c->name, t, step, 100 * frac);
  fflush(stderr);
}

static void progress_tick(void *ctx, double t, long step) { flow_progress(ctx, t, step); }

static int emit_row(void *ctx, double t, long step, const double *x, int n) {
  run_ctx *c = ctx;
  double fx = NAN;
  if (c->P->f.fn) c->P->f.fn(x, NULL, &fx, c->ws);
  memcpy(c->row, x, (size_t)n * sizeof *x);
  c->row[n] = fx;
  flow_progress(c, t, step);
  return run_out_row(c->out, t, step, c->row);
}

int flow_eval_value(hnn_state *S, ast *e, double **v, ir_shape *sh) {
  ty t;
  if (sema_check_expr(S, e, &t)) return HNN_ERR_SCRIPT;
  return state_eval_ast(S, e, v, sh);
}

int flow_eval_number(hnn_state *S, ast *e, double *v) {
  double *val = NULL;
  ir_shape sh;
  int r = state_eval_ast(S, e, &val, &sh);
  if (r == HNN_OK) *v = val[0];
  free(val);
  return r;
}

int flow_opt_positive(hnn_state *S, ast *run, const char *name, double *v) {
  ast *e = flow_option(run, name);
  if (!e) return 0;
  if (flow_eval_number(S, e, v)) return 1;
  if (*v > 0 && isfinite(*v)) return 0;
  diag_error(&S->diags, e->src, e->loc, "option '%s' must be positive", name);
  return 1;
}

int flow_opt_count(hnn_state *S, ast *run, const char *name, long lo, long hi, long *v) {
  ast *e = flow_option(run, name);
  double d;
  if (!e) return 0;
  if (flow_eval_number(S, e, &d)) return 1;
  if (d >= (double)lo && d <= (double)hi && d == floor(d)) {
    *v = (long)d;
    return 0;
  }
  if (hi >= FLOW_COUNT_MAX) diag_error(&S->diags, e->src, e->loc, "option '%s' must be a whole number >= %ld (below 10^15)", name, lo);
  else diag_error(&S->diags, e->src, e->loc, "option '%s' must be a whole number from %ld to %ld", name, lo, hi);
  return 1;
}

int flow_kw_number(hnn_state *S, sym *flow, const char *name, double lo, int inclusive, double *v) {
  ast *e = flow_keyword(flow, name);
  if (!e) return 0;
  if (flow_eval_number(S, e, v)) return 1;
  if (isfinite(*v) && (inclusive ? *v >= lo : *v > lo)) return 0;
  if (lo == 0 && !inclusive) diag_error(&S->diags, e->src, e->loc, "'%s' must be positive", name);
  else diag_error(&S->diags, e->src, e->loc, "'%s' must be %s %g", name, inclusive ? ">=" : ">", lo);
  return 1;
}

int flow_fn_of(hnn_state *S, sym *s, int what, int n, flow_fn *out) {
  hnn_fn *f = state_get(S, s, what, n);
  if (!f) return 1;
  state_fn_later(S, f, &out->fn);
  out->nwork = f->nwork;
  return 0;
}

int flow_metric_problem(hnn_state *S, sym *g, int n, flow_problem *P) {
  P->metric_diagonal = lower_metric_is_diagonal(S, g, n);
  if (P->metric_diagonal)
    return flow_fn_of(S, g, HNN_METRIC_DIAG, n, &P->metric) || flow_fn_of(S, g, HNN_METRIC_INV_DIAG, n, &P->metric_inv) ||
           flow_fn_of(S, g, HNN_METRIC_JAC_DIAG, n, &P->metric_jac);
  return flow_fn_of(S, g, HNN_METRIC, n, &P->metric) || flow_fn_of(S, g, HNN_METRIC_INV, n, &P->metric_inv);
}

/* An ODE flow's vector field compiled in one piece (cached per flow and
** size).  Full metrics are left to the engine, which inverts them by
** Cholesky and names a metric that is not positive definite. */
static int flow_field(hnn_state *S, sym *flow, int gsize, int n, flow_problem *P) {
  const flow_kind *k = flow_kind_of(flow);
  if (k->eng != ENG_ODE || (k->sub == ODE_NATURAL_GRADIENT && !P->metric_diagonal)) return 0;
  char key[300];
  snprintf(key, sizeof key, "%s/field/%d", flow->name, n);
  hnn_fn *f = state_cached(S, key);
  if (!f) {
    ir_ctx *ir = ir_ctx_new();
    ir_node *y = ir_var(ir, ir_vector_shape(n), "y");
    sym *a = k->sub == ODE_HOPFIELD ? flow_role_sym(S, flow, R_ACTIVATION) : NULL;
    sym *m = k->sub == ODE_NATURAL_GRADIENT ? flow_role_sym(S, flow, R_METRIC) : NULL;
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

static int build_problem(hnn_state *S, sym *flow, int nsize, int n, int hessian, flow_problem *P);

/* Compile what the engine needs into P, as one module. */
int flow_build_problem(hnn_state *S, sym *flow, int nsize, int n, int hessian, flow_problem *P) {
  state_batch_begin(S);
  int bad = build_problem(S, flow, nsize, n, hessian, P);
  return state_batch_end(S) || bad;
}

static int build_problem(hnn_state *S, sym *flow, int nsize, int n, int hessian, flow_problem *P) {
  const flow_kind *k = flow_kind_of(flow);
  sym *obj = flow_role_sym(S, flow, R_OBJECTIVE);
  memset(P, 0, sizeof *P);
  P->n = n;
  int gsize = nsize > 0 ? nsize : 0;
  if (flow_fn_of(S, obj, HNN_VALUE, gsize, &P->f) || flow_fn_of(S, obj, HNN_GRADIENT, gsize, &P->grad) ||
      (hessian && flow_fn_of(S, obj, HNN_HESSIAN, gsize, &P->hess)))
    return 1;
  sym *act = NULL;
  if (k->nroles > 1 && k->roles[1] == R_ACTIVATION) act = flow_role_sym(S, flow, R_ACTIVATION);
  if (k->nroles > 1 && k->roles[1] == R_MIRROR) act = state_lookup(S, flow_role_sym(S, flow, R_MIRROR)->mact);
  if (act && (flow_fn_of(S, act, HNN_VALUE, n, &P->act) || flow_fn_of(S, act, HNN_DERIV1, n, &P->act_d) ||
              flow_fn_of(S, act, HNN_INVERSE, n, &P->act_inv)))
    return 1;
  if (k->nroles > 1 && k->roles[1] == R_METRIC) {
    sym *g = flow_role_sym(S, flow, R_METRIC);
    if (flow_metric_problem(S, g, n, P)) return 1;
    if (k->eng == ENG_SDE && flow_fn_of(S, g, HNN_METRIC_DIV_INV, n, &P->div_metric_inv)) return 1;
  }
  return flow_field(S, flow, gsize, n, P);
}

static int run_options(hnn_state *S, ast *run, const flow_kind *k, sym *flow, ode_options *o, double *step,
                       long *nsteps) {
  ode_options_default(o);
  const char *num[] = { "until", "h", "dt", "atol", "rtol", "tol" };
  double *dst[] = { &o->t_end, &o->h, &o->out_dt, &o->atol, &o->rtol, &o->grad_tol };
  for (int i = 0; i < 6; i++)
    if (flow_opt_positive(S, run, num[i], dst[i])) return 1;
  if (flow_opt_count(S, run, "every", 1, FLOW_COUNT_MAX, &o->out_every) ||
      flow_opt_count(S, run, "steps", 1, FLOW_COUNT_MAX, &o->max_steps))
    return 1;
  ast *m = flow_option(run, "method");
  if (m) o->method = (ode_method)ode_method_from_name(m->name);
  /* rk4 runs with fixed steps (our own loop); the others adapt unless the
  ** run says `fixed 1` */
  double fixed = o->method == ODE_RK4;
  ast *fx = flow_option(run, "fixed");
  if (fx && flow_eval_number(S, fx, &fixed)) return 1;
  o->fixed = fixed != 0;
  if (o->fixed && !flow_option(run, "h")) o->h = 1e-3;
  if (k->eng == ENG_MD) {
    if (flow_kw_number(S, flow, "step", 0, 0, step)) return 1;
    *nsteps = o->max_steps > 0 ? o->max_steps : 1000;
  } else if (!flow_option(run, "until")) {
    diag_error(&S->diags, run->src, run->loc, "a %s run needs 'until T' (the final time)", k->name);
    return 1;
  }
  return 0;
}

int flows_run(hnn_state *S, ast *run) {
  sym *flow = state_lookup(S, run->name);
  const flow_kind *k = flow_kind_of(flow);
  if (k->eng == ENG_SDE) return particles_run(S, run, flow, k);
  if (k->eng == ENG_DUAL) return dualflow_run(S, run, flow, k);
  if (k->eng == ENG_GEO) return geoflow_run(S, run, flow, k);
  sym *obj = flow_role_sym(S, flow, R_OBJECTIVE);
  double *x0 = NULL;
  ir_shape sh;
  int status = state_eval_ast(S, run->kids[0], &x0, &sh);
  if (status != HNN_OK) return status;
  int n = sh.rows, nsize = flow_objective_size(S, obj, n, run->kids[0]);
  ode_options o;
  double step = 0;
  long nsteps = 0;
  flow_problem P;
  if (!nsize || run_options(S, run, k, flow, &o, &step, &nsteps) ||
      flow_build_problem(S, flow, nsize, n, k->eng == ENG_ODE && ode_method_needs_jacobian(o.method), &P)) {
    free(x0);
    return HNN_ERR_SCRIPT;
  }
  run_ctx c;
  memset(&c, 0, sizeof c);
  flow_progress_start(&c, S, flow->name);
  c.P = &P;
  c.ws = hnn_xcalloc(flow_problem_nwork(&P) + 1, sizeof *c.ws);
  c.row = hnn_xcalloc((size_t)n + 1, sizeof *c.row);
  c.t_end = k->eng == ENG_ODE ? o.t_end : 0;
  c.steps_end = k->eng == ENG_ODE ? o.max_steps : nsteps;
  char *err = NULL;
  char **names = hnn_xcalloc((size_t)n + 1, sizeof *names);
  run_out_names(names, "x", n);
  names[n] = hnn_xstrdup("f");
  c.out = run_out_open(S, run->kids[1] ? run->kids[1]->name : NULL, n + 1, (const char *const *)names, &err);
  for (int i = 0; i <= n; i++) free(names[i]);
  free(names);
  ode_result res;
  memset(&res, 0, sizeof res);
  if (!c.out) {
    diag_error(&S->diags, run->kids[1]->src, run->kids[1]->loc, "%s", err);
    free(err);
    status = HNN_ERR_RUNTIME;
  } else {
    o.tick = progress_tick;
    if (k->eng == ENG_ODE)
      status = ode_run(&P, (ode_flow_kind)k->sub, flow->name, &o, x0, NULL, emit_row, &c, &res);
    else
      status = md_run(&P, (md_kind)k->sub, flow->name, step, nsteps, x0, o.grad_tol, o.out_every, emit_row,
                      progress_tick, &c, &res);
    flow_progress_end(&c);
    if (status != HNN_OK) {
      diag_error(&S->diags, run->src, run->loc, "%s", res.msg[0] ? res.msg : "the run failed");
      run_out_abort(c.out);
      status = status == HNN_ERR_USAGE ? HNN_ERR_SCRIPT : HNN_ERR_RUNTIME;
    } else if (run_out_close(c.out, &err) != 0) {
      diag_error(&S->diags, run->src, run->loc, "%s", err);
      free(err);
      status = HNN_ERR_RUNTIME;
    }
  }
  free(c.ws);
  free(c.row);
  free(x0);
  return status;
}
