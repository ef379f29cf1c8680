/*
** builtins.h — the builtin functions of the language, one table for the
** checker (arity, shapes) and the lowering (which IR they become).
*/
#ifndef HNN_BUILTINS_H
#define HNN_BUILTINS_H

#include "ir.h"

typedef enum {
  BI_FN1, BI_MINMAX, BI_SUM, BI_MEAN, BI_DOT, BI_NORM2, BI_NORM, BI_DIAG, BI_TRANSPOSE,
  BI_OUTER, BI_EYE, BI_LINSPACE, BI_UNIFORM, BI_NORMAL, BI_CSV, BI_HOPFIELD, BI_EUCLIDEAN,
  BI_FISHER,             /* fisher(lp, theta, data...): lang/fisher.c */
  /* evaluated by the interpreter with a runtime engine (special.c) */
  BI_GEODESIC, BI_BREGMAN, BI_GIBBS, BI_PARTITION,
  /* distances between laws, computed while lowering (distexpr.c) */
  BI_W2, BI_SINKHORN, BI_MMD
} builtin_kind;

typedef struct builtin {
  const char *name;
  builtin_kind kind;
  int min_args, max_args;
  ir_fn1 fn;             /* BI_FN1 */
  int is_max;            /* BI_MINMAX */
  int shadowable;        /* a declaration of this name hides the builtin */
} builtin;

const builtin *builtin_find(const char *name);
/* The builtin closest to a misspelt name within *maxdist edits (updated). */
const char *builtin_closest(const char *name, int *maxdist);

/* Levenshtein distance of two short names (99 when either is long). */
int name_distance(const char *a, const char *b);

#include "ast.h"
/* Value of a constant numeric expression built from numbers, names (resolved
** by `name`, which returns 1 known / 0 unknown / -1 error) and + - * / ^.
** Returns 1 known, 0 unknown (a free size), -1 error (reported by `name` or
** `other`, which is called on any other node). */
typedef int (*const_name_fn)(void *ctx, const ast *e, double *v);
int const_number(const ast *e, const_name_fn name, const_name_fn other, void *ctx, double *out);

#endif
