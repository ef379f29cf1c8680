/*
** prox_kernel.c — the N x N Gibbs kernel of the proximal step: stored or
** built on the fly in blocks, plain-domain sums with exact log-sum-exp
** fallback per entry, a vectorizable exp.
**
** Entries are K_rs = exp(a_r + b_s - C_rs/(2 eps)) with absorbed log
** potentials a (old points), b (new points).  Every output entry is computed
** by one thread in a fixed order, so results do not depend on the thread
** count.  Internal to prox.c (prox_internal.h).
*/
/* FP comparisons may not trap here, so that clamps if-convert and the exp
** loops vectorize; nothing in this file reads the FP exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <string.h>
#include "prox_internal.h"

#define BLK 256          /* columns per block: the block stays in L1 */
#define CBLK 2048        /* output columns per block of a stored column pass */
#define SUM_LO 1e-250    /* plain sums outside [SUM_LO, SUM_HI] are redone */
#define SUM_HI 1e250     /* exactly in the log domain */

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(HNN_NO_CLONES)
#define PROX_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PROX_CLONES
#endif

/*
** exp with relative error < 3e-16 on [-708, 709], 0 below -708 (those terms
** are below 1e-300 of any accepted sum), saturating at 709.  Branch-free so
** that loops over it vectorize: x = k ln2 + r, |r| <= ln2/2, Taylor to r^13.
*/
static inline double prox_fexp(double x) {
  const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
  const int64_t mbits = INT64_C(0x4338000000000000);
  double xc = x > -708.0 ? x : -708.0;
  xc = xc < 709.0 ? xc : 709.0;
  double t = xc * 1.4426950408889634 + magic;
  double kd = t - magic;
  double r = xc - kd * 0.6931471803691238 - kd * 1.9082149292705877e-10;
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  union { double d; int64_t i; } ut = { .d = t }, us;
  int64_t keep = -(int64_t)(x >= -708.0); /* all ones, or 0 below -708 (and NaN) */
  us.i = ((ut.i - mbits + 1023) << 52) & keep;
  return p * us.d;
}

double prox_exp(double x) { return prox_fexp(x); }

/* tmp[s - s0] = base + py[s] (+ lw[s]) - C(r, s) / (2 eps) for s in [s0, s1).
** tr = 0: r indexes old points, s new points; tr = 1: the reverse. */
PROX_CLONES
static void expo_block(const prox_ker *k, int tr, size_t r, size_t s0, size_t s1, double base,
                       const double *py, const double *lw, double *tmp) {
  size_t m = s1 - s0, N = k->N;
  const double ie = k->inv2eps;
  if (lw) {
#pragma omp simd
    for (size_t s = 0; s < m; s++) tmp[s] = base + py[s0 + s] + lw[s0 + s];
  } else {
#pragma omp simd
    for (size_t s = 0; s < m; s++) tmp[s] = base + py[s0 + s];
  }
  if (k->cost) {
    if (!tr) {
      const double *c = k->cost + r * N + s0;
#pragma omp simd
      for (size_t s = 0; s < m; s++) tmp[s] -= c[s] * ie;
    } else {
      for (size_t s = 0; s < m; s++) tmp[s] -= k->cost[(s0 + s) * N + r] * ie;
    }
    return;
  }
  const double *X = tr ? k->cnew : k->cold, *Y = tr ? k->cold : k->cnew;
  for (int d = 0; d < k->n; d++) {
    const double xr = X[(size_t)d * N + r];
    const double *y = Y + (size_t)d * N + s0;
#pragma omp simd
    for (size_t s = 0; s < m; s++) {
      double e = xr - y[s];
      tmp[s] -= e * e * ie;
    }
  }
}

PROX_CLONES
static double sum_exp(const double *tmp, size_t m, double shift) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (size_t s = 0; s < m; s++) acc += prox_fexp(tmp[s] - shift);
  return acc;
}

/* log sum_s exp(px[r] + py[s] + lw[s] - C_rs/2eps), one pass with a
** running maximum (rescaled per block). */
static double lse_entry(const prox_ker *k, int tr, size_t r, const double *px, const double *py,
                        const double *lw) {
  double tmp[BLK], mx = -INFINITY, acc = 0.0;
  for (size_t s0 = 0; s0 < k->N; s0 += BLK) {
    size_t s1 = s0 + BLK < k->N ? s0 + BLK : k->N;
    expo_block(k, tr, r, s0, s1, px[r], py, lw, tmp);
    double bm = -INFINITY;
    for (size_t s = 0; s < s1 - s0; s++)
      if (tmp[s] > bm) bm = tmp[s];
    if (!(bm > -INFINITY)) continue;
    if (bm > mx) {
      acc = mx > -INFINITY ? acc * exp(mx - bm) : 0.0;
      mx = bm;
    }
    acc += sum_exp(tmp, s1 - s0, mx);
  }
  if (!(mx > -INFINITY)) return mx; /* all -inf */
  return mx + log(acc);
}

void prox_ker_lse(const prox_ker *k, int tr, const double *px, const double *py, const double *lw,
                  double *out) {
  long N = (long)k->N;
#pragma omp parallel for schedule(static) num_threads(k->threads) if (k->par)
  for (long r = 0; r < N; r++) out[r] = lse_entry(k, tr, (size_t)r, px, py, lw);
}

PROX_CLONES
static void build_rows(prox_ker *k, long r0, long r1) {
  for (long r = r0; r < r1; r++) {
    double *row = k->K + (size_t)r * k->N;
    for (size_t s0 = 0; s0 < k->N; s0 += BLK) {
      size_t s1 = s0 + BLK < k->N ? s0 + BLK : k->N;
      expo_block(k, 0, (size_t)r, s0, s1, k->a[r], k->b, NULL, row + s0);
#pragma omp simd
      for (size_t s = 0; s < s1 - s0; s++) row[s0 + s] = prox_fexp(row[s0 + s]);
    }
  }
}

PROX_CLONES
static void build_rows_f(prox_ker *k, long r) {
  double tmp[BLK];
  float *row = k->Kf + (size_t)r * k->N;
  for (size_t s0 = 0; s0 < k->N; s0 += BLK) {
    size_t s1 = s0 + BLK < k->N ? s0 + BLK : k->N;
    expo_block(k, 0, (size_t)r, s0, s1, k->a[r], k->b, NULL, tmp);
#pragma omp simd
    for (size_t s = 0; s < s1 - s0; s++) row[s0 + s] = (float)prox_fexp(tmp[s]);
  }
}

void prox_ker_build(prox_ker *k) {
  long N = (long)k->N;
  if (k->Kf) {
#pragma omp parallel for schedule(static) num_threads(k->threads) if (k->par)
    for (long r = 0; r < N; r++) build_rows_f(k, r);
    return;
  }
  if (!k->K) return;
#pragma omp parallel for schedule(static) num_threads(k->threads) if (k->par)
  for (long r = 0; r < N; r++) build_rows(k, r, r + 1);
}

PROX_CLONES
static double dot_row(const double *row, const double *v, size_t N) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (size_t s = 0; s < N; s++) acc += row[s] * v[s];
  return acc;
}

PROX_CLONES
static double dot_row_f(const float *row, const double *v, size_t N) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (size_t s = 0; s < N; s++) acc += (double)row[s] * v[s];
  return acc;
}

PROX_CLONES
static void axpy_block_f(double *acc, const float *row, double u, size_t m) {
#pragma omp simd
  for (size_t s = 0; s < m; s++) acc[s] += (double)row[s] * u;
}

PROX_CLONES
static void axpy_block(double *acc, const double *row, double u, size_t m) {
#pragma omp simd
  for (size_t s = 0; s < m; s++) acc[s] += row[s] * u;
}

/*
** out[r] = log sum_s exp(px[r] + py[s] + lw[s] - C_rs/2eps) where
** (px, py) = (a, b) for tr = 0 and (b, a) for tr = 1, and w = exp(lw) (all
** ones when lw is NULL).  Plain sums with the stored kernel or on the fly;
** an entry outside [SUM_LO, SUM_HI] is recomputed exactly.  w holds exp(lw)
** (used with the stored kernel).  Returns the number of exact recomputations.
*/
int prox_ker_logapply(const prox_ker *k, int tr, const double *lw, const double *w, double *out) {
  long N = (long)k->N;
  const double *px = tr ? k->b : k->a, *py = tr ? k->a : k->b;
  int nfb = 0;
  if (k->Kf && !tr) {
#pragma omp parallel for schedule(static) num_threads(k->threads) if (k->par)
    for (long r = 0; r < N; r++) out[r] = dot_row_f(k->Kf + (size_t)r * k->N, w, k->N);
  } else if (k->Kf) {
    long nb = (N + CBLK - 1) / CBLK;
#pragma omp parallel for schedule(static) num_threads(k->threads) if (k->par)
    for (long bi = 0; bi < nb; bi++) {
      size_t j0 = (size_t)bi * CBLK, j1 = j0 + CBLK < k->N ? j0 + CBLK : k->N;
      memset(out + j0, 0, (j1 - j0) * sizeof *out);
      for (size_t i = 0; i < k->N; i++) axpy_block_f(out + j0, k->Kf + i * k->N + j0, w[i], j1 - j0);
    }
  } else if (k->K && !tr) {
#pragma omp parallel for schedule(static) num_threads(k->threads) if (k->par)
    for (long r = 0; r < N; r++) out[r] = dot_row(k->K + (size_t)r * k->N, w, k->N);
  } else if (k->K) {
    long nb = (N + CBLK - 1) / CBLK;
#pragma omp parallel for schedule(static) num_threads(k->threads) if (k->par)
    for (long bi = 0; bi < nb; bi++) {
      size_t j0 = (size_t)bi * CBLK, j1 = j0 + CBLK < k->N ? j0 + CBLK : k->N;
      memset(out + j0, 0, (j1 - j0) * sizeof *out);
      for (size_t i = 0; i < k->N; i++) axpy_block(out + j0, k->K + i * k->N + j0, w[i], j1 - j0);
    }
  } else {
#pragma omp parallel for schedule(static) num_threads(k->threads) if (k->par)
    for (long r = 0; r < N; r++) {
      double tmp[BLK], acc = 0.0;
      for (size_t s0 = 0; s0 < k->N; s0 += BLK) {
        size_t s1 = s0 + BLK < k->N ? s0 + BLK : k->N;
        expo_block(k, tr, (size_t)r, s0, s1, px[r], py, lw, tmp);
        acc += sum_exp(tmp, s1 - s0, 0.0);
      }
      out[r] = acc;
    }
  }
  /* logs and fallbacks, serially counted, entries independent */
#pragma omp parallel for schedule(static) num_threads(k->threads) if (k->par) reduction(+ : nfb)
  for (long r = 0; r < N; r++) {
    double s = out[r];
    if (s >= SUM_LO && s <= SUM_HI) {
      out[r] = log(s);
    } else {
      out[r] = lse_entry(k, tr, (size_t)r, px, py, lw);
      nfb++;
    }
  }
  return nfb;
}
