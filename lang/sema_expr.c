/*
** sema_expr.c — the type of every expression: arithmetic with broadcasting
** and matrix products, indexing, vector literals, calls of builtins and of
** user declarations (instantiating size-generic signatures), grad, hessian,
** s', s'', metrics, and the interpreter-evaluated builtins.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "distexpr.h"
#include "sema_impl.h"
#include "state.h"
#include "strbuf.h"

/* -------------------------------------------------------- expressions */

static ty binop_type(chk *c, ast *e, ty a, ty b);

/* Operands fold left to right (a + b + c is one node with three kids). */
static ty check_binop(chk *c, ast *e) {
  ty t = sema_check(c, e->kids[0]);
  for (int i = 1; i < e->nkids; i++) {
    ty b = sema_check(c, e->kids[i]);
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
    if (sema_unify_dim(c, a.c, b.r) != 0) {
      char *da = sema_describe(c, a), *db = sema_describe(c, b);
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
  if (sema_unify_dim(c, a.r, b.r) != 0 || (a.kind == TY_MATRIX && sema_unify_dim(c, a.c, b.c) != 0)) {
    char *da = sema_describe(c, a), *db = sema_describe(c, b);
    diag_error(c->d, e->src, e->loc, "dimension mismatch in '%s': %s and %s", op, da, db);
    free(da);
    free(db);
    return error_ty();
  }
  return a;
}

static ty check_index(chk *c, ast *e) {
  ty b = sema_check(c, e->kids[0]);
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
    int i, r = sema_const_int(c, e->kids[k + 1], &i);
    if (r < 0) return error_ty();
    if (r == 0) continue;   /* checked when the sizes are known (lowering) */
    int n = sema_dim_value(c, d);
    if (i < 1 || (n && i > n)) {
      diag_error(c->d, e->kids[k + 1]->src, e->kids[k + 1]->loc,
                 "index %d out of range 1..%d (indices start at 1)", i, n ? n : 1);
      return error_ty();
    }
    if (!n && i > c->min[sema_find(c, d.var)]) c->min[sema_find(c, d.var)] = i;
  }
  return scalar();
}

static ty check_vector(chk *c, ast *e) {
  if (e->nkids == 0) {
    diag_error(c->d, e->src, e->loc, "empty vector");
    return error_ty();
  }
  ty first = sema_check(c, e->kids[0]);
  int bad = first.kind == TY_ERROR;
  for (int i = 1; i < e->nkids; i++) {
    ty t = sema_check(c, e->kids[i]);
    if (t.kind == TY_ERROR || bad) {
      bad = 1;
      continue;
    }
    if (t.kind != first.kind || (t.kind == TY_VECTOR && sema_unify_dim(c, first.r, t.r) != 0)) {
      char *a = sema_describe(c, first), *b = sema_describe(c, t);
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
    for (int i = 0; i < e->nkids; i++) sema_check(c, e->kids[i]);
    return error_ty();
  }
  int *inst = hnn_xcalloc((size_t)(s->ngen + 1), sizeof *inst);
  for (int g = 0; g < s->ngen; g++) {
    inst[g] = sema_newvar(c, s->gen_name[g]);
    c->min[inst[g]] = s->gen_min[g];
  }
#define INST(d) ((d).val > 0 ? (d) : varying(inst[(d).var]))
  int bad = 0;
  for (int i = 0; i < e->nkids; i++) {
    ty want = s->formal[i];
    want.r = INST(want.r);
    want.c = INST(want.c);
    ty got = sema_check(c, e->kids[i]);
    if (argty) argty[i] = got;
    char what[160];
    snprintf(what, sizeof what, "argument %d of '%s'", i + 1, f->name);
    if (got.kind == TY_ERROR || sema_unify(c, want, got, e->kids[i], what)) bad = 1;
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
  int r = sema_dim_value(c, t.r), cc = t.kind == TY_MATRIX ? sema_dim_value(c, t.c) : 1;
  return r && cc ? r * cc : 0;
}

static ty check_deriv(chk *c, ast *e, sym *f) {
  if (f->kind != SYM_OBJECTIVE && f->kind != SYM_FUNCTION && f->kind != SYM_KERNEL && f->kind != SYM_NEURON) {
    diag_error(c->d, e->src, e->name_loc, "%s of '%s': only objectives, functions, kernels and neurons have one (%s '%s')",
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
    if ((t[i] = sema_check(c, e->kids[i])).kind == TY_ERROR) return error_ty();
  int ok = 1;
  if (k <= 1) ok = t[1].kind == TY_VECTOR && sema_unify_dim(c, t[1].r, t[2].r) == 0;
  if (k >= 2) ok = t[1].kind == TY_SCALAR;
  if (k == 2) ok = ok && t[2].kind == TY_VECTOR && (e->nkids < 4 || (t[3].kind == TY_VECTOR && sema_dim_value(c, t[3].r) == 2));
  if (k == 3) ok = ok && (e->nkids < 3 || (t[2].kind == TY_VECTOR && sema_dim_value(c, t[2].r) == 2));
  if (!ok) {
    diag_error(c->d, e->src, e->loc, "usage: %s (points are vectors of one length; a box is [lo, hi])", usage[k]);
    return error_ty();
  }
  return scalar();
}

/* fisher(lp, theta, data...): lp(theta, data...) is a call of a function
** giving one log-likelihood (a scalar) or one per sample (a vector); the
** result is the p x p matrix of theta's p values (lang/fisher.c). */
static ty check_fisher(chk *c, ast *e) {
  static const char *usage = "usage: fisher(lp, theta, data...), where lp(theta, data...) gives the log-likelihood of "
                             "each sample (a vector) or of one (a scalar)";
  ast *a0 = e->kids[0];
  sym *f = a0->kind == AST_NAME ? state_lookup(c->S, a0->name) : NULL;
  if (!f || (f->kind != SYM_FUNCTION && f->kind != SYM_OBJECTIVE)) {
    diag_error(c->d, a0->src, a0->loc, "%s", usage);
    return error_ty();
  }
  if (sema_check_sym(c->S, f)) return error_ty();
  ast call = *e;   /* the call lp(theta, data...): the same arguments */
  call.kids = e->kids + 1;
  call.nkids = e->nkids - 1;
  ty *argty = hnn_xcalloc((size_t)e->nkids + 1, sizeof *argty);
  ty r = check_call_sig(c, &call, f, argty);
  ty th = argty[0];
  free(argty);
  if (r.kind == TY_ERROR) return r;
  int p = th.kind == TY_VECTOR ? sema_dim_value(c, th.r) : 0;
  if (!p || (r.kind != TY_SCALAR && r.kind != TY_VECTOR)) {
    diag_error(c->d, e->src, e->loc, "%s; theta is a vector of known size", usage);
    return error_ty();
  }
  return mk(TY_MATRIX, known(p), known(p));
}

static ty check_builtin(chk *c, ast *e, const builtin *b) {
  if (!ast_is_plain_call(e)) {
    diag_error(c->d, e->src, e->name_loc, "'%s' is a builtin function: it has no %s form", e->name,
               e->inverse ? "inverse" : "derived");
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
  if (b->kind == BI_FISHER) return check_fisher(c, e);
  if (b->kind >= BI_W2) return distexpr_check(c, e, b);
  if (b->kind >= BI_GEODESIC) return check_special(c, e, b);
  ty t[3];
  for (int i = 0; i < e->nkids; i++) {
    t[i] = sema_check(c, e->kids[i]);
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
    if (sema_unify(c, t[0], t[1], e, b->name)) return error_ty();
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
    if (sema_unify(c, t[0], t[1], e->kids[1], "second argument of dot")) return error_ty();
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
    int r = sema_const_int(c, e->kids[0], &n);
    if (r < 0) return error_ty();
    if (r == 0 || n < 1) {
      diag_error(c->d, e->src, e->loc, "eye(n) needs a known positive size");
      return error_ty();
    }
    return mk(TY_MATRIX, known(n), known(n));
  }
  case BI_LINSPACE: {
    int n;
    int r = sema_const_int(c, e->kids[2], &n);
    if (r < 0) return error_ty();
    if (r == 0 || n < 2 || t[0].kind != TY_SCALAR || t[1].kind != TY_SCALAR) {
      diag_error(c->d, e->src, e->loc, "linspace(a, b, n) takes numbers a, b and a known count n >= 2");
      return error_ty();
    }
    return mk(TY_VECTOR, known(n), known(1));
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
        int r = sema_const_int(c, e->kids[1], &col);
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
  char *d = sema_describe(c, t[0]);
  diag_error(c->d, e->src, e->loc, "'%s' does not take %s", b->name, d);
  free(d);
  return error_ty();
}

static ty check_call(chk *c, ast *e) {
  if (sema_find_local(c, e->name)) {
    diag_error(c->d, e->src, e->name_loc, "'%s' is an argument, not a function", e->name);
    return error_ty();
  }
  sym *f = state_lookup(c->S, e->name);
  if (!f) {
    const builtin *b = builtin_find(e->name);
    if (b) return check_builtin(c, e, b);
    sema_unknown_name(c, e, e->name);
    for (int i = 0; i < e->nkids; i++) sema_check(c, e->kids[i]);
    return error_ty();
  }
  if (sema_check_sym(c->S, f)) return error_ty();
  if (e->nprimes && f->kind != SYM_ACTIVATION) {
    diag_error(c->d, e->src, e->name_loc, "'%s' is not an activation: only activations have derivatives written %s'(u); use grad %s(...)",
               e->name, e->name, e->name);
    return error_ty();
  }
  if (e->inverse && f->kind != SYM_ACTIVATION && f->kind != SYM_METRIC) {
    diag_error(c->d, e->src, e->name_loc, "'%s' has no inverse: G^-1(x) is for metrics, s^-1(y) for activations",
               e->name);
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
  case SYM_ENERGY:
    diag_error(c->d, e->src, e->name_loc, "'%s' is an energy, a functional of a density: flows use it, as in particles(%s)",
               e->name, e->name);
    return error_ty();
  case SYM_ACTIVATION: {
    if (e->nkids != 1) {
      diag_error(c->d, e->src, e->loc, "activation '%s' takes 1 argument, %d given", e->name, e->nkids);
      return error_ty();
    }
    ty t = sema_check(c, e->kids[0]);
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
    ty t = sema_check(c, e->kids[0]);
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
  local *l = sema_find_local(c, e->name);
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
  sema_unknown_name(c, e, e->name);
  return error_ty();
}

static ty check_kind(chk *c, ast *e) {
  switch (e->kind) {
  case AST_NUM: return scalar();
  case AST_STR: return mk(TY_STRING, known(1), known(1));
  case AST_NAME: return check_name(c, e);
  case AST_NEG: {
    ty t = sema_check(c, e->kids[0]);
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
/* Checking on demand nests the checks of the declarations used, so the depth
** is summed along a chain of uses; sema_precheck keeps chains short, but a
** chain that leads into a cycle is still checked on demand.  Per thread, as
** the stack is. */
static _Thread_local int check_depth;

ty sema_check(chk *c, ast *e) {
  if (check_depth >= SEMA_MAX_DEPTH) {
    diag_error(c->d, e->src, e->loc, "declarations nested too deeply: more than %d levels of expressions, "
               "counting the declarations used", SEMA_MAX_DEPTH);
    return error_ty();
  }
  check_depth++;
  ty t = check_kind(c, e);
  check_depth--;
  if (t.kind == TY_VECTOR || t.kind == TY_MATRIX) {
    double count = (double)sema_dim_value(c, t.r) * (double)sema_dim_value(c, t.c);
    if (count > VALUE_MAX_ELEMENTS) {
      diag_error(c->d, e->src, e->loc, "this value would hold %.0f numbers; the limit is %.0f", count,
                 VALUE_MAX_ELEMENTS);
      return error_ty();
    }
  }
  return t;
}

