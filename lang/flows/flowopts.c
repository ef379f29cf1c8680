/*
** flowopts.c — what the flow kinds share: reading options and keyword
** arguments (so every run reports a bad value at its line and column the
** same way), compiling the callbacks of a flow's roles, and the progress
** line.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flowkind.h"
#include "strbuf.h"

/* ------------------------------------------------- flows and runs */

const flow_kind *flow_kind_of(sym *f) { return f->flow_kind; }

ast *flow_option(ast *run, const char *name) {
  for (int i = 2; i < run->nkids; i++)
    if (strcmp(run->kids[i]->name, name) == 0) return run->kids[i]->kids[0];
  return NULL;
}

sym *flow_role_sym(hnn_state *S, sym *flow, role r) {
  const flow_kind *k = flow_kind_of(flow);
  ast *call = flow->decl->kids[0];
  int pos = 0;
  for (int i = 0; i < call->nkids && pos < k->nroles; i++) {
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

/* ------------------------------------------------------------ checks */

static void list_words(strbuf *b, const char *const *w) {
  for (int i = 0; w[i]; i++) sb_printf(b, "%s%s", i ? ", " : "", w[i]);
}

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

int flow_check_options(hnn_state *S, ast *run, const flow_kind *k, const char *const *special) {
  int errs = 0;
  for (int i = 2; i < run->nkids; i++) {
    ast *o = run->kids[i];
    int skip = 0;
    if (flow_bad_option(S, run, i, k->options, k->name)) {
      errs++;
      continue;
    }
    for (int w = 0; special && special[w]; w++) skip |= strcmp(special[w], o->name) == 0;
    if (!skip) errs += flow_check_number(S, o->kids[0], o->name);
  }
  return errs;
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

/* ------------------------------------------------------------ values */

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

/* --------------------------------------------------------- callbacks */

int flow_compile_roles(hnn_state *S, sym *flow, const flow_kind *k, int nsize, int n, int hessian, flow_problem *P) {
  memset(P, 0, sizeof *P);
  P->n = n;
  int gsize = nsize > 0 ? nsize : 0;
  for (int r = 0; r < k->nroles; r++) {
    sym *s = flow_role_sym(S, flow, k->roles[r]);
    switch (k->roles[r]) {
    case R_OBJECTIVE:
      if (flow_fn_of(S, s, HNN_VALUE, gsize, &P->f) || flow_fn_of(S, s, HNN_GRADIENT, gsize, &P->grad) ||
          (hessian && flow_fn_of(S, s, HNN_HESSIAN, gsize, &P->hess)))
        return 1;
      break;
    case R_MIRROR:
      s = state_lookup(S, s->mact);
      /* fall through: the mirror map's activation */
    case R_ACTIVATION:
      if (flow_fn_of(S, s, HNN_VALUE, n, &P->act) || flow_fn_of(S, s, HNN_DERIV1, n, &P->act_d) ||
          flow_fn_of(S, s, HNN_INVERSE, n, &P->act_inv))
        return 1;
      break;
    case R_METRIC:
      if (flow_metric_problem(S, s, n, P)) return 1;
      break;
    case R_CONSTRAINTS:
    case R_ENERGY:
      break;
    }
  }
  return 0;
}

/* ----------------------------------------------------- progress line */

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

void flow_progress_tick(void *ctx, double t, long step) { flow_progress(ctx, t, step); }
