/*
** jko_entropic.c — Peyre's entropic JKO step by generalized Sinkhorn
** iterations on log potentials (see jko_entropic.h).
**
** The Gibbs kernel exp(-|x - y|^2/eps) on a tensor grid is the product of
** 1-D kernels, so log(K e^L) is a log-sum-exp along x on every row, then
** along y on every column.  Rows (then columns) are split over the worker
** pool; each output cell is written by one task, so the bits do not depend
** on the thread count.
*/
#include "jko_entropic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

struct jko_ent {
  jko_ent_problem p;
  int N, n0, n1, nt;
  double vol, lvol, gamma;
  double *Vt, *C0, *C1;      /* C_d[k] = (k h_d)^2 / eps */
  double *K0, *K1;           /* K_d[n_d - 1 + k] = exp(-C_d[|k|]), k = 1 - n_d .. n_d - 1 */
  double *ebuf;              /* per thread: exp(L - max L) of one line */
  double *alpha, *beta, *lp, *lK, *tmp, *y;
  int warm;
};

static int bad_problem(const jko_ent_problem *p, char *msg, size_t len) {
  const fv_grid *g = &p->grid;
  if (g->dim != 1 && g->dim != 2) {
    flow_msg(msg, len, "jko_entropic: the grid dimension must be 1 or 2 (got %d)", g->dim);
    return 1;
  }
  for (int d = 0; d < g->dim; d++)
    if (g->n[d] < 2 || g->n[d] > 65536 || !(g->hi[d] > g->lo[d]) || !isfinite(g->hi[d] - g->lo[d])) {
      flow_msg(msg, len, "jko_entropic: dimension %d needs 2 to 65536 cells on an interval lo < hi", d);
      return 1;
    }
  if (!(p->eps > 0) || !isfinite(p->eps) || !(p->T >= 0) || !isfinite(p->T) || !(p->nu >= 0) || !isfinite(p->nu) ||
      (p->nu > 0 && !(p->m > 1 && isfinite(p->m)))) {
    flow_msg(msg, len, "jko_entropic: need eps > 0, T >= 0, nu >= 0 and m > 1 when nu > 0");
    return 1;
  }
  return 0;
}

jko_ent *jko_ent_new(const jko_ent_problem *p, char *msg, size_t len) {
  if (bad_problem(p, msg, len)) return NULL;
  jko_ent *J = calloc(1, sizeof *J);
  if (!J) {
    flow_msg(msg, len, "jko_entropic: out of memory");
    return NULL;
  }
  J->p = *p;
  J->n0 = p->grid.n[0];
  J->n1 = p->grid.dim == 2 ? p->grid.n[1] : 1;
  J->N = J->n0 * J->n1;
  if (J->p.max_iter <= 0) J->p.max_iter = 100000;
  if (!(J->p.tol > 0)) J->p.tol = 1e-9;
  J->nt = p->threads > 0 ? p->threads : pool_max_threads();
  double h0 = fv_width(&p->grid, 0), h1 = p->grid.dim == 2 ? fv_width(&p->grid, 1) : 1;
  J->vol = h0 * h1;
  J->lvol = log(J->vol);
  size_t N = (size_t)J->N;
  double **arrs[] = { &J->Vt, &J->alpha, &J->beta, &J->lp, &J->lK, &J->tmp, &J->y };
  int bad = 0;
  for (size_t k = 0; k < sizeof arrs / sizeof *arrs; k++) bad |= !(*arrs[k] = calloc(N, sizeof(double)));
  bad |= !(J->C0 = malloc(sizeof(double) * J->n0)) | !(J->C1 = malloc(sizeof(double) * J->n1));
  bad |= !(J->K0 = malloc(sizeof(double) * (2 * J->n0 - 1))) | !(J->K1 = malloc(sizeof(double) * (2 * J->n1 - 1)));
  bad |= !(J->ebuf = malloc(sizeof(double) * (size_t)(J->n0 > J->n1 ? J->n0 : J->n1) * J->nt));
  double *ws = malloc(sizeof(double) * (p->V.nwork + 1));
  if (bad || !ws) {
    free(ws);
    flow_msg(msg, len, "jko_entropic: out of memory for %zu cells", N);
    jko_ent_free(J);
    return NULL;
  }
  for (int k = 0; k < J->n0; k++) J->C0[k] = (k * h0) * (k * h0) / p->eps;
  for (int k = 0; k < J->n1; k++) J->C1[k] = (k * h1) * (k * h1) / p->eps;
  for (int k = 1 - J->n0; k < J->n0; k++) J->K0[J->n0 - 1 + k] = exp(-J->C0[k < 0 ? -k : k]);
  for (int k = 1 - J->n1; k < J->n1; k++) J->K1[J->n1 - 1 + k] = exp(-J->C1[k < 0 ? -k : k]);
  if (p->V.fn)
    for (int c = 0; c < J->N; c++) {
      double x[2] = { fv_center(&p->grid, 0, c % J->n0), p->grid.dim == 2 ? fv_center(&p->grid, 1, c / J->n0) : 0 },
             v;
      if (p->V.fn(x, NULL, &v, ws) || !isfinite(v)) {
        flow_msg(msg, len, "jko_entropic: V is not finite at x = (%g, %g)", x[0], x[1]);
        free(ws);
        jko_ent_free(J);
        return NULL;
      }
      J->Vt[c] = v;
    }
  free(ws);
  return J;
}

void jko_ent_free(jko_ent *J) {
  if (!J) return;
  double *arrs[] = { J->Vt, J->alpha, J->beta, J->lp, J->lK, J->tmp, J->y, J->C0, J->C1, J->K0, J->K1, J->ebuf };
  for (size_t k = 0; k < sizeof arrs / sizeof *arrs; k++) free(arrs[k]);
  free(J);
}

/* ---- log K applied along one direction: out[i] = LSE_j(L[j] - C[|i - j|])
** over the n values of a line (stride st).
** Stabilized by the line's maximum M: out[i] = M + log sum_j K[|i - j|] e_j
** with e_j = exp(L[j] - M) <= 1, n exps and n^2 products a line instead of
** n^2 exps.  What it drops is below the smallest double: an e_j or a K
** that underflows contributes less than 1e-307 (n of them less than
** n 1e-307), so when the sum is at least 1e-200 the result has the
** log-domain value to ~1e-15 relative; an output whose sum is smaller (its
** cells far below the line's maximum) is computed in the log domain, term
** by term, as before. */
static double lse_exact(int n, int i, const double *C, const double *L, int st) {
  double mx = -INFINITY;
  for (int j = 0; j < n; j++) {
    double v = L[(size_t)j * st] - C[i > j ? i - j : j - i];
    if (v > mx) mx = v;
  }
  if (mx == -INFINITY) return -INFINITY;
  double s = 0;
  for (int j = 0; j < n; j++) s += exp(L[(size_t)j * st] - C[i > j ? i - j : j - i] - mx);
  return mx + log(s);
}

static void lse_line(int n, const double *C, const double *K, const double *L, int st, double *out, int ost,
                     double *e) {
  double M = -INFINITY;
  for (int j = 0; j < n; j++) M = fmax(M, L[(size_t)j * st]);
  if (M == -INFINITY) {
    for (int i = 0; i < n; i++) out[(size_t)i * ost] = -INFINITY;
    return;
  }
  for (int j = 0; j < n; j++) e[j] = exp(L[(size_t)j * st] - M);
  /* four outputs at a time, each summed over j in order (independent
  ** chains for the pipeline; the same bits as one at a time) */
  const double *Kc = K + n - 1;          /* Kc[d] = exp(-C[|d|]) */
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int j = 0; j < n; j++) {
      double ej = e[j];
      s0 += Kc[i - j] * ej;
      s1 += Kc[i + 1 - j] * ej;
      s2 += Kc[i + 2 - j] * ej;
      s3 += Kc[i + 3 - j] * ej;
    }
    double sq[4] = { s0, s1, s2, s3 };
    for (int q = 0; q < 4; q++)
      out[(size_t)(i + q) * ost] = sq[q] >= 1e-200 ? M + log(sq[q]) : lse_exact(n, i + q, C, L, st);
  }
  for (; i < n; i++) {
    double s = 0;
    for (int j = 0; j < n; j++) s += Kc[i - j] * e[j];
    out[(size_t)i * ost] = s >= 1e-200 ? M + log(s) : lse_exact(n, i, C, L, st);
  }
}

typedef struct kjob {
  jko_ent *J;
  const double *in;
  double *out;
} kjob;

static void rows_body(void *ctx, long lo, long hi, int thread) {
  kjob *k = ctx;
  int n0 = k->J->n0, nm = n0 > k->J->n1 ? n0 : k->J->n1;
  double *e = k->J->ebuf + (size_t)thread * nm;
  for (long r = lo; r < hi; r++) lse_line(n0, k->J->C0, k->J->K0, k->in + r * n0, 1, k->out + r * n0, 1, e);
}

static void cols_body(void *ctx, long lo, long hi, int thread) {
  kjob *k = ctx;
  int n0 = k->J->n0, n1 = k->J->n1, nm = n0 > n1 ? n0 : n1;
  double *e = k->J->ebuf + (size_t)thread * nm;
  for (long c = lo; c < hi; c++) lse_line(n1, k->J->C1, k->J->K1, k->in + c, n0, k->out + c, n0, e);
}

/* out = log(K exp(in)) (K is symmetric, so it is also log(K^T exp(in))) */
static void kapply(jko_ent *J, const double *in, double *out) {
  if (J->p.grid.dim == 1) {
    kjob k = { J, in, out };
    pool_run(J->nt, 1, 0, rows_body, &k);
    return;
  }
  kjob k1 = { J, in, J->tmp };
  pool_run(J->nt, J->n1, 0, rows_body, &k1);
  kjob k2 = { J, J->tmp, out };
  pool_run(J->nt, J->n0, 0, cols_body, &k2);
}

/* log q of the KL proximal map at log z for cell c (see the header):
** y (1 + gT) + g nu m/(m-1) e^((m-1)(y - lvol)) = lz - g (V + T (1 - lvol)) */
static double prox_log(const jko_ent *J, int c, double lz) {
  if (lz == -INFINITY) return -INFINITY;
  double g = J->gamma, T = J->p.T, nu = J->p.nu, m = J->p.m;
  double r = lz - g * (J->Vt[c] + T * (1 - J->lvol)), lin = 1 + g * T;
  double hi = r / lin;
  if (!(nu > 0)) return hi;
  double A = g * nu * m / (m - 1);
#define PHI(y) ((y) * lin + A * exp((m - 1) * ((y) - J->lvol)) - r)
  double lo = hi - 1;
  while (PHI(lo) > 0) lo = hi - 2 * (hi - lo);
  double y = lo;   /* phi is convex increasing: Newton from below may overshoot, the bracket catches it */
  for (int it = 0; it < 200; it++) {
    double e = A * exp((m - 1) * (y - J->lvol)), f = y * lin + e - r;
    if (f > 0) hi = y;
    else lo = y;
    double nx = y - f / (lin + (m - 1) * e);
    if (!(nx > lo && nx < hi)) nx = 0.5 * (lo + hi);
    if (fabs(nx - y) <= 1e-15 * (1 + fabs(y))) return nx;
    y = nx;
  }
#undef PHI
  return y;
}

int jko_ent_step(jko_ent *J, const double *p, double tau, double *q, jko_ent_info *info, char *msg, size_t len) {
  if (!(tau > 0) || !isfinite(tau)) {
    flow_msg(msg, len, "jko_entropic: tau must be positive and finite (got %g)", tau);
    return 2;
  }
  double mass = 0;
  for (int c = 0; c < J->N; c++) {
    if (!(p[c] >= 0) || !isfinite(p[c])) {
      flow_msg(msg, len, "jko_entropic: the mass at cell %d is %g: it must be finite and nonnegative", c, p[c]);
      return 2;
    }
    mass += p[c];
  }
  if (!(mass > 0)) {
    flow_msg(msg, len, "jko_entropic: the start has no mass");
    return 2;
  }
  J->gamma = 2 * tau / J->p.eps;
  for (int c = 0; c < J->N; c++) J->lp[c] = log(p[c]);
  if (!J->warm) {
    memset(J->alpha, 0, sizeof(double) * J->N);
    J->warm = 1;
  }
  /* a cell of p without mass stays without (its a is 0) */
  for (int c = 0; c < J->N; c++)
    if (p[c] == 0) J->alpha[c] = -INFINITY;
    else if (J->alpha[c] == -INFINITY) J->alpha[c] = 0;
  long it;
  double viol = INFINITY;
  for (it = 1; it <= J->p.max_iter; it++) {
    kapply(J, J->alpha, J->lK);                 /* log K^T a */
    for (int c = 0; c < J->N; c++) {
      J->y[c] = prox_log(J, c, J->lK[c]);
      J->beta[c] = J->lK[c] == -INFINITY ? 0 : J->y[c] - J->lK[c];
    }
    kapply(J, J->beta, J->lK);                  /* log K b */
    viol = 0;
    for (int c = 0; c < J->N; c++) {
      viol += fabs(exp(J->alpha[c] + J->lK[c]) - p[c]);
      J->alpha[c] = J->lp[c] - J->lK[c];
    }
    if (!isfinite(viol)) {
      flow_msg(msg, len, "jko_entropic: a potential is not finite at iteration %ld", it);
      return 3;
    }
    if (viol <= J->p.tol * mass) break;
  }
  if (info) {
    info->iterations = it > J->p.max_iter ? J->p.max_iter : it;
    info->violation = viol / mass;
  }
  if (it > J->p.max_iter) {
    flow_msg(msg, len, "jko_entropic: the marginal violation is %g after %d iterations (tol %g)", viol / mass,
             J->p.max_iter, J->p.tol);
    return 3;
  }
  kapply(J, J->alpha, J->lK);
  for (int c = 0; c < J->N; c++) {
    double v = exp(J->beta[c] + J->lK[c]);
    if (!isfinite(v)) {
      flow_msg(msg, len, "jko_entropic: the new mass at cell %d is not finite", c);
      return 3;
    }
    q[c] = v;
  }
  return 0;
}

double jko_ent_energy(const jko_ent *J, const double *q) {
  double e = 0;
  for (int c = 0; c < J->N; c++) {
    double r = q[c] / J->vol;
    e += J->Vt[c] * q[c];
    if (J->p.T > 0 && q[c] > 0) e += J->p.T * q[c] * log(r);
    if (J->p.nu > 0) e += J->p.nu * J->vol * pow(r, J->p.m) / (J->p.m - 1);
  }
  return e;
}
