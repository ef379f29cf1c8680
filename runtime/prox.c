/*
** prox.c — Wasserstein proximal step (Caluya-Halder entropic fixed point)
** on weighted scattered point clouds; see prox.h and docs/prox.md.
**
** With Gamma = exp(-C/2eps), xi = exp(-f(x_new)/T - 1), p = 1/(1 + eps/(T h)):
**   y = rho_old ./ (Gamma z),   z = (xi ./ Gamma'y)^p,   rho_new = z .* Gamma'y.
** Iterated on log potentials alpha = log y, beta = log z; the sums use a
** kernel with absorbed potentials (prox_kernel.c), stored when it fits
** opts.kernel_mem, otherwise built on the fly.  Stops on the relative L1
** violation of the old marginal.  Then the scale of rho_new is restored.
** For a cost Euclidean in coordinates the sums can go through the
** kernel-sum engine instead (prox_fast.c, prox_opts.kernel).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pool.h"
#include "prox.h"
#include "prox_internal.h"

#define PAR_MIN 200000  /* N^2 below which one thread is faster than two */
#define ABSORB_MAX 30.0 /* absorb scalings beyond e^30 into the log potentials */

struct prox_ws {
  int n;
  size_t cap;
  double *cold, *cnew;                 /* n x cap each */
  /* the last x_new and what mapped it to cnew: a particle flow's next
  ** x_old is this x_new, whose coordinates need not be computed twice */
  double *last_new;
  size_t last_N;                       /* 0: nothing cached */
  prox_coord_fn last_coord;
  void *last_ctx;
  flow_cb last_geo;
  double *a, *b, *al, *be, *ls, *lt, *lro, *lxi, *lw, *w;
  double *K, *cost, *part;              /* part: the sweep's workspace (prox_ker_work) */
  double *lwy, *wy;
  float *Kf;
  size_t Kf_cap;
  size_t K_cap, cost_cap, part_cap;              /* entries allocated */
};

void prox_opts_default(prox_opts *o) {
  memset(o, 0, sizeof *o);
  o->eps = 0.1;
  o->T = 1.0;
  o->h = 1e-3;
  o->tol = 1e-9;
  o->max_iter = 500;
  o->threads = 0;
  o->norm = PROX_NORM_GAUSS;
  o->kernel_mem = (size_t)512 << 20;
  o->kernel = PROX_KERNEL_AUTO;
  o->kernel_tol = 1e-6;
}

prox_ws *prox_ws_alloc(int n, size_t N) {
  if (n < 1 || N < 1) return NULL;
  prox_ws *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->n = n;
  w->cap = N;
  w->cold = malloc((size_t)n * N * sizeof(double));
  w->cnew = malloc((size_t)n * N * sizeof(double));
  w->last_new = malloc((size_t)n * N * sizeof(double));
  double **v[] = { &w->a, &w->b, &w->al, &w->be, &w->ls, &w->lt, &w->lro, &w->lxi, &w->lw, &w->w, &w->lwy, &w->wy };
  int ok = w->cold && w->cnew && w->last_new;
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    *v[i] = malloc(N * sizeof(double));
    ok = ok && *v[i];
  }
  if (!ok) {
    prox_ws_free(w);
    return NULL;
  }
  return w;
}

void prox_ws_free(prox_ws *w) {
  if (!w) return;
  double *v[] = { w->cold, w->cnew, w->last_new, w->a, w->b, w->al, w->be, w->ls, w->lt,
                  w->lro, w->lxi, w->lw, w->w, w->lwy, w->wy, w->K, w->cost, w->part };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) free(v[i]);
  free(w->Kf);
  free(w);
}

const char *prox_strerror(int s) {
  switch (s) {
  case PROX_OK: return "ok";
  case PROX_WMAXITER: return "proximal fixed point: iteration limit reached before the tolerance";
  case PROX_EINVAL: return "proximal step: invalid arguments";
  case PROX_ENOMEM: return "proximal step: out of memory";
  case PROX_ECALLBACK: return "proximal step: a metric callback failed";
  case PROX_ENONFINITE: return "proximal step: non-finite value";
  case PROX_EREMOTE: return "proximal step: another process of the MPI job failed";
  case PROX_EUNDERFLOW:
    return "proximal step: a density value underflowed to 0 (the densities at the particles span more than "
           "the range of doubles, 1e-308 to 1e308)";
  default: return "proximal step: unknown status";
  }
}

/* omega(L), the root of w + e^w = L (Wright's omega), by Newton from the
** right: the function is increasing and convex, so the iterates decrease
** monotonically to the root without overshoot (quadratic convergence). */
static double wright_omega(double L) {
  double w = L > 1 ? log(L) : L;   /* both have w + e^w - L > 0 */
  for (int i = 0; i < 200; i++) {
    double e = exp(w), d = (w + e - L) / (1 + e);
    if (!(d > 0)) break;           /* at the root (or rounding below it) */
    w -= d;
    if (d <= 4e-16 * (1 + fabs(w))) break;
  }
  return w;
}

double prox_power_beta(double pw, double a, double k, double lxi, double g) {
  /* u + a e^(k u) = c  <=>  w + e^w = k c + log(a k)  with w = k u + log(a k) */
  double c = (1 - pw) * g + pw * lxi, lak = log(a * k);
  double u = (wright_omega(k * c + lak) - lak) / k;
  return u - g;
}

static int nthreads(const prox_opts *o) { return o->threads > 0 ? o->threads : pool_max_threads(); }

static int grow(double **buf, size_t *cap, size_t need) {
  if (*cap >= need) return 0;
  free(*buf);
  *buf = malloc(need * sizeof(double));
  *cap = *buf ? need : 0;
  return *buf ? 0 : PROX_ENOMEM;
}

int prox_identity_coord(void *ctx, int n, size_t N, const double *x, double *phi) {
  (void)ctx;
  for (size_t i = 0; i < N; i++)
    for (int d = 0; d < n; d++) phi[(size_t)d * N + i] = x[i * (size_t)n + d];
  return 0;
}

typedef struct {
  const flow_problem *p;
  int n;
  size_t N;
  const double *x, *xn;
  double *out;
  int bad;
} point_job;

/* Points lo..hi-1 through geo_coord, into out coordinate-major. */
static void coord_range(void *ctx, long lo, long hi, int thread) {
  point_job *J = ctx;
  const flow_fn *g = &J->p->geo_coord;
  int n = J->n, bad = 0;
  (void)thread;
  double *buf = malloc(((size_t)n + g->nwork + 1) * sizeof(double));
  for (long i = lo; buf && i < hi; i++) {
    if (g->fn(J->x + (size_t)i * n, NULL, buf, buf + n)) bad = 1;
    for (int d = 0; d < n; d++) {
      if (!isfinite(buf[d])) bad = 1;
      J->out[(size_t)d * J->N + i] = buf[d];
    }
  }
  if (!buf || bad) __atomic_store_n(&J->bad, 1, __ATOMIC_RELAXED);
  free(buf);
}

/* Coordinates (coordinate-major) of N points: the caller's map, geo_coord,
** or the identity. */
static int coords(const prox_opts *o, const flow_problem *p, int n, size_t N, const double *x, double *c, int nt) {
  if (o->coord) {
    if (o->coord(o->coord_ctx, n, N, x, c)) return PROX_ECALLBACK;
    for (size_t i = 0; i < (size_t)n * N; i++)
      if (!isfinite(c[i])) return PROX_ECALLBACK;
    return 0;
  }
  if (!p || !p->geo_coord.fn) return prox_identity_coord(NULL, n, N, x, c);
  point_job J = { p, n, N, x, NULL, c, 0 };
  pool_run(nt, (long)N, 0, coord_range, &J);
  return J.bad ? PROX_ECALLBACK : 0;
}

/* Rows lo..hi-1 of the midpoint-rule cost. */
static void midpoint_range(void *ctx, long lo, long hi, int thread) {
  point_job *J = ctx;
  const flow_fn *g = &J->p->metric;
  int n = J->n, diag = J->p->metric_diagonal, bad = 0;
  size_t N = J->N, ng = diag ? (size_t)n : (size_t)n * n;
  (void)thread;
  double *buf = malloc((2 * (size_t)n + ng + g->nwork + 1) * sizeof(double));
  for (long i = lo; buf && i < hi; i++) {
    double *mid = buf, *dx = buf + n, *G = buf + 2 * n, *ws = G + ng;
    for (size_t j = 0; j < N; j++) {
      for (int d = 0; d < n; d++) {
        double u = J->x[(size_t)i * n + d], v = J->xn[j * n + d];
        mid[d] = 0.5 * (u + v);
        dx[d] = u - v;
      }
      if (g->fn(mid, NULL, G, ws)) bad = 1;
      double c = 0.0;
      for (int d = 0; d < n; d++) {
        if (diag) {
          c += G[d] * dx[d] * dx[d];
        } else {
          double r = 0.0;
          for (int e = 0; e < n; e++) r += G[(size_t)d * n + e] * dx[e];
          c += dx[d] * r;
        }
      }
      if (!isfinite(c) || c < 0.0) bad = 1;
      J->out[(size_t)i * N + j] = c;
    }
  }
  if (!buf || bad) __atomic_store_n(&J->bad, 1, __ATOMIC_RELAXED);
  free(buf);
}

/* Midpoint rule C_ij = (x_i - y_j)' G((x_i + y_j)/2) (x_i - y_j), stored. */
static int midpoint_cost(const flow_problem *p, int n, size_t N, const double *xo, const double *xn,
                         double *C, int nt) {
  point_job J = { p, n, N, xo, xn, C, 0 };
  pool_run(nt, (long)N, 0, midpoint_range, &J);
  return J.bad ? PROX_ECALLBACK : 0;
}

/* log of the normalization density phi at the points, or 0 when unusable. */
static int log_phi(const prox_opts *o, int n, size_t N, const double *x, double *lp) {
  if (o->norm == PROX_NORM_BOX) {
    if (!o->box_lo || !o->box_hi) return PROX_EINVAL;
    double lv = 0.0;
    for (int d = 0; d < n; d++) {
      if (!(o->box_hi[d] > o->box_lo[d])) return PROX_EINVAL;
      lv += log(o->box_hi[d] - o->box_lo[d]);
    }
    for (size_t i = 0; i < N; i++) {
      lp[i] = -lv;
      for (int d = 0; d < n; d++)
        if (x[i * n + d] < o->box_lo[d] || x[i * n + d] > o->box_hi[d]) lp[i] = -INFINITY;
    }
    return 0;
  }
  /* Gaussian fitted to the cloud: mean, covariance, Cholesky factor */
  if (N <= (size_t)n) return PROX_EINVAL;
  double *mu = calloc((size_t)n * (n + 2), sizeof(double));
  if (!mu) return PROX_ENOMEM;
  double *S = mu + n, *z = S + (size_t)n * n;
  for (size_t i = 0; i < N; i++)
    for (int d = 0; d < n; d++) mu[d] += x[i * n + d];
  for (int d = 0; d < n; d++) mu[d] /= (double)N;
  for (size_t i = 0; i < N; i++)
    for (int d = 0; d < n; d++)
      for (int e = 0; e <= d; e++)
        S[d * n + e] += (x[i * n + d] - mu[d]) * (x[i * n + e] - mu[e]);
  double logdet = 0.0;
  for (int d = 0; d < n; d++) {
    for (int e = 0; e <= d; e++) S[d * n + e] /= (double)(N - 1);
  }
  for (int j = 0; j < n; j++) { /* in-place lower Cholesky */
    double s = S[j * n + j];
    for (int k = 0; k < j; k++) s -= S[j * n + k] * S[j * n + k];
    if (!(s > 0.0)) {
      free(mu);
      return PROX_EINVAL;
    }
    S[j * n + j] = sqrt(s);
    logdet += 2.0 * log(S[j * n + j]);
    for (int i = j + 1; i < n; i++) {
      double t = S[i * n + j];
      for (int k = 0; k < j; k++) t -= S[i * n + k] * S[j * n + k];
      S[i * n + j] = t / S[j * n + j];
    }
  }
  const double c0 = -0.5 * (n * log(2.0 * M_PI) + logdet);
  for (size_t i = 0; i < N; i++) {
    double q = 0.0;
    for (int d = 0; d < n; d++) {
      double t = x[i * n + d] - mu[d];
      for (int k = 0; k < d; k++) t -= S[d * n + k] * z[k];
      z[d] = t / S[d * n + d];
      q += z[d] * z[d];
    }
    lp[i] = c0 - 0.5 * q;
  }
  free(mu);
  return 0;
}

/* prox_power_beta's a = c m/((m-1)(T + eps/h)), 0 without power_entropy */
static double power_a(const prox_opts *o) {
  if (!(o->power_coef > 0)) return 0;
  return o->power_coef * o->power_m / ((o->power_m - 1) * (o->T + o->eps / o->h));
}

/* The fixed point with the N x N kernel (prox_kernel.c), stored when it
** fits o->kernel_mem, else built on the fly; leaves the final columns
** log Gamma'y (with absorbed b) in w->lt. */
static int direct_solve(prox_ws *w, const prox_opts *o, size_t N, const double *cost, size_t used, double mass,
                        double pw, const double *rho_old, prox_stats *st) {
  const int n = w->n, nt = nthreads(o);
  const double pa = power_a(o), pk = o->power_m - 1;
  int rc;
  prox_ker k = { .n = n, .threads = nt, .par = N * N >= PAR_MIN, .N = N, .inv2eps = 0.5 / o->eps,
                 .cold = w->cold, .cnew = w->cnew, .a = w->a, .b = w->b, .cost = cost };
  size_t avail = o->kernel_mem > used ? o->kernel_mem - used : 0;
  if (o->kernel_prec == PROX_DOUBLE && N * N * sizeof(double) <= avail) {
    if ((rc = grow(&w->K, &w->K_cap, N * N))) return rc;
    k.K = w->K;
    st->stored = 1;
  } else if (o->kernel_prec != PROX_DOUBLE && N * N * sizeof(float) <= avail) {
    if (w->Kf_cap < N * N) {
      free(w->Kf);
      w->Kf = malloc(N * N * sizeof(float));
      w->Kf_cap = w->Kf ? N * N : 0;
      if (!w->Kf) return PROX_ENOMEM;
    }
    k.Kf = w->Kf;
    st->stored = 2;
  }

  /* start from z = 1 with nothing absorbed: the plain sums are exact unless a
  ** row or column underflows, and those entries fall back to log-sum-exp and
  ** trigger an absorbing rebuild (no full log-domain sweep where none is needed) */
  double *a = w->a, *b = w->b, *al = w->al, *be = w->be, *ls = w->ls, *lt = w->lt;
  memset(a, 0, N * sizeof *a);
  memset(b, 0, N * sizeof *b);
  memset(al, 0, N * sizeof *al);
  memset(be, 0, N * sizeof *be);
  prox_ker_build(&k);
  int stored = k.K || k.Kf, it = 0, fb_absorbed = 0;
  if ((rc = grow(&w->part, &w->part_cap, prox_ker_work(&k)))) return rc;
  double err = INFINITY;
  for (;;) {
    /* rows: ls_i = a_i + log (Gamma z)_i, and in the same pass the columns
    ** lt_j = b_j + log (Gamma' y)_j for the new y.  On the fly, absorption
    ** is free: the kernel is the plan and the weights are 1. */
    if (!stored) {
      memcpy(a, al, N * sizeof *a);
      memcpy(b, be, N * sizeof *b);
    }
    for (size_t j = 0; j < N; j++) {
      w->lw[j] = be[j] - b[j];
      w->w[j] = exp(w->lw[j]);
    }
    int fb = prox_ker_sweep(&k, w->lw, w->w, w->lro, ls, w->lwy, w->wy, lt, w->part);
    if (fb < 0) return PROX_EREMOTE;
    st->fallbacks += fb;
    err = 0.0;
    for (size_t i = 0; i < N; i++) {
      double lg = ls[i] - a[i];
      err += fabs(exp(al[i] + lg) - rho_old[i]);
      al[i] = w->lro[i] - lg;
    }
    err /= mass;
    if (!isfinite(err)) return PROX_ENONFINITE;
    if (err < o->tol || it >= o->max_iter) break;
    it++;
    double big = 0.0;
    for (size_t j = 0; j < N; j++) {
      be[j] = pa > 0 ? prox_power_beta(pw, pa, pk, w->lxi[j], lt[j] - b[j]) : pw * (w->lxi[j] - (lt[j] - b[j]));
      double d1 = fabs(be[j] - b[j]), d2 = fabs(al[j] - a[j]);
      if (d1 > big) big = d1;
      if (d2 > big) big = d2;
    }
    if (stored && (big > ABSORB_MAX || (fb && !fb_absorbed))) {
      /* Fallbacks are absorbed once: columns whose plan mass is below
      ** 1e-250 fall back every time, and rebuilding for them each iteration
      ** would re-round the kernel (6e-8 in single precision) each time, so
      ** the fixed point would jitter at that level instead of converging. */
      fb_absorbed = big <= ABSORB_MAX;
      memcpy(a, al, N * sizeof *a);
      memcpy(b, be, N * sizeof *b);
      prox_ker_build(&k);
      st->rebuilds++;
    }
    if (!fb) fb_absorbed = 0;
  }
  /* lt now holds the final columns with the row-feasible plan:
  ** log rho_new = beta + log Gamma'y */
  for (size_t j = 0; j < N; j++) w->ls[j] = be[j] + lt[j] - b[j];
  st->iterations = it;
  st->marginal_err = err;
  st->converged = err < o->tol;
  return 0;
}

int prox_step(prox_ws *w, const flow_problem *p, const prox_opts *o, size_t N,
              const double *x_old, const double *x_new, const double *rho_old,
              const double *f_new, double *rho_new, prox_stats *st) {
  prox_stats dummy;
  if (!st) st = &dummy;
  memset(st, 0, sizeof *st);
  if (!w || !o || !x_old || !x_new || !rho_old || !f_new || !rho_new || N < 1 || N > w->cap)
    return PROX_EINVAL;
  if (!(o->eps > 0.0) || !(o->T > 0.0) || !(o->h > 0.0) || !(o->tol >= 0.0) || o->max_iter < 0)
    return PROX_EINVAL;
  if (!(o->power_coef >= 0.0) || (o->power_coef > 0.0 && !(o->power_m > 1.0 && isfinite(o->power_m))))
    return PROX_EINVAL;
  if ((unsigned)o->kernel > PROX_KERNEL_SUMS || !(o->kernel_tol >= 0.0) || !isfinite(o->kernel_tol)) return PROX_EINVAL;
  if (p && p->n != w->n) return PROX_EINVAL;
  const int n = w->n, nt = nthreads(o);
  const double pw = 1.0 / (1.0 + o->eps / (o->T * o->h));
  double mass = 0.0;
  for (size_t i = 0; i < N; i++) {
    if (!(rho_old[i] > 0.0) || !isfinite(rho_old[i])) return PROX_EINVAL;
    if (!isfinite(f_new[i])) return PROX_ENONFINITE;
    for (int d = 0; d < n; d++)
      if (!isfinite(x_old[i * n + d]) || !isfinite(x_new[i * n + d])) return PROX_ENONFINITE;
    w->lro[i] = log(rho_old[i]);
    mass += rho_old[i];
  }
  /* a constant in f only scales xi, which the marginal constraint absorbs:
  ** subtract min f so the log potentials stay small (their rounding,
  ** ulp(|potential|), is the relative error of the plan) */
  double fmin = f_new[0];
  for (size_t i = 1; i < N; i++)
    if (f_new[i] < fmin) fmin = f_new[i];
  for (size_t i = 0; i < N; i++) w->lxi[i] = -(f_new[i] - fmin) / o->T - 1.0;
  st->mass_in = mass;

  /* geometry: coordinates, or the stored midpoint cost */
  int rc;
  int midpoint = !o->coord && p && !p->geo_coord.fn && p->metric.fn;
  size_t used = 0;
  double *cost = NULL;
  if (midpoint) {
    if ((rc = grow(&w->cost, &w->cost_cap, N * N))) return rc;
    if ((rc = midpoint_cost(p, n, N, x_old, x_new, w->cost, nt))) return rc;
    cost = w->cost;
    used = N * N * sizeof(double);
  } else {
    flow_cb geo = p ? p->geo_coord.fn : NULL;
    size_t bytes = N * (size_t)n * sizeof(double);
    int reuse = w->last_N == N && w->last_coord == o->coord && w->last_ctx == o->coord_ctx && w->last_geo == geo &&
                memcmp(x_old, w->last_new, bytes) == 0;
    w->last_N = 0; /* cnew is about to change */
    if (reuse) {
      double *t = w->cold; /* the same points through the same map: the same coordinates */
      w->cold = w->cnew, w->cnew = t;
      st->coords_reused = 1;
    } else if ((rc = coords(o, p, n, N, x_old, w->cold, nt))) {
      return rc;
    }
    if ((rc = coords(o, p, n, N, x_new, w->cnew, nt))) return rc;
    memcpy(w->last_new, x_new, bytes);
    w->last_N = N, w->last_coord = o->coord, w->last_ctx = o->coord_ctx, w->last_geo = geo;
  }
  int use_sums = !midpoint && (o->kernel == PROX_KERNEL_SUMS ||
                                (o->kernel == PROX_KERNEL_AUTO && N >= PROX_SUMS_MIN_N && n <= 3));
  if (midpoint && o->kernel == PROX_KERNEL_SUMS) return PROX_EINVAL;
  double *lr; /* log of the raw rho_new */
  if (use_sums) {
    prox_ks ks = { .n = n, .threads = nt, .max_iter = o->max_iter, .N = N, .eps = o->eps, .pw = pw, .tol = o->tol,
                   .ktol = o->kernel_tol, .mass = mass, .cold = w->cold, .cnew = w->cnew, .rho_old = rho_old,
                   .lro = w->lro, .lxi = w->lxi, .al = w->al, .be = w->be, .ls = w->ls, .lt = w->lt,
                   .pa = power_a(o), .pk = o->power_m - 1 };
    lr = w->lw;
    if ((rc = prox_ks_solve(&ks, lr, st))) return rc;
  } else {
    lr = w->ls;
    if ((rc = direct_solve(w, o, N, cost, used, mass, pw, rho_old, st))) return rc;
  }
  double mout = 0.0;
  for (size_t j = 0; j < N; j++) {
    if (isnan(lr[j])) return PROX_ENONFINITE;
    mout += exp(lr[j]);
  }
  st->mass_out = mout;

  /* normalization: mean_i phi(x_i)/r_i estimates 1/scale */
  double c = 0.0; /* log of the factor applied to the raw values */
  st->scale = 1.0;
  if (o->norm != PROX_NORM_NONE) {
    double *lp = w->lt;
    if ((rc = log_phi(o, n, N, x_new, lp))) return rc;
    double mx = -INFINITY;
    for (size_t i = 0; i < N; i++) {
      lp[i] -= lr[i];
      if (lp[i] > mx) mx = lp[i];
    }
    if (!isfinite(mx)) return PROX_ENONFINITE;
    double s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < N; i++) {
      double e = exp(lp[i] - mx);
      s1 += e;
      s2 += e * e;
    }
    double mean = s1 / (double)N, var = s2 / (double)N - mean * mean;
    c = mx + log(mean);
    st->scale = exp(-c);
    st->scale_rel_err = N > 1 && var > 0.0 ? sqrt(var / (double)(N - 1)) / mean : 0.0;
  }
  for (size_t j = 0; j < N; j++) {
    rho_new[j] = exp(lr[j] + c);
    if (!isfinite(rho_new[j])) return PROX_ENONFINITE; /* normalization overflow */
    /* 0 would be log rho = -inf in the free energy, and an invalid rho_old
    ** at the next step */
    if (!(rho_new[j] > 0)) return PROX_EUNDERFLOW;
  }
  return st->converged ? PROX_OK : PROX_WMAXITER;
}

double prox_free_energy(size_t N, const double *f, const double *rho, const double *w, double T) {
  double F = 0.0;
  for (size_t i = 0; i < N; i++) {
    double wi = w ? w[i] : 1.0 / (double)N;
    F += wi * (f[i] + T * log(rho[i]));
  }
  return F;
}
