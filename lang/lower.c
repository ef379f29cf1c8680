/*
** lower.c — lowering of checked AST to IR.
**
** Names resolve in the innermost frame only (a body sees its own arguments
** and the globals), so inlining cannot capture a caller's names.
*/
#include "lower.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "distexpr.h"
#include "builtins.h"
#include "diff.h"
#include "fisher.h"
#include "special.h"
#include "strbuf.h"

typedef struct binding {
  const char *name;
  ir_node *node;         /* an argument, or NULL for a size */
  int size;
} binding;

typedef struct lower {
  hnn_state *S;
  ir_ctx *ir;
  binding *b;
  int nb, capb;
  int frame;             /* first binding of the innermost frame */
  ir_node *inv_value;    /* inside an explicit inverse: x */
  sym *param;            /* lowering a param initializer */
  gsl_rng *rng;
  double ***bufs;
  int *nbufs;
} lower;

static ir_node *lo(lower *L, ast *e);

static void bind(lower *L, const char *name, ir_node *node, int size) {
  if (L->nb == L->capb) {
    L->capb = L->capb ? 2 * L->capb : 16;
    L->b = hnn_xrealloc(L->b, (size_t)L->capb * sizeof *L->b);
  }
  binding x = { name, node, size };
  L->b[L->nb++] = x;
}

static binding *lookup(lower *L, const char *name) {
  for (int i = L->nb - 1; i >= L->frame; i--)
    if (strcmp(L->b[i].name, name) == 0) return &L->b[i];
  return NULL;
}

static void fail(lower *L, const ast *e, const char *fmt, const char *a) {
  diag_error(&L->S->diags, e->src, e->loc, fmt, a);
}

static ir_node *one(lower *L) { return ir_const(L->ir, 1.0); }

static ir_node *param_node(lower *L, sym *p) {
  if (L->param && p->shape.kind == IR_SCALAR) return ir_const(L->ir, p->data[0]);
  char name[40];
  snprintf(name, sizeof name, "hnn_p%d", p->serial);
  return ir_param(L->ir, name, p->data, p->shape);
}

static double *new_buffer(lower *L, size_t n) {
  double *d = hnn_xcalloc(n, sizeof *d);
  *L->bufs = hnn_xrealloc(*L->bufs, (size_t)(*L->nbufs + 1) * sizeof **L->bufs);
  (*L->bufs)[(*L->nbufs)++] = d;
  return d;
}

static ir_node *buffer_node(lower *L, double *d, ir_shape s) {
  char name[40];
  snprintf(name, sizeof name, "hnn_t%d", *L->nbufs);
  return ir_param(L->ir, name, d, s);
}

/* ------------------------------------------------------------ calls */

static ir_node *inline_body(lower *L, sym *f, int nargs, ir_node **args) {
  ast *d = f->decl;
  int saved_frame = L->frame, saved_nb = L->nb;
  ir_node *saved_inv = L->inv_value;
  sym *saved_param = L->param;
  L->frame = L->nb;
  L->inv_value = NULL;
  L->param = NULL;
  for (int i = 0; i < nargs; i++) {
    ast *fm = d->kids[i];
    bind(L, fm->name, args[i], 0);
    for (int k = 0; k < fm->ndims; k++)
      if (fm->dimname[k] && !lookup(L, fm->dimname[k])) {
        sym *p = state_lookup(L->S, fm->dimname[k]);
        if (!p || p->kind != SYM_PARAM) bind(L, fm->dimname[k], NULL, k ? args[i]->shape.cols : args[i]->shape.rows);
      }
  }
  ir_node *r = lo(L, ast_body(d));
  L->frame = saved_frame;
  L->nb = saved_nb;
  L->inv_value = saved_inv;
  L->param = saved_param;
  return r;
}

static ir_node *flatten(lower *L, ir_node *n) {
  if (n->shape.kind == IR_VECTOR) return n;
  return ir_concat(L->ir, 1, &n);
}

/* Unit direction number j of the concatenation of vars, split per var. */
static void unit_dirs(lower *L, int nvars, ir_node **vars, int j, ir_node **dirs) {
  int off = 0;
  for (int k = 0; k < nvars; k++) {
    int sz = ir_shape_size(vars[k]->shape);
    if (j < off || j >= off + sz) dirs[k] = NULL;
    else if (vars[k]->shape.kind == IR_SCALAR) dirs[k] = one(L);
    else {
      ir_node **el = hnn_xmalloc((size_t)sz * sizeof *el);
      for (int i = 0; i < sz; i++) el[i] = ir_const(L->ir, i == j - off ? 1.0 : 0.0);
      dirs[k] = ir_pack(L->ir, vars[k]->shape, el);
      free(el);
    }
    off += sz;
  }
}

static ir_node *lower_deriv(lower *L, ast *e, sym *f, int nargs, ir_node **args) {
  ir_node **vars = hnn_xmalloc((size_t)nargs * sizeof *vars);
  ir_node **grads = hnn_xmalloc((size_t)nargs * sizeof *grads);
  int total = 0;
  for (int i = 0; i < nargs; i++) {
    vars[i] = ir_var(L->ir, args[i]->shape, f->decl->kids[i]->name);
    total += ir_shape_size(args[i]->shape);
  }
  ir_node *body = inline_body(L, f, nargs, vars);
  ir_node *r = NULL;
  if (body && diff_opaque(body, nargs, vars)) {
    fail(L, e, "%s", DIFF_OPAQUE_WHY);
  } else if (body) {
    diff_grad(L->ir, body, nargs, vars, grads);
    ir_node *g = nargs == 1 ? grads[0] : ir_concat(L->ir, nargs, grads);
    if (e->deriv == DERIV_GRAD) r = g;
    else if (total > 400) {
      fail(L, e, "hessian of '%s' in an expression is limited to 400 variables (use the API's HNN_HESSIAN)", f->name);
    } else {
      g = flatten(L, g);
      ir_node **dirs = hnn_xmalloc((size_t)nargs * sizeof *dirs);
      ir_node **cols = hnn_xmalloc((size_t)total * sizeof *cols);
      for (int j = 0; j < total; j++) {
        unit_dirs(L, nargs, vars, j, dirs);
        cols[j] = diff_jvp(L->ir, g, nargs, vars, dirs);
      }
      ir_node **el = hnn_xmalloc((size_t)total * (size_t)total * sizeof *el);
      for (int i = 0; i < total; i++)
        for (int j = 0; j < total; j++) el[i * total + j] = ir_index(L->ir, cols[j], i, 0);
      r = ir_pack(L->ir, ir_matrix_shape(total, total), el);
      free(el);
      free(cols);
      free(dirs);
    }
    if (r) r = ir_subst(L->ir, r, nargs, vars, args);
  }
  free(vars);
  free(grads);
  return r;
}

static ir_node *lower_user_call(lower *L, ast *e, sym *f) {
  ir_node **args = hnn_xmalloc((size_t)(e->nkids + 1) * sizeof *args);
  ir_node *r = NULL;
  int ok = 1;
  for (int i = 0; i < e->nkids; i++)
    if (!(args[i] = lo(L, e->kids[i]))) ok = 0;
  if (ok) {
    if (e->deriv != DERIV_NONE) r = lower_deriv(L, e, f, e->nkids, args);
    else if (f->kind == SYM_ACTIVATION) r = lower_activation(L->S, L->ir, f, args[0], e->inverse ? -1 : e->nprimes);
    else if (f->kind == SYM_METRIC) r = lower_metric(L->S, L->ir, f, args[0], e->inverse ? METRIC_GINV : METRIC_G);
    else r = inline_body(L, f, e->nkids, args);
  }
  free(args);
  return r;
}

/* -------------------------------------------------------- builtins */

static ir_node *draw(lower *L, ast *e, const builtin *b, ir_node *a, ir_node *c) {
  double pa, pb;
  if (!ir_is_const(a, &pa) || !ir_is_const(c, &pb)) {
    fail(L, e, "the arguments of %s must be constants", b->name);
    return NULL;
  }
  if (b->kind == BI_UNIFORM && !(pa < pb)) {
    fail(L, e, "%s(a, b) needs a < b", b->name);
    return NULL;
  }
  if (b->kind == BI_NORMAL && !(pb >= 0)) {
    fail(L, e, "%s(mean, sd) needs sd >= 0", b->name);
    return NULL;
  }
  ir_shape s = L->param->decl->ndims ? L->param->shape : ir_scalar_shape();
  size_t n = (size_t)ir_shape_size(s);
  double *d = new_buffer(L, n);
  for (size_t i = 0; i < n; i++)
    d[i] = b->kind == BI_UNIFORM ? gsl_ran_flat(L->rng, pa, pb) : pa + gsl_ran_gaussian_ziggurat(L->rng, pb);
  if (s.kind == IR_SCALAR) return ir_const(L->ir, d[0]);
  return buffer_node(L, d, s);
}

static ir_node *read_csv(lower *L, ast *e, ir_node *colarg) {
  double *data;
  int rows, cols;
  char **header = NULL, *err = NULL;
  if (csv_load(e->kids[0]->name, e->src->name, &data, &rows, &cols, &header, &err)) {
    fail(L, e, "%s", err);
    free(err);
    return NULL;
  }
  int col = 0;
  if (e->nkids == 2) {
    if (e->kids[1]->kind == AST_STR) {
      for (int j = 0; j < cols; j++)
        if (header && strcmp(header[j], e->kids[1]->name) == 0) col = j + 1;
    } else {
      double v = 0;
      ir_is_const(colarg, &v);
      col = (int)v;
    }
  }
  for (int j = 0; header && j < cols; j++) free(header[j]);
  free(header);
  ir_node *r;
  if (col) {
    double *d = new_buffer(L, (size_t)rows);
    for (int i = 0; i < rows; i++) d[i] = data[(size_t)i * cols + (col - 1)];
    r = buffer_node(L, d, ir_vector_shape(rows));
  } else {
    double *d = new_buffer(L, (size_t)rows * cols);
    memcpy(d, data, (size_t)rows * cols * sizeof *d);
    r = buffer_node(L, d, cols == 1 ? ir_vector_shape(rows) : ir_matrix_shape(rows, cols));
  }
  free(data);
  return r;
}

static ir_node *lower_builtin(lower *L, ast *e, const builtin *b) {
  if (b->kind == BI_FISHER) {
    ir_node *v[FISHER_MAX_ARGS];
    for (int i = 1; i < e->nkids; i++)
      if (!(v[i - 1] = lo(L, e->kids[i]))) return NULL;
    return fisher_lower(L->S, L->ir, e, e->nkids - 1, v);
  }
  if (b->kind >= BI_W2) return distexpr_lower(L->S, L->ir, e, b);
  if (b->kind >= BI_GEODESIC) {
    ir_node *v[4] = { NULL, NULL, NULL, NULL };
    for (int i = 1; i < e->nkids && i < 4; i++)
      if (!(v[i] = lo(L, e->kids[i]))) return NULL;
    if (b->kind == BI_GEODESIC || b->kind == BI_BREGMAN) return special_lower(L->S, L->ir, e, b, v);
    return special_eval(L->S, L->ir, e, b, v);
  }
  ir_node *a[3] = { NULL, NULL, NULL };
  for (int i = 0; i < e->nkids && i < 3; i++) {
    if (b->kind == BI_CSV && e->kids[i]->kind == AST_STR) continue;
    if (!(a[i] = lo(L, e->kids[i]))) return NULL;
  }
  ir_ctx *ir = L->ir;
  switch (b->kind) {
  case BI_FN1: return ir_fn(ir, b->fn, a[0]);
  case BI_MINMAX: return b->is_max ? ir_max(ir, a[0], a[1]) : ir_min(ir, a[0], a[1]);
  case BI_SUM: return ir_sum(ir, a[0]);
  case BI_MEAN: return ir_div(ir, ir_sum(ir, a[0]), ir_const(ir, ir_shape_size(a[0]->shape)));
  case BI_DOT: return ir_dot(ir, a[0], a[1]);
  case BI_NORM2: return ir_dot(ir, a[0], a[0]);
  case BI_NORM: return ir_fn(ir, IR_SQRT, ir_dot(ir, a[0], a[0]));
  case BI_DIAG: return ir_diag(ir, a[0]);
  case BI_TRANSPOSE: return ir_transpose(ir, a[0]);
  case BI_OUTER: return ir_outer(ir, a[0], a[1]);
  case BI_EYE: {
    double n = 0;
    ir_is_const(a[0], &n);
    return ir_diag(ir, ir_bcast(ir, one(L), ir_vector_shape((int)n)));
  }
  case BI_LINSPACE: {
    /* a + (b - a) k/(n - 1), with the last point b exactly */
    double n = 0;
    ir_is_const(a[2], &n);
    ir_node **el = hnn_xmalloc((size_t)n * sizeof *el), *w = ir_sub(ir, a[1], a[0]);
    for (int k = 0; k < (int)n; k++)
      el[k] = k == (int)n - 1 ? a[1] : ir_add(ir, a[0], ir_mul(ir, w, ir_const(ir, k / (n - 1))));
    ir_node *v = ir_pack(ir, ir_vector_shape((int)n), el);
    free(el);
    return v;
  }
  case BI_UNIFORM: case BI_NORMAL: return draw(L, e, b, a[0], a[1]);
  case BI_CSV: return read_csv(L, e, a[1]);
  default:
    fail(L, e, "'%s' cannot be used here", b->name);
    return NULL;
  }
}

/* ------------------------------------------------------ expressions */

static ir_node *lower_index(lower *L, ast *e) {
  ir_node *base = lo(L, e->kids[0]);
  if (!base) return NULL;
  int idx[2] = { 0, 0 };
  for (int k = 0; k < e->nkids - 1; k++) {
    ir_node *i = lo(L, e->kids[k + 1]);
    double v;
    if (!i) return NULL;
    if (!ir_is_const(i, &v) || v != floor(v)) {
      fail(L, e->kids[k + 1], "%s", "an index must be a constant whole number");
      return NULL;
    }
    int n = k ? base->shape.cols : base->shape.rows;
    if (v < 1 || v > n) {
      char msg[80];
      snprintf(msg, sizeof msg, "index %g out of range 1..%d", v, n);
      fail(L, e->kids[k + 1], "%s", msg);
      return NULL;
    }
    idx[k] = (int)v - 1;
  }
  return ir_index(L->ir, base, idx[0], idx[1]);
}

static ir_node *lower_vector(lower *L, ast *e) {
  int n = e->nkids;
  ir_node **el = hnn_xmalloc((size_t)n * sizeof *el);
  for (int i = 0; i < n; i++)
    if (!(el[i] = lo(L, e->kids[i]))) {
      free(el);
      return NULL;
    }
  ir_node *r;
  if (el[0]->shape.kind == IR_SCALAR) {
    r = ir_pack(L->ir, ir_vector_shape(n), el);
  } else {
    int m = el[0]->shape.rows;
    ir_node **s = hnn_xmalloc((size_t)n * m * sizeof *s);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < m; j++) s[i * m + j] = ir_index(L->ir, el[i], j, 0);
    r = ir_pack(L->ir, ir_matrix_shape(n, m), s);
    free(s);
  }
  free(el);
  return r;
}

static ir_node *binop_node(lower *L, ast *e, ir_node *a, ir_node *b, int i);

/* Operands fold left to right (a + b + c is one node with three kids). */
static ir_node *lower_binop(lower *L, ast *e) {
  ir_node *r = lo(L, e->kids[0]);
  for (int i = 1; r && i < e->nkids; i++) {
    ir_node *b = lo(L, e->kids[i]);
    r = b ? binop_node(L, e, r, b, i) : NULL;
  }
  return r;
}

static ir_node *binop_node(lower *L, ast *e, ir_node *a, ir_node *b, int i) {
  ir_ctx *ir = L->ir;
  switch (e->op) {
  case '+': return ir_add(ir, a, b);
  case '-': return ir_sub(ir, a, b);
  case '/':
    if (ir_is_zero(b)) {
      fail(L, e->kids[i], "%s", "division by zero (the divisor is always 0)");
      return NULL;
    }
    return ir_div(ir, a, b);
  case '^': return ir_pow(ir, a, b);
  default:
    if (a->shape.kind == IR_MATRIX && b->shape.kind == IR_VECTOR) return ir_matvec(ir, a, b);
    if (a->shape.kind == IR_MATRIX && b->shape.kind == IR_MATRIX) return ir_matmul(ir, a, b);
    return ir_mul(ir, a, b);
  }
}

static ir_node *lower_name(lower *L, ast *e) {
  if (L->inv_value && strcmp(e->name, "x") == 0) return L->inv_value;
  binding *b = lookup(L, e->name);
  if (b) return b->node ? b->node : ir_const(L->ir, b->size);
  sym *s = state_lookup(L->S, e->name);
  if (s && s->kind == SYM_PARAM) return param_node(L, s);
  if (strcmp(e->name, "pi") == 0) return ir_const(L->ir, M_PI);
  if (strcmp(e->name, "e") == 0) return ir_const(L->ir, M_E);
  fail(L, e, "'%s' cannot be used here", e->name);
  return NULL;
}

static ir_node *lo_kind(lower *L, ast *e) {
  switch (e->kind) {
  case AST_NUM: return ir_const(L->ir, e->num);
  case AST_NAME: return lower_name(L, e);
  case AST_NEG: {
    ir_node *a = lo(L, e->kids[0]);
    return a ? ir_neg(L->ir, a) : NULL;
  }
  case AST_BINOP: return lower_binop(L, e);
  case AST_INDEX: return lower_index(L, e);
  case AST_VECTOR: return lower_vector(L, e);
  case AST_CALL: {
    sym *f = state_lookup(L->S, e->name);
    if (f && f->kind != SYM_PARAM) return lower_user_call(L, e, f);
    const builtin *b = builtin_find(e->name);
    if (b) return lower_builtin(L, e, b);
    fail(L, e, "'%s' cannot be called here", e->name);
    return NULL;
  }
  default:
    fail(L, e, "%s", "not an expression");
    return NULL;
  }
}

/* The checker caps values of known size; a size-generic body gets its sizes
** only here, so cap them again (rows*cols is an int in ir_shape_size).  Kept
** out of lo(), whose frame is on the path of every recursion. */
static __attribute__((noinline)) ir_node *too_big(lower *L, ast *e, ir_node *r) {
  char msg[80];
  snprintf(msg, sizeof msg, "%.0f", (double)r->shape.rows * (double)r->shape.cols);
  fail(L, e, "this value would hold %s numbers; the limit is 100000000", msg);
  return NULL;
}

/* Calls are inlined, so lowering recurses as deep as the expressions nested
** along a chain of calls (f calls g calls h ...), however long the chain.
** The parser caps one expression (AST_MAX_DEPTH); this caps the sum, so a
** long chain is an error, not a stack overflow.  The count is per thread,
** as the stack is, and spans the nested lowerings of activations and metrics. */
static _Thread_local int lower_depth;

static __attribute__((noinline)) ir_node *too_deep(lower *L, ast *e) {
  diag_error(&L->S->diags, e->src, e->loc,
             "calls nested too deeply: more than %d levels of expressions, counting the bodies of the "
             "functions called (each call is expanded in place)", LOWER_MAX_DEPTH);
  return NULL;
}

static ir_node *lo(lower *L, ast *e) {
  if (lower_depth >= LOWER_MAX_DEPTH) return too_deep(L, e);
  lower_depth++;
  ir_node *r = lo_kind(L, e);
  lower_depth--;
  if (r && (double)r->shape.rows * (double)r->shape.cols > 1e8) return too_big(L, e, r);
  return r;
}

/* ------------------------------------------------------- activations */

/* Invert y = body(u) by peeling one operation at a time, when u occurs once
** on the path; NULL when some step has no rule (the caller goes numeric). */
static ir_node *invert_rules(ir_ctx *ir, ir_node *body, ir_node *u, ir_node *y) {
  ir_node *n = body, *t = y;
  for (int guard = 0; n != u && guard < 10000; guard++) {
    if (n->nargs == 0) return NULL;
    if (n->op == IR_FN1) {
      ir_fn1 inv;
      switch (n->fn) {
      case IR_EXP: inv = IR_LOG; break;
      case IR_LOG: inv = IR_EXP; break;
      case IR_TANH: inv = IR_ATANH; break;
      case IR_ATANH: inv = IR_TANH; break;
      case IR_SINH: inv = IR_ASINH; break;
      case IR_ASINH: inv = IR_SINH; break;
      case IR_LOG1P: inv = IR_EXPM1; break;
      case IR_EXPM1: inv = IR_LOG1P; break;
      case IR_ATAN: inv = IR_TAN; break;
      case IR_TAN: inv = IR_ATAN; break;
      case IR_SIN: inv = IR_ASIN; break;
      case IR_ASIN: inv = IR_SIN; break;
      case IR_SQRT:
        t = ir_mul(ir, t, t);
        n = n->a[0];
        continue;
      default: return NULL;
      }
      t = ir_fn(ir, inv, t);
      n = n->a[0];
      continue;
    }
    if (n->op == IR_NEG) {
      t = ir_neg(ir, t);
      n = n->a[0];
      continue;
    }
    if (n->nargs != 2) return NULL;
    int left = ir_depends(n->a[0], u), right = ir_depends(n->a[1], u);
    if (left == right) return NULL;
    ir_node *k = left ? n->a[1] : n->a[0];
    switch (n->op) {
    case IR_ADD: t = ir_sub(ir, t, k); break;
    case IR_SUB: t = left ? ir_add(ir, t, k) : ir_sub(ir, k, t); break;
    case IR_MUL: t = ir_div(ir, t, k); break;
    case IR_DIV: t = left ? ir_mul(ir, t, k) : ir_div(ir, k, t); break;
    case IR_POW:
      if (left) t = ir_pow(ir, t, ir_div(ir, ir_const(ir, 1.0), k));
      else t = ir_div(ir, ir_fn(ir, IR_LOG, t), ir_fn(ir, IR_LOG, k));
      break;
    default: return NULL;
    }
    n = left ? n->a[0] : n->a[1];
  }
  return n == u ? t : NULL;
}

ir_node *lower_inline(hnn_state *S, ir_ctx *ir, sym *f, int nargs, ir_node **args) {
  lower L;
  memset(&L, 0, sizeof L);
  L.S = S;
  L.ir = ir;
  ir_node *r = inline_body(&L, f, nargs, args);
  free(L.b);
  return r;
}

static ir_node *act_body(hnn_state *S, ir_ctx *ir, sym *a, ir_node *u) {
  return lower_inline(S, ir, a, 1, &u);
}

ir_node *lower_activation(hnn_state *S, ir_ctx *ir, sym *a, ir_node *arg, int deriv) {
  if (deriv == 0) return act_body(S, ir, a, arg);
  if (deriv > 0) {
    ir_node *u = ir_var(ir, arg->shape, "u");
    ir_node *d = act_body(S, ir, a, u);
    ir_node *ones = arg->shape.kind == IR_SCALAR ? ir_const(ir, 1.0) : ir_bcast(ir, ir_const(ir, 1.0), arg->shape);
    for (int k = 0; d && k < deriv; k++) d = diff_jvp(ir, d, 1, &u, &ones);
    return d ? ir_subst(ir, d, 1, &u, &arg) : NULL;
  }
  ast *inv = a->decl->kids[2];
  if (inv) {
    lower L;
    memset(&L, 0, sizeof L);
    L.S = S;
    L.ir = ir;
    L.frame = 0;
    L.inv_value = arg;
    ir_node *r = lo(&L, inv);
    free(L.b);
    return r;
  }
  ir_node *u = ir_var(ir, arg->shape, "u"), *y = ir_var(ir, arg->shape, "y");
  ir_node *body = act_body(S, ir, a, u);
  if (!body) return NULL;
  ir_node *r = invert_rules(ir, body, u, y);
  if (r) return ir_subst(ir, r, 1, &y, &arg);
  ir_node *su = ir_var(ir, ir_scalar_shape(), "u");
  ir_node *sbody = act_body(S, ir, a, su);
  return sbody ? ir_invert(ir, sbody, su, arg) : NULL;
}

/* ------------------------------------------------------------ metrics */

/* The metric as G = diag(w) when diagonal (*diag = w), else the matrix. */
static ir_node *metric_matrix(hnn_state *S, ir_ctx *ir, sym *m, ir_node *x, ir_node **diagw) {
  *diagw = NULL;
  switch (m->mform) {
  case MET_EUCLIDEAN:
    *diagw = ir_bcast(ir, ir_const(ir, 1.0), x->shape);
    return ir_diag(ir, *diagw);
  case MET_HOPFIELD: {
    sym *a = state_lookup(S, m->mact);
    ir_node *u = a ? lower_activation(S, ir, a, x, -1) : NULL;
    ir_node *sp = u ? lower_activation(S, ir, a, u, 1) : NULL;
    if (!sp) return NULL;
    *diagw = ir_div(ir, ir_const(ir, 1.0), sp);
    return ir_diag(ir, *diagw);
  }
  default: {
    ir_node *g = lower_inline(S, ir, m, 1, &x);
    if (g && g->op == IR_DIAG) *diagw = g->a[0];
    return g;
  }
  }
}

static ir_node *metric_inverse(ir_ctx *ir, ir_node *g, ir_node *w, ir_node **winv) {
  if (w) {
    *winv = ir_div(ir, ir_const(ir, 1.0), w);
    return ir_diag(ir, *winv);
  }
  *winv = NULL;
  return ir_spdinv(ir, g);
}

int lower_metric_is_diagonal(hnn_state *S, sym *m, int n) {
  if (m->mform != MET_EXPLICIT) return 1;
  ir_ctx *ir = ir_ctx_new();
  ir_node *w, *x = ir_var(ir, ir_vector_shape(n), "x");
  ir_node *g = metric_matrix(S, ir, m, x, &w);
  int diag = g && w;
  ir_ctx_free(ir);
  return diag;
}

ir_node *lower_metric(hnn_state *S, ir_ctx *ir, sym *m, ir_node *x, metric_part part) {
  ir_node *w, *winv;
  if (part == METRIC_DIAG || part == METRIC_INV_DIAG) {
    ir_node *g = metric_matrix(S, ir, m, x, &w);
    if (!g) return NULL;
    if (!w) {
      diag_plain(&S->diags, "metric '%s' is not diagonal", m->name);
      return NULL;
    }
    return part == METRIC_DIAG ? w : ir_div(ir, ir_const(ir, 1.0), w);
  }
  if (part != METRIC_DIVGINV) {
    ir_node *g = metric_matrix(S, ir, m, x, &w);
    if (!g || part == METRIC_G) return g;
    return metric_inverse(ir, g, w, &winv);
  }
  ir_node *xv = ir_var(ir, x->shape, "x");
  ir_node *g = metric_matrix(S, ir, m, xv, &w);
  if (!g) return NULL;
  ir_node *ginv = metric_inverse(ir, g, w, &winv);
  ir_node *div;
  if (winv) {
    div = diff_jacobian_diag(ir, winv, xv);
  } else {
    int n = x->shape.rows;
    div = ir_zeros(ir, x->shape);
    ir_node **el = hnn_xmalloc((size_t)n * sizeof *el);
    for (int j = 0; j < n; j++) {
      for (int i = 0; i < n; i++) el[i] = ir_const(ir, i == j ? 1.0 : 0.0);
      ir_node *e = ir_pack(ir, x->shape, el);
      div = ir_add(ir, div, ir_matvec(ir, diff_jvp(ir, ginv, 1, &xv, &e), e));
    }
    free(el);
  }
  return ir_subst(ir, div, 1, &xv, &x);
}

/* ------------------------------------------------------- flow fields */

/* The part of vector v from offset off that fills a formal of shape sh. */
static ir_node *formal_part(ir_ctx *ir, ir_node *v, int off, ir_shape sh, int whole) {
  if (whole) return v;
  if (sh.kind == IR_SCALAR) return ir_index(ir, v, off, 0);
  int m = ir_shape_size(sh);
  ir_node **el = hnn_xmalloc((size_t)m * sizeof *el);
  for (int k = 0; k < m; k++) el[k] = ir_index(ir, v, off + k, 0);
  ir_node *r = ir_pack(ir, sh, el);
  free(el);
  return r;
}

ir_node *lower_flow_field(hnn_state *S, ir_ctx *ir, sym *f, int nsize, sym *a, sym *m, ir_node *y) {
  ir_node **vars = NULL, *body = NULL;
  int nv = 0;
  if (lower_callable(S, ir, f, nsize, &vars, &nv, &body)) {
    free(vars);
    return NULL;
  }
  ir_node *x = a ? lower_activation(S, ir, a, y, 0) : y;
  ir_node *ginv = m ? lower_metric(S, ir, m, y, METRIC_INV_DIAG) : NULL;
  ir_node *r = NULL;
  if (x && (!m || ginv)) {
    ir_node **g = hnn_xcalloc((size_t)nv + 1, sizeof *g), **part = hnn_xcalloc((size_t)nv + 1, sizeof *part);
    diff_grad(ir, body, nv, vars, g);
    int whole = nv == 1 && vars[0]->shape.kind == IR_VECTOR;
    for (int i = 0, off = 0; i < nv; off += ir_shape_size(vars[i]->shape), i++)
      part[i] = formal_part(ir, x, off, vars[i]->shape, whole);
    r = ir_subst(ir, whole ? g[0] : ir_concat(ir, nv, g), nv, vars, part);
    if (ginv) r = ir_mul(ir, ginv, r);
    r = ir_neg(ir, r);
    free(g);
    free(part);
  }
  free(vars);
  return r;
}

/* --------------------------------------------------------- entry points */

ir_node *lower_expr(hnn_state *S, ir_ctx *ir, ast *e) {
  lower L;
  memset(&L, 0, sizeof L);
  L.S = S;
  L.ir = ir;
  ir_node *r = lo(&L, e);
  free(L.b);
  return r;
}

ir_node *lower_param(hnn_state *S, ir_ctx *ir, sym *p, gsl_rng *rng, double ***bufs, int *nbufs) {
  lower L;
  memset(&L, 0, sizeof L);
  L.S = S;
  L.ir = ir;
  L.param = p;
  L.rng = rng;
  L.bufs = bufs;
  L.nbufs = nbufs;
  ir_node *r = lo(&L, p->override ? p->override : p->decl->kids[p->decl->ndims]);
  free(L.b);
  return r;
}

int lower_callable(hnn_state *S, ir_ctx *ir, sym *f, int n, ir_node ***vars, int *nvars, ir_node **body) {
  const sig *s = &f->sig;
  if (s->ngen > 1 || (s->ngen == 1 && n <= 0)) {
    diag_plain(&S->diags, "'%s' has %d free size%s (%s%s); give the size when looking it up", f->name, s->ngen,
               s->ngen == 1 ? "" : "s", s->ngen ? s->gen_name[0] : "", s->ngen > 1 ? ", ..." : "");
    return 1;
  }
  if (s->ngen == 1 && n < s->gen_min[0]) {
    diag_plain(&S->diags, "'%s' needs %s >= %d, got %d", f->name, s->gen_name[0], s->gen_min[0], n);
    return 1;
  }
  if (s->ngen == 0 && n > 0 && f->kind != SYM_ACTIVATION && f->kind != SYM_METRIC) {
    int fixed = 0;
    for (int i = 0; i < s->nformals; i++) fixed += s->formal[i].kind == TY_VECTOR ? s->formal[i].r.val : 0;
    if (s->nformals == 1 && s->formal[0].kind == TY_VECTOR && fixed != n) {
      diag_plain(&S->diags, "'%s' takes vectors of length %d, not %d", f->name, fixed, n);
      return 1;
    }
  }
  int nf = s->nformals;
  ir_node **v = hnn_xmalloc((size_t)(nf + 1) * sizeof *v);
  for (int i = 0; i < nf; i++) {
    ty t = s->formal[i];
    int r = t.r.val > 0 ? t.r.val : n, c = t.c.val > 0 ? t.c.val : n;
    ir_shape sh = t.kind == TY_SCALAR ? ir_scalar_shape() : t.kind == TY_VECTOR ? ir_vector_shape(r) : ir_matrix_shape(r, c);
    v[i] = ir_var(ir, sh, f->decl->kids[i]->name);
  }
  *body = lower_inline(S, ir, f, nf, v);
  *vars = v;
  *nvars = nf;
  return *body ? 0 : 1;
}
