/*
** cgen.c — C source for tcc from IR (see cgen.h for the generated ABI).
**
** One function is generated in three passes over ir_topo's serial order:
**   0. use counts, consumers, and which scalars are read inside loops;
**   1. a storage decision per node: scalar leaves and single-use scalars are
**      inlined into their consumer's expression (tcc does no optimisation, so
**      every avoided store/load counts), other scalars become `double` temps;
**      vectors and matrices live in `ws` (or directly in `out` when they are
**      an output), except single-use elementwise ones, which are fused into
**      their consumer's loop, small elementwise ones read only at constant
**      indices, whose elements are built where they are read (saving tcc a
**      store, a loop and a load per element), and transposes only fed to
**      MATVEC, which become a transposed loop;
**   2. emission.  Inlining and fusion are capped in size, so deep chains
**      become a sequence of temps and no string or recursion grows with depth.
** IR_INVERT bodies become static helpers (value, derivative, bracketing
** Newton solver) shared by every function of the unit (cgen_invert.c).
*/
#include "cgen.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "jit.h"
#include "cgen_impl.h"
#include "strbuf.h"

#define INLINE_MAX 40   /* nodes per inlined expression */
#define SCALARS_MAX 8   /* a vector read only by element is not stored up to this size */

cg_unit *cg_unit_new(void) { return hnn_xcalloc(1, sizeof(cg_unit)); }

void cg_unit_free(cg_unit *u) {
  if (!u) return;
  sb_free(&u->helpers);
  sb_free(&u->funcs);
  free(u->source);
  for (int k = 0; k < u->nfns; k++) free(u->fns[k].name);
  free(u->fns);
  for (int k = 0; k < u->nparams; k++) free(u->pnames[k]);
  free(u->pnames);
  free(u->pdata);
  for (int k = 0; k < u->ninv; k++) free(u->inv_keys[k]);
  free(u->inv_keys);
  for (int k = 0; k < u->nquad; k++) free(u->quad_keys[k]);
  free(u->quad_keys);
  free(u->cur);
  free(u->binds);
  free(u->outs);
  free(u);
}

static int add_param(cg_unit *u, const char *name, const double *data) {
  for (int k = 0; k < u->nparams; k++)
    if (!strcmp(u->pnames[k], name)) return u->pdata[k] == data ? 0 : -1;
  u->pnames = hnn_xrealloc(u->pnames, (size_t)(u->nparams + 1) * sizeof *u->pnames);
  u->pdata = hnn_xrealloc(u->pdata, (size_t)(u->nparams + 1) * sizeof *u->pdata);
  u->pnames[u->nparams] = hnn_xstrdup(name);
  u->pdata[u->nparams++] = data;
  return 0;
}

int cg_unit_nparams(const cg_unit *u) { return u->nparams; }

void cg_unit_param(const cg_unit *u, int k, const char **name, const double **data) {
  *name = u->pnames[k];
  *data = u->pdata[k];
}

size_t cg_func_workspace(const cg_unit *u, const char *cname) {
  for (int k = 0; k < u->nfns; k++)
    if (!strcmp(u->fns[k].name, cname)) return u->fns[k].ws;
  return 0;
}

static void add_fn(cg_unit *u, const char *name, size_t ws) {
  u->fns = hnn_xrealloc(u->fns, (size_t)(u->nfns + 1) * sizeof *u->fns);
  u->fns[u->nfns].name = hnn_xstrdup(name);
  u->fns[u->nfns++].ws = ws;
}

/* ------------------------------------------------------------ generator */

typedef enum { K_NONE, K_LEAF, K_INLINE, K_TEMP, K_ARRAY, K_FUSED, K_BCAST, K_VTRANS } kind;

typedef struct {
  kind k;
  int uses, cons_op, cons_arg, size, off, out_idx;
  unsigned loopc : 1, root : 1, only_mv : 1, only_idx : 1;
  char *s;               /* scalar: expression or temp name; array: base symbol */
} slot;

typedef struct {
  const char *v;         /* loop index expression, or NULL */
  int k;                 /* constant offset */
} cidx;

typedef struct {
  cg_unit *u;
  ir_node **all;
  size_t n;
  int *pos;
  slot *sl;
  strbuf body, *cur;
  int ntmp, err;
  size_t ws;
  const binding *binds;
  int nbinds;
  const output *outs;
  int nouts;
} gen;


static slot *S(gen *g, const ir_node *x) { return &g->sl[g->pos[x->id]]; }
static int is_ew(ir_op op) { return op >= IR_NEG && op <= IR_QUAD; }
static int scalar(const ir_node *x) { return x->shape.kind == IR_SCALAR; }

static char *lit(double v) {
  strbuf b = STRBUF_INIT;
  if (v != v) return hnn_xstrdup("(0.0/0.0)");
  if (isinf(v)) return hnn_xstrdup(v > 0 ? "(1.0/0.0)" : "(-1.0/0.0)");
  if (v < 0) sb_putc(&b, '(');
  sb_double(&b, v);
  if (!strpbrk(b.s, ".eE")) sb_puts(&b, ".0");
  if (v < 0) sb_putc(&b, ')');
  return sb_take(&b);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  strbuf b = STRBUF_INIT;
  va_list ap;
  va_start(ap, f);
  sb_vprintf(&b, f, ap);
  va_end(ap);
  return sb_take(&b);
}

static char *arr_elem(const char *arr, int off, cidx i) {
  int k = off + i.k;
  if (!i.v) return fmt("%s[%d]", arr, k);
  return k ? fmt("%s[%s+%d]", arr, i.v, k) : fmt("%s[%s]", arr, i.v);
}

static char *new_tmp(gen *g, const char *expr) {
  char *t = fmt("t%d", g->ntmp++);
  sb_printf(g->cur, "double %s = %s;\n", t, expr);
  return t;
}

/* A name or array access: may be repeated in an expression without cost. */
static int simple(const char *s) { return !strpbrk(s, " (*/?"); }

static char *build(gen *g, ir_node *x, cidx i);
static char *pointer_to(gen *g, ir_node *x);

/* Element i of a non-scalar node, or the value of a scalar one. */
static char *elem(gen *g, ir_node *x, cidx i) {
  slot *s = S(g, x);
  switch (s->k) {
  case K_ARRAY: return arr_elem(s->s, s->off, i);
  case K_BCAST: return hnn_xstrdup(S(g, x->a[0])->s);
  case K_FUSED: return build(g, x, i);
  default: return hnn_xstrdup(s->s);
  }
}

static char *power(gen *g, char *a, double p) {
  char *r = NULL;
  if (p == 0.5) r = fmt("sqrt(%s)", a);
  else if (p == -0.5) r = fmt("(1.0/sqrt(%s))", a);
  else if (p == rint(p) && fabs(p) <= 8 && p != 0) {
    if (!simple(a)) {
      char *t = new_tmp(g, a);
      free(a);
      a = t;
    }
    strbuf b = STRBUF_INIT;
    sb_puts(&b, p < 0 ? "(1.0/(" : "(");
    for (int k = 0; k < (int)fabs(p); k++) sb_printf(&b, "%s%s", k ? "*" : "", a);
    sb_puts(&b, p < 0 ? "))" : ")");
    r = sb_take(&b);
  } else {
    char *l = lit(p);
    r = fmt("pow(%s, %s)", a, l);
    free(l);
  }
  free(a);
  return r;
}

static const char *c_fn[IR_NFN1] = {
  "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan",
  "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", NULL, "fabs", NULL, NULL, "erf"};


/* The C expression of an elementwise or scalar node at element i. */
static char *build(gen *g, ir_node *x, cidx i) {
  char *a = NULL, *b = NULL, *r = NULL;
  if (x->op == IR_INDEX) {
    cidx k = {NULL, x->a[0]->shape.kind == IR_MATRIX ? x->i * x->a[0]->shape.cols + x->j : x->i};
    return elem(g, x->a[0], k);
  }
  if (x->op == IR_GEODESIC) {
    a = pointer_to(g, x->a[0]);
    b = pointer_to(g, x->a[1]);
    r = fmt("hnn_rt_geodesic((void *)%s, %s, %s, &st)", x->name, a, b);
    free(a), free(b);
    return r;
  }
  if (x->nargs > 0) a = elem(g, x->a[0], i);
  if (x->nargs > 1 && x->op != IR_POW) b = elem(g, x->a[1], i);
  if (x->op == IR_QUAD) {
    int h = cg_quad_helper(g->u, x);
    if (h < 0) g->err = 1;
    char *p = x->bodypar ? elem(g, x->a[2], i) : hnn_xstrdup("0.0");
    r = fmt("hnn_rt_quad(hnn_qf%d, %s, %s, %s, &st)", h, a, b, p);
    free(p), free(a), free(b);
    return r;
  }
  switch (x->op) {
  case IR_NEG: r = fmt("(-%s)", a); break;
  case IR_ADD: r = fmt("(%s + %s)", a, b); break;
  case IR_SUB: r = fmt("(%s - %s)", a, b); break;
  case IR_MUL: r = fmt("(%s * %s)", a, b); break;
  case IR_DIV: r = fmt("(%s / %s)", a, b); break;
  case IR_MIN: r = fmt("fmin(%s, %s)", a, b); break;
  case IR_MAX: r = fmt("fmax(%s, %s)", a, b); break;
  case IR_POW: {
    double p;
    if (ir_is_const(x->a[1], &p)) {
      r = power(g, a, p);
      a = NULL;
    } else {
      b = elem(g, x->a[1], i);
      r = fmt("pow(%s, %s)", a, b);
    }
    break;
  }
  case IR_FN1:
    if (c_fn[x->fn]) r = fmt("%s(%s)", c_fn[x->fn], a);
    else if (x->fn == IR_SECH) r = fmt("(1.0/cosh(%s))", a);
    else if (x->fn == IR_STEP) r = fmt("(%s > 0 ? 1.0 : 0.0)", a);
    else {
      if (!simple(a)) {
        char *t = new_tmp(g, a);
        free(a);
        a = t;
      }
      r = fmt("(%s > 0 ? 1.0 : (%s < 0 ? -1.0 : 0.0))", a, a);
    }
    break;
  case IR_INVERT: {
    int h = cg_invert_helper(g->u, x);
    if (h < 0) g->err = 1;
    r = fmt("hnn_inv%d(%s, &st)", h, a);
    break;
  }
  default:
    assert(0);
  }
  free(a);
  free(b);
  return r;
}

static const binding *find_bind(gen *g, const ir_node *v) {
  for (int k = 0; k < g->nbinds; k++)
    if (g->binds[k].var == v) return &g->binds[k];
  return NULL;
}

/* Pass 0: uses, single consumer, loop-read scalars, MATVEC-only transposes. */
static void analyse(gen *g) {
  for (size_t e = 0; e < g->n; e++) S(g, g->all[e])->only_mv = S(g, g->all[e])->only_idx = 1;
  for (size_t e = 0; e < g->n; e++) {
    ir_node *x = g->all[e];
    for (int k = 0; k < x->nargs; k++) {
      slot *c = S(g, x->a[k]);
      c->uses++;
      c->cons_op = x->op;
      c->cons_arg = k;
      if (!(x->op == IR_MATVEC && k == 0)) c->only_mv = 0;
      if (x->op != IR_INDEX) c->only_idx = 0;
      if ((is_ew(x->op) && !scalar(x)) || x->op == IR_BCAST) c->loopc = 1;
    }
  }
  for (int o = 0; o < g->nouts; o++) {
    slot *s = S(g, g->outs[o].root);
    if (!s->root) s->out_idx = o;
    s->root = 1;
    s->uses++;
    s->only_mv = 0;
  }
}

static int fuse_friendly(int op, int arg) {
  return is_ew(op) || op == IR_SUM || op == IR_DOT || op == IR_INDEX || op == IR_CONCAT ||
         op == IR_DIAGOF || op == IR_DIAG || op == IR_TRANSPOSE || (op == IR_MATVEC && arg == 0);
}

/* Pass 1: storage decisions. */
static void decide(gen *g) {
  for (size_t e = 0; e < g->n && !g->err; e++) {
    ir_node *x = g->all[e];
    slot *s = S(g, x);
    if (x->op == IR_VAR) {
      const binding *b = find_bind(g, x);
      if (!b) {
        g->err = 1;
        break;
      }
      const char *arr = b->src == CG_IN ? "in" : "dir";
      if (scalar(x)) s->k = K_LEAF, s->s = fmt("%s[%d]", arr, b->off);
      else s->k = K_ARRAY, s->s = hnn_xstrdup(arr), s->off = b->off;
      continue;
    }
    if (x->op == IR_PARAM) {
      if (add_param(g->u, x->name, x->data)) g->err = 1;
      if (scalar(x)) s->k = K_LEAF, s->s = fmt("%s[0]", x->name);
      else s->k = K_ARRAY, s->s = hnn_xstrdup(x->name);
      continue;
    }
    if ((x->op == IR_INVERT && cg_invert_helper(g->u, x) < 0) || (x->op == IR_QUAD && cg_quad_helper(g->u, x) < 0)) {
      g->err = 1;
      break;
    }
    if (x->op == IR_GEODESIC && add_param(g->u, x->name, x->data)) {
      g->err = 1;
      break;
    }
    if (scalar(x)) {
      if (x->op == IR_CONST) {
        s->k = K_LEAF;
        s->s = lit(x->value);
        continue;
      }
      if (x->op == IR_INDEX && S(g, x->a[0])->k == K_ARRAY) {
        s->k = K_LEAF;
        continue;   /* its access string is made in pass 2 */
      }
      s->size = 1;
      for (int k = 0; k < x->nargs; k++) {
        slot *c = S(g, x->a[k]);
        if (c->k == K_INLINE || c->k == K_FUSED) s->size += c->size;
      }
      int stmt = x->op == IR_SUM || x->op == IR_DOT || x->op == IR_GEODESIC;
      s->k = s->uses == 1 && !s->root && !s->loopc && !stmt && s->size <= INLINE_MAX ? K_INLINE : K_TEMP;
      continue;
    }
    if (x->op == IR_BCAST) {
      s->k = K_BCAST;
      continue;
    }
    if (is_ew(x->op)) {
      s->size = 1;
      for (int k = 0; k < x->nargs; k++) {
        slot *c = S(g, x->a[k]);
        if (c->k == K_INLINE || c->k == K_FUSED) s->size += c->size;
      }
      if (s->uses == 1 && !s->root && fuse_friendly(s->cons_op, s->cons_arg) && s->size <= INLINE_MAX) {
        s->k = K_FUSED;
        continue;
      }
      /* read only element by element (each index once, by hash-consing):
      ** each element is built where it is read, a temp if read twice */
      if (s->only_idx && !s->root && ir_shape_size(x->shape) <= SCALARS_MAX) {
        s->k = K_FUSED;
        continue;
      }
    }
    if (x->op == IR_TRANSPOSE && s->only_mv) {
      s->k = K_VTRANS;
      continue;
    }
    s->k = K_ARRAY;
    if (s->root) {   /* computed in place in its (first) output slot */
      s->s = hnn_xstrdup("out");
      s->off = g->outs[s->out_idx].off;
    } else {
      s->s = hnn_xstrdup("ws");
      s->off = (int)g->ws;
      g->ws += (size_t)ir_shape_size(x->shape);
    }
  }
}

/* Open `for (int V = 0; V < n; V++) {` with its own statement buffer, so
** temps made while building the element expression land inside the loop. */
static strbuf *loop_open(gen *g, strbuf *saved[1], const char *v, int n) {
  sb_printf(&g->body, "for (int %s = 0; %s < %d; %s++) {\n", v, v, n, v);
  saved[0] = g->cur;
  strbuf *lb = hnn_xcalloc(1, sizeof *lb);
  g->cur = lb;
  return lb;
}

static void loop_close(gen *g, strbuf *saved[1], strbuf *lb, const char *tail) {
  if (lb->s) sb_puts(&g->body, lb->s);
  sb_puts(&g->body, tail);
  sb_puts(&g->body, "}\n");
  sb_free(lb);
  free(lb);
  g->cur = saved[0];
}

/* Element-by-element copy of x into dst[off + i]. */
static void copy_loop(gen *g, ir_node *x, const char *dst, int off) {
  int n = ir_shape_size(x->shape);
  strbuf *sv[1];
  strbuf *lb = loop_open(g, sv, "i", n);
  char *e = elem(g, x, (cidx){"i", 0});
  char *d = arr_elem(dst, off, (cidx){"i", 0});
  sb_printf(lb, "%s = %s;\n", d, e);
  free(d);
  free(e);
  loop_close(g, sv, lb, "");
}

static void emit_scalar(gen *g, ir_node *x, slot *s) {
  ir_node *a = x->nargs ? x->a[0] : NULL;
  if (s->k == K_LEAF) {
    if (!s->s) s->s = build(g, x, (cidx){NULL, 0});
    return;
  }
  char *e;
  if (x->op == IR_SUM || x->op == IR_DOT) {
    char *t = fmt("t%d", g->ntmp++);
    sb_printf(&g->body, "double %s = 0;\n", t);
    strbuf *sv[1];
    strbuf *lb = loop_open(g, sv, "i", ir_shape_size(a->shape));
    char *p = elem(g, a, (cidx){"i", 0});
    if (x->op == IR_DOT) {
      char *q = elem(g, x->a[1], (cidx){"i", 0});
      sb_printf(lb, "%s += %s * %s;\n", t, p, q);
      free(q);
    } else {
      sb_printf(lb, "%s += %s;\n", t, p);
    }
    free(p);
    loop_close(g, sv, lb, "");
    e = t;
  } else {
    e = build(g, x, (cidx){NULL, 0});
  }
  if (s->k == K_INLINE) {
    s->s = e;
  } else if (s->root && s->uses == 1) {
    s->s = fmt("out[%d]", g->outs[s->out_idx].off);
    sb_printf(&g->body, "%s = %s;\n", s->s, e);
    free(e);
  } else if (x->op == IR_SUM || x->op == IR_DOT) {
    s->s = e;
  } else {
    s->s = new_tmp(g, e);
    free(e);
  }
}

/* A contiguous pointer to x's values, copying into scratch when needed. */
static char *pointer_to(gen *g, ir_node *x) {
  slot *s = S(g, x);
  if (s->k == K_ARRAY) return fmt("(%s+%d)", s->s, s->off);
  int w = (int)g->ws;
  g->ws += (size_t)ir_shape_size(x->shape);
  copy_loop(g, x, "ws", w);
  return fmt("(ws+%d)", w);
}

static void emit_array(gen *g, ir_node *x, slot *s) {
  const char *D = s->s;
  int O = s->off, n = ir_shape_size(x->shape);
  ir_node *a = x->nargs ? x->a[0] : NULL, *b = x->nargs > 1 ? x->a[1] : NULL;
  strbuf *sv[1], *lb;
  char *p, *q, *d;
  switch (x->op) {
  case IR_PACK:
    for (int k = 0; k < n; k++) sb_printf(&g->body, "%s[%d] = %s;\n", D, O + k, S(g, x->a[k])->s);
    break;
  case IR_CONCAT: {
    int off = 0;
    for (int k = 0; k < x->nargs; k++) {
      if (scalar(x->a[k])) sb_printf(&g->body, "%s[%d] = %s;\n", D, O + off, S(g, x->a[k])->s);
      else copy_loop(g, x->a[k], D, O + off);
      off += ir_shape_size(x->a[k]->shape);
    }
    break;
  }
  case IR_MATVEC: {
    int r = x->shape.rows, c = a->shape.cols;
    if (S(g, a)->k == K_VTRANS) {   /* (M0')v with M0 c x r: row-wise axpy */
      ir_node *m0 = a->a[0];
      sb_printf(&g->body, "for (int i = 0; i < %d; i++) %s[i+%d] = 0;\n", r, D, O);
      lb = loop_open(g, sv, "j", c);
      p = elem(g, b, (cidx){"j", 0});
      sb_printf(lb, "int jr = j*%d;\ndouble vj = %s;\nfor (int i = 0; i < %d; i++) {\n", r, p, r);
      q = elem(g, m0, (cidx){"jr+i", 0});
      d = arr_elem(D, O, (cidx){"i", 0});
      sb_printf(lb, "%s += %s * vj;\n}\n", d, q);
      free(d);
    } else {
      lb = loop_open(g, sv, "i", r);
      sb_printf(lb, "int ic = i*%d;\ndouble acc = 0;\nfor (int j = 0; j < %d; j++) {\n", c, c);
      p = elem(g, a, (cidx){"ic+j", 0});
      q = elem(g, b, (cidx){"j", 0});
      d = arr_elem(D, O, (cidx){"i", 0});
      sb_printf(lb, "acc += %s * %s;\n}\n%s = acc;\n", p, q, d);
      free(d);
    }
    free(p);
    free(q);
    loop_close(g, sv, lb, "");
    break;
  }
  case IR_MATMUL: {
    int r = a->shape.rows, K = a->shape.cols, c = b->shape.cols;
    char *iv = fmt("i*%d+k", K), *kv = fmt("k*%d+j", c), *ov = fmt("i*%d+j", c);
    lb = loop_open(g, sv, "i", r);
    sb_printf(lb, "for (int j = 0; j < %d; j++) {\ndouble acc = 0;\nfor (int k = 0; k < %d; k++) {\n", c, K);
    p = elem(g, a, (cidx){iv, 0});
    q = elem(g, b, (cidx){kv, 0});
    d = arr_elem(D, O, (cidx){ov, 0});
    sb_printf(lb, "acc += %s * %s;\n}\n%s = acc;\n}\n", p, q, d);
    free(p), free(q), free(d), free(iv), free(kv), free(ov);
    loop_close(g, sv, lb, "");
    break;
  }
  case IR_TRANSPOSE: {
    int r = a->shape.rows, c = a->shape.cols;
    char *iv = fmt("i*%d+j", c), *ov = fmt("j*%d+i", r);
    lb = loop_open(g, sv, "i", r);
    sb_printf(lb, "for (int j = 0; j < %d; j++) {\n", c);
    p = elem(g, a, (cidx){iv, 0});
    d = arr_elem(D, O, (cidx){ov, 0});
    sb_printf(lb, "%s = %s;\n}\n", d, p);
    free(p), free(d), free(iv), free(ov);
    loop_close(g, sv, lb, "");
    break;
  }
  case IR_OUTER: {
    int r = a->shape.rows, c = b->shape.rows;
    char *ov = fmt("i*%d+j", c);
    lb = loop_open(g, sv, "i", r);
    p = elem(g, a, (cidx){"i", 0});
    sb_printf(lb, "double ui = %s;\nfor (int j = 0; j < %d; j++) {\n", p, c);
    q = elem(g, b, (cidx){"j", 0});
    d = arr_elem(D, O, (cidx){ov, 0});
    sb_printf(lb, "%s = ui * %s;\n}\n", d, q);
    free(p), free(q), free(d), free(ov);
    loop_close(g, sv, lb, "");
    break;
  }
  case IR_DIAG: {
    int m = a->shape.rows;
    char *dv = fmt("i*%d", m + 1);
    sb_printf(&g->body, "for (int i = 0; i < %d; i++) %s[i+%d] = 0;\n", n, D, O);
    lb = loop_open(g, sv, "i", m);
    p = elem(g, a, (cidx){"i", 0});
    d = arr_elem(D, O, (cidx){dv, 0});
    sb_printf(lb, "%s = %s;\n", d, p);
    free(p), free(d), free(dv);
    loop_close(g, sv, lb, "");
    break;
  }
  case IR_DIAGOF: {
    char *dv = fmt("i*%d", n + 1);
    lb = loop_open(g, sv, "i", n);
    p = elem(g, a, (cidx){dv, 0});
    d = arr_elem(D, O, (cidx){"i", 0});
    sb_printf(lb, "%s = %s;\n", d, p);
    free(p), free(d), free(dv);
    loop_close(g, sv, lb, "");
    break;
  }
  case IR_SPDINV:
    p = pointer_to(g, a);
    sb_printf(&g->body, "if (hnn_rt_spd_inverse(%s, %s+%d, %d)) st = 1;\n", p, D, O, a->shape.rows);
    free(p);
    break;
  default:   /* elementwise, materialised */
    assert(is_ew(x->op));
    lb = loop_open(g, sv, "i", n);
    p = build(g, x, (cidx){"i", 0});
    d = arr_elem(D, O, (cidx){"i", 0});
    sb_printf(lb, "%s = %s;\n", d, p);
    free(p), free(d);
    loop_close(g, sv, lb, "");
  }
}

int cg_gen_body(cg_unit *u, const binding *binds, int nbinds, const output *outs, int nouts, strbuf *code,
                size_t *ws) {
  gen g;
  memset(&g, 0, sizeof g);
  g.u = u;
  g.binds = binds, g.nbinds = nbinds, g.outs = outs, g.nouts = nouts;
  ir_node **roots = hnn_xmalloc((size_t)(nouts ? nouts : 1) * sizeof *roots);
  int maxid = 0;
  for (int o = 0; o < nouts; o++) {
    roots[o] = outs[o].root;
    if (roots[o]->id > maxid) maxid = roots[o]->id;
  }
  g.all = ir_topo(nouts, roots, &g.n);
  free(roots);
  g.pos = hnn_xmalloc(((size_t)maxid + 1) * sizeof *g.pos);
  for (size_t e = 0; e < g.n; e++) g.pos[g.all[e]->id] = (int)e;
  g.sl = hnn_xcalloc(g.n ? g.n : 1, sizeof *g.sl);
  g.cur = &g.body;
  analyse(&g);
  decide(&g);
  for (size_t e = 0; e < g.n && !g.err; e++) {
    ir_node *x = g.all[e];
    slot *s = S(&g, x);
    if (x->op == IR_VAR || x->op == IR_PARAM) continue;
    if (scalar(x)) emit_scalar(&g, x, s);
    else if (s->k == K_ARRAY) emit_array(&g, x, s);
  }
  for (int o = 0; o < nouts && !g.err; o++) {
    ir_node *x = outs[o].root;
    slot *s = S(&g, x);
    if (s->out_idx == o && ((scalar(x) && s->k == K_TEMP && s->uses == 1) ||
                            (!scalar(x) && s->k == K_ARRAY && !strcmp(s->s, "out"))))
      continue;   /* computed in place */
    if (scalar(x)) sb_printf(&g.body, "out[%d] = %s;\n", outs[o].off, s->s);
    else copy_loop(&g, x, "out", outs[o].off);
  }
  for (size_t e = 0; e < g.n; e++) free(g.sl[e].s);
  free(g.sl);
  free(g.pos);
  free(g.all);
  if (!g.err && g.body.s) sb_puts(code, g.body.s);
  sb_free(&g.body);
  *ws = g.ws;
  return g.err ? -1 : 0;
}

/* ------------------------------------------------------------ functions */

int cg_func_begin(cg_unit *u, const char *cname) {
  if (u->cur || !cname || !*cname) return -1;
  for (int k = 0; k < u->nfns; k++)
    if (!strcmp(u->fns[k].name, cname)) return -1;
  u->cur = hnn_xstrdup(cname);
  u->nbinds = u->nouts = 0;
  return 0;
}

void cg_func_bind(cg_unit *u, ir_node *var, cg_source src, int offset) {
  u->binds = hnn_xrealloc(u->binds, (size_t)(u->nbinds + 1) * sizeof *u->binds);
  u->binds[u->nbinds++] = (binding){var, src, offset};
}

void cg_func_output(cg_unit *u, ir_node *root, int offset) {
  u->outs = hnn_xrealloc(u->outs, (size_t)(u->nouts + 1) * sizeof *u->outs);
  u->outs[u->nouts++] = (output){root, offset};
}

static void func_head(strbuf *b, const char *name) {
  sb_printf(b,
            "int %s(const double *in, const double *dir, double *out, double *ws) {\n"
            "int st = 0;\n(void)in; (void)dir; (void)out; (void)ws;\n",
            name);
}

int cg_func_end(cg_unit *u) {
  if (!u->cur) return -1;
  strbuf code = STRBUF_INIT;
  size_t ws = 0;
  int rc = cg_gen_body(u, u->binds, u->nbinds, u->outs, u->nouts, &code, &ws);
  if (!rc) {
    func_head(&u->funcs, u->cur);
    if (code.s) sb_puts(&u->funcs, code.s);
    sb_puts(&u->funcs, "return st;\n}\n");
    add_fn(u, u->cur, ws);
  }
  sb_free(&code);
  free(u->cur);
  u->cur = NULL;
  return rc;
}

int cg_jacobian_loop(cg_unit *u, const char *cname, const char *jvp_name, int n_in, int n_out) {
  int found = 0;
  for (int k = 0; k < u->nfns; k++) found |= !strcmp(u->fns[k].name, jvp_name);
  if (!found || u->cur || n_in <= 0 || n_out <= 0) return -1;
  for (int k = 0; k < u->nfns; k++)
    if (!strcmp(u->fns[k].name, cname)) return -1;
  size_t w = cg_func_workspace(u, jvp_name);
  /* Column k of the Jacobian is the JVP along e_k: write it as row k of the
  ** transpose (contiguous), then transpose (in place when square). */
  int square = n_in == n_out;
  func_head(&u->funcs, cname);
  if (square) sb_printf(&u->funcs, "double *e = ws + %zu, *jt = out;\n", w);
  else sb_printf(&u->funcs, "double *e = ws + %zu, *jt = ws + %zu;\n", w, w + (size_t)n_in);
  sb_printf(&u->funcs,
            "for (int k = 0; k < %d; k++) e[k] = 0;\n"
            "for (int k = 0; k < %d; k++) {\n"
            "  e[k] = 1;\n  st |= %s(in, e, jt + k * %d, ws);\n  e[k] = 0;\n}\n",
            n_in, n_in, jvp_name, n_out);
  if (square)
    sb_printf(&u->funcs,
              "for (int i = 0; i < %d; i++)\n  for (int j = i + 1; j < %d; j++) {\n"
              "    double t = out[i*%d+j]; out[i*%d+j] = out[j*%d+i]; out[j*%d+i] = t;\n  }\n",
              n_out, n_out, n_out, n_out, n_out, n_out);
  else
    sb_printf(&u->funcs,
              "for (int k = 0; k < %d; k++)\n  for (int i = 0; i < %d; i++) out[i*%d+k] = jt[k*%d+i];\n",
              n_in, n_out, n_in, n_out);
  sb_puts(&u->funcs, "return st != 0;\n}\n");
  add_fn(u, cname, w + (size_t)n_in + (square ? 0 : (size_t)n_in * n_out));
  return 0;
}

const char *cg_unit_source(cg_unit *u) {
  strbuf b = STRBUF_INIT;
  sb_puts(&b, jit_prelude());
  /* Params by address, not as extern symbols: this libtcc reaches undefined
  ** data through 32-bit PC-relative relocations, which silently read the
  ** wrong place when the data lies more than 2 GiB from the JIT code; and it
  ** truncates a 64-bit literal address dereferenced directly.  A constant in
  ** the module's own data holds the address instead. */
  for (int k = 0; k < u->nparams; k++)
    sb_printf(&b, "static const unsigned long long %s_addr = 0x%llxULL;\n#define %s ((double *)%s_addr)\n",
              u->pnames[k], (unsigned long long)(uintptr_t)u->pdata[k], u->pnames[k], u->pnames[k]);
  if (u->helpers.s) sb_puts(&b, u->helpers.s);
  if (u->funcs.s) sb_puts(&b, u->funcs.s);
  free(u->source);
  u->source = sb_take(&b);
  return u->source;
}
