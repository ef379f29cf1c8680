/*
** check_ot.c — unit tests for the optimal transport solvers: runtime/ot1d.c
** (1-D by sorting), runtime/otexact.c (LEMON network simplex) and
** runtime/sinkhorn.c (log-domain Sinkhorn, debiased divergence), and the
** vectorizable exp of runtime/fastexp.h.
**
** References: closed forms, brute force over permutations, and POT 0.8.2
** values in tests/ref/ot_ref.h (made by tests/ref/make_ot_ref.py).
** Tolerances, and why:
**  - exact solvers: relative 1e-13 against closed forms and brute force
**    (only the summation order differs); 1e-12 against POT with weights
**    (otexact rounds weights to integers summing to ~2^50, which moves the
**    value by at most max C (n + m) / 2^50 = 2e-13 here).
**  - Sinkhorn against POT: both plans have L1 marginal errors below 1e-12;
**    the value moves by at most ~(max C + oscillation of the potentials)
**    times the marginal error, so 1e-10 absolute is ~50x that bound.
**  - eps -> 0: W <= OT_eps(a,b) <= W + eps log min(n,m) and 0 <= OT_eps(a,a)
**    <= eps log n (KL(P | a x b) is a mutual information, at most the
**    smaller entropy), hence |S_eps - W| <= eps log max(n,m).
*/
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "ot.h"
#include "ot1d.h"
#include "fastexp.h"
#include "otexact.h"
#include "sinkhorn.h"
#include "../ref/ot_ref.h"

static uint64_t rs = 0x9E3779B97F4A7C15u;
static void seed(uint64_t s) { rs = s * 0x9E3779B97F4A7C15u + 1; }
static double unif(void) { /* splitmix64 */
  uint64_t z = (rs += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  z ^= z >> 31;
  return (z >> 11) * (1.0 / 9007199254740992.0);
}
static double *cloud(size_t n, int d, double lo, double hi) {
  double *x = malloc(n * d * sizeof *x);
  for (size_t k = 0; k < n * d; k++) x[k] = lo + (hi - lo) * unif();
  return x;
}
static void shuffle(size_t n, double *x) {
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = (size_t)(unif() * (i + 1));
    double t = x[i];
    x[i] = x[j], x[j] = t;
  }
}
static void near(double got, double want, double rel, double abs_, const char *what) {
  double tol = abs_ + rel * fabs(want);
  ck_assert_msg(fabs(got - want) <= tol, "%s: got %.17g, want %.17g (|diff| %.3g > %.3g)", what,
                got, want, fabs(got - want), tol);
}

/* ---- hnn_fexp ---- */

START_TEST(test_exp_error) {
  double worst = 0.0;
  for (long k = 0; k <= 2000000; k++) {
    double x = -708.0 + 1417.0 * k / 2000000.0;
    double e = exp(x), r = fabs(hnn_fexp(x) - e) / e;
    worst = r > worst ? r : worst;
  }
  for (long k = 0; k <= 1000000; k++) { /* |r| near ln2/2 is where Horner rounds most */
    double x = -2.0 + 4.0 * k / 1000000.0;
    double e = exp(x), r = fabs(hnn_fexp(x) - e) / e;
    worst = r > worst ? r : worst;
  }
  printf("hnn_fexp: max relative error %.3g on [-708, 709]\n", worst);
  ck_assert_msg(worst < 5e-16, "hnn_fexp relative error %.3g >= 5e-16", worst);
  ck_assert(hnn_fexp(0.0) == 1.0);
  ck_assert(hnn_fexp(-708.5) == 0.0 && hnn_fexp(-INFINITY) == 0.0);
  ck_assert(isfinite(hnn_fexp(1000.0)) && hnn_fexp(1000.0) == hnn_fexp(709.0));
}
END_TEST

/* ---- 1-D ---- */

static int dcmp(const void *u, const void *v) {
  double a = *(const double *)u, b = *(const double *)v;
  return a < b ? -1 : a > b;
}

START_TEST(test_1d_sort) {
  size_t n = 100000;
  seed(1);
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  for (size_t i = 0; i < n; i++) x[i] = (unif() - 0.5) * pow(10.0, 40.0 * unif() - 20.0);
  x[0] = -0.0, x[1] = 0.0, x[2] = INFINITY, x[3] = -INFINITY, x[4] = 5e-324, x[5] = -5e-324;
  for (size_t i = 10; i < 1000; i++) x[i] = x[i % 7];   /* ties */
  memcpy(y, x, n * sizeof *x);
  ot1d_ws *w = ot1d_ws_alloc(n, 0);
  ck_assert_int_eq(ot1d_sort(w, n, x), OT_OK);
  qsort(y, n, sizeof *y, dcmp);
  for (size_t i = 0; i < n; i++) ck_assert_msg(x[i] == y[i], "sorted[%zu] = %g, want %g", i, x[i], y[i]);
  x[7] = NAN;
  ck_assert_int_eq(ot1d_sort(w, n, x), OT_ENONFINITE);
  ot1d_ws_free(w);
  free(x), free(y);
}
END_TEST

START_TEST(test_1d_gaussians) {
  /* x_i = m1 + s1 z_i, y_i = m2 + s2 z_i at the quantiles z_i of N(0,1):
  ** the monotone pairing gives W2^2 = (m1 - m2)^2 + (s1 - s2)^2 mean z_i^2
  ** (the z_i are symmetric, so the cross term vanishes). */
  size_t n = 5001;
  double m1 = 0.3, s1 = 1.5, m2 = -1.2, s2 = 0.4, zz = 0.0, w2;
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  for (size_t i = 0; i < n; i++) {
    double z = gsl_cdf_ugaussian_Pinv((i + 0.5) / n);
    x[i] = m1 + s1 * z, y[i] = m2 + s2 * z, zz += z * z;
  }
  seed(2);
  shuffle(n, x), shuffle(n, y);
  ck_assert_int_eq(ot1d_wpp(NULL, 2.0, n, x, NULL, n, y, NULL, 0, &w2), OT_OK);
  near(w2, (m1 - m2) * (m1 - m2) + (s1 - s2) * (s1 - s2) * zz / n, 1e-13, 0, "W2^2 Gaussians");
  /* and the continuous W2^2 to O(log n / n) */
  near(w2, (m1 - m2) * (m1 - m2) + (s1 - s2) * (s1 - s2), 5 * log(n) / n, 0, "vs continuous");
  /* W1 of a shift is the shift */
  for (size_t i = 0; i < n; i++) y[i] = x[i] + 0.7;
  shuffle(n, y);
  ck_assert_int_eq(ot1d_wpp(NULL, 1.0, n, x, NULL, n, y, NULL, 0, &w2), OT_OK);
  near(w2, 0.7, 1e-13, 0, "W1 of a shift");
  free(x), free(y);
}
END_TEST

START_TEST(test_1d_unequal) {
  /* by hand: x = {0, 1}, y = {0, 1/2, 1} uniform: quantile steps at 1/2 and
  ** 1/3, 2/3; W2^2 = (1/6)(1/4) + (1/6)(1/4) = 1/12, W1 = 1/6 */
  double x[] = { 1.0, 0.0 }, y[] = { 0.5, 1.0, 0.0 }, v;
  ck_assert_int_eq(ot1d_wpp(NULL, 2.0, 2, x, NULL, 3, y, NULL, 1, &v), OT_OK);
  near(v, 1.0 / 12.0, 1e-15, 0, "W2^2 2 vs 3 points");
  ck_assert_int_eq(ot1d_wpp(NULL, 1.0, 2, x, NULL, 3, y, NULL, 1, &v), OT_OK);
  near(v, 1.0 / 6.0, 1e-15, 0, "W1 2 vs 3 points");
  /* integer weights = replicated points */
  seed(3);
  double xs[5], a[5], xr[15], *ys = cloud(9, 1, -1, 2), v2;
  size_t r = 0;
  for (int i = 0; i < 5; i++) {
    xs[i] = unif();
    a[i] = 1 + i % 3;
    for (int k = 0; k < a[i]; k++) xr[r++] = xs[i];
  }
  for (double p = 1.0; p <= 3.0; p += 0.5) {
    ck_assert_int_eq(ot1d_wpp(NULL, p, 5, xs, a, 9, ys, NULL, 0, &v), OT_OK);
    ck_assert_int_eq(ot1d_wpp(NULL, p, r, xr, NULL, 9, ys, NULL, 0, &v2), OT_OK);
    near(v, v2, 1e-13, 0, "weights vs replicated points");
  }
  free(ys);
}
END_TEST

START_TEST(test_1d_pot) {
  double v;
  ck_assert_int_eq(ot1d_wpp(NULL, 2, REF_N1, REF_X1, NULL, REF_M1, REF_Y1, NULL, 0, &v), OT_OK);
  near(v, REF_W1D_U_P2, 1e-13, 0, "POT wasserstein_1d p=2 uniform");
  ck_assert_int_eq(ot1d_wpp(NULL, 1, REF_N1, REF_X1, NULL, REF_M1, REF_Y1, NULL, 0, &v), OT_OK);
  near(v, REF_W1D_U_P1, 1e-13, 0, "POT wasserstein_1d p=1 uniform");
  ck_assert_int_eq(ot1d_wpp(NULL, 2, REF_N1, REF_X1, REF_A1, REF_M1, REF_Y1, REF_B1, 0, &v), OT_OK);
  near(v, REF_W1D_W_P2, 1e-13, 0, "POT wasserstein_1d p=2 weights");
  ck_assert_int_eq(ot1d_wpp(NULL, 1, REF_N1, REF_X1, REF_A1, REF_M1, REF_Y1, REF_B1, 0, &v), OT_OK);
  near(v, REF_W1D_W_P1, 1e-13, 0, "POT wasserstein_1d p=1 weights");
}
END_TEST

START_TEST(test_1d_errors) {
  double x[] = { 0.0, 1.0 }, y[] = { 0.5, NAN }, a[] = { 1.0, -1.0 }, z[] = { 0.0, 0.0 }, v = 42;
  ck_assert_int_eq(ot1d_wpp(NULL, 2, 2, x, NULL, 2, y, NULL, 0, &v), OT_ENONFINITE);
  ck_assert_int_eq(ot1d_wpp(NULL, 2, 2, x, a, 2, x, NULL, 0, &v), OT_EINVAL);
  ck_assert_int_eq(ot1d_wpp(NULL, 2, 2, x, z, 2, x, NULL, 0, &v), OT_EINVAL);
  ck_assert_int_eq(ot1d_wpp(NULL, 0.5, 2, x, NULL, 2, x, NULL, 0, &v), OT_EINVAL);
  ck_assert_int_eq(ot1d_wpp(NULL, 2, 0, x, NULL, 2, x, NULL, 0, &v), OT_EINVAL);
  ot1d_ws *w = ot1d_ws_alloc(1, 1);
  ck_assert_int_eq(ot1d_wpp(w, 2, 2, x, NULL, 2, x, NULL, 0, &v), OT_EINVAL);
  ot1d_ws_free(w);
  double big[] = { 1e160 }, nbig[] = { -1e160 };   /* |x - y|^2 overflows */
  ck_assert_int_eq(ot1d_wpp(NULL, 2, 1, big, NULL, 1, nbig, NULL, 0, &v), OT_ENONFINITE);
  ck_assert(v == 42);
  ck_assert_str_eq(ot_strerror(OT_ENONFINITE), "a point, weight or cost is not finite");
}
END_TEST

START_TEST(test_1d_threads) {
  size_t n = 200000, m = 150000;
  seed(4);
  double *x = cloud(n, 1, -3, 3), *y = cloud(m, 1, 0, 5), *a = cloud(n, 1, 0, 1), v1, v2;
  ck_assert_int_eq(ot1d_wpp(NULL, 2, n, x, a, m, y, NULL, 1, &v1), OT_OK);
  ck_assert_int_eq(ot1d_wpp(NULL, 2, n, x, a, m, y, NULL, 2, &v2), OT_OK);
  ck_assert(memcmp(&v1, &v2, sizeof v1) == 0);
  free(x), free(y), free(a);
}
END_TEST

/* ---- exact ---- */

static double cost_p(const double *x, const double *y, int d, double p) {
  double s = 0;
  for (int k = 0; k < d; k++) s += (x[k] - y[k]) * (x[k] - y[k]);
  return p == 2 ? s : pow(sqrt(s), p);
}

/* min over permutations s of sum_i C[i][s(i)] / n (Heap's algorithm) */
static double brute(int n, const double *C) {
  int s[8], c[8] = { 0 };
  for (int i = 0; i < n; i++) s[i] = i;
  double best = INFINITY;
  for (int k = 0;;) {
    double v = 0;
    for (int i = 0; i < n; i++) v += C[i * n + s[i]];
    best = v < best ? v : best;
    while (k < n && c[k] >= k) c[k++] = 0;
    if (k == n) break;
    int j = k % 2 ? c[k] : 0, t = s[j];
    s[j] = s[k], s[k] = t;
    c[k]++;
    k = 0;
  }
  return best / n;
}

START_TEST(test_exact_bruteforce) {
  seed(5);
  for (int trial = 0; trial < 12; trial++) {
    int d = 1 + trial % 3, n = 7;
    double p = trial % 2 ? 1.0 : 2.0;
    int nx = trial % 4 == 3 ? 1 : 7;            /* 1 x 7: one source split 7 ways */
    double *x = cloud(n, d, 0, 1), *y = cloud(n, d, 0, 1), C[64], v;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) C[i * n + j] = cost_p(x + (i % nx) * d, y + j * d, d, p);
    ck_assert_int_eq(ot_exact(nx, n, d, x, NULL, y, NULL, p, &v, NULL), OT_OK);
    near(v, brute(n, C), 1e-13, 1e-15, "exact vs brute force");
    free(x), free(y);
  }
  /* unequal sizes: 3 vs 6 uniform = each source replicated twice */
  double *x = cloud(3, 2, 0, 1), *y = cloud(6, 2, 0, 1), xr[12], C[36], v;
  for (int i = 0; i < 6; i++) memcpy(xr + 2 * i, x + 2 * (i / 2), 2 * sizeof *x);
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++) C[i * 6 + j] = cost_p(xr + 2 * i, y + 2 * j, 2, 2);
  ck_assert_int_eq(ot_exact(3, 6, 2, x, NULL, y, NULL, 2, &v, NULL), OT_OK);
  near(v, brute(6, C), 1e-13, 0, "3 vs 6 vs brute force");
  free(x), free(y);
}
END_TEST

START_TEST(test_exact_pot) {
  double v, C[REF_N2 * REF_M2];
  ot_plan *P = ot_plan_alloc(REF_N2 + REF_M2);
  ck_assert_int_eq(ot_exact(REF_N2, REF_M2, 2, REF_X2, NULL, REF_Y2, NULL, 2, &v, P), OT_OK);
  near(v, REF_EMD_U, 1e-13, 0, "POT emd2 uniform");
  ck_assert_int_eq(ot_exact(REF_N2, REF_M2, 2, REF_X2, REF_A2, REF_Y2, REF_B2, 1, &v, P), OT_OK);
  near(v, REF_EMD_W_P1, 1e-12, 0, "POT emd2 weights p=1");
  ck_assert_int_eq(ot_exact(REF_N2, REF_M2, 2, REF_X2, REF_A2, REF_Y2, REF_B2, 2, &v, P), OT_OK);
  near(v, REF_EMD_W, 1e-12, 0, "POT emd2 weights");
  /* the plan: marginals to 1/2^50 each, value = <P, C> */
  double ra[REF_N2] = { 0 }, rb[REF_M2] = { 0 }, pc = 0;
  for (int i = 0; i < REF_N2; i++)
    for (int j = 0; j < REF_M2; j++) C[i * REF_M2 + j] = cost_p(REF_X2 + 2 * i, REF_Y2 + 2 * j, 2, 2);
  ck_assert(P->nnz <= REF_N2 + REF_M2);
  for (size_t k = 0; k < P->nnz; k++) {
    ck_assert(P->mass[k] > 0);
    ra[P->i[k]] += P->mass[k], rb[P->j[k]] += P->mass[k];
    pc += P->mass[k] * C[P->i[k] * REF_M2 + P->j[k]];
  }
  near(pc, v, 1e-14, 0, "<P, C>");
  for (int i = 0; i < REF_N2; i++) near(ra[i], REF_A2[i], 0, 1e-14, "row marginal");
  for (int j = 0; j < REF_M2; j++) near(rb[j], REF_B2[j], 0, 1e-14, "column marginal");
  ck_assert_int_eq(ot_exact_cost(REF_N2, REF_M2, C, REF_A2, REF_B2, &v, NULL), OT_OK);
  near(v, REF_EMD_W, 1e-12, 0, "ot_exact_cost");
  C[5] = NAN;
  ck_assert_int_eq(ot_exact_cost(REF_N2, REF_M2, C, REF_A2, REF_B2, &v, NULL), OT_ENONFINITE);
  ot_plan_free(P);
}
END_TEST

/* ---- Sinkhorn ---- */

static ot_sinkhorn_opts sk_opts(double eps, double tol) {
  ot_sinkhorn_opts o;
  ot_sinkhorn_opts_default(&o);
  o.eps = eps, o.tol = tol;
  return o;
}

START_TEST(test_sinkhorn_pot) {
  struct { double eps, cost, value, div; } c[] = {
    { 0.05, REF_SK_E05_COST, REF_SK_E05_VALUE, REF_SK_E05_DIV },
    { 0.5, REF_SK_E5_COST, REF_SK_E5_VALUE, REF_SK_E5_DIV },
  };
  for (int k = 0; k < 2; k++) {
    ot_sinkhorn_opts o = sk_opts(c[k].eps, 1e-12);
    ot_sinkhorn_stats st[3];
    double v, cost, s;
    ck_assert_int_eq(ot_sinkhorn(NULL, &o, 2, REF_N2, REF_X2, REF_A2, REF_M2, REF_Y2, REF_B2, &v,
                                 &cost, NULL, NULL, st), OT_OK);
    ck_assert(st[0].marginal_err <= 1e-12);
    printf("sinkhorn eps=%g: %d levels, %d iterations, value %.3g cost %.3g off POT\n", c[k].eps,
           st[0].levels, st[0].iterations, v - c[k].value, cost - c[k].cost);
    near(v, c[k].value, 0, 1e-10, "POT regularized value");
    near(cost, c[k].cost, 0, 1e-10, "POT sinkhorn2 <P, M>");
    ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, 2, REF_N2, REF_X2, REF_A2, REF_M2, REF_Y2,
                                            REF_B2, &s, st), OT_OK);
    near(s, c[k].div, 0, 1e-10, "POT debiased divergence");
  }
}
END_TEST

START_TEST(test_divergence_properties) {
  seed(6);
  for (int trial = 0; trial < 6; trial++) {
    int d = 1 + trial % 3;
    size_t n = 50 + 17 * trial, m = 80 - 9 * trial;
    double *x = cloud(n, d, 0, 1), *y = cloud(m, d, 0.2, 1.5), *a = cloud(n, 1, 0, 1);
    ot_sinkhorn_opts o = sk_opts(trial % 2 ? 0.01 : 0.2, 1e-10);
    double s, s0;
    ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, d, n, x, a, m, y, NULL, &s, NULL), OT_OK);
    ck_assert_msg(s > 0, "S_eps = %g <= 0 (trial %d)", s, trial);
    ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, d, n, x, a, n, x, a, &s0, NULL), OT_OK);
    /* the (a, a) problem solved by the alternating and the symmetric
    ** updates, each to L1 marginal error 1e-10: |S| ~ (max C) 1e-10 */
    ck_assert_msg(fabs(s0) <= 1e-9, "S_eps(a, a) = %g (trial %d)", s0, trial);
    free(x), free(y), free(a);
  }
}
END_TEST

START_TEST(test_eps_to_zero) {
  seed(7);
  size_t n = 40, m = 30;
  double *x = cloud(n, 2, 0, 1), *y = cloud(m, 2, 0.3, 1.2), W, prev = INFINITY;
  ck_assert_int_eq(ot_exact(n, m, 2, x, NULL, y, NULL, 2, &W, NULL), OT_OK);
  for (double eps = 0.1; eps > 0.0009; eps /= sqrt(10.0)) {
    ot_sinkhorn_opts o = sk_opts(eps, 1e-9);
    double s, v;
    ot_sinkhorn_stats st[3];
    ck_assert_int_eq(ot_sinkhorn(NULL, &o, 2, n, x, NULL, m, y, NULL, &v, NULL, NULL, NULL, st), OT_OK);
    ck_assert_msg(v >= W - 1e-8 && v <= W + eps * log((double)m) + 1e-8,
                  "OT_eps = %.10g outside [W, W + eps log m], W = %.10g, eps %g", v, W, eps);
    ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, 2, n, x, NULL, m, y, NULL, &s, st), OT_OK);
    printf("eps %.4g: S_eps - W2^2 = %.3g (bound %.3g), iterations %d %d %d\n", eps, s - W,
           eps * log((double)n), st[0].iterations, st[1].iterations, st[2].iterations);
    ck_assert_msg(fabs(s - W) <= eps * log((double)n) + 1e-8, "|S_eps - W| = %g, eps %g", fabs(s - W), eps);
    prev = fabs(s - W);
  }
  ck_assert(prev < 1e-3);
  free(x), free(y);
}
END_TEST

START_TEST(test_threads_bitwise) {
  seed(8);
  size_t n = 700, m = 523;
  double *x = cloud(n, 3, 0, 1), *y = cloud(m, 3, 0.5, 1), *a = cloud(n, 1, 0, 1);
  double v[3], c[3], s[3], *f[3], *g[3], *gr[3];
  for (int t = 0; t < 3; t++) {
    ot_sinkhorn_opts o = sk_opts(0.02, 1e-8);
    o.threads = t + 1;
    f[t] = malloc(n * sizeof **f), g[t] = malloc(m * sizeof **g), gr[t] = malloc(3 * n * sizeof **gr);
    ck_assert_int_eq(ot_sinkhorn(NULL, &o, 3, n, x, a, m, y, NULL, &v[t], &c[t], f[t], g[t], NULL), OT_OK);
    ck_assert_int_eq(ot_sinkhorn_divergence_grad(NULL, &o, 3, n, x, a, m, y, NULL, &s[t], gr[t], NULL), OT_OK);
  }
  for (int t = 1; t < 3; t++) {
    ck_assert(memcmp(&v[0], &v[t], sizeof *v) == 0 && memcmp(&c[0], &c[t], sizeof *c) == 0);
    ck_assert(memcmp(&s[0], &s[t], sizeof *s) == 0);
    ck_assert(memcmp(f[0], f[t], n * sizeof **f) == 0 && memcmp(g[0], g[t], m * sizeof **g) == 0);
    ck_assert(memcmp(gr[0], gr[t], 3 * n * sizeof **gr) == 0);
  }
  for (int t = 0; t < 3; t++) free(f[t]), free(g[t]), free(gr[t]);
  free(x), free(y), free(a);
}
END_TEST

START_TEST(test_sinkhorn_hard_cases) {
  /* eps tiny against the costs (C / eps up to 2e10): finite, within eps log n of W */
  seed(9);
  size_t n = 12;
  double *x = cloud(n, 2, -100, 100), *y = cloud(n, 2, -100, 100), W, v, s;
  ck_assert_int_eq(ot_exact(n, n, 2, x, NULL, y, NULL, 2, &W, NULL), OT_OK);
  ot_sinkhorn_opts o = sk_opts(1e-6, 1e-9);
  ck_assert_int_eq(ot_sinkhorn(NULL, &o, 2, n, x, NULL, n, y, NULL, &v, NULL, NULL, NULL, NULL), OT_OK);
  near(v, W, 0, 1e-6 * log((double)n) + 1e-9 * 8e4, "eps = 1e-6 vs exact");
  ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, 2, n, x, NULL, n, y, NULL, &s, NULL), OT_OK);
  ck_assert(isfinite(s));
  /* zero weights: the same as without those points */
  double a[12], yy[22];
  for (size_t i = 0; i < n; i++) a[i] = i % 3 ? 1.0 : 0.0;
  memcpy(yy, y, sizeof yy);
  double xx[16];
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (a[i] > 0) xx[k * 2] = x[i * 2], xx[k * 2 + 1] = x[i * 2 + 1], k++;
  o = sk_opts(50.0, 1e-11);
  double v1, v2;
  ck_assert_int_eq(ot_sinkhorn(NULL, &o, 2, n, x, a, 11, yy, NULL, &v1, NULL, NULL, NULL, NULL), OT_OK);
  ck_assert_int_eq(ot_sinkhorn(NULL, &o, 2, k, xx, NULL, 11, yy, NULL, &v2, NULL, NULL, NULL, NULL), OT_OK);
  near(v1, v2, 1e-9, 0, "zero weights");
  /* the iteration cap: a clear status, the error reported, no NaN */
  o = sk_opts(1e-3, 1e-14);
  o.max_iter = 2;
  o.scaling = 0;
  ot_sinkhorn_stats st;
  v = NAN;
  ck_assert_int_eq(ot_sinkhorn(NULL, &o, 2, n, x, NULL, n, y, NULL, &v, NULL, NULL, NULL, &st), OT_EMAXITER);
  ck_assert(isfinite(v) && st.marginal_err > 1e-14 && st.iterations == 2);
  free(x), free(y);
}
END_TEST

START_TEST(test_sinkhorn_errors) {
  double x[] = { 0, 1, 2, 3 }, y[] = { 0, NAN, 2, 3 }, a[] = { 1, -1 }, v;
  ot_sinkhorn_opts o = sk_opts(0.1, 1e-6);
  ck_assert_int_eq(ot_sinkhorn(NULL, &o, 2, 2, x, NULL, 2, y, NULL, &v, NULL, NULL, NULL, NULL), OT_ENONFINITE);
  ck_assert_int_eq(ot_sinkhorn(NULL, &o, 2, 2, x, a, 2, x, NULL, &v, NULL, NULL, NULL, NULL), OT_EINVAL);
  o.eps = 0;
  ck_assert_int_eq(ot_sinkhorn(NULL, &o, 2, 2, x, NULL, 2, x, NULL, &v, NULL, NULL, NULL, NULL), OT_EINVAL);
  o = sk_opts(0.1, 0);
  ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, 2, 2, x, NULL, 2, x, NULL, &v, NULL), OT_EINVAL);
  o = sk_opts(0.1, 1e-6);
  o.scaling = 1.0;
  ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, 2, 2, x, NULL, 2, x, NULL, &v, NULL), OT_EINVAL);
  double big[] = { 1e160, 0 }, nbig[] = { -1e160, 0 };   /* costs overflow: an error, no NaN written */
  o = sk_opts(0.1, 1e-6);
  v = 42;
  ck_assert_int_eq(ot_sinkhorn(NULL, &o, 2, 1, big, NULL, 1, nbig, NULL, &v, NULL, NULL, NULL, NULL), OT_ENONFINITE);
  ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, 2, 1, big, NULL, 1, nbig, NULL, &v, NULL), OT_ENONFINITE);
  ck_assert(v == 42);
  ot_sinkhorn_ws *w = ot_sinkhorn_ws_alloc(3, 2, 2);
  o = sk_opts(0.1, 1e-6);
  ck_assert_int_eq(ot_sinkhorn(w, &o, 2, 2, x, NULL, 2, x, NULL, &v, NULL, NULL, NULL, NULL), OT_EINVAL);
  ot_sinkhorn_ws_free(w);
}
END_TEST

START_TEST(test_divergence_grad) {
  /* central differences of S_eps in each coordinate of three points; the
  ** values are solved to L1 error 1e-13, so a difference with h = 1e-4 is
  ** good to ~(max C) 1e-13 / h + O(h^2) ~ 1e-8 */
  seed(10);
  size_t n = 25, m = 31;
  int d = 2;
  double *x = cloud(n, d, 0, 1), *y = cloud(m, d, 0.3, 1.2), *a = cloud(n, 1, 0.5, 1);
  double *gr = malloc(n * d * sizeof *gr), s, sp, sm, h = 1e-4;
  ot_sinkhorn_opts o = sk_opts(0.05, 1e-13);
  ck_assert_int_eq(ot_sinkhorn_divergence_grad(NULL, &o, d, n, x, a, m, y, NULL, &s, gr, NULL), OT_OK);
  double s2;
  ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, d, n, x, a, m, y, NULL, &s2, NULL), OT_OK);
  ck_assert(memcmp(&s, &s2, sizeof s) == 0);
  for (size_t i = 0; i < n; i += 11)
    for (int k = 0; k < d; k++) {
      double x0 = x[i * d + k];
      x[i * d + k] = x0 + h;
      ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, d, n, x, a, m, y, NULL, &sp, NULL), OT_OK);
      x[i * d + k] = x0 - h;
      ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &o, d, n, x, a, m, y, NULL, &sm, NULL), OT_OK);
      x[i * d + k] = x0;
      near(gr[i * d + k], (sp - sm) / (2 * h), 1e-5, 1e-8, "dS/dx vs central difference");
    }
  free(x), free(y), free(a), free(gr);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("ot");
  TCase *t = tcase_create("ot");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, test_exp_error);
  tcase_add_test(t, test_1d_sort);
  tcase_add_test(t, test_1d_gaussians);
  tcase_add_test(t, test_1d_unequal);
  tcase_add_test(t, test_1d_pot);
  tcase_add_test(t, test_1d_errors);
  tcase_add_test(t, test_1d_threads);
  tcase_add_test(t, test_exact_bruteforce);
  tcase_add_test(t, test_exact_pot);
  tcase_add_test(t, test_sinkhorn_pot);
  tcase_add_test(t, test_divergence_properties);
  tcase_add_test(t, test_eps_to_zero);
  tcase_add_test(t, test_divergence_grad);
  tcase_add_test(t, test_threads_bitwise);
  tcase_add_test(t, test_sinkhorn_hard_cases);
  tcase_add_test(t, test_sinkhorn_errors);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  SRunner *r = srunner_create(suite());
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
