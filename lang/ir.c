/*
** ir.c — the hash-consed expression DAG and its local simplifier.
**
** Every constructor first simplifies (constant folding, neutral elements,
** PACK/BCAST distribution, structural identities) and then looks the node up
** in the ctx's hash table, so equal expressions are one node.  Nodes carry a
** serial (ir_node.id) in creation order; children are always older than their
** parents, so sorting by serial is a topological order: every whole-DAG walk
** here (and in diff.c, cgen.c) is iterative and cannot overflow the C stack.
** Whole-DAG walks (ir_topo, ir_subst, ...) are in ir_walk.c.
** Nodes live in 64 KiB-aligned chunks whose header names the ctx, which lets
** ir_ctx_of find the ctx from any node (cgen needs it for IR_INVERT bodies).
*/
#include "ir.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

#define CHUNK_SIZE 65536

typedef struct chunk {
  ir_ctx *ctx;
  struct chunk *next;
  size_t used;
} chunk;

struct ir_ctx {
  chunk *chunks;
  void **blocks;             /* children arrays */
  size_t nblocks, capblocks;
  char **names;              /* interned names */
  size_t nnames;
  ir_node **buckets;
  size_t nbuckets, count;
  int nserial;
};

static size_t hdr_size(void) {
  return (sizeof(chunk) + 15) & ~(size_t)15;
}

ir_ctx *ir_ctx_new(void) {
  ir_ctx *c = hnn_xcalloc(1, sizeof *c);
  c->nbuckets = 1024;
  c->buckets = hnn_xcalloc(c->nbuckets, sizeof *c->buckets);
  return c;
}

void ir_ctx_free(ir_ctx *c) {
  if (!c) return;
  for (chunk *k = c->chunks, *nx; k; k = nx) {
    nx = k->next;
    free(k);
  }
  for (size_t i = 0; i < c->nblocks; i++) free(c->blocks[i]);
  free(c->blocks);
  for (size_t i = 0; i < c->nnames; i++) free(c->names[i]);
  free(c->names);
  free(c->buckets);
  free(c);
}

ir_ctx *ir_ctx_of(const ir_node *n) {
  return ((chunk *)((uintptr_t)n & ~(uintptr_t)(CHUNK_SIZE - 1)))->ctx;
}

static void *block(ir_ctx *c, size_t n) {
  if (c->nblocks == c->capblocks) {
    c->capblocks = c->capblocks ? 2 * c->capblocks : 256;
    c->blocks = hnn_xrealloc(c->blocks, c->capblocks * sizeof *c->blocks);
  }
  return c->blocks[c->nblocks++] = hnn_xmalloc(n);
}

static ir_node *node_alloc(ir_ctx *c) {
  size_t sz = (sizeof(ir_node) + 15) & ~(size_t)15;
  if (!c->chunks || c->chunks->used + sz > CHUNK_SIZE) {
    chunk *k = aligned_alloc(CHUNK_SIZE, CHUNK_SIZE);
    if (!k) {
      fputs("hnn: error: out of memory (IR arena)\n", stderr);
      exit(3);
    }
    k->ctx = c;
    k->next = c->chunks;
    k->used = hdr_size();
    c->chunks = k;
  }
  ir_node *n = (ir_node *)((char *)c->chunks + c->chunks->used);
  c->chunks->used += sz;
  memset(n, 0, sizeof *n);
  n->id = c->nserial++;
  return n;
}

static const char *intern(ir_ctx *c, const char *s) {
  if (!s) return NULL;
  for (size_t i = 0; i < c->nnames; i++)
    if (!strcmp(c->names[i], s)) return c->names[i];
  c->names = hnn_xrealloc(c->names, (c->nnames + 1) * sizeof *c->names);
  return c->names[c->nnames++] = hnn_xstrdup(s);
}

/* ---------------------------------------------------------------- shapes */

ir_shape ir_scalar_shape(void) { return (ir_shape){IR_SCALAR, 1, 1}; }
ir_shape ir_vector_shape(int n) { return (ir_shape){IR_VECTOR, n, 1}; }
ir_shape ir_matrix_shape(int r, int c) { return (ir_shape){IR_MATRIX, r, c}; }
int ir_shape_eq(ir_shape a, ir_shape b) {
  return a.kind == b.kind && a.rows == b.rows && a.cols == b.cols;
}
int ir_shape_size(ir_shape s) { return s.rows * s.cols; }
static int is_scalar(const ir_node *n) { return n->shape.kind == IR_SCALAR; }

/* ---------------------------------------------------------- hash-consing */

static unsigned mix(unsigned h, uint64_t v) {
  h ^= (unsigned)(v ^ (v >> 32));
  return h * 16777619u + 0x9e3779b9u;
}

static unsigned hash_of(const ir_node *t) {
  uint64_t bits;
  memcpy(&bits, &t->value, sizeof bits);
  unsigned h = 2166136261u;
  h = mix(h, (uint64_t)t->op * 131 + (uint64_t)t->shape.kind);
  h = mix(h, (uint64_t)t->shape.rows * 65599 + (uint64_t)t->shape.cols);
  h = mix(h, bits);
  h = mix(h, (uint64_t)(t->i * 31 + t->j) ^ ((uint64_t)t->fn << 20));
  h = mix(h, (uintptr_t)t->data ^ (uintptr_t)t->name ^ (uintptr_t)t->body ^ (uintptr_t)t->bodyvar ^
             (uintptr_t)t->bodypar);
  for (int k = 0; k < t->nargs; k++) h = mix(h, (uint64_t)t->a[k]->id);
  /* multiplication only moves bits upwards: mix the high bits back down,
  ** since buckets are chosen by the low bits */
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}

static int same(const ir_node *x, const ir_node *t) {
  if (x->op != t->op || !ir_shape_eq(x->shape, t->shape) || x->nargs != t->nargs ||
      memcmp(&x->value, &t->value, sizeof x->value) || x->i != t->i || x->j != t->j ||
      x->fn != t->fn || x->data != t->data || x->name != t->name || x->body != t->body ||
      x->bodyvar != t->bodyvar || x->bodypar != t->bodypar)
    return 0;
  for (int k = 0; k < t->nargs; k++)
    if (x->a[k] != t->a[k]) return 0;
  return 1;
}

static void rehash(ir_ctx *c) {
  size_t nb = c->nbuckets * 4;
  ir_node **b = hnn_xcalloc(nb, sizeof *b);
  for (size_t i = 0; i < c->nbuckets; i++)
    for (ir_node *n = c->buckets[i], *nx; n; n = nx) {
      nx = n->next_in_bucket;
      n->next_in_bucket = b[n->hash % nb];
      b[n->hash % nb] = n;
    }
  free(c->buckets);
  c->buckets = b;
  c->nbuckets = nb;
}

/* Find or create the node described by the template t. */
static ir_node *mk(ir_ctx *c, ir_node *t) {
  t->hash = hash_of(t);
  for (ir_node *n = c->buckets[t->hash % c->nbuckets]; n; n = n->next_in_bucket)
    if (n->hash == t->hash && same(n, t)) return n;
  ir_node *n = node_alloc(c);
  int id = n->id;
  *n = *t;
  n->id = id;
  if (t->nargs) {
    n->a = block(c, (size_t)t->nargs * sizeof *n->a);
    memcpy(n->a, t->a, (size_t)t->nargs * sizeof *n->a);
  } else {
    n->a = NULL;
  }
  if (++c->count > 2 * c->nbuckets) rehash(c);
  n->next_in_bucket = c->buckets[n->hash % c->nbuckets];
  c->buckets[n->hash % c->nbuckets] = n;
  return n;
}

static ir_node tmpl(ir_op op, ir_shape s, int nargs, ir_node **a) {
  ir_node t;
  memset(&t, 0, sizeof t);
  t.op = op;
  t.shape = s;
  t.nargs = nargs;
  t.a = a;
  return t;
}

static ir_node *mk1(ir_ctx *c, ir_op op, ir_shape s, ir_node *x) {
  ir_node *a[1] = {x};
  ir_node t = tmpl(op, s, 1, a);
  return mk(c, &t);
}

static ir_node *mk2(ir_ctx *c, ir_op op, ir_shape s, ir_node *x, ir_node *y) {
  ir_node *a[2] = {x, y};
  ir_node t = tmpl(op, s, 2, a);
  return mk(c, &t);
}

/* ---------------------------------------------------------------- leaves */

ir_node *ir_const(ir_ctx *c, double v) {
  ir_node t = tmpl(IR_CONST, ir_scalar_shape(), 0, NULL);
  t.value = v;
  return mk(c, &t);
}

ir_node *ir_var(ir_ctx *c, ir_shape s, const char *debug_name) {
  ir_node *n = node_alloc(c);
  n->op = IR_VAR;
  n->shape = s;
  n->name = intern(c, debug_name);
  return n;   /* never hash-consed: each call is a distinct variable */
}

ir_node *ir_param(ir_ctx *c, const char *name, const double *data, ir_shape s) {
  ir_node t = tmpl(IR_PARAM, s, 0, NULL);
  t.name = intern(c, name);
  t.data = data;
  return mk(c, &t);
}

ir_node *ir_bcast(ir_ctx *c, ir_node *x, ir_shape s) {
  if (s.kind == IR_SCALAR) return x;
  if (!is_scalar(x)) {
    assert(ir_shape_eq(x->shape, s));
    return x;
  }
  return mk1(c, IR_BCAST, s, x);
}

static ir_node *bcast_to(ir_ctx *c, ir_node *x, ir_shape s) {
  return ir_shape_eq(x->shape, s) ? x : ir_bcast(c, x, s);
}

ir_node *ir_zeros(ir_ctx *c, ir_shape s) { return ir_bcast(c, ir_const(c, 0), s); }

ir_node *ir_pack(ir_ctx *c, ir_shape s, ir_node **x) {
  int n = ir_shape_size(s);
  assert(s.kind != IR_SCALAR || n == 1);
  if (s.kind == IR_SCALAR) return x[0];
  int all_same = 1, all_index = 1;
  ir_node *src = x[0]->op == IR_INDEX ? x[0]->a[0] : NULL;
  for (int k = 0; k < n; k++) {
    assert(is_scalar(x[k]));
    if (x[k] != x[0]) all_same = 0;
    if (!src || x[k]->op != IR_INDEX || x[k]->a[0] != src ||
        x[k]->i * (s.kind == IR_MATRIX ? src->shape.cols : 1) + (s.kind == IR_MATRIX ? x[k]->j : 0) != k)
      all_index = 0;
  }
  if (all_same) return ir_bcast(c, x[0], s);
  if (all_index && ir_shape_eq(src->shape, s)) return src;
  ir_node t = tmpl(IR_PACK, s, n, x);
  return mk(c, &t);
}

/* ----------------------------------------------------------- elementwise */

int ir_is_const(const ir_node *n, double *v) {
  if (n->op == IR_BCAST) n = n->a[0];
  if (n->op != IR_CONST) return 0;
  if (v) *v = n->value;
  return 1;
}

int ir_const_values(const ir_node *n, double *v) {
  double c;
  if (ir_is_const(n, &c)) {
    for (int k = 0, m = ir_shape_size(n->shape); k < m; k++) v[k] = c;
    return 1;
  }
  if (n->op != IR_PACK) return 0;
  for (int k = 0; k < n->nargs; k++)
    if (!ir_is_const(n->a[k], &v[k])) return 0;
  return 1;
}

int ir_is_zero(const ir_node *n) {
  double v;
  return ir_is_const(n, &v) && v == 0;
}

static double fn1_eval(ir_fn1 f, double x) {
  switch (f) {
  case IR_EXP: return exp(x);
  case IR_LOG: return log(x);
  case IR_LOG1P: return log1p(x);
  case IR_EXPM1: return expm1(x);
  case IR_SQRT: return sqrt(x);
  case IR_SIN: return sin(x);
  case IR_COS: return cos(x);
  case IR_TAN: return tan(x);
  case IR_ASIN: return asin(x);
  case IR_ACOS: return acos(x);
  case IR_ATAN: return atan(x);
  case IR_SINH: return sinh(x);
  case IR_COSH: return cosh(x);
  case IR_TANH: return tanh(x);
  case IR_ASINH: return asinh(x);
  case IR_ACOSH: return acosh(x);
  case IR_ATANH: return atanh(x);
  case IR_SECH: return 1 / cosh(x);
  case IR_ABS: return fabs(x);
  case IR_SIGN: return (double)((x > 0) - (x < 0));
  case IR_STEP: return x > 0 ? 1.0 : 0.0;
  case IR_ERF: return erf(x);
  case IR_NFN1: break;
  }
  return NAN;
}

static double bin_eval(ir_op op, double a, double b) {
  switch (op) {
  case IR_ADD: return a + b;
  case IR_SUB: return a - b;
  case IR_MUL: return a * b;
  case IR_DIV: return a / b;
  case IR_POW: return pow(a, b);
  case IR_MIN: return fmin(a, b);
  case IR_MAX: return fmax(a, b);
  default: return NAN;
  }
}

static ir_node *ew2(ir_ctx *c, ir_op op, ir_node *a, ir_node *b);

/* PACK op PACK / PACK op scalar, elementwise into a new PACK. */
static ir_node *pack_map2(ir_ctx *c, ir_op op, ir_node *a, ir_node *b, ir_shape s) {
  int n = ir_shape_size(s);
  ir_node **k = hnn_xmalloc((size_t)n * sizeof *k);
  for (int e = 0; e < n; e++)
    k[e] = ew2(c, op, is_scalar(a) ? a : a->a[e], is_scalar(b) ? b : b->a[e]);
  ir_node *r = ir_pack(c, s, k);
  free(k);
  return r;
}

/* Is x >= 0 wherever it is defined, by its form (squares and their sums)? */
static int nonneg_form(const ir_node *x) {
  double v;
  switch (x->op) {
  case IR_CONST: return x->value >= 0;
  case IR_DOT: return x->a[0] == x->a[1];
  case IR_MUL: return x->a[0] == x->a[1] || (nonneg_form(x->a[0]) && nonneg_form(x->a[1]));
  case IR_POW: return ir_is_const(x->a[1], &v) && v == 2 * floor(v / 2);
  case IR_ADD: return nonneg_form(x->a[0]) && nonneg_form(x->a[1]);
  case IR_SUM: case IR_BCAST: return nonneg_form(x->a[0]);
  case IR_FN1: return x->fn == IR_EXP || x->fn == IR_SQRT;
  default: return 0;
  }
}

/* sqrt(q)^2 = q for q >= 0 by form: |x - y|^2 written norm(x - y)^2 then has
** the derivative 2 (x - y) everywhere, where the chain rule through sqrt
** gives 0 * inf = NaN at x = y.  Only for such q, so a sqrt of a negative
** number stays an error. */
static ir_node *square_of_root(const ir_node *a) {
  return a->op == IR_FN1 && a->fn == IR_SQRT && nonneg_form(a->a[0]) ? a->a[0] : NULL;
}

static ir_node *ew2(ir_ctx *c, ir_op op, ir_node *a, ir_node *b) {
  ir_shape s = is_scalar(a) ? b->shape : a->shape;
  assert(is_scalar(a) || is_scalar(b) || ir_shape_eq(a->shape, b->shape));
  double va = 0, vb = 0;
  int ca = ir_is_const(a, &va), cb = ir_is_const(b, &vb);
  if (ca && cb) return bcast_to(c, ir_const(c, bin_eval(op, va, vb)), s);
  /* a broadcast operand is just its scalar: the op broadcasts by itself */
  if (a->op == IR_BCAST) a = a->a[0];
  if (b->op == IR_BCAST) b = b->a[0];
  if (s.kind != IR_SCALAR && (a->op == IR_PACK || b->op == IR_PACK) &&
      (a->op == IR_PACK || is_scalar(a)) && (b->op == IR_PACK || is_scalar(b)))
    return pack_map2(c, op, a, b, s);
  switch (op) {
  case IR_ADD:
    if (ca && va == 0) return bcast_to(c, b, s);
    if (cb && vb == 0) return bcast_to(c, a, s);
    if (b->op == IR_NEG) return ew2(c, IR_SUB, a, b->a[0]);
    if (a->op == IR_NEG) return ew2(c, IR_SUB, b, a->a[0]);
    break;
  case IR_SUB:
    if (cb && vb == 0) return bcast_to(c, a, s);
    if (ca && va == 0) return bcast_to(c, ir_neg(c, b), s);
    if (a == b) return ir_zeros(c, s);
    if (b->op == IR_NEG) return ew2(c, IR_ADD, a, b->a[0]);
    break;
  case IR_MUL:
    if ((ca && va == 0) || (cb && vb == 0)) return ir_zeros(c, s);
    if (ca && va == 1) return bcast_to(c, b, s);
    if (cb && vb == 1) return bcast_to(c, a, s);
    if (ca && va == -1) return bcast_to(c, ir_neg(c, b), s);
    if (cb && vb == -1) return bcast_to(c, ir_neg(c, a), s);
    if (a->op == IR_NEG) return ir_neg(c, ew2(c, IR_MUL, a->a[0], b));
    if (b->op == IR_NEG) return ir_neg(c, ew2(c, IR_MUL, a, b->a[0]));
    if (a == b && square_of_root(a)) return bcast_to(c, square_of_root(a), s);
    /* c1 * (c2 * x) -> (c1 c2) * x keeps derivative chains short */
    if (cb) {
      ir_node *t = a; a = b; b = t;
      double tv = va; va = vb; vb = tv;
      ca = 1, cb = 0;
    }
    if (ca && b->op == IR_MUL) {
      double w;
      if (ir_is_const(b->a[0], &w)) return ew2(c, IR_MUL, ir_const(c, va * w), b->a[1]);
      if (ir_is_const(b->a[1], &w)) return ew2(c, IR_MUL, ir_const(c, va * w), b->a[0]);
    }
    break;
  case IR_DIV:
    if (cb && vb == 1) return bcast_to(c, a, s);
    if (cb && vb == -1) return bcast_to(c, ir_neg(c, a), s);
    if (ca && va == 0) return ir_zeros(c, s);
    break;
  case IR_POW:
    if (cb && vb == 1) return bcast_to(c, a, s);
    if (cb && vb == 2 && square_of_root(a)) return bcast_to(c, square_of_root(a), s);
    if ((cb && vb == 0) || (ca && va == 1)) return bcast_to(c, ir_const(c, 1), s);
    break;
  case IR_MIN:
  case IR_MAX:
    if (a == b) return bcast_to(c, a, s);
    break;
  default:
    assert(0);
  }
  if (s.kind != IR_SCALAR && is_scalar(a) && is_scalar(b))
    return ir_bcast(c, ew2(c, op, a, b), s);
  if ((op == IR_ADD || op == IR_MUL || op == IR_MIN || op == IR_MAX) && a->id > b->id) {
    ir_node *t = a;
    a = b;
    b = t;
  }
  return mk2(c, op, s, a, b);
}

ir_node *ir_add(ir_ctx *c, ir_node *a, ir_node *b) { return ew2(c, IR_ADD, a, b); }
ir_node *ir_sub(ir_ctx *c, ir_node *a, ir_node *b) { return ew2(c, IR_SUB, a, b); }
ir_node *ir_mul(ir_ctx *c, ir_node *a, ir_node *b) { return ew2(c, IR_MUL, a, b); }
ir_node *ir_div(ir_ctx *c, ir_node *a, ir_node *b) { return ew2(c, IR_DIV, a, b); }
ir_node *ir_pow(ir_ctx *c, ir_node *a, ir_node *b) { return ew2(c, IR_POW, a, b); }
ir_node *ir_min(ir_ctx *c, ir_node *a, ir_node *b) { return ew2(c, IR_MIN, a, b); }
ir_node *ir_max(ir_ctx *c, ir_node *a, ir_node *b) { return ew2(c, IR_MAX, a, b); }

/* Apply a unary constructor to each scalar of a PACK. */
static ir_node *pack_map1(ir_ctx *c, ir_node *p, ir_node *(*f)(ir_ctx *, ir_node *, const void *),
                          const void *arg) {
  ir_node **k = hnn_xmalloc((size_t)p->nargs * sizeof *k);
  for (int e = 0; e < p->nargs; e++) k[e] = f(c, p->a[e], arg);
  ir_node *r = ir_pack(c, p->shape, k);
  free(k);
  return r;
}

static ir_node *neg_cb(ir_ctx *c, ir_node *x, const void *arg) {
  (void)arg;
  return ir_neg(c, x);
}

ir_node *ir_neg(ir_ctx *c, ir_node *a) {
  if (a->op == IR_CONST) return ir_const(c, -a->value);
  if (a->op == IR_BCAST) return ir_bcast(c, ir_neg(c, a->a[0]), a->shape);
  if (a->op == IR_NEG) return a->a[0];
  if (a->op == IR_PACK) return pack_map1(c, a, neg_cb, NULL);
  if (a->op == IR_SUB) return ir_sub(c, a->a[1], a->a[0]);
  /* -(c x) = (-c) x exactly: the sign goes into the constant */
  if (a->op == IR_MUL && ir_is_const(a->a[0], NULL)) return ir_mul(c, ir_neg(c, a->a[0]), a->a[1]);
  if (a->op == IR_MUL && ir_is_const(a->a[1], NULL)) return ir_mul(c, a->a[0], ir_neg(c, a->a[1]));
  return mk1(c, IR_NEG, a->shape, a);
}

static ir_node *fn_cb(ir_ctx *c, ir_node *x, const void *arg) {
  return ir_fn(c, *(const ir_fn1 *)arg, x);
}

ir_node *ir_fn(ir_ctx *c, ir_fn1 f, ir_node *a) {
  if (a->op == IR_CONST) return ir_const(c, fn1_eval(f, a->value));
  if (a->op == IR_BCAST) return ir_bcast(c, ir_fn(c, f, a->a[0]), a->shape);
  if (a->op == IR_PACK) return pack_map1(c, a, fn_cb, &f);
  if ((f == IR_ABS || f == IR_SIGN) && a->op == IR_FN1 && a->fn == f) return a;   /* idempotent */
  ir_node *x[1] = {a};
  ir_node t = tmpl(IR_FN1, a->shape, 1, x);
  t.fn = f;
  return mk(c, &t);
}

typedef struct { ir_node *body, *bodyvar; } inv_arg;

static ir_node *inv_cb(ir_ctx *c, ir_node *x, const void *arg) {
  const inv_arg *ia = arg;
  return ir_invert(c, ia->body, ia->bodyvar, x);
}

ir_node *ir_invert(ir_ctx *c, ir_node *body, ir_node *bodyvar, ir_node *y) {
  assert(is_scalar(body) && bodyvar->op == IR_VAR && is_scalar(bodyvar));
  if (y->op == IR_BCAST) return ir_bcast(c, ir_invert(c, body, bodyvar, y->a[0]), y->shape);
  if (y->op == IR_PACK) {
    inv_arg ia = {body, bodyvar};
    return pack_map1(c, y, inv_cb, &ia);
  }
  if (body == bodyvar) return y;
  ir_node *x[1] = {y};
  ir_node t = tmpl(IR_INVERT, y->shape, 1, x);
  t.body = body;
  t.bodyvar = bodyvar;
  return mk(c, &t);
}

ir_node *ir_quad(ir_ctx *c, ir_node *body, ir_node *v, ir_node *p, ir_node *lo, ir_node *hi, ir_node *par) {
  assert(is_scalar(body) && v->op == IR_VAR && is_scalar(v) && (!p || (p->op == IR_VAR && is_scalar(p))));
  if (!p) par = lo;
  assert(ir_shape_eq(lo->shape, hi->shape) && ir_shape_eq(lo->shape, par->shape));
  ir_node *x[3] = {lo, hi, par};
  ir_node t = tmpl(IR_QUAD, lo->shape, 3, x);
  t.body = body;
  t.bodyvar = v;
  t.bodypar = p;
  return mk(c, &t);
}

ir_node *ir_geodesic(ir_ctx *c, const char *name, const void *ctx, ir_node *x, ir_node *y) {
  assert(x->shape.kind == IR_VECTOR && ir_shape_eq(x->shape, y->shape));
  ir_node *a[2] = {x, y};
  ir_node t = tmpl(IR_GEODESIC, ir_scalar_shape(), 2, a);
  t.data = ctx;
  t.name = intern(c, name);
  return mk(c, &t);
}

/* ------------------------------------------------------------- structure */

static int flat_index(const ir_node *a, int i, int j) {
  return a->shape.kind == IR_MATRIX ? i * a->shape.cols + j : i;
}

/* Scalar element k (flattened) of a, simplified without deep recursion. */
static ir_node *elem_of(ir_ctx *c, ir_node *a, int k) {
  if (a->shape.kind == IR_MATRIX) return ir_index(c, a, k / a->shape.cols, k % a->shape.cols);
  if (a->shape.kind == IR_VECTOR) return ir_index(c, a, k, 0);
  return a;
}

static int cheap_to_index(const ir_node *x) {
  return is_scalar(x) || x->op == IR_VAR || x->op == IR_PARAM || x->op == IR_PACK ||
         x->op == IR_BCAST;
}

ir_node *ir_index(ir_ctx *c, ir_node *a, int i, int j) {
  assert(!is_scalar(a));
  if (a->shape.kind == IR_VECTOR) j = 0;
  int k = flat_index(a, i, j);
  assert(k >= 0 && k < ir_shape_size(a->shape));
  switch (a->op) {
  case IR_BCAST: return a->a[0];
  case IR_PACK: return a->a[k];
  case IR_TRANSPOSE: return ir_index(c, a->a[0], j, i);
  case IR_DIAG: return i == j ? ir_index(c, a->a[0], i, 0) : ir_const(c, 0);
  case IR_DIAGOF: return ir_index(c, a->a[0], i, i);
  case IR_OUTER: return ir_mul(c, ir_index(c, a->a[0], i, 0), ir_index(c, a->a[1], j, 0));
  case IR_CONCAT:
    for (int p = 0; p < a->nargs; p++) {
      int sz = ir_shape_size(a->a[p]->shape);
      if (k < sz) return elem_of(c, a->a[p], k);
      k -= sz;
    }
    assert(0);
    break;
  case IR_NEG:
  case IR_FN1:
    if (cheap_to_index(a->a[0])) {
      ir_node *x = elem_of(c, a->a[0], k);
      return a->op == IR_NEG ? ir_neg(c, x) : ir_fn(c, a->fn, x);
    }
    break;
  case IR_ADD: case IR_SUB: case IR_MUL: case IR_DIV: case IR_POW: case IR_MIN: case IR_MAX:
    /* distribute one level only when both sides index to leaves: no recursion */
    if (cheap_to_index(a->a[0]) && cheap_to_index(a->a[1]))
      return ew2(c, a->op, elem_of(c, a->a[0], k), elem_of(c, a->a[1], k));
    break;
  default:
    break;
  }
  ir_node *x[1] = {a};
  ir_node t = tmpl(IR_INDEX, ir_scalar_shape(), 1, x);
  t.i = i;
  t.j = j;
  return mk(c, &t);
}

static ir_node *sum_list(ir_ctx *c, int n, ir_node **x) {
  ir_node *s = x[0];
  for (int k = 1; k < n; k++) s = ir_add(c, s, x[k]);
  return s;
}

ir_node *ir_sum(ir_ctx *c, ir_node *a) {
  if (is_scalar(a)) return a;
  if (a->op == IR_BCAST) return ir_mul(c, a->a[0], ir_const(c, ir_shape_size(a->shape)));
  if (a->op == IR_PACK) return sum_list(c, a->nargs, a->a);
  if (a->op == IR_NEG) return ir_neg(c, ir_sum(c, a->a[0]));
  if (a->op == IR_CONCAT) {
    ir_node *s = ir_const(c, 0);
    for (int p = 0; p < a->nargs; p++) s = ir_add(c, s, ir_sum(c, a->a[p]));
    return s;
  }
  return mk1(c, IR_SUM, ir_scalar_shape(), a);
}

ir_node *ir_dot(ir_ctx *c, ir_node *a, ir_node *b) {
  assert(a->shape.kind == IR_VECTOR && ir_shape_eq(a->shape, b->shape));
  if (ir_is_zero(a) || ir_is_zero(b)) return ir_const(c, 0);
  if (a->op == IR_BCAST) return ir_mul(c, a->a[0], ir_sum(c, b));
  if (b->op == IR_BCAST) return ir_mul(c, b->a[0], ir_sum(c, a));
  if (a->op == IR_PACK || b->op == IR_PACK) {
    int n = a->shape.rows;
    ir_node **t = hnn_xmalloc((size_t)n * sizeof *t);
    for (int k = 0; k < n; k++) t[k] = ir_mul(c, ir_index(c, a, k, 0), ir_index(c, b, k, 0));
    ir_node *s = sum_list(c, n, t);
    free(t);
    return s;
  }
  if (a->id > b->id) {
    ir_node *t = a;
    a = b;
    b = t;
  }
  return mk2(c, IR_DOT, ir_scalar_shape(), a, b);
}

ir_node *ir_matvec(ir_ctx *c, ir_node *m, ir_node *v) {
  assert(m->shape.kind == IR_MATRIX && v->shape.kind == IR_VECTOR && m->shape.cols == v->shape.rows);
  ir_shape s = ir_vector_shape(m->shape.rows);
  if (ir_is_zero(m) || ir_is_zero(v)) return ir_zeros(c, s);
  if (m->op == IR_DIAG) return ir_mul(c, m->a[0], v);
  if (m->op == IR_BCAST) return ir_bcast(c, ir_mul(c, m->a[0], ir_sum(c, v)), s);
  if (m->op == IR_PACK) {
    int r = m->shape.rows, cc = m->shape.cols;
    ir_node **rows = hnn_xmalloc((size_t)r * sizeof *rows);
    ir_node **t = hnn_xmalloc((size_t)cc * sizeof *t);
    for (int i = 0; i < r; i++) {
      for (int j = 0; j < cc; j++) t[j] = ir_mul(c, m->a[i * cc + j], ir_index(c, v, j, 0));
      rows[i] = sum_list(c, cc, t);
    }
    ir_node *res = ir_pack(c, s, rows);
    free(rows);
    free(t);
    return res;
  }
  return mk2(c, IR_MATVEC, s, m, v);
}

ir_node *ir_matmul(ir_ctx *c, ir_node *a, ir_node *b) {
  assert(a->shape.kind == IR_MATRIX && b->shape.kind == IR_MATRIX && a->shape.cols == b->shape.rows);
  ir_shape s = ir_matrix_shape(a->shape.rows, b->shape.cols);
  if (ir_is_zero(a) || ir_is_zero(b)) return ir_zeros(c, s);
  return mk2(c, IR_MATMUL, s, a, b);
}

ir_node *ir_transpose(ir_ctx *c, ir_node *m) {
  assert(m->shape.kind == IR_MATRIX);
  ir_shape s = ir_matrix_shape(m->shape.cols, m->shape.rows);
  switch (m->op) {
  case IR_TRANSPOSE: return m->a[0];
  case IR_BCAST: return ir_bcast(c, m->a[0], s);
  case IR_DIAG: return m;
  case IR_OUTER: return ir_outer(c, m->a[1], m->a[0]);
  case IR_PACK: {
    int r = m->shape.rows, cc = m->shape.cols;
    ir_node **t = hnn_xmalloc((size_t)r * cc * sizeof *t);
    for (int i = 0; i < r; i++)
      for (int j = 0; j < cc; j++) t[j * r + i] = m->a[i * cc + j];
    ir_node *res = ir_pack(c, s, t);
    free(t);
    return res;
  }
  default:
    return mk1(c, IR_TRANSPOSE, s, m);
  }
}

ir_node *ir_outer(ir_ctx *c, ir_node *u, ir_node *v) {
  assert(u->shape.kind == IR_VECTOR && v->shape.kind == IR_VECTOR);
  ir_shape s = ir_matrix_shape(u->shape.rows, v->shape.rows);
  if (ir_is_zero(u) || ir_is_zero(v)) return ir_zeros(c, s);
  if (u->op == IR_PACK && v->op == IR_PACK) {
    int r = u->shape.rows, cc = v->shape.rows;
    ir_node **t = hnn_xmalloc((size_t)r * cc * sizeof *t);
    for (int i = 0; i < r; i++)
      for (int j = 0; j < cc; j++) t[i * cc + j] = ir_mul(c, u->a[i], v->a[j]);
    ir_node *res = ir_pack(c, s, t);
    free(t);
    return res;
  }
  return mk2(c, IR_OUTER, s, u, v);
}

ir_node *ir_diag(ir_ctx *c, ir_node *v) {
  assert(v->shape.kind == IR_VECTOR);
  int n = v->shape.rows;
  ir_shape s = ir_matrix_shape(n, n);
  if (ir_is_zero(v)) return ir_zeros(c, s);
  if (v->op == IR_PACK && n <= 16) {
    ir_node **t = hnn_xmalloc((size_t)n * n * sizeof *t);
    for (int k = 0; k < n * n; k++) t[k] = k % (n + 1) == 0 ? v->a[k / (n + 1)] : ir_const(c, 0);
    ir_node *res = ir_pack(c, s, t);
    free(t);
    return res;
  }
  return mk1(c, IR_DIAG, s, v);
}

ir_node *ir_diagof(ir_ctx *c, ir_node *m) {
  assert(m->shape.kind == IR_MATRIX && m->shape.rows == m->shape.cols);
  int n = m->shape.rows;
  ir_shape s = ir_vector_shape(n);
  if (m->op == IR_DIAG) return m->a[0];
  if (m->op == IR_BCAST) return ir_bcast(c, m->a[0], s);
  if (m->op == IR_PACK) {
    ir_node **t = hnn_xmalloc((size_t)n * sizeof *t);
    for (int k = 0; k < n; k++) t[k] = m->a[k * (n + 1)];
    ir_node *res = ir_pack(c, s, t);
    free(t);
    return res;
  }
  return mk1(c, IR_DIAGOF, s, m);
}

ir_node *ir_spdinv(ir_ctx *c, ir_node *m) {
  assert(m->shape.kind == IR_MATRIX && m->shape.rows == m->shape.cols);
  if (m->op == IR_DIAG) return ir_diag(c, ir_div(c, ir_const(c, 1), m->a[0]));
  return mk1(c, IR_SPDINV, m->shape, m);
}

ir_node *ir_concat(ir_ctx *c, int n, ir_node **parts) {
  int total = 0, flat = 1;
  for (int p = 0; p < n; p++) {
    total += ir_shape_size(parts[p]->shape);
    if (!is_scalar(parts[p]) && parts[p]->op != IR_PACK && parts[p]->op != IR_BCAST) flat = 0;
  }
  ir_shape s = ir_vector_shape(total);
  if (n == 1 && parts[0]->shape.kind == IR_VECTOR) return parts[0];
  if (flat) {
    ir_node **t = hnn_xmalloc((size_t)(total ? total : 1) * sizeof *t);
    int k = 0;
    for (int p = 0; p < n; p++) {
      int sz = ir_shape_size(parts[p]->shape);
      for (int e = 0; e < sz; e++)
        t[k++] = is_scalar(parts[p]) ? parts[p]
                 : parts[p]->op == IR_BCAST ? parts[p]->a[0] : parts[p]->a[e];
    }
    ir_node *res = ir_pack(c, s, t);
    free(t);
    return res;
  }
  ir_node t = tmpl(IR_CONCAT, s, n, parts);
  return mk(c, &t);
}
