/*
** check_proxfast.c — the proximal step with its kernel sums through the
** kernel-sum engine (runtime/prox_fast.c, prox_opts.kernel = PROX_KERNEL_SUMS).
**
** Tolerances:
**  - exact sums (kernel_tol 0) against the direct double kernel: the same
**    fixed point, both iterated to a marginal error of 1e-12; what remains is
**    the rounding of the sums (N 2^-52 ~ 1e-13 at N = 600), the sqrt(eps)^2
**    of the bandwidth (1 ulp of every exponent) and the stopping point, each
**    amplified by at most (1 + p)/(1 - p) = 2 here; the test allows 1e-9.
**  - kernel_tol t > 0 against exact sums: each log sum is within t, and a
**    sup-norm contraction with factor p (the beta update) moves the fixed
**    point by <= 2 t p/(1 - p); log rho = beta + log(Gamma' y) adds 2 t, so
**    |log rho - log rho_exact| <= 2 t (1 + p)/(1 - p), plus 1e-9 for the stop.
**  - mass: exact sums keep it to rounding (1e-12 as for the direct kernel);
**    with kernel_tol t the row and column sums differ by <= t each: 3 t.
**  - OU in 2-D: the budget of check_prox (0.15) for the fast path too.
*/
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

#include "check_run.h"
#include "prox.h"
#include "rng.h"

typedef struct cloud {
  int n;
  size_t N;
  double *x, *xn, *rho, *f;
} cloud;

/* N points of N(1, 0.25 I) in n-D with their density, one Euler-Maruyama
** step of the OU process (T, h), f = |x_new|^2/2 (or f on the unit square
** for the Hopfield coordinates when unit = 1: points in (0.05, 0.95)). */
static void cloud_make(cloud *c, int n, size_t N, double T, double h, int unit, uint64_t seed) {
  c->n = n, c->N = N;
  c->x = malloc(N * n * sizeof(double)), c->xn = malloc(N * n * sizeof(double));
  c->rho = malloc(N * sizeof(double)), c->f = malloc(N * sizeof(double));
  gsl_rng *r = rng_stream(seed, RNG_RUN, 0);
  for (size_t i = 0; i < N; i++) {
    double q = 0, qn = 0;
    for (int d = 0; d < n; d++) {
      double v = unit ? 0.05 + 0.9 * gsl_rng_uniform(r) : 1.0 + 0.5 * gsl_ran_gaussian(r, 1.0);
      double vn = v - (unit ? 0.0 : v) * h + sqrt(2 * T * h) * gsl_ran_gaussian(r, 1.0);
      if (unit) vn = vn < 0.01 ? 0.01 : vn > 0.99 ? 0.99 : vn;
      c->x[i * n + d] = v, c->xn[i * n + d] = vn;
      q += (v - 1.0) * (v - 1.0), qn += vn * vn;
    }
    c->rho[i] = unit ? 1.0 : exp(-q / (2 * 0.25));
    c->f[i] = 0.5 * qn;
  }
  gsl_rng_free(r);
}

static void cloud_free(cloud *c) { free(c->x), free(c->xn), free(c->rho), free(c->f); }

static prox_opts opts(double eps, double T, double h, prox_kernel k, double ktol) {
  prox_opts o;
  prox_opts_default(&o);
  o.eps = eps, o.T = T, o.h = h, o.tol = 1e-12, o.norm = PROX_NORM_NONE;
  o.kernel = k, o.kernel_tol = ktol, o.kernel_prec = PROX_DOUBLE;
  return o;
}

static int step(const cloud *c, const flow_problem *p, const prox_opts *o, double *out, prox_stats *st) {
  prox_ws *w = prox_ws_alloc(c->n, c->N);
  int rc = prox_step(w, p, o, c->N, c->x, c->xn, c->rho, c->f, out, st);
  prox_ws_free(w);
  return rc;
}

static double maxlog(size_t N, const double *a, const double *b) {
  double m = 0;
  for (size_t i = 0; i < N; i++) {
    double e = fabs(log(a[i]) - log(b[i]));
    m = e > m || isnan(e) ? e : m;
  }
  return m;
}

/* Hopfield coordinates of the soft projection with beta = 1/4 (a nonlinear
** map; the cost is Euclidean in it): phi = sqrt(2/beta) asin(sqrt x). */
static int cb_geo(const double *x, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  for (int d = 0; d < 2; d++) out[d] = sqrt(8.0) * asin(sqrt(x[d]));
  return 0;
}

START_TEST(test_exact_sums) {
  for (int unit = 0; unit < 2; unit++) {
    cloud c;
    cloud_make(&c, 2, 600, 0.5, 1e-2, unit, 21u);
    flow_problem p;
    memset(&p, 0, sizeof p);
    p.n = 2;
    p.geo_coord.fn = cb_geo;
    const flow_problem *pp = unit ? &p : NULL;
    double eps = unit ? 0.1 : 0.01, *rd = malloc(c.N * sizeof(double)), *rs = malloc(c.N * sizeof(double));
    prox_opts od = opts(eps, 0.5, 1e-2, PROX_KERNEL_DIRECT, 0), os = opts(eps, 0.5, 1e-2, PROX_KERNEL_SUMS, 0);
    prox_stats sd, ss;
    ck_assert_int_eq(step(&c, pp, &od, rd, &sd), PROX_OK);
    ck_assert_int_eq(step(&c, pp, &os, rs, &ss), PROX_OK);
    ck_assert_int_eq(sd.kernel_engine, 0);
    ck_assert_int_eq(ss.kernel_engine, 1);
    double e = maxlog(c.N, rs, rd);
    printf("exact sums vs direct kernel (%s): max |log rho diff| %.2e, iterations %d / %d\n",
           unit ? "Hopfield coordinates" : "Euclidean", e, ss.iterations, sd.iterations);
    ck_assert_msg(e <= 1e-9, "unit %d: exact sums vs direct kernel: %g", unit, e);
    ck_assert_msg(fabs(ss.mass_out - ss.mass_in) <= 1e-12 * ss.mass_in, "mass %.17g %.17g", ss.mass_in, ss.mass_out);
    free(rd), free(rs);
    cloud_free(&c);
  }
}
END_TEST

START_TEST(test_fast_bound) {
  cloud c;
  cloud_make(&c, 2, 3000, 0.5, 1e-2, 0, 22u);
  const double eps = 0.01, T = 0.5, h = 1e-2, p = 1.0 / (1.0 + eps / (T * h));
  double *r0 = malloc(c.N * sizeof(double)), *r1 = malloc(c.N * sizeof(double));
  prox_opts o = opts(eps, T, h, PROX_KERNEL_SUMS, 0);
  ck_assert_int_eq(step(&c, NULL, &o, r0, NULL), PROX_OK);
  const double tols[] = { 1e-3, 1e-6 };
  for (int k = 0; k < 2; k++) {
    prox_stats st;
    o.kernel_tol = tols[k];
    ck_assert_int_eq(step(&c, NULL, &o, r1, &st), PROX_OK);
    ck_assert_int_eq(st.kernel_engine, 2);
    ck_assert(st.kernel_bound == tols[k]);
    double e = maxlog(c.N, r1, r0), bound = 2 * tols[k] * (1 + p) / (1 - p) + 1e-9;
    printf("kernel_tol %g: max |log rho diff| %.2e (bound %.2e), recomputed %d\n", tols[k], e, bound, st.fallbacks);
    ck_assert_msg(e <= bound, "kernel_tol %g: %g > %g", tols[k], e, bound);
    ck_assert_msg(fabs(st.mass_out - st.mass_in) <= 3 * tols[k] * st.mass_in, "mass %.17g %.17g", st.mass_in,
                  st.mass_out);
  }
  free(r0), free(r1);
  cloud_free(&c);
}
END_TEST

/* The stability cases of check_prox on the engine (at N = 300 and eps =
** 1e-3 it takes exact sums for both tolerances: the grid would be finer than
** the cloud; ks_logsum's own test covers the grid on such sums): small eps, f = 1e4 +
** |x|^2/2 (an offset leaves rho unchanged), f varying on the scale 1e4
** (raw values below the smallest double: PROX_EUNDERFLOW, never NaN), and
** clouds shifted by 0.5 and 1.3 at eps = 1e-3 (start kernels e^-250 and
** e^-1700: sums recomputed in the log domain). */
START_TEST(test_stability) {
  const double ktols[] = { 0, 1e-6 };
  for (int q = 0; q < 2; q++) {
    cloud c;
    cloud_make(&c, 2, 300, 0.5, 1e-2, 0, 23u);
    double *r0 = malloc(c.N * sizeof(double)), *r1 = malloc(c.N * sizeof(double)), *f0 = malloc(c.N * sizeof(double));
    memcpy(f0, c.f, c.N * sizeof(double));
    prox_opts o = opts(1e-3, 0.5, 1e-2, PROX_KERNEL_SUMS, ktols[q]), od = o;
    od.kernel = PROX_KERNEL_DIRECT;
    o.norm = od.norm = PROX_NORM_GAUSS;
    ck_assert_int_eq(step(&c, NULL, &o, r0, NULL), PROX_OK);
    for (size_t i = 0; i < c.N; i++) c.f[i] = 1e4 + f0[i];
    ck_assert_int_eq(step(&c, NULL, &o, r1, NULL), PROX_OK);
    ck_assert_msg(maxlog(c.N, r0, r1) <= 1e-6, "offset: %g", maxlog(c.N, r0, r1));
    ck_assert_int_eq(step(&c, NULL, &od, r1, NULL), PROX_OK);
    ck_assert_msg(maxlog(c.N, r0, r1) <= 1e-6, "vs direct: %g", maxlog(c.N, r0, r1));
    o.norm = PROX_NORM_NONE;
    for (size_t i = 0; i < c.N; i++) c.f[i] = 1e4 + 2e4 * f0[i];
    ck_assert_int_eq(step(&c, NULL, &o, r1, NULL), PROX_EUNDERFLOW);
    o.eps = 0.1;
    ck_assert_int_eq(step(&c, NULL, &o, r1, NULL), PROX_EUNDERFLOW);
    o.eps = od.eps = 1e-3, od.norm = PROX_NORM_NONE;
    const double shifts[] = { 0.5, 1.3 };
    for (int k = 0; k < 2; k++) {
      for (size_t i = 0; i < 2 * c.N; i++) c.xn[i] = c.x[i] + shifts[k];
      for (size_t i = 0; i < c.N; i++)
        c.f[i] = 0.5 * (c.xn[2 * i] * c.xn[2 * i] + c.xn[2 * i + 1] * c.xn[2 * i + 1]);
      prox_stats st;
      ck_assert_int_eq(step(&c, NULL, &od, r0, NULL), PROX_OK);
      int rc = step(&c, NULL, &o, r1, &st);
      ck_assert_msg(rc == PROX_OK, "shift %g: %s (%g)", shifts[k], prox_strerror(rc), st.marginal_err);
      ck_assert_msg(k == 0 || st.fallbacks > 0, "shift %g: nothing recomputed", shifts[k]);
      double e = maxlog(c.N, r0, r1);
      ck_assert_msg(e <= 1e-6, "shift %g kernel_tol %g: %g", shifts[k], ktols[q], e);
    }
    free(r0), free(r1), free(f0);
    cloud_free(&c);
  }
}
END_TEST

START_TEST(test_threads) {
  cloud c;
  cloud_make(&c, 2, 2000, 0.5, 1e-2, 0, 24u);
  for (int q = 0; q < 2; q++) {
    /* sums_tol 1e-3: the grid (tolerance 1e-9) is cheaper than exact sums here */
    prox_opts o = opts(0.01, 0.5, 1e-2, PROX_KERNEL_SUMS, q ? 1e-3 : 0);
    o.tol = 1e-9;
    double *r1 = malloc(c.N * sizeof(double)), *r2 = malloc(c.N * sizeof(double));
    prox_stats s1, s2;
    o.threads = 1;
    ck_assert_int_eq(step(&c, NULL, &o, r1, &s1), PROX_OK);
    o.threads = 2;
    ck_assert_int_eq(step(&c, NULL, &o, r2, &s2), PROX_OK);
    ck_assert_int_eq(s1.iterations, s2.iterations);
    ck_assert_int_eq(s1.kernel_engine, q ? 2 : 1);
    ck_assert_msg(memcmp(r1, r2, c.N * sizeof(double)) == 0, "kernel_tol %g: differs", o.kernel_tol);
    free(r1), free(r2);
  }
  cloud_free(&c);
}
END_TEST

/* The default picks the engine from PROX_SUMS_MIN_N on, for n <= 3 and a
** cost Euclidean in coordinates; the midpoint rule cannot use it. */
static int cb_metric(const double *x, const double *dir, double *out, double *ws) {
  (void)x, (void)dir, (void)ws;
  out[0] = out[1] = 1.0;
  return 0;
}

START_TEST(test_auto_invalid) {
  cloud c;
  cloud_make(&c, 2, PROX_SUMS_MIN_N, 0.5, 1e-2, 0, 25u);
  double *r = malloc(c.N * sizeof(double));
  prox_opts o;
  prox_opts_default(&o);
  o.eps = 0.01, o.T = 0.5, o.h = 1e-2;
  prox_stats st;
  ck_assert_int_eq(step(&c, NULL, &o, r, &st), PROX_OK);
  ck_assert_int_eq(st.kernel_engine, 2);
  c.N = 500;
  ck_assert_int_eq(step(&c, NULL, &o, r, &st), PROX_OK);
  ck_assert_int_eq(st.kernel_engine, 0);
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 2;
  p.metric.fn = cb_metric;
  p.metric_diagonal = 1;
  o.kernel = PROX_KERNEL_SUMS;
  ck_assert_int_eq(step(&c, &p, &o, r, &st), PROX_EINVAL);
  o.kernel_tol = -1;
  ck_assert_int_eq(step(&c, NULL, &o, r, &st), PROX_EINVAL);
  o.kernel_tol = 1e-6, o.kernel = (prox_kernel)7;
  ck_assert_int_eq(step(&c, NULL, &o, r, &st), PROX_EINVAL);
  c.N = PROX_SUMS_MIN_N;
  free(r);
  cloud_free(&c);
}
END_TEST

/* 2-D OU from N(1, 0.25 I), f = |x|^2/2, T = 0.5, h = 1e-2, eps = 0.01, 15
** steps, N = 2000, kernel_tol 1e-3 (grid tolerance 1e-9: at this N the
** engine picks the grid over exact sums): rho against the exact Gaussian law
** with check_prox's budget (sampling 0.05 at N = 400, O(h) and O(eps) 1e-2
** each, margin 3), the kernel sums' 4e-3 per step included. */
START_TEST(test_ou_fast) {
  const int n = 2, K = 15;
  const size_t N = 2000;
  const double T = 0.5, h = 1e-2;
  cloud c;
  cloud_make(&c, n, N, T, h, 0, 26u);
  prox_opts o = opts(0.01, T, h, PROX_KERNEL_SUMS, 1e-3);
  o.tol = 1e-9, o.norm = PROX_NORM_GAUSS;
  prox_ws *w = prox_ws_alloc(n, N);
  gsl_rng *g = rng_stream(27u, RNG_RUN, 1);
  prox_stats st;
  for (int k = 0; k < K; k++) {
    for (size_t i = 0; i < N * n; i++) c.xn[i] = c.x[i] - c.x[i] * h + sqrt(2 * T * h) * gsl_ran_gaussian(g, 1.0);
    for (size_t i = 0; i < N; i++) c.f[i] = 0.5 * (c.xn[2 * i] * c.xn[2 * i] + c.xn[2 * i + 1] * c.xn[2 * i + 1]);
    ck_assert_int_eq(prox_step(w, NULL, &o, N, c.x, c.xn, c.rho, c.f, c.rho, &st), PROX_OK);
    ck_assert_msg(st.kernel_engine == 2, "step %d: engine %d", k, st.kernel_engine);
    memcpy(c.x, c.xn, N * n * sizeof(double));
  }
  double t = K * h, m = exp(-t), v = 0.25 * exp(-2 * t) + T * (1 - exp(-2 * t)), num = 0, den = 0;
  for (size_t i = 0; i < N; i++) {
    double q = 0;
    for (int d = 0; d < n; d++) q += (c.x[i * n + d] - m) * (c.x[i * n + d] - m);
    double ex = exp(-0.5 * q / v) / (2 * M_PI * v);
    num += (c.rho[i] - ex) * (c.rho[i] - ex), den += ex * ex;
  }
  printf("OU 2-D on the grid path: relative L2 error %.3f after %d steps\n", sqrt(num / den), K);
  ck_assert_msg(sqrt(num / den) < 0.15, "OU relative L2 error %g", sqrt(num / den));
  gsl_rng_free(g);
  prox_ws_free(w);
  cloud_free(&c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("proxfast");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_exact_sums);
  tcase_add_test(tc, test_fast_bound);
  tcase_add_test(tc, test_stability);
  tcase_add_test(tc, test_threads);
  tcase_add_test(tc, test_auto_invalid);
  tcase_add_test(tc, test_ou_fast);
  suite_add_tcase(s, tc);
  return check_run(s);
}
