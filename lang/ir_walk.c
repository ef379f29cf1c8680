/*
** ir_walk.c — whole-DAG queries over the IR: topological order, substitution,
** dependence, elementwise-ness, node counts, and the text rendering.
**
** All walks are iterative over ir_topo's serial order (children have smaller
** serials than parents), so arbitrarily deep expressions are safe.
*/
#include "ir.h"

#include <assert.h>
#include <stdlib.h>

#include "strbuf.h"

static int is_scalar(const ir_node *n) { return n->shape.kind == IR_SCALAR; }

/* --------------------------------------------------------------- queries */

static int by_serial(const void *x, const void *y) {
  int a = (*(ir_node *const *)x)->id, b = (*(ir_node *const *)y)->id;
  return (a > b) - (a < b);
}

ir_node **ir_topo(int nroots, ir_node *const *roots, size_t *count) {
  int maxid = -1;
  for (int r = 0; r < nroots; r++)
    if (roots[r] && roots[r]->id > maxid) maxid = roots[r]->id;
  unsigned char *seen = hnn_xcalloc((size_t)maxid + 2, 1);
  size_t n = 0, cap = 64, sp = 0, scap = 64;
  ir_node **out = hnn_xmalloc(cap * sizeof *out);
  ir_node **stack = hnn_xmalloc(scap * sizeof *stack);
  for (int r = 0; r < nroots; r++) {
    if (!roots[r] || seen[roots[r]->id]) continue;
    seen[roots[r]->id] = 1;
    stack[sp++] = roots[r];
    while (sp) {
      ir_node *x = stack[--sp];
      if (n == cap) out = hnn_xrealloc(out, (cap *= 2) * sizeof *out);
      out[n++] = x;
      for (int k = 0; k < x->nargs; k++) {
        ir_node *y = x->a[k];
        if (seen[y->id]) continue;
        seen[y->id] = 1;
        if (sp == scap) stack = hnn_xrealloc(stack, (scap *= 2) * sizeof *stack);
        stack[sp++] = y;
      }
    }
  }
  free(stack);
  free(seen);
  qsort(out, n, sizeof *out, by_serial);
  *count = n;
  return out;
}

size_t ir_count(int nroots, ir_node **roots) {
  size_t n;
  free(ir_topo(nroots, roots, &n));
  return n;
}

int ir_depends(const ir_node *root, const ir_node *var) {
  if (root == var) return 1;
  if (var->id > root->id) return 0;
  size_t n;
  ir_node *r = (ir_node *)root;
  ir_node **all = ir_topo(1, &r, &n);
  int found = 0;
  for (size_t k = 0; k < n && !found; k++) found = all[k] == var;
  free(all);
  return found;
}

ir_node *ir_rebuild(ir_ctx *c, const ir_node *n, ir_node **k) {
  switch (n->op) {
  case IR_CONST: case IR_VAR: case IR_PARAM: return (ir_node *)n;
  case IR_BCAST: return is_scalar(k[0]) ? ir_bcast(c, k[0], n->shape) : k[0];
  case IR_PACK: return ir_pack(c, n->shape, k);
  case IR_NEG: return ir_neg(c, k[0]);
  case IR_ADD: return ir_add(c, k[0], k[1]);
  case IR_SUB: return ir_sub(c, k[0], k[1]);
  case IR_MUL: return ir_mul(c, k[0], k[1]);
  case IR_DIV: return ir_div(c, k[0], k[1]);
  case IR_POW: return ir_pow(c, k[0], k[1]);
  case IR_MIN: return ir_min(c, k[0], k[1]);
  case IR_MAX: return ir_max(c, k[0], k[1]);
  case IR_FN1: return ir_fn(c, n->fn, k[0]);
  case IR_INVERT: return ir_invert(c, n->body, n->bodyvar, k[0]);
  case IR_QUAD: return ir_quad(c, n->body, n->bodyvar, n->bodypar, k[0], k[1], k[2]);
  case IR_INDEX: return is_scalar(k[0]) ? k[0] : ir_index(c, k[0], n->i, n->j);
  case IR_SUM: return ir_sum(c, k[0]);
  case IR_DOT: return ir_dot(c, k[0], k[1]);
  case IR_MATVEC: return ir_matvec(c, k[0], k[1]);
  case IR_MATMUL: return ir_matmul(c, k[0], k[1]);
  case IR_TRANSPOSE: return ir_transpose(c, k[0]);
  case IR_OUTER: return ir_outer(c, k[0], k[1]);
  case IR_DIAG: return ir_diag(c, k[0]);
  case IR_DIAGOF: return ir_diagof(c, k[0]);
  case IR_SPDINV: return ir_spdinv(c, k[0]);
  case IR_CONCAT: return ir_concat(c, n->nargs, k);
  case IR_GEODESIC: return ir_geodesic(c, n->name, n->data, k[0], k[1]);
  case IR_NOPS: break;
  }
  assert(0);
  return NULL;
}

ir_node *ir_subst(ir_ctx *c, ir_node *root, int nf, ir_node **from, ir_node **to) {
  size_t n;
  ir_node **all = ir_topo(1, &root, &n);
  ir_node **map = hnn_xcalloc((size_t)root->id + 1, sizeof *map);
  ir_node **kids = NULL;
  int capk = 0;
  for (int f = 0; f < nf; f++)
    if (from[f]->id <= root->id) map[from[f]->id] = to[f];
  for (size_t e = 0; e < n; e++) {
    ir_node *x = all[e];
    if (map[x->id]) continue;
    if (x->nargs > capk) kids = hnn_xrealloc(kids, (size_t)(capk = x->nargs) * sizeof *kids);
    int changed = 0;
    for (int k = 0; k < x->nargs; k++) {
      kids[k] = map[x->a[k]->id];
      changed |= kids[k] != x->a[k];
    }
    map[x->id] = changed ? ir_rebuild(c, x, kids) : x;
  }
  ir_node *res = map[root->id];
  free(kids);
  free(map);
  free(all);
  return res;
}

int ir_elementwise_in(const ir_node *root, const ir_node *var) {
  if (ir_shape_size(var->shape) == 1) return ir_shape_size(root->shape) == 1 || !ir_depends(root, var);
  size_t n;
  ir_node *r = (ir_node *)root;
  ir_node **all = ir_topo(1, &r, &n);
  /* cls: 0 independent of var, 1 elementwise in var (var's shape), 2 otherwise */
  unsigned char *cls = hnn_xcalloc((size_t)root->id + 1, 1);
  for (size_t e = 0; e < n; e++) {
    ir_node *x = all[e];
    int m = 0;
    for (int k = 0; k < x->nargs; k++)
      if (cls[x->a[k]->id] > m) m = cls[x->a[k]->id];
    if (x == var) m = 1;
    else if (m == 1) {
      int ew = x->op >= IR_NEG && x->op <= IR_QUAD;
      if (x->op == IR_CONCAT && x->nargs == 1) ew = 1;
      for (int k = 0; k < x->nargs && ew; k++)
        if (cls[x->a[k]->id] == 1 && !ir_shape_eq(x->a[k]->shape, var->shape)) ew = 0;
      if (!ew) m = 2;
    }
    cls[x->id] = (unsigned char)m;
  }
  int res = cls[root->id] <= 1;
  free(cls);
  free(all);
  return res;
}

/* ------------------------------------------------------------- rendering */

static const char *fn1_names[IR_NFN1] = {
  "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan",
  "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sech", "abs", "sign", "step", "erf"};

const char *ir_fn1_name(ir_fn1 f) { return f < IR_NFN1 ? fn1_names[f] : "?"; }

static const char *op_names[IR_NOPS] = {
  "const", "var", "param", "bcast", "pack", "neg", "+", "-", "*", "/", "^", "min", "max",
  "fn", "invert", "quad", "index", "sum", "dot", "matvec", "matmul", "transpose", "outer", "diag",
  "diagof", "spdinv", "concat", "geodesic"};

/* Iterative pre-order printer; the output is capped because a DAG with much
** sharing prints as an exponentially large tree. */
char *ir_to_string(const ir_node *root) {
  enum { CAP = 1 << 20 };
  typedef struct { const ir_node *n; int k; } frame;
  strbuf b = STRBUF_INIT;
  size_t sp = 0, scap = 64;
  frame *st = hnn_xmalloc(scap * sizeof *st);
  st[sp++] = (frame){root, 0};
  while (sp) {
    frame *f = &st[sp - 1];
    const ir_node *x = f->n;
    if (b.len > CAP) {
      sb_puts(&b, "...");
      break;
    }
    int infix = x->op >= IR_ADD && x->op <= IR_POW;
    if (f->k == 0) {
      switch (x->op) {
      case IR_CONST: sb_double(&b, x->value); sp--; continue;
      case IR_VAR:
        if (x->name) sb_puts(&b, x->name);
        else sb_printf(&b, "v%d", x->id);
        sp--;
        continue;
      case IR_PARAM: sb_puts(&b, x->name); sp--; continue;
      case IR_NEG: sb_puts(&b, "(-"); break;
      case IR_FN1: sb_printf(&b, "%s(", fn1_names[x->fn]); break;
      case IR_INDEX: break;
      default:
        if (infix) sb_putc(&b, '(');
        else sb_printf(&b, "%s(", op_names[x->op]);
      }
    } else if (f->k < x->nargs) {
      sb_puts(&b, infix ? (x->op == IR_ADD ? " + " : x->op == IR_SUB ? " - " : x->op == IR_MUL ? "*"
                           : x->op == IR_DIV ? "/" : "^")
                        : ", ");
    }
    if (f->k < x->nargs) {
      const ir_node *child = x->a[f->k++];
      if (sp == scap) st = hnn_xrealloc(st, (scap *= 2) * sizeof *st);
      st[sp++] = (frame){child, 0};
      continue;
    }
    if (x->op == IR_INDEX) {
      if (x->a[0]->shape.kind == IR_MATRIX) sb_printf(&b, "[%d,%d]", x->i, x->j);
      else sb_printf(&b, "[%d]", x->i);
    } else {
      sb_putc(&b, ')');
    }
    sp--;
  }
  free(st);
  return sb_take(&b);
}
