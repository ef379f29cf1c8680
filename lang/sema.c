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
#include "energy.h"
#include "sema_impl.h"
#include "state.h"
#include "strbuf.h"

/* ------------------------------------------------------ declarations */

/* Size of a formal's dimension: a literal, a param, or a size variable. */
static tdim formal_dim(chk *c, ast *f, int k, int *bad) {
  if (!f->dimname[k]) return known(f->dimval[k]);
  local *l = sema_find_local(c, f->dimname[k]);
  if (l && l->size_var >= 0) return varying(l->size_var);
  sym *p = state_lookup(c->S, f->dimname[k]);
  if (p && p->kind == SYM_PARAM) {
    if (sema_check_sym(c->S, p)) {
      *bad = 1;
      return known(1);
    }
    double v = p->shape.kind == IR_SCALAR ? p->data[0] : -1;
    if (!(v >= 1 && v == floor(v) && v <= VALUE_MAX_ELEMENTS)) {
      char got[32];
      snprintf(got, sizeof got, v < 1e15 ? "%.0f" : "%g", v);
      if (v >= 1 && v == floor(v))
        diag_error(c->d, f->src, f->loc, "param '%s' is used as a size but is %s; the limit is %.0f", p->name, got,
                   VALUE_MAX_ELEMENTS);
      else
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
  int v = sema_newvar(c, f->dimname[k]);
  sema_push_local(c, f->dimname[k], scalar(), v);
  return varying(v);
}

/* Turn the context's dims into a signature's known sizes and generic indexes. */
static tdim generalize(chk *c, tdim d, sig *s, int **map) {
  int v = sema_dim_value(c, d);
  if (v) return known(v);
  int root = sema_find(c, d.var);
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
    sema_push_local(&c, f->name, ft[i], -1);
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
      r = sema_check(&c, body);
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
        ty ri = sema_check(&c, d->kids[2]);
        if (ri.kind != TY_SCALAR) {
          if (ri.kind != TY_ERROR)
            diag_error(c.d, d->kids[2]->src, d->kids[2]->loc, "the inverse must be a scalar expression of x");
          bad = 1;
        }
      }
      break;
    case AST_OBJECTIVE:
      if (r.kind != TY_SCALAR) {
        char *t = sema_describe(&c, r);
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
    case AST_NEURON:
      if (r.kind != TY_SCALAR || nformals - d->nparams != 1) {
        diag_error(c.d, d->src, d->name_loc,
                   "a neuron is a scalar function of its parameters and one input: neuron phi(xi[p]; z[d]) = ...");
        bad = 1;
      }
      break;
    case AST_METRIC:
      if (nformals == 0) break;
      if (nformals != 1 || ft[0].kind != TY_VECTOR) {
        diag_error(c.d, d->src, d->name_loc, "a metric takes one vector argument: metric M(x[n]) = ...");
        bad = 1;
      } else if (r.kind != TY_MATRIX || sema_unify_dim(&c, r.r, ft[0].r) || sema_unify_dim(&c, r.c, ft[0].r)) {
        char *t = sema_describe(&c, r);
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
  sema_chk_free(&c);
  /* a failure met earlier (a declaration used) is reported once, so count it */
  return bad && S->diags.nerrors == before ? 1 : S->diags.nerrors - before;
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
    int r = sema_const_int(&c, d->kids[k], &dims[k]);
    if (r == 1 && dims[k] < 1) {
      diag_error(c.d, d->kids[k]->src, d->kids[k]->loc, "a size must be at least 1, got %d", dims[k]);
      r = -1;
    }
    if (r != 1) bad = 1;
  }
  if (!bad && d->ndims == 1) c.param_ty = mk(TY_VECTOR, known(dims[0]), known(1));
  if (!bad && d->ndims == 2) c.param_ty = mk(TY_MATRIX, known(dims[0]), known(dims[1]));
  ty t = bad ? error_ty() : sema_check(&c, init);
  if (t.kind == TY_STRING) {
    diag_error(c.d, init->src, init->loc, "a param holds numbers: use csv(\"%s\") to read a file", init->name);
    t = error_ty();
  }
  if (t.kind != TY_ERROR && c.param_ty.kind != TY_ERROR && t.kind != TY_SCALAR)
    sema_unify(&c, c.param_ty, t, init, "the declared size");
  if (t.kind != TY_ERROR && p->override && S->diags.nerrors == before) {
    /* A -D value keeps the declared shape (a scalar fills a vector or matrix). */
    ty want = c.param_ty.kind != TY_ERROR ? c.param_ty : t;
    ty got = sema_check(&c, p->override);
    if (got.kind != TY_ERROR && !(got.kind == TY_SCALAR && c.param_ty.kind != TY_ERROR))
      sema_unify(&c, want, got, p->override, "this -D value for the param");
    if (got.kind == TY_ERROR) t = got;
  }
  if (t.kind != TY_ERROR && S->diags.nerrors == before) {
    ty final = c.param_ty.kind != TY_ERROR ? c.param_ty : t;
    ir_shape sh;
    if (final.kind == TY_SCALAR) sh = ir_scalar_shape();
    else if (final.kind == TY_VECTOR) sh = ir_vector_shape(sema_dim_value(&c, final.r));
    else sh = ir_matrix_shape(sema_dim_value(&c, final.r), sema_dim_value(&c, final.c));
    /* Sizes are ints and a param is allocated whole: cap the element count. */
    double count = (double)sh.rows * (double)sh.cols;
    if (count > PARAM_MAX_ELEMENTS)
      diag_error(c.d, init->src, init->loc, "param '%s' would hold %.0f numbers (%d x %d); the limit is %.0f",
                 p->name, count, sh.rows, sh.cols, PARAM_MAX_ELEMENTS);
    else
      p->shape = sh;
  }
  sema_chk_free(&c);
  if (S->diags.nerrors != before) return S->diags.nerrors - before;
  if (t.kind == TY_ERROR) return 1;   /* a param it uses failed, reported there */
  return params_evaluate(S, p);
}

int sema_check_sym(hnn_state *S, sym *s) {
  if (s->kind == SYM_PARAM) {
    if (s->evaluated) return 0;
    if (s->epoch == S->epoch && s->failed) return 1;   /* reported once, not at every use */
    if (s->evaluating) {
      diag_error(&S->diags, s->decl->src, s->decl->name_loc, "param '%s' depends on itself", s->name);
      return 1;
    }
    s->evaluating = 1;
    int r = check_param(S, s);
    s->evaluating = 0;
    s->epoch = S->epoch;
    s->failed = r != 0;
    return r;
  }
  if (s->epoch == S->epoch) return s->failed;
  if (s->checking) {
    diag_error(&S->diags, s->decl->src, s->decl->name_loc, "'%s' is defined in terms of itself (a cycle)", s->name);
    return 1;
  }
  s->checking = 1;
  int r = s->kind == SYM_FLOW || s->kind == SYM_MIRROR ? S->layers->check_flow_decl(S, s)
          : s->kind == SYM_ENERGY                    ? energy_check(S, s)
                                                     : check_callable(S, s);
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
  ty r = sema_check(&c, e);
  if (r.kind == TY_STRING && S->diags.nerrors == before)
    diag_error(c.d, e->src, e->loc, "a string is not a value that can be printed");
  if (r.kind == TY_VECTOR || r.kind == TY_MATRIX) {
    if (!sema_dim_value(&c, r.r) || (r.kind == TY_MATRIX && !sema_dim_value(&c, r.c))) {
      if (S->diags.nerrors == before) diag_error(c.d, e->src, e->loc, "the size of this value is not known");
    } else {
      r.r = known(sema_dim_value(&c, r.r));
      if (r.kind == TY_MATRIX) r.c = known(sema_dim_value(&c, r.c));
    }
  }
  if (t) *t = r;
  sema_chk_free(&c);
  return S->diags.nerrors - before;
}

int sema_check_unit(hnn_state *S, ast **stmts, int nstmts) {
  int before = S->diags.nerrors;
  sema_precheck(S, stmts, nstmts);
  for (int i = 0; i < nstmts; i++) {
    ast *st = stmts[i];
    if (!ast_declares(st)) continue;
    sym *s = state_lookup(S, st->name);
    if (s) sema_check_sym(S, s);
  }
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
  if (s->kind == SYM_FLOW || s->kind == SYM_MIRROR || s->kind == SYM_ENERGY) {
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
    sb_printf(&b, "%s%s", !i ? "" : s->kind == SYM_NEURON && i == s->decl->nparams ? "; " : ", ", f->name);
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
