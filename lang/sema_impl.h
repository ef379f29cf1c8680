/*
** sema_impl.h — what the checker's files share: the checking context (size
** variables under union-find, local names), type constructors, unification,
** and the expression checker.
*/
#ifndef HNN_SEMA_IMPL_H
#define HNN_SEMA_IMPL_H

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

/* The most numbers one value (a param, an intermediate) may hold: 800 MB of doubles. */
#define VALUE_MAX_ELEMENTS 1e8
#define PARAM_MAX_ELEMENTS VALUE_MAX_ELEMENTS

static inline tdim known(int n) { tdim d = { n, -1 }; return d; }
static inline tdim varying(int v) { tdim d = { 0, v }; return d; }
static inline ty mk(ty_kind k, tdim r, tdim cc) { ty t = { k, r, cc }; return t; }
static inline ty scalar(void) { return mk(TY_SCALAR, known(1), known(1)); }
static inline ty error_ty(void) { return mk(TY_ERROR, known(1), known(1)); }

/* size variables (sema_dims.c) */
int sema_newvar(chk *c, const char *name);
int sema_find(chk *c, int v);
int sema_dim_value(chk *c, tdim d);
void sema_dim_describe(chk *c, tdim d, strbuf *b);
char *sema_describe(chk *c, ty t);                 /* "a vector of length 3" */
int sema_unify_dim(chk *c, tdim a, tdim b);        /* 0 on success */
int sema_unify(chk *c, ty want, ty got, const ast *at, const char *what);
/* scopes and names */
void sema_push_local(chk *c, const char *name, ty t, int size_var);
local *sema_find_local(chk *c, const char *name);
void sema_chk_free(chk *c);
void sema_unknown_name(chk *c, const ast *e, const char *name);
/* integer constants: 1 known, 0 depends on a free size, -1 error (reported) */
int sema_const_int(chk *c, ast *e, int *out);
/* the type of an expression (sema_expr.c); errors reported, TY_ERROR then */
ty sema_check(chk *c, ast *e);
/* Check the long dependency chains of a unit bottom-up (sema_order.c). */
void sema_precheck(hnn_state *S, ast **stmts, int nstmts);

/* The most levels of expressions the checker nests, summed over the
** declarations checked on demand on the way (sema_expr.c, sema_check). */
#define SEMA_MAX_DEPTH 2000

#endif
