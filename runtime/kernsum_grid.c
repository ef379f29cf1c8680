/*
** kernsum_grid.c — the fast path for the Gaussian kernel in d <= 3:
** interpolation on a regular grid (a particle-mesh method with a stated
** error bound; no FFT: the Gaussian is separable, so the grid convolution
** is d passes of a 1-D convolution with a truncated kernel).
**
** With L_n the tensor-product Lagrange basis of the p x ... x p grid nodes
** around a point (p even, the point in the central cell), spacing dx,
**   K(x, y) = sum_{n, m} L_n(x) L_m(y) G(z_n - z_m)  ~  G(x - y).
** Steps: spread the weights, f_m = sum_j w_j L_m(y_j); convolve, v_n =
** sum_m G(z_n - z_m) f_m (and G's partial derivatives for the gradient),
** truncated at |z_n - z_m|_a <= taps dx in each coordinate; interpolate,
** pot_i = sum_n L_n(x_i) v_n.
**
** Error bound (one dimension, g(s) = exp(-s^2/(2h^2)), rho = dx/h):
**   E  = kc c_p rho^p / sqrt(p!)              interpolation error of g
**   E' = kc c_p rho^p sqrt(p+1) / sqrt(p!) / h  ... of g'
** from |g^(n)| <= kc sqrt(n!) / h^n (Cramer's bound on Hermite functions,
** kc = 1.086435) and |prod_k (t - t_k)| <= c_p dx^p on the central cell.
** With the Lebesgue constant Lam of the central cell and the truncation
** tails tg = exp(-s^2/2), tg' = s exp(-s^2/2)/h (s = taps rho >= 1), the
** 1-D approximant (interpolated in x and in y) is within
**   e = (1 + Lam) E + Lam^2 tg,   e' = (1 + Lam) E' + Lam^2 tg'
** of g and g'; a product of d of them (the kernel is separable) is within
**   pot:  (1 + e)^d - 1
**   grad: e' (1 + e)^(d-1) + (e^(-1/2)/h) ((1 + e)^(d-1) - 1)
** per unit of sum_j |w_j|.  Rounding adds ~1e-15 relative to the same
** scale; tolerances below KS_GRID_TOL_MIN are refused.
**
** Threads: the spread runs over KS_PARTS fixed slabs of the first
** coordinate, each into its own buffer, added in slab order; convolution
** lines and targets are independent.  No result depends on the thread count.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernsum_internal.h"
#include "pool.h"

#define KS_PARTS 16            /* spread slabs (fixed: results independent of threads) */
#define KS_GRID_MAX 33554432.0 /* points of one grid (256 MB) */
#define KS_PMAX 16
static const double KC = 1.086435;

/* c_p and the Lebesgue constant of p equispaced nodes on the central cell,
** by sampling (both are smooth in t; the margin covers the sampling). */
static void node_consts(int p, double *cp, double *lam) {
  double c = 0, l = 0;
  for (int s = 0; s <= 2000; s++) {
    double t = s / 2000.0, w = 1, sum = 0;
    for (int k = 0; k < p; k++) w *= fabs(t - (k - (p / 2 - 1)));
    for (int k = 0; k < p; k++) {
      double L = 1;
      for (int m = 0; m < p; m++)
        if (m != k) L *= (t - (m - (p / 2 - 1))) / (double)(k - m);
      sum += fabs(L);
    }
    if (w > c) c = w;
    if (sum > l) l = sum;
  }
  *cp = c * 1.001, *lam = l * 1.001;
}

static double bound_with(int d, int p, double cp, double lam, double rho, int taps, double *bgrad) {
  double E = KC * cp * exp(p * log(rho) - 0.5 * lgamma(p + 1.0)), Ep = E * sqrt(p + 1.0); /* Ep: units of 1/h */
  double s = taps * rho, tg = exp(-0.5 * s * s), tgp = (s > 1 ? s : 1) * tg;
  double e = (1 + lam) * E + lam * lam * tg, ep = (1 + lam) * Ep + lam * lam * tgp;
  double pe = pow(1 + e, d - 1);
  *bgrad = ep * pe + exp(-0.5) * (pe - 1);
  return pow(1 + e, d) - 1;
}

void ks_grid_bound(int d, int p, double rho, int taps, double *bpot, double *bgrad) {
  double cp, lam;
  node_consts(p, &cp, &lam);
  *bpot = bound_with(d, p, cp, lam, rho, taps, bgrad);
}

/* Taps for spacing ratio rho: the truncation terms below tol/16. */
static int taps_for(double lam, double rho, double tol) {
  double s = 1;
  while (lam * lam * s * exp(-0.5 * s * s) > tol / 16 && s < 60) s += 0.05;
  return (int)ceil(s / rho);
}

int ks_grid_plan_make(const ks_call *c, double tol, ks_grid_plan *g) {
  const int d = c->d;
  if (c->kind != KS_GAUSS || d > 3 || tol < KS_GRID_TOL_MIN) return -1;
  double lo[3], hi[3];
  for (int a = 0; a < d; a++) lo[a] = INFINITY, hi[a] = -INFINITY;
  for (size_t i = 0; i < c->M; i++)
    for (int a = 0; a < d; a++) {
      double v = c->x[i * (size_t)d + (size_t)a];
      lo[a] = v < lo[a] ? v : lo[a], hi[a] = v > hi[a] ? v : hi[a];
    }
  for (size_t j = 0; j < c->N; j++)
    for (int a = 0; a < d; a++) {
      double v = c->y[j * (size_t)d + (size_t)a];
      lo[a] = v < lo[a] ? v : lo[a], hi[a] = v > hi[a] ? v : hi[a];
    }
  int found = 0;
  for (int p = 4; p <= KS_PMAX; p += 2) {
    double cp, lam;
    node_consts(p, &cp, &lam);
    /* the largest spacing ratio within tol (the bound grows with rho) */
    double rlo = 1e-4, rhi = 2.0;
    for (int it = 0; it < 40; it++) {
      double r = sqrt(rlo * rhi), bg, bp = bound_with(d, p, cp, lam, r, taps_for(lam, r, tol), &bg);
      if (bp <= tol && bg <= tol) rlo = r;
      else rhi = r;
    }
    double rho = rlo * 0.999, bg;
    int taps = taps_for(lam, rho, tol);
    double bp = bound_with(d, p, cp, lam, rho, taps, &bg);
    if (!(bp <= tol && bg <= tol)) continue;
    double dx = rho * c->h, pts = 1, conv = 0;
    size_t n[3] = { 1, 1, 1 };
    for (int a = 0; a < d; a++) {
      double cells = ceil((hi[a] - lo[a]) / dx);
      if (cells < 1) cells = 1;
      if (cells + p > KS_GRID_MAX) { pts = INFINITY; break; }
      n[a] = (size_t)cells + (size_t)p - 1;
      pts *= (double)n[a];
    }
    if (!(pts <= KS_GRID_MAX)) continue;
    for (int a = 0; a < d; a++) {
      double t = 2.0 * taps + 1;
      conv += (t < n[a] ? t : n[a]) / d;
    }
    double pd = pow(p, d), npass = d * (d + 1);
    double cost = 2 * pts * conv * npass + 2 * (double)c->N * pd + 2 * (double)c->M * pd * (d + 1) + 50.0 * (c->N + c->M);
    if (!found || cost < g->cost) {
      found = 1;
      g->p = p, g->dx = dx, g->taps = taps, g->bound_pot = bp, g->bound_grad = bg, g->cost = cost;
      for (int a = 0; a < 3; a++) g->n[a] = a < d ? n[a] : 1, g->lo[a] = a < d ? lo[a] : 0;
    }
  }
  if (!found) return -1;
  /* 1/prod_{m != k}(k - m) = (-1)^(p-1-k) / (k! (p-1-k)!) */
  double f[KS_PMAX + 1];
  f[0] = 1;
  for (int k = 1; k <= g->p; k++) f[k] = f[k - 1] * k;
  for (int k = 0; k < g->p; k++) {
    double den = f[k] * f[g->p - 1 - k];
    g->iden[k] = ((g->p - 1 - k) & 1 ? -1.0 : 1.0) / den;
  }
  return 0;
}

/* ------------------------------------------------------------------ run */

/* The cell of coordinate v on axis a, and v's offset in it (in spacings). */
static inline double cell_of(const ks_grid_plan *g, int a, double v, double *t) {
  double s = (v - g->lo[a]) / g->dx, cf = floor(s);
  size_t cells = g->n[a] - (size_t)g->p + 1;
  if (cf < 0) cf = 0;
  if (cf > (double)(cells - 1)) cf = (double)(cells - 1);
  *t = s - cf;
  return cf;
}

/* Base cell and Lagrange weights of coordinate v on axis a: nodes base..base+p-1. */
static inline size_t stencil(const ks_grid_plan *g, int a, double v, double *L) {
  const int p = g->p;
  double t, cf = cell_of(g, a, v, &t);
  double pre[KS_PMAX + 1], suf[KS_PMAX + 1];
  pre[0] = 1, suf[p] = 1;
  for (int k = 0; k < p; k++) pre[k + 1] = pre[k] * (t - (k - (p / 2 - 1)));
  for (int k = p - 1; k >= 0; k--) suf[k] = suf[k + 1] * (t - (k - (p / 2 - 1)));
  for (int k = 0; k < p; k++) L[k] = pre[k] * suf[k + 1] * g->iden[k];
  return (size_t)cf;
}

typedef struct {
  const ks_call *c;
  const ks_grid_plan *g;
  size_t stride[3], npts;
  size_t *order, slab_start[KS_PARTS + 1];  /* sources bucketed by slab, stable */
  size_t rows_lo[KS_PARTS], rows_n[KS_PARTS]; /* dim-0 rows of each part's buffer */
  double *part[KS_PARTS];
  double *f;                /* the spread grid */
  double *grids[4];         /* pot, grad 0..d-1 (NULL: not wanted) */
  double *gi;               /* the wanted ones interleaved */
  int nq;
  double *ker[2];           /* g and g' at k dx, k = -taps..taps (offset taps) */
  /* a convolution pass */
  const double *in;
  double *out;
  int axis, deriv;
} grid_job;

KS_CLONES static void spread_part(void *ctx, long lo, long hi, int thread) {
  grid_job *J = ctx;
  const ks_call *c = J->c;
  const ks_grid_plan *g = J->g;
  const int d = c->d, p = g->p;
  (void)thread;
  for (long q = lo; q < hi; q++) {
    double *buf = J->part[q];
    size_t inner = J->stride[0], r0 = J->rows_lo[q];
    if (!buf) continue; /* an empty slab */
    memset(buf, 0, J->rows_n[q] * inner * sizeof *buf);
    for (size_t s = J->slab_start[q]; s < J->slab_start[q + 1]; s++) {
      size_t j = J->order[s];
      const double *yj = c->y + j * (size_t)d;
      double L[3][KS_PMAX];
      size_t b[3] = { 0, 0, 0 };
      for (int a = 0; a < d; a++) b[a] = stencil(g, a, yj[a], L[a]);
      double wj = c->w ? c->w[j] : 1.0;
      if (d == 1) {
        double *row = buf + (b[0] - r0);
        for (int k = 0; k < p; k++) row[k] += wj * L[0][k];
      } else {
        for (int k0 = 0; k0 < p; k0++) {
          double w0 = wj * L[0][k0];
          double *plane = buf + (b[0] + (size_t)k0 - r0) * inner;
          for (int k1 = 0; k1 < (d == 3 ? p : 1); k1++) {
            double w1 = d == 3 ? w0 * L[1][k1] : w0;
            const double *Lc = L[d - 1];
            double *row = d == 3 ? plane + (b[1] + (size_t)k1) * J->stride[1] + b[2] : plane + b[1];
#pragma omp simd
            for (int k = 0; k < p; k++) row[k] += w1 * Lc[k];
          }
        }
      }
    }
  }
}

/* Grid rows [lo, hi) of dim 0: the parts' buffers added in part order. */
static void gather_rows(void *ctx, long lo, long hi, int thread) {
  grid_job *J = ctx;
  size_t inner = J->stride[0];
  (void)thread;
  for (long r = lo; r < hi; r++) {
    double *dst = J->f + (size_t)r * inner;
    memset(dst, 0, inner * sizeof *dst);
    for (int q = 0; q < KS_PARTS; q++) {
      if ((size_t)r < J->rows_lo[q] || (size_t)r >= J->rows_lo[q] + J->rows_n[q]) continue;
      const double *src = J->part[q] + ((size_t)r - J->rows_lo[q]) * inner;
#pragma omp simd
      for (size_t k = 0; k < inner; k++) dst[k] += src[k];
    }
  }
}

/* One pass along J->axis: lines lo..hi-1 of the grid seen as
** [outer][n_axis][inner]; inner = 1 for the last axis (then a task is one
** whole row, convolved by shifted axpys). */
KS_CLONES static void conv_lines(void *ctx, long lo, long hi, int thread) {
  grid_job *J = ctx;
  const ks_grid_plan *g = J->g;
  const int ax = J->axis, T = g->taps;
  const size_t n = g->n[ax], inner = J->stride[ax];
  const double *k = J->ker[J->deriv] + T;
  (void)thread;
  for (long line = lo; line < hi; line++) {
    if (inner == 1) {
      const double *in = J->in + (size_t)line * n;
      double *out = J->out + (size_t)line * n;
      memset(out, 0, n * sizeof *out);
      for (int t = -T; t <= T; t++) {
        /* out[i] += k[t] in[i - t], 0 <= i, i - t < n */
        long i0 = t > 0 ? t : 0, i1 = (long)n + (t < 0 ? t : 0);
        double kt = k[t];
        if (i0 >= i1) continue;
#pragma omp simd
        for (long i = i0; i < i1; i++) out[i] += kt * in[i - t];
      }
    } else {
      size_t o = (size_t)line / n, i = (size_t)line % n;
      double *out = J->out + (o * n + i) * inner;
      memset(out, 0, inner * sizeof *out);
      for (int t = -T; t <= T; t++) {
        long src = (long)i - t;
        if (src < 0 || src >= (long)n) continue;
        const double *in = J->in + (o * n + (size_t)src) * inner;
        double kt = k[t];
#pragma omp simd
        for (size_t m = 0; m < inner; m++) out[m] += kt * in[m];
      }
    }
  }
}

static void conv_pass(grid_job *J, const double *in, double *out, int axis, int deriv) {
  J->in = in, J->out = out, J->axis = axis, J->deriv = deriv;
  size_t lines = J->stride[axis] > 1 ? J->npts / J->stride[axis] : J->npts / J->g->n[axis];
  pool_run(J->c->threads, (long)lines, 0, conv_lines, J);
}

/* Targets [lo, hi): the Q output grids are interleaved (J->gi: Q values per
** node), so one stencil row is p Q contiguous values. */
KS_CLONES static void interp_targets(void *ctx, long lo, long hi, int thread) {
  grid_job *J = ctx;
  const ks_call *c = J->c;
  const ks_grid_plan *g = J->g;
  const int d = c->d, p = g->p, Q = J->nq, pq = p * Q;
  (void)thread;
  for (long i = lo; i < hi; i++) {
    const double *xi = c->x + (size_t)i * (size_t)d;
    double L[3][KS_PMAX], acc[KS_PMAX * 4], out[4] = { 0, 0, 0, 0 };
    size_t b[3] = { 0, 0, 0 };
    for (int a = 0; a < d; a++) b[a] = stencil(g, a, xi[a], L[a]);
    for (int m = 0; m < pq; m++) acc[m] = 0;
    const double *Lc = L[d - 1];
    if (d == 1) {
      const double *row = J->gi + b[0] * (size_t)Q;
      for (int m = 0; m < pq; m++) acc[m] = row[m];
    } else {
      for (int k0 = 0; k0 < p; k0++) {
        const double *plane = J->gi + (b[0] + (size_t)k0) * J->stride[0] * (size_t)Q;
        for (int k1 = 0; k1 < (d == 3 ? p : 1); k1++) {
          double wk = d == 3 ? L[0][k0] * L[1][k1] : L[0][k0];
          const double *row = plane + (d == 3 ? (b[1] + (size_t)k1) * J->stride[1] + b[2] : b[1]) * (size_t)Q;
#pragma omp simd
          for (int m = 0; m < pq; m++) acc[m] += wk * row[m];
        }
      }
    }
    for (int k = 0; k < p; k++)
      for (int q = 0; q < Q; q++) out[q] += Lc[k] * acc[k * Q + q];
    int q = 0;
    if (c->pot) c->pot[i] = out[q++];
    if (c->grad)
      for (int a = 0; a < d; a++) c->grad[(size_t)i * (size_t)d + (size_t)a] = out[q++];
  }
}

/* Nodes [lo, hi): the output grids interleaved. */
static void interleave(void *ctx, long lo, long hi, int thread) {
  grid_job *J = ctx;
  const int Q = J->nq;
  (void)thread;
  for (long n = lo; n < hi; n++) {
    int q = 0;
    for (int k = 0; k < 4; k++)
      if (J->grids[k]) J->gi[(size_t)n * (size_t)Q + (size_t)q++] = J->grids[k][n];
  }
}

int ks_grid_run(const ks_call *c, const ks_grid_plan *g) {
  const int d = c->d, p = g->p, T = g->taps;
  grid_job J;
  memset(&J, 0, sizeof J);
  J.c = c, J.g = g;
  J.stride[d - 1] = 1;
  for (int a = d - 2; a >= 0; a--) J.stride[a] = J.stride[a + 1] * g->n[a + 1];
  J.npts = J.stride[0] * g->n[0];
  int rc = KS_ENOMEM;
  /* sources bucketed by slab of base cells along axis 0 (counting sort) */
  size_t cells0 = g->n[0] - (size_t)p + 1;
  J.order = malloc(c->N * sizeof *J.order);
  size_t *slab = malloc(c->N * sizeof *slab);
  if (!J.order || !slab) goto out;
  size_t cnt[KS_PARTS + 1] = { 0 }, first[KS_PARTS + 1];
  for (int q = 0; q <= KS_PARTS; q++) first[q] = cells0 * (size_t)q / KS_PARTS;
  for (size_t j = 0; j < c->N; j++) {
    double t;
    size_t b0 = (size_t)cell_of(g, 0, c->y[j * (size_t)d], &t), q = b0 * KS_PARTS / cells0;
    while (q + 1 < KS_PARTS && first[q + 1] <= b0) q++;
    while (q > 0 && first[q] > b0) q--;
    slab[j] = q;
    cnt[q + 1]++;
  }
  for (int q = 0; q < KS_PARTS; q++) cnt[q + 1] += cnt[q];
  memcpy(J.slab_start, cnt, sizeof J.slab_start);
  for (size_t j = 0; j < c->N; j++) J.order[cnt[slab[j]]++] = j;
  for (int q = 0; q < KS_PARTS; q++) {
    size_t c0 = first[q], c1 = first[q + 1];
    J.rows_lo[q] = c0;
    J.rows_n[q] = c1 > c0 ? c1 - c0 + (size_t)p - 1 : 0;
    if (J.rows_n[q] && !(J.part[q] = malloc(J.rows_n[q] * J.stride[0] * sizeof(double)))) goto out;
  }
  J.f = malloc(J.npts * sizeof(double));
  if (!J.f) goto out;
  pool_run(c->threads, KS_PARTS, 1, spread_part, &J);
  pool_run(c->threads, (long)g->n[0], 0, gather_rows, &J);
  for (int q = 0; q < KS_PARTS; q++) free(J.part[q]), J.part[q] = NULL;

  /* the 1-D kernel and its derivative at k dx */
  J.ker[0] = malloc((2 * (size_t)T + 1) * sizeof(double));
  J.ker[1] = malloc((2 * (size_t)T + 1) * sizeof(double));
  if (!J.ker[0] || !J.ker[1]) goto out;
  for (int k = -T; k <= T; k++) {
    double s = k * g->dx, gv = exp(-0.5 * s * s / (c->h * c->h));
    J.ker[0][k + T] = gv;
    J.ker[1][k + T] = -s / (c->h * c->h) * gv; /* d/dx of g(x - y) */
  }
  /* outputs: q = 0 pot, q = 1 + a grad a; kernel on axis b: g' iff b = a */
  int want[4] = { c->pot != NULL, 0, 0, 0 };
  for (int a = 0; a < d; a++) want[1 + a] = c->grad != NULL;
  for (int q = 0; q <= d; q++) {
    if (!want[q]) continue;
    double *a0 = malloc(J.npts * sizeof(double)), *a1 = d > 1 ? malloc(J.npts * sizeof(double)) : a0;
    if (!a0 || !a1) {
      free(a0);
      if (a1 != a0) free(a1);
      goto out;
    }
    /* passes: in -> a0 -> a1 -> a0 ... ; the last one lands in the output */
    const double *src = J.f;
    double *bufs[2] = { a0, a1 };
    for (int b = 0; b < d; b++) {
      double *dst = bufs[(d - 1 - b) & 1]; /* so that the last pass writes a0 */
      conv_pass(&J, src, dst, b, q == 1 + b);
      src = dst;
    }
    if (a1 != a0) free(a1);
    J.grids[q] = a0;
  }
  for (int q = 0; q < 4; q++) J.nq += J.grids[q] != NULL;
  if (!(J.gi = malloc(J.npts * (size_t)J.nq * sizeof(double)))) goto out;
  pool_run(c->threads, (long)J.npts, 0, interleave, &J);
  for (int q = 0; q < 4; q++) free(J.grids[q]), J.grids[q] = NULL;
  pool_run(c->threads, (long)c->M, 0, interp_targets, &J);
  rc = KS_OK;
out:
  for (int q = 0; q < KS_PARTS; q++) free(J.part[q]);
  for (int q = 0; q < 4; q++) free(J.grids[q]);
  free(J.ker[0]), free(J.ker[1]), free(J.f), free(J.gi), free(J.order), free(slab);
  return rc;
}
