/*
** check_prox.c — unit tests of the Wasserstein proximal step (runtime/prox.c)
** with hand-written C callbacks: Ornstein-Uhlenbeck in 1-D and 2-D against
** the exact Gaussian, mass conservation, free energy, stability for small eps
** and huge f, thread-count independence, the midpoint metric rule, and the
** fused sweep's column sums over its tree of parts (runtime/prox_kernel.c)
** against plain sums, for 1, 2 and 3 threads.
*/
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

#include "check_run.h"
#include "pool.h"
#include "prox.h"
#include "prox_internal.h"
#include "rng.h"

/* OU: f = |x|^2/2, dx = -x dt + sqrt(2T) dW; from N(m0, s0^2 I) the law at t
** is N(m0 e^-t, (s0^2 e^-2t + T (1 - e^-2t)) I). */
typedef struct ou {
  int n;
  size_t N;
  double T, h, m0, s0;
  double *x, *xn, *rho, *f;
} ou;

static double ou_logpdf(const double *x, int n, double m, double v) {
  double q = 0.0;
  for (int d = 0; d < n; d++) q += (x[d] - m) * (x[d] - m);
  return -0.5 * q / v - 0.5 * n * log(2.0 * M_PI * v);
}

static void ou_init(ou *s, int n, size_t N, double T, double h, uint64_t seed) {
  s->n = n;
  s->N = N;
  s->T = T;
  s->h = h;
  s->m0 = 1.0;
  s->s0 = 0.5;
  s->x = malloc(N * n * sizeof(double));
  s->xn = malloc(N * n * sizeof(double));
  s->rho = malloc(N * sizeof(double));
  s->f = malloc(N * sizeof(double));
  gsl_rng *r = rng_stream(seed, RNG_RUN, 0);
  for (size_t i = 0; i < N * n; i++) s->x[i] = s->m0 + s->s0 * gsl_ran_gaussian(r, 1.0);
  for (size_t i = 0; i < N; i++) s->rho[i] = exp(ou_logpdf(s->x + i * n, n, s->m0, s->s0 * s->s0));
  gsl_rng_free(r);
}

static void ou_free(ou *s) {
  free(s->x);
  free(s->xn);
  free(s->rho);
  free(s->f);
}

/* Euler-Maruyama step of the OU SDE, fixed seed per step. */
static void ou_em(ou *s, uint64_t seed, int k) {
  gsl_rng *r = rng_stream(seed, RNG_BLOCK, (uint64_t)k);
  double sd = sqrt(2.0 * s->T * s->h);
  for (size_t i = 0; i < s->N * s->n; i++) s->xn[i] = s->x[i] - s->x[i] * s->h + sd * gsl_ran_gaussian(r, 1.0);
  gsl_rng_free(r);
  for (size_t i = 0; i < s->N; i++) {
    double q = 0.0;
    for (int d = 0; d < s->n; d++) q += s->xn[i * s->n + d] * s->xn[i * s->n + d];
    s->f[i] = 0.5 * q;
  }
}

/* Kernel storage: 0 stored double, 1 on the fly, 2 stored single. */
static void set_mode(prox_opts *o, int mode) {
  if (mode == 0) o->kernel_prec = PROX_DOUBLE;
  if (mode == 1) o->kernel_mem = 0;
  if (mode == 2) o->kernel_prec = PROX_SINGLE;
}

/* Relative L2 error of rho at the particles against the exact density. */
static double ou_err(const ou *s, double t) {
  double m = s->m0 * exp(-t), v = s->s0 * s->s0 * exp(-2 * t) + s->T * (1 - exp(-2 * t));
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < s->N; i++) {
    double e = exp(ou_logpdf(s->x + i * s->n, s->n, m, v));
    num += (s->rho[i] - e) * (s->rho[i] - e);
    den += e * e;
  }
  return sqrt(num / den);
}

/* Run K steps; returns the final relative error; checks every step. */
static double ou_run(int n, size_t N, int K, double eps, double T, double h, int threads, double *Fs) {
  ou s;
  ou_init(&s, n, N, T, h, 12345u);
  prox_opts o;
  prox_opts_default(&o);
  o.eps = eps;
  o.T = T;
  o.h = h;
  o.threads = threads;
  prox_ws *w = prox_ws_alloc(n, N);
  ck_assert_ptr_nonnull(w);
  for (int k = 0; k < K; k++) {
    ou_em(&s, 777u, k);
    prox_stats st;
    int rc = prox_step(w, NULL, &o, N, s.x, s.xn, s.rho, s.f, s.rho, &st);
    ck_assert_msg(rc == PROX_OK, "step %d: %s (err %g after %d)", k, prox_strerror(rc), st.marginal_err, st.iterations);
    ck_assert(st.converged);
    memcpy(s.x, s.xn, N * n * sizeof(double));
    if (Fs) Fs[k] = prox_free_energy(N, s.f, s.rho, NULL, T);
  }
  double e = ou_err(&s, K * h);
  prox_ws_free(w);
  ou_free(&s);
  return e;
}

/* Tolerance of the OU comparisons: N = 400 samples give a normalization and
** marginal sampling error ~ 1/sqrt(N) = 0.05; the step error is O(h) and the
** entropic blur O(eps) relative to the variance (eps = 0.01, h = 1e-2:
** ~1e-2 each over the horizon).  0.15 is three times the sampling term. */
#define OU_TOL 0.15

START_TEST(test_ou_1d) {
  double e = ou_run(1, 400, 50, 0.01, 0.5, 1e-2, 0, NULL);
  ck_assert_msg(e < OU_TOL, "1-D OU relative L2 error %g", e);
}
END_TEST

START_TEST(test_ou_2d) {
  double e = ou_run(2, 400, 30, 0.01, 0.5, 1e-2, 0, NULL);
  ck_assert_msg(e < OU_TOL, "2-D OU relative L2 error %g", e);
}
END_TEST

/* The 1-D OU example of the MATLAB peer (kcaluya/UncertaintyPropagation):
** dx = -x dt + sqrt(2) dW, x0 ~ N(5, 0.2^2), N = 400, h = 1e-3, eps = 0.05,
** to t = 4: the mean travels 5 -> 0.09 and the variance grows 0.04 -> 1.
** Here eps/(T h) = 50 (the exponent is 1/51), far outside the OU tests
** above, and the kernel (sqrt(eps) = 0.22) is narrow against the density
** only once it has spread.  Measured: 0.04-0.14 at the 8 checkpoints;
** the sampling term is 0.05 and the O(eps/sigma^2) blur is largest early
** (sigma = 0.2 < 0.22); 0.25 allows for both with margin.  (At this ratio
** the exponent hardly matters: doubling eps in it changes nothing here; the
** OU tests above are the ones that pin it.) */
START_TEST(test_ou_matlab_peer) {
  ou s;
  ou_init(&s, 1, 400, 1.0, 1e-3, 2024u);
  for (size_t i = 0; i < s.N; i++) {   /* N(1, 0.5^2) -> N(5, 0.2^2) */
    s.x[i] = 5.0 + (s.x[i] - s.m0) * (0.2 / s.s0);
    s.rho[i] = exp(ou_logpdf(s.x + i, 1, 5.0, 0.04));
  }
  s.m0 = 5.0, s.s0 = 0.2;
  prox_opts o;
  prox_opts_default(&o);
  o.eps = 0.05, o.T = 1.0, o.h = 1e-3;
  prox_ws *w = prox_ws_alloc(1, s.N);
  double worst = 0;
  for (int k = 0; k < 4000; k++) {
    ou_em(&s, 31u, k);
    ck_assert_int_eq(prox_step(w, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, s.rho, NULL), PROX_OK);
    memcpy(s.x, s.xn, s.N * sizeof(double));
    if ((k + 1) % 500 == 0) {
      double e = ou_err(&s, (k + 1) * 1e-3);
      worst = fmax(worst, e);
      ck_assert_msg(e < 0.25, "t = %g: relative L2 error %g", (k + 1) * 1e-3, e);
    }
  }
  if (getenv("HNN_TEST_VERBOSE")) fprintf(stderr, "MATLAB peer's OU example: worst relative L2 %.3f\n", worst);
  prox_ws_free(w);
  ou_free(&s);
}
END_TEST

/* Free energy of the sample estimate decreases, up to sampling noise. */
START_TEST(test_free_energy) {
  double F[40];
  ou_run(1, 400, 40, 0.01, 0.5, 1e-2, 0, F);
  for (int k = 1; k < 40; k++)
    ck_assert_msg(F[k] <= F[k - 1] + 0.02 + 1e-3 * fabs(F[k - 1]), "F rose at %d: %g -> %g", k, F[k - 1], F[k]);
  ck_assert_msg(F[39] < F[0], "F did not decrease: %g -> %g", F[0], F[39]);
}
END_TEST

/* The raw fixed point conserves sum rho to 1e-12 (stored and on the fly). */
START_TEST(test_mass) {
  for (int mode = 0; mode < 3; mode++) {
    ou s;
    ou_init(&s, 2, 300, 1.0, 1e-3, 99u);
    ou_em(&s, 5u, 0);
    prox_opts o;
    prox_opts_default(&o);
    o.eps = 0.05;
    o.T = 1.0;
    o.h = 1e-3;
    o.norm = PROX_NORM_NONE;
    set_mode(&o, mode);
    prox_ws *w = prox_ws_alloc(2, s.N);
    double *out = malloc(s.N * sizeof(double));
    prox_stats st;
    ck_assert_int_eq(prox_step(w, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, out, &st), PROX_OK);
    ck_assert_int_eq(st.stored, mode == 0 ? 1 : mode == 1 ? 0 : 2);
    double m0 = 0.0, m1 = 0.0;
    for (size_t i = 0; i < s.N; i++) {
      m0 += s.rho[i];
      m1 += out[i];
    }
    ck_assert_msg(fabs(m1 - m0) <= 1e-12 * m0, "mass %0.17g -> %0.17g", m0, m1);
    ck_assert(st.scale == 1.0);
    free(out);
    prox_ws_free(w);
    ou_free(&s);
  }
}
END_TEST

/* Small eps and huge f: no NaN, no 0/0.  A constant offset of 1e4 in f
** leaves the step unchanged (xi is only scaled); f varying on the scale 1e4
** gives raw values with conserved mass, some of them below the smallest
** double (exp(-f/T) spans e^-40000): those steps fail with PROX_EUNDERFLOW
** (a density 0 would be log rho = -inf in the free energy and an invalid
** rho_old at the next step), their mass still conserved.  want: the
** expected status. */
static void stab_case(double eps, double fscale, double foff, int mode, prox_norm norm, int want, double *out) {
  ou s;
  ou_init(&s, 2, 300, 0.5, 1e-2, 3u);
  ou_em(&s, 8u, 0);
  for (size_t i = 0; i < s.N; i++) s.f[i] = foff + fscale * s.f[i];
  prox_opts o;
  prox_opts_default(&o);
  o.eps = eps;
  o.T = 0.5;
  o.h = 1e-2;
  o.norm = norm;
  set_mode(&o, mode);
  prox_ws *w = prox_ws_alloc(2, s.N);
  prox_stats st;
  int rc = prox_step(w, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, out, &st);
  ck_assert_msg(rc == want,
                "eps %g f*%g+%g mode %d: %s (%g)", eps, fscale, foff, mode, prox_strerror(rc), st.marginal_err);
  for (size_t i = 0; i < s.N && rc == PROX_OK; i++)
    ck_assert_msg(isfinite(out[i]) && out[i] > 0.0, "eps %g f*%g: rho[%zu] = %g", eps, fscale, i, out[i]);
  ck_assert_msg(isfinite(st.marginal_err) && isfinite(st.scale), "eps %g", eps);
  ck_assert_msg(fabs(st.mass_out - st.mass_in) <= 1e-12 * st.mass_in, "eps %g f*%g mass %.17g %.17g", eps, fscale, st.mass_in, st.mass_out);
  prox_ws_free(w);
  ou_free(&s);
}

START_TEST(test_stability) {
  double r0[300], r1[300];
  for (int mode = 0; mode < 3; mode++) {
    stab_case(1e-3, 1.0, 0.0, mode, PROX_NORM_GAUSS, PROX_OK, r0);
    stab_case(1e-3, 1.0, 1e4, mode, PROX_NORM_GAUSS, PROX_OK, r1);
    for (int i = 0; i < 300; i++) ck_assert_msg(fabs(r1[i] - r0[i]) <= 1e-6 * r0[i] + 1e-300, "offset changed rho[%d] %g %g", i, r0[i], r1[i]);
    stab_case(1e-3, 2e4, 1e4, mode, PROX_NORM_NONE, PROX_EUNDERFLOW, r1);
    stab_case(0.1, 2e4, 1e4, mode, PROX_NORM_NONE, PROX_EUNDERFLOW, r1);
  }
}
END_TEST

/* The single-precision kernel is an exact kernel for a cost perturbed by
** at most 2 eps 2^-24 per entry, so rho moves by O(1e-7) relative at worst
** (measured: ~2e-9); the double and on-the-fly kernels agree to rounding. */
START_TEST(test_precision) {
  ou s;
  ou_init(&s, 2, 600, 0.5, 1e-2, 11u);
  ou_em(&s, 12u, 0);
  double *r[3];
  for (int mode = 0; mode < 3; mode++) {
    prox_opts o;
    prox_opts_default(&o);
    o.eps = 0.01, o.T = 0.5, o.h = 1e-2, o.tol = 1e-12;
    set_mode(&o, mode);
    prox_ws *w = prox_ws_alloc(2, s.N);
    r[mode] = malloc(s.N * sizeof(double));
    ck_assert_int_eq(prox_step(w, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, r[mode], NULL), PROX_OK);
    prox_ws_free(w);
  }
  double d1 = 0, d2 = 0, den = 0;
  for (size_t i = 0; i < s.N; i++) {
    d1 += (r[1][i] - r[0][i]) * (r[1][i] - r[0][i]);
    d2 += (r[2][i] - r[0][i]) * (r[2][i] - r[0][i]);
    den += r[0][i] * r[0][i];
  }
  ck_assert_msg(sqrt(d1 / den) < 1e-12, "on the fly vs double: %g", sqrt(d1 / den));
  ck_assert_msg(sqrt(d2 / den) < 1e-6 && sqrt(d2 / den) > 0, "single vs double: %g", sqrt(d2 / den));
  for (int mode = 0; mode < 3; mode++) free(r[mode]);
  ou_free(&s);
}
END_TEST

/* Rows whose kernel entries all underflow at the start (the cloud moved far
** against sqrt(eps)): the exact fallback, then absorption.  A shift of 0.5
** at eps = 1e-3 puts the start kernel at e^-250, below single precision; a
** shift of 1.3 puts far rows at e^-1700, below double.  Every storage mode
** must converge to the same step, with the mass kept. */
START_TEST(test_fallback_rows) {
  const double shifts[] = { 0.5, 1.3 };
  for (int k = 0; k < 2; k++) {
    ou s;
    ou_init(&s, 2, 300, 0.5, 1e-2, 5u);
    for (size_t i = 0; i < 2 * s.N; i++) s.xn[i] = s.x[i] + shifts[k];
    for (size_t i = 0; i < s.N; i++) s.f[i] = 0.5 * (s.xn[2 * i] * s.xn[2 * i] + s.xn[2 * i + 1] * s.xn[2 * i + 1]);
    double *r[3];
    for (int mode = 0; mode < 3; mode++) {
      prox_opts o;
      prox_opts_default(&o);
      o.eps = 1e-3, o.T = 0.5, o.h = 1e-2, o.norm = PROX_NORM_NONE;
      set_mode(&o, mode);
      prox_ws *w = prox_ws_alloc(2, s.N);
      prox_stats st;
      r[mode] = malloc(s.N * sizeof(double));
      int rc = prox_step(w, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, r[mode], &st);
      ck_assert_msg(rc == PROX_OK, "shift %g mode %d: %s (%g)", shifts[k], mode, prox_strerror(rc), st.marginal_err);
      ck_assert_msg(st.fallbacks > 0 || (k == 0 && mode != 2), "shift %g mode %d: no fallback", shifts[k], mode);
      ck_assert_msg(fabs(st.mass_out - st.mass_in) <= 1e-12 * st.mass_in, "shift %g mode %d: mass", shifts[k], mode);
      prox_ws_free(w);
    }
    for (int mode = 1; mode < 3; mode++) {
      double num = 0, den = 0;
      for (size_t i = 0; i < s.N; i++) num += (r[mode][i] - r[0][i]) * (r[mode][i] - r[0][i]), den += r[0][i] * r[0][i];
      ck_assert_msg(sqrt(num / den) < 1e-6, "shift %g mode %d differs: %g", shifts[k], mode, sqrt(num / den));
    }
    for (int mode = 0; mode < 3; mode++) free(r[mode]);
    ou_free(&s);
  }
}
END_TEST

/* Bit-identical results with 1 and 2 threads, stored and on the fly. */
START_TEST(test_threads) {
  for (int mode = 0; mode < 3; mode++) {
    ou s;
    ou_init(&s, 2, 517, 1.0, 1e-3, 42u);
    ou_em(&s, 9u, 0);
    prox_opts o;
    prox_opts_default(&o);
    o.eps = 0.05;
    o.T = 1.0;
    o.h = 1e-3;
    set_mode(&o, mode);
    prox_ws *w = prox_ws_alloc(2, s.N);
    double *r1 = malloc(s.N * sizeof(double)), *r2 = malloc(s.N * sizeof(double));
    prox_stats s1, s2;
    o.threads = 1;
    ck_assert_int_eq(prox_step(w, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, r1, &s1), PROX_OK);
    o.threads = 2;
    ck_assert_int_eq(prox_step(w, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, r2, &s2), PROX_OK);
    ck_assert_int_eq(s1.iterations, s2.iterations);
    ck_assert(memcmp(r1, r2, s.N * sizeof(double)) == 0);
    free(r1);
    free(r2);
    prox_ws_free(w);
    ou_free(&s);
  }
}
END_TEST

/* A particle flow's next x_old is its last x_new: the workspace keeps those
** coordinates instead of mapping the points again.  Two steps on one
** workspace must equal the second step on a fresh one bit for bit, with
** the reuse reported only where it happened (a nonlinear map, so a wrong
** buffer would show). */
static int cube_coord(void *ctx, int n, size_t N, const double *x, double *phi) {
  int *calls = ctx;
  ++*calls;
  for (int d = 0; d < n; d++)
    for (size_t i = 0; i < N; i++) phi[d * N + i] = x[i * n + d] + 0.1 * pow(x[i * n + d], 3);
  return 0;
}

START_TEST(test_coords_reused) {
  ou s;
  ou_init(&s, 2, 300, 1.0, 1e-3, 7u);
  int calls = 0;
  prox_opts o;
  prox_opts_default(&o);
  o.eps = 0.05, o.T = 1.0, o.h = 1e-3, o.coord = cube_coord, o.coord_ctx = &calls;
  prox_ws *w = prox_ws_alloc(2, s.N), *fresh = prox_ws_alloc(2, s.N);
  double *r1 = malloc(s.N * sizeof(double)), *r2 = malloc(s.N * sizeof(double));
  prox_stats st;
  ou_em(&s, 3u, 0);
  ck_assert_int_eq(prox_step(w, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, s.rho, &st), PROX_OK);
  ck_assert_int_eq(st.coords_reused, 0);
  ck_assert_int_eq(calls, 2);
  memcpy(s.x, s.xn, s.N * 2 * sizeof(double));
  ou_em(&s, 3u, 1);
  ck_assert_int_eq(prox_step(w, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, r1, &st), PROX_OK);
  ck_assert_int_eq(st.coords_reused, 1);
  ck_assert_int_eq(calls, 3);
  ck_assert_int_eq(prox_step(fresh, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, r2, &st), PROX_OK);
  ck_assert_int_eq(st.coords_reused, 0);
  ck_assert(memcmp(r1, r2, s.N * sizeof(double)) == 0);
  /* another map with the same points: nothing reused */
  o.coord = prox_identity_coord, o.coord_ctx = NULL;
  memcpy(s.x, s.xn, s.N * 2 * sizeof(double));
  ou_em(&s, 3u, 2);
  ck_assert_int_eq(prox_step(w, NULL, &o, s.N, s.x, s.xn, s.rho, s.f, r1, &st), PROX_OK);
  ck_assert_int_eq(st.coords_reused, 0);
  free(r1);
  free(r2);
  prox_ws_free(w);
  prox_ws_free(fresh);
  ou_free(&s);
}
END_TEST

/* Separable metric g(x) = 1/(2 b x(1-x)) on (0,1)^2: geo_coord gives
** phi = sqrt(2/b) asin(sqrt x); the midpoint rule on the diagonal metric
** must give nearly the same step (small displacements). */
static const double BETA = 0.25;
static int cb_geo(const double *x, const double *dir, double *out, double *ws) {
  (void)dir;
  (void)ws;
  for (int d = 0; d < 2; d++) out[d] = sqrt(2.0 / BETA) * asin(sqrt(x[d]));
  return 0;
}
static int cb_metric(const double *x, const double *dir, double *out, double *ws) {
  (void)dir;
  (void)ws;
  for (int d = 0; d < 2; d++) out[d] = 1.0 / (2.0 * BETA * x[d] * (1.0 - x[d]));
  return 0;
}
/* the same metric as a full 2 x 2 matrix */
static int cb_metric_full(const double *x, const double *dir, double *out, double *ws) {
  double g[2];
  cb_metric(x, dir, g, ws);
  out[0] = g[0];
  out[1] = 0.0;
  out[2] = 0.0;
  out[3] = g[1];
  return 0;
}

START_TEST(test_midpoint) {
  size_t N = 300;
  double *x = malloc(2 * N * sizeof(double)), *xn = malloc(2 * N * sizeof(double));
  double *rho = malloc(N * sizeof(double)), *f = malloc(N * sizeof(double));
  double *r0 = malloc(N * sizeof(double)), *r1 = malloc(N * sizeof(double)), *r2 = malloc(N * sizeof(double));
  gsl_rng *r = rng_stream(11u, RNG_RUN, 0);
  for (size_t i = 0; i < N; i++) {
    for (int d = 0; d < 2; d++) {
      x[2 * i + d] = 0.1 + 0.8 * gsl_rng_uniform(r);
      xn[2 * i + d] = x[2 * i + d] + 0.01 * gsl_ran_gaussian(r, 1.0);
    }
    rho[i] = 1.0;
    f[i] = 10.0 * ((xn[2 * i] - 0.3) * (xn[2 * i] - 0.3) + (xn[2 * i + 1] - 0.6) * (xn[2 * i + 1] - 0.6));
  }
  gsl_rng_free(r);
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 2;
  p.geo_coord.fn = cb_geo;
  prox_opts o;
  prox_opts_default(&o);
  o.eps = 0.05;
  o.T = 1.0;
  o.h = 1e-3;
  double lo[2] = { 0, 0 }, hi[2] = { 1, 1 };
  o.norm = PROX_NORM_BOX;
  o.box_lo = lo;
  o.box_hi = hi;
  prox_ws *w = prox_ws_alloc(2, N);
  prox_stats st;
  ck_assert_int_eq(prox_step(w, &p, &o, N, x, xn, rho, f, r0, &st), PROX_OK);
  memset(&p, 0, sizeof p);
  p.n = 2;
  p.metric.fn = cb_metric;
  p.metric_diagonal = 1;
  ck_assert_int_eq(prox_step(w, &p, &o, N, x, xn, rho, f, r1, &st), PROX_OK);
  p.metric.fn = cb_metric_full;
  p.metric_diagonal = 0;
  ck_assert_int_eq(prox_step(w, &p, &o, N, x, xn, rho, f, r2, &st), PROX_OK);
  double num = 0, den = 0;
  for (size_t i = 0; i < N; i++) {
    num += (r1[i] - r0[i]) * (r1[i] - r0[i]);
    den += r0[i] * r0[i];
    ck_assert_double_eq(r1[i], r2[i]);
  }
  /* midpoint vs exact geodesic: O(|x-y|^2) relative cost error */
  ck_assert_msg(sqrt(num / den) < 2e-2, "midpoint vs geodesic %g", sqrt(num / den));
  /* and the metric matters: Euclidean differs */
  ck_assert_int_eq(prox_step(w, NULL, &o, N, x, xn, rho, f, r1, &st), PROX_OK);
  num = 0;
  for (size_t i = 0; i < N; i++) num += (r1[i] - r0[i]) * (r1[i] - r0[i]);
  ck_assert_msg(sqrt(num / den) > 1e-3, "Euclidean equals geodesic %g", sqrt(num / den));
  prox_ws_free(w);
  free(x), free(xn), free(rho), free(f), free(r0), free(r1), free(r2);
}
END_TEST

/* ---- the worker pool: every task exactly once, on the thread the
** schedule gives it; a pool_run from inside a task runs serially */
typedef struct {
  int nt;
  long ntasks;
  int hits[1000], thread_of[1000], nested[1000];
} pool_check;

static void count_nested(void *ctx, long lo, long hi, int thread) {
  int *n = ctx;
  ck_assert_int_eq(thread, 0);
  __atomic_add_fetch(n, (int)(hi - lo), __ATOMIC_RELAXED);
}

static void visit(void *ctx, long lo, long hi, int thread) {
  pool_check *c = ctx;
  ck_assert(thread >= 0 && thread < c->nt);
  for (long k = lo; k < hi; k++) {
    __atomic_add_fetch(&c->hits[k], 1, __ATOMIC_RELAXED);
    c->thread_of[k] = thread;
    if (k % 97 == 0) pool_run(4, 10, k % 2, count_nested, &c->nested[k]);
  }
}

START_TEST(test_pool) {
  static pool_check c;
  for (int dynamic = 0; dynamic < 2; dynamic++)
    for (int nt = 1; nt <= 4; nt++)
      for (int rep = 0; rep < 50; rep++) {
        memset(&c, 0, sizeof c);
        c.nt = nt;
        c.ntasks = rep % 2 ? 1000 : 3 + rep;
        pool_run(nt, c.ntasks, dynamic, visit, &c);
        for (long k = 0; k < c.ntasks; k++) {
          ck_assert_int_eq(c.hits[k], 1);
          if (k % 97 == 0) ck_assert_int_eq(c.nested[k], 10);
          /* static: thread t of m = min(nt, ntasks) owns [ntasks t/m, ntasks (t+1)/m) */
          long m = nt < c.ntasks ? nt : c.ntasks, t = c.thread_of[k];
          if (!dynamic)
            ck_assert_msg(c.ntasks * t / m <= k && k < c.ntasks * (t + 1) / m, "task %ld ran on thread %ld (nt %d, %ld tasks)",
                          k, t, nt, c.ntasks);
        }
      }
  ck_assert_int_ge(pool_max_threads(), 1);
}
END_TEST

/* The fused sweep at N = 4099 (128 parts of 32-33 rows) with 1, 2 and 3
** threads: 3 threads split the parts at 42 and 85, inside subtrees, so the
** canonical nodes of unaligned ranges are merged as between MPI processes.
** Every result must have the same bits, and the column sums must be the
** plain sums of K_rs y_r (long double, glibc exp): a part counted twice or
** missed moves a column sum by ~1/128.  Tolerance 1e-13 in log: each entry
** is within 5e-16 (fastexp.h) plus the rounding of its exponent (<= 11
** here: 2e-15) of the reference, and each sum adds <= 33 rows in order and
** 7 tree levels (40 roundings, 5e-15); 1e-13 leaves 20x. */
START_TEST(test_sweep_tree) {
  const size_t N = 4099;
  const int n = 2;
  ck_assert_int_eq(prox_ker_parts(N), 128);
  ck_assert_int_eq(prox_ker_parts(PROX_PART_ROWS * PROX_PARTS_MAX * (size_t)3), PROX_PARTS_MAX);
  ck_assert_int_eq(prox_ker_parts(PROX_PART_ROWS - 1), 1);
  double *cold = malloc(n * N * sizeof(double)), *cnew = malloc(n * N * sizeof(double));
  double *a = calloc(N, sizeof(double)), *b = calloc(N, sizeof(double)), *lwz = malloc(N * sizeof(double));
  double *wz = malloc(N * sizeof(double)), *lro = malloc(N * sizeof(double)), *res[3][5];
  gsl_rng *r = rng_stream(77u, RNG_RUN, 0);
  for (size_t i = 0; i < n * N; i++) cold[i] = gsl_rng_uniform(r), cnew[i] = gsl_rng_uniform(r);
  for (size_t i = 0; i < N; i++) {
    a[i] = 0.3 * gsl_rng_uniform(r), b[i] = -0.3 * gsl_rng_uniform(r);
    lwz[i] = gsl_rng_uniform(r) - 0.5, wz[i] = exp(lwz[i]), lro[i] = log(1.0 + gsl_rng_uniform(r));
  }
  gsl_rng_free(r);
  float *Kf = malloc(N * N * sizeof(float));
  double *K = malloc(N * N * sizeof(double));
  for (int mode = 0; mode < 3; mode++) { /* stored double, on the fly, stored single */
    for (int th = 1; th <= 3; th++) {
      prox_ker k = { .n = n, .threads = th, .par = 1, .N = N, .inv2eps = 5.0, .cold = cold, .cnew = cnew, .a = a, .b = b };
      if (mode == 0) k.K = K;
      if (mode == 2) k.Kf = Kf;
      prox_ker_build(&k);
      double *part = malloc(prox_ker_work(&k) * sizeof(double));
      for (int q = 0; q < 4; q++) res[th - 1][q] = malloc(N * sizeof(double));
      double *ls = res[th - 1][0], *lwy = res[th - 1][1], *wy = res[th - 1][2], *lt = res[th - 1][3];
      ck_assert_int_eq(prox_ker_sweep(&k, lwz, wz, lro, ls, lwy, wy, lt, part), 0);
      free(part);
    }
    for (int th = 2; th <= 3; th++)
      for (int q = 0; q < 4; q++)
        ck_assert_msg(memcmp(res[0][q], res[th - 1][q], N * sizeof(double)) == 0, "mode %d, %d threads: array %d differs",
                      mode, th, q);
    if (mode < 2) {
      double worst = 0; /* every 13th row and column: a wrong part would move all of them */
      for (size_t j = 0; j < N; j += 13) {
        long double sr = 0, sc = 0;
        for (size_t i = 0; i < N; i++) {
          double c = 0, e = 0;
          for (int d = 0; d < n; d++) c += (cold[d * N + i] - cnew[d * N + j]) * (cold[d * N + i] - cnew[d * N + j]);
          /* row i of the kernel against column j: K_ij, and K_ji for row j */
          sc += expl((long double)a[i] + b[j] - 5.0L * c) * (long double)res[0][2][i];
          for (int d = 0; d < n; d++) e += (cold[d * N + j] - cnew[d * N + i]) * (cold[d * N + j] - cnew[d * N + i]);
          sr += expl((long double)a[j] + b[i] + lwz[i] - 5.0L * e);
        }
        double el = fabs(res[0][3][j] - (double)logl(sc)), er = fabs(res[0][0][j] - (double)logl(sr));
        if (el > worst) worst = el;
        if (er > worst) worst = er;
      }
      ck_assert_msg(worst < 1e-13, "mode %d: the sweep's log sums differ from plain sums by %g", mode, worst);
    }
    for (int th = 0; th < 3; th++)
      for (int q = 0; q < 4; q++) free(res[th][q]);
  }
  free(cold), free(cnew), free(a), free(b), free(lwz), free(wz), free(lro), free(K), free(Kf);
}
END_TEST

START_TEST(test_invalid) {
  prox_ws *w = prox_ws_alloc(1, 4);
  prox_opts o;
  prox_opts_default(&o);
  double x[4] = { 0, 1, 2, 3 }, rho[4] = { 1, 1, 0, 1 }, f[4] = { 0 }, out[4];
  ck_assert_int_eq(prox_step(w, NULL, &o, 4, x, x, rho, f, out, NULL), PROX_EINVAL);
  rho[2] = 1;
  f[1] = NAN;
  ck_assert_int_eq(prox_step(w, NULL, &o, 4, x, x, rho, f, out, NULL), PROX_ENONFINITE);
  ck_assert_int_eq(prox_step(w, NULL, &o, 5, x, x, rho, f, out, NULL), PROX_EINVAL);
  prox_ws_free(w);
  prox_ws_free(NULL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("prox");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_ou_1d);
  tcase_add_test(tc, test_ou_2d);
  tcase_add_test(tc, test_ou_matlab_peer);
  tcase_add_test(tc, test_free_energy);
  tcase_add_test(tc, test_mass);
  tcase_add_test(tc, test_stability);
  tcase_add_test(tc, test_precision);
  tcase_add_test(tc, test_fallback_rows);
  tcase_add_test(tc, test_threads);
  tcase_add_test(tc, test_sweep_tree);
  tcase_add_test(tc, test_coords_reused);
  tcase_add_test(tc, test_midpoint);
  tcase_add_test(tc, test_invalid);
  tcase_add_test(tc, test_pool);
  suite_add_tcase(s, tc);
  return check_run(s);
}
