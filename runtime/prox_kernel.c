/*
** prox_kernel.c — the N x N Gibbs kernel of the proximal step: stored (single
** or double precision) or built on the fly row by row; one fused pass per
** iteration for the row and the column sums, plain-domain with an exact
** log-sum-exp fallback per sum; a vectorizable exp.
**
** Entries are K_rs = exp(a_r + b_s - C_rs/(2 eps)) with absorbed log
** potentials a (old points), b (new points).  Every sum is computed in an
** order fixed by N alone, so results do not depend on the thread count.
** Internal to prox.c (prox_internal.h).
*/
/* FP comparisons may not trap here, so that clamps if-convert and the exp
** loops vectorize; nothing in this file reads the FP exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <string.h>
#include "fastexp.h"
#include "pool.h"
#include "par.h"
#include "prox_internal.h"

#define BLK 256          /* columns per block: the block stays in L1 */
#define SUM_LO 1e-250    /* plain sums outside [SUM_LO, SUM_HI] are redone */
#define SUM_HI 1e250     /* exactly in the log domain */

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(HNN_NO_CLONES)
#define PROX_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PROX_CLONES
#endif

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
  for (size_t s = 0; s < m; s++) acc += hnn_fexp13(tmp[s] - shift);
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

PROX_CLONES
static void build_row(const prox_ker *k, size_t r, double *row) {
  for (size_t s0 = 0; s0 < k->N; s0 += BLK) {
    size_t s1 = s0 + BLK < k->N ? s0 + BLK : k->N;
    expo_block(k, 0, r, s0, s1, k->a[r], k->b, NULL, row + s0);
#pragma omp simd
    for (size_t s = 0; s < s1 - s0; s++) row[s0 + s] = hnn_fexp13(row[s0 + s]);
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
    for (size_t s = 0; s < s1 - s0; s++) row[s0 + s] = (float)hnn_fexp13(tmp[s]);
  }
}

static void build_range(void *ctx, long lo, long hi, int thread) {
  prox_ker *k = ctx;
  (void)thread;
  for (long r = lo; r < hi; r++) {
    if (k->Kf) build_rows_f(k, r);
    else build_row(k, (size_t)r, k->K + (size_t)r * k->N);
  }
}

/* In an MPI job each process builds and sweeps the rows of its parts only. */
static int distributed(const prox_ker *k) { return k->par && par_active(); }

static void my_rows(const prox_ker *k, size_t *r0, size_t *r1) {
  long p0 = 0, p1 = PROX_PARTS;
  if (distributed(k)) par_share(PROX_PARTS, &p0, &p1);
  *r0 = k->N * (size_t)p0 / PROX_PARTS, *r1 = k->N * (size_t)p1 / PROX_PARTS;
}

typedef struct {
  prox_ker *k;
  size_t r0;             /* the first row of this process */
} build_job;

static void build_mine(void *ctx, long lo, long hi, int thread) {
  build_job *B = ctx;
  build_range(B->k, lo + (long)B->r0, hi + (long)B->r0, thread);
}

void prox_ker_build(prox_ker *k) {
  size_t r1;
  build_job B = { k, 0 };
  my_rows(k, &B.r0, &r1);   /* here: inside a pool task nothing is split */
  if (k->Kf || k->K) pool_run(k->par ? k->threads : 1, (long)(r1 - B.r0), 0, build_mine, &B);
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

/* One sweep's arrays (prox_ker_sweep's arguments) and its fallback counts,
** shared by the row and the column passes. */
typedef struct {
  const prox_ker *k;
  const double *lwz, *wz, *lro;
  double *ls, *lwy, *wy, *lt, *part;
  int rfb, cfb;          /* fallback counts (atomic adds: order-free) */
  long p0;               /* the first part of this process (par.h) */
  double prfb[PROX_PARTS]; /* row fallbacks per part (doubles: one gather type) */
} sweep_job;

/* Row ranges p = lo..hi-1 of the PROX_PARTS: row sums, weights, partial
** column sums. */
static void sweep_rows(void *ctx, long lo, long hi, int thread) {
  sweep_job *J = ctx;
  const prox_ker *k = J->k;
  const size_t N = k->N;
  int rfb = 0;
  (void)thread;
  for (long p = lo + J->p0; p < hi + J->p0; p++) {
    int rfb0 = rfb;
    size_t r0 = N * (size_t)p / PROX_PARTS, r1 = N * (size_t)(p + 1) / PROX_PARTS;
    double *acc = J->part + (size_t)p * N, *buf = k->K || k->Kf ? NULL : J->part + (size_t)(PROX_PARTS + p) * N;
    memset(acc, 0, N * sizeof *acc);
    for (size_t r = r0; r < r1; r++) {
      const float *rf = k->Kf ? k->Kf + r * N : NULL;
      const double *rd = k->K ? k->K + r * N : buf;
      if (!rf && !k->K) build_row(k, r, buf);
      double s = rf ? dot_row_f(rf, J->wz, N) : dot_row(rd, J->wz, N);
      int plain = s >= SUM_LO && s <= SUM_HI;
      J->ls[r] = plain ? log(s) : lse_entry(k, 0, r, k->a, k->b, J->lwz);
      J->lwy[r] = J->lro[r] - J->ls[r];
      J->wy[r] = exp(J->lwy[r]);
      if (!plain) rfb++;
      else if (rf) axpy_block_f(acc, rf, J->wy[r], N);
      else axpy_block(acc, rd, J->wy[r], N);
    }
    J->prfb[p] = rfb - rfb0;
  }
  if (rfb) __atomic_add_fetch(&J->rfb, rfb, __ATOMIC_RELAXED);
}

/* Every process's parts into every process: the row results, the partial
** column sums and the fallback counts.  The column pass then runs on every
** process over the same numbers, so each gets the one-process columns.
** Nonzero when another process failed. */
static int gather_rows(sweep_job *J) {
  const size_t N = J->k->N;
  double *rows[3] = { J->ls, J->lwy, J->wy };
  size_t off[PROX_PARTS + 1];
  for (int p = 0; p <= PROX_PARTS; p++) off[p] = N * (size_t)p / PROX_PARTS * sizeof(double);
  for (int a = 0; a < 3; a++)
    if (par_gather_parts(rows[a], PROX_PARTS, off, 0, NULL, 0)) return 1;
  if (par_gather(J->part, PROX_PARTS, N * sizeof(double), 0, NULL, 0) ||
      par_gather(J->prfb, PROX_PARTS, sizeof(double), 0, NULL, 0))
    return 1;
  J->rfb = 0;
  for (int p = 0; p < PROX_PARTS; p++) J->rfb += (int)J->prfb[p];
  return 0;
}

/* Columns lo..hi-1: the partial sums added in part order. */
static void sweep_columns(void *ctx, long lo, long hi, int thread) {
  sweep_job *J = ctx;
  const prox_ker *k = J->k;
  const size_t N = k->N;
  int cfb = 0;
  (void)thread;
  for (long j = lo; j < hi; j++) {
    double s = 0.0;
    for (int p = 0; p < PROX_PARTS; p++) s += J->part[(size_t)p * N + (size_t)j];
    if (!J->rfb && s >= SUM_LO && s <= SUM_HI) {
      J->lt[j] = log(s);
    } else {
      J->lt[j] = lse_entry(k, 1, (size_t)j, k->b, k->a, J->lwy);
      cfb++;
    }
  }
  if (cfb) __atomic_add_fetch(&J->cfb, cfb, __ATOMIC_RELAXED);
}

/*
** One pass over the kernel for both sums of an iteration.  Row r
** gives ls_r = log sum_s K_rs wz_s; then y_r = exp(lro_r - ls_r) weights the
** same row, still in cache, into the column sums lt (= log sum_r K_rs y_r).
** This halves the kernel traffic of separate row and column passes (and the
** exps of a kernel built on the fly, row by row, into part's second half).
** Column sums accumulate over PROX_PARTS fixed row ranges, added in order, so
** no result depends on the thread count.  A sum outside [SUM_LO, SUM_HI] is
** redone exactly; after such a row, whose weight the plain column sums lack,
** every column is (rare: the caller then absorbs the potentials).  part
** holds PROX_PARTS x N doubles, twice that for a kernel built on the fly.
** Returns the number of exact recomputations.
*/
int prox_ker_sweep(const prox_ker *k, const double *lwz, const double *wz, const double *lro, double *ls,
                   double *lwy, double *wy, double *lt, double *part) {
  sweep_job J = { k, lwz, wz, lro, ls, lwy, wy, lt, part, 0, 0, 0, { 0 } };
  int nt = k->par ? k->threads : 1;
  long p1 = PROX_PARTS;
  if (distributed(k)) par_share(PROX_PARTS, &J.p0, &p1);
  pool_run(nt, p1 - J.p0, 0, sweep_rows, &J);
  if (distributed(k) && gather_rows(&J)) return -1;
  pool_run(nt, (long)k->N, 0, sweep_columns, &J);
  return J.cfb;
}
