/*
** special.c — geodesic, bregman, gibbs and partition in expressions.
**
** geodesic(G, x, y) and bregman(psi, x, y) are functions of their points,
** lowered to IR that compiled code evaluates (special_lower):
**   - G = hopfield(s), psi = hopfield(s): the metric separates, d_G(x, y)^2 =
**     sum_i (phi(x_i) - phi(y_i))^2 with phi' = sqrt(g) = 1/sqrt(s'(s^-1)).
**     When s is an affine image of tanh or of the logistic function of an
**     affine argument, s'(s^-1(x)) = k (x - lo)(hi - x) on the range
**     (lo, hi), so phi = (2/sqrt k) asin(sqrt((x - lo)/(hi - lo))) and the
**     Bregman divergence is KL(p || q)/k with p = (x - lo)/(hi - lo): closed
**     forms in the distances to the ends of the range, accurate to the last
**     digits 1e-12 from the boundary (000 eqs. 30 and 35), where s^-1 itself
**     has lost half of them.  Other activations integrate in the hidden
**     coordinate u = s^-1(x): phi differences are IR_QUAD nodes of
**     sqrt(s'(v)) between s^-1(y_i) and s^-1(x_i), the divergence one of
**     (v - s^-1(y_i)) s'(v).  Both are ordinary IR, differentiated by diff.c
**     (Leibniz's rule for IR_QUAD).
**   - G = euclidean: |x - y|.
**   - an explicit G: an IR_GEODESIC node calls the shooting solver
**     (runtime/geodesic.c) on the metric's compiled callbacks, whose context
**     lives in the state until hnn_close.  It has no derivative.
** gibbs and partition compile the objective, run the quadrature once, and
** fold the number into the IR as a constant.  Their domain is the box
** [lo, hi]^n given as the last argument, by default [0, 1]^n (the Hopfield
** state space).
*/
#include "special.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"
#include "diff.h"
#include "discrete.h"
#include "geodesic.h"
#include "gibbs.h"
#include "lower.h"
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

/* ------------------------------------------------- geodesic and bregman */

/* s = A f(B u + C) + D with f = tanh (TANH) or the logistic function. */
typedef enum { FAM_NONE, FAM_TANH, FAM_LOGISTIC } fam_kind;
typedef struct fam {
  fam_kind kind;
  ir_node *A, *B, *C, *D;
} fam;

static int is_one(const ir_node *n) {
  double v;
  return ir_is_const(n, &v) && v == 1;
}

/* The argument w of a core f(w) at node n (depending on u), or NULL:
** tanh(w), or 1/(1 + exp(m)) = logistic(-m). */
static ir_node *core_arg(ir_ctx *ir, ir_node *n, ir_node *u, fam_kind *k) {
  if (n->op == IR_FN1 && n->fn == IR_TANH && ir_depends(n->a[0], u)) {
    *k = FAM_TANH;
    return n->a[0];
  }
  if (n->op != IR_DIV || !is_one(n->a[0]) || n->a[1]->op != IR_ADD) return NULL;
  ir_node *p = n->a[1]->a[0], *q = n->a[1]->a[1];
  if (is_one(p)) p = q;
  else if (!is_one(q)) return NULL;
  if (p->op != IR_FN1 || p->fn != IR_EXP || !ir_depends(p->a[0], u)) return NULL;
  *k = FAM_LOGISTIC;
  return ir_neg(ir, p->a[0]);
}

/* Is `e` affine in the scalar var v: e = slope v + at0, slope free of v? */
static int affine_in(ir_ctx *ir, ir_node *e, ir_node *v, ir_node **slope, ir_node **at0) {
  ir_node *z = ir_const(ir, 0);
  *slope = diff_scalar(ir, e, v);
  if (ir_depends(*slope, v)) return 0;
  *at0 = ir_subst(ir, e, 1, &v, &z);
  return 1;
}

static fam family_of(hnn_state *S, ir_ctx *ir, sym *a) {
  fam f = { FAM_NONE, NULL, NULL, NULL, NULL };
  ir_node *u = ir_var(ir, ir_scalar_shape(), "u");
  ir_node *s = lower_activation(S, ir, a, u, 0);
  if (!s || !ir_depends(s, u)) return f;
  size_t n;
  ir_node **all = ir_topo(1, &s, &n);
  for (size_t e = 0; e < n && f.kind == FAM_NONE; e++) {
    fam_kind k;
    ir_node *w = core_arg(ir, all[e], u, &k), *kv = ir_var(ir, ir_scalar_shape(), "k");
    if (!w) continue;
    ir_node *t = ir_subst(ir, s, 1, &all[e], &kv);
    if (ir_depends(t, u) || !affine_in(ir, t, kv, &f.A, &f.D) || !affine_in(ir, w, u, &f.B, &f.C)) continue;
    f.kind = k;
  }
  free(all);
  return f;
}

/* The range (lo, hi) of a family member and k in s'(s^-1(x)) = k (x - lo)(hi - x). */
static void fam_range(ir_ctx *ir, const fam *f, ir_node **lo, ir_node **hi, ir_node **k) {
  ir_node *z = ir_const(ir, 0);
  if (f->kind == FAM_TANH) {
    ir_node *absA = ir_fn(ir, IR_ABS, f->A);
    *lo = ir_sub(ir, f->D, absA);
    *hi = ir_add(ir, f->D, absA);
  } else {
    *lo = ir_add(ir, f->D, ir_min(ir, z, f->A));
    *hi = ir_add(ir, f->D, ir_max(ir, z, f->A));
  }
  *k = ir_div(ir, f->B, f->A);
}

/* phi(x) - phi(y) elementwise, phi = (2/sqrt k) theta with sin theta =
** sqrt((x - lo)/(hi - lo)), cos theta = sqrt((hi - x)/(hi - lo)).  The
** difference is taken in one piece, theta_x - theta_y = atan2((x - y)(hi -
** lo), (P + Q) R), P = sqrt((x - lo)(hi - y)), Q = sqrt((hi - x)(y - lo)),
** R = sqrt((hi - x)(hi - y)) + sqrt((x - lo)(y - lo)): sums of positive
** terms and the distances to the ends, so nearby points and points 1e-12
** from an end keep their digits (theta_x - theta_y of two rounded thetas,
** or 1 - x^2, or s^-1, would not).  (P + Q) R >= 0, so atan2 is atan of
** the ratio; adding DBL_MIN keeps x = y = an end at 0 (and, unlike fmax,
** a NaN from a point outside the range).  A decreasing s (k < 0) gives
** NaN. */
static ir_node *fam_dphi(ir_ctx *ir, const fam *f, ir_node *x, ir_node *y) {
  ir_node *lo, *hi, *k;
  fam_range(ir, f, &lo, &hi, &k);
  ir_node *a = ir_sub(ir, x, lo), *b = ir_sub(ir, hi, x), *c = ir_sub(ir, y, lo), *d = ir_sub(ir, hi, y);
  ir_node *P = ir_fn(ir, IR_SQRT, ir_mul(ir, a, d)), *Q = ir_fn(ir, IR_SQRT, ir_mul(ir, b, c));
  ir_node *R = ir_add(ir, ir_fn(ir, IR_SQRT, ir_mul(ir, b, d)), ir_fn(ir, IR_SQRT, ir_mul(ir, a, c)));
  ir_node *num = ir_mul(ir, ir_sub(ir, x, y), ir_sub(ir, hi, lo));
  ir_node *den = ir_add(ir, ir_mul(ir, ir_add(ir, P, Q), R), ir_const(ir, DBL_MIN));
  ir_node *dtheta = ir_fn(ir, IR_ATAN, ir_div(ir, num, den));
  return ir_mul(ir, ir_div(ir, ir_const(ir, 2), ir_fn(ir, IR_SQRT, k)), dtheta);
}

/* sum_i KL(p_i || q_i)/k, p = (x - lo)/(hi - lo), 1 - p = (hi - x)/(hi - lo). */
static ir_node *fam_bregman(ir_ctx *ir, const fam *f, ir_node *x, ir_node *y) {
  ir_node *lo, *hi, *k;
  fam_range(ir, f, &lo, &hi, &k);
  ir_node *w = ir_sub(ir, hi, lo);
  ir_node *p = ir_div(ir, ir_sub(ir, x, lo), w), *pc = ir_div(ir, ir_sub(ir, hi, x), w);
  ir_node *q = ir_div(ir, ir_sub(ir, y, lo), w), *qc = ir_div(ir, ir_sub(ir, hi, y), w);
  ir_node *kl = ir_add(ir, ir_mul(ir, p, ir_fn(ir, IR_LOG, ir_div(ir, p, q))),
                       ir_mul(ir, pc, ir_fn(ir, IR_LOG, ir_div(ir, pc, qc))));
  /* 1/k as (1/sqrt k)^2: NaN, not a negative divergence, when s decreases */
  return ir_mul(ir, ir_sum(ir, kl), ir_pow(ir, ir_fn(ir, IR_SQRT, k), ir_const(ir, -2)));
}

/* The hidden-coordinate integrand of a Hopfield activation: sqrt(s'(v))
** (geodesic) or (v - p) s'(v) (Bregman), with v, p fresh scalar vars. */
static ir_node *hidden_integrand(hnn_state *S, ir_ctx *ir, sym *a, int bregman, ir_node **v, ir_node **p) {
  *v = ir_var(ir, ir_scalar_shape(), "v");
  *p = bregman ? ir_var(ir, ir_scalar_shape(), "p") : NULL;
  ir_node *sp = lower_activation(S, ir, a, *v, 1);
  if (!sp) return NULL;
  return bregman ? ir_mul(ir, ir_sub(ir, *v, *p), sp) : ir_fn(ir, IR_SQRT, sp);
}

static ir_node *hopfield_geodesic(hnn_state *S, ir_ctx *ir, sym *a, ir_node *x, ir_node *y) {
  fam f = family_of(S, ir, a);
  ir_node *dphi;
  if (f.kind != FAM_NONE) {
    dphi = fam_dphi(ir, &f, x, y);
  } else {
    ir_node *v, *p, *body = hidden_integrand(S, ir, a, 0, &v, &p);
    ir_node *ux = lower_activation(S, ir, a, x, -1), *uy = lower_activation(S, ir, a, y, -1);
    if (!body || !ux || !uy) return NULL;
    dphi = ir_quad(ir, body, v, NULL, uy, ux, uy);
  }
  return ir_fn(ir, IR_SQRT, ir_dot(ir, dphi, dphi));
}

static ir_node *hopfield_bregman(hnn_state *S, ir_ctx *ir, sym *a, ir_node *x, ir_node *y) {
  fam f = family_of(S, ir, a);
  if (f.kind != FAM_NONE) return fam_bregman(ir, &f, x, y);
  ir_node *v, *p, *body = hidden_integrand(S, ir, a, 1, &v, &p);
  ir_node *ux = lower_activation(S, ir, a, x, -1), *uy = lower_activation(S, ir, a, y, -1);
  if (!body || !ux || !uy) return NULL;
  return ir_sum(ir, ir_quad(ir, body, v, p, uy, ux, uy));
}

/* The metric's derivatives dG/dx_j (j = 0..n-1, n x n each) for the
** shooting solver, compiled as one function. */
static int metric_dx(hnn_state *S, sym *g, int n, flow_fn *out) {
  ir_ctx *ir = ir_ctx_new();
  ir_node *x = ir_var(ir, ir_vector_shape(n), "x");
  ir_node *G = lower_metric(S, ir, g, x, METRIC_G);
  hnn_fn *f = NULL;
  if (G) {
    ir_node **d = hnn_xmalloc((size_t)n * sizeof *d), **el = hnn_xmalloc((size_t)n * sizeof *el);
    for (int j = 0; j < n; j++) {
      for (int i = 0; i < n; i++) el[i] = ir_const(ir, i == j);
      ir_node *e = ir_pack(ir, x->shape, el);
      d[j] = diff_jvp(ir, G, 1, &x, &e);
    }
    ir_node *all = ir_concat(ir, n, d);
    f = state_compile(S, ir, 1, &x, 0, NULL, 1, &all, 0);
    free(d);
    free(el);
  }
  ir_ctx_free(ir);
  if (!f) return 1;
  state_fn_later(S, f, &out->fn);
  out->nwork = f->nwork;
  return 0;
}

/* w(x; v) = dG[v] v - 1/2 grad_x (v' G v) for the shooting solver, with v
** the callback's direction: the contraction is built symbolically, so the
** large entries of dG near a boundary never meet in floating point. */
static int metric_w(hnn_state *S, sym *g, int n, flow_fn *out) {
  ir_ctx *ir = ir_ctx_new();
  ir_node *x = ir_var(ir, ir_vector_shape(n), "x"), *v = ir_var(ir, ir_vector_shape(n), "v");
  ir_node *G = lower_metric(S, ir, g, x, METRIC_G);
  hnn_fn *f = NULL;
  if (G) {
    ir_node *dGv = diff_jvp(ir, G, 1, &x, &v), *grad = NULL;
    ir_node *q = ir_mul(ir, ir_const(ir, 0.5), ir_dot(ir, v, ir_matvec(ir, G, v)));
    diff_grad(ir, q, 1, &x, &grad);
    ir_node *w = grad ? ir_sub(ir, ir_matvec(ir, dGv, v), grad) : NULL;
    f = w ? state_compile(S, ir, 1, &x, 1, &v, 1, &w, 0) : NULL;
  }
  ir_ctx_free(ir);
  if (!f) return 1;
  state_fn_later(S, f, &out->fn);
  out->nwork = f->nwork;
  return 0;
}

/* An IR_GEODESIC node on a shooting context owned by the state. */
static ir_node *shooting_geodesic(hnn_state *S, ir_ctx *ir, sym *g, ir_node *x, ir_node *y) {
  int n = x->shape.rows;
  geo_rt *c = hnn_xcalloc(1, sizeof *c);
  S->rt_ctx = hnn_xrealloc(S->rt_ctx, (size_t)(S->nrt_ctx + 1) * sizeof *S->rt_ctx);
  S->rt_ctx[S->nrt_ctx++] = c;
  c->P.n = n;
  geo_options_default(&c->o);
  if (flow_metric_problem(S, g, n, &c->P) ||
      (!c->P.metric_diagonal && (metric_dx(S, g, n, &c->P.metric_dx) || metric_w(S, g, n, &c->P.metric_w))))
    return NULL;
  char name[40];
  snprintf(name, sizeof name, "hnn_geo%d", S->nrt_ctx - 1);
  return ir_geodesic(ir, name, c, x, y);
}

ir_node *special_lower(hnn_state *S, ir_ctx *ir, ast *e, const builtin *b, ir_node **args) {
  sym *s = state_lookup(S, e->kids[0]->name);
  ir_node *x = args[1], *y = args[2];
  if (b->kind == BI_BREGMAN) {
    sym *a = state_lookup(S, s->mact);
    return a ? hopfield_bregman(S, ir, a, x, y) : NULL;
  }
  switch (s->mform) {
  case MET_EUCLIDEAN: {
    ir_node *d = ir_sub(ir, x, y);
    return ir_fn(ir, IR_SQRT, ir_dot(ir, d, d));
  }
  case MET_HOPFIELD: {
    sym *a = state_lookup(S, s->mact);
    return a ? hopfield_geodesic(S, ir, a, x, y) : NULL;
  }
  default: return shooting_geodesic(S, ir, s, x, y);
  }
}
