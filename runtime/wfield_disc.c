/*
** wfield_disc.c — the discrepancy terms of wfield.h: wf_mmd (MMD^2 and the
** energy distance), wf_sinkhorn (debiased Sinkhorn divergence) and wf_w2
** (1/2 W2^2), each as a velocity field on the particles and a value.
** Derivations and conventions: docs/ot.md, "Discrepancy flows".
**
** mmd      MMD^2 = <rho - t, k * (rho - t)>: one kernel sum with the sources
**          x (weights w) and y (weights -wy) gives u = k * (rho - t) and its
**          gradient at the particles; v_i -= 2 coef grad u(x_i) (k
**          symmetric).  The value needs u at the target points as well,
**          <rho, u> - <t, u>: an O(M (N + M)) sum, done only when `energy`
**          is asked for (recomputed at each such call, never cached).
** sinkhorn S_eps with the cost |x - y|^2 (sinkhorn.h; no 1/2): the first
**          variation is f_{rho,t} - f_{rho,rho}, the potentials extended to
**          every x as soft c-transforms of the other side's potential g,
**          f(x) = -eps log sum_j b_j exp((g_j - |x - y_j|^2)/eps), whose
**          gradient is 2 (x - T(x)), T(x) the barycentric projection (the
**          softmax-weighted mean of the y_j).  So
**              v_i += 2 coef (T_{rho,t}(x_i) - T_{rho,rho}(x_i)),
**          self-normalized: the marginal error of the potentials enters
**          only through g, not through row sums times x_i.  The target's
**          self-term OT_eps(t, t) is solved only when `energy` is asked for.
** w2       1/2 W2^2: v_i -= coef (x_i - T(x_i)) with T(x_i) = sum_j P_ij
**          y_j / w_i the barycentric map of an optimal plan P (a
**          permutation for equal sizes and equal weights; with unequal
**          sizes or weights a particle's mass is split and T is the mean of
**          where it goes).  n = 1: the monotone plan by sorting (exact for
**          any sizes and weights); n > 1: the network simplex of otexact.h,
**          N M <= WF_W2_EXACT_MAX pairs.  A particle of weight 0 gets the
**          target quantile at its place in 1-D and velocity 0 in n-D.
** Every sum runs in an order fixed by the data, rows split over the pool:
** the results do not depend on the thread count.
*/
#include "wfield.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fastexp.h"
#include "otexact.h"
#include "pool.h"
#include "sinkhorn.h"

/* Normalized copies of weights (NULL: uniform); NULL on a bad total. */
static double *norm_weights(size_t N, const double *w, int *status) {
  double *a = malloc((N ? N : 1) * sizeof *a), tot = 0;
  if (!a) {
    *status = KS_ENOMEM;
    return NULL;
  }
  for (size_t i = 0; i < N; i++) {
    a[i] = w ? w[i] : 1.0;
    if (!isfinite(a[i]) || a[i] < 0) {
      *status = isfinite(a[i]) ? KS_EINVAL : KS_ENONFINITE;
      free(a);
      return NULL;
    }
    tot += a[i];
  }
  if (!(tot > 0)) {
    free(a);
    *status = KS_EINVAL;
    return NULL;
  }
  for (size_t i = 0; i < N; i++) a[i] /= tot;
  return a;
}

static int finite_points(size_t N, int n, const double *x) {
  for (size_t k = 0; k < N * (size_t)n; k++)
    if (!isfinite(x[k])) return 0;
  return 1;
}

static int threads_of(const wf_opts *o) { return o && o->threads > 0 ? o->threads : pool_max_threads(); }

/* ------------------------------------------------------------------ mmd */

/* A compiled kernel summed at targets t (T x n) over the sources s (S x n)
** with weights c: pot_i = sum_j c_j k(t_i, s_j), grad_i likewise. */
typedef struct pair_job {
  const wf_kernel *k;
  int n;
  const double *t, *s, *c;
  size_t S;
  double *pot, *grad, *ws;   /* ws: one scratch per thread */
  size_t wstride;
  int *bad;                  /* per thread: a callback failed or was not finite */
} pair_job;

static void pair_rows(void *ctx, long lo, long hi, int thread) {
  pair_job *J = ctx;
  int n = J->n;
  double *ws = J->ws + (size_t)thread * J->wstride, *in = ws, *out = ws + 2 * n, *gi = ws + 3 * n + 1;
  double *scr = gi + n;
  for (long i = lo; i < hi; i++) {
    double p = 0;
    for (int d = 0; d < n; d++) gi[d] = 0;
    memcpy(in, J->t + (size_t)i * n, (size_t)n * sizeof *in);
    for (size_t j = 0; j < J->S; j++) {
      memcpy(in + n, J->s + j * n, (size_t)n * sizeof *in);
      if (J->k->pair.fn(in, NULL, out, scr) || !isfinite(out[n])) {
        J->bad[thread] = 1;
        return;
      }
      double c = J->c[j];
      for (int d = 0; d < n; d++) gi[d] += c * out[d];
      p += c * out[n];
    }
    for (int d = 0; d < n && J->grad; d++)   /* a value-only sum ignores the gradient (0/0 at x = y for -|x - y|) */
      if (!isfinite(gi[d])) J->bad[thread] = 1;
    if (J->pot) J->pot[i] = p;
    if (J->grad) memcpy(J->grad + (size_t)i * n, gi, (size_t)n * sizeof *gi);
  }
}

static int kernel_sum(const wf_kernel *k, int n, size_t T, const double *t, size_t S, const double *s,
                      const double *c, double *pot, double *grad, const wf_opts *o) {
  if (T == 0) return KS_OK;
  if (k->recognized) {
    ks_opts ko;
    ks_opts_default(&ko);
    ko.threads = o ? o->threads : 0;
    ko.tol = o ? o->tol : 0;
    int r = ks_sum(k->ks, k->h, n, T, t, S, s, c, pot, grad, &ko, NULL);
    if (r) return r;
    if (k->scale != 1) {
      if (pot)
        for (size_t i = 0; i < T; i++) pot[i] *= k->scale;
      if (grad)
        for (size_t i = 0; i < T * (size_t)n; i++) grad[i] *= k->scale;
    }
    return KS_OK;
  }
  if (!k->pair.fn) return KS_EINVAL;
  int nt = threads_of(o);
  pair_job J = { .k = k, .n = n, .t = t, .s = s, .c = c, .S = S, .pot = pot, .grad = grad };
  J.wstride = 4 * (size_t)n + 2 + k->pair.nwork;
  J.ws = calloc(J.wstride * (size_t)nt, sizeof *J.ws);
  J.bad = calloc((size_t)nt, sizeof *J.bad);
  int bad = 0;
  if (J.ws && J.bad) {
    pool_run(nt, (long)T, 0, pair_rows, &J);
    for (int t = 0; t < nt; t++) bad |= J.bad[t];
  }
  int r = !J.ws || !J.bad ? KS_ENOMEM : bad ? KS_ENONFINITE : KS_OK;
  free(J.ws);
  free(J.bad);
  return r;
}

/* v -= 2 coef grad u (v NULL: value only), *energy = coef MMD^2 (may be NULL). */
static int mmd(const wf_kernel *k, double coef, int n, size_t N, const double *x, const double *w, size_t M,
               const double *y, const double *wy, double *v, double *energy, const wf_opts *o) {
  if (!k || n < 1 || N == 0 || M == 0 || !x || !y || !isfinite(coef)) return KS_EINVAL;
  if (k->recognized && !isfinite(k->scale)) return KS_EINVAL;
  if (!finite_points(N, n, x) || !finite_points(M, n, y)) return KS_ENONFINITE;
  int status = KS_OK;
  double *a = norm_weights(N, w, &status), *b = a ? norm_weights(M, wy, &status) : NULL;
  /* sources: the particles with their weights, the target with minus its */
  double *src = malloc((N + M) * (size_t)n * sizeof *src), *c = malloc((N + M) * sizeof *c);
  double *pot = malloc((N + M) * sizeof *pot), *grad = v ? malloc(N * (size_t)n * sizeof *grad) : NULL;
  if (!a || !b || !src || !c || !pot || (v && !grad)) {
    if (a && b) status = KS_ENOMEM;
    goto out;
  }
  memcpy(src, x, N * (size_t)n * sizeof *src);
  memcpy(src + N * (size_t)n, y, M * (size_t)n * sizeof *src);
  for (size_t i = 0; i < N; i++) c[i] = a[i];
  for (size_t j = 0; j < M; j++) c[N + j] = -b[j];
  status = kernel_sum(k, n, N, x, N + M, src, c, pot, grad, o);
  if (status == KS_OK && energy) status = kernel_sum(k, n, M, y, N + M, src, c, pot + N, NULL, o);
  if (status == KS_OK) {
    if (v)
      for (size_t i = 0; i < N * (size_t)n; i++) v[i] -= 2 * coef * grad[i];
    if (energy) {
      /* <rho, u> - <t, u>, each summed in index order */
      double e = 0;
      for (size_t i = 0; i < N; i++) e += a[i] * pot[i];
      for (size_t j = 0; j < M; j++) e -= b[j] * pot[N + j];
      *energy = coef * e;
    }
  }
out:
  free(a);
  free(b);
  free(src);
  free(c);
  free(pot);
  free(grad);
  return status;
}

int wf_mmd(const wf_kernel *k, double coef, int n, size_t N, const double *x, const double *w, size_t M,
           const double *y, const double *wy, double *v, double *energy, const wf_opts *o) {
  if (!v) return KS_EINVAL;
  return mmd(k, coef, n, N, x, w, M, y, wy, v, energy, o);
}

int wf_mmd_value(const wf_kernel *k, int n, size_t N, const double *x, const double *w, size_t M, const double *y,
                 const double *wy, double *value, const wf_opts *o) {
  if (!value) return KS_EINVAL;
  return mmd(k, 1, n, N, x, w, M, y, wy, NULL, value, o);
}

/* ------------------------------------------------------------- sinkhorn */

/* T(x_i) = sum_j softmax_j((g_j + eps log b_j - |x_i - y_j|^2)/eps) y_j:
** the largest exponent first, then one pass of exps (each <= 1). */
typedef struct bary_job {
  int n;
  double eps;
  const double *x, *y, *logb_g;   /* logb_g_j = (g_j + eps log b_j)/eps, -inf for b_j = 0 */
  size_t M;
  double *T;
} bary_job;

static void bary_rows(void *ctx, long lo, long hi, int thread) {
  (void)thread;
  bary_job *J = ctx;
  int n = J->n;
  double ie = 1 / J->eps;
  for (long i = lo; i < hi; i++) {
    const double *xi = J->x + (size_t)i * n;
    double mx = -INFINITY;
    for (size_t j = 0; j < J->M; j++) {
      const double *yj = J->y + j * n;
      double c = 0;
      for (int d = 0; d < n; d++) c += (xi[d] - yj[d]) * (xi[d] - yj[d]);
      double s = J->logb_g[j] - c * ie;
      if (s > mx) mx = s;
    }
    double *Ti = J->T + (size_t)i * n, z = 0;
    for (int d = 0; d < n; d++) Ti[d] = 0;
    for (size_t j = 0; j < J->M; j++) {
      if (J->logb_g[j] == -INFINITY) continue;
      const double *yj = J->y + j * n;
      double c = 0;
      for (int d = 0; d < n; d++) c += (xi[d] - yj[d]) * (xi[d] - yj[d]);
      double e = hnn_fexp(J->logb_g[j] - c * ie - mx);
      z += e;
      for (int d = 0; d < n; d++) Ti[d] += e * yj[d];
    }
    for (int d = 0; d < n; d++) Ti[d] /= z;   /* z >= 1: the largest term is exp(0) */
  }
}

static int barycentric(int nt, int n, double eps, size_t N, const double *x, size_t M, const double *y,
                       const double *b, const double *g, double *T) {
  double *lg = malloc(M * sizeof *lg);
  if (!lg) return KS_ENOMEM;
  for (size_t j = 0; j < M; j++) lg[j] = b[j] > 0 ? (g[j] + eps * log(b[j])) / eps : -INFINITY;
  bary_job J = { .n = n, .eps = eps, .x = x, .y = y, .logb_g = lg, .M = M, .T = T };
  pool_run(nt, (long)N, 0, bary_rows, &J);
  free(lg);
  return KS_OK;
}

/* ot.h's statuses keep their values: OT_EINVAL, _ENOMEM, _ENONFINITE are
** KS_EINVAL, _ENOMEM, _ENONFINITE; OT_EMAXITER is WF_EMAXITER. */
static int worse(int a, int b) { return a < 0 ? a : b < 0 ? b : a > b ? a : b; }

int wf_sinkhorn(double coef, int n, size_t N, const double *x, const double *w, size_t M, const double *y,
                const double *wy, double *v, double *energy, const wf_opts *o) {
  if (n < 1 || N == 0 || M == 0 || !x || !y || !v || !o || !(o->eps > 0) || !isfinite(o->eps) || !isfinite(coef))
    return KS_EINVAL;
  if (!finite_points(N, n, x) || !finite_points(M, n, y)) return KS_ENONFINITE;
  int status = KS_OK, nt = threads_of(o);
  double *a = norm_weights(N, w, &status), *b = a ? norm_weights(M, wy, &status) : NULL;
  size_t cap = N > M ? N : M;
  ot_sinkhorn_ws *ws = a && b ? ot_sinkhorn_ws_alloc(n, cap, cap) : NULL;
  double *g_ab = malloc(M * sizeof *g_ab), *g_aa = malloc(N * sizeof *g_aa);
  double *T_ab = malloc(N * (size_t)n * sizeof *T_ab), *T_aa = malloc(N * (size_t)n * sizeof *T_aa);
  if (!a || !b || !ws || !g_ab || !g_aa || !T_ab || !T_aa) {
    if (a && b) status = KS_ENOMEM;
    goto out;
  }
  ot_sinkhorn_opts so;
  ot_sinkhorn_opts_default(&so);
  so.eps = o->eps;
  so.tol = o->tol > 0 ? o->tol : WF_SINKHORN_TOL;
  so.threads = o->threads;
  double vab = 0, vaa = 0, vbb = 0;
  status = ot_sinkhorn(ws, &so, n, N, x, a, M, y, b, &vab, NULL, NULL, g_ab, NULL);
  if (status >= 0) status = worse(status, ot_sinkhorn_self(ws, &so, n, N, x, a, &vaa, g_aa, NULL));
  if (status >= 0 && energy) status = worse(status, ot_sinkhorn_self(ws, &so, n, M, y, b, &vbb, NULL, NULL));
  if (status >= 0) status = worse(status, barycentric(nt, n, o->eps, N, x, M, y, b, g_ab, T_ab));
  if (status >= 0) status = worse(status, barycentric(nt, n, o->eps, N, x, N, x, a, g_aa, T_aa));
  if (status >= 0) {
    for (size_t k = 0; k < N * (size_t)n; k++) v[k] += 2 * coef * (T_ab[k] - T_aa[k]);
    if (energy) *energy = coef * (vab - 0.5 * (vaa + vbb));
  }
out:
  ot_sinkhorn_ws_free(ws);
  free(a);
  free(b);
  free(g_ab);
  free(g_aa);
  free(T_ab);
  free(T_aa);
  return status;
}

/* ------------------------------------------------------------------- w2 */

typedef struct keyed {
  double v;
  size_t i;
} keyed;

static int cmp_keyed(const void *p, const void *q) {
  const keyed *a = p, *b = q;
  if (a->v != b->v) return a->v < b->v ? -1 : 1;
  return a->i < b->i ? -1 : a->i > b->i;
}

static keyed *sorted(size_t N, const double *x) {
  keyed *k = malloc(N * sizeof *k);
  if (!k) return NULL;
  for (size_t i = 0; i < N; i++) k[i].v = x[i], k[i].i = i;
  qsort(k, N, sizeof *k, cmp_keyed);
  return k;
}

/* The monotone plan: walk both quantile functions; T_i accumulates mass
** times y, cost the transported |x - y|^2. */
static int w2_line(size_t N, const double *x, const double *a, size_t M, const double *y, const double *b,
                   double *T, double *cost) {
  keyed *xs = sorted(N, x), *ys = sorted(M, y);
  if (!xs || !ys) {
    free(xs);
    free(ys);
    return KS_ENOMEM;
  }
  size_t i = 0, j = 0;
  double ra = a[xs[0].i], rb = b[ys[0].i], c = 0;
  for (size_t k = 0; k < N; k++) T[k] = 0;
  while (i < N) {
    size_t pi = xs[i].i;
    if (a[pi] == 0) {   /* a point of no mass: the target quantile where it stands */
      T[pi] = ys[j].v;
      if (++i < N) ra = a[xs[i].i];
      continue;
    }
    /* this particle's mass runs out at this step (the last target point
    ** takes whatever the rounding of the masses left) */
    int xdone = j + 1 == M || ra <= rb;
    double m = xdone ? ra : rb, yv = ys[j].v, d = x[pi] - yv;
    T[pi] += m * yv;
    c += m * d * d;
    rb -= m;
    if (xdone) {
      T[pi] /= a[pi];
      if (++i < N) ra = a[xs[i].i];
    } else {
      ra -= m;
    }
    if (rb <= 0 && j + 1 < M) rb = b[ys[++j].i];
  }
  *cost = c;
  free(xs);
  free(ys);
  return KS_OK;
}

int wf_w2(double coef, int n, size_t N, const double *x, const double *w, size_t M, const double *y,
          const double *wy, double *v, double *energy, const wf_opts *o) {
  (void)o;
  if (n < 1 || N == 0 || M == 0 || !x || !y || !v || !isfinite(coef)) return KS_EINVAL;
  if (n > 1 && (double)N * (double)M > WF_W2_EXACT_MAX) return WF_ETOOBIG;
  if (!finite_points(N, n, x) || !finite_points(M, n, y)) return KS_ENONFINITE;
  int status = KS_OK;
  double *a = norm_weights(N, w, &status), *b = a ? norm_weights(M, wy, &status) : NULL;
  double *T = calloc(N * (size_t)n, sizeof *T), cost = 0;
  ot_plan *P = n > 1 ? ot_plan_alloc(N + M) : NULL;
  if (!a || !b || !T || (n > 1 && !P)) {
    if (a && b) status = KS_ENOMEM;
    goto out;
  }
  if (n == 1) {
    status = w2_line(N, x, a, M, y, b, T, &cost);
  } else {
    status = ot_exact(N, M, n, x, a, y, b, 2, &cost, P);
    if (status == OT_OK) {
      for (size_t k = 0; k < P->nnz; k++)
        for (int d = 0; d < n; d++) T[P->i[k] * n + d] += P->mass[k] * y[P->j[k] * n + d];
      for (size_t i = 0; i < N; i++)
        for (int d = 0; d < n; d++) T[i * n + d] = a[i] > 0 ? T[i * n + d] / a[i] : x[i * n + d];
    }
  }
  if (status == KS_OK) {
    for (size_t k = 0; k < N * (size_t)n; k++) v[k] -= coef * (x[k] - T[k]);
    if (energy) *energy = coef * 0.5 * cost;
  }
out:
  free(a);
  free(b);
  free(T);
  ot_plan_free(P);
  return status;
}
