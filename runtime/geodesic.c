/*
** geodesic.c — geodesic boundary-value problem by shooting (see geodesic.h).
**
** State of the initial-value problem: (gamma, v, L), 2n + 1 values, with
** gamma' = v, v' = -Gamma(gamma)[v, v], L' = sqrt(v' G v), integrated by
** GSL's rk8pd at tight tolerance.  Newton on v0 solves gamma(1; v0) = target;
** the target moves from x to y by continuation (a failed stage halves the
** increment), each Newton step is damped until the residual decreases.
** Near the boundary of a Hopfield-like metric the shot's end point carries
** noise (rounding in Gamma, which cancels terms ~1/z^2): Newton stalls at a
** residual r, and the length is corrected by the first variation
** <gamma'(1), y - gamma(1)>_G / |gamma'(1)|_G, leaving ~|r|^2 / 2L; a stalled
** r with r^2 <= tol L is accepted.  When y too is near the boundary the
** direct shot cannot arrive (1 - z ~ (pi - phi)^2 makes the end point
** insensitive to v0, and an overshoot leaves the domain): two shots, from x
** and from y, meet at t = 1 with matching position and opposite velocity
** (multiple shooting with two segments, started from one-sided solutions
** to the midpoint).  A budget of right-hand sides bounds every failure.
** The step control allows for the rounding noise of Gamma[v, v] (dG with
** entries ~1/z^2 that cancel), and Newton perturbs the velocity along a
** basis orthonormal in G, so neither is swamped near the boundary.
** Depends on: flow.h, GSL (odeiv2, linalg).
*/
#include "geodesic.h"
#include "geocoord.h"

#include <float.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The absolute tolerance of the ODE is the relative one times this: a
** geodesic 1e-8 from the boundary of a Hopfield metric must keep relative
** digits of gamma there (an absolute 1e-13 is 1e-5 of it). */
#define GEO_ABS_SCALE 1e-10
#define GEO_NMAX 100000
/* right-hand sides one shot may evaluate (a good shot 1e-8 from the boundary
** takes ~2e4) */
#define GEO_MAX_RHS 400000
/* right-hand sides one distance may evaluate, per unknown plus one (a Newton
** iteration shoots n + 1 times): a bound on the time of a failure */
#define GEO_BUDGET_RHS 2000000L
/* the rounding noise of a right-hand side (its bound below) times this is
** added to the local error allowed of a step (see geo_ctl) */
#define GEO_NOISE 16
/* the noise of a symbolically contracted w (flow.h, metric_w), relative:
** its terms are exact contractions, but the point itself is rounded, and
** 1e-8 from a boundary where G ~ 1/z that alone is ~1e-8 of w (measured:
** 64 eps stalled the step control along a face, sqrt(eps) converges to
** 1e-11 there) */
#define GEO_W_NOISE 1.4901161193847656e-08

typedef struct geo_ws {
  const flow_problem *p;
  int n;
  double *ws, *g, *J, *dG, *w, *tmp;
  double *an, *amax;     /* rounding noise of (v', L') at the last right-hand side, its max over a step */
  const geo_options *o;
  long nrhs;             /* right-hand sides of the current shot */
  long total, budget;    /* right-hand sides of this distance, and their cap */
} geo_ws;

static int geo_ws_init(geo_ws *W, const flow_problem *p, const geo_options *o) {
  size_t n = (size_t)p->n;
  W->p = p;
  W->n = p->n;
  W->o = o;
  W->total = 0;
  W->budget = GEO_BUDGET_RHS * (p->n + 1);
  W->ws = malloc((flow_problem_nwork(p) + 1) * sizeof(double));
  W->g = malloc((7 * n + 4 + 2 * n * n + n * n * n) * sizeof(double));
  if (!W->ws || !W->g) {
    free(W->ws);
    free(W->g);
    return -1;
  }
  W->J = W->g + n * n;
  W->dG = W->J + n * n;
  W->w = W->dG + n * n * n;
  W->tmp = W->w + n;
  W->an = W->tmp + 4 * n + 2;
  W->amax = W->an + n + 1;
  for (size_t k = 0; k <= n; k++) W->amax[k] = 0;
  return 0;
}

static void geo_ws_free(geo_ws *W) {
  free(W->ws);
  free(W->g);
}

static int finite_all(const double *v, size_t m) {
  for (size_t i = 0; i < m; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

/* 0 if G(x) is finite with a positive diagonal, else the first bad
** component (1-based), or -1 if G could not be evaluated */
static int metric_not_positive(geo_ws *W, const double *x) {
  const flow_problem *p = W->p;
  int n = W->n;
  if (p->metric.fn(x, NULL, W->g, W->ws)) return -1;
  for (int k = 0; k < n; k++) {
    double gkk = p->metric_diagonal ? W->g[k] : W->g[k * n + k];
    int ok = gkk > 0 && isfinite(gkk);
    for (int j = 0; j < n && ok && !p->metric_diagonal; j++) ok = isfinite(W->g[k * n + j]);
    if (!ok) return k + 1;
  }
  return 0;
}

/* a = -Gamma[v, v]; *speed2 = v' G v.
** Diagonal G = diag(g), J_kj = d g_k / d x_j:
**   Gamma^k_ij v_i v_j = (1 / 2 g_k) (2 v_k (J v)_k - sum_i J_ik v_i^2).
** Full G: with lowered symbols, w_k = sum_ij (d_i G_kj) v_i v_j
**   - 1/2 sum_ij (d_k G_ij) v_i v_j and a = -G^-1 w. */
static int accel(geo_ws *W, const double *x, const double *v, double *a, double *speed2) {
  const flow_problem *p = W->p;
  int n = W->n;
  if (!p->metric.fn || p->metric.fn(x, NULL, W->g, W->ws)) return -1;
  if (p->metric_diagonal) {
    if (!p->metric_jac.fn || p->metric_jac.fn(x, NULL, W->J, W->ws)) return -1;
    double s2 = 0;
    for (int k = 0; k < n; k++) {
      if (!(W->g[k] > 0)) return -1;
      double Jv = 0, q = 0;
      for (int j = 0; j < n; j++) Jv += W->J[k * n + j] * v[j];
      for (int i = 0; i < n; i++) q += W->J[i * n + k] * v[i] * v[i];
      a[k] = -(2 * v[k] * Jv - q) / (2 * W->g[k]);
      s2 += W->g[k] * v[k] * v[k];
      double nq = 0;
      for (int j = 0; j < n; j++) nq += 2 * fabs(v[k] * W->J[k * n + j] * v[j]) + fabs(W->J[j * n + k] * v[j] * v[j]);
      W->an[k] = DBL_EPSILON * nq / (2 * W->g[k]);
    }
    *speed2 = s2;
    W->an[n] = DBL_EPSILON * s2;
  } else {
    /* full G: w (into W->w) with its rounding noise (into W->an), then a */
    double *wn = W->an;
    if (p->metric_w.fn) {
      /* contracted symbolically (flow.h): the noise is the point's own */
      if (p->metric_w.fn(x, v, W->w, W->ws)) return -1;
      for (int k = 0; k < n; k++) wn[k] = GEO_W_NOISE * fabs(W->w[k]);
    } else {
      if (!p->metric_dx.fn || p->metric_dx.fn(x, NULL, W->dG, W->ws)) return -1;
      size_t nn = (size_t)n * n;
      for (int k = 0; k < n; k++) {
        double t1 = 0, t2 = 0, n1 = 0;
        for (int i = 0; i < n; i++) {
          const double *Di = W->dG + i * nn;
          for (int j = 0; j < n; j++) t1 += Di[k * n + j] * v[i] * v[j], n1 += fabs(Di[k * n + j] * v[i] * v[j]);
        }
        const double *Dk = W->dG + k * nn;
        for (int i = 0; i < n; i++)
          for (int j = 0; j < n; j++) t2 += Dk[i * n + j] * v[i] * v[j], n1 += 0.5 * fabs(Dk[i * n + j] * v[i] * v[j]);
        W->w[k] = t1 - 0.5 * t2;
        /* rounding of the sum of terms n1 (dG may carry entries ~1 / z^2
        ** that cancel here); G^-1 below carries it to a */
        wn[k] = DBL_EPSILON * n1;
      }
    }
    double s2 = 0, sn = 0;
    for (int k = 0; k < n; k++)
      for (int j = 0; j < n; j++) s2 += v[k] * W->g[k * n + j] * v[j], sn += fabs(v[k] * W->g[k * n + j] * v[j]);
    gsl_matrix_view G = gsl_matrix_view_array(W->g, (size_t)n, (size_t)n);
    gsl_vector_view wv = gsl_vector_view_array(W->w, (size_t)n);
    gsl_vector_view av = gsl_vector_view_array(a, (size_t)n);
    if (gsl_linalg_cholesky_decomp1(&G.matrix) || gsl_linalg_cholesky_solve(&G.matrix, &wv.vector, &av.vector) ||
        gsl_linalg_cholesky_invert(&G.matrix))
      return -1;
    /* the noise of a: |G^-1| times that of w (into w, then an) */
    memcpy(W->w, wn, (size_t)n * sizeof(double));
    for (int k = 0; k < n; k++) {
      a[k] = -a[k];
      wn[k] = 0;
      for (int i = 0; i < n; i++) wn[k] += fabs(W->g[k * n + i]) * W->w[i];
    }
    *speed2 = s2;
    W->an[n] = DBL_EPSILON * sn;
  }
  return finite_all(a, (size_t)n) && isfinite(*speed2) && *speed2 >= 0 ? 0 : -1;
}

int geo_accel(const flow_problem *p, const double *gamma, const double *v, double *a) {
  geo_ws W;
  double s2;
  if (geo_ws_init(&W, p, NULL)) return -1;
  int r = accel(&W, gamma, v, a, &s2);
  geo_ws_free(&W);
  return r;
}

static int geo_rhs(double t, const double y[], double f[], void *params) {
  geo_ws *W = params;
  int n = W->n;
  double s2;
  (void)t;
  /* a trial velocity aimed at the boundary crawls towards it in ever
  ** smaller steps: such a shot is a failure, not a long wait */
  if (++W->nrhs > GEO_MAX_RHS || ++W->total > W->budget) return GSL_EBADFUNC;
  memcpy(f, y + n, (size_t)n * sizeof(double));
  if (accel(W, y, y + n, f + n, &s2)) return GSL_EBADFUNC;
  f[2 * n] = sqrt(s2);
  for (int k = 0; k < n; k++) W->amax[k] = fmax(W->amax[k], W->an[k]);
  W->amax[n] = fmax(W->amax[n], s2 > 0 ? W->an[n] / (2 * f[2 * n]) : 0);
  return GSL_SUCCESS;
}


/* Step control of rk8pd: GSL's scaled rule, error of component i at most
** ode_tol (scale_i + |y_i| + h |y_i'|), plus the rounding noise of the
** right-hand side over the step (h^2 K eta for gamma, h K eta for v and
** L).  Near the boundary of a metric given in coordinates where it is not
** diagonal, dG has entries ~1/z^2 that cancel in Gamma[v, v], leaving a
** noise no step can resolve: without the floor the step collapses.  The
** noise it lets through moves the path, not its end (Newton matches that),
** and the length is stationary at a geodesic: its error is second order. */
typedef struct geo_ctl {
  geo_ws *W;
  double h0;
} geo_ctl;

static void *ctl_alloc(void) { return calloc(1, sizeof(geo_ctl)); }
static int ctl_init(void *st, double ea, double er, double ay, double ad) {
  (void)st, (void)ea, (void)er, (void)ay, (void)ad;
  return GSL_SUCCESS;
}
static double ctl_level(const geo_ws *W, double y, double dydt, double h, size_t i) {
  int n = W->n;
  double tol = W->o->ode_tol, ah = fabs(h);
  double d = tol * ((i < (size_t)n ? GEO_ABS_SCALE : 1) + fabs(y) + ah * fabs(dydt));
  if (i < (size_t)n) return d + ah * ah * GEO_NOISE * W->amax[i];
  return d + ah * GEO_NOISE * W->amax[i - (size_t)n];
}
static int ctl_hadjust(void *st, size_t dim, unsigned int ord, const double y[], const double yerr[], const double yp[],
                       double *h) {
  geo_ws *W = ((geo_ctl *)st)->W;
  double h0 = *h, rmax = DBL_MIN;
  for (size_t i = 0; i < dim; i++) rmax = fmax(rmax, fabs(yerr[i]) / ctl_level(W, y[i], yp[i], h0, i));
  for (int k = 0; k <= W->n; k++) W->amax[k] = 0;
  if (rmax > 1.1) {
    *h = h0 * fmax(0.9 / pow(rmax, 1.0 / ord), 0.2);
    return GSL_ODEIV_HADJ_DEC;
  }
  if (rmax < 0.5) {
    *h = h0 * fmin(fmax(0.9 / pow(rmax, 1.0 / (ord + 1)), 1), 5);
    return GSL_ODEIV_HADJ_INC;
  }
  return GSL_ODEIV_HADJ_NIL;
}
static int ctl_errlevel(void *st, const double y, const double dydt, const double h, const size_t i, double *lev) {
  *lev = ctl_level(((geo_ctl *)st)->W, y, dydt, h, i);
  return GSL_SUCCESS;
}
static int ctl_set_driver(void *st, const gsl_odeiv2_driver *d) {
  (void)st, (void)d;
  return GSL_SUCCESS;
}
static void ctl_free(void *st) { free(st); }
static const gsl_odeiv2_control_type geo_ctl_type = { "geo", ctl_alloc, ctl_init, ctl_hadjust, ctl_errlevel,
                                                      ctl_set_driver, ctl_free };

/* Integrate from (x, v0) to t = 1: end point into end (and the velocity
** there into end + n when vend), length into *len; if path, npath samples
** of gamma.  Returns 0 or -1. */
static int shoot(geo_ws *W, const double *x, const double *v0, double *end, double *len, double *path,
                 int npath, int vend) {
  int n = W->n;
  size_t dim = 2 * (size_t)n + 1;
  double *y = W->tmp;   /* 2n + 1 */
  memcpy(y, x, (size_t)n * sizeof(double));
  memcpy(y + n, v0, (size_t)n * sizeof(double));
  y[2 * n] = 0;
  W->nrhs = 0;
  gsl_odeiv2_system sys = { geo_rhs, NULL, dim, W };
  /* error per component: ode_tol (scale_i + |y_i| + h |y_i'|), scale_i =
  ** GEO_ABS_SCALE for gamma, 1 for v and L; the h |y'| term keeps steps
  ** finite where a component crosses zero */
  double *scale = W->tmp + dim;
  for (size_t i = 0; i < dim; i++) scale[i] = i < (size_t)n ? GEO_ABS_SCALE : 1;
  gsl_odeiv2_driver *d = gsl_odeiv2_driver_alloc_scaled_new(&sys, gsl_odeiv2_step_rk8pd, 1e-3, W->o->ode_tol,
                                                            W->o->ode_tol, 1, 1, scale);
  gsl_odeiv2_control *c = d ? gsl_odeiv2_control_alloc(&geo_ctl_type) : NULL;
  if (!c) {
    if (d) gsl_odeiv2_driver_free(d);
    return -1;
  }
  ((geo_ctl *)c->state)->W = W;
  gsl_odeiv2_control_free(d->c);
  d->c = c;
  for (int k = 0; k <= n; k++) W->amax[k] = 0;
  gsl_odeiv2_driver_set_nmax(d, GEO_NMAX);
  gsl_odeiv2_driver_set_hmin(d, 1e-14);
  double t = 0;
  int st = GSL_SUCCESS;
  if (path) {
    memcpy(path, x, (size_t)n * sizeof(double));
    for (int k = 1; k < npath && st == GSL_SUCCESS; k++) {
      st = gsl_odeiv2_driver_apply(d, &t, k == npath - 1 ? 1.0 : (double)k / (npath - 1), y);
      memcpy(path + (size_t)k * n, y, (size_t)n * sizeof(double));
    }
  } else {
    st = gsl_odeiv2_driver_apply(d, &t, 1.0, y);
  }
  gsl_odeiv2_driver_free(d);
  if (st != GSL_SUCCESS || !finite_all(y, dim)) return -1;
  memcpy(end, y, (size_t)(vend ? 2 * n : n) * sizeof(double));
  *len = y[2 * n];
  return 0;
}

static double norm_inf(const double *a, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
  return m;
}

/* A basis orthonormal in G(x) (columns of B = L^-T, G = L L'), and |v|_G(x)
** into *vn.  Newton perturbs the initial velocity along these: near the
** boundary an x-coordinate step of 1e-7 |v| is a huge step in the metric
** (phi' ~ dz / sqrt(z)) and sends the perturbed shot out of the domain,
** while a step of 1e-7 |v|_G in each G-unit direction is small in every
** direction.  Returns 0 or -1. */
static int fd_basis(geo_ws *W, const double *x, const double *v, double *B, double *vn) {
  const flow_problem *p = W->p;
  int n = W->n;
  double *g = W->g;
  if (p->metric.fn(x, NULL, g, W->ws)) return -1;
  double s = 0;
  for (int k = 0; k < n * n; k++) B[k] = 0;
  if (p->metric_diagonal) {
    for (int k = 0; k < n; k++) {
      if (!(g[k] > 0)) return -1;
      s += g[k] * v[k] * v[k];
      B[k * n + k] = 1 / sqrt(g[k]);
    }
  } else {
    for (int k = 0; k < n; k++)
      for (int j = 0; j < n; j++) s += v[k] * g[k * n + j] * v[j];
    gsl_matrix_view G = gsl_matrix_view_array(g, (size_t)n, (size_t)n);
    if (gsl_linalg_cholesky_decomp1(&G.matrix)) return -1;
    /* L' b = e_j, L in the lower triangle of g */
    for (int j = 0; j < n; j++)
      for (int i = n - 1; i >= 0; i--) {
        double t = i == j ? 1 : 0;
        for (int k = i + 1; k < n; k++) t -= g[k * n + i] * B[k * n + j];
        B[i * n + j] = t / g[i * n + i];
      }
  }
  *vn = sqrt(fabs(s));
  return finite_all(B, (size_t)n * n) && isfinite(*vn) ? 0 : -1;
}

/* |r|_G = sqrt(r' G r) with G the metric at the target (gt: n diagonal
** entries or n x n): the end point's error in the metric's own units, so a
** target 1e-8 from the boundary, where sqrt(g) ~ 1e4, is met to 1e-14 in x
** and the length to the same digits as in the middle. */
static double dot_g(const geo_ws *W, const double *gt, const double *a, const double *b) {
  int n = W->n;
  double s = 0;
  for (int k = 0; k < n; k++) {
    if (W->p->metric_diagonal) {
      s += gt[k] * a[k] * b[k];
      continue;
    }
    for (int j = 0; j < n; j++) s += a[k] * gt[k * n + j] * b[j];
  }
  return s;
}

static double norm_g(const geo_ws *W, const double *gt, const double *r) { return sqrt(fabs(dot_g(W, gt, r, r))); }

/* Newton on v (in/out) so that gamma(1) = target within tol (in the
** G-norm).  Returns 0 when it is met, 1 when Newton stalls above it (no
** damped step decreases the residual, or max_iter): the shot's end point
** is then as good as its noise allows, and v, *len, *rn and fin (gamma(1)
** and gamma'(1), 2n values) are the best iterate's; -1 when no shot from
** the initial v succeeds or the sensitivities are singular. */
static int newton(geo_ws *W, const double *x, const double *target, const double *gt, double *v, double tol,
                  double *len, double *rn_out, double *fin) {
  int n = W->n, r = -1;
  double *buf = malloc((size_t)(9 * n + 2 * n * n) * sizeof(double));
  if (!buf) return -1;
  double *end = fin, *res = buf, *vt = res + n, *e2 = vt + n, *dv = e2 + 2 * n, *rt = dv + n, *ef = rt + n;
  double *A = ef + 2 * n, *B = A + n * n, *dc = B + n * n;
  gsl_permutation *perm = gsl_permutation_alloc((size_t)n);
  if (!perm) goto out;
  if (shoot(W, x, v, end, len, NULL, 0, 1)) goto out;
  for (int i = 0; i < n; i++) res[i] = end[i] - target[i];
  double rn = norm_g(W, gt, res);
  *rn_out = rn;
  r = 1;
  for (int it = 0; it < W->o->max_iter && rn > tol; it++) {
    /* forward-difference sensitivities d gamma(1) / d c, v0 = v + B c */
    double vn, l2;
    if (fd_basis(W, x, v, B, &vn)) {
      r = -1;
      goto out;
    }
    for (int j = 0; j < n; j++) {
      double h = 1e-7 * fmax(vn, 1e-6);
      for (int i = 0; i < n; i++) vt[i] = v[i] + h * B[i * n + j];
      if (shoot(W, x, vt, ef, &l2, NULL, 0, 0)) {
        h = -h;
        for (int i = 0; i < n; i++) vt[i] = v[i] + h * B[i * n + j];
        if (shoot(W, x, vt, ef, &l2, NULL, 0, 0)) goto out;
      }
      for (int i = 0; i < n; i++) A[i * n + j] = (ef[i] - end[i]) / h;
    }
    gsl_matrix_view Am = gsl_matrix_view_array(A, (size_t)n, (size_t)n);
    gsl_vector_view rv = gsl_vector_view_array(res, (size_t)n), dcv = gsl_vector_view_array(dc, (size_t)n);
    int sgn;
    if (gsl_linalg_LU_decomp(&Am.matrix, perm, &sgn) || gsl_linalg_LU_solve(&Am.matrix, perm, &rv.vector, &dcv.vector) ||
        !finite_all(dc, (size_t)n)) {
      r = -1;
      goto out;
    }
    for (int i = 0; i < n; i++) {
      dv[i] = 0;
      for (int j = 0; j < n; j++) dv[i] += B[i * n + j] * dc[j];
    }
    /* damped step: accept the first alpha that decreases the residual */
    double alpha = 1, rnew = INFINITY, lt = 0;
    for (int ls = 0; ls < 12; ls++, alpha *= 0.5) {
      for (int i = 0; i < n; i++) vt[i] = v[i] - alpha * dv[i];
      if (shoot(W, x, vt, e2, &lt, NULL, 0, 1)) continue;
      for (int i = 0; i < n; i++) rt[i] = e2[i] - target[i];
      rnew = norm_g(W, gt, rt);
      if (rnew < rn * (1 - 1e-4 * alpha) || rnew <= tol) break;
    }
    if (!(rnew < rn) && !(rnew <= tol)) break;   /* stalled: the shot's noise */
    memcpy(v, vt, (size_t)n * sizeof(double));
    memcpy(end, e2, 2 * (size_t)n * sizeof(double));
    memcpy(res, rt, (size_t)n * sizeof(double));
    *len = lt;
    *rn_out = rn = rnew;
  }
  if (rn <= tol) r = 0;
out:
  gsl_permutation_free(perm);
  free(buf);
  return r;
}

/* two-sided residual: (p_a - p_b, (v_a + v_b) / 2), its G-norm at p_a */
static void two_res(const geo_ws *W, const double *gm, const double *fa, const double *fb, double *rs, double *nr) {
  int n = W->n;
  for (int i = 0; i < n; i++) {
    rs[i] = fa[i] - fb[i];
    rs[n + i] = 0.5 * (fa[n + i] + fb[n + i]);
  }
  *nr = hypot(norm_g(W, gm, rs), norm_g(W, gm, rs + n));
}

/* One-sided shooting from x to y by continuation of the target,
** target(lam) = x + lam (y - x) (v scales with lam to first order).  tol is
** the residual wanted at y (units of length); a stalled Newton at y is
** accepted when its residual r has r^2 <= tol len, since the caller corrects
** the length to first order in r, leaving ~|r|^2 / 2 len (exact for a flat
** metric).  Out: v (n), *len, end (gamma(1), gamma'(1): 2n), gt (G(y)), *rfin
** (the smallest stalled residual at y, or INFINITY).  Returns lam reached. */
static double one_sided(geo_ws *W, const double *x, const double *y, double tol, double *v, double *len,
                        double *end, double *gt, double *rfin) {
  const flow_problem *p = W->p;
  int n = W->n;
  double *buf = malloc(2 * (size_t)n * sizeof(double));
  *rfin = INFINITY;
  if (!buf) return 0;
  double *vs = buf, *tg = vs + n, rn = INFINITY, lam = 0, dl = 1;
  for (int i = 0; i < n; i++) v[i] = 0;
  while (lam < 1 && !flow_interrupted() && W->total <= W->budget) {
    double lt = fmin(1, lam + dl);
    for (int i = 0; i < n; i++) {
      tg[i] = lt == 1 ? y[i] : x[i] + lt * (y[i] - x[i]);
      vs[i] = lam > 0 ? v[i] * lt / lam : lt * (y[i] - x[i]);
    }
    double stol = lt == 1 ? tol : fmax(tol, 1e-6);
    int ok = !p->metric.fn(tg, NULL, gt, W->ws) && finite_all(gt, p->metric_diagonal ? (size_t)n : (size_t)n * n);
    int rc = ok ? newton(W, x, tg, gt, vs, stol, len, &rn, end) : -1;
    if (rc == 1 && lt == 1) *rfin = fmin(*rfin, rn);
    /* a stalled stage is still a good start for the next */
    if (rc == 0 || (rc == 1 && (lt < 1 ? rn <= 1e-3 * *len : rn * rn <= tol * *len))) {
      memcpy(v, vs, (size_t)n * sizeof(double));
      lam = lt;
      dl *= 2;
    } else {
      dl *= 0.25;
      if (dl < 1e-8) break;
    }
  }
  free(buf);
  return lam;
}

/* first variation of length: moving the end of a geodesic by r changes its
** length by <gamma'(1), r>_G / |gamma'(1)|_G; fin = (gamma(1), gamma'(1)) */
static double length_to(const geo_ws *W, const double *gt, const double *fin, const double *y, double *r) {
  int n = W->n;
  double sp = norm_g(W, gt, fin + n);
  for (int i = 0; i < n; i++) r[i] = y[i] - fin[i];
  return sp > 0 ? dot_g(W, gt, fin + n, r) / sp : 0;
}

/* Two-sided shooting: a from x and b from y meet at t = 1 (each is half the
** geodesic on [0, 1]): gamma_a(1) = gamma_b(1), gamma_a'(1) = -gamma_b'(1).
** Neither shot ends at the boundary, where the end point is insensitive to
** the initial velocity (1 - z ~ (pi - phi)^2 for the logistic metric) and
** a shot that overshoots leaves the domain.  The starting a, b are one-sided
** solutions to the midpoint m = (x + y) / 2.  The residual is (dp, dv / 2)
** in the metric at gamma_a(1); a stalled Newton is accepted as above, the
** length corrected for dp.  Returns 0 with *len, or -1. */
static int two_sided(geo_ws *W, const double *x, const double *y, double tol, double *len) {
  int n = W->n, m2 = 2 * n, r = -1;
  size_t nn = (size_t)n * n;
  double *buf = malloc((size_t)(16 * n + 2 * nn + 4 * n * n) * sizeof(double));
  gsl_permutation *perm = gsl_permutation_alloc((size_t)m2);
  if (!buf || !perm) goto out;
  double *u = buf, *ut = u + m2, *du = ut + m2, *res = du + m2, *rt = res + m2, *fa = rt + m2, *fb = fa + m2;
  double *mid = fb + m2, *gm = mid + n, *J = gm + nn, *tmp = J + 4 * nn;
  double la, lb, rf, rn = INFINITY, lt = 0;
  for (int i = 0; i < n; i++) mid[i] = 0.5 * (x[i] + y[i]);
  if (one_sided(W, x, mid, 1e-6, u, &la, fa, gm, &rf) < 1 || one_sided(W, y, mid, 1e-6, u + n, &lb, fb, gm, &rf) < 1)
    goto out;
  /* residual of u into rs (2n), the G-norm into *nr, lengths into *l */
#define TWO_SHOT(U, RS, NR, L)                                                                       \
  (shoot(W, x, (U), fa, &la, NULL, 0, 1) || shoot(W, y, (U) + n, fb, &lb, NULL, 0, 1) ||             \
   W->p->metric.fn(fa, NULL, gm, W->ws) ||                                                           \
   (two_res(W, gm, fa, fb, (RS), (NR)), *(L) = la + lb + length_to(W, gm, fa, fb, tmp), 0))
  if (TWO_SHOT(u, res, &rn, len)) goto out;
  for (int it = 0; it < W->o->max_iter && rn > tol; it++) {
    double us = norm_inf(u, m2), nr, l2;
    for (int j = 0; j < m2; j++) {
      memcpy(ut, u, (size_t)m2 * sizeof(double));
      double h = 1e-7 * fmax(fabs(u[j]), fmax(1e-2 * us, 1e-6));
      ut[j] += h;
      if (TWO_SHOT(ut, rt, &nr, &l2)) {
        ut[j] = u[j] - h;
        h = -h;
        if (TWO_SHOT(ut, rt, &nr, &l2)) goto out;
      }
      for (int i = 0; i < m2; i++) J[i * m2 + j] = (rt[i] - res[i]) / h;
    }
    gsl_matrix_view Jm = gsl_matrix_view_array(J, (size_t)m2, (size_t)m2);
    gsl_vector_view rv = gsl_vector_view_array(res, (size_t)m2), dv = gsl_vector_view_array(du, (size_t)m2);
    int sgn;
    if (gsl_linalg_LU_decomp(&Jm.matrix, perm, &sgn) || gsl_linalg_LU_solve(&Jm.matrix, perm, &rv.vector, &dv.vector) ||
        !finite_all(du, (size_t)m2))
      goto out;
    double alpha = 1, rnew = INFINITY;
    for (int ls = 0; ls < 12; ls++, alpha *= 0.5) {
      for (int i = 0; i < m2; i++) ut[i] = u[i] - alpha * du[i];
      if (TWO_SHOT(ut, rt, &rnew, &lt)) {
        rnew = INFINITY;
        continue;
      }
      if (rnew < rn * (1 - 1e-4 * alpha) || rnew <= tol) break;
    }
    if (!(rnew < rn)) break;   /* stalled */
    memcpy(u, ut, (size_t)m2 * sizeof(double));
    memcpy(res, rt, (size_t)m2 * sizeof(double));
    rn = rnew;
    *len = lt;
  }
#undef TWO_SHOT
  if (rn <= tol || rn * rn <= tol * *len) r = 0;
out:
  gsl_permutation_free(perm);
  free(buf);
  return r;
}

void geo_options_default(geo_options *o) {
  o->tol = 1e-9;
  o->ode_tol = 1e-12;
  o->max_iter = 50;
  o->use_coord = 0;
}

int geo_distance(const flow_problem *p, const double *x, const double *y, const geo_options *o,
                 double *dist, double *path, int npath, char *msg, size_t msglen) {
  geo_options def;
  if (!o) {
    geo_options_default(&def);
    o = &def;
  }
  int n = p->n;
  *dist = NAN;
  if (n < 1 || (path && npath < 2)) {
    flow_msg(msg, msglen, "bad arguments");
    return 2;
  }
  geo_ws W;
  if (o->use_coord && p->geo_coord.fn && !path) {
    if (geo_ws_init(&W, p, o)) return 3;
    double *a = W.w, *b = W.tmp;
    int r = p->geo_coord.fn(x, NULL, a, W.ws) || p->geo_coord.fn(y, NULL, b, W.ws);
    double s = 0;
    for (int i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    geo_ws_free(&W);
    if (r || !isfinite(s)) {
      flow_msg(msg, msglen, "the coordinate map failed");
      return 3;
    }
    *dist = sqrt(s);
    return 0;
  }
  if (!p->metric.fn || (p->metric_diagonal ? !p->metric_jac.fn : !p->metric_dx.fn)) {
    flow_msg(msg, msglen, "needs the metric and %s callbacks",
        p->metric_diagonal ? "its Jacobian (d g_k/d x_j)" : "its derivatives (dG/dx_j)");
    return 2;
  }
  if (geo_ws_init(&W, p, o)) return 3;
  /* an end point outside the metric's domain would only show as shooting
  ** that never converges */
  for (int e = 0; e < 2; e++) {
    int k = metric_not_positive(&W, e ? y : x);
    if (k) {
      geo_ws_free(&W);
      if (k < 0) flow_msg(msg, msglen, "the metric could not be evaluated at %s", e ? "y" : "x");
      else flow_msg(msg, msglen, "the metric is not positive and finite at %s (component %d: %s%d = %.6g; "
                    "outside the activation's range?)", e ? "y" : "x", k, e ? "y" : "x", k, (e ? y : x)[k - 1]);
      return 3;
    }
  }
  /* shoot from the end where the metric is smaller: near the boundary of a
  ** Hopfield metric the end point is sensitive to the initial velocity
  ** (d(x, y) = d(y, x); a path is reversed at the end) */
  int swap = 0;
  {
    double mx = 0, my = 0;
    for (int e = 0; e < 2; e++) {
      p->metric.fn(e ? y : x, NULL, W.g, W.ws);
      double m = 0;
      for (int k = 0; k < n; k++) m = fmax(m, p->metric_diagonal ? W.g[k] : W.g[k * n + k]);
      if (e) my = m;
      else mx = m;
    }
    if (my < mx) {
      const double *t = x;
      x = y;
      y = t;
      swap = 1;
    }
  }
  double *buf = malloc((size_t)(4 * n + n * n) * sizeof(double));
  if (!buf) {
    geo_ws_free(&W);
    return 3;
  }
  double *v = buf, *r = v + n, *gt = r + n, *end = gt + n * n;   /* end: 2n */
  /* the residual is measured in the metric at the target: tol is in units
  ** of length, i.e. an absolute error of the distance */
  double tol = o->tol, len = 0, rfin;
  int st = 3, two = 0;
  /* a third of the budget for the direct shot, the rest for two-sided */
  long budget = W.budget;
  W.budget = budget / 3;
  double lam = one_sided(&W, x, y, tol, v, &len, end, gt, &rfin);
  W.budget = budget;
  if (lam >= 1) {
    len += length_to(&W, gt, end, y, r);
  } else if (!path && !flow_interrupted() && W.total <= W.budget && !two_sided(&W, x, y, tol, &len)) {
    lam = 1;
    two = 1;
  }
  if (lam < 1 && flow_interrupted()) {
    flow_msg(msg, msglen, "interrupted while shooting (%.3g of the way)", lam);
  } else if (lam < 1 && W.total > W.budget) {
    flow_msg(msg, msglen, "shooting did not converge within %ld evaluations of the geodesic equation (reached %.3g "
             "of the way)", W.budget, lam);
  } else if (lam < 1 && path && isfinite(rfin)) {
    flow_msg(msg, msglen, "shooting stalled at a residual of %.3g at y (needs %.3g); a path between two points "
             "both near the boundary is not computed (their distance is, by shooting from both ends)", rfin,
             sqrt(tol * len));
  } else if (lam < 1 && isfinite(rfin)) {
    flow_msg(msg, msglen, "shooting stalled at a residual of %.3g at y (needs %.3g; the geodesic equation is too "
             "noisy there)", rfin, sqrt(tol * len));
  } else if (lam < 1) {
    flow_msg(msg, msglen, "shooting did not converge (reached %.3g of the way)", lam);
  } else if (path && !two && shoot(&W, x, v, end, &rfin, path, npath, 0)) {
    flow_msg(msg, msglen, "the path could not be integrated");
  } else {
    if (path) memcpy(path + (size_t)(npath - 1) * n, y, (size_t)n * sizeof(double));
    for (int k = 0; swap && path && k < npath / 2; k++)
      for (int i = 0; i < n; i++) {
        double t = path[(size_t)k * n + i];
        path[(size_t)k * n + i] = path[(size_t)(npath - 1 - k) * n + i];
        path[(size_t)(npath - 1 - k) * n + i] = t;
      }
    *dist = len;
    st = 0;
  }
  free(buf);
  geo_ws_free(&W);
  return st;
}

double hnn_rt_geodesic(void *ctx, const double *x, const double *y, int *st) {
  geo_rt *c = ctx;
  char msg[400] = "";
  double d = NAN;
  if (geo_distance(&c->P, x, y, &c->o, &d, NULL, 0, msg, sizeof msg) != 0) {
    hnn_rt_error_set("geodesic: %s", msg[0] ? msg : "the distance could not be computed");
    *st |= 2;
    return NAN;
  }
  return d;
}
