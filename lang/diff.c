/*
** diff.c — symbolic reverse mode (diff_grad) and forward mode (diff_jvp).
**
** Input: an IR root and the VARs to differentiate by; output: new IR in the
** same ctx.  Both sweeps walk ir_topo's serial order (children before parents)
** with per-serial arrays, never recursion, so a 10^5-deep chain is fine.
** Reverse mode accumulates one adjoint per node; adjoints coming from
** IR_INDEX are gathered per element and packed once, when the indexed node is
** reached, so indexing every entry of a vector stays linear.  Only nodes that
** depend on a differentiation variable get adjoints or tangents.
*/
#include "diff.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "strbuf.h"

static int scalar(const ir_node *n) { return n->shape.kind == IR_SCALAR; }

/* 1 - u^2 as (1 - u)(1 + u): exact cancellation near |u| = 1, where
** 1 - u*u loses the digits asin', acos' and atanh' need. */
static ir_node *one_minus_sq(ir_ctx *c, ir_node *u) {
  ir_node *one = ir_const(c, 1);
  return ir_mul(c, ir_sub(c, one, u), ir_add(c, one, u));
}

/* d fn(u) / du, given y = fn(u).  tanh' is sech^2, not 1 - tanh^2: the
** latter is cancellation for |u| > 5 or so (the digits of 1 - y are gone
** from y = tanh(u)), and it feeds metrics and geodesic lengths. */
static ir_node *fn1_deriv(ir_ctx *c, ir_fn1 f, ir_node *u, ir_node *y) {
  ir_node *one = ir_const(c, 1), *two = ir_const(c, 2);
  switch (f) {
  case IR_EXP: return y;
  case IR_LOG: return ir_div(c, one, u);
  case IR_LOG1P: return ir_div(c, one, ir_add(c, one, u));
  case IR_EXPM1: return ir_fn(c, IR_EXP, u);
  case IR_SQRT: return ir_div(c, ir_const(c, 0.5), y);
  case IR_SIN: return ir_fn(c, IR_COS, u);
  case IR_COS: return ir_neg(c, ir_fn(c, IR_SIN, u));
  case IR_TAN: return ir_add(c, one, ir_pow(c, y, two));
  case IR_ASIN: return ir_div(c, one, ir_fn(c, IR_SQRT, one_minus_sq(c, u)));
  case IR_ACOS: return ir_neg(c, ir_div(c, one, ir_fn(c, IR_SQRT, one_minus_sq(c, u))));
  case IR_ATAN: return ir_div(c, one, ir_add(c, one, ir_pow(c, u, two)));
  case IR_SINH: return ir_fn(c, IR_COSH, u);
  case IR_COSH: return ir_fn(c, IR_SINH, u);
  case IR_TANH: return ir_pow(c, ir_fn(c, IR_SECH, u), two);
  case IR_ASINH: return ir_div(c, one, ir_fn(c, IR_SQRT, ir_add(c, ir_pow(c, u, two), one)));
  case IR_ACOSH: return ir_div(c, one, ir_fn(c, IR_SQRT, ir_sub(c, ir_pow(c, u, two), one)));
  case IR_ATANH: return ir_div(c, one, one_minus_sq(c, u));
  case IR_SECH: return ir_neg(c, ir_mul(c, y, ir_fn(c, IR_TANH, u)));
  case IR_ABS: return ir_fn(c, IR_SIGN, u);
  case IR_SIGN:
  case IR_STEP: return ir_zeros(c, u->shape);
  case IR_ERF:
    return ir_mul(c, ir_const(c, 2 / sqrt(M_PI)), ir_fn(c, IR_EXP, ir_neg(c, ir_pow(c, u, two))));
  case IR_NFN1: break;
  }
  assert(0);
  return NULL;
}

/* d s^-1(y)/dy = 1 / s'(s^-1(y)), elementwise in the INVERT node x. */
static ir_node *invert_deriv(ir_ctx *c, ir_node *x) {
  ir_node *ds = diff_scalar(c, x->body, x->bodyvar);
  ir_node *bv = x->bodyvar;
  return ir_div(c, ir_const(c, 1), ir_subst(c, ds, 1, &bv, &x));
}

/* The body of the IR_QUAD node y at v = at (elementwise) and its parameter;
** Leibniz: d/dhi = body(hi, p), d/dlo = -body(lo, p), d/dp = integral of
** d body / dp. */
static ir_node *quad_body_at(ir_ctx *c, ir_node *y, ir_node *at) {
  ir_node *from[2] = {y->bodyvar, y->bodypar}, *to[2] = {at, y->a[2]};
  return ir_subst(c, y->body, y->bodypar ? 2 : 1, from, to);
}

static ir_node *quad_dpar(ir_ctx *c, ir_node *y) {
  ir_node *db = diff_scalar(c, y->body, y->bodypar);
  return ir_quad(c, db, y->bodyvar, y->bodypar, y->a[0], y->a[1], y->a[2]);
}

/* Derivative factors of y = a^b: da-factor b a^(b-1); db-factor log(a) y. */
static ir_node *pow_da(ir_ctx *c, ir_node *y) {
  ir_node *a = y->a[0], *b = y->a[1];
  return ir_mul(c, b, ir_pow(c, a, ir_sub(c, b, ir_const(c, 1))));
}
static ir_node *pow_db(ir_ctx *c, ir_node *y) {
  return ir_mul(c, ir_fn(c, IR_LOG, y->a[0]), y);
}

/* One pass marking which nodes depend on any of the vars. */
static unsigned char *dependence(ir_node **all, size_t n, int maxid, int nvars, ir_node **vars) {
  unsigned char *dep = hnn_xcalloc((size_t)maxid + 1, 1);
  for (int k = 0; k < nvars; k++)
    if (vars[k] && vars[k]->id <= maxid) dep[vars[k]->id] = 1;
  for (size_t e = 0; e < n; e++)
    for (int k = 0; k < all[e]->nargs && !dep[all[e]->id]; k++)
      dep[all[e]->id] = dep[all[e]->a[k]->id];
  return dep;
}

/* ------------------------------------------------------------ reverse */

typedef struct {
  ir_ctx *c;
  ir_node **adj;
  ir_node ***elt;          /* per node: adjoint entries from IR_INDEX, or NULL */
  unsigned char *dep;
} rev;

static void acc(rev *r, ir_node *x, ir_node *g) {
  if (!r->dep[x->id]) return;
  if (scalar(x) && !scalar(g)) g = ir_sum(r->c, g);
  else if (!scalar(x) && scalar(g)) g = ir_bcast(r->c, g, x->shape);
  r->adj[x->id] = r->adj[x->id] ? ir_add(r->c, r->adj[x->id], g) : g;
}

static void acc_elem(rev *r, ir_node *x, int k, ir_node *g) {
  if (!r->dep[x->id]) return;
  int n = ir_shape_size(x->shape);
  if (!r->elt[x->id]) r->elt[x->id] = hnn_xcalloc((size_t)n, sizeof(ir_node *));
  ir_node **e = r->elt[x->id];
  e[k] = e[k] ? ir_add(r->c, e[k], g) : g;
}

static void finish_elems(rev *r, ir_node *x) {
  ir_node **e = r->elt[x->id];
  if (!e) return;
  int n = ir_shape_size(x->shape);
  for (int k = 0; k < n; k++)
    if (!e[k]) e[k] = ir_const(r->c, 0);
  ir_node *p = ir_pack(r->c, x->shape, e);
  r->adj[x->id] = r->adj[x->id] ? ir_add(r->c, r->adj[x->id], p) : p;
  free(e);
  r->elt[x->id] = NULL;
}

/* Adjoint g of part `p` of a CONCAT whose adjoint is yb, starting at off. */
static ir_node *concat_slice(ir_ctx *c, ir_node *yb, ir_node *p, int off) {
  int sz = ir_shape_size(p->shape);
  if (scalar(p)) return ir_index(c, yb, off, 0);
  ir_node **t = hnn_xmalloc((size_t)sz * sizeof *t);
  for (int k = 0; k < sz; k++) t[k] = ir_index(c, yb, off + k, 0);
  ir_node *res = ir_pack(c, p->shape, t);
  free(t);
  return res;
}

static void backprop(rev *r, ir_node *y, ir_node *yb) {
  ir_ctx *c = r->c;
  ir_node *a = y->nargs > 0 ? y->a[0] : NULL, *b = y->nargs > 1 ? y->a[1] : NULL;
  switch (y->op) {
  case IR_CONST: case IR_VAR: case IR_PARAM: break;
  case IR_BCAST: acc(r, a, ir_sum(c, yb)); break;
  case IR_PACK:
    for (int k = 0; k < y->nargs; k++)
      if (r->dep[y->a[k]->id])
        acc(r, y->a[k], y->shape.kind == IR_MATRIX ? ir_index(c, yb, k / y->shape.cols, k % y->shape.cols)
                                                   : ir_index(c, yb, k, 0));
    break;
  case IR_NEG: acc(r, a, ir_neg(c, yb)); break;
  case IR_ADD: acc(r, a, yb); acc(r, b, yb); break;
  case IR_SUB: acc(r, a, yb); acc(r, b, ir_neg(c, yb)); break;
  case IR_MUL:
    if (r->dep[a->id]) acc(r, a, ir_mul(c, yb, b));
    if (r->dep[b->id]) acc(r, b, ir_mul(c, yb, a));
    break;
  case IR_DIV:
    if (r->dep[a->id]) acc(r, a, ir_div(c, yb, b));
    if (r->dep[b->id]) acc(r, b, ir_neg(c, ir_div(c, ir_mul(c, yb, y), b)));
    break;
  case IR_POW:
    if (r->dep[a->id]) acc(r, a, ir_mul(c, yb, pow_da(c, y)));
    if (r->dep[b->id]) acc(r, b, ir_mul(c, yb, pow_db(c, y)));
    break;
  case IR_MIN:
  case IR_MAX: {
    /* the selected operand gets the adjoint (ties: neither; they are measure zero) */
    ir_node *sa = ir_fn(c, IR_STEP, y->op == IR_MIN ? ir_sub(c, b, a) : ir_sub(c, a, b));
    ir_node *sb = ir_fn(c, IR_STEP, y->op == IR_MIN ? ir_sub(c, a, b) : ir_sub(c, b, a));
    if (r->dep[a->id]) acc(r, a, ir_mul(c, yb, sa));
    if (r->dep[b->id]) acc(r, b, ir_mul(c, yb, sb));
    break;
  }
  case IR_FN1: acc(r, a, ir_mul(c, yb, fn1_deriv(c, y->fn, a, y))); break;
  case IR_INVERT: acc(r, a, ir_mul(c, yb, invert_deriv(c, y))); break;
  case IR_QUAD:
    if (r->dep[a->id]) acc(r, a, ir_neg(c, ir_mul(c, yb, quad_body_at(c, y, a))));
    if (r->dep[b->id]) acc(r, b, ir_mul(c, yb, quad_body_at(c, y, b)));
    if (y->bodypar && r->dep[y->a[2]->id]) acc(r, y->a[2], ir_mul(c, yb, quad_dpar(c, y)));
    break;
  case IR_GEODESIC:
    for (int k = 0; k < 2; k++)
      if (r->dep[y->a[k]->id]) acc(r, y->a[k], ir_const(c, NAN));
    break;
  case IR_INDEX: acc_elem(r, a, a->shape.kind == IR_MATRIX ? y->i * a->shape.cols + y->j : y->i, yb); break;
  case IR_SUM: acc(r, a, ir_bcast(c, yb, a->shape)); break;
  case IR_DOT:
    if (r->dep[a->id]) acc(r, a, ir_mul(c, yb, b));
    if (r->dep[b->id]) acc(r, b, ir_mul(c, yb, a));
    break;
  case IR_MATVEC:
    if (r->dep[a->id]) acc(r, a, ir_outer(c, yb, b));
    if (r->dep[b->id]) acc(r, b, ir_matvec(c, ir_transpose(c, a), yb));
    break;
  case IR_MATMUL:
    if (r->dep[a->id]) acc(r, a, ir_matmul(c, yb, ir_transpose(c, b)));
    if (r->dep[b->id]) acc(r, b, ir_matmul(c, ir_transpose(c, a), yb));
    break;
  case IR_TRANSPOSE: acc(r, a, ir_transpose(c, yb)); break;
  case IR_OUTER:
    if (r->dep[a->id]) acc(r, a, ir_matvec(c, yb, b));
    if (r->dep[b->id]) acc(r, b, ir_matvec(c, ir_transpose(c, yb), a));
    break;
  case IR_DIAG: acc(r, a, ir_diagof(c, yb)); break;
  case IR_DIAGOF: acc(r, a, ir_diag(c, yb)); break;
  case IR_SPDINV:
    /* Abar = -Y^T Ybar Y^T, and Y is symmetric */
    acc(r, a, ir_neg(c, ir_matmul(c, ir_matmul(c, y, yb), y)));
    break;
  case IR_CONCAT: {
    int off = 0;
    for (int k = 0; k < y->nargs; k++) {
      if (r->dep[y->a[k]->id]) acc(r, y->a[k], concat_slice(c, yb, y->a[k], off));
      off += ir_shape_size(y->a[k]->shape);
    }
    break;
  }
  case IR_NOPS: assert(0);
  }
}

void diff_grad(ir_ctx *c, ir_node *out, int nvars, ir_node **vars, ir_node **grads) {
  assert(scalar(out));
  size_t n;
  ir_node **all = ir_topo(1, &out, &n);
  int maxid = out->id;
  rev r = {c, hnn_xcalloc((size_t)maxid + 1, sizeof(ir_node *)),
           hnn_xcalloc((size_t)maxid + 1, sizeof(ir_node **)), NULL};
  r.dep = dependence(all, n, maxid, nvars, vars);
  if (r.dep[out->id]) r.adj[out->id] = ir_const(c, 1);
  for (size_t e = n; e-- > 0;) {
    ir_node *y = all[e];
    if (!r.dep[y->id]) continue;
    finish_elems(&r, y);
    if (r.adj[y->id] && y->nargs) backprop(&r, y, r.adj[y->id]);
  }
  for (int k = 0; k < nvars; k++) {
    ir_node *g = vars[k]->id <= maxid ? r.adj[vars[k]->id] : NULL;
    grads[k] = g ? ir_bcast(c, g, vars[k]->shape) : ir_zeros(c, vars[k]->shape);
  }
  free(r.adj);
  free(r.elt);
  free(r.dep);
  free(all);
}

/* ------------------------------------------------------------ forward */

static ir_node *or_zero(ir_ctx *c, ir_node *t, const ir_node *like) {
  return t ? t : ir_zeros(c, like->shape);
}

/* Sum of optional terms, broadcast to the shape of y. */
static ir_node *plus(ir_ctx *c, ir_node *s, ir_node *t) {
  if (!s) return t;
  if (!t) return s;
  return ir_add(c, s, t);
}

static ir_node *tangent(ir_ctx *c, ir_node *y, ir_node **tan) {
  ir_node *a = y->nargs > 0 ? y->a[0] : NULL, *b = y->nargs > 1 ? y->a[1] : NULL;
  ir_node *ta = a ? tan[a->id] : NULL, *tb = b ? tan[b->id] : NULL;
  switch (y->op) {
  case IR_CONST: case IR_VAR: case IR_PARAM: return NULL;
  case IR_BCAST: return ta ? ir_bcast(c, ta, y->shape) : NULL;
  case IR_PACK: {
    int any = 0;
    for (int k = 0; k < y->nargs; k++) any |= tan[y->a[k]->id] != NULL;
    if (!any) return NULL;
    ir_node **t = hnn_xmalloc((size_t)y->nargs * sizeof *t);
    for (int k = 0; k < y->nargs; k++) t[k] = or_zero(c, tan[y->a[k]->id], y->a[k]);
    ir_node *res = ir_pack(c, y->shape, t);
    free(t);
    return res;
  }
  case IR_NEG: return ta ? ir_neg(c, ta) : NULL;
  case IR_ADD: return plus(c, ta, tb);
  case IR_SUB: return tb ? (ta ? ir_sub(c, ta, tb) : ir_neg(c, tb)) : ta;
  case IR_MUL:
    return plus(c, ta ? ir_mul(c, ta, b) : NULL, tb ? ir_mul(c, a, tb) : NULL);
  case IR_DIV:
    return plus(c, ta ? ir_div(c, ta, b) : NULL, tb ? ir_neg(c, ir_div(c, ir_mul(c, y, tb), b)) : NULL);
  case IR_POW:
    return plus(c, ta ? ir_mul(c, ta, pow_da(c, y)) : NULL, tb ? ir_mul(c, tb, pow_db(c, y)) : NULL);
  case IR_MIN:
  case IR_MAX: {
    ir_node *sa = ta ? ir_fn(c, IR_STEP, y->op == IR_MIN ? ir_sub(c, b, a) : ir_sub(c, a, b)) : NULL;
    ir_node *sb = tb ? ir_fn(c, IR_STEP, y->op == IR_MIN ? ir_sub(c, a, b) : ir_sub(c, b, a)) : NULL;
    return plus(c, ta ? ir_mul(c, ta, sa) : NULL, tb ? ir_mul(c, tb, sb) : NULL);
  }
  case IR_FN1: return ta ? ir_mul(c, ta, fn1_deriv(c, y->fn, a, y)) : NULL;
  case IR_INVERT: return ta ? ir_mul(c, ta, invert_deriv(c, y)) : NULL;
  case IR_QUAD: {
    ir_node *tp = y->bodypar ? tan[y->a[2]->id] : NULL;
    ir_node *s = ta ? ir_neg(c, ir_mul(c, ta, quad_body_at(c, y, a))) : NULL;
    s = plus(c, s, tb ? ir_mul(c, tb, quad_body_at(c, y, b)) : NULL);
    return plus(c, s, tp ? ir_mul(c, tp, quad_dpar(c, y)) : NULL);
  }
  case IR_GEODESIC: return ta || tb ? ir_const(c, NAN) : NULL;
  case IR_INDEX: return ta ? ir_index(c, ta, y->i, y->j) : NULL;
  case IR_SUM: return ta ? ir_sum(c, ta) : NULL;
  case IR_DOT: return plus(c, ta ? ir_dot(c, ta, b) : NULL, tb ? ir_dot(c, a, tb) : NULL);
  case IR_MATVEC: return plus(c, ta ? ir_matvec(c, ta, b) : NULL, tb ? ir_matvec(c, a, tb) : NULL);
  case IR_MATMUL: return plus(c, ta ? ir_matmul(c, ta, b) : NULL, tb ? ir_matmul(c, a, tb) : NULL);
  case IR_TRANSPOSE: return ta ? ir_transpose(c, ta) : NULL;
  case IR_OUTER: return plus(c, ta ? ir_outer(c, ta, b) : NULL, tb ? ir_outer(c, a, tb) : NULL);
  case IR_DIAG: return ta ? ir_diag(c, ta) : NULL;
  case IR_DIAGOF: return ta ? ir_diagof(c, ta) : NULL;
  case IR_SPDINV: return ta ? ir_neg(c, ir_matmul(c, ir_matmul(c, y, ta), y)) : NULL;
  case IR_CONCAT: {
    int any = 0;
    for (int k = 0; k < y->nargs; k++) any |= tan[y->a[k]->id] != NULL;
    if (!any) return NULL;
    ir_node **t = hnn_xmalloc((size_t)y->nargs * sizeof *t);
    for (int k = 0; k < y->nargs; k++) t[k] = or_zero(c, tan[y->a[k]->id], y->a[k]);
    ir_node *res = ir_concat(c, y->nargs, t);
    free(t);
    return res;
  }
  case IR_NOPS: break;
  }
  assert(0);
  return NULL;
}

ir_node *diff_jvp(ir_ctx *c, ir_node *out, int nvars, ir_node **vars, ir_node **dirs) {
  size_t n;
  ir_node **all = ir_topo(1, &out, &n);
  int maxid = out->id;
  ir_node **tan = hnn_xcalloc((size_t)maxid + 1, sizeof *tan);
  unsigned char *dep = dependence(all, n, maxid, nvars, vars);
  for (int k = 0; k < nvars; k++)
    if (vars[k]->id <= maxid && dirs && dirs[k]) tan[vars[k]->id] = ir_bcast(c, dirs[k], vars[k]->shape);
  for (size_t e = 0; e < n; e++) {
    ir_node *y = all[e];
    if (!dep[y->id] || y->op == IR_VAR) continue;
    ir_node *t = tangent(c, y, tan);
    if (t && ir_is_zero(t)) t = NULL;
    tan[y->id] = t ? ir_bcast(c, t, y->shape) : NULL;
  }
  ir_node *res = tan[out->id] ? tan[out->id] : ir_zeros(c, out->shape);
  free(tan);
  free(dep);
  free(all);
  return res;
}

ir_node *diff_scalar(ir_ctx *c, ir_node *out, ir_node *var) {
  assert(scalar(var));
  ir_node *one = ir_const(c, 1);
  return diff_jvp(c, out, 1, &var, &one);
}

/* The unit vector (or matrix) e_k in var's shape. */
static ir_node *unit(ir_ctx *c, ir_node *var, int k) {
  int n = ir_shape_size(var->shape);
  if (scalar(var)) return ir_const(c, 1);
  ir_node **t = hnn_xmalloc((size_t)n * sizeof *t);
  for (int e = 0; e < n; e++) t[e] = ir_const(c, e == k ? 1 : 0);
  ir_node *res = ir_pack(c, var->shape, t);
  free(t);
  return res;
}

static ir_node *flat_elem(ir_ctx *c, ir_node *v, int k) {
  if (scalar(v)) return v;
  if (v->shape.kind == IR_MATRIX) return ir_index(c, v, k / v->shape.cols, k % v->shape.cols);
  return ir_index(c, v, k, 0);
}

ir_node *diff_jacobian_diag(ir_ctx *c, ir_node *out, ir_node *var) {
  int n = ir_shape_size(var->shape);
  assert(ir_shape_size(out->shape) == n);
  if (ir_elementwise_in(out, var)) {
    ir_node *ones = ir_bcast(c, ir_const(c, 1), var->shape);
    return ir_bcast(c, diff_jvp(c, out, 1, &var, &ones), out->shape);
  }
  ir_node **t = hnn_xmalloc((size_t)n * sizeof *t);
  for (int k = 0; k < n; k++) {
    ir_node *e = unit(c, var, k);
    t[k] = flat_elem(c, diff_jvp(c, out, 1, &var, &e), k);
  }
  ir_node *res = ir_pack(c, out->shape, t);
  free(t);
  return res;
}

ir_node *diff_jacobian(ir_ctx *c, ir_node *out, ir_node *var) {
  int m = ir_shape_size(out->shape), n = ir_shape_size(var->shape);
  ir_node **t = hnn_xmalloc((size_t)m * n * sizeof *t);
  for (int k = 0; k < n; k++) {
    ir_node *e = unit(c, var, k);
    ir_node *col = diff_jvp(c, out, 1, &var, &e);
    for (int i = 0; i < m; i++) t[i * n + k] = flat_elem(c, col, i);
  }
  ir_node *res = m == 1 && n == 1 ? t[0] : ir_pack(c, ir_matrix_shape(m, n), t);
  free(t);
  return res;
}

const ir_node *diff_opaque(ir_node *root, int nvars, ir_node **vars) {
  size_t n;
  ir_node **all = ir_topo(1, &root, &n);
  unsigned char *dep = dependence(all, n, root->id, nvars, vars);
  const ir_node *r = NULL;
  for (size_t e = 0; e < n && !r; e++)
    if (all[e]->op == IR_GEODESIC && dep[all[e]->id]) r = all[e];
  free(dep);
  free(all);
  return r;
}
