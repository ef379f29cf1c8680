/*
** distexpr.c — w2, sinkhorn and mmd in expressions (distexpr.h).
*/
#include "distexpr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"
#include "distance.h"
#include "energymodel.h"
#include "rng.h"

static const char *usage_of(builtin_kind k) {
  return k == BI_W2 ? "w2(P, Q [, samples = M])"
         : k == BI_SINKHORN ? "sinkhorn(P, Q [, eps = 0.01] [, samples = M])"
                            : "mmd(k, P, Q [, samples = M])";
}

/* The dimension a kernel's points have: 0 any, -1 not a kernel of two
** points of one dimension with a scalar value. */
static int kernel_dim(const sym *k) {
  if (k->sig.nformals != 2 || k->sig.result.kind != TY_SCALAR) return -1;
  int d[2];
  for (int i = 0; i < 2; i++) {
    const ty *t = &k->sig.formal[i];
    d[i] = t->kind == TY_SCALAR ? 1 : t->kind == TY_VECTOR ? (t->r.val > 0 ? t->r.val : 0) : -1;
  }
  return d[0] < 0 || d[0] != d[1] ? -1 : d[0];
}

/* A law's form; its values are read when the expression is evaluated. */
static int check_law(chk *c, ast *e, const builtin *b) {
  if (e->kind == AST_NAME) {
    sym *p = state_lookup(c->S, e->name);
    if (p && p->kind == SYM_PARAM) return 0;
  } else if (ast_is_plain_call(e)) {
    int law = strcmp(e->name, "normal") == 0 || strcmp(e->name, "uniform") == 0, mix = strcmp(e->name, "mixture") == 0;
    if (strcmp(e->name, "csv") == 0 && e->nkids == 1 && e->kids[0]->kind == AST_STR) return 0;
    if (law || mix) {
      for (int i = 0; i < e->nkids; i++) {
        if (mix && i > 0) {
          if (check_law(c, e->kids[i], b)) return 1;
        } else if (sema_check(c, e->kids[i]).kind == TY_ERROR) {
          return 1;
        }
      }
      return 0;
    }
  }
  diag_error(c->d, e->src, e->loc, "%s: a law is csv(\"file\"), a param matrix of points, normal(mean, var), "
             "uniform(lo, hi) or mixture([w1, ...], law1, ...)", b->name);
  return 1;
}

ty distexpr_check(chk *c, ast *e, const builtin *b) {
  int first = b->kind == BI_MMD, npos = 0;
  for (int i = 0; i < e->nkids; i++) {
    ast *a = e->kids[i];
    if (a->kind == AST_KWARG) {
      int ok = strcmp(a->name, "samples") == 0 || (b->kind == BI_SINKHORN && strcmp(a->name, "eps") == 0);
      if (!ok) {
        diag_error(c->d, a->src, a->loc, "usage: %s", usage_of(b->kind));
        return error_ty();
      }
      ty t = sema_check(c, a->kids[0]);
      if (t.kind == TY_ERROR) return error_ty();
      if (t.kind != TY_SCALAR) {
        diag_error(c->d, a->kids[0]->src, a->kids[0]->loc, "%s is a number", a->name);
        return error_ty();
      }
      continue;
    }
    if (npos++ < first) {
      sym *k = a->kind == AST_NAME ? state_lookup(c->S, a->name) : NULL;
      if (!k || k->kind != SYM_KERNEL) {
        diag_error(c->d, a->src, a->loc, "usage: %s, where k names a kernel", usage_of(b->kind));
        return error_ty();
      }
      if (sema_check_sym(c->S, k)) return error_ty();
      if (kernel_dim(k) < 0) {
        diag_error(c->d, a->src, a->loc, "kernel '%s' must take two points of one dimension and return a scalar",
                   k->name);
        return error_ty();
      }
      continue;
    }
    if (check_law(c, a, b)) return error_ty();
  }
  if (npos != 2 + first) {
    diag_error(c->d, e->src, e->loc, "usage: %s", usage_of(b->kind));
    return error_ty();
  }
  return scalar();
}

static ast *kwarg(ast *e, const char *name) {
  for (int i = 0; i < e->nkids; i++)
    if (e->kids[i]->kind == AST_KWARG && strcmp(e->kids[i]->name, name) == 0) return e->kids[i]->kids[0];
  return NULL;
}

static int number(hnn_state *S, ast *e, double *v) {
  double *val = NULL;
  ir_shape sh;
  int r = flow_eval_value(S, e, &val, &sh);
  if (r == HNN_OK) *v = val[0];
  free(val);
  return r;
}

ir_node *distexpr_lower(hnn_state *S, ir_ctx *ir, ast *e, const builtin *b) {
  double eps = 0.01, samples = 1000;
  ast *ke = kwarg(e, "eps"), *se = kwarg(e, "samples");
  if (ke && number(S, ke, &eps) != HNN_OK) return NULL;
  if (ke && !(eps > 0 && isfinite(eps))) {
    diag_error(&S->diags, ke->src, ke->loc, "eps must be > 0");
    return NULL;
  }
  if (se && number(S, se, &samples) != HNN_OK) return NULL;
  if (se && !(samples >= 1 && samples <= 1e7 && samples == floor(samples))) {
    diag_error(&S->diags, se->src, se->loc, "samples must be a whole number from 1 to 1e7");
    return NULL;
  }
  ast *pos[3];
  int np = 0;
  for (int i = 0; i < e->nkids && np < 3; i++)
    if (e->kids[i]->kind != AST_KWARG) pos[np++] = e->kids[i];
  int first = b->kind == BI_MMD;
  double *pts[2] = { NULL, NULL };
  int npts[2] = { 0, 0 }, n = 0, status = HNN_OK;
  for (int s = 0; s < 2 && status == HNN_OK; s++) {
    /* each law's draws: a stream of the seed and the call's place */
    uint64_t stream = rng_name_index(b->name) ^ ((uint64_t)e->loc.line << 20) ^ ((uint64_t)e->loc.col << 4) ^ (uint64_t)s;
    status = dist_points(S, pos[first + s], n, "the first law", (long)samples, stream, &pts[s], &npts[s], &n);
  }
  wf_kernel kern = { 0 };
  if (status == HNN_OK && first) {
    sym *k = state_lookup(S, pos[0]->name);
    int kd = kernel_dim(k);
    if (kd > 0 && kd != n) {
      diag_error(&S->diags, pos[0]->src, pos[0]->loc, "kernel '%s' takes points of dimension %d, the laws are in "
                 "dimension %d", k->name, kd, n);
      status = HNN_ERR_SCRIPT;
    } else if (energy_model_kernel(S, k, n, &kern.pair) != HNN_OK) {
      status = HNN_ERR_SCRIPT;
    }
  }
  double v = NAN;
  if (status == HNN_OK) {
    dist_kind dk = b->kind == BI_W2 ? DIST_W2 : b->kind == BI_SINKHORN ? DIST_SINKHORN : DIST_MMD;
    char msg[512] = "";
    int s = dist_value(dk, eps, &kern, n, (size_t)npts[0], pts[0], (size_t)npts[1], pts[1], 0, &v, msg, sizeof msg);
    if (s < 0) {
      diag_error(&S->diags, e->src, e->loc, "%s: %s", b->name, msg);
      status = HNN_ERR_RUNTIME;
    } else if (s > 0 && S->warn) {
      state_warn(S, "%s: %s", b->name, msg);
    }
  }
  free(pts[0]);
  free(pts[1]);
  return status == HNN_OK ? ir_const(ir, v) : NULL;
}
