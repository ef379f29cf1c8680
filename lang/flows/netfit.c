/*
** netfit.c — the declaration, sizes, callbacks and data of the network
** fitting flows (netfit.h).
*/
#include "netfit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sym *role_fn(hnn_state *S, const flow_kind *k, ast *a, int nformals, const char *what) {
  sym *f = a->kind == AST_NAME ? state_lookup(S, a->name) : NULL;
  if (!f || (f->kind != SYM_FUNCTION && f->kind != SYM_OBJECTIVE)) {
    diag_error(&S->diags, a->src, a->loc, "%s expects %s here", k->name, what);
    return NULL;
  }
  if (sema_check_sym(S, f)) return NULL;
  if (f->sig.nformals != nformals || f->sig.result.kind != TY_SCALAR) {
    diag_error(&S->diags, a->src, a->loc, "'%s' must be %s", f->name, what);
    return NULL;
  }
  return f;
}

int netfit_check_decl(hnn_state *S, sym *s, const flow_kind *k, int (*check_kw)(hnn_state *S, ast *kwarg)) {
  ast *call = s->decl->kids[0];
  int npos = 0, errs = 0;
  for (int i = 0; i < call->nkids; i++) {
    ast *a = call->kids[i];
    if (a->kind == AST_KWARG) {
      int e = check_kw(S, a);
      if (e < 0) {
        diag_error(&S->diags, a->src, a->name_loc, "%s takes no argument '%s' (usage: %s)", k->name, a->name, k->usage);
        e = 1;
      }
      errs += e;
      continue;
    }
    npos++;
    if (npos == 1) errs += !role_fn(S, k, a, 2, "an activation h(theta, x): a function of two arguments with a scalar value");
    else if (npos == 2) errs += !role_fn(S, k, a, 1, "a target f(x): a function of one argument with a scalar value");
    else if (npos == 3) {
      sym *p = a->kind == AST_NAME ? state_lookup(S, a->name) : NULL;
      if (!p || p->kind != SYM_PARAM) {
        diag_error(&S->diags, a->src, a->loc, "the data are a param: a vector of points, or a matrix with one point per row");
        errs++;
      } else errs += sema_check_sym(S, p);
    }
  }
  if (!errs && npos != 3) {
    diag_error(&S->diags, call->src, call->loc, "usage: flow %s = %s", s->name, k->usage);
    errs++;
  }
  return errs;
}

static ast *positional(sym *flow, int which) {
  ast *call = flow->decl->kids[0];
  for (int i = 0, n = 0; i < call->nkids; i++)
    if (call->kids[i]->kind != AST_KWARG && n++ == which) return call->kids[i];
  return NULL;
}

int netfit_prepare(hnn_state *S, sym *flow, netfit *nf) {
  nf->act = state_lookup(S, positional(flow, 0)->name);
  nf->target = state_lookup(S, positional(flow, 1)->name);
  sym *Xp = state_lookup(S, positional(flow, 2)->name);
  nf->nx = Xp->shape.rows;
  nf->n = Xp->shape.kind == IR_MATRIX ? Xp->shape.cols : 1;
  nf->X = hnn_xmalloc((size_t)nf->nx * nf->n * sizeof *nf->X);
  memcpy(nf->X, Xp->data, (size_t)nf->nx * nf->n * sizeof *nf->X);
  ty tt = nf->act->sig.formal[0], tx = nf->act->sig.formal[1], tf = nf->target->sig.formal[0];
  nf->dim = tt.kind == TY_SCALAR ? 1 : tt.kind == TY_VECTOR && tt.r.val > 0 ? tt.r.val : 0;
  int nx_ok = (tx.kind == TY_SCALAR && nf->n == 1) || (tx.kind == TY_VECTOR && (tx.r.val == nf->n || tx.r.val == 0));
  int nf_ok = (tf.kind == TY_SCALAR && nf->n == 1) || (tf.kind == TY_VECTOR && (tf.r.val == nf->n || tf.r.val == 0));
  if (!nf->dim || !nx_ok || !nf_ok) {
    diag_error(&S->diags, flow->decl->src, flow->decl->loc,
               "%s: theta must be a number or a vector of fixed size, and x of h and f must match the data's points (%d values each)",
               flow->name, nf->n);
    return HNN_ERR_SCRIPT;
  }
  return HNN_OK;
}

int netfit_compile(hnn_state *S, netfit *nf) {
  int sizes[2] = { nf->dim, nf->n };
  return flow_fn_grad1_value(S, nf->act, 2, sizes, &nf->act_fn) || flow_fn_of(S, nf->target, HNN_VALUE, nf->n, &nf->f_fn);
}

int netfit_targets(const netfit *nf, double *q, double *f, char *msg, size_t len) {
  double *ws = hnn_xcalloc(nf->f_fn.nwork + 1, sizeof *ws);
  int bad = 0;
  for (int j = 0; j < nf->nx && !bad; j++) {
    q[j] = 1.0 / nf->nx;
    if (nf->f_fn.fn(nf->X + (size_t)j * nf->n, NULL, &f[j], ws) || !isfinite(f[j])) {
      snprintf(msg, len, "the target '%s' is not finite at data point %d", nf->target->name, j + 1);
      bad = 1;
    }
  }
  free(ws);
  return bad;
}

int netfit_act(const netfit *nf, const double *theta, const double *x, double *in, double *out, double *ws) {
  memcpy(in, theta, (size_t)nf->dim * sizeof *in);
  memcpy(in + nf->dim, x, (size_t)nf->n * sizeof *in);
  if (nf->act_fn.fn(in, NULL, out, ws)) return 1;
  for (int k = 0; k <= nf->dim; k++)
    if (!isfinite(out[k])) return 1;
  return 0;
}

void netfit_free(netfit *nf) {
  free(nf->X);
  memset(nf, 0, sizeof *nf);
}
