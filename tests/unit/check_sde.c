/*
** check_sde.c — unit tests for runtime/sde.c (diffusion machine) and
** runtime/gibbs.c (Gibbs density, partition function, goodness of fit).
**
** Problems are plain C callbacks with the flow.h ABI.  Statistical
** tolerances (all runs use fixed seeds, so every outcome is deterministic;
** the tolerances say why the fixed outcome is not luck):
**  - OU (f = x'Ax/2, Euclidean): the cloud's mean and covariance vs the exact
**    Gaussian law m = e^{-At} x0, C = T A^-1 (I - e^{-2At}).  Tolerance =
**    5 standard errors of the estimator (mean: sqrt(C_kk/N); covariance:
**    sqrt((C_kk C_ll + C_kl^2)/(N-1))) + a bound of the EM weak error: with
**    u = a h (a = largest eigenvalue of A) the one-step error of the moment
**    recursions is <= u^2 |x0| (mean) and <= u^2 (C_max + 2T/a) (covariance),
**    and the recursions contract, so after t = k h the bias is
**    <= a^2 h t |x0| / 2 (mean) and <= a h t (a C_max + 2T) (covariance).
**  - Gibbs on [0,1]^2 with the soft-projection metric: chi-square of the
**    long-run 10x10 histogram against the cell probabilities of
**    exp(-f/T)/Z; pass if the p-value > 1e-4 (threshold chi2 quantile).
**    The same run without the divergence term must give p < 1e-10.
*/
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_cdf.h>

#include "check_run.h"
#include "flow.h"
#include "gibbs.h"
#include "sde.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------ OU problems */

/* f = x'Ax/2 with A from the globals (n <= 2) */
static double ou_A[4];
static int ou_n;

static int ou_f(const double *x, const double *d, double *out, double *ws) {
  (void)d, (void)ws;
  double s = 0;
  for (int i = 0; i < ou_n; i++)
    for (int j = 0; j < ou_n; j++) s += 0.5 * x[i] * ou_A[i * ou_n + j] * x[j];
  out[0] = s;
  return 0;
}
static int ou_grad(const double *x, const double *d, double *out, double *ws) {
  (void)d, (void)ws;
  for (int i = 0; i < ou_n; i++) {
    out[i] = 0;
    for (int j = 0; j < ou_n; j++) out[i] += ou_A[i * ou_n + j] * x[j];
  }
  return 0;
}

/* e^{-A s} for symmetric 2x2 (or 1x1) A, by the eigendecomposition */
static void expm_neg(const double *A, int n, double s, double *E) {
  if (n == 1) {
    E[0] = exp(-A[0] * s);
    return;
  }
  double a = A[0], b = A[1], c = A[3];
  double tr = a + c, disc = sqrt((a - c) * (a - c) + 4 * b * b);
  double l1 = (tr + disc) / 2, l2 = (tr - disc) / 2;
  /* E = e1 P1 + e2 P2, P1 = (A - l2 I)/(l1 - l2) */
  double e1 = exp(-l1 * s), e2 = exp(-l2 * s);
  if (disc < 1e-14) {
    E[0] = E[3] = e1;
    E[1] = E[2] = 0;
    return;
  }
  double P1[4] = { (a - l2) / disc, b / disc, b / disc, (c - l2) / disc };
  for (int k = 0; k < 4; k++) {
    double I = (k == 0 || k == 3) ? 1 : 0;
    E[k] = e1 * P1[k] + e2 * (I - P1[k]);
  }
}

typedef struct {
  double T, h, x0[2], lam_max;
  int N, n, checks;
  double worst_mean, worst_cov; /* max |err| / tol seen */
} ou_ctx;

static int ou_emit(void *vctx, long step, double t, const double *x, int N, int n, const sde_monitor *m) {
  (void)x, (void)step;
  ou_ctx *c = vctx;
  double E[4], E2[4], Ainv[4], C[4], mexp[2];
  expm_neg(ou_A, n, t, E);
  expm_neg(ou_A, n, 2 * t, E2);
  if (n == 1) Ainv[0] = 1 / ou_A[0];
  else {
    double det = ou_A[0] * ou_A[3] - ou_A[1] * ou_A[2];
    Ainv[0] = ou_A[3] / det, Ainv[1] = -ou_A[1] / det, Ainv[2] = -ou_A[2] / det, Ainv[3] = ou_A[0] / det;
  }
  double x0norm = 0, cmax = 0;
  for (int i = 0; i < n; i++) {
    mexp[i] = 0;
    for (int j = 0; j < n; j++) mexp[i] += E[i * n + j] * c->x0[j];
    x0norm += c->x0[i] * c->x0[i];
  }
  x0norm = sqrt(x0norm);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0; /* T A^-1 (I - E2) */
      for (int k = 0; k < n; k++) s += Ainv[i * n + k] * ((k == j ? 1 : 0) - E2[k * n + j]);
      C[i * n + j] = c->T * s;
      if (fabs(C[i * n + j]) > cmax) cmax = fabs(C[i * n + j]);
    }
  double a = c->lam_max;
  double bias_m = a * a * c->h * t * x0norm / 2;
  double bias_c = a * c->h * t * (a * cmax + 2 * c->T);
  for (int i = 0; i < n; i++) {
    double tol = 5 * sqrt(C[i * n + i] / N) + bias_m + 1e-12;
    double err = fabs(m->mean[i] - mexp[i]);
    ck_assert_msg(err <= tol, "t=%g mean[%d] = %.6g, exact %.6g, tol %.3g", t, i, m->mean[i], mexp[i], tol);
    if (err / tol > c->worst_mean) c->worst_mean = err / tol;
    for (int j = 0; j < n; j++) {
      double se = sqrt((C[i * n + i] * C[j * n + j] + C[i * n + j] * C[i * n + j]) / (N - 1));
      double tolc = 5 * se + bias_c + 1e-12;
      double errc = fabs(m->cov[i * n + j] - C[i * n + j]);
      ck_assert_msg(errc <= tolc, "t=%g cov[%d][%d] = %.6g, exact %.6g, tol %.3g", t, i, j, m->cov[i * n + j],
                    C[i * n + j], tolc);
      if (errc / tolc > c->worst_cov) c->worst_cov = errc / tolc;
    }
  }
  ck_assert(isfinite(m->f_mean));
  c->checks++;
  return 0;
}

static void run_ou(int n, const double *A, const double *x0, double T, double h, long steps, int N,
                   sde_scheme scheme, const char *name) {
  ou_n = n;
  memcpy(ou_A, A, sizeof(double) * (size_t)(n * n));
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = n;
  p.f.fn = ou_f;
  p.grad.fn = ou_grad;
  sde_opts o;
  sde_opts_default(&o);
  o.T = T, o.h = h, o.steps = steps, o.every = steps / 10, o.seed = 42, o.scheme = scheme;
  o.threads = 1; /* statistical tests single-threaded (make check runs tests in parallel) */
  ou_ctx c;
  memset(&c, 0, sizeof c);
  c.T = T, c.h = h, c.N = N, c.n = n;
  memcpy(c.x0, x0, sizeof(double) * (size_t)n);
  if (n == 1) c.lam_max = A[0];
  else {
    double tr = A[0] + A[3], disc = sqrt((A[0] - A[3]) * (A[0] - A[3]) + 4 * A[1] * A[1]);
    c.lam_max = (tr + disc) / 2;
  }
  double *x = malloc(sizeof(double) * (size_t)N * n);
  for (int i = 0; i < N; i++) memcpy(x + (size_t)i * n, x0, sizeof(double) * (size_t)n);
  char err[256];
  double t0 = now();
  int rc = sde_run(&p, &o, N, x, ou_emit, &c, err, sizeof err);
  ck_assert_msg(rc == 0, "%s: %s", name, err);
  ck_assert_int_eq(c.checks, 11);
  printf("%s: N=%d h=%g t=%g: worst |err|/tol mean %.3f cov %.3f (%.2f s)\n", name, N, h, h * steps,
         c.worst_mean, c.worst_cov, now() - t0);
  free(x);
}

START_TEST(test_ou_1d) {
  double A[1] = { 1.0 }, x0[1] = { 1.0 };
  run_ou(1, A, x0, 0.5, 0.01, 200, 20000, SDE_EM, "OU 1-D EM");
}
END_TEST

START_TEST(test_ou_2d) {
  double A[4] = { 2.0, 0.8, 0.8, 1.0 }, x0[2] = { 1.0, -1.0 };
  run_ou(2, A, x0, 0.5, 0.005, 300, 20000, SDE_EM, "OU 2-D EM");
  run_ou(2, A, x0, 0.5, 0.005, 300, 20000, SDE_MILSTEIN, "OU 2-D Milstein (additive noise)");
}
END_TEST

/* ------------------------------------- soft-projection metric on [0,1]^2 */

/* s(u) = (1 + tanh(beta (u - 1/2)))/2: G^-1 = diag(2 beta x_i (1 - x_i)),
** div G^-1 = 2 beta (1 - 2 x_i) (source 000 (63)-(64)).  f smooth, with its
** minimum inside the box and a coupling term. */
#define SP_BETA 2.0
#define SP_T 0.5
static int sp_f(const double *x, const double *d, double *out, double *ws) {
  (void)d, (void)ws;
  double a = x[0] - 0.3, b = x[1] - 0.65;
  out[0] = 3 * (a * a + b * b) + 2 * x[0] * x[1];
  return 0;
}
static int sp_grad(const double *x, const double *d, double *out, double *ws) {
  (void)d, (void)ws;
  out[0] = 6 * (x[0] - 0.3) + 2 * x[1];
  out[1] = 6 * (x[1] - 0.65) + 2 * x[0];
  return 0;
}
static int sp_ginv(const double *x, const double *d, double *out, double *ws) {
  (void)d, (void)ws;
  for (int i = 0; i < 2; i++) out[i] = 2 * SP_BETA * x[i] * (1 - x[i]);
  return 0;
}
static int sp_div(const double *x, const double *d, double *out, double *ws) {
  (void)d, (void)ws;
  for (int i = 0; i < 2; i++) out[i] = 2 * SP_BETA * (1 - 2 * x[i]);
  return 0;
}
static const double unit_lo[2] = { 0, 0 }, unit_hi[2] = { 1, 1 };

static flow_problem sp_problem(void) {
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 2;
  p.f.fn = sp_f;
  p.grad.fn = sp_grad;
  p.metric_diagonal = 1;
  p.metric_inv.fn = sp_ginv;
  p.div_metric_inv.fn = sp_div;
  return p;
}

/* Run N particles from the centre to t = h steps (the slowest relaxation
** rate of this Jacobi-type diffusion is about 4 beta T = 4, so t = 2 leaves
** e^-8 of the initial condition) and compare with the Gibbs law. */
static void run_gibbs(int include_div, sde_scheme scheme, int N, double h, long steps,
                      gibbs_gof *grid, gibbs_gof *marg, double *secs) {
  flow_problem p = sp_problem();
  sde_opts o;
  sde_opts_default(&o);
  o.T = SP_T, o.h = h, o.steps = steps, o.every = steps, o.seed = 7, o.scheme = scheme, o.threads = 1;
  o.boundary = SDE_REFLECT, o.lo = unit_lo, o.hi = unit_hi;
  o.include_divergence = include_div;
  double *x = malloc(sizeof(double) * 2 * (size_t)N);
  for (int i = 0; i < 2 * N; i++) x[i] = 0.5;
  char err[256];
  double t0 = now();
  int rc = sde_run(&p, &o, N, x, NULL, NULL, err, sizeof err);
  *secs = now() - t0;
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(gibbs_gof_hist(&p, SP_T, unit_lo, unit_hi, 10, -1, N, x, grid, err, sizeof err), 0);
  ck_assert_int_eq(gibbs_gof_hist(&p, SP_T, unit_lo, unit_hi, 20, 0, N, x, marg, err, sizeof err), 0);
  free(x);
}

#define GOF_P_PASS 1e-4   /* the correct scheme must not be rejected at this level */
#define GOF_P_FAIL 1e-10  /* the scheme without div G^-1 must be rejected at this one */

START_TEST(test_gibbs_soft_projection) {
  gibbs_gof g, m;
  double s;
  run_gibbs(1, SDE_EM, 10000, 2e-3, 1000, &g, &m, &s);
  printf("Gibbs, EM with div: 10x10 chi2 = %.1f df %d p = %.3g (max |z| %.2f); x1 marginal (20 bins) "
         "chi2 = %.1f df %d p = %.3g  (%.2f s)\n",
         g.chi2, g.df, g.pvalue, g.max_z, m.chi2, m.df, m.pvalue, s);
  ck_assert_msg(g.pvalue > GOF_P_PASS, "grid chi2 %g df %d p %g", g.chi2, g.df, g.pvalue);
  ck_assert_msg(m.pvalue > GOF_P_PASS, "marginal chi2 %g df %d p %g", m.chi2, m.df, m.pvalue);
  run_gibbs(1, SDE_MILSTEIN, 10000, 2e-3, 1000, &g, &m, &s);
  printf("Gibbs, Milstein with div: 10x10 chi2 = %.1f df %d p = %.3g; marginal chi2 = %.1f df %d p = %.3g  (%.2f s)\n",
         g.chi2, g.df, g.pvalue, m.chi2, m.df, m.pvalue, s);
  ck_assert_msg(g.pvalue > GOF_P_PASS, "grid chi2 %g df %d p %g", g.chi2, g.df, g.pvalue);
  ck_assert_msg(m.pvalue > GOF_P_PASS, "marginal chi2 %g df %d p %g", m.chi2, m.df, m.pvalue);
}
END_TEST

START_TEST(test_gibbs_without_divergence_fails) {
  gibbs_gof g, m;
  double s;
  run_gibbs(0, SDE_EM, 10000, 2e-3, 1000, &g, &m, &s);
  printf("Gibbs, EM WITHOUT div: 10x10 chi2 = %.1f df %d p = %.3g (max |z| %.2f); marginal chi2 = %.1f "
         "df %d p = %.3g  (%.2f s)\n",
         g.chi2, g.df, g.pvalue, g.max_z, m.chi2, m.df, m.pvalue, s);
  ck_assert_msg(g.pvalue < GOF_P_FAIL, "grid chi2 %g df %d p %g", g.chi2, g.df, g.pvalue);
  ck_assert_msg(m.pvalue < GOF_P_FAIL, "marginal chi2 %g df %d p %g", m.chi2, m.df, m.pvalue);
}
END_TEST

/* ----------------------------------------------- errors and determinism */

/* Brownian motion with a drift towards x = 1.5 on the box [0, 1]^2 with no
** boundary rule: a particle must leave, and the message names it. */
static int push_grad(const double *x, const double *d, double *out, double *ws) {
  (void)d, (void)ws;
  out[0] = x[0] - 1.5;
  out[1] = x[1] - 1.5;
  return 0;
}

START_TEST(test_leave_domain_message) {
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 2;
  p.grad.fn = push_grad;
  sde_opts o;
  sde_opts_default(&o);
  o.T = 0.01, o.h = 1e-3, o.steps = 100000, o.lo = unit_lo, o.hi = unit_hi;
  int N = 300;
  double *x = malloc(sizeof(double) * 2 * N);
  for (int i = 0; i < 2 * N; i++) x[i] = 0.5;
  char err[256] = "";
  int rc = sde_run(&p, &o, N, x, NULL, NULL, err, sizeof err);
  printf("leave-the-domain: %s\n", err);
  ck_assert_int_eq(rc, SDE_EDOMAIN);
  int particle, coord;
  long step;
  double v, b;
  ck_assert_msg(sscanf(err, "particle %d left the domain at step %ld: x%d = %lf > %lf", &particle, &step,
                       &coord, &v, &b) == 5, "message: %s", err);
  ck_assert(particle >= 1 && particle <= N && step >= 1 && (coord == 1 || coord == 2));
  ck_assert(v > 1 && b == 1);
  /* the lower face, and a starting point outside the box */
  for (int i = 0; i < 2 * N; i++) x[i] = 0.5;
  o.lo = (const double[]){ 0.4, 0 }, o.hi = (const double[]){ 2, 2 };
  p.grad.fn = ou_grad, ou_n = 2, ou_A[0] = ou_A[3] = 1, ou_A[1] = ou_A[2] = 0, o.T = 0.05;
  rc = sde_run(&p, &o, N, x, NULL, NULL, err, sizeof err);
  printf("leave-the-domain: %s\n", err);
  ck_assert_int_eq(rc, SDE_EDOMAIN);
  ck_assert_msg(strstr(err, "x1 = ") && strstr(err, " < 0.4"), "%s", err);
  x[7] = -1;
  rc = sde_run(&p, &o, N, x, NULL, NULL, err, sizeof err);
  ck_assert_int_eq(rc, SDE_EDOMAIN);
  ck_assert_str_eq(err, "particle 4 starts outside the domain: x2 = -1 not in [0, 2]");
  free(x);
}
END_TEST

typedef struct {
  int calls;
  double fm[16];
} rec_ctx;
static int rec_emit(void *vctx, long step, double t, const double *x, int N, int n, const sde_monitor *m) {
  (void)step, (void)t, (void)x, (void)N, (void)n;
  rec_ctx *c = vctx;
  if (c->calls < 16) c->fm[c->calls] = m->f_mean;
  c->calls++;
  return 0;
}

START_TEST(test_threads_bitwise) {
  flow_problem p = sp_problem();
  sde_opts o;
  sde_opts_default(&o);
  o.T = SP_T, o.h = 2e-3, o.steps = 200, o.every = 50, o.seed = 99;
  o.boundary = SDE_REFLECT, o.lo = unit_lo, o.hi = unit_hi;
  int N = 3 * SDE_BLOCK + 17; /* a partial last block */
  double *x1 = malloc(sizeof(double) * 2 * N), *x2 = malloc(sizeof(double) * 2 * N);
  for (int i = 0; i < 2 * N; i++) x1[i] = x2[i] = 0.2 + 0.6 * (i % 7) / 6.0;
  rec_ctx c1 = { 0 }, c2 = { 0 };
  char err[256];
  o.threads = 1;
  ck_assert_int_eq(sde_run(&p, &o, N, x1, rec_emit, &c1, err, sizeof err), 0);
  o.threads = 2;
  ck_assert_int_eq(sde_run(&p, &o, N, x2, rec_emit, &c2, err, sizeof err), 0);
  ck_assert_int_eq(c1.calls, 5);
  ck_assert_int_eq(c2.calls, 5);
  ck_assert(memcmp(x1, x2, sizeof(double) * 2 * N) == 0);
  ck_assert(memcmp(c1.fm, c2.fm, sizeof(double) * 5) == 0);
  /* a different seed gives a different cloud */
  o.seed = 100;
  for (int i = 0; i < 2 * N; i++) x2[i] = 0.2 + 0.6 * (i % 7) / 6.0;
  ck_assert_int_eq(sde_run(&p, &o, N, x2, NULL, NULL, err, sizeof err), 0);
  ck_assert(memcmp(x1, x2, sizeof(double) * 2 * N) != 0);
  printf("threads: 1 and 2 threads agree bit for bit\n");
  free(x1);
  free(x2);
}
END_TEST

/* Boundary rules with pure Brownian motion (grad f = 0) and a large step,
** and the single-step API. */
static int zero_grad(const double *x, const double *d, double *out, double *ws) {
  (void)x, (void)d, (void)ws;
  out[0] = 0;
  return 0;
}

START_TEST(test_boundaries) {
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 1;
  p.grad.fn = zero_grad;
  sde_opts o;
  sde_opts_default(&o);
  double lo[1] = { -1 }, hi[1] = { 2 };
  o.T = 50, o.h = 0.1, o.lo = lo, o.hi = hi; /* sqrt(2Th) = 3.2 = about one box length */
  int N = 2000;
  double *x = malloc(sizeof(double) * N), *y = malloc(sizeof(double) * N);
  char err[256];
  sde_boundary kinds[3] = { SDE_REFLECT, SDE_PERIODIC, SDE_ABSORB };
  for (int k = 0; k < 3; k++) {
    o.boundary = kinds[k];
    sde_ws *w = sde_ws_alloc(&p, &o, N, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    for (int i = 0; i < N; i++) x[i] = 0.5;
    for (long s = 1; s <= 50; s++) {
      ck_assert_int_eq(sde_ws_step(w, x, y, s, err, sizeof err), 0);
      for (int i = 0; i < N; i++) {
        ck_assert(y[i] >= lo[0] && y[i] <= hi[0]);
        if (kinds[k] == SDE_ABSORB && sde_ws_absorbed(w, i)) ck_assert(y[i] == lo[0] || y[i] == hi[0]);
      }
      memcpy(x, y, sizeof(double) * N);
    }
    /* reflecting and periodic: uniform after many box-crossing steps */
    if (kinds[k] != SDE_ABSORB) {
      double m = 0;
      for (int i = 0; i < N; i++) m += x[i];
      m /= N;
      /* uniform on [-1, 2]: mean 0.5, sd 3/sqrt(12) = 0.87, SE 0.019 */
      ck_assert_msg(fabs(m - 0.5) < 5 * 0.87 / sqrt(N), "boundary %d: mean %g", k, m);
    } else {
      int a = 0;
      for (int i = 0; i < N; i++) a += sde_ws_absorbed(w, i);
      ck_assert_msg(a > N * 0.9, "absorbed %d of %d", a, N);
    }
    sde_ws_free(w);
  }
  free(x);
  free(y);
}
END_TEST

/* Milstein's assumption is checked: a diagonal G^-1 whose first entry
** depends on x2 is rejected with a message. */
static int bad_ginv(const double *x, const double *d, double *out, double *ws) {
  (void)d, (void)ws;
  out[0] = 1 + x[1] * x[1];
  out[1] = 1;
  return 0;
}
static int bad_div(const double *x, const double *d, double *out, double *ws) {
  (void)x, (void)d, (void)ws;
  out[0] = out[1] = 0;
  return 0;
}

START_TEST(test_milstein_assumption) {
  flow_problem p = sp_problem();
  double ws[64], x[2] = { 0.3, 0.8 };
  char err[256] = "";
  ck_assert_int_eq(sde_check_milstein(&p, x, ws, err, sizeof err), 0);
  p.metric_inv.fn = bad_ginv;
  p.div_metric_inv.fn = bad_div;
  ck_assert_int_eq(sde_check_milstein(&p, x, ws, err, sizeof err), SDE_EINVAL);
  ck_assert_msg(strstr(err, "depends on x1 only") != NULL, "%s", err);
  /* a wrong divergence for the soft projection is caught too */
  p = sp_problem();
  p.div_metric_inv.fn = bad_div;
  ck_assert_int_eq(sde_check_milstein(&p, x, ws, err, sizeof err), SDE_EINVAL);
  /* and sde_run refuses to run Milstein on the bad metric */
  p.metric_inv.fn = bad_ginv;
  sde_opts o;
  sde_opts_default(&o);
  o.scheme = SDE_MILSTEIN, o.steps = 3;
  double cloud[4] = { 0.3, 0.8, 0.4, 0.5 };
  ck_assert_int_eq(sde_run(&p, &o, 2, cloud, NULL, NULL, err, sizeof err), SDE_EINVAL);
  printf("Milstein check: %s\n", err);
}
END_TEST

/* ------------------------------------------------------------------ Gibbs */

/* 1-D: f = (x - 0.2)^2 on [-1, 1], T = 0.3: Z = sqrt(pi T)/2 (erf(0.8/sqrt T) + erf(1.2/sqrt T)) */
static int q1_f(const double *x, const double *d, double *out, double *ws) {
  (void)d, (void)ws;
  out[0] = (x[0] - 0.2) * (x[0] - 0.2);
  return 0;
}
/* n-D separable: f = sum (x_i - 0.2)^2, Z = Z_1^n */
static int qn_n;
static int qn_f(const double *x, const double *d, double *out, double *ws) {
  (void)d, (void)ws;
  out[0] = 0;
  for (int i = 0; i < qn_n; i++) out[0] += (x[i] - 0.2) * (x[i] - 0.2);
  return 0;
}

START_TEST(test_partition) {
  double T = 0.3, lo[3] = { -1, -1, -1 }, hi[3] = { 1, 1, 1 };
  double z1 = sqrt(M_PI * T) / 2 * (erf(0.8 / sqrt(T)) + erf(1.2 / sqrt(T)));
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 1;
  p.f.fn = q1_f;
  gibbs_opts o;
  gibbs_opts_default(&o);
  gibbs_z z;
  char err[256];
  ck_assert_int_eq(gibbs_partition(&p, T, lo, hi, &o, &z, err, sizeof err), 0);
  ck_assert_msg(fabs(z.logZ - log(z1)) < 1e-12, "GL 1-D: %.15g vs %.15g", z.logZ, log(z1));
  o.method = GIBBS_SIMPSON, o.panels = 200;
  ck_assert_int_eq(gibbs_partition(&p, T, lo, hi, &o, &z, err, sizeof err), 0);
  /* Simpson error (b-a) h^4 max|f| / 180 with h = 0.005, |(e^{-u^2/T})| <= 12/T^2 */
  ck_assert_msg(fabs(z.logZ - log(z1)) < 2 * pow(0.005, 4) * 12 / (T * T) / 180 / z1 + 1e-14,
                "Simpson 1-D: %.15g vs %.15g", z.logZ, log(z1));
  /* 2-D tensor GL */
  qn_n = 2;
  p.n = 2;
  p.f.fn = qn_f;
  gibbs_opts_default(&o);
  ck_assert_int_eq(gibbs_partition(&p, T, lo, hi, &o, &z, err, sizeof err), 0);
  ck_assert_msg(fabs(z.logZ - 2 * log(z1)) < 1e-12, "GL 2-D: %.15g vs %.15g", z.logZ, 2 * log(z1));
  ck_assert(z.method == GIBBS_GL && z.log_se == 0);
  /* 3-D: Monte Carlo (AUTO), within 4 stated standard errors */
  qn_n = 3;
  p.n = 3;
  o.samples = 200000;
  ck_assert_int_eq(gibbs_partition(&p, T, lo, hi, &o, &z, err, sizeof err), 0);
  ck_assert(z.method == GIBBS_MC && z.log_se > 0);
  printf("Z: MC 3-D log Z = %.5f +- %.5f (exact %.5f, %.2f SE)\n", z.logZ, z.log_se, 3 * log(z1),
         (z.logZ - 3 * log(z1)) / z.log_se);
  ck_assert_msg(fabs(z.logZ - 3 * log(z1)) < 4 * z.log_se, "MC: %g +- %g vs %g", z.logZ, z.log_se, 3 * log(z1));
  /* density integrates to one: spot value */
  double ws[8], ld, x0[3] = { 0.2, 0.2, 0.2 };
  ck_assert_int_eq(gibbs_log_density(&p, T, 3 * log(z1), x0, ws, &ld), 0);
  ck_assert(fabs(ld + 3 * log(z1)) < 1e-14);
}
END_TEST

/* Free energy (51) along the 1-D OU flow from a point mass: the law is
** Gaussian N(m, v), so rho_i is evaluated with the cloud's fitted mean and
** variance; F(t) must decrease (up to sampling error) towards the Gibbs
** value -T log Z, Z = sqrt(2 pi T / a). */
typedef struct {
  double T, F[32];
  int k;
  flow_problem *p;
} fe_ctx;
static int fe_emit(void *vctx, long step, double t, const double *x, int N, int n, const sde_monitor *m) {
  (void)step, (void)t, (void)n;
  fe_ctx *c = vctx;
  if (step == 0) return 0; /* point mass: no density */
  double *f = malloc(sizeof(double) * N), *rho = malloc(sizeof(double) * N), ws[4];
  double mu = m->mean[0], v = m->cov[0];
  for (int i = 0; i < N; i++) {
    c->p->f.fn(&x[i], NULL, &f[i], ws);
    rho[i] = exp(-(x[i] - mu) * (x[i] - mu) / (2 * v)) / sqrt(2 * M_PI * v);
  }
  if (c->k < 32) c->F[c->k++] = gibbs_free_energy((size_t)N, f, rho, NULL, c->T);
  free(f);
  free(rho);
  return 0;
}

START_TEST(test_free_energy_decreases) {
  ou_n = 1;
  ou_A[0] = 1;
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 1;
  p.f.fn = ou_f;
  p.grad.fn = ou_grad;
  sde_opts o;
  sde_opts_default(&o);
  o.T = 0.5, o.h = 0.01, o.steps = 500, o.every = 25, o.seed = 3, o.threads = 1;
  int N = 10000;
  double *x = malloc(sizeof(double) * N);
  for (int i = 0; i < N; i++) x[i] = 2;
  fe_ctx c = { .T = 0.5, .k = 0, .p = &p };
  char err[256];
  ck_assert_int_eq(sde_run(&p, &o, N, x, fe_emit, &c, err, sizeof err), 0);
  ck_assert_int_eq(c.k, 20);
  /* sampling SE of F ~ sd(f + T log rho)/sqrt(N) <= 0.5/sqrt(N) ~ 0.004 */
  double Finf = -0.5 * log(sqrt(2 * M_PI * 0.5));
  for (int k = 1; k < c.k; k++) ck_assert_msg(c.F[k] <= c.F[k - 1] + 0.02, "F[%d] = %g > F[%d] = %g", k, c.F[k], k - 1, c.F[k - 1]);
  printf("free energy: F(0.25) = %.4f, F(5) = %.4f, Gibbs -T log Z = %.4f\n", c.F[0], c.F[c.k - 1], Finf);
  ck_assert(c.F[0] > c.F[c.k - 1] + 0.5);
  ck_assert_msg(fabs(c.F[c.k - 1] - Finf) < 0.02, "F(5) = %g vs %g", c.F[c.k - 1], Finf);
  free(x);
}
END_TEST

/* ----------------------------------------------------------------- suite */

static Suite *suite(void) {
  Suite *s = suite_create("sde");
  TCase *t = tcase_create("sde");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, test_ou_1d);
  tcase_add_test(t, test_ou_2d);
  tcase_add_test(t, test_gibbs_soft_projection);
  tcase_add_test(t, test_gibbs_without_divergence_fails);
  tcase_add_test(t, test_leave_domain_message);
  tcase_add_test(t, test_threads_bitwise);
  tcase_add_test(t, test_boundaries);
  tcase_add_test(t, test_milstein_assumption);
  tcase_add_test(t, test_partition);
  tcase_add_test(t, test_free_energy_decreases);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  return check_run(suite());
}
