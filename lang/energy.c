/*
** energy.c — checking `energy` declarations (energy.h): the sum is split
** into terms, each term into a coefficient and one piece, and every name a
** piece refers to is checked for its role.
*/
#include "energy.h"

#include <stdlib.h>
#include <string.h>


static const char *const piece_names[] = { "potential", "interaction", "entropy", "power_entropy", "kl",
                                           "mmd", "energy_distance", "sinkhorn", "w2" };

const char *energy_piece_name(energy_piece p) { return piece_names[p]; }

static int piece_of(const ast *e, energy_piece *p) {
  if (e->kind == AST_NAME && strcmp(e->name, "entropy") == 0) {
    *p = ENERGY_ENTROPY;
    return 1;
  }
  if (!ast_is_plain_call(e)) return 0;
  for (size_t i = 0; i < sizeof piece_names / sizeof *piece_names; i++)
    if (strcmp(e->name, piece_names[i]) == 0) {
      *p = (energy_piece)i;
      return 1;
    }
  return 0;
}

/* Does e contain a piece anywhere (then it is not a coefficient)? */
static const ast *find_piece(const ast *e) {
  energy_piece p;
  if (!e) return NULL;
  if (piece_of(e, &p)) return e;
  if (e->kind != AST_BINOP && e->kind != AST_NEG) return NULL;
  for (int i = 0; i < e->nkids; i++) {
    const ast *f = find_piece(e->kids[i]);
    if (f) return f;
  }
  return NULL;
}

typedef struct builder {
  hnn_state *S;
  sym *E;
  energy_decl *d;
  int errors;
} builder;

static void error_at(builder *b, const ast *e, const char *fmt, const char *a) {
  diag_error(&b->S->diags, e->src, e->loc, fmt, a);
  b->errors++;
}

/* c1 op c2 as a new owned node (either may be NULL for 1). */
static ast *combine(char op, ast *c1, ast *c2, const ast *at) {
  if (!c2) return c1;
  if (!c1 && op == '*') return c2;
  ast *n = ast_new(AST_BINOP, at->loc, at->src);
  n->op = op;
  if (!c1) {
    c1 = ast_new(AST_NUM, at->loc, at->src);
    c1->num = 1;
  }
  ast_add(n, c1);
  ast_add(n, c2);
  return n;
}

static ast *negated(ast *c, const ast *at) {
  ast *n = ast_new(AST_NEG, at->loc, at->src);
  if (!c) {
    c = ast_new(AST_NUM, at->loc, at->src);
    c->num = 1;
  }
  ast_add(n, c);
  return n;
}

static ast *kwarg(ast *call, const char *name) {
  for (int i = 0; i < call->nkids; i++)
    if (call->kids[i]->kind == AST_KWARG && strcmp(call->kids[i]->name, name) == 0) return call->kids[i]->kids[0];
  return NULL;
}

static int npositional(const ast *call) {
  int n = 0;
  for (int i = 0; i < call->nkids; i++) n += call->kids[i]->kind != AST_KWARG;
  return n;
}

/* The dimension a formal fixes (0 when generic), or -1 when it is not a point. */
static int point_dim(const ty *t) {
  if (t->kind == TY_SCALAR) return 1;
  if (t->kind != TY_VECTOR) return -1;
  return t->r.val > 0 ? t->r.val : 0;
}

static void fix_dim(builder *b, const ast *at, int n) {
  if (n <= 0) return;
  if (b->d->n && b->d->n != n) {
    diag_error(&b->S->diags, at->src, at->loc, "this term is in dimension %d, an earlier one in dimension %d", n,
               b->d->n);
    b->errors++;
    return;
  }
  b->d->n = n;
}

/* A function of one point with a scalar value (potential, kl's density). */
static sym *point_function(builder *b, ast *arg, const char *role) {
  sym *f = arg->kind == AST_NAME ? state_lookup(b->S, arg->name) : NULL;
  if (!f || (f->kind != SYM_OBJECTIVE && f->kind != SYM_FUNCTION)) {
    error_at(b, arg, "%s is the name of an objective or function of one point, as in f(x[n])", role);
    return NULL;
  }
  if (sema_check_sym(b->S, f)) {
    b->errors++;
    return NULL;
  }
  int n = f->sig.nformals == 1 ? point_dim(&f->sig.formal[0]) : -1;
  if (n < 0 || f->sig.result.kind != TY_SCALAR) {
    error_at(b, arg, "%s must take one point (a scalar or a vector) and return a scalar", role);
    return NULL;
  }
  fix_dim(b, arg, n);
  return f;
}

/* A kernel k(x, y) of two points of one dimension, scalar-valued. */
static sym *pair_kernel(builder *b, ast *arg) {
  sym *k = arg->kind == AST_NAME ? state_lookup(b->S, arg->name) : NULL;
  if (!k || (k->kind != SYM_KERNEL && k->kind != SYM_FUNCTION)) {
    error_at(b, arg, "%s: a kernel is named here, declared as kernel k(x[n], y[n]) = ...", arg->kind == AST_NAME ? arg->name : "this");
    return NULL;
  }
  if (sema_check_sym(b->S, k)) {
    b->errors++;
    return NULL;
  }
  int n = k->sig.nformals == 2 ? point_dim(&k->sig.formal[0]) : -1;
  int n2 = k->sig.nformals == 2 ? point_dim(&k->sig.formal[1]) : -1;
  if (n < 0 || n2 < 0 || k->sig.formal[0].kind != k->sig.formal[1].kind || k->sig.result.kind != TY_SCALAR) {
    error_at(b, arg, "kernel '%s' must take two points of one dimension and return a scalar", k->name);
    return NULL;
  }
  fix_dim(b, arg, n);
  fix_dim(b, arg, n2);
  return k;
}

/* The form of a target law; its values are read when a flow runs. */
static int check_target(builder *b, ast *t) {
  static const char *const laws[] = { "csv", "normal", "uniform", "mixture" };
  if (t->kind == AST_NAME) {
    sym *p = state_lookup(b->S, t->name);
    if (p && p->kind == SYM_PARAM && !sema_check_sym(b->S, p) && p->shape.kind == IR_MATRIX) {
      fix_dim(b, t, p->shape.cols);
      return 0;
    }
  }
  if (ast_is_plain_call(t))
    for (size_t i = 0; i < sizeof laws / sizeof *laws; i++)
      if (strcmp(t->name, laws[i]) == 0) return 0;
  error_at(b, t, "%s: a target is csv(\"file\"), normal(mean, var), uniform(lo, hi), mixture([w...], law, ...) or a param matrix of points",
           "bad target");
  return 1;
}

static int check_scalar(builder *b, ast *e, const char *what) {
  ty t;
  if (sema_check_expr(b->S, e, &t)) {
    b->errors++;
    return 1;
  }
  if (t.kind != TY_SCALAR) {
    error_at(b, e, "%s must be a number", what);
    return 1;
  }
  return 0;
}

static const char *const usages[] = {
  "potential(V): V an objective or function of one point",
  "interaction(W): W a kernel",
  "entropy",
  "power_entropy(m), m > 1",
  "kl(beta): beta a density (a function of one point, not necessarily normalized)",
  "mmd(k, target [, samples = M])",
  "energy_distance(target [, samples = M])",
  "sinkhorn(target [, eps = 0.01] [, samples = M])",
  "w2(target [, samples = M])",
};

static void add_piece(builder *b, ast *e, ast *coef) {
  energy_piece p;
  piece_of(e, &p);
  energy_term t = { .piece = p, .coef = coef, .at = e };
  int npos = e->kind == AST_CALL ? npositional(e) : 0;
  static const int want_pos[] = { 1, 1, 0, 1, 1, 2, 1, 1, 1 };
  int ok = npos == want_pos[p];
  /* keyword arguments: only samples (and sinkhorn's eps) */
  for (int i = 0; ok && e->kind == AST_CALL && i < e->nkids; i++)
    if (e->kids[i]->kind == AST_KWARG) {
      const char *k = e->kids[i]->name;
      int takes_samples = p == ENERGY_MMD || p == ENERGY_DISTANCE || p == ENERGY_SINKHORN || p == ENERGY_W2;
      if (!((takes_samples && strcmp(k, "samples") == 0) || (p == ENERGY_SINKHORN && strcmp(k, "eps") == 0))) ok = 0;
    }
  if (!ok) {
    diag_error(&b->S->diags, e->src, e->loc, "%s takes %s", piece_names[p], usages[p]);
    b->errors++;
    ast_free(coef);
    return;
  }
  switch (p) {
  case ENERGY_POTENTIAL: t.fn = point_function(b, e->kids[0], "the potential"); break;
  case ENERGY_KL: t.fn = point_function(b, e->kids[0], "the density of kl(beta)"); break;
  case ENERGY_INTERACTION: t.fn = pair_kernel(b, e->kids[0]); break;
  case ENERGY_ENTROPY: break;
  case ENERGY_POWER:
    t.exponent = e->kids[0];
    check_scalar(b, t.exponent, "the exponent m");
    break;
  case ENERGY_MMD:
    t.fn = pair_kernel(b, e->kids[0]);
    t.target = e->kids[1];
    break;
  default:
    t.target = e->kids[0];
    break;
  }
  if (t.target) {
    check_target(b, t.target);
    t.samples = kwarg(e, "samples");
    if (t.samples) check_scalar(b, t.samples, "samples");
  }
  if (p == ENERGY_SINKHORN) {
    t.eps = kwarg(e, "eps");
    if (t.eps) check_scalar(b, t.eps, "eps");
  }
  if (coef) check_scalar(b, coef, "the coefficient of a term");
  energy_decl *d = b->d;
  d->terms = hnn_xrealloc(d->terms, (size_t)(d->nterms + 1) * sizeof *d->terms);
  d->terms[d->nterms++] = t;
}

/* Split e (times coef, owned) into terms.  The parser keeps chains of +
** and * as one node with many kids (parser.y, binop). */
static void split(builder *b, ast *e, ast *coef) {
  if (e->kind == AST_BINOP && (e->op == '+' || e->op == '-')) {
    for (int i = 0; i < e->nkids; i++) {
      ast *c = i == e->nkids - 1 ? coef : coef ? ast_copy(coef) : NULL;
      split(b, e->kids[i], e->op == '-' && i > 0 ? negated(c, e->kids[i]) : c);
    }
    return;
  }
  if (e->kind == AST_NEG) {
    split(b, e->kids[0], negated(coef, e));
    return;
  }
  energy_piece p;
  if (piece_of(e, &p)) {
    add_piece(b, e, coef);
    return;
  }
  if (e->kind == AST_BINOP && (e->op == '*' || e->op == '/')) {
    int with = -1, count = 0;
    for (int i = 0; i < e->nkids; i++)
      if (find_piece(e->kids[i])) with = i, count++;
    if (count == 1 && (e->op == '*' || with == 0)) {
      for (int i = 0; i < e->nkids; i++)
        if (i != with) coef = combine(e->op, coef, ast_copy(e->kids[i]), e);
      split(b, e->kids[with], coef);
      return;
    }
  }
  ast_free(coef);
  const ast *inner = find_piece(e);
  error_at(b, inner ? inner : e, "%s",
           inner ? "an energy is a sum of terms, each a coefficient times one piece: c * piece or piece / c"
                 : "an energy is a sum of pieces: potential(V), interaction(W), entropy, power_entropy(m), kl(beta), "
                   "mmd(k, target), energy_distance(target), sinkhorn(target), w2(target)");
}

int energy_check(hnn_state *S, sym *s) {
  energy_decl_free(s->energy);
  s->energy = NULL;
  energy_decl *d = hnn_xcalloc(1, sizeof *d);
  builder b = { S, s, d, 0 };
  split(&b, s->decl->kids[0], NULL);
  if (b.errors) {
    energy_decl_free(d);
    return 1;
  }
  s->energy = d;
  return 0;
}

void energy_decl_free(energy_decl *d) {
  if (!d) return;
  for (int i = 0; i < d->nterms; i++) ast_free(d->terms[i].coef);
  free(d->terms);
  free(d);
}
