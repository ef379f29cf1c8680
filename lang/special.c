/*
** special.c — geodesic, bregman, gibbs and partition in expressions.
**
** Each compiles the callbacks its engine needs through state_get (the same
** path as every callback), runs the engine once, and folds the number into
** the IR as a constant.  The domain of gibbs and partition is the box
** [lo, hi]^n given as the last argument, by default [0, 1]^n (the Hopfield
** state space).
*/
#include "special.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "discrete.h"
#include "callbacks.h"
#include "geodesic.h"
#include "gibbs.h"
#include "strbuf.h"

/* The values of a lowered argument that does not depend on a variable:
** constants, and params at their current values. */
static int constant_values(const ir_node *n, double *out, int cap) {
  double v;
  if (n->op == IR_PARAM) {
    int m = ir_shape_size(n->shape);
    for (int i = 0; i < cap && i < m; i++) out[i] = n->data[i];
    return m;
  }
  if (ir_is_const(n, &v)) {
    for (int i = 0; i < cap && i < ir_shape_size(n->shape); i++) out[i] = v;
    return ir_shape_size(n->shape);
  }
  if (n->op != IR_PACK) return -1;
  for (int i = 0; i < n->nargs; i++) {
    if (n->a[i]->op == IR_PARAM && n->a[i]->shape.kind == IR_SCALAR) v = n->a[i]->data[0];
    else if (!ir_is_const(n->a[i], &v)) return -1;
    if (i < cap) out[i] = v;
  }
  return n->nargs;
}

static double run_geodesic(hnn_state *S, sym *g, int n, const double *x, const double *y, char *msg, size_t len,
                           int *bad) {
  flow_problem P;
  memset(&P, 0, sizeof P);
  P.n = n;
  double d = NAN;
  if (flow_metric_problem(S, g, n, &P)) {
    *bad = 2;
    return d;
  }
  if (!P.metric_diagonal) {
    snprintf(msg, len, "geodesic distances are computed for diagonal metrics (G = diag(...), hopfield(s), euclidean)");
    *bad = 1;
    return d;
  }
  if (geo_distance(&P, x, y, NULL, &d, NULL, 0, msg, len) != 0) *bad = 1;
  return d;
}

static double run_bregman(hnn_state *S, sym *psi, int n, const double *x, const double *y, char *msg, size_t len,
                          int *bad) {
  flow_problem P;
  memset(&P, 0, sizeof P);
  P.n = n;
  double d = NAN;
  sym *a = state_lookup(S, psi->mact);
  if (!a || flow_fn_of(S, a, HNN_VALUE, n, &P.act) || flow_fn_of(S, a, HNN_INVERSE, n, &P.act_inv) ||
      flow_fn_of(S, a, HNN_DERIV1, n, &P.act_d)) {
    *bad = 2;
    return d;
  }
  if (md_bregman(&P, x, y, &d) != 0) {
    snprintf(msg, len, "the Bregman divergence could not be computed (points outside the activation's range?)");
    *bad = 1;
  }
  return d;
}

static double run_gibbs(hnn_state *S, sym *f, int n, double T, const double *x, const double *box, char *msg,
                        size_t len, int *bad) {
  flow_problem P;
  memset(&P, 0, sizeof P);
  P.n = n;
  int size = f->sig.ngen ? n : 0;
  if (flow_fn_of(S, f, HNN_VALUE, size, &P.f)) {
    *bad = 2;
    return NAN;
  }
  if (!(T > 0)) {
    snprintf(msg, len, "the temperature must be positive");
    *bad = 1;
    return NAN;
  }
  double *lo = hnn_xmalloc((size_t)n * sizeof *lo), *hi = hnn_xmalloc((size_t)n * sizeof *hi);
  for (int i = 0; i < n; i++) lo[i] = box[0], hi[i] = box[1];
  gibbs_opts o;
  gibbs_opts_default(&o);
  o.seed = S->seed;
  gibbs_z z;
  double r = NAN;
  if (gibbs_partition(&P, T, lo, hi, &o, &z, msg, len) != GIBBS_OK) {
    *bad = 1;
  } else if (!x) {
    r = exp(z.logZ);
  } else {
    double *ws = hnn_xcalloc(flow_problem_nwork(&P) + (size_t)n + 1, sizeof *ws), lr;
    if (gibbs_log_density(&P, T, z.logZ, x, ws, &lr) != GIBBS_OK) {
      snprintf(msg, len, "f could not be evaluated at the point");
      *bad = 1;
    } else {
      r = exp(lr);
    }
    free(ws);
  }
  free(lo);
  free(hi);
  return r;
}

ir_node *special_eval(hnn_state *S, ir_ctx *ir, ast *e, const builtin *b, ir_node **args) {
  sym *s = state_lookup(S, e->kids[0]->name);
  int n = 0, bad = 0;
  double *v[4] = { NULL, NULL, NULL, NULL }, box[2] = { 0, 1 };
  for (int i = 1; i < e->nkids; i++) {
    int len = ir_shape_size(args[i]->shape);
    v[i] = hnn_xcalloc((size_t)len + 1, sizeof *v[i]);
    if (constant_values(args[i], v[i], len) < 0) {
      diag_error(&S->diags, e->kids[i]->src, e->kids[i]->loc, "%s needs constant arguments here", b->name);
      bad = 2;
    }
  }
  char msg[512] = "";
  double r = NAN;
  if (!bad) switch (b->kind) {
    case BI_GEODESIC:
      n = args[1]->shape.rows;
      r = run_geodesic(S, s, n, v[1], v[2], msg, sizeof msg, &bad);
      break;
    case BI_BREGMAN:
      n = args[1]->shape.rows;
      r = run_bregman(S, s, n, v[1], v[2], msg, sizeof msg, &bad);
      break;
    case BI_GIBBS:
      n = args[2]->shape.rows;
      if (e->nkids == 4) box[0] = v[3][0], box[1] = v[3][1];
      r = run_gibbs(S, s, n, v[1][0], v[2], box, msg, sizeof msg, &bad);
      break;
    default: {
      int size = s->sig.nformals == 1 && s->sig.formal[0].kind == TY_VECTOR ? s->sig.formal[0].r.val : 0;
      if (size <= 0) {
        snprintf(msg, sizeof msg, "'%s' must take one vector of fixed size (the dimension of the domain)", s->name);
        bad = 1;
        break;
      }
      n = size;
      if (e->nkids == 3) box[0] = v[2][0], box[1] = v[2][1];
      r = run_gibbs(S, s, n, v[1][0], NULL, box, msg, sizeof msg, &bad);
    }
    }
  if (bad == 1) diag_error(&S->diags, e->src, e->loc, "%s: %s", b->name, msg[0] ? msg : "failed");
  if (!bad && !(box[0] < box[1])) {
    diag_error(&S->diags, e->src, e->loc, "%s: the box [lo, hi] needs lo < hi", b->name);
    bad = 1;
  }
  for (int i = 0; i < 4; i++) free(v[i]);
  return bad ? NULL : ir_const(ir, r);
}
