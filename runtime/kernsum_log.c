/*
** kernsum_log.c — Gaussian kernel sums with weights given by their logs,
** results as logs (ks_logsum, see kernsum.h): the form the entropic fixed
** points need, whose potentials span more than the range of doubles.
**
** The weights are shifted by their largest log, w_j = exp(lw_j - m) <= 1,
** and summed by ks_sum (exact path, or the grid path for tol > 0).  A sum
** is kept only where it is certified:
**   grid   its absolute bound B (ks_stats.bound_pot) is <= r * sum, with
**          r = 1 - exp(-tol): then |log sum - log exact| <= -log(1 - r) = tol;
**   exact  sum >= 1e-250: the terms that underflowed (each < 1e-307 of the
**          largest weight, N of them) are below 2^-52 of it.
** Other targets (far from every heavy source, or a sum that the grid's
** absolute error could make negative) are recomputed exactly: by the exact
** path of ks_sum with the same weights where that sum is certified, else in
** the log domain (the largest exponent first, then the shifted sum).
** Weights that underflow in the shift are < e^-708 of the largest; certified
** sums are >= 1e-13 of it (the grid) or 1e-250, so dropping them is below
** rounding.  Results never depend on the thread count.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fastexp.h"
#include "kernsum_internal.h"
#include "pool.h"

#define KL_BLOCK 1024          /* sources per block of the log-domain recomputation */
#define KL_EXACT_MIN 1e-250    /* exact sums at least this large are kept */
#define KL_GRID_RATIO 1e-6     /* grid tolerance / r: sums below 1e-6 of the weight are recomputed */

typedef struct {
  int d;
  size_t N;
  const double *x, *y, *lw;
  double kc;                   /* 1 / (2 h^2) */
  const size_t *idx;           /* the targets to recompute */
  double *lpot;
} kl_job;

/* lw_j - |x - y_j|^2 kc for sources [j0, j0 + m) into v. */
static inline void exponents(const kl_job *J, const double *xi, size_t j0, size_t m, double *v) {
  const int d = J->d;
  for (size_t j = 0; j < m; j++) v[j] = 0;
  for (int a = 0; a < d; a++) {
    const double xa = xi[a], *ya = J->y + j0 * (size_t)d + (size_t)a;
#pragma omp simd
    for (size_t j = 0; j < m; j++) {
      double e = ya[j * (size_t)d] - xa;
      v[j] += e * e;
    }
  }
  const double *lw = J->lw + j0, kc = J->kc;
#pragma omp simd
  for (size_t j = 0; j < m; j++) v[j] = lw[j] - v[j] * kc;
}

static void recompute(void *ctx, long lo, long hi, int thread) {
  const kl_job *J = ctx;
  double v[KL_BLOCK];
  (void)thread;
  for (long q = lo; q < hi; q++) {
    size_t i = J->idx[q];
    const double *xi = J->x + i * (size_t)J->d;
    double mx = -INFINITY;
    for (size_t j0 = 0; j0 < J->N; j0 += KL_BLOCK) {
      size_t m = J->N - j0 < KL_BLOCK ? J->N - j0 : KL_BLOCK;
      exponents(J, xi, j0, m, v);
      double bm = -INFINITY;
#pragma omp simd reduction(max : bm)
      for (size_t j = 0; j < m; j++) bm = v[j] > bm ? v[j] : bm;
      mx = bm > mx ? bm : mx;
    }
    double s = 0;
    for (size_t j0 = 0; j0 < J->N; j0 += KL_BLOCK) {
      size_t m = J->N - j0 < KL_BLOCK ? J->N - j0 : KL_BLOCK;
      exponents(J, xi, j0, m, v);
      double bs = 0;
#pragma omp simd reduction(+ : bs)
      for (size_t j = 0; j < m; j++) bs += hnn_fexp(v[j] - mx);
      s += bs;
    }
    J->lpot[i] = mx + log(s); /* s >= 1: the largest term is exp(0) */
  }
}

/* The targets idx[0..*n) that the grid could not certify, by the exact path
** with the same shifted weights (vectorized, blocked: far cheaper than the
** log domain); those still below KL_EXACT_MIN stay in idx, *n of them. */
static int exact_again(double h, int d, const double *x, size_t N, const double *y, const double *w, double m,
                       int threads, size_t *idx, size_t *n, double *lpot) {
  size_t nre = *n, keep = 0;
  double *xs = malloc(nre * (size_t)d * sizeof *xs), *pe = malloc(nre * sizeof *pe);
  int rc = KS_ENOMEM;
  if (!xs || !pe) goto out;
  for (size_t q = 0; q < nre; q++)
    memcpy(xs + q * (size_t)d, x + idx[q] * (size_t)d, (size_t)d * sizeof *xs);
  ks_opts eo;
  ks_opts_default(&eo);
  eo.threads = threads, eo.method = KS_EXACT;
  if ((rc = ks_sum(KS_GAUSS, h, d, nre, xs, N, y, w, pe, NULL, &eo, NULL))) goto out;
  for (size_t q = 0; q < nre; q++) {
    if (pe[q] >= KL_EXACT_MIN) lpot[idx[q]] = m + log(pe[q]);
    else idx[keep++] = idx[q];
  }
  *n = keep;
out:
  free(xs), free(pe);
  return rc;
}

int ks_logsum(double h, int d, size_t M, const double *x, size_t N, const double *y, const double *lw, double *lpot,
              const ks_opts *o, ks_stats *st) {
  ks_opts od;
  if (!o) {
    ks_opts_default(&od);
    o = &od;
  }
  if (st) memset(st, 0, sizeof *st);
  if (d < 1 || N < 1 || !y || !lw || (M && (!x || !lpot)) || !(h > 0 && isfinite(h)) || !(o->tol >= 0) ||
      !isfinite(o->tol) || o->threads < 0)
    return KS_EINVAL;
  if (M == 0) return KS_OK;
  double m = -INFINITY;
  for (size_t j = 0; j < N; j++) {
    if (!isfinite(lw[j])) return KS_ENONFINITE;
    m = lw[j] > m ? lw[j] : m;
  }
  double *w = malloc(N * sizeof *w), *pot = malloc(M * sizeof *pot);
  size_t *idx = malloc(M * sizeof *idx);
  int rc = KS_ENOMEM;
  if (!w || !pot || !idx) goto out;
#pragma omp simd
  for (size_t j = 0; j < N; j++) w[j] = hnn_fexp(lw[j] - m);
  const double r = -expm1(-o->tol);
  ks_opts so = *o;
  if (o->tol > 0) {
    so.tol = r * KL_GRID_RATIO;
    if (so.tol < KS_GRID_TOL_MIN) so.tol = KS_GRID_TOL_MIN;
  }
  ks_stats ss;
  if ((rc = ks_sum(KS_GAUSS, h, d, M, x, N, y, w, pot, NULL, &so, &ss))) goto out;
  const double keep = ss.method == KS_GRID ? ss.bound_pot / r : KL_EXACT_MIN;
  size_t nre = 0;
  for (size_t i = 0; i < M; i++) {
    if (pot[i] >= keep) lpot[i] = m + log(pot[i]);
    else idx[nre++] = i;
  }
  size_t nlog = nre;
  if (nre && ss.method == KS_GRID && (rc = exact_again(h, d, x, N, y, w, m, o->threads, idx, &nlog, lpot))) goto out;
  kl_job J = { d, N, x, y, lw, 0.5 / (h * h), idx, lpot };
  pool_run(o->threads ? o->threads : pool_max_threads(), (long)nlog, 1, recompute, &J);
  if (st) {
    *st = ss;
    st->bound_pot = ss.method == KS_GRID ? o->tol : 0;
    st->bound_grad = 0;
    st->recomputed = nre;
  }
  rc = KS_OK;
out:
  free(w), free(pot), free(idx);
  return rc;
}
