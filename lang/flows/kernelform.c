/*
** kernelform.c — recognize a declared kernel as one of kernsum.h's, so the
** particle flows sum it with ks_sum (blocked, vectorized, or the fast
** grid / sort / slice paths) instead of calling its compiled callback N^2
** times.  See kernelform.h for the forms.
**
** The walk is on the kernel's body as written (the AST): a constant is any
** subexpression that names neither formal, made of numbers, scalar params,
** + - * / ^ and sqrt / exp / log; it is evaluated here, so a -D or a param
** change reaches it at the next run.  Anything else is left to the
** callback, which is always compiled and stays the reference
** (tests/unit/check_wparticles.c compares both on every form below).
*/
#include "kernelform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"

typedef struct kf_ctx {
  hnn_state *S;
  const char *x, *y;   /* the formals */
} kf_ctx;

static int names_formal(const kf_ctx *c, const ast *e) {
  if (!e) return 0;
  if (e->kind == AST_NAME && (strcmp(e->name, c->x) == 0 || strcmp(e->name, c->y) == 0)) return 1;
  for (int i = 0; i < e->nkids; i++)
    if (names_formal(c, e->kids[i])) return 1;
  return 0;
}

/* The value of a constant subexpression; 0 when it is not one we evaluate. */
static int constant(const kf_ctx *c, const ast *e, double *v) {
  if (!e || names_formal(c, e)) return 0;
  double a, b;
  switch (e->kind) {
  case AST_NUM: *v = e->num; return 1;
  case AST_NEG:
    if (!constant(c, e->kids[0], &a)) return 0;
    *v = -a;
    return 1;
  case AST_NAME: {
    sym *p = state_lookup(c->S, e->name);
    if (!p || p->kind != SYM_PARAM || p->decl->ndims != 0) return 0;
    double *val = NULL;
    ir_shape sh;
    int ok = flow_eval_value(c->S, (ast *)e, &val, &sh) == HNN_OK && sh.kind == IR_SCALAR;
    if (ok) *v = val[0];
    free(val);
    return ok;
  }
  case AST_CALL:
    if (!ast_is_plain_call(e) || e->nkids != 1 || !constant(c, e->kids[0], &a)) return 0;
    if (strcmp(e->name, "sqrt") == 0) *v = sqrt(a);
    else if (strcmp(e->name, "exp") == 0) *v = exp(a);
    else if (strcmp(e->name, "log") == 0) *v = log(a);
    else return 0;
    return 1;
  case AST_BINOP:
    if (!constant(c, e->kids[0], &a)) return 0;
    for (int i = 1; i < e->nkids; i++) {
      if (!constant(c, e->kids[i], &b)) return 0;
      switch (e->op) {
      case '+': a += b; break;
      case '-': a -= b; break;
      case '*': a *= b; break;
      case '/':
        if (b == 0) return 0;
        a /= b;
        break;
      case '^': a = pow(a, b); break;
      default: return 0;
      }
    }
    *v = a;
    return isfinite(a);
  default: return 0;
  }
}

/* x - y or y - x */
static int is_difference(const kf_ctx *c, const ast *e) {
  if (!e || e->kind != AST_BINOP || e->op != '-' || e->nkids != 2) return 0;
  const ast *l = e->kids[0], *r = e->kids[1];
  if (l->kind != AST_NAME || r->kind != AST_NAME) return 0;
  return (strcmp(l->name, c->x) == 0 && strcmp(r->name, c->y) == 0) ||
         (strcmp(l->name, c->y) == 0 && strcmp(r->name, c->x) == 0);
}

static int is_call1(const ast *e, const char *name) {
  return e && e->kind == AST_CALL && ast_is_plain_call(e) && e->nkids == 1 && strcmp(e->name, name) == 0;
}

/* norm2(x - y), or (x - y)^2 for scalar formals: |x - y|^2 */
static int is_sqdist(const kf_ctx *c, const ast *e) {
  double p;
  if (is_call1(e, "norm2") && is_difference(c, e->kids[0])) return 1;
  return e && e->kind == AST_BINOP && e->op == '^' && e->nkids == 2 && is_difference(c, e->kids[0]) &&
         constant(c, e->kids[1], &p) && p == 2;
}

/* norm(x - y), sqrt(norm2(x - y)), abs(x - y) for scalars: |x - y| */
static int is_dist(const kf_ctx *c, const ast *e) {
  return ((is_call1(e, "norm") || is_call1(e, "abs")) && is_difference(c, e->kids[0])) ||
         (is_call1(e, "sqrt") && is_sqdist(c, e->kids[0]));
}

/* e = a * atom(e') for a constant a: the atom's pattern in `match`. */
typedef int (*kf_match)(const kf_ctx *c, const ast *e, void *out);

static int scaled(const kf_ctx *c, const ast *e, kf_match match, void *out, double *a) {
  if (!e) return 0;
  if (match(c, e, out)) {
    *a = 1;
    return 1;
  }
  double k;
  if (e->kind == AST_NEG) {
    if (!scaled(c, e->kids[0], match, out, a)) return 0;
    *a = -*a;
    return 1;
  }
  if (e->kind != AST_BINOP) return 0;
  if (e->op == '/' && e->nkids == 2 && constant(c, e->kids[1], &k) && k != 0 && scaled(c, e->kids[0], match, out, a)) {
    *a /= k;
    return 1;
  }
  if (e->op != '*') return 0;
  int which = -1;
  double prod = 1;
  for (int i = 0; i < e->nkids; i++) {
    if (constant(c, e->kids[i], &k)) prod *= k;
    else if (which < 0) which = i;
    else return 0;
  }
  if (which < 0 || !scaled(c, e->kids[which], match, out, a)) return 0;
  *a *= prod;
  return 1;
}

static int match_sqdist(const kf_ctx *c, const ast *e, void *out) { (void)out; return is_sqdist(c, e); }
static int match_dist(const kf_ctx *c, const ast *e, void *out) { (void)out; return is_dist(c, e); }

/* b + a |x - y|^2 with constants a, b > 0: out = { b, a } */
static int imq_base(const kf_ctx *c, const ast *e, double ba[2]) {
  if (!e || e->kind != AST_BINOP || e->op != '+') return 0;
  double b = 0, a = 0, k;
  int found = 0;
  for (int i = 0; i < e->nkids; i++) {
    if (constant(c, e->kids[i], &k)) b += k;
    else if (!found && scaled(c, e->kids[i], match_sqdist, NULL, &a)) found = 1;
    else return 0;
  }
  if (!found || !(a > 0) || !(b > 0)) return 0;
  ba[0] = b, ba[1] = a;
  return 1;
}

/* An atom: exp(-a |x - y|^2), (b + a |x - y|^2)^(-1/2), 1/sqrt(...) is
** handled by matching sqrt(base) under a division; |x - y|. */
typedef struct kf_atom {
  ks_kind kind;
  double h, scale;
} kf_atom;

static int match_atom(const kf_ctx *c, const ast *e, void *out) {
  kf_atom *A = out;
  double a, ba[2], p;
  if (is_call1(e, "exp") && scaled(c, e->kids[0], match_sqdist, NULL, &a) && a < 0) {
    A->kind = KS_GAUSS, A->h = sqrt(-1 / (2 * a)), A->scale = 1;
    return 1;
  }
  if (e->kind == AST_BINOP && e->op == '^' && e->nkids == 2 && constant(c, e->kids[1], &p) && p == -0.5 &&
      imq_base(c, e->kids[0], ba)) {
    A->kind = KS_IMQ, A->h = sqrt(ba[0] / ba[1]), A->scale = 1 / sqrt(ba[0]);
    return 1;
  }
  /* k / sqrt(base) */
  if (e->kind == AST_BINOP && e->op == '/' && e->nkids == 2 && constant(c, e->kids[0], &p) &&
      is_call1(e->kids[1], "sqrt") && imq_base(c, e->kids[1]->kids[0], ba)) {
    A->kind = KS_IMQ, A->h = sqrt(ba[0] / ba[1]), A->scale = p / sqrt(ba[0]);
    return 1;
  }
  if (match_dist(c, e, NULL)) {
    A->kind = KS_ENERGY, A->h = 1, A->scale = -1;   /* |x - y| = -1 * (-|x - y|) */
    return 1;
  }
  return 0;
}

int kernel_recognize(hnn_state *S, sym *k, wf_kernel *K) {
  ast *d = k->decl;
  if (!d || d->nkids != 3 || !d->kids[0] || !d->kids[1]) return 0;
  kf_ctx c = { S, d->kids[0]->name, d->kids[1]->name };
  if (!c.x || !c.y || strcmp(c.x, c.y) == 0) return 0;
  kf_atom A;
  double a;
  if (!scaled(&c, ast_body(d), match_atom, &A, &a)) return 0;
  double scale = a * A.scale;
  if (!isfinite(scale) || !(A.h > 0) || !isfinite(A.h)) return 0;
  K->recognized = 1;
  K->ks = A.kind;
  K->h = A.h;
  K->scale = scale;
  return 1;
}
