/*
** law.c — reading and drawing the laws of law.h.
*/
#include "law.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"

static int fail(hnn_state *S, const ast *e, const char *msg) {
  diag_error(&S->diags, e->src, e->loc, "%s", msg);
  return HNN_ERR_SCRIPT;
}

static int usage(hnn_state *S, const ast *e, const char *what) {
  diag_error(&S->diags, e->src, e->loc,
             "%s uniform([a, b]^n), uniform(lo, hi), normal(mean, var), csv(\"file\"), a param matrix of points "
             "or mixture([w1, ...], law1, ...)",
             what);
  return HNN_ERR_SCRIPT;
}

static void set_uniform_norm(flow_law *L) {
  double vol = 1;
  for (int j = 0; j < L->n; j++) vol *= L->b[j] - L->a[j];
  L->volume = vol;
}

/* uniform([a, b]^n) */
static int read_box(hnn_state *S, ast *box, flow_law *L) {
  if (box->kind != AST_BINOP || box->op != '^' || box->kids[0]->kind != AST_VECTOR || box->kids[0]->nkids != 2)
    return fail(S, box, "a box is written [a, b]^n");
  double *ab = NULL, *nv = NULL;
  ir_shape sa, sb;
  int r = flow_eval_value(S, box->kids[0], &ab, &sa);
  if (r == HNN_OK) r = flow_eval_value(S, box->kids[1], &nv, &sb);
  if (r == HNN_OK && (sb.kind != IR_SCALAR || !(nv[0] >= 1 && nv[0] == floor(nv[0]) && nv[0] <= 1e6)))
    r = fail(S, box->kids[1], "the dimension n of [a, b]^n must be a whole number >= 1");
  if (r == HNN_OK && !(ab[0] < ab[1])) r = fail(S, box, "a box [a, b] needs a < b");
  if (r == HNN_OK) {
    L->kind = LAW_UNIFORM;
    L->n = (int)nv[0];
    L->a = hnn_xmalloc((size_t)L->n * sizeof *L->a);
    L->b = hnn_xmalloc((size_t)L->n * sizeof *L->b);
    for (int i = 0; i < L->n; i++) L->a[i] = ab[0], L->b[i] = ab[1];
    set_uniform_norm(L);
  }
  free(ab);
  free(nv);
  return r;
}

/* uniform(lo, hi) and normal(mean, var) */
static int read_two(hnn_state *S, ast *e, flow_law *L) {
  int normal = e->name[0] == 'n';
  ir_shape sa, sb;
  int r = flow_eval_value(S, e->kids[0], &L->a, &sa);
  if (r == HNN_OK) r = flow_eval_value(S, e->kids[1], &L->b, &sb);
  if (r != HNN_OK) return r;
  if (sa.kind == IR_SCALAR) sa.kind = IR_VECTOR, sa.rows = 1;          /* 1-D laws may be written with numbers */
  if (sb.kind == IR_SCALAR && sa.rows == 1) sb.kind = IR_VECTOR, sb.rows = 1;
  if (sa.kind != IR_VECTOR) return fail(S, e->kids[0], normal ? "the mean must be a vector" : "a corner of the box must be a vector");
  L->n = sa.rows;
  L->kind = normal ? LAW_NORMAL : LAW_UNIFORM;
  int ok = normal ? (sb.kind == IR_VECTOR && sb.rows == L->n) || (sb.kind == IR_MATRIX && sb.rows == L->n && sb.cols == L->n)
                  : sb.kind == IR_VECTOR && sb.rows == L->n;
  if (!ok)
    return fail(S, e->kids[1], normal ? "the variances must be a vector of the mean's length, or a covariance matrix"
                                      : "the corners of the box must have the same length");
  int n = L->n;
  if (normal && sb.kind == IR_VECTOR) {   /* variances -> diagonal covariance */
    double *c = hnn_xcalloc((size_t)n * n, sizeof *c);
    for (int i = 0; i < n; i++) c[i * n + i] = L->b[i];
    free(L->b);
    L->b = c;
  }
  for (int i = 0; i < n; i++)
    if (normal ? !(L->b[i * n + i] > 0) : !(L->a[i] < L->b[i]))
      return fail(S, e->kids[1], normal ? "variances must be positive" : "every lower corner must be below the upper corner");
  if (!normal) {
    set_uniform_norm(L);
    return HNN_OK;
  }
  L->chol = hnn_xmalloc((size_t)n * n * sizeof *L->chol);
  memcpy(L->chol, L->b, (size_t)n * n * sizeof *L->chol);
  gsl_matrix_view C = gsl_matrix_view_array(L->chol, (size_t)n, (size_t)n);
  if (gsl_linalg_cholesky_decomp1(&C.matrix) != GSL_SUCCESS) return fail(S, e->kids[1], "the covariance is not positive definite");
  double logdet = 0;
  for (int j = 0; j < n; j++) logdet += 2 * log(L->chol[j * n + j]);
  L->logdet = logdet;
  return HNN_OK;
}

static int read_csv(hnn_state *S, ast *e, flow_law *L) {
  int rows, cols;
  char **header = NULL, *err = NULL;
  if (csv_load(e->kids[0]->name, e->src->name, &L->points, &rows, &cols, &header, &err)) {
    diag_error(&S->diags, e->kids[0]->src, e->kids[0]->loc, "%s", err);
    free(err);
    return HNN_ERR_SCRIPT;
  }
  for (int j = 0; header && j < cols; j++) free(header[j]);
  free(header);
  L->kind = LAW_POINTS;
  L->n = cols;
  L->npoints = rows;
  return HNN_OK;
}

static int read_matrix(hnn_state *S, ast *e, flow_law *L) {
  double *v = NULL;
  ir_shape sh;
  int r = flow_eval_value(S, e, &v, &sh);
  if (r != HNN_OK) return r;
  if (sh.kind != IR_MATRIX) {
    free(v);
    return fail(S, e, "a point set given by a param is a matrix, one point per row");
  }
  L->kind = LAW_POINTS;
  L->points = v;
  L->npoints = sh.rows;
  L->n = sh.cols;
  return HNN_OK;
}

static int read_mixture(hnn_state *S, ast *e, const char *what, flow_law *L) {
  if (e->nkids < 2) return fail(S, e, "mixture([w1, ..., wK], law1, ..., lawK) needs weights and at least one law");
  double *w = NULL;
  ir_shape sw;
  int r = flow_eval_value(S, e->kids[0], &w, &sw);
  if (r != HNN_OK) return r;
  int K = e->nkids - 1;
  if (!((sw.kind == IR_VECTOR && sw.rows == K) || (sw.kind == IR_SCALAR && K == 1))) {
    free(w);
    return fail(S, e->kids[0], "a mixture has one weight per law, in a vector");
  }
  double tot = 0;
  for (int k = 0; k < K; k++) {
    if (!(w[k] >= 0) || !isfinite(w[k])) {
      free(w);
      return fail(S, e->kids[0], "mixture weights must be finite and >= 0");
    }
    tot += w[k];
  }
  if (!(tot > 0)) {
    free(w);
    return fail(S, e->kids[0], "mixture weights must not all be 0");
  }
  for (int k = 0; k < K; k++) w[k] /= tot;
  L->kind = LAW_MIXTURE;
  L->weight = w;
  L->ncomp = K;
  L->comp = hnn_xcalloc((size_t)K, sizeof *L->comp);
  for (int k = 0; k < K; k++) {
    ast *c = e->kids[k + 1];
    r = law_read(S, c, what, &L->comp[k]);
    if (r != HNN_OK) return r;
    if (L->comp[k].kind != LAW_UNIFORM && L->comp[k].kind != LAW_NORMAL)
      return fail(S, c, "the laws of a mixture are uniform or normal");
    if (k && L->comp[k].n != L->comp[0].n) return fail(S, c, "the laws of a mixture must have one dimension");
  }
  L->n = L->comp[0].n;
  return HNN_OK;
}

int law_read(hnn_state *S, ast *e, const char *what, flow_law *L) {
  memset(L, 0, sizeof *L);
  if (e->kind == AST_NAME) {
    sym *p = state_lookup(S, e->name);
    if (p && p->kind == SYM_PARAM) {
      if (sema_check_sym(S, p) || !p->data) return HNN_ERR_SCRIPT;   /* reported where p is declared */
      return read_matrix(S, e, L);
    }
  }
  if (!ast_is_plain_call(e)) return usage(S, e, what);
  if (strcmp(e->name, "uniform") == 0 && e->nkids == 1) return read_box(S, e->kids[0], L);
  if ((strcmp(e->name, "uniform") == 0 || strcmp(e->name, "normal") == 0) && e->nkids == 2) return read_two(S, e, L);
  if (strcmp(e->name, "csv") == 0 && e->nkids == 1 && e->kids[0]->kind == AST_STR) return read_csv(S, e, L);
  if (strcmp(e->name, "mixture") == 0) return read_mixture(S, e, what, L);
  return usage(S, e, what);
}

static double density_one(const flow_law *L, const double *x) {
  int n = L->n;
  if (L->kind == LAW_UNIFORM) {
    for (int j = 0; j < n; j++)
      if (x[j] < L->a[j] || x[j] > L->b[j]) return 0;
    return 1 / L->volume;
  }
  /* normal: |chol^-1 (x - mean)|^2 by forward substitution */
  double q = 0, z[64], *zz = n <= 64 ? z : hnn_xmalloc((size_t)n * sizeof *zz);
  for (int j = 0; j < n; j++) {
    double s = x[j] - L->a[j];
    for (int k = 0; k < j; k++) s -= L->chol[j * n + k] * zz[k];
    zz[j] = s / L->chol[j * n + j];
    q += zz[j] * zz[j];
  }
  if (zz != z) free(zz);
  return exp(-0.5 * q - 0.5 * L->logdet - 0.5 * n * log(2 * M_PI));
}

double law_density(const flow_law *L, const double *x) {
  if (L->kind != LAW_MIXTURE) return density_one(L, x);
  double p = 0;
  for (int k = 0; k < L->ncomp; k++) p += L->weight[k] * density_one(&L->comp[k], x);
  return p;
}

/* One draw of a uniform or normal law; its density there (from z for a
** normal, the way the particle flows always computed it). */
static double draw_one(const flow_law *L, gsl_rng *r, double *x, double *z) {
  int n = L->n;
  if (L->kind == LAW_UNIFORM) {
    for (int j = 0; j < n; j++) x[j] = gsl_ran_flat(r, L->a[j], L->b[j]);
    return 1 / L->volume;
  }
  double q = 0;
  for (int j = 0; j < n; j++) {
    z[j] = gsl_ran_gaussian_ziggurat(r, 1.0);
    q += z[j] * z[j];
  }
  for (int j = 0; j < n; j++) {
    double s = L->a[j];
    for (int k = 0; k <= j; k++) s += L->chol[j * n + k] * z[k];
    x[j] = s;
  }
  return exp(-0.5 * q - 0.5 * L->logdet - 0.5 * n * log(2 * M_PI));
}

void law_sample(const flow_law *L, int N, gsl_rng *r, double *x, double *rho) {
  int n = L->n;
  if (L->kind == LAW_POINTS) {
    memcpy(x, L->points, (size_t)N * n * sizeof *x);
    for (int i = 0; rho && i < N; i++) rho[i] = 1;   /* unknown: normalized by the first step */
    return;
  }
  double *z = hnn_xmalloc((size_t)n * sizeof *z);
  for (int i = 0; i < N; i++) {
    const flow_law *c = L;
    if (L->kind == LAW_MIXTURE) {
      double u = gsl_rng_uniform(r), acc = 0;
      int k = 0;
      while (k < L->ncomp - 1 && u >= (acc += L->weight[k])) k++;
      c = &L->comp[k];
    }
    double p = draw_one(c, r, x + (size_t)i * n, z);
    if (rho) rho[i] = L->kind == LAW_MIXTURE ? law_density(L, x + (size_t)i * n) : p;
  }
  free(z);
}

void law_free(flow_law *L) {
  free(L->a);
  free(L->b);
  free(L->chol);
  free(L->points);
  for (int k = 0; k < L->ncomp; k++) law_free(&L->comp[k]);
  free(L->comp);
  free(L->weight);
  memset(L, 0, sizeof *L);
}
