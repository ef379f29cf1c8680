/*
** builtins.c — the table of builtin functions.
*/
#include "builtins.h"
#include "fisher.h"

#include <math.h>
#include <string.h>

static const builtin table[] = {
  { "exp", BI_FN1, 1, 1, IR_EXP, 0 },     { "log", BI_FN1, 1, 1, IR_LOG, 0 },
  { "log1p", BI_FN1, 1, 1, IR_LOG1P, 0 }, { "expm1", BI_FN1, 1, 1, IR_EXPM1, 0 },
  { "sqrt", BI_FN1, 1, 1, IR_SQRT, 0 },   { "sin", BI_FN1, 1, 1, IR_SIN, 0 },
  { "cos", BI_FN1, 1, 1, IR_COS, 0 },     { "tan", BI_FN1, 1, 1, IR_TAN, 0 },
  { "asin", BI_FN1, 1, 1, IR_ASIN, 0 },   { "acos", BI_FN1, 1, 1, IR_ACOS, 0 },
  { "atan", BI_FN1, 1, 1, IR_ATAN, 0 },   { "sinh", BI_FN1, 1, 1, IR_SINH, 0 },
  { "cosh", BI_FN1, 1, 1, IR_COSH, 0 },   { "tanh", BI_FN1, 1, 1, IR_TANH, 0 },
  { "asinh", BI_FN1, 1, 1, IR_ASINH, 0 }, { "acosh", BI_FN1, 1, 1, IR_ACOSH, 0 },
  { "atanh", BI_FN1, 1, 1, IR_ATANH, 0 }, { "sech", BI_FN1, 1, 1, IR_SECH, 0 },
  { "abs", BI_FN1, 1, 1, IR_ABS, 0 },     { "sign", BI_FN1, 1, 1, IR_SIGN, 0 },
  { "step", BI_FN1, 1, 1, IR_STEP, 0 },   { "erf", BI_FN1, 1, 1, IR_ERF, 0 },
  { "min", BI_MINMAX, 2, 2, 0, 0 },       { "max", BI_MINMAX, 2, 2, 0, 1 },
  { "sum", BI_SUM, 1, 1, 0, 0 },          { "mean", BI_MEAN, 1, 1, 0, 0 },
  { "dot", BI_DOT, 2, 2, 0, 0 },          { "norm2", BI_NORM2, 1, 1, 0, 0 },
  { "norm", BI_NORM, 1, 1, 0, 0 },        { "diag", BI_DIAG, 1, 1, 0, 0 },
  { "transpose", BI_TRANSPOSE, 1, 1, 0, 0 }, { "outer", BI_OUTER, 2, 2, 0, 0 },
  { "eye", BI_EYE, 1, 1, 0, 0 },          { "uniform", BI_UNIFORM, 2, 2, 0, 0 },
  { "linspace", BI_LINSPACE, 3, 3, 0, 0 },
  { "normal", BI_NORMAL, 2, 2, 0, 0 },    { "csv", BI_CSV, 1, 2, 0, 0 },
  { "hopfield", BI_HOPFIELD, 1, 1, 0, 0 }, { "euclidean", BI_EUCLIDEAN, 0, 0, 0, 0 },
  { "geodesic", BI_GEODESIC, 3, 3, 0, 0 },  { "bregman", BI_BREGMAN, 3, 3, 0, 0 },
  { "gibbs", BI_GIBBS, 3, 4, 0, 0 },        { "partition", BI_PARTITION, 2, 3, 0, 0 },
  /* common names in scripts (w2 is a weight in 004): declarations shadow them */
  { "w2", BI_W2, 2, 3, 0, 0, 1 },           { "sinkhorn", BI_SINKHORN, 2, 4, 0, 0, 1 },
  { "mmd", BI_MMD, 3, 4, 0, 0, 1 },
  { "fisher", BI_FISHER, 2, FISHER_MAX_ARGS, 0, 0 },
};

const builtin *builtin_find(const char *name) {
  for (size_t i = 0; i < sizeof table / sizeof *table; i++)
    if (strcmp(table[i].name, name) == 0) return &table[i];
  return NULL;
}

int name_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 31 || lb > 31) return 99;
  int d[32][32];
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      d[i][j] = best;
    }
  return d[la][lb];
}

const char *builtin_closest(const char *name, int *maxdist) {
  const char *best = NULL;
  for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
    int d = name_distance(name, table[i].name);
    if (d < *maxdist) *maxdist = d, best = table[i].name;
  }
  return best;
}

int const_number(const ast *e, const_name_fn name, const_name_fn other, void *ctx, double *out) {
  switch (e->kind) {
  case AST_NUM: *out = e->num; return 1;
  case AST_NAME: return name(ctx, e, out);
  case AST_NEG: {
    int r = const_number(e->kids[0], name, other, ctx, out);
    *out = -*out;
    return r;
  }
  case AST_BINOP: {
    double a = 0, b = 0;
    int ra = const_number(e->kids[0], name, other, ctx, &a), known = ra;
    for (int i = 1; i < e->nkids; i++) {
      int rb = const_number(e->kids[i], name, other, ctx, &b);
      if (ra < 0 || rb < 0) return -1;
      known = known && rb;
      switch (e->op) {
      case '+': a = a + b; break;
      case '-': a = a - b; break;
      case '*': a = a * b; break;
      case '/': a = a / b; break;
      default: a = pow(a, b); break;
      }
    }
    *out = a;
    return known ? 1 : 0;
  }
  default: return other(ctx, e, out);
  }
}
