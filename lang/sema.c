/*
** sema.c — the checker: names, arity, dimensions, redefinitions, cycles.
**
** Every declaration gets a signature before any code runs.  Sizes are
** unified with union-find over size variables, so `objective f(x[n]) =
** dot(p, x)` learns n = 40 from p[40], and a declaration whose sizes stay free
** (f(x[n]) = norm2(x)) is size-generic: each call instantiates it afresh.
** Checking is on demand and in dependency order; a declaration met again
** while it is being checked is a cycle.  Params are evaluated on the way,
** because sizes (p[nG]) and constant indices depend on their values.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "flows.h"
#include "state.h"
#include "strbuf.h"

typedef struct local {
  const char *name;
  ty t;
  int size_var;          /* >= 0: the name is a size variable (a scalar in expressions) */
} local;

typedef struct chk {
  hnn_state *S;
  diag_list *d;
  int nv, capv;
  int *parent, *val, *min;
  const char **vname;
  local *locals;
  int nlocals, caplocals;
  sym *self;             /* declaration being checked */
  int in_param;          /* random draws and csv allowed */
  ty param_ty;           /* declared shape of that param, TY_ERROR if none */
  const char *inv_var;   /* inside `inverse`: the activation's output */
} chk;

static ty check(chk *c, ast *e);

/* The most numbers one value (a param, an intermediate) may hold: 800 MB of doubles. */
#define VALUE_MAX_ELEMENTS 1e8
#define PARAM_MAX_ELEMENTS VALUE_MAX_ELEMENTS

/* ---------------------------------------------------------------- dims */

static int newvar(chk *c, const char *name) {
  if (c->nv == c->capv) {
    c->capv = c->capv ? 2 * c->capv : 16;
    c->parent = hnn_xrealloc(c->parent, (size_t)c->capv * sizeof *c->parent);
    c->val = hnn_xrealloc(c->val, (size_t)c->capv * sizeof *c->val);
    c->min = hnn_xrealloc(c->min, (size_t)c->capv * sizeof *c->min);
    c->vname = hnn_xrealloc(c->vname, (size_t)c->capv * sizeof *c->vname);
  }
  c->parent[c->nv] = c->nv;
  c->val[c->nv] = 0;
  c->min[c->nv] = 1;
  c->vname[c->nv] = name;
  return c->nv++;
}

static int find(chk *c, int v) {
  while (c->parent[v] != v) v = c->parent[v] = c->parent[c->parent[v]];
  return v;
}

static tdim known(int n) { tdim d = { n, -1 }; return d; }
static tdim varying(int v) { tdim d = { 0, v }; return d; }

/* Resolve a dim to its current value (0 if still free). */
static int dim_value(chk *c, tdim d) {
  if (d.val > 0) return d.val;
  return c->val[find(c, d.var)];
}

static void dim_describe(chk *c, tdim d, strbuf *b) {
  int v = dim_value(c, d);
  if (v > 0) sb_printf(b, "%d", v);
  else sb_puts(b, c->vname[find(c, d.var)] ? c->vname[find(c, d.var)] : "n");
}

static ty mk(ty_kind k, tdim r, tdim cc) { ty t = { k, r, cc }; return t; }
static ty scalar(void) { return mk(TY_SCALAR, known(1), known(1)); }
static ty error_ty(void) { return mk(TY_ERROR, known(1), known(1)); }

static char *describe(chk *c, ty t) {
  strbuf b = STRBUF_INIT;
  switch (t.kind) {
  case TY_SCALAR: sb_puts(&b, "a scalar"); break;
  case TY_STRING: sb_puts(&b, "a string"); break;
  case TY_ERROR: sb_puts(&b, "an invalid value"); break;
  case TY_VECTOR: sb_puts(&b, "a vector of length "); dim_describe(c, t.r, &b); break;
  case TY_MATRIX:
    sb_puts(&b, "a ");
    dim_describe(c, t.r, &b);
    sb_puts(&b, " x ");
    dim_describe(c, t.c, &b);
    sb_puts(&b, " matrix");
    break;
  }
  return sb_take(&b);
}

/* Unify two dims; 0 on success. */
static int unify_dim(chk *c, tdim a, tdim b) {
  int va = a.val > 0 ? a.val : 0, vb = b.val > 0 ? b.val : 0;
  int ra = va ? -1 : find(c, a.var), rb = vb ? -1 : find(c, b.var);
  if (ra >= 0 && c->val[ra]) va = c->val[ra], ra = ra;
  if (rb >= 0 && c->val[rb]) vb = c->val[rb];
  if (va && vb) return va == vb ? 0 : -1;
  if (va && rb >= 0) {
    if (va < c->min[rb]) return -1;
    c->val[rb] = va;
    return 0;
  }
  if (vb && ra >= 0) {
    if (vb < c->min[ra]) return -1;
    c->val[ra] = vb;
    return 0;
  }
  if (ra == rb) return 0;
  c->parent[ra] = rb;
  if (c->min[ra] > c->min[rb]) c->min[rb] = c->min[ra];
  return 0;
}

/* Same kind and sizes? Reports "what: expected X, got Y" on mismatch. */
static int unify(chk *c, ty want, ty got, const ast *at, const char *what) {
  if (want.kind == TY_ERROR || got.kind == TY_ERROR) return -1;
  int ok = want.kind == got.kind;
  if (ok && (want.kind == TY_VECTOR || want.kind == TY_MATRIX)) ok = unify_dim(c, want.r, got.r) == 0;
  if (ok && want.kind == TY_MATRIX) ok = unify_dim(c, want.c, got.c) == 0;
  if (!ok) {
    char *w = describe(c, want), *g = describe(c, got);
    diag_error(c->d, at->src, at->loc, "dimension mismatch: %s expects %s, got %s", what, w, g);
    free(w);
    free(g);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------- scopes */

static void push_local(chk *c, const char *name, ty t, int size_var) {
  if (c->nlocals == c->caplocals) {
    c->caplocals = c->caplocals ? 2 * c->caplocals : 8;
    c->locals = hnn_xrealloc(c->locals, (size_t)c->caplocals * sizeof *c->locals);
  }
  local l = { name, t, size_var };
  c->locals[c->nlocals++] = l;
}

static local *find_local(chk *c, const char *name) {
  for (int i = c->nlocals - 1; i >= 0; i--)
    if (strcmp(c->locals[i].name, name) == 0) return &c->locals[i];
  return NULL;
}

static void chk_free(chk *c) {
  free(c->parent);
  free(c->val);
  free(c->min);
  free(c->vname);
  free(c->locals);
}

static void unknown_name(chk *c, const ast *e, const char *name) {
  const char *best = NULL;
  /* Suggest only near misses: one edit for short names, more for long ones. */
  int bestd = 2 + (int)strlen(name) / 4;
  for (int i = 0; i < c->S->nsyms; i++) {
    int dd = name_distance(name, c->S->syms[i]->name);
    if (dd < bestd) bestd = dd, best = c->S->syms[i]->name;
  }
  for (int i = c->nlocals - 1; i >= 0; i--) {
    int dd = name_distance(name, c->locals[i].name);
    if (dd < bestd) bestd = dd, best = c->locals[i].name;
  }
  const char *bi = builtin_closest(name, &bestd);
  if (bi) best = bi;
  if (best) diag_error(c->d, e->src, e->name_loc, "unknown name '%s' (did you mean '%s'?)", name, best);
  else diag_error(c->d, e->src, e->name_loc, "unknown name '%s'", name);
}

/* ------------------------------------------------ integer constants */

static int const_name(void *ctx, const ast *e, double *v) {
  chk *c = ctx;
  local *l = find_local(c, e->name);
  if (l && l->size_var >= 0) {
    int n = c->val[find(c, l->size_var)];
    *v = n;
    return n ? 1 : 0;
  }
  sym *p = l ? NULL : state_lookup(c->S, e->name);
  if (!p || p->kind != SYM_PARAM) {
    if (!l && !p) unknown_name(c, e, e->name);
    else diag_error(c->d, e->src, e->loc, "'%s' is not a constant: sizes and indices are numbers, params or size names", e->name);
    return -1;
  }
  if (sema_check_sym(c->S, p)) return -1;
  if (p->shape.kind != IR_SCALAR) {
    diag_error(c->d, e->src, e->loc, "param '%s' is not a scalar and cannot be a size or index", e->name);
    return -1;
  }
  *v = p->data[0];
  return 1;
}

static int const_other(void *ctx, const ast *e, double *v) {
  chk *c = ctx;
  (void)v;
  diag_error(c->d, e->src, e->loc, "sizes and indices must be constant integers");
  return -1;
}

/* Value of an integer constant expression (sizes, indices). 1 = known,
** 0 = depends on a free size variable, -1 = error (reported). */
static int const_int(chk *c, ast *e, int *out) {
  double v;
  int r = const_number(e, const_name, const_other, c, &v);
  if (r <= 0) return r;
  if (!(v == floor(v)) || fabs(v) > 1e8) {
    diag_error(c->d, e->src, e->loc, "a size or index must be a whole number, got %g", v);
    return -1;
  }
  *out = (int)v;
  return 1;
}

/* -------------------------------------------------------- expressions */

static ty binop_type(chk *c, ast *e, ty a, ty b);

/* Operands fold left to right (a + b + c is one node with three kids). */
static ty check_binop(chk *c, ast *e) {
  ty t = check(c, e->kids[0]);
  for (int i = 1; i < e->nkids; i++) {
    ty b = check(c, e->kids[i]);
    t = t.kind == TY_ERROR || b.kind == TY_ERROR ? error_ty() : binop_type(c, e, t, b);
  }
  return t;
}

static ty binop_type(chk *c, ast *e, ty a, ty b) {
  if (a.kind == TY_STRING || b.kind == TY_STRING) {
    diag_error(c->d, e->src, e->loc, "a string cannot take part in arithmetic");
    return error_ty();
  }
  if (a.kind == TY_SCALAR) return b;
  if (b.kind == TY_SCALAR) return a;
  char op[2] = { e->op, 0 };
  if (e->op == '*' && a.kind == TY_MATRIX) {
    if (unify_dim(c, a.c, b.r) != 0) {
      char *da = describe(c, a), *db = describe(c, b);
      diag_error(c->d, e->src, e->loc, "dimension mismatch: cannot multiply %s by %s", da, db);
      free(da);
      free(db);
      return error_ty();
    }
    return b.kind == TY_VECTOR ? mk(TY_VECTOR, a.r, known(1)) : mk(TY_MATRIX, a.r, b.c);
  }
  if (a.kind == TY_VECTOR && b.kind == TY_MATRIX) {
    diag_error(c->d, e->src, e->loc, "cannot multiply a vector by a matrix: write transpose(M) * v");
    return error_ty();
  }
  if (a.kind == TY_MATRIX && b.kind == TY_VECTOR) {
    diag_error(c->d, e->src, e->loc, "operator '%s' between a matrix and a vector is not defined", op);
    return error_ty();
  }
  if (a.kind == TY_MATRIX && (e->op == '/' || e->op == '^')) {
    diag_error(c->d, e->src, e->loc, "operator '%s' between matrices is not defined", op);
    return error_ty();
  }
  if (unify_dim(c, a.r, b.r) != 0 || (a.kind == TY_MATRIX && unify_dim(c, a.c, b.c) != 0)) {
    char *da = describe(c, a), *db = describe(c, b);
    diag_error(c->d, e->src, e->loc, "dimension mismatch in '%s': %s and %s", op, da, db);
    free(da);
    free(db);
    return error_ty();
  }
  return a;
}

static ty check_index(chk *c, ast *e) {
  ty b = check(c, e->kids[0]);
  if (b.kind == TY_ERROR) return b;
  int nidx = e->nkids - 1;
  int want = b.kind == TY_VECTOR ? 1 : b.kind == TY_MATRIX ? 2 : 0;
  if (!want) {
    diag_error(c->d, e->src, e->loc, "only vectors and matrices can be indexed");
    return error_ty();
  }
  if (nidx != want) {
    diag_error(c->d, e->src, e->loc, "a %s takes %d index%s, got %d", want == 1 ? "vector" : "matrix",
               want, want == 1 ? "" : "es", nidx);
    return error_ty();
  }
  for (int k = 0; k < nidx; k++) {
    tdim d = k == 0 ? b.r : b.c;
    int i, r = const_int(c, e->kids[k + 1], &i);
    if (r < 0) return error_ty();
    if (r == 0) continue;   /* checked when the sizes are known (lowering) */
    int n = dim_value(c, d);
    if (i < 1 || (n && i > n)) {
      diag_error(c->d, e->kids[k + 1]->src, e->kids[k + 1]->loc,
                 "index %d out of range 1..%d (indices start at 1)", i, n ? n : 1);
      return error_ty();
    }
    if (!n && i > c->min[find(c, d.var)]) c->min[find(c, d.var)] = i;
  }
  return scalar();
}

static ty check_vector(chk *c, ast *e) {
  if (e->nkids == 0) {
    diag_error(c->d, e->src, e->loc, "empty vector");
    return error_ty();
  }
  ty first = check(c, e->kids[0]);
  int bad = first.kind == TY_ERROR;
  for (int i = 1; i < e->nkids; i++) {
    ty t = check(c, e->kids[i]);
    if (t.kind == TY_ERROR || bad) {
      bad = 1;
      continue;
    }
    if (t.kind != first.kind || (t.kind == TY_VECTOR && unify_dim(c, first.r, t.r) != 0)) {
      char *a = describe(c, first), *b = describe(c, t);
      diag_error(c->d, e->kids[i]->src, e->kids[i]->loc,
                 "elements of a vector literal must agree: the first is %s, this one %s", a, b);
      free(a);
      free(b);
      bad = 1;
    }
  }
  if (bad) return error_ty();
  if (first.kind == TY_SCALAR) return mk(TY_VECTOR, known(e->nkids), known(1));
  if (first.kind == TY_VECTOR) return mk(TY_MATRIX, known(e->nkids), first.r);
  diag_error(c->d, e->src, e->loc, "vector literals hold scalars, or vectors (rows of a matrix)");
  return error_ty();
}

/* Instantiate a signature in this context and check a call against it. */
static ty check_call_sig(chk *c, ast *e, sym *f, ty *argty) {
  const sig *s = &f->sig;
  if (e->nkids != s->nformals) {
    diag_error(c->d, e->src, e->loc, "%s '%s' takes %d argument%s, %d given", sym_kind_name(f->kind),
               f->name, s->nformals, s->nformals == 1 ? "" : "s", e->nkids);
    for (int i = 0; i < e->nkids; i++) check(c, e->kids[i]);
    return error_ty();
  }
  int *inst = hnn_xcalloc((size_t)(s->ngen + 1), sizeof *inst);
  for (int g = 0; g < s->ngen; g++) {
    inst[g] = newvar(c, s->gen_name[g]);
    c->min[inst[g]] = s->gen_min[g];
  }
#define INST(d) ((d).val > 0 ? (d) : varying(inst[(d).var]))
  int bad = 0;
  for (int i = 0; i < e->nkids; i++) {
    ty want = s->formal[i];
    want.r = INST(want.r);
    want.c = INST(want.c);
    ty got = check(c, e->kids[i]);
    if (argty) argty[i] = got;
    char what[160];
    snprintf(what, sizeof what, "argument %d of '%s'", i + 1, f->name);
    if (got.kind == TY_ERROR || unify(c, want, got, e->kids[i], what)) bad = 1;
  }
  ty r = s->result;
  r.r = INST(r.r);
  r.c = INST(r.c);
#undef INST
  free(inst);
  return bad ? error_ty() : r;
}

static int total_size(chk *c, ty t) {
  if (t.kind == TY_SCALAR) return 1;
  int r = dim_value(c, t.r), cc = t.kind == TY_MATRIX ? dim_value(c, t.c) : 1;
  return r && cc ? r * cc : 0;
}

static ty check_deriv(chk *c, ast *e, sym *f) {
  if (f->kind != SYM_OBJECTIVE && f->kind != SYM_FUNCTION && f->kind != SYM_KERNEL) {
    diag_error(c->d, e->src, e->name_loc, "%s of '%s': only objectives, functions and kernels have one (%s '%s')",
               e->deriv == DERIV_GRAD ? "grad" : "hessian", f->name, sym_kind_name(f->kind), f->name);
    return error_ty();
  }
  if (f->sig.result.kind != TY_SCALAR) {
    diag_error(c->d, e->src, e->name_loc, "'%s' is not scalar-valued, so it has no gradient", f->name);
    return error_ty();
  }
  /* Check the arguments like a call, then shape the result by them. */
  ty *argty = hnn_xcalloc((size_t)e->nkids + 1, sizeof *argty);
  ty res = check_call_sig(c, e, f, argty);
  int n = 0;
  ty one = error_ty();
  for (int i = 0; i < e->nkids && res.kind != TY_ERROR; i++) {
    ty t = argty[i];
    int k = total_size(c, t);
    if (!k) {
      diag_error(c->d, e->src, e->loc, "the size of argument %d of '%s' is not known here", i + 1, f->name);
      res = error_ty();
      break;
    }
    n += k;
    one = t;
  }
  free(argty);
  if (res.kind == TY_ERROR) return res;
  if (e->deriv == DERIV_GRAD) return e->nkids == 1 ? one : mk(TY_VECTOR, known(n), known(1));
  return mk(TY_MATRIX, known(n), known(n));
}

/* geodesic(G, x, y), bregman(psi, x, y), gibbs(f, T, x [, box]),
** partition(f, T [, box]): the first argument names a declaration. */
static ty check_special(chk *c, ast *e, const builtin *b) {
  static const sym_kind want[] = { SYM_METRIC, SYM_MIRROR, SYM_OBJECTIVE, SYM_OBJECTIVE };
  static const char *usage[] = { "geodesic(G, x, y)", "bregman(psi, x, y)", "gibbs(f, T, x [, [lo, hi]])",
                                 "partition(f, T [, [lo, hi]])" };
  int k = b->kind - BI_GEODESIC;
  ast *a0 = e->kids[0];
  sym *s = a0->kind == AST_NAME ? state_lookup(c->S, a0->name) : NULL;
  if (!s || !(s->kind == want[k] || (want[k] == SYM_OBJECTIVE && s->kind == SYM_FUNCTION))) {
    diag_error(c->d, a0->src, a0->loc, "usage: %s, where the first argument names %s", usage[k],
               want[k] == SYM_METRIC ? "a metric" : want[k] == SYM_MIRROR ? "a mirror map" : "an objective");
    return error_ty();
  }
  if (sema_check_sym(c->S, s)) return error_ty();
  ty t[4];
  for (int i = 1; i < e->nkids; i++)
    if ((t[i] = check(c, e->kids[i])).kind == TY_ERROR) return error_ty();
  int ok = 1;
  if (k <= 1) ok = t[1].kind == TY_VECTOR && unify_dim(c, t[1].r, t[2].r) == 0;
  if (k >= 2) ok = t[1].kind == TY_SCALAR;
  if (k == 2) ok = ok && t[2].kind == TY_VECTOR && (e->nkids < 4 || (t[3].kind == TY_VECTOR && dim_value(c, t[3].r) == 2));
  if (k == 3) ok = ok && (e->nkids < 3 || (t[2].kind == TY_VECTOR && dim_value(c, t[2].r) == 2));
  if (!ok) {
    diag_error(c->d, e->src, e->loc, "usage: %s (points are vectors of one length; a box is [lo, hi])", usage[k]);
    return error_ty();
  }
  return scalar();
}

static ty check_builtin(chk *c, ast *e, const builtin *b) {
  if (e->deriv != DERIV_NONE || e->nprimes) {
    diag_error(c->d, e->src, e->name_loc, "'%s' is a builtin function: it has no derived form", e->name);
    return error_ty();
  }
  if (e->nkids < b->min_args || e->nkids > b->max_args) {
    if (b->min_args == b->max_args)
      diag_error(c->d, e->src, e->loc, "'%s' takes %d argument%s, %d given", b->name, b->min_args,
                 b->min_args == 1 ? "" : "s", e->nkids);
    else
      diag_error(c->d, e->src, e->loc, "'%s' takes %d to %d arguments, %d given", b->name, b->min_args,
                 b->max_args, e->nkids);
    return error_ty();
  }
  if (b->kind == BI_HOPFIELD || b->kind == BI_EUCLIDEAN) {
    diag_error(c->d, e->src, e->loc, "'%s' defines a metric: write metric G = %s(...)", b->name, b->name);
    return error_ty();
  }
  if ((b->kind == BI_UNIFORM || b->kind == BI_NORMAL || b->kind == BI_CSV) && !c->in_param) {
    diag_error(c->d, e->src, e->loc, "'%s' is only allowed in a param declaration (drawn or read once per run)", b->name);
    return error_ty();
  }
  if (b->kind >= BI_GEODESIC) return check_special(c, e, b);
  ty t[3];
  for (int i = 0; i < e->nkids; i++) {
    t[i] = check(c, e->kids[i]);
    if (t[i].kind == TY_ERROR) return error_ty();
    int string_ok = b->kind == BI_CSV;
    if (t[i].kind == TY_STRING && !string_ok) {
      diag_error(c->d, e->kids[i]->src, e->kids[i]->loc, "'%s' expects a number here, not a string", b->name);
      return error_ty();
    }
  }
  switch (b->kind) {
  case BI_FN1: return t[0];
  case BI_MINMAX: {
    if (t[0].kind == TY_SCALAR) return t[1];
    if (t[1].kind == TY_SCALAR) return t[0];
    if (unify(c, t[0], t[1], e, b->name)) return error_ty();
    return t[0];
  }
  case BI_SUM: case BI_MEAN:
    if (t[0].kind == TY_SCALAR) break;
    return scalar();
  case BI_NORM2: case BI_NORM:
    if (t[0].kind != TY_VECTOR) break;
    return scalar();
  case BI_DOT:
    if (t[0].kind != TY_VECTOR) break;
    if (unify(c, t[0], t[1], e->kids[1], "second argument of dot")) return error_ty();
    return scalar();
  case BI_DIAG:
    if (t[0].kind != TY_VECTOR) break;
    return mk(TY_MATRIX, t[0].r, t[0].r);
  case BI_TRANSPOSE:
    if (t[0].kind != TY_MATRIX) break;
    return mk(TY_MATRIX, t[0].c, t[0].r);
  case BI_OUTER:
    if (t[0].kind != TY_VECTOR || t[1].kind != TY_VECTOR) break;
    return mk(TY_MATRIX, t[0].r, t[1].r);
  case BI_EYE: {
    int n;
    int r = const_int(c, e->kids[0], &n);
    if (r < 0) return error_ty();
    if (r == 0 || n < 1) {
      diag_error(c->d, e->src, e->loc, "eye(n) needs a known positive size");
      return error_ty();
    }
    return mk(TY_MATRIX, known(n), known(n));
  }
  case BI_UNIFORM: case BI_NORMAL:
    if (t[0].kind != TY_SCALAR || t[1].kind != TY_SCALAR) {
      diag_error(c->d, e->src, e->loc, "%s(a, b) takes scalar arguments; the param's size gives the shape", b->name);
      return error_ty();
    }
    return c->param_ty.kind == TY_ERROR ? scalar() : c->param_ty;
  case BI_CSV: {
    if (t[0].kind != TY_STRING || e->kids[0]->kind != AST_STR) {
      diag_error(c->d, e->src, e->loc, "csv(\"file\") takes a file name in double quotes");
      return error_ty();
    }
    double *data;
    int rows, cols;
    char **header = NULL, *err = NULL;
    if (csv_load(e->kids[0]->name, e->src->name, &data, &rows, &cols, &header, &err)) {
      diag_error(c->d, e->kids[0]->src, e->kids[0]->loc, "%s", err);
      free(err);
      return error_ty();
    }
    free(data);
    int col = 0;
    if (e->nkids == 2) {
      if (t[1].kind == TY_STRING) {
        for (int j = 0; header && j < cols; j++)
          if (strcmp(header[j], e->kids[1]->name) == 0) col = j + 1;
        if (!col) diag_error(c->d, e->kids[1]->src, e->kids[1]->loc, "no column named '%s' in '%s'",
                             e->kids[1]->name, e->kids[0]->name);
      } else {
        int r = const_int(c, e->kids[1], &col);
        if (r == 1 && (col < 1 || col > cols)) {
          diag_error(c->d, e->kids[1]->src, e->kids[1]->loc, "column %d out of range 1..%d in '%s'", col,
                     cols, e->kids[0]->name);
          col = 0;
        }
        if (r == 0) diag_error(c->d, e->kids[1]->src, e->kids[1]->loc, "the column must be a constant");
      }
    }
    for (int j = 0; header && j < cols; j++) free(header[j]);
    free(header);
    if (e->nkids == 2) return col ? mk(TY_VECTOR, known(rows), known(1)) : error_ty();
    return cols == 1 ? mk(TY_VECTOR, known(rows), known(1)) : mk(TY_MATRIX, known(rows), known(cols));
  }
  default: break;
  }
  char *d = describe(c, t[0]);
  diag_error(c->d, e->src, e->loc, "'%s' does not take %s", b->name, d);
  free(d);
  return error_ty();
}

static ty check_call(chk *c, ast *e) {
  if (find_local(c, e->name)) {
    diag_error(c->d, e->src, e->name_loc, "'%s' is an argument, not a function", e->name);
    return error_ty();
  }
  sym *f = state_lookup(c->S, e->name);
  if (!f) {
    const builtin *b = builtin_find(e->name);
    if (b) return check_builtin(c, e, b);
    unknown_name(c, e, e->name);
    for (int i = 0; i < e->nkids; i++) check(c, e->kids[i]);
    return error_ty();
  }
  if (sema_check_sym(c->S, f)) return error_ty();
  if (e->nprimes && f->kind != SYM_ACTIVATION) {
    diag_error(c->d, e->src, e->name_loc, "'%s' is not an activation: only activations have derivatives written %s'(u); use grad %s(...)",
               e->name, e->name, e->name);
    return error_ty();
  }
  if (e->nprimes > 2) {
    diag_error(c->d, e->src, e->name_loc, "only the first and second derivatives of an activation are derived");
    return error_ty();
  }
  if (e->deriv != DERIV_NONE) return check_deriv(c, e, f);
  switch (f->kind) {
  case SYM_PARAM:
    diag_error(c->d, e->src, e->name_loc, "'%s' is a param, not a function (index it with [ ])", e->name);
    return error_ty();
  case SYM_ACTIVATION: {
    if (e->nkids != 1) {
      diag_error(c->d, e->src, e->loc, "activation '%s' takes 1 argument, %d given", e->name, e->nkids);
      return error_ty();
    }
    ty t = check(c, e->kids[0]);
    if (t.kind == TY_STRING) {
      diag_error(c->d, e->kids[0]->src, e->kids[0]->loc, "an activation applies to numbers");
      return error_ty();
    }
    return t;                            /* elementwise on any shape */
  }
  case SYM_METRIC: {
    if (f->mform == MET_EXPLICIT) return check_call_sig(c, e, f, NULL);
    if (e->nkids != 1) {
      diag_error(c->d, e->src, e->loc, "metric '%s' takes 1 argument (a point), %d given", e->name, e->nkids);
      return error_ty();
    }
    ty t = check(c, e->kids[0]);
    if (t.kind == TY_ERROR) return t;
    if (t.kind != TY_VECTOR) {
      diag_error(c->d, e->kids[0]->src, e->kids[0]->loc, "a metric is evaluated at a point (a vector)");
      return error_ty();
    }
    return mk(TY_MATRIX, t.r, t.r);
  }
  default:
    return check_call_sig(c, e, f, NULL);
  }
}

static ty check_name(chk *c, ast *e) {
  if (c->inv_var && strcmp(e->name, c->inv_var) == 0) return scalar();
  local *l = find_local(c, e->name);
  if (l) return l->size_var >= 0 ? scalar() : l->t;
  sym *s = state_lookup(c->S, e->name);
  if (s) {
    if (sema_check_sym(c->S, s)) return error_ty();
    if (s->kind == SYM_PARAM) {
      switch (s->shape.kind) {
      case IR_SCALAR: return scalar();
      case IR_VECTOR: return mk(TY_VECTOR, known(s->shape.rows), known(1));
      default: return mk(TY_MATRIX, known(s->shape.rows), known(s->shape.cols));
      }
    }
    diag_error(c->d, e->src, e->loc, "%s '%s' is used as a value; call it, as in %s(x)", sym_kind_name(s->kind),
               e->name, e->name);
    return error_ty();
  }
  if (builtin_find(e->name)) {
    diag_error(c->d, e->src, e->loc, "'%s' is a builtin function; call it with arguments", e->name);
    return error_ty();
  }
  if (strcmp(e->name, "pi") == 0 || strcmp(e->name, "e") == 0) return scalar();
  unknown_name(c, e, e->name);
  return error_ty();
}

static ty check_kind(chk *c, ast *e) {
  switch (e->kind) {
  case AST_NUM: return scalar();
  case AST_STR: return mk(TY_STRING, known(1), known(1));
  case AST_NAME: return check_name(c, e);
  case AST_NEG: {
    ty t = check(c, e->kids[0]);
    if (t.kind == TY_STRING) {
      diag_error(c->d, e->src, e->loc, "a string cannot be negated");
      return error_ty();
    }
    return t;
  }
  case AST_BINOP: return check_binop(c, e);
  case AST_INDEX: return check_index(c, e);
  case AST_VECTOR: return check_vector(c, e);
  case AST_CALL: return check_call(c, e);
  default:
    diag_error(c->d, e->src, e->loc, "not an expression");
    return error_ty();
  }
}

/* Every value is allocated whole and sizes are ints: cap the element count
** of any value whose size is known (eye(65536) would overflow rows*cols). */
static ty check(chk *c, ast *e) {
  ty t = check_kind(c, e);
  if (t.kind == TY_VECTOR || t.kind == TY_MATRIX) {
    double count = (double)dim_value(c, t.r) * (double)dim_value(c, t.c);
    if (count > VALUE_MAX_ELEMENTS) {
      diag_error(c->d, e->src, e->loc, "this value would hold %.0f numbers; the limit is %.0f", count,
                 VALUE_MAX_ELEMENTS);
      return error_ty();
    }
  }
  return t;
}

/* ------------------------------------------------------ declarations */

/* Size of a formal's dimension: a literal, a param, or a size variable. */
static tdim formal_dim(chk *c, ast *f, int k, int *bad) {
  if (!f->dimname[k]) return known(f->dimval[k]);
  local *l = find_local(c, f->dimname[k]);
  if (l && l->size_var >= 0) return varying(l->size_var);
  sym *p = state_lookup(c->S, f->dimname[k]);
  if (p && p->kind == SYM_PARAM) {
    if (sema_check_sym(c->S, p)) {
      *bad = 1;
      return known(1);
    }
    double v = p->shape.kind == IR_SCALAR ? p->data[0] : -1;
    if (!(v >= 1 && v == floor(v) && v < 1e8)) {
      diag_error(c->d, f->src, f->loc, "param '%s' is used as a size but is not a positive whole number",
                 p->name);
      *bad = 1;
      return known(1);
    }
    return known((int)v);
  }
  if (p) {
    diag_error(c->d, f->src, f->loc, "'%s' is %s, not a size", p->name, sym_kind_name(p->kind));
    *bad = 1;
    return known(1);
  }
  int v = newvar(c, f->dimname[k]);
  push_local(c, f->dimname[k], scalar(), v);
  return varying(v);
}

/* Turn the context's dims into a signature's known sizes and generic indexes. */
static tdim generalize(chk *c, tdim d, sig *s, int **map) {
  int v = dim_value(c, d);
  if (v) return known(v);
  int root = find(c, d.var);
  if ((*map)[root] < 0) {
    int g = s->ngen++;
    s->gen_min = hnn_xrealloc(s->gen_min, (size_t)s->ngen * sizeof *s->gen_min);
    s->gen_name = hnn_xrealloc(s->gen_name, (size_t)s->ngen * sizeof *s->gen_name);
    s->gen_min[g] = c->min[root];
    s->gen_name[g] = hnn_xstrdup(c->vname[root] ? c->vname[root] : "n");
    (*map)[root] = g;
  }
  return varying((*map)[root]);
}

static ty generalize_ty(chk *c, ty t, sig *s, int **map) {
  if (t.kind == TY_VECTOR || t.kind == TY_MATRIX) t.r = generalize(c, t.r, s, map);
  if (t.kind == TY_MATRIX) t.c = generalize(c, t.c, s, map);
  return t;
}

static void sig_free(sig *s) {
  free(s->formal);
  for (int g = 0; g < s->ngen; g++) free(s->gen_name[g]);
  free(s->gen_name);
  free(s->gen_min);
  memset(s, 0, sizeof *s);
}

static int check_metric_spec(chk *c, sym *s, ast *body) {
  if (body->kind == AST_NAME && strcmp(body->name, "euclidean") == 0) {
    s->mform = MET_EUCLIDEAN;
    return 0;
  }
  if (body->kind == AST_CALL && strcmp(body->name, "hopfield") == 0 && body->nkids == 1 &&
      body->kids[0]->kind == AST_NAME) {
    sym *a = state_lookup(c->S, body->kids[0]->name);
    if (!a || a->kind != SYM_ACTIVATION) {
      diag_error(c->d, body->kids[0]->src, body->kids[0]->loc, "hopfield(s) needs an activation; '%s' is %s",
                 body->kids[0]->name, a ? sym_kind_name(a->kind) : "not defined");
      return -1;
    }
    if (sema_check_sym(c->S, a)) return -1;
    s->mform = MET_HOPFIELD;
    free(s->mact);
    s->mact = hnn_xstrdup(a->name);
    return 0;
  }
  diag_error(c->d, body->src, body->loc,
             "a metric is euclidean, hopfield(s), or a matrix of its argument: metric M(x[n]) = diag(...)");
  return -1;
}

static int check_callable(hnn_state *S, sym *s) {
  chk c;
  memset(&c, 0, sizeof c);
  c.S = S;
  c.d = &S->diags;
  c.self = s;
  c.param_ty = error_ty();
  int before = S->diags.nerrors;
  ast *d = s->decl;
  ast *body = ast_body(d);
  sig_free(&s->sig);
  int nformals = d->kind == AST_ACTIVATION ? 1 : d->nkids - 1;
  ty *ft = hnn_xcalloc((size_t)nformals + 1, sizeof *ft);
  int bad = 0;
  for (int i = 0; i < nformals; i++) {
    ast *f = d->kids[i];
    for (int j = 0; j < i; j++)
      if (strcmp(d->kids[j]->name, f->name) == 0) {
        diag_error(c.d, f->src, f->loc, "argument '%s' appears twice", f->name);
        bad = 1;
      }
    if (state_lookup(S, f->name) && state_lookup(S, f->name)->kind == SYM_PARAM) {
      /* an argument may shadow a param; that is legal and common (x) */
    }
    if (f->ndims == 0) ft[i] = scalar();
    else if (f->ndims == 1) ft[i] = mk(TY_VECTOR, formal_dim(&c, f, 0, &bad), known(1));
    else {
      tdim r = formal_dim(&c, f, 0, &bad);
      ft[i] = mk(TY_MATRIX, r, formal_dim(&c, f, 1, &bad));
    }
    push_local(&c, f->name, ft[i], -1);
  }
  if (d->kind == AST_ACTIVATION && d->kids[0]->ndims) {
    diag_error(c.d, d->kids[0]->src, d->kids[0]->loc,
               "an activation is a scalar function s(u); it applies elementwise to vectors");
    bad = 1;
  }
  ty r = error_ty();
  if (!bad) {
    if (d->kind == AST_METRIC && nformals == 0) {
      bad = check_metric_spec(&c, s, body) != 0;
      r = scalar();
    } else {
      r = check(&c, body);
      if (r.kind == TY_STRING) {
        diag_error(c.d, body->src, body->loc, "the body is a string, not a number");
        r = error_ty();
      }
      bad = r.kind == TY_ERROR;
    }
  }
  if (!bad) switch (d->kind) {
    case AST_ACTIVATION:
      if (r.kind != TY_SCALAR) {
        diag_error(c.d, body->src, body->loc, "an activation's body must be a scalar expression of its argument");
        bad = 1;
      } else if (d->kids[2]) {
        c.inv_var = "x";
        ty ri = check(&c, d->kids[2]);
        if (ri.kind != TY_SCALAR) {
          if (ri.kind != TY_ERROR)
            diag_error(c.d, d->kids[2]->src, d->kids[2]->loc, "the inverse must be a scalar expression of x");
          bad = 1;
        }
      }
      break;
    case AST_OBJECTIVE:
      if (r.kind != TY_SCALAR) {
        char *t = describe(&c, r);
        diag_error(c.d, body->src, body->loc, "an objective must be scalar-valued; this is %s", t);
        free(t);
        bad = 1;
      }
      break;
    case AST_KERNEL:
      if (r.kind != TY_SCALAR || nformals != 2) {
        diag_error(c.d, d->src, d->name_loc, "a kernel is a scalar function of two points: kernel k(x, y) = ...");
        bad = 1;
      }
      break;
    case AST_METRIC:
      if (nformals == 0) break;
      if (nformals != 1 || ft[0].kind != TY_VECTOR) {
        diag_error(c.d, d->src, d->name_loc, "a metric takes one vector argument: metric M(x[n]) = ...");
        bad = 1;
      } else if (r.kind != TY_MATRIX || unify_dim(&c, r.r, ft[0].r) || unify_dim(&c, r.c, ft[0].r)) {
        char *t = describe(&c, r);
        diag_error(c.d, body->src, body->loc, "a metric on vectors of length %s must be a square matrix of that size; this is %s%s",
                   d->kids[0]->dimname[0] ? d->kids[0]->dimname[0] : "n", t,
                   r.kind == TY_VECTOR ? " (write diag(...) for a diagonal metric)" : "");
        free(t);
        bad = 1;
      } else {
        s->mform = MET_EXPLICIT;
      }
      break;
    default: break;
    }
  if (!bad) {
    int *map = hnn_xmalloc((size_t)(c.nv + 1) * sizeof *map);
    for (int v = 0; v < c.nv; v++) map[v] = -1;
    s->sig.nformals = nformals;
    s->sig.formal = ft;
    ft = NULL;
    for (int i = 0; i < nformals; i++) s->sig.formal[i] = generalize_ty(&c, s->sig.formal[i], &s->sig, &map);
    s->sig.result = generalize_ty(&c, r, &s->sig, &map);
    if (d->kind == AST_ACTIVATION) s->sig.result = scalar();
    free(map);
  }
  free(ft);
  chk_free(&c);
  return S->diags.nerrors - before;
}

static ty shape_to_ty(ir_shape s) {
  switch (s.kind) {
  case IR_SCALAR: return scalar();
  case IR_VECTOR: return mk(TY_VECTOR, known(s.rows), known(1));
  default: return mk(TY_MATRIX, known(s.rows), known(s.cols));
  }
}

/* A param: its declared shape, its initializer's type; then evaluate it. */
static int check_param(hnn_state *S, sym *p) {
  chk c;
  memset(&c, 0, sizeof c);
  c.S = S;
  c.d = &S->diags;
  c.self = p;
  c.in_param = 1;
  c.param_ty = error_ty();
  int before = S->diags.nerrors;
  ast *d = p->decl;
  ast *init = d->kids[d->ndims];
  int dims[2] = { 1, 1 }, bad = 0;
  for (int k = 0; k < d->ndims; k++) {
    int r = const_int(&c, d->kids[k], &dims[k]);
    if (r == 1 && dims[k] < 1) {
      diag_error(c.d, d->kids[k]->src, d->kids[k]->loc, "a size must be at least 1, got %d", dims[k]);
      r = -1;
    }
    if (r != 1) bad = 1;
  }
  if (!bad && d->ndims == 1) c.param_ty = mk(TY_VECTOR, known(dims[0]), known(1));
  if (!bad && d->ndims == 2) c.param_ty = mk(TY_MATRIX, known(dims[0]), known(dims[1]));
  ty t = bad ? error_ty() : check(&c, init);
  if (t.kind == TY_STRING) {
    diag_error(c.d, init->src, init->loc, "a param holds numbers: use csv(\"%s\") to read a file", init->name);
    t = error_ty();
  }
  if (t.kind != TY_ERROR && c.param_ty.kind != TY_ERROR && t.kind != TY_SCALAR)
    unify(&c, c.param_ty, t, init, "the declared size");
  if (t.kind != TY_ERROR && p->override && S->diags.nerrors == before) {
    /* A -D value keeps the declared shape (a scalar fills a vector or matrix). */
    ty want = c.param_ty.kind != TY_ERROR ? c.param_ty : t;
    ty got = check(&c, p->override);
    if (got.kind != TY_ERROR && !(got.kind == TY_SCALAR && c.param_ty.kind != TY_ERROR))
      unify(&c, want, got, p->override, "this -D value for the param");
    if (got.kind == TY_ERROR) t = got;
  }
  if (t.kind != TY_ERROR && S->diags.nerrors == before) {
    ty final = c.param_ty.kind != TY_ERROR ? c.param_ty : t;
    ir_shape sh;
    if (final.kind == TY_SCALAR) sh = ir_scalar_shape();
    else if (final.kind == TY_VECTOR) sh = ir_vector_shape(dim_value(&c, final.r));
    else sh = ir_matrix_shape(dim_value(&c, final.r), dim_value(&c, final.c));
    /* Sizes are ints and a param is allocated whole: cap the element count. */
    double count = (double)sh.rows * (double)sh.cols;
    if (count > PARAM_MAX_ELEMENTS)
      diag_error(c.d, init->src, init->loc, "param '%s' would hold %.0f numbers (%d x %d); the limit is %.0f",
                 p->name, count, sh.rows, sh.cols, PARAM_MAX_ELEMENTS);
    else
      p->shape = sh;
  }
  chk_free(&c);
  if (S->diags.nerrors != before) return S->diags.nerrors - before;
  return params_evaluate(S, p);
}

int sema_check_sym(hnn_state *S, sym *s) {
  if (s->kind == SYM_PARAM) {
    if (s->evaluated) return 0;
    if (s->evaluating) {
      diag_error(&S->diags, s->decl->src, s->decl->name_loc, "param '%s' depends on itself", s->name);
      return 1;
    }
    s->evaluating = 1;
    int r = check_param(S, s);
    s->evaluating = 0;
    return r;
  }
  if (s->epoch == S->epoch) return s->failed;
  if (s->checking) {
    diag_error(&S->diags, s->decl->src, s->decl->name_loc, "'%s' is defined in terms of itself (a cycle)", s->name);
    return 1;
  }
  s->checking = 1;
  int r = s->kind == SYM_FLOW || s->kind == SYM_MIRROR ? flows_check_decl(S, s) : check_callable(S, s);
  s->checking = 0;
  s->epoch = S->epoch;
  s->failed = r != 0;
  if (r) {
    sig_free(&s->sig);
    s->sig.result = error_ty();
  }
  return r ? 1 : 0;
}

int sema_check_expr(hnn_state *S, ast *e, ty *t) {
  chk c;
  memset(&c, 0, sizeof c);
  c.S = S;
  c.d = &S->diags;
  c.param_ty = error_ty();
  int before = S->diags.nerrors;
  ty r = check(&c, e);
  if (r.kind == TY_STRING && S->diags.nerrors == before)
    diag_error(c.d, e->src, e->loc, "a string is not a value that can be printed");
  if (r.kind == TY_VECTOR || r.kind == TY_MATRIX) {
    if (!dim_value(&c, r.r) || (r.kind == TY_MATRIX && !dim_value(&c, r.c))) {
      if (S->diags.nerrors == before) diag_error(c.d, e->src, e->loc, "the size of this value is not known");
    } else {
      r.r = known(dim_value(&c, r.r));
      if (r.kind == TY_MATRIX) r.c = known(dim_value(&c, r.c));
    }
  }
  if (t) *t = r;
  chk_free(&c);
  return S->diags.nerrors - before;
}

int sema_check_unit(hnn_state *S, ast **stmts, int nstmts) {
  int before = S->diags.nerrors;
  for (int i = 0; i < nstmts; i++) {
    ast *st = stmts[i];
    if (!ast_declares(st)) continue;
    sym *s = state_lookup(S, st->name);
    if (s) sema_check_sym(S, s);
  }
  (void)shape_to_ty;
  return S->diags.nerrors - before;
}

int ty_is_numeric(ty t) { return t.kind == TY_SCALAR || t.kind == TY_VECTOR || t.kind == TY_MATRIX; }

char *ty_to_string(ty t, char **gen) {
  strbuf b = STRBUF_INIT;
  switch (t.kind) {
  case TY_SCALAR: sb_puts(&b, "scalar"); break;
  case TY_VECTOR: case TY_MATRIX:
    sb_puts(&b, t.kind == TY_VECTOR ? "vector[" : "matrix[");
    for (int k = 0; k < (t.kind == TY_MATRIX ? 2 : 1); k++) {
      tdim d = k ? t.c : t.r;
      if (k) sb_putc(&b, ',');
      if (d.val > 0) sb_printf(&b, "%d", d.val);
      else sb_puts(&b, gen ? gen[d.var] : "n");
    }
    sb_putc(&b, ']');
    break;
  default: sb_puts(&b, "?");
  }
  return sb_take(&b);
}

char *sig_to_string(const sym *s) {
  strbuf b = STRBUF_INIT;
  sb_printf(&b, "%s %s", sym_kind_name(s->kind), s->name);
  if (s->kind == SYM_PARAM) {
    if (s->shape.kind == IR_VECTOR) sb_printf(&b, "[%d]", s->shape.rows);
    if (s->shape.kind == IR_MATRIX) sb_printf(&b, "[%d,%d]", s->shape.rows, s->shape.cols);
    return sb_take(&b);
  }
  if (s->kind == SYM_FLOW || s->kind == SYM_MIRROR) {
    char *d = ast_to_string(s->decl->kids[0]);
    sb_printf(&b, " = %s", d);
    free(d);
    return sb_take(&b);
  }
  if (s->kind == SYM_METRIC && s->mform != MET_EXPLICIT) {
    sb_puts(&b, s->mform == MET_EUCLIDEAN ? " = euclidean" : " = hopfield(");
    if (s->mform == MET_HOPFIELD) sb_printf(&b, "%s)", s->mact);
    return sb_take(&b);
  }
  sb_putc(&b, '(');
  for (int i = 0; i < s->sig.nformals; i++) {
    ast *f = s->decl->kids[i];
    ty t = s->sig.formal[i];
    sb_printf(&b, "%s%s", i ? ", " : "", f->name);
    if (t.kind != TY_SCALAR) {
      char *ts = ty_to_string(t, s->sig.gen_name);
      sb_puts(&b, strchr(ts, '['));
      free(ts);
    }
  }
  char *rs = ty_to_string(s->sig.result, s->sig.gen_name);
  sb_printf(&b, ") -> %s", s->kind == SYM_ACTIVATION ? "elementwise" : rs);
  free(rs);
  return sb_take(&b);
}
