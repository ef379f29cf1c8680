/*
** sema_dims.c — the checker's sizes and names: size variables unified with
** union-find, type descriptions for messages, local scopes, "did you mean"
** hints, and integer constant expressions (sizes, indices).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "sema_impl.h"
#include "state.h"
#include "strbuf.h"

/* ---------------------------------------------------------------- dims */

int sema_newvar(chk *c, const char *name) {
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

int sema_find(chk *c, int v) {
  while (c->parent[v] != v) v = c->parent[v] = c->parent[c->parent[v]];
  return v;
}


/* Resolve a dim to its current value (0 if still free). */
int sema_dim_value(chk *c, tdim d) {
  if (d.val > 0) return d.val;
  return c->val[sema_find(c, d.var)];
}

void sema_dim_describe(chk *c, tdim d, strbuf *b) {
  int v = sema_dim_value(c, d);
  if (v > 0) sb_printf(b, "%d", v);
  else sb_puts(b, c->vname[sema_find(c, d.var)] ? c->vname[sema_find(c, d.var)] : "n");
}


char *sema_describe(chk *c, ty t) {
  strbuf b = STRBUF_INIT;
  switch (t.kind) {
  case TY_SCALAR: sb_puts(&b, "a scalar"); break;
  case TY_STRING: sb_puts(&b, "a string"); break;
  case TY_ERROR: sb_puts(&b, "an invalid value"); break;
  case TY_VECTOR: sb_puts(&b, "a vector of length "); sema_dim_describe(c, t.r, &b); break;
  case TY_MATRIX:
    sb_puts(&b, "a ");
    sema_dim_describe(c, t.r, &b);
    sb_puts(&b, " x ");
    sema_dim_describe(c, t.c, &b);
    sb_puts(&b, " matrix");
    break;
  }
  return sb_take(&b);
}

/* Unify two dims; 0 on success. */
int sema_unify_dim(chk *c, tdim a, tdim b) {
  int va = a.val > 0 ? a.val : 0, vb = b.val > 0 ? b.val : 0;
  int ra = va ? -1 : sema_find(c, a.var), rb = vb ? -1 : sema_find(c, b.var);
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
int sema_unify(chk *c, ty want, ty got, const ast *at, const char *what) {
  if (want.kind == TY_ERROR || got.kind == TY_ERROR) return -1;
  int ok = want.kind == got.kind;
  if (ok && (want.kind == TY_VECTOR || want.kind == TY_MATRIX)) ok = sema_unify_dim(c, want.r, got.r) == 0;
  if (ok && want.kind == TY_MATRIX) ok = sema_unify_dim(c, want.c, got.c) == 0;
  if (!ok) {
    char *w = sema_describe(c, want), *g = sema_describe(c, got);
    diag_error(c->d, at->src, at->loc, "dimension mismatch: %s expects %s, got %s", what, w, g);
    free(w);
    free(g);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------- scopes */

void sema_push_local(chk *c, const char *name, ty t, int size_var) {
  if (c->nlocals == c->caplocals) {
    c->caplocals = c->caplocals ? 2 * c->caplocals : 8;
    c->locals = hnn_xrealloc(c->locals, (size_t)c->caplocals * sizeof *c->locals);
  }
  local l = { name, t, size_var };
  c->locals[c->nlocals++] = l;
}

local *sema_find_local(chk *c, const char *name) {
  for (int i = c->nlocals - 1; i >= 0; i--)
    if (strcmp(c->locals[i].name, name) == 0) return &c->locals[i];
  return NULL;
}

void sema_chk_free(chk *c) {
  free(c->parent);
  free(c->val);
  free(c->min);
  free(c->vname);
  free(c->locals);
}

void sema_unknown_name(chk *c, const ast *e, const char *name) {
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
  local *l = sema_find_local(c, e->name);
  if (l && l->size_var >= 0) {
    int n = c->val[sema_find(c, l->size_var)];
    *v = n;
    return n ? 1 : 0;
  }
  sym *p = l ? NULL : state_lookup(c->S, e->name);
  if (!p || p->kind != SYM_PARAM) {
    if (!l && !p) sema_unknown_name(c, e, e->name);
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
int sema_const_int(chk *c, ast *e, int *out) {
  double v;
  int r = const_number(e, const_name, const_other, c, &v);
  if (r <= 0) return r;
  if (!(v == floor(v))) {
    diag_error(c->d, e->src, e->loc, "a size or index must be a whole number, got %g", v);
    return -1;
  }
  if (fabs(v) > VALUE_MAX_ELEMENTS) {
    char got[32];
    snprintf(got, sizeof got, fabs(v) < 1e15 ? "%.0f" : "%g", v);
    diag_error(c->d, e->src, e->loc, "a size or index is at most %.0f (the most numbers one value may hold), got %s",
               VALUE_MAX_ELEMENTS, got);
    return -1;
  }
  *out = (int)v;
  return 1;
}

