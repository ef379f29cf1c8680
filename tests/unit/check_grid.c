/*
** check_grid.c — unit tests for the density engines on grids:
** runtime/fv.c (implicit finite volumes), runtime/jko1d.c (exact 1-D JKO in
** quantile coordinates), runtime/jko_entropic.c (Peyre's entropic JKO).
**
** Every reference is derived where it is used.  The finite-volume scheme is
** first order in h (upwind, piecewise-constant reconstruction) and in dt
** (implicit Euler), so its tests refine h and dt together by 2 and check
** the error ratio (>= 1.8 where the measured ratio is ~1.9-2.0, i.e. order
** >= 0.85) and an error bound C h with C a little above the measured
** constant (docs/grid.md has the tables).  Properties the scheme keeps
** exactly (mass, positivity, the energy's decrease, the discrete steady
** state) are checked to rounding, every step.
*/
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "fv.h"
#include "fv_fftconv.h"
#include "jko1d.h"
#include "jko_entropic.h"

/* ---- callbacks (hnn ABI) */
static double g_a = 1, g_b = 0;   /* V(x) = a x^2/2 + b x^4/4 shifted by g_s */
static double g_s = 0;
static int cb_quad(const double *x, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  double y = x[0] - g_s;
  out[0] = 0.5 * g_a * y * y + 0.25 * g_b * x[0] * x[0] * x[0] * x[0];
  return 0;
}
static int cb_quad_d(const double *x, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  out[0] = g_a * (x[0] - g_s) + g_b * x[0] * x[0] * x[0];
  return 0;
}
static int cb_quad_dd(const double *x, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  out[0] = g_a + 3 * g_b * x[0] * x[0];
  return 0;
}
static int cb_quad2(const double *x, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  out[0] = 0.5 * (x[0] * x[0] + x[1] * x[1]) + 0.3 * x[0];
  return 0;
}
static int cb_gauss_kernel(const double *z, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;   /* exp(-|z|^2/0.5): positive definite (its Fourier transform is positive) */
  out[0] = exp(-(z[0] * z[0] + z[1] * z[1]) / 0.5);
  return 0;
}
static int cb_f2(const double *x, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  out[0] = 2 * (x[0] - 0.3) * (x[0] - 0.3) + (x[1] - 0.6) * (x[1] - 0.6) + x[0] * x[1];
  return 0;
}
static int cb_logistic_mob(const double *x, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;   /* g^ii = s'(s^-1(x_i)) = x_i (1 - x_i) for the logistic activation */
  out[0] = x[0] * (1 - x[0]);
  out[1] = x[1] * (1 - x[1]);
  return 0;
}
static int cb_bad(const double *x, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  out[0] = x[0] > 0.5 ? NAN : 0;
  return 0;
}

static const flow_fn FN_NONE = { NULL, 0 };
static flow_fn fn(flow_cb f) {
  flow_fn r = { f, 0 };
  return r;
}

static fv_problem problem1(int n, double lo, double hi) {
  fv_problem p;
  memset(&p, 0, sizeof p);
  p.grid.dim = 1;
  p.grid.n[0] = n;
  p.grid.lo[0] = lo;
  p.grid.hi[0] = hi;
  p.V = p.W = p.mob = FN_NONE;
  return p;
}

static double gauss(double x, double m, double v) { return exp(-(x - m) * (x - m) / (2 * v)) / sqrt(2 * M_PI * v); }

/* Slack for "the energy did not increase": the rounding of an N-term sum is
** at most ~N eps of the sum of the magnitudes of its parts. */
static double energy_slack(const fv_monitors *m, int N) {
  return 4.0 * N * 1.1e-16 * (fabs(m->potential) + fabs(m->interaction) + fabs(m->entropy) + fabs(m->power) + 1e-300);
}

/* Run K steps of dt, checking after every step: mass to 1e-12 (relative),
** no negative cell, the energy non-increasing. */
static void run_checked(fv_solver *s, double dt, int K) {
  fv_monitors m0, m;
  fv_monitor(s, &m0);
  char msg[256];
  int N = fv_grid_of(s)->n[0] * (fv_grid_of(s)->dim == 2 ? fv_grid_of(s)->n[1] : 1);
  for (int k = 0; k < K; k++) {
    int rc = fv_step(s, dt, msg, sizeof msg);
    ck_assert_msg(rc == 0, "step %d: %s", k, msg);
    fv_monitor(s, &m);
    ck_assert_msg(fabs(m.mass - m0.mass) <= 1e-12 * m0.mass, "step %d: mass %.17g -> %.17g", k, m0.mass, m.mass);
    ck_assert_msg(m.min >= 0, "step %d: min density %g", k, m.min);
    ck_assert_msg(m.energy <= m0.energy + energy_slack(&m, N), "step %d: energy %.17g -> %.17g", k, m0.energy,
                  m.energy);
    m0.energy = m.energy;
  }
}

/* ---- heat flow in 1-D: var(t) = var0 + 2 T t for any start (d/dt int x^2 rho
** = 2 T int rho).  The upwind flux adds O(h) diffusion: the measured
** error/h is 1.55 at both resolutions; bound 2 h, order from the ratio. */
static double heat_var_err(int n, double dt) {
  fv_problem p = problem1(n, -8, 8);
  p.T = 1;
  double *r = malloc(sizeof(double) * n), v0 = 0.25;
  for (int i = 0; i < n; i++) r[i] = gauss(fv_center(&p.grid, 0, i), 0, v0);
  char msg[256];
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  run_checked(s, dt, (int)lround(1 / dt));
  fv_monitors m;
  fv_monitor(s, &m);
  ck_assert(fabs(m.mean[0]) < 1e-12);
  double var = m.second_moment / m.mass - m.mean[0] * m.mean[0];
  fv_free(s);
  free(r);
  return var - (v0 + 2);
}

START_TEST(test_fv_heat_variance) {
  double e1 = heat_var_err(200, 0.02), e2 = heat_var_err(400, 0.01);
  ck_assert_msg(fabs(e1) <= 2 * 0.08 && fabs(e2) <= 2 * 0.04, "variance errors %g %g", e1, e2);
  ck_assert_msg(e1 / e2 >= 1.8 && e1 / e2 <= 2.2, "variance error ratio %g (first order: 2)", e1 / e2);
}
END_TEST

/* ---- Ornstein-Uhlenbeck: V = x^2/2, T = 1; from N(m0, v0) the solution is
** N(m0 e^-t, 1 + (v0 - 1) e^-2t).  Value by value at t = 1, relative to the
** peak: measured 1.02e-2 (h = 0.08) and 5.3e-3 (h = 0.04), i.e. 0.13 h. */
static double ou_err(int n, double dt) {
  fv_problem p = problem1(n, -8, 8);
  p.T = 1;
  g_a = 1, g_b = 0, g_s = 0;
  p.V = fn(cb_quad);
  double *r = malloc(sizeof(double) * n), v0 = 0.25, m0 = 1;
  for (int i = 0; i < n; i++) r[i] = gauss(fv_center(&p.grid, 0, i), m0, v0);
  char msg[256];
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  run_checked(s, dt, (int)lround(1 / dt));
  double me = m0 * exp(-1.0), ve = 1 + (v0 - 1) * exp(-2.0), e = 0, pk = gauss(me, me, ve);
  const double *rho = fv_density(s);
  for (int i = 0; i < n; i++) e = fmax(e, fabs(rho[i] - gauss(fv_center(&p.grid, 0, i), me, ve)));
  fv_free(s);
  free(r);
  return e / pk;
}

START_TEST(test_fv_ou_gaussian) {
  double e1 = ou_err(200, 0.02), e2 = ou_err(400, 0.01);
  ck_assert_msg(e1 <= 0.2 * 0.08 && e2 <= 0.2 * 0.04, "OU errors %g %g", e1, e2);
  ck_assert_msg(e1 / e2 >= 1.8, "OU error ratio %g (first order: 2)", e1 / e2);
}
END_TEST

/* ---- the steady state: u = 0 at every face iff xi is constant iff
** rho_i = exp(-V_i/T)/Z_h exactly (Z_h = h sum exp(-V_i/T)).  Implicit Euler
** contracts by 1/(1 + dt lambda) per step (lambda >= min V'' = 1 here), so
** 60 steps of dt = 1 leave ~1e-18; the Newton tolerance (1e-12 of max rho)
** bounds what is left (measured 8e-16).  Non-quadratic V, T = 0.5. */
START_TEST(test_fv_stationary_gibbs) {
  int n = 160;
  fv_problem p = problem1(n, -4, 4);
  p.T = 0.5;
  g_a = 1, g_b = 1, g_s = 0.3;
  p.V = fn(cb_quad);
  double r[160], gib[160], Z = 0, h = 8.0 / n;
  for (int i = 0; i < n; i++) {
    double x = fv_center(&p.grid, 0, i), v;
    r[i] = 1.0 / 8 * (1 + 0.5 * sin(3 * x));
    cb_quad(&x, NULL, &v, NULL);
    gib[i] = exp(-v / p.T);
    Z += gib[i] * h;
  }
  char msg[256];
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  run_checked(s, 1, 60);
  const double *rho = fv_density(s);
  double e = 0, pk = 0;
  for (int i = 0; i < n; i++) e = fmax(e, fabs(rho[i] - gib[i] / Z)), pk = fmax(pk, gib[i] / Z);
  ck_assert_msg(e <= 1e-12 * pk, "distance to exp(-V/T)/Z: %g", e / pk);
  fv_free(s);
}
END_TEST

/* ---- porous medium rho_t = (rho^m)_xx (nu = 1, V = W = T = 0) against the
** Barenblatt solution U(t, x) = t^-a (C - k x^2 t^-2a)_+^(1/(m-1)),
** a = 1/(m+1), k = a (m-1)/(2m), mass 1: C^(1/(m-1) + 1/2) = sqrt(k) /
** B(1/2, 1/(m-1) + 1).  Narrow start U(0.01), compared at t = 1.01 in L1
** against cell averages.  Measured (docs/grid.md): m = 2: 7.56e-3, 4.02e-3;
** m = 3: 6.48e-3, 3.60e-3 (rates 0.91, 0.85; the front limits the rate). */
static double bm, ba, bk, bC;
static double baren(double t, double x) {
  double v = bC - bk * x * x * pow(t, -2 * ba);
  return v > 0 ? pow(t, -ba) * pow(v, 1 / (bm - 1)) : 0;
}
static double baren_avg(double t, double a, double b) {
  int K = 400;   /* midpoint sub-cells: the profile is Hoelder at the front, error ~ (h/K)^(1 + 1/(m-1)) */
  double s = 0;
  for (int q = 0; q < K; q++) s += baren(t, a + (q + 0.5) * (b - a) / K);
  return s / K;
}
static void baren_set(double m) {
  bm = m;
  ba = 1 / (m + 1);
  bk = ba * (m - 1) / (2 * m);
  double e = 1 / (m - 1) + 0.5, B = tgamma(0.5) * tgamma(1 / (m - 1) + 1) / tgamma(1 / (m - 1) + 1.5);
  bC = pow(sqrt(bk) / B, 1 / e);
}

static double pme_l1(double m, int n, double dt) {
  baren_set(m);
  double L = 2.5, h = 2 * L / n, t0 = 0.01;
  fv_problem p = problem1(n, -L, L);
  p.nu = 1;
  p.m = m;
  double *r = malloc(sizeof(double) * n);
  for (int i = 0; i < n; i++) r[i] = baren_avg(t0, -L + i * h, -L + (i + 1) * h);
  char msg[256];
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  run_checked(s, dt, (int)lround(1 / dt));
  const double *rho = fv_density(s);
  double l1 = 0;
  for (int i = 0; i < n; i++) l1 += fabs(rho[i] - baren_avg(t0 + 1, -L + i * h, -L + (i + 1) * h)) * h;
  fv_free(s);
  free(r);
  return l1;
}

START_TEST(test_fv_porous_barenblatt) {
  for (int m = 2; m <= 3; m++) {
    double e1 = pme_l1(m, 200, 0.01), e2 = pme_l1(m, 400, 0.005);
    /* bound 0.5 h at h = 0.0125 (measured 0.32 h and 0.29 h) */
    ck_assert_msg(e2 <= 0.5 * 0.0125, "m = %d: L1 error %g", m, e2);
    ck_assert_msg(log2(e1 / e2) >= 0.75, "m = %d: L1 rate %g", m, log2(e1 / e2));
  }
}
END_TEST

/* ---- 2-D heat from a product start: each sweep is homogeneous of degree 1
** in the factor it does not act on (xi differences along x do not see a
** row's scale), so the split scheme keeps products: the 2-D solution is
** the tensor product of the 1-D solutions (same n, dt), to the Newton
** tolerance (1e-12 of max rho; measured 4e-16).  A non-square grid
** catches index mix-ups. */
static double *heat1d(int n, double lo, double hi, double v0, double dt, int K) {
  fv_problem p = problem1(n, lo, hi);
  p.T = 1;
  double *r = malloc(sizeof(double) * n);
  for (int i = 0; i < n; i++) r[i] = gauss(fv_center(&p.grid, 0, i), 0.2, v0);
  char msg[256];
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  for (int k = 0; k < K; k++) ck_assert_msg(fv_step(s, dt, msg, sizeof msg) == 0, "%s", msg);
  memcpy(r, fv_density(s), sizeof(double) * n);
  fv_free(s);
  return r;
}

START_TEST(test_fv_heat_2d_product) {
  int n0 = 50, n1 = 40, K = 10;
  double dt = 0.05;
  fv_problem p;
  memset(&p, 0, sizeof p);
  p.grid.dim = 2;
  p.grid.n[0] = n0, p.grid.n[1] = n1;
  p.grid.lo[0] = -5, p.grid.hi[0] = 5, p.grid.lo[1] = -4, p.grid.hi[1] = 4;
  p.T = 1;
  double *r = malloc(sizeof(double) * n0 * n1);
  for (int j = 0; j < n1; j++)
    for (int i = 0; i < n0; i++)
      r[j * n0 + i] = gauss(fv_center(&p.grid, 0, i), 0.2, 0.3) * gauss(fv_center(&p.grid, 1, j), 0.2, 0.5);
  char msg[256];
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  run_checked(s, dt, K);
  double *a = heat1d(n0, -5, 5, 0.3, dt, K), *b = heat1d(n1, -4, 4, 0.5, dt, K);
  const double *rho = fv_density(s);
  double e = 0, pk = 0;
  for (int j = 0; j < n1; j++)
    for (int i = 0; i < n0; i++) e = fmax(e, fabs(rho[j * n0 + i] - a[i] * b[j])), pk = fmax(pk, a[i] * b[j]);
  ck_assert_msg(e <= 1e-12 * pk, "2-D vs product of 1-D: %g", e / pk);
  fv_free(s);
  free(r), free(a), free(b);
}
END_TEST

/* ---- the diffusion machine's Fokker-Planck equation (000 eq. 49) on
** (0, 1)^2 with the logistic mobility g^ii = x_i (1 - x_i): the mobility
** does not change the steady state exp(-f/T)/Z, exact on the grid as in 1-D
** (u = 0 at every face iff f + T log rho is constant); the free energy is
** monotone.  Large steps from a flat start exercise the step halving.  The
** mobility vanishes at the boundary, so the slowest mode decays slowly:
** after 40 steps of dt = 2 the measured distance is 9e-11. */
START_TEST(test_fv_fpk_mobility) {
  fv_problem p;
  memset(&p, 0, sizeof p);
  p.grid.dim = 2;
  p.grid.n[0] = 40, p.grid.n[1] = 30;
  p.grid.hi[0] = p.grid.hi[1] = 1;
  p.V = fn(cb_f2);
  p.mob = fn(cb_logistic_mob);
  p.T = 0.1;
  int N = 1200;
  double r[1200], gib[1200], Z = 0, vol = 1.0 / 1200;
  for (int c = 0; c < N; c++) {
    double x[2] = { fv_center(&p.grid, 0, c % 40), fv_center(&p.grid, 1, c / 40) }, v;
    r[c] = 1;
    cb_f2(x, NULL, &v, NULL);
    gib[c] = exp(-v / p.T);
    Z += gib[c] * vol;
  }
  char msg[256];
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  run_checked(s, 2, 40);
  const double *rho = fv_density(s);
  double e = 0, pk = 0;
  for (int c = 0; c < N; c++) e = fmax(e, fabs(rho[c] - gib[c] / Z)), pk = fmax(pk, gib[c] / Z);
  ck_assert_msg(e <= 1e-8 * pk, "distance to exp(-f/T)/Z: %g", e / pk);
  fv_free(s);
}
END_TEST

/* ---- interaction: W Gaussian (positive definite, so the energy decrease is
** guaranteed, fv.h), V = x^2/2, T = 0.2.  The steady state has xi = V + W*rho
** + T log rho constant; the Newton iteration without the W part of the
** Jacobian still converges (linearly). */
START_TEST(test_fv_interaction_steady) {
  int n = 120;
  fv_problem p = problem1(n, -4, 4);
  p.T = 0.2;
  g_a = 1, g_b = 0, g_s = 0;
  p.V = fn(cb_quad);
  p.W = fn(cb_gauss_kernel);
  double r[120], h = 8.0 / n;
  for (int i = 0; i < n; i++) r[i] = gauss(fv_center(&p.grid, 0, i), 1, 0.1) + 1e-3;
  char msg[256];
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  run_checked(s, 0.5, 80);
  const double *rho = fv_density(s);
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < n; i++) {
    double x = fv_center(&p.grid, 0, i), xi = 0.5 * x * x + p.T * log(rho[i]);
    for (int j = 0; j < n; j++) {
      double z[2] = { x - fv_center(&p.grid, 0, j), 0 }, w;
      cb_gauss_kernel(z, NULL, &w, NULL);
      xi += h * w * rho[j];
    }
    lo = fmin(lo, xi), hi = fmax(hi, xi);
  }
  ck_assert_msg(hi - lo <= 1e-8, "xi varies by %g at the steady state", hi - lo);
  fv_free(s);
}
END_TEST

/* ---- W * rho by FFT (fv_fftconv.c) against the direct sum, odd and even
** sizes: the circular convolution of period 2n reproduces the linear one;
** rounding of the FFT is ~ log2(M) eps of sum |W| |rho| (bound 1e-13). */
START_TEST(test_fftconv_direct) {
  int sizes[3][2] = { { 13, 9 }, { 8, 8 }, { 1, 7 } };
  for (int t = 0; t < 3; t++) {
    int n0 = sizes[t][0], n1 = sizes[t][1], w0 = 2 * n0 - 1, w1 = 2 * n1 - 1;
    double *W = malloc(sizeof(double) * w0 * w1), *r = malloc(sizeof(double) * n0 * n1);
    double *out = malloc(sizeof(double) * n0 * n1);
    for (int k = 0; k < w0 * w1; k++) W[k] = sin(0.7 * k + 0.3) + 0.2;
    for (int k = 0; k < n0 * n1; k++) r[k] = 1.5 + cos(1.3 * k);
    fv_fftconv *F = fv_fftconv_new(n0, n1, W);
    ck_assert_ptr_nonnull(F);
    fv_fftconv_apply(F, r, out);
    double worst = 0;
    for (int j = 0; j < n1; j++)
      for (int i = 0; i < n0; i++) {
        double acc = 0, mag = 0;
        for (int b = 0; b < n1; b++)
          for (int a = 0; a < n0; a++) {
            double w = W[(j - b + n1 - 1) * w0 + (i - a + n0 - 1)];
            acc += w * r[b * n0 + a];
            mag += fabs(w * r[b * n0 + a]);
          }
        worst = fmax(worst, fabs(out[j * n0 + i] - acc) / mag);
      }
    ck_assert_msg(worst < 1e-13, "%d x %d: relative difference %g", n0, n1, worst);
    fv_fftconv_free(F);
    free(W), free(r), free(out);
  }
}
END_TEST

/* ---- 2-D steady state with interaction (W * rho by FFT): xi = V + W*rho
** + T log rho constant over the grid (checked with a direct sum here) */
START_TEST(test_fv_interaction_steady_2d) {
  fv_problem p;
  memset(&p, 0, sizeof p);
  p.grid.dim = 2;
  p.grid.n[0] = 24, p.grid.n[1] = 20;
  p.grid.lo[0] = p.grid.lo[1] = -3;
  p.grid.hi[0] = p.grid.hi[1] = 3;
  p.T = 0.3;
  p.V = fn(cb_quad2);
  p.W = fn(cb_gauss_kernel);
  double r[480];
  for (int c = 0; c < 480; c++) r[c] = 1 + 0.5 * sin(c * 0.37);
  char msg[256];
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  for (int k = 0; k < 60; k++) ck_assert_msg(fv_step(s, 0.5, msg, sizeof msg) == 0, "%s", msg);
  const double *rho = fv_density(s);
  double h0 = 6.0 / 24, h1 = 6.0 / 20, lo = INFINITY, hi = -INFINITY;
  for (int c = 0; c < 480; c++) {
    double x = fv_center(&p.grid, 0, c % 24), y = fv_center(&p.grid, 1, c / 24), v;
    double xy[2] = { x, y };
    cb_quad2(xy, NULL, &v, NULL);
    double xi = v + p.T * log(rho[c]);
    for (int e = 0; e < 480; e++) {
      double z[2] = { x - fv_center(&p.grid, 0, e % 24), y - fv_center(&p.grid, 1, e / 24) }, w;
      cb_gauss_kernel(z, NULL, &w, NULL);
      xi += h0 * h1 * w * rho[e];
    }
    lo = fmin(lo, xi), hi = fmax(hi, xi);
  }
  ck_assert_msg(hi - lo <= 1e-8, "xi varies by %g at the 2-D steady state", hi - lo);
  fv_free(s);
}
END_TEST

/* ---- the same bits for 1, 2 and 3 threads.  fv.c solves the lines of a
** sweep 8 at a time (the lanes of one kernel) and the threads take whole
** blocks, so each variant below exercises a path of it: with W (the
** convolution and the pass that makes the trial point first), sizes that
** are not multiples of 8 (narrow last blocks, whose spare lanes repeat a
** line), the mobility with order 2 (the minmod face values), and T = 0
** with m = 1.5 (the Jacobian's floor, clipped trial points, empty cells). */
static double *run_threads(int variant, int threads, int *ncells) {
  fv_problem p;
  memset(&p, 0, sizeof p);
  p.grid.dim = 2;
  p.grid.n[0] = 72, p.grid.n[1] = 60;   /* above fv.c's FV_MIN_THREADED cells, so the pool runs */
  p.grid.lo[0] = p.grid.lo[1] = -2;
  p.grid.hi[0] = p.grid.hi[1] = 2;
  fv_options o = { 0, 0, 0, threads, 1 };
  double dt = 0.05;
  if (variant == 0) {
    p.T = 0.3;
    p.nu = 0.5, p.m = 2;
    p.W = fn(cb_gauss_kernel);
  } else if (variant == 1) {
    p.grid.n[0] = 77, p.grid.n[1] = 61;
    p.grid.lo[0] = p.grid.lo[1] = 0;
    p.grid.hi[0] = p.grid.hi[1] = 1;
    p.V = fn(cb_f2);
    p.mob = fn(cb_logistic_mob);
    p.T = 0.2;
    o.order = 2;
    dt = 0.02;
  } else {
    p.grid.n[0] = 67, p.grid.n[1] = 66;
    p.V = fn(cb_quad2);
    p.nu = 1, p.m = 1.5;
    dt = 0.02;
  }
  int n0 = p.grid.n[0], n1 = p.grid.n[1], N = n0 * n1;
  double *r = malloc(sizeof(double) * N);
  for (int c = 0; c < N; c++) {
    int i = c % n0, j = c / n0;
    r[c] = 1 + 0.5 * sin(c * 0.37);
    if (variant == 2) r[c] = (i - 30) * (i - 30) + (j - 35) * (j - 35) < 400 ? r[c] : 0;
  }
  char msg[256];
  fv_solver *s = fv_new(&p, &o, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  for (int k = 0; k < 4; k++) ck_assert_msg(fv_step(s, dt, msg, sizeof msg) == 0, "%s", msg);
  memcpy(r, fv_density(s), sizeof(double) * N);
  fv_free(s);
  *ncells = N;
  return r;
}

START_TEST(test_fv_threads_bits) {
  for (int v = 0; v < 3; v++) {
    int n;
    double *a = run_threads(v, 1, &n), *b = run_threads(v, 2, &n), *c = run_threads(v, 3, &n);
    ck_assert_msg(memcmp(a, b, sizeof(double) * n) == 0, "variant %d: 1 and 2 threads differ", v);
    ck_assert_msg(memcmp(a, c, sizeof(double) * n) == 0, "variant %d: 1 and 3 threads differ", v);
    double mn = INFINITY;
    for (int k = 0; k < n; k++) mn = fmin(mn, a[k]);
    ck_assert_msg(mn >= 0, "variant %d: min rho %g", v, mn);
    free(a), free(b), free(c);
  }
}
END_TEST

/* ---- bad input is refused with a message, never run */
START_TEST(test_fv_bad_input) {
  char msg[256] = "";
  fv_problem p = problem1(10, 0, 1);
  double r[10];
  for (int i = 0; i < 10; i++) r[i] = i == 3 ? 0 : 1;
  p.T = 1;
  ck_assert(fv_new(&p, NULL, r, msg, sizeof msg) == NULL);
  ck_assert_msg(strstr(msg, "cell 3") && strstr(msg, "positive"), "%s", msg);
  p.T = 0;
  p.V = fn(cb_bad);
  ck_assert(fv_new(&p, NULL, r, msg, sizeof msg) == NULL);
  ck_assert_msg(strstr(msg, "V is not finite"), "%s", msg);
  p.V = FN_NONE;
  p.nu = 1, p.m = 1;
  ck_assert(fv_new(&p, NULL, r, msg, sizeof msg) == NULL);
  ck_assert_msg(strstr(msg, "m > 1"), "%s", msg);
  p.m = 2;
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  ck_assert_msg(s != NULL, "%s", msg);
  ck_assert_int_eq(fv_step(s, 0, msg, sizeof msg), 2);
  ck_assert_int_eq(fv_step(s, NAN, msg, sizeof msg), 2);
  ck_assert_int_eq(fv_run(s, -1, 0.1, 0, NULL, NULL, NULL, NULL, msg, sizeof msg), 2);
  fv_free(s);
  p.grid.dim = 3;
  ck_assert(fv_new(&p, NULL, r, msg, sizeof msg) == NULL);
}
END_TEST

/* ---- fv_run lands on t_end and emits the start, every out_dt and the end */
static int emit_count(void *ctx, double t, long step, const double *rho, const fv_monitors *m) {
  (void)t, (void)step, (void)rho, (void)m;
  ++*(int *)ctx;
  return 0;
}

START_TEST(test_fv_run_outputs) {
  fv_problem p = problem1(20, 0, 1);
  p.nu = 1, p.m = 2;
  double r[20];
  for (int i = 0; i < 20; i++) r[i] = i < 10 ? 2 : 0;
  char msg[256];
  fv_solver *s = fv_new(&p, NULL, r, msg, sizeof msg);
  int cnt = 0;
  ck_assert_int_eq(fv_run(s, 1, 0.03, 0.25, emit_count, &cnt, NULL, NULL, msg, sizeof msg), 0);
  ck_assert(fv_time(s) == 1);
  ck_assert_int_eq(cnt, 5);   /* 0, 0.25 (at 0.27), 0.5, 0.75, 1 */
  fv_free(s);
}
END_TEST

/* ---- W2 in 1-D: a density moved by k whole cells is at distance k h */
START_TEST(test_fv_w2_shift) {
  double a[40] = { 0 }, b[40] = { 0 };
  for (int i = 5; i < 15; i++) a[i] = 1 + 0.1 * i, b[i + 7] = a[i];
  double w = fv_w2_1d(40, 0, 4, a, 40, 0, 4, b);
  ck_assert_msg(fabs(w - 0.7) <= 1e-13, "W2 %g", w);
  ck_assert(fv_w2_1d(40, 0, 4, a, 40, 0.7, 4.7, a) - 0.7 < 1e-13);
  a[3] = -1;
  ck_assert(isnan(fv_w2_1d(40, 0, 4, a, 40, 0, 4, b)));
}
END_TEST

/* ---- exact JKO for the heat flow.  The discrete optimality condition
** w_j (Q_j - Qo_j)/tau = phi'(g_j) - phi'(g_{j-1}), phi(g) = -(T/N) log(N g),
** times Q_j and summed, gives sum w Q (Q - Qo) = tau T (sum_j g_j phi'(g_j)
** = -T), hence M2' - M2 = 2 tau T - W2^2 exactly (and the mean is kept).
** So the iterates' variance is var0 + 2t - sum W2^2, and sum W2^2 ~ tau^2
** sum I(rho_k) = O(tau): halving tau halves the gap to var0 + 2t. */
static double jko_heat_gap(long N, double tau) {
  jko1d_problem p;
  memset(&p, 0, sizeof p);
  p.T = 1;
  double *Q = malloc(sizeof(double) * (N + 1)), *Qo = malloc(sizeof(double) * (N + 1));
  for (long j = 0; j <= N; j++) Q[j] = -1 + 2.0 * j / N;   /* uniform on [-1, 1] */
  double mean, m20, m2o, m2;
  jko1d_moments(N, Q, &mean, &m20);
  char msg[256];
  int K = (int)lround(1 / tau);
  for (int k = 0; k < K; k++) {
    memcpy(Qo, Q, sizeof(double) * (N + 1));
    jko1d_moments(N, Qo, &mean, &m2o);
    jko1d_info info;
    ck_assert_msg(jko1d_step(&p, N, Qo, tau, Q, &info, msg, sizeof msg) == 0, "%s", msg);
    jko1d_moments(N, Q, &mean, &m2);
    /* Newton stops at increments of 1e-13 of the span: the identity holds to ~1e-13 */
    ck_assert_msg(fabs(m2 - m2o - (2 * tau - info.w2 * info.w2)) <= 1e-12, "step %d: identity off by %g", k,
                  m2 - m2o - (2 * tau - info.w2 * info.w2));
    ck_assert(fabs(mean) <= 1e-14);
  }
  free(Q), free(Qo);
  return m2 - m20 - 2;
}

START_TEST(test_jko1d_heat_variance) {
  double g1 = jko_heat_gap(1000, 0.02), g2 = jko_heat_gap(1000, 0.01);
  ck_assert_msg(g1 < 0 && g2 < 0, "the gap is -sum W2^2 < 0: %g %g", g1, g2);
  ck_assert_msg(g1 / g2 >= 1.8 && g1 / g2 <= 2.2, "gap ratio %g (O(tau): 2)", g1 / g2);
}
END_TEST

/* ---- exact JKO with V = (x - s)^2/2 (callbacks V, V', V''): summing the
** optimality conditions, the entropy terms cancel and
** sum w (Q - Qo)/tau + sum w (Q - s) = 0: the mean is the implicit Euler
** iterate of m' = -(m - s), m_{k+1} - s = (m_k - s)/(1 + tau), exactly. */
START_TEST(test_jko1d_potential_mean) {
  long N = 400;
  jko1d_problem p;
  memset(&p, 0, sizeof p);
  p.T = 0.5;
  g_a = 1, g_b = 0, g_s = 0.7;
  p.V = fn(cb_quad), p.dV = fn(cb_quad_d), p.d2V = fn(cb_quad_dd);
  double *Q = malloc(sizeof(double) * (N + 1));
  for (long j = 0; j <= N; j++) Q[j] = -2 + 1.0 * j / N;
  double mean, m2, me;
  jko1d_moments(N, Q, &me, &m2);
  char msg[256];
  double E = jko1d_energy(&p, N, Q);
  for (int k = 0; k < 20; k++) {
    jko1d_info info;
    ck_assert_msg(jko1d_step(&p, N, Q, 0.25, Q, &info, msg, sizeof msg) == 0, "%s", msg);
    jko1d_moments(N, Q, &mean, &m2);
    me = g_s + (me - g_s) / 1.25;
    ck_assert_msg(fabs(mean - me) <= 1e-12, "step %d: mean %.15g, want %.15g", k, mean, me);
    /* a JKO step never increases E: E(new) + W2^2/(2 tau) <= E(old) */
    ck_assert(info.energy + info.w2 * info.w2 / 0.5 <= E + 1e-12);
    E = info.energy;
  }
  free(Q);
}
END_TEST

/* ---- exact JKO for the porous medium m = 2 from the Barenblatt profile at
** t0 = 0.01: the iterates approach the Barenblatt solution at t0 + 1 (JKO
** is first order in tau; 1/N the space error), and the discrete identity
** M2' - M2 = 2 tau (m - 1) P' - W2^2 holds (sum_j g phi'(g) = -(m-1) P). */
static double jko_pme_l1(long N, double tau) {
  baren_set(2);
  double t0 = 0.01, L = 2.5;
  int n = 500;
  double *r = malloc(sizeof(double) * n), *u = malloc(sizeof(double) * n), h = 2 * L / n;
  for (int i = 0; i < n; i++) r[i] = baren_avg(t0, -L + i * h, -L + (i + 1) * h);
  double *Q = malloc(sizeof(double) * (N + 1));
  ck_assert(jko1d_from_density(n, -L, L, r, N, Q) == 0);
  jko1d_problem p;
  memset(&p, 0, sizeof p);
  p.nu = 1, p.m = 2;
  char msg[256];
  int K = (int)lround(1 / tau);
  for (int k = 0; k < K; k++) {
    double mean, m2o, m2;
    jko1d_moments(N, Q, &mean, &m2o);
    jko1d_info info;
    ck_assert_msg(jko1d_step(&p, N, Q, tau, Q, &info, msg, sizeof msg) == 0, "%s", msg);
    jko1d_moments(N, Q, &mean, &m2);
    double P = info.energy;   /* the energy is the power part only (T = 0, V = 0) */
    ck_assert_msg(fabs(m2 - m2o - (2 * tau * P - info.w2 * info.w2)) <= 1e-12, "step %d: identity", k);
  }
  jko1d_to_grid(N, Q, n, -L, L, u);
  double l1 = 0;
  for (int i = 0; i < n; i++) l1 += fabs(u[i] - baren_avg(t0 + 1, -L + i * h, -L + (i + 1) * h)) * h;
  free(r), free(u), free(Q);
  return l1;
}

START_TEST(test_jko1d_porous_barenblatt) {
  double e1 = jko_pme_l1(400, 0.02), e2 = jko_pme_l1(800, 0.01);
  /* measured 1.14e-2 and 6.0e-3 */
  ck_assert_msg(e2 <= 0.008, "L1 error %g", e2);
  ck_assert_msg(e1 / e2 >= 1.7, "L1 ratio %g (first order: 2)", e1 / e2);
}
END_TEST

/* ---- entropic JKO, heat flow, Gaussian start N(0, s2).  The continuum
** minimizer of <c, pi> + eps int pi log pi + 2 tau T int q log q is Gaussian;
** over covariances [[s2, c], [c, v]] the objective is s2 + v - 2c
** - (eps/2) log(s2 v - c^2) - tau T log v, whose stationarity gives
**   2 c^2 + eps c - 2 s2 v = 0,   1 - (eps/2) s2/(s2 v - c^2) - tau T/v = 0.
** The grid adds only constants (eps log h^2, T log h) to this objective,
** and the midpoint rule is spectrally accurate for Gaussians: measured
** 1e-11 at the first step (h = 0.05, sqrt(eps/2) = 0.16). */
static double ent_next(double s2, double eps, double tau, double T) {
  double lo = 1e-12, hi = 100;
  for (int it = 0; it < 200; it++) {
    double v = 0.5 * (lo + hi), c = (-eps + sqrt(eps * eps + 16 * s2 * v)) / 4, D = s2 * v - c * c;
    if (1 - (eps / 2) * s2 / D - tau * T / v > 0) hi = v;
    else lo = v;
  }
  return 0.5 * (lo + hi);
}

START_TEST(test_jko_entropic_gaussian_1d) {
  int n = 320;
  jko_ent_problem ep;
  memset(&ep, 0, sizeof ep);
  ep.grid.dim = 1, ep.grid.n[0] = n, ep.grid.lo[0] = -8, ep.grid.hi[0] = 8;
  ep.T = 1, ep.eps = 0.05, ep.tol = 1e-11;
  char msg[256];
  jko_ent *J = jko_ent_new(&ep, msg, sizeof msg);
  ck_assert_msg(J != NULL, "%s", msg);
  double p[320], v = 0.5, tot = 0;
  for (int i = 0; i < n; i++) tot += p[i] = exp(-pow(fv_center(&ep.grid, 0, i), 2) / (2 * v));
  for (int i = 0; i < n; i++) p[i] /= tot;
  for (int k = 0; k < 4; k++) {
    jko_ent_info inf;
    ck_assert_msg(jko_ent_step(J, p, 0.1, p, &inf, msg, sizeof msg) == 0, "%s", msg);
    double ms = 0, mx = 0, mxx = 0;
    for (int i = 0; i < n; i++) {
      double x = fv_center(&ep.grid, 0, i);
      ms += p[i], mx += x * p[i], mxx += x * x * p[i];
      ck_assert(p[i] >= 0);
    }
    v = ent_next(v, ep.eps, 0.1, 1);
    ck_assert_msg(fabs(ms - 1) <= 1e-12, "mass %.17g", ms);
    /* marginal tol 1e-11, and the tail beyond |x| = 8 (mass ~1e-12 at var
    ** 1.3; measured 6e-11 at step 4) */
    ck_assert_msg(fabs((mxx - mx * mx) / v - 1) <= 1e-9, "step %d: var %.12g, want %.12g", k, mxx - mx * mx, v);
  }
  jko_ent_free(J);
}
END_TEST

/* ---- 2-D: cost, entropy and a product start separate, so each axis follows
** the 1-D Gaussian recursion; the same bits for 1 and 2 threads. */
static double *ent2d(int threads, double *vx, double *vy) {
  jko_ent_problem ep;
  memset(&ep, 0, sizeof ep);
  ep.grid.dim = 2, ep.grid.n[0] = 48, ep.grid.n[1] = 56;
  ep.grid.lo[0] = -6, ep.grid.hi[0] = 6, ep.grid.lo[1] = -7, ep.grid.hi[1] = 7;
  ep.T = 1, ep.eps = 0.25, ep.tol = 1e-10, ep.threads = threads;
  char msg[256];
  jko_ent *J = jko_ent_new(&ep, msg, sizeof msg);
  ck_assert_msg(J != NULL, "%s", msg);
  int N = 48 * 56;
  double *p = malloc(sizeof(double) * N), tot = 0;
  for (int c = 0; c < N; c++) {
    double x = fv_center(&ep.grid, 0, c % 48), y = fv_center(&ep.grid, 1, c / 48);
    tot += p[c] = exp(-x * x / (2 * 0.4) - y * y / (2 * 0.7));
  }
  for (int c = 0; c < N; c++) p[c] /= tot;
  for (int k = 0; k < 2; k++) {
    jko_ent_info inf;
    ck_assert_msg(jko_ent_step(J, p, 0.1, p, &inf, msg, sizeof msg) == 0, "%s", msg);
  }
  double sx = 0, sy = 0, ms = 0;
  for (int c = 0; c < N; c++) {
    double x = fv_center(&ep.grid, 0, c % 48), y = fv_center(&ep.grid, 1, c / 48);
    sx += x * x * p[c], sy += y * y * p[c], ms += p[c];
  }
  ck_assert_msg(fabs(ms - 1) <= 1e-12, "mass %.17g", ms);
  *vx = sx, *vy = sy;
  jko_ent_free(J);
  return p;
}

START_TEST(test_jko_entropic_2d) {
  double vx, vy, wx, wy;
  double *a = ent2d(1, &vx, &vy), *b = ent2d(2, &wx, &wy);
  ck_assert(memcmp(a, b, sizeof(double) * 48 * 56) == 0);
  double ex = ent_next(ent_next(0.4, 0.25, 0.1, 1), 0.25, 0.1, 1);
  double ey = ent_next(ent_next(0.7, 0.25, 0.1, 1), 0.25, 0.1, 1);
  /* h = 0.25 against a kernel width sqrt(eps/2) = 0.35: the midpoint rule
  ** on the Gaussian kernel is still accurate (measured 2.5e-8) */
  ck_assert_msg(fabs(vx / ex - 1) <= 1e-7 && fabs(vy / ey - 1) <= 1e-7, "var %g %g, want %g %g", vx, vy, ex, ey);
  free(a), free(b);
}
END_TEST

Suite *grid_suite(void) {
  Suite *s = suite_create("grid");
  TCase *t = tcase_create("fv");
  tcase_add_test(t, test_fv_heat_variance);
  tcase_add_test(t, test_fv_ou_gaussian);
  tcase_add_test(t, test_fv_stationary_gibbs);
  tcase_add_test(t, test_fv_porous_barenblatt);
  tcase_add_test(t, test_fv_heat_2d_product);
  tcase_add_test(t, test_fv_fpk_mobility);
  tcase_add_test(t, test_fv_interaction_steady);
  tcase_add_test(t, test_fftconv_direct);
  tcase_add_test(t, test_fv_interaction_steady_2d);
  tcase_add_test(t, test_fv_threads_bits);
  tcase_add_test(t, test_fv_bad_input);
  tcase_add_test(t, test_fv_run_outputs);
  tcase_add_test(t, test_fv_w2_shift);
  tcase_set_timeout(t, 120);
  suite_add_tcase(s, t);
  TCase *j = tcase_create("jko");
  tcase_add_test(j, test_jko1d_heat_variance);
  tcase_add_test(j, test_jko1d_potential_mean);
  tcase_add_test(j, test_jko1d_porous_barenblatt);
  tcase_add_test(j, test_jko_entropic_gaussian_1d);
  tcase_add_test(j, test_jko_entropic_2d);
  tcase_set_timeout(j, 120);
  suite_add_tcase(s, j);
  return s;
}

int main(void) { return check_run(grid_suite()); }
