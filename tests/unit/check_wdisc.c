/*
** check_wdisc.c — the discrepancy terms of runtime/wfield_disc.c: wf_mmd,
** wf_sinkhorn and wf_w2.
**
** Every velocity is checked against central differences of the term's own
** value: v_i = -coef grad(delta E)(x_i) and dE/dx_i = w_i grad(delta E)(x_i),
** so dE/dx_i = -w_i v_i / coef.  Tolerances, and why:
**  - MMD (Gaussian, energy kernel away from coincident points): E is smooth,
**    central differences with h = 1e-4 err by h^2/6 |E'''| ~ 1e-9 (third
**    derivatives of a kernel of width 0.5 are ~10) plus rounding
**    1e-16 |E| / h ~ 1e-12; tolerance 1e-7 relative to the largest
**    component.
**  - Sinkhorn: the value is the dual objective at potentials converged to
**    an L1 marginal error 1e-12, off by ~(max C) 1e-12; divided by 2h = 2e-4
**    that is ~1e-8; the gradient is that of exact potentials up to the same
**    order.  Tolerance 1e-6 relative to the largest component.
**  - W2: piecewise quadratic in x where the optimal plan is unique (random
**    points in general position), so central differences are exact up to
**    rounding: 1e-8.
**  - MMD values against a direct double loop: rounding only, 1e-13
**    relative; W2 against POT 0.8.2 (tests/ref/ot_ref.h) 1e-12 as in
**    check_ot.c.
*/
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "energymodel.h"
#include "hnn.h"
#include "kernsum.h"
#include "ot1d.h"
#include "otexact.h"
#include "sinkhorn.h"
#include "wfield.h"
#include "../ref/ot_ref.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

static uint64_t rs;
static void seed(uint64_t s) { rs = s * 0x9E3779B97F4A7C15u + 1; }
static double unif(void) { /* splitmix64 */
  uint64_t z = (rs += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}
static void fill(double *x, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * unif();
}

/* The Gaussian kernel of bandwidth H as a compiled-style pair callback. */
#define H 0.5
static int gauss_pair2(const double *in, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  double d0 = in[0] - in[2], d1 = in[1] - in[3], k = exp(-(d0 * d0 + d1 * d1) / (2 * H * H));
  out[0] = -d0 / (H * H) * k, out[1] = -d1 / (H * H) * k, out[2] = k;
  return 0;
}
static double gauss(const double *x, const double *y, int n) {
  double s = 0;
  for (int d = 0; d < n; d++) s += (x[d] - y[d]) * (x[d] - y[d]);
  return exp(-s / (2 * H * H));
}
static double negdist(const double *x, const double *y, int n) {
  double s = 0;
  for (int d = 0; d < n; d++) s += (x[d] - y[d]) * (x[d] - y[d]);
  return -sqrt(s);
}
/* MMD^2 by the definition, double loops. */
static double mmd_direct(double (*k)(const double *, const double *, int), int n, size_t N, const double *x,
                         const double *w, size_t M, const double *y, const double *wy) {
  double xx = 0, xy = 0, yy = 0;
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j < N; j++) xx += w[i] * w[j] * k(x + i * n, x + j * n, n);
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j < M; j++) xy += w[i] * wy[j] * k(x + i * n, y + j * n, n);
  for (size_t i = 0; i < M; i++)
    for (size_t j = 0; j < M; j++) yy += wy[i] * wy[j] * k(y + i * n, y + j * n, n);
  return xx - 2 * xy + yy;
}

typedef int (*term_fn)(const void *ctx, double coef, int n, size_t N, const double *x, const double *w, size_t M,
                       const double *y, const double *wy, double *v, double *energy, const wf_opts *o);
static int call_mmd(const void *k, double c, int n, size_t N, const double *x, const double *w, size_t M,
                    const double *y, const double *wy, double *v, double *e, const wf_opts *o) {
  return wf_mmd(k, c, n, N, x, w, M, y, wy, v, e, o);
}
static int call_sinkhorn(const void *k, double c, int n, size_t N, const double *x, const double *w, size_t M,
                         const double *y, const double *wy, double *v, double *e, const wf_opts *o) {
  (void)k;
  return wf_sinkhorn(c, n, N, x, w, M, y, wy, v, e, o);
}
static int call_w2(const void *k, double c, int n, size_t N, const double *x, const double *w, size_t M,
                   const double *y, const double *wy, double *v, double *e, const wf_opts *o) {
  (void)k;
  return wf_w2(c, n, N, x, w, M, y, wy, v, e, o);
}

/* Central differences of the value against -w_i v_i / coef, every
** coordinate; returns the largest error relative to the largest component. */
static double fd_check(term_fn f, const void *ctx, double coef, int n, size_t N, double *x, const double *w,
                       size_t M, const double *y, const double *wy, const wf_opts *o, double h) {
  double *v = calloc(N * n, sizeof *v), *scratch = calloc(N * n, sizeof *v), e;
  int st = f(ctx, coef, n, N, x, w, M, y, wy, v, &e, o);
  ck_assert_msg(st == 0, "status %d at n = %d", st, n);
  double wsum = 0;
  for (size_t i = 0; i < N; i++) wsum += w ? w[i] : 1;
  double err = 0, big = 0;
  for (size_t k = 0; k < N * n; k++) {
    double x0 = x[k], ep, em;
    x[k] = x0 + h;
    ck_assert_int_eq(f(ctx, coef, n, N, x, w, M, y, wy, scratch, &ep, o), 0);
    x[k] = x0 - h;
    ck_assert_int_eq(f(ctx, coef, n, N, x, w, M, y, wy, scratch, &em, o), 0);
    x[k] = x0;
    double wi = (w ? w[k / n] : 1) / wsum, fd = (ep - em) / (2 * h), an = -wi * v[k];
    err = fmax(err, fabs(fd - an));
    big = fmax(big, fabs(an));
  }
  ck_assert(big > 0);
  free(v);
  free(scratch);
  return err / big;
}

/* ------------------------------------------------------------------ mmd */

START_TEST(test_mmd_value) {
  enum { N = 23, M = 31, n = 2 };
  double x[N * n], y[M * n], w[N], wy[M], v[N * n] = { 0 }, e, e2;
  seed(1);
  fill(x, N * n, -1, 1), fill(y, M * n, 0, 2), fill(w, N, 0.2, 1), fill(wy, M, 0.2, 1);
  double ws = 0, wys = 0;
  for (int i = 0; i < N; i++) ws += w[i];
  for (int j = 0; j < M; j++) wys += wy[j];
  double wn[N], wyn[M];
  for (int i = 0; i < N; i++) wn[i] = w[i] / ws;
  for (int j = 0; j < M; j++) wyn[j] = wy[j] / wys;
  wf_opts o = { 0 };
  /* recognized Gaussian, with a scale */
  wf_kernel kg = { .recognized = 1, .ks = KS_GAUSS, .h = H, .scale = 3 };
  ck_assert_int_eq(wf_mmd(&kg, 0.5, n, N, x, w, M, y, wy, v, &e, &o), 0);
  double ref = 0.5 * 3 * mmd_direct(gauss, n, N, x, wn, M, y, wyn);
  ck_assert_msg(fabs(e - ref) <= 1e-13 * fabs(ref) + 1e-16, "gauss %.17g vs %.17g", e, ref);
  /* the same kernel as a callback: the same value and field up to rounding */
  wf_kernel kc = { .recognized = 0, .pair = { gauss_pair2, 0 } };
  double vc[N * n] = { 0 };
  ck_assert_int_eq(wf_mmd(&kc, 1.5, n, N, x, w, M, y, wy, vc, &e2, &o), 0);
  ck_assert_msg(fabs(e2 - ref) <= 1e-13 * fabs(ref) + 1e-16, "callback %.17g vs %.17g", e2, ref);
  for (int k = 0; k < N * n; k++) ck_assert_double_eq_tol(vc[k], v[k], 1e-12 * (1 + fabs(v[k])));
  /* energy distance: 2 E|X - Y| - E|X - X'| - E|Y - Y'| */
  wf_kernel ke = { .recognized = 1, .ks = KS_ENERGY, .scale = 1 };
  ck_assert_int_eq(wf_mmd(&ke, 1, n, N, x, w, M, y, wy, v, &e, &o), 0);
  ref = mmd_direct(negdist, n, N, x, wn, M, y, wyn);
  ck_assert(ref > 0);
  ck_assert_msg(fabs(e - ref) <= 1e-13 * fabs(ref), "energy %.17g vs %.17g", e, ref);
  /* MMD(t, t) = 0 with zero field */
  double z[M * n] = { 0 };
  ck_assert_int_eq(wf_mmd(&kg, 1, n, M, y, wy, M, y, wy, z, &e, &o), 0);
  ck_assert(fabs(e) < 1e-15);
  for (int k = 0; k < M * n; k++) ck_assert(fabs(z[k]) < 1e-14);
}
END_TEST

START_TEST(test_mmd_gradient) {
  enum { N = 12, M = 17 };
  seed(2);
  for (int n = 1; n <= 3; n++) {
    double x[N * 3], y[M * 3], w[N], wy[M];
    fill(x, N * n, -1, 1), fill(y, M * n, -0.5, 1.5), fill(w, N, 0.2, 1), fill(wy, M, 0.2, 1);
    wf_opts o = { 0 };
    wf_kernel kg = { .recognized = 1, .ks = KS_GAUSS, .h = H, .scale = 1 };
    wf_kernel ke = { .recognized = 1, .ks = KS_ENERGY, .scale = 1 };
    wf_kernel ki = { .recognized = 1, .ks = KS_IMQ, .h = 0.7, .scale = 2 };
    double r = fd_check(call_mmd, &kg, 1.3, n, N, x, w, M, y, wy, &o, 1e-4);
    ck_assert_msg(r < 1e-7, "gauss n=%d: %g", n, r);
    r = fd_check(call_mmd, &ke, 0.7, n, N, x, w, M, y, wy, &o, 1e-4);
    ck_assert_msg(r < 1e-7, "energy n=%d: %g", n, r);
    r = fd_check(call_mmd, &ki, 1, n, N, x, NULL, M, y, NULL, &o, 1e-4);
    ck_assert_msg(r < 1e-7, "imq n=%d: %g", n, r);
  }
}
END_TEST

/* A tolerance reaches ks_sum: the grid path for the Gaussian with the
** signed weights of the target, within kernsum.h's stated bound
** |grad_i - exact| <= tol sum_j |w_j| / h per component (sum |w| = 2), times
** the factor 2 coef of the field. */
START_TEST(test_mmd_fast_path) {
  enum { N = 400, M = 300, n = 2 };
  static double x[N * n], y[M * n], ve[N * n], vf[N * n];
  seed(11);
  fill(x, N * n, 0, 1), fill(y, M * n, 0.3, 1.3);
  wf_kernel kg = { .recognized = 1, .ks = KS_GAUSS, .h = 0.2, .scale = 1 };
  wf_opts oe = { 0 }, of = { .tol = 1e-6 };
  memset(ve, 0, sizeof ve), memset(vf, 0, sizeof vf);
  ck_assert_int_eq(wf_mmd(&kg, 1, n, N, x, NULL, M, y, NULL, ve, NULL, &oe), 0);
  ck_assert_int_eq(wf_mmd(&kg, 1, n, N, x, NULL, M, y, NULL, vf, NULL, &of), 0);
  double err = 0;
  for (int k = 0; k < N * n; k++) err = fmax(err, fabs(ve[k] - vf[k]));
  ck_assert_msg(err <= 2 * 1e-6 * 2 / 0.2, "grid path: %g", err);
  ck_assert(err > 0);   /* it did take the grid path */
}
END_TEST

/* The callback path on the pool: the same bits for 1, 2 and 3 threads. */
START_TEST(test_mmd_threads) {
  enum { N = 101, M = 57, n = 2 };
  double x[N * n], y[M * n], v[3][N * n], e[3];
  seed(3);
  fill(x, N * n, -1, 1), fill(y, M * n, 0, 1);
  wf_kernel kc = { .recognized = 0, .pair = { gauss_pair2, 0 } };
  for (int t = 0; t < 3; t++) {
    wf_opts o = { .threads = t + 1 };
    memset(v[t], 0, sizeof v[t]);
    ck_assert_int_eq(wf_mmd(&kc, 1, n, N, x, NULL, M, y, NULL, v[t], &e[t], &o), 0);
  }
  for (int t = 1; t < 3; t++) {
    ck_assert_int_eq(memcmp(v[0], v[t], sizeof v[0]), 0);
    ck_assert_int_eq(memcmp(&e[0], &e[t], sizeof e[0]), 0);
  }
}
END_TEST

/* Explicit Euler on the MMD flow (Gaussian and energy kernels): MMD^2 to
** the teacher never increases and falls by a large factor.  With a step
** below 1/L (L bounds the Hessian of E along the step) Euler is a descent
** method: E(x + h v) <= E(x) - h/2 |grad|^2. */
START_TEST(test_mmd_flow_decreases) {
  enum { N = 40, M = 200, n = 2 };
  double x[N * n], y[M * n], v[N * n];
  seed(4);
  for (int j = 0; j < M; j++) {   /* teacher: two blobs at (+-1, 0) */
    y[j * n] = (j % 2 ? 1 : -1) + 0.3 * (unif() - 0.5);
    y[j * n + 1] = 0.3 * (unif() - 0.5);
  }
  wf_kernel ks[2] = { { .recognized = 1, .ks = KS_GAUSS, .h = H, .scale = 1 },
                      { .recognized = 1, .ks = KS_ENERGY, .scale = 1 } };
  double steps[2] = { 0.5, 0.05 };
  for (int c = 0; c < 2; c++) {
    for (int i = 0; i < N; i++) x[i * n] = 0.2 * (unif() - 0.5), x[i * n + 1] = 2 + 0.2 * (unif() - 0.5);
    wf_opts o = { 0 };
    double e0 = 0, prev = INFINITY, e = 0;
    for (int k = 0; k < 400; k++) {
      memset(v, 0, sizeof v);
      ck_assert_int_eq(wf_mmd(&ks[c], 1, n, N, x, NULL, M, y, NULL, v, &e, &o), 0);
      if (k == 0) e0 = e;
      ck_assert_msg(e <= prev * (1 + 1e-12), "kernel %d: MMD^2 rose at step %d: %.17g > %.17g", c, k, e, prev);
      prev = e;
      for (int q = 0; q < N * n; q++) x[q] += steps[c] * v[q];
    }
    ck_assert_msg(e < 0.05 * e0, "kernel %d: MMD^2 %g -> %g", c, e0, e);
  }
}
END_TEST

/* ------------------------------------------------------------- sinkhorn */

START_TEST(test_sinkhorn_gradient) {
  enum { N = 15, M = 20 };
  seed(5);
  for (int n = 1; n <= 2; n++) {
    double x[N * 2], y[M * 2], w[N], wy[M];
    fill(x, N * n, -1, 1), fill(y, M * n, 0, 2), fill(w, N, 0.2, 1), fill(wy, M, 0.2, 1);
    double epss[2] = { 0.05, 0.5 };
    for (int k = 0; k < 2; k++) {
      wf_opts o = { .eps = epss[k], .tol = 1e-12 };
      double r = fd_check(call_sinkhorn, NULL, 1.7, n, N, x, w, M, y, wy, &o, 1e-4);
      ck_assert_msg(r < 1e-6, "n=%d eps=%g: %g", n, epss[k], r);
    }
  }
}
END_TEST

/* The value is sinkhorn.h's divergence (POT's reference); the field is
** zero when the cloud is the target. */
START_TEST(test_sinkhorn_value) {
  double v[REF_N2 * 2] = { 0 }, e;
  wf_opts o = { .eps = 0.05, .tol = 1e-12 };
  ck_assert_int_eq(wf_sinkhorn(2, 2, REF_N2, REF_X2, REF_A2, REF_M2, REF_Y2, REF_B2, v, &e, &o), 0);
  ck_assert_msg(fabs(e - 2 * REF_SK_E05_DIV) < 2e-10, "%.17g vs %.17g", e, 2 * REF_SK_E05_DIV);
  double z[REF_M2 * 2] = { 0 };
  ck_assert_int_eq(wf_sinkhorn(1, 2, REF_M2, REF_Y2, REF_B2, REF_M2, REF_Y2, REF_B2, z, &e, &o), 0);
  ck_assert(fabs(e) < 1e-12);
  for (int k = 0; k < REF_M2 * 2; k++) ck_assert(fabs(z[k]) < 1e-9);
  /* the same bits for 1 and 2 threads */
  double v1[REF_N2 * 2] = { 0 }, v2[REF_N2 * 2] = { 0 }, e1, e2;
  wf_opts o1 = o, o2 = o;
  o1.threads = 1, o2.threads = 2;
  ck_assert_int_eq(wf_sinkhorn(1, 2, REF_N2, REF_X2, NULL, REF_M2, REF_Y2, NULL, v1, &e1, &o1), 0);
  ck_assert_int_eq(wf_sinkhorn(1, 2, REF_N2, REF_X2, NULL, REF_M2, REF_Y2, NULL, v2, &e2, &o2), 0);
  ck_assert_int_eq(memcmp(v1, v2, sizeof v1), 0);
  ck_assert_int_eq(memcmp(&e1, &e2, sizeof e1), 0);
  /* small eps and far clouds: finite, never NaN */
  double far[REF_N2 * 2];
  for (int k = 0; k < REF_N2 * 2; k++) far[k] = REF_X2[k] + 30;
  wf_opts os = { .eps = 1e-4, .tol = 1e-6 };
  memset(v1, 0, sizeof v1);
  int st = wf_sinkhorn(1, 2, REF_N2, far, NULL, REF_M2, REF_Y2, NULL, v1, &e1, &os);
  ck_assert(st == 0 || st == WF_EMAXITER);
  ck_assert(isfinite(e1));
  for (int k = 0; k < REF_N2 * 2; k++) ck_assert(isfinite(v1[k]));
  /* eps missing */
  wf_opts bad = { 0 };
  ck_assert_int_eq(wf_sinkhorn(1, 2, REF_N2, REF_X2, NULL, REF_M2, REF_Y2, NULL, v1, &e1, &bad), KS_EINVAL);
}
END_TEST

/* The factor convention: S_eps -> W2^2 = 2 (1/2 W2^2) as eps -> 0, so the
** Sinkhorn field tends to twice the W2 field.  Eight points matched to
** eight points 1 away in a unique optimal permutation (gaps between the
** best and next plans ~0.1 in cost): at eps = 1e-3 the entropic plans
** (rho, t) and (rho, rho) are within ~exp(-gap/eps) of the permutation and
** of the identity, so the fields agree to far better than 1e-6. */
START_TEST(test_sinkhorn_tends_to_w2) {
  enum { N = 8, n = 2 };
  double x[N * n], y[N * n], vs[N * n] = { 0 }, vw[N * n] = { 0 }, es, ew;
  for (int i = 0; i < N; i++) {
    x[i * n] = i % 4, x[i * n + 1] = i / 4;
    y[i * n] = i % 4 + 0.1 * (i % 3), y[i * n + 1] = i / 4 + 1 + 0.05 * i;
  }
  wf_opts o = { .eps = 1e-3, .tol = 1e-12 };
  ck_assert_int_eq(wf_sinkhorn(1, n, N, x, NULL, N, y, NULL, vs, &es, &o), 0);
  ck_assert_int_eq(wf_w2(1, n, N, x, NULL, N, y, NULL, vw, &ew, NULL), 0);
  for (int k = 0; k < N * n; k++) ck_assert_msg(fabs(vs[k] - 2 * vw[k]) < 1e-6, "%d: %g vs %g", k, vs[k], 2 * vw[k]);
  /* |S_eps - W2^2| <= eps log N (docs/ot.md) */
  ck_assert_msg(fabs(es - 2 * ew) <= 1e-3 * log(N), "%g vs %g", es, 2 * ew);
}
END_TEST

/* ------------------------------------------------------------------- w2 */

START_TEST(test_w2_pot) {
  double v[REF_N2 * 2] = { 0 }, e;
  /* 1-D against POT's wasserstein_1d (W2^2), unequal sizes, weights */
  double v1[REF_N1] = { 0 };
  ck_assert_int_eq(wf_w2(1, 1, REF_N1, REF_X1, REF_A1, REF_M1, REF_Y1, REF_B1, v1, &e, NULL), 0);
  ck_assert_msg(fabs(2 * e - REF_W1D_W_P2) < 1e-12 * REF_W1D_W_P2, "1-D %.17g vs %.17g", 2 * e, REF_W1D_W_P2);
  memset(v1, 0, sizeof v1);
  ck_assert_int_eq(wf_w2(1, 1, REF_N1, REF_X1, NULL, REF_M1, REF_Y1, NULL, v1, &e, NULL), 0);
  ck_assert_msg(fabs(2 * e - REF_W1D_U_P2) < 1e-12 * REF_W1D_U_P2, "1-D %.17g vs %.17g", 2 * e, REF_W1D_U_P2);
  /* 2-D against POT's emd2 */
  ck_assert_int_eq(wf_w2(1, 2, REF_N2, REF_X2, NULL, REF_M2, REF_Y2, NULL, v, &e, NULL), 0);
  ck_assert_msg(fabs(2 * e - REF_EMD_U) < 1e-12, "emd %.17g vs %.17g", 2 * e, REF_EMD_U);
  ck_assert_int_eq(wf_w2(1, 2, REF_N2, REF_X2, REF_A2, REF_M2, REF_Y2, REF_B2, v, &e, NULL), 0);
  ck_assert_msg(fabs(2 * e - REF_EMD_W) < 1e-12, "emd %.17g vs %.17g", 2 * e, REF_EMD_W);
}
END_TEST

START_TEST(test_w2_gradient) {
  enum { N = 9, M = 13 };
  seed(6);
  for (int n = 1; n <= 3; n++) {
    double x[N * 3], y[M * 3], w[N], wy[M];
    fill(x, N * n, -1, 1), fill(y, M * n, 0, 2), fill(w, N, 0.2, 1), fill(wy, M, 0.2, 1);
    double r = fd_check(call_w2, NULL, 1.1, n, N, x, w, M, y, wy, NULL, 1e-6);
    ck_assert_msg(r < 1e-8, "weights n=%d: %g", n, r);
    r = fd_check(call_w2, NULL, 1, n, N, x, NULL, N, y, NULL, NULL, 1e-6);
    ck_assert_msg(r < 1e-8, "permutation n=%d: %g", n, r);
  }
}
END_TEST

/* Equal sizes and weights: the plan is a permutation and one explicit
** Euler step of size 1 lands every particle on its partner. */
START_TEST(test_w2_permutation) {
  enum { N = 8, n = 2 };
  double x[N * n], y[N * n], v[N * n] = { 0 }, e, e2;
  seed(7);
  fill(x, N * n, 0, 1);
  int perm[N] = { 3, 7, 0, 5, 1, 6, 2, 4 };
  /* y: the points moved by a tiny amount and shuffled, so the identity
  ** matching of x_i to its own image is optimal */
  for (int i = 0; i < N; i++)
    for (int d = 0; d < n; d++) y[perm[i] * n + d] = x[i * n + d] + 1e-3 * (d ? 1 : -1);
  ck_assert_int_eq(wf_w2(1, n, N, x, NULL, N, y, NULL, v, &e, NULL), 0);
  for (int i = 0; i < N; i++)
    for (int d = 0; d < n; d++) ck_assert_double_eq_tol(x[i * n + d] + v[i * n + d], y[perm[i] * n + d], 1e-15);
  ck_assert_double_eq_tol(e, 0.5 * 2e-6, 1e-18);
  /* the 1-D map with a zero weight: the target quantile at the point */
  double xs[3] = { 0, 1, 2 }, ws[3] = { 1, 0, 1 }, ys[2] = { 10, 20 }, vs[3] = { 0 };
  ck_assert_int_eq(wf_w2(1, 1, 3, xs, ws, 2, ys, NULL, vs, &e2, NULL), 0);
  ck_assert_double_eq(vs[0], 10);
  ck_assert_double_eq(vs[2], 18);
  ck_assert(vs[1] == 9 || vs[1] == 19);
  ck_assert_double_eq_tol(e2, 0.5 * (0.5 * 100 + 0.5 * 324), 1e-12);
  /* too many pairs for the exact solver */
  ck_assert_int_eq(wf_w2(1, 2, 3000, x, NULL, 3000, y, NULL, v, &e, NULL), WF_ETOOBIG);
  double nanx[2] = { NAN, 0 };
  ck_assert_int_eq(wf_w2(1, 2, 1, nanx, NULL, 1, y, NULL, v, &e, NULL), KS_ENONFINITE);
  /* weights: negative, not finite, zero in total */
  double wbad[2][2] = { { 1, -1 }, { 1, NAN } }, wzero[2] = { 0, 0 };
  wf_kernel kg = { .recognized = 1, .ks = KS_GAUSS, .h = 1, .scale = 1 };
  wf_opts o = { .eps = 0.1 };
  ck_assert_int_eq(wf_w2(1, n, 2, x, wbad[0], 2, y, NULL, v, &e, NULL), KS_EINVAL);
  ck_assert_int_eq(wf_mmd(&kg, 1, n, 2, x, NULL, 2, y, wbad[1], v, &e, &o), KS_ENONFINITE);
  ck_assert_int_eq(wf_sinkhorn(1, n, 2, x, wzero, 2, y, NULL, v, &e, &o), KS_EINVAL);
}
END_TEST

/* ------------------------------------------------------------ language */

typedef struct {
  hnn_state *S;
  char dir[64];
  FILE *out;
} env;

static void env_open(env *e) {
  strcpy(e->dir, "/tmp/hnn-wdisc-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(e->dir));
  e->out = tmpfile();
  e->S = hnn_open();
  hnn_set_output(e->S, e->out);
  ck_assert_int_eq(hnn_set_output_dir(e->S, e->dir), HNN_OK);
  ck_assert_int_eq(hnn_add_path(e->S, SRCDIR "/stdlib"), HNN_OK);
}

static void env_close(env *e) {
  hnn_close(e->S);
  fclose(e->out);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", e->dir);
}

static void write_points(env *e, const char *name, int N, int n, const double *x) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", e->dir, name);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  for (int d = 0; d < n; d++) fprintf(f, "%sx%d", d ? "," : "", d + 1);
  fputc('\n', f);
  for (int i = 0; i < N; i++)
    for (int d = 0; d < n; d++) fprintf(f, "%.17g%c", x[i * n + d], d + 1 < n ? ',' : '\n');
  fclose(f);
}

/* Rows of a CSV file of the run directory ('#' lines and the header skipped). */
static double *read_rows(env *e, const char *name, int *rows, int *cols) {
  char path[256], line[8192];
  snprintf(path, sizeof path, "%s/%s", e->dir, name);
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "no file %s", path);
  double *d = NULL;
  size_t len = 0, cap = 0;
  *rows = *cols = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n' || (line[0] >= 'a' && line[0] <= 'z')) continue;
    int c = 0;
    for (char *p = line, *end;; p = end + 1) {
      double v = strtod(p, &end);
      ck_assert(end != p);
      if (len == cap) d = realloc(d, (cap = cap ? 2 * cap : 256) * sizeof *d);
      d[len++] = v;
      c++;
      if (*end != ',') break;
    }
    *cols = c;
    (*rows)++;
  }
  fclose(f);
  return d;
}

static double printed(env *e, int k) {
  fflush(e->out);
  rewind(e->out);
  double v = NAN;
  for (int i = 0; i <= k; i++) ck_assert_int_eq(fscanf(e->out, "%lf", &v), 1);
  fseek(e->out, 0, SEEK_END);
  return v;
}

static void load(env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void load(env *e, const char *fmt, ...) {
  char text[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  int st = hnn_load_string(e->S, text, "t.hnn");
  ck_assert_msg(st == HNN_OK, "script failed (%d): %s", st, hnn_error(e->S));
}

START_TEST(test_expressions) {
  enum { N = 40, M = 55, n = 2 };
  double x[N * n], y[M * n], x1[N], y1[M];
  seed(8);
  fill(x, N * n, -1, 1), fill(y, M * n, 0, 2), fill(x1, N, 0, 1), fill(y1, M, 0, 3);
  env e;
  env_open(&e);
  write_points(&e, "a.csv", N, n, x), write_points(&e, "b.csv", M, n, y);
  write_points(&e, "a1.csv", N, 1, x1), write_points(&e, "b1.csv", M, 1, y1);
  load(&e, "use \"kernels\"\n"
           "kernel g(x[2], y[2]) = exp(-norm2(x - y)/(2*0.5^2))\n"
           "print w2(csv(\"%1$s/a.csv\"), csv(\"%1$s/b.csv\")), w2(csv(\"%1$s/a1.csv\"), csv(\"%1$s/b1.csv\"))\n"
           "print sinkhorn(csv(\"%1$s/a.csv\"), csv(\"%1$s/b.csv\"), eps = 0.1)\n"
           "print mmd(g, csv(\"%1$s/a.csv\"), csv(\"%1$s/b.csv\")), mmd(energy_distance, csv(\"%1$s/a.csv\"), csv(\"%1$s/b.csv\"))\n",
       e.dir);
  double v, ref;
  ck_assert_int_eq(ot_exact(N, M, n, x, NULL, y, NULL, 2, &ref, NULL), OT_OK);
  ck_assert_double_eq(printed(&e, 0), sqrt(ref));
  ck_assert_int_eq(ot1d_wpp(NULL, 2, N, x1, NULL, M, y1, NULL, 1, &ref), OT_OK);
  ck_assert_double_eq(printed(&e, 1), sqrt(ref));
  ot_sinkhorn_opts so;
  ot_sinkhorn_opts_default(&so);
  so.eps = 0.1, so.tol = WF_SINKHORN_TOL;
  ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &so, n, N, x, NULL, M, y, NULL, &ref, NULL), OT_OK);
  ck_assert_double_eq(printed(&e, 2), ref);
  double wx[N], wy[M];
  for (int i = 0; i < N; i++) wx[i] = 1.0 / N;
  for (int j = 0; j < M; j++) wy[j] = 1.0 / M;
  v = printed(&e, 3), ref = mmd_direct(gauss, n, N, x, wx, M, y, wy);
  ck_assert_msg(fabs(v - ref) < 1e-13 * ref, "%.17g vs %.17g", v, ref);
  v = printed(&e, 4), ref = mmd_direct(negdist, n, N, x, wx, M, y, wy);
  ck_assert_msg(fabs(v - ref) < 1e-13 * ref, "%.17g vs %.17g", v, ref);
  /* drawn laws: the same seed, the same draws; W2 of N(0,1) to itself small */
  load(&e, "print w2(normal([0], [1]), normal([0], [1]), samples = 4000)\n");
  load(&e, "print w2(normal([0], [1]), normal([0], [1]), samples = 4000)\n");
  double a = printed(&e, 5), b = printed(&e, 6);
  ck_assert_double_eq(a, b);
  ck_assert_msg(a > 0 && a < 0.1, "%g", a);
  /* a declaration named w2 hides the builtin */
  load(&e, "param w2 = 3\nprint w2 + 1\n");
  ck_assert_double_eq(printed(&e, 7), 4);
  env_close(&e);
}
END_TEST

/* The energy pieces mmd(k, t) (a recognized Gaussian kernel) and energy_distance(t)
** (kernsum's energy kernel) of an energy model, through wf_mmd: the value
** against the double loop over the model's own target points. */
START_TEST(test_energy_pieces) {
  enum { N = 30, n = 2 };
  double x[N * n], v[N * n] = { 0 }, wx[N], e;
  seed(10);
  fill(x, N * n, -1, 1);
  for (int i = 0; i < N; i++) wx[i] = 1.0 / N;
  hnn_state *S = hnn_open();
  int st = hnn_load_string(S, "kernel g(x[2], y[2]) = exp(-norm2(x - y)/(2*0.5^2))\n"
                              "energy E = 2*mmd(g, normal([1, 0], [1, 1]), samples = 50) + "
                              "energy_distance(mixture([1, 1], normal([0, 0], [1, 1]), normal([2, 2], [1, 1])), samples = 40)\n",
                           "e.hnn");
  ck_assert_msg(st == HNN_OK, "%s", hnn_error(S));
  sym *E = state_lookup(S, "E");
  ck_assert_int_eq(sema_check_sym(S, E), 0);
  energy_model M;
  state_batch_begin(S);
  st = energy_model_build(S, E, n, &M);
  ck_assert_int_eq(state_batch_end(S), 0);
  ck_assert_int_eq(st, HNN_OK);
  ck_assert_int_eq(M.nterms, 2);
  wf_opts o = { 0 };
  const em_term *t = &M.terms[0];
  /* recognized as kernsum's Gaussian (lang/flows/kernelform.c) */
  ck_assert(t->kernel.recognized && t->kernel.ks == KS_GAUSS && fabs(t->kernel.h - 0.5) < 1e-15);
  ck_assert_int_eq(wf_mmd(&t->kernel, t->coef, n, N, x, NULL, t->ntarget, t->target, t->target_w, v, &e, &o), 0);
  double ref = 2 * mmd_direct(gauss, n, N, x, wx, t->ntarget, t->target, t->target_w);
  ck_assert_msg(fabs(e - ref) < 1e-13 * ref, "mmd %.17g vs %.17g", e, ref);
  t = &M.terms[1];
  ck_assert(t->kernel.recognized && t->kernel.ks == KS_ENERGY && t->kernel.scale == 1);
  ck_assert_int_eq(wf_mmd(&t->kernel, t->coef, n, N, x, NULL, t->ntarget, t->target, t->target_w, v, &e, &o), 0);
  ref = mmd_direct(negdist, n, N, x, wx, t->ntarget, t->target, t->target_w);
  ck_assert_msg(fabs(e - ref) < 1e-13 * ref, "energy distance %.17g vs %.17g", e, ref);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* A diffusion run towards N(0, I) from a shifted Gaussian: the monitor's
** w2 and sinkhorn columns are the distances of the particles written at
** the same step to the target file, and W2 falls as the cloud relaxes. */
/* A run of `decl` (flow d) from N((3, 0), 0.1 I), 200 steps of 0.01 written
** every 50, with w2_to and sinkhorn_to a standard normal sample: the
** monitor's last two columns against the distances recomputed from the
** particle file (its rows: t, step, particle, x1, x2 and extra columns). */
static void check_monitor(const char *decl, int extra) {
  enum { N = 60, M = 70, n = 2 };
  double y[M * n];
  seed(9);
  for (int j = 0; j < M * n; j++) y[j] = sqrt(-2 * log(1 - unif())) * cos(2 * M_PI * unif());
  env e;
  env_open(&e);
  write_points(&e, "t.csv", M, n, y);
  load(&e, "%s\n"
           "run d from normal([3, 0], [0.1, 0.1]) particles %d h 0.01 steps 200 every 50 "
           "w2_to csv(\"%s/t.csv\") sinkhorn_to csv(\"%s/t.csv\") monitor_eps 0.5 -> \"p.csv\"\n",
       decl, N, e.dir, e.dir);
  int pr, pc, mr, mc;
  double *P = read_rows(&e, "p.csv", &pr, &pc), *Mo = read_rows(&e, "p_monitor.csv", &mr, &mc);
  ck_assert_int_eq(mr, 5);
  ck_assert_int_eq(pr, 5 * N);
  ck_assert_int_eq(pc, 2 + 1 + n + extra);
  ot_sinkhorn_opts so;
  ot_sinkhorn_opts_default(&so);
  so.eps = 0.5, so.tol = WF_SINKHORN_TOL;
  double prev = INFINITY;
  for (int r = 0; r < mr; r++) {
    double x[N * n], w2, sk;
    for (int i = 0; i < N; i++) {
      const double *row = P + (size_t)(r * N + i) * pc;
      ck_assert_double_eq(row[1], Mo[r * mc + 1]);   /* the same step */
      x[i * n] = row[3], x[i * n + 1] = row[4];
    }
    ck_assert_int_eq(ot_exact(N, M, n, x, NULL, y, NULL, 2, &w2, NULL), OT_OK);
    ck_assert_int_eq(ot_sinkhorn_divergence(NULL, &so, n, N, x, NULL, M, y, NULL, &sk, NULL), OT_OK);
    /* the particle file holds the shortest round-trip digits: the same points */
    ck_assert_double_eq(Mo[r * mc + mc - 2], sqrt(w2));
    ck_assert_double_eq(Mo[r * mc + mc - 1], sk);
    if (r <= 2) ck_assert_msg(sqrt(w2) < prev, "W2 did not fall at row %d: %g", r, sqrt(w2));
    prev = sqrt(w2);
  }
  ck_assert(prev < 1);
  free(P);
  free(Mo);
  env_close(&e);
}

START_TEST(test_monitor) {
  /* the diffusion machine: rows end with f */
  check_monitor("objective f(x[2]) = norm2(x)/2\nmetric G = euclidean\nflow d = diffusion(f, G, T = 1)", 1);
}
END_TEST

START_TEST(test_monitor_energy_flows) {
  /* the same law as Langevin particles of an energy, and as score particles */
  check_monitor("objective f(x[2]) = norm2(x)/2\nenergy E = potential(f) + entropy\nflow d = langevin(E)", 0);
  check_monitor("objective f(x[2]) = norm2(x)/2\nenergy E = potential(f) + entropy\nflow d = particles(E)", 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("wdisc");
  TCase *t = tcase_create("core");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, test_mmd_value);
  tcase_add_test(t, test_mmd_gradient);
  tcase_add_test(t, test_mmd_threads);
  tcase_add_test(t, test_mmd_fast_path);
  tcase_add_test(t, test_mmd_flow_decreases);
  tcase_add_test(t, test_sinkhorn_gradient);
  tcase_add_test(t, test_sinkhorn_value);
  tcase_add_test(t, test_sinkhorn_tends_to_w2);
  tcase_add_test(t, test_w2_pot);
  tcase_add_test(t, test_w2_gradient);
  tcase_add_test(t, test_w2_permutation);
  suite_add_tcase(s, t);
  TCase *l = tcase_create("lang");
  tcase_set_timeout(l, 120);
  tcase_add_test(l, test_expressions);
  tcase_add_test(l, test_energy_pieces);
  tcase_add_test(l, test_monitor);
  tcase_add_test(l, test_monitor_energy_flows);
  suite_add_tcase(s, l);
  return s;
}

int main(void) {
  SRunner *r = srunner_create(suite());
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
