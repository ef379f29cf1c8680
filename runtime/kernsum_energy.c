/*
** kernsum_energy.c — the energy kernel k = -|x - y| without the N x M
** loop: in 1-D by sorting the sources once and prefix sums of w and w y
** (each target: a binary search), in 2-D by slicing (L directions, each a
** 1-D sum; the bound is in kernsum.h).
**
** 1-D: with c the weighted centre of the sources (it limits cancellation),
**   sum_j w_j |x - y_j| = (x-c) W_< - S_< + S_> - (x-c) W_>,
** W and S the sums of w and w (y - c) below and above x; grad = W_> - W_<
** (sources equal to x add 0, the subgradient of the kink).  Exact up to
** rounding: a few ulp of sum_j |w_j| (|x - c| + |y_j - c|).
** 2-D: |v| = (1/2) int_0^pi |theta . v| dtheta, by the rectangle rule on
** L directions theta_l = pi l / L (exact value of the sum: relative error
** <= (pi/2L)^2 / 3); the gradient v/|v| the same way (error <= (pi/2L)(1 +
** pi/2L)).  Directions run in order, targets in parallel: results do not
** depend on the thread count.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernsum_internal.h"
#include "pool.h"

typedef struct { double s, w; } sw_pair;

static int cmp_sw(const void *a, const void *b) {
  const sw_pair *p = a, *q = b;
  if (p->s != q->s) return p->s < q->s ? -1 : 1;
  return (p->w > q->w) - (p->w < q->w);
}

/* Sorted sources and prefix sums W[k], S[k] over the first k (N + 1 each). */
typedef struct {
  size_t N;
  sw_pair *v;
  double *W, *S, c;
} sorted1;

static int sorted1_make(sorted1 *s, size_t N) {
  s->N = N;
  s->v = malloc(N * sizeof *s->v);
  s->W = malloc((N + 1) * sizeof *s->W);
  s->S = malloc((N + 1) * sizeof *s->S);
  return s->v && s->W && s->S ? 0 : -1;
}

static void sorted1_free(sorted1 *s) { free(s->v), free(s->W), free(s->S); }

/* s->v filled: sort, centre, prefix sums. */
static void sorted1_prep(sorted1 *s) {
  qsort(s->v, s->N, sizeof *s->v, cmp_sw);
  double wt = 0, wy = 0;
  for (size_t j = 0; j < s->N; j++) wt += fabs(s->v[j].w), wy += fabs(s->v[j].w) * s->v[j].s;
  s->c = wt > 0 ? wy / wt : 0;
  s->W[0] = s->S[0] = 0;
  for (size_t j = 0; j < s->N; j++) {
    s->W[j + 1] = s->W[j] + s->v[j].w;
    s->S[j + 1] = s->S[j] + s->v[j].w * (s->v[j].s - s->c);
  }
}

/* sum_j w_j |t - s_j| and sum_j w_j sign(t - s_j) */
static void sorted1_eval(const sorted1 *s, double t, double *val, double *dsign) {
  size_t lo = 0, hi = s->N; /* first index with s >= t */
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    if (s->v[m].s < t) lo = m + 1;
    else hi = m;
  }
  size_t a = lo;
  hi = s->N; /* first index with s > t */
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    if (s->v[m].s <= t) lo = m + 1;
    else hi = m;
  }
  size_t b = lo;
  double tc = t - s->c, N = (double)s->N;
  (void)N;
  double Wl = s->W[a], Sl = s->S[a], Wr = s->W[s->N] - s->W[b], Sr = s->S[s->N] - s->S[b];
  *val = tc * Wl - Sl + Sr - tc * Wr;
  *dsign = Wl - Wr;
}

typedef struct {
  const ks_call *c;
  const sorted1 *s;
  double ct, st, f;  /* direction, weight of this slice */
  int first;
} sl_job;

static void eval_targets(void *ctx, long lo, long hi, int thread) {
  const sl_job *J = ctx;
  const ks_call *c = J->c;
  const int d = c->d;
  (void)thread;
  for (long i = lo; i < hi; i++) {
    const double *xi = c->x + (size_t)i * (size_t)d;
    double t = d == 1 ? xi[0] : J->ct * xi[0] + J->st * xi[1], v, g;
    sorted1_eval(J->s, t, &v, &g);
    v *= -J->f, g *= -J->f;
    if (c->pot) c->pot[i] = J->first ? v : c->pot[i] + v;
    if (c->grad) {
      double *gi = c->grad + (size_t)i * (size_t)d;
      if (d == 1) gi[0] = g;
      else if (J->first) gi[0] = g * J->ct, gi[1] = g * J->st;
      else gi[0] += g * J->ct, gi[1] += g * J->st;
    }
  }
}

int ks_energy_sort(const ks_call *c) {
  sorted1 s;
  if (sorted1_make(&s, c->N)) {
    sorted1_free(&s);
    return KS_ENOMEM;
  }
  for (size_t j = 0; j < c->N; j++) s.v[j].s = c->y[j], s.v[j].w = c->w ? c->w[j] : 1.0;
  sorted1_prep(&s);
  sl_job J = { c, &s, 1, 0, 1, 1 };
  pool_run(c->threads, (long)c->M, 0, eval_targets, &J);
  sorted1_free(&s);
  return KS_OK;
}

int ks_energy_slice(const ks_call *c, int L) {
  sorted1 s;
  if (sorted1_make(&s, c->N)) {
    sorted1_free(&s);
    return KS_ENOMEM;
  }
  for (int l = 0; l < L; l++) {
    double th = M_PI * l / L, ct = cos(th), st = sin(th);
    for (size_t j = 0; j < c->N; j++) {
      s.v[j].s = ct * c->y[2 * j] + st * c->y[2 * j + 1];
      s.v[j].w = c->w ? c->w[j] : 1.0;
    }
    sorted1_prep(&s);
    sl_job J = { c, &s, ct, st, M_PI / (2.0 * L), l == 0 };
    pool_run(c->threads, (long)c->M, 0, eval_targets, &J);
  }
  sorted1_free(&s);
  return KS_OK;
}
