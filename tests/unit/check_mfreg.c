/*
** check_mfreg.c — issue #18's additions to the mean-field engine: losses
** other than the square (runtime/mf_loss.c), the porous-medium term and the
** entropy estimate (runtime/mf_reg.c), mini-batches (runtime/mf_batch.c),
** and the meanfield options that run them.
**
** Tolerances:
**  - velocities vs central differences of the energy (delta = 1e-5): the
**    difference error is delta^2/6 |E'''| + u |E| / delta ~ 1e-10 + 1e-11,
**    against velocities of order 1e-2 .. 1 scaled by 1/m: 1e-7 relative to
**    the largest (as check_meanfield.c).
**  - dissipation along RK4 (h = 0.01): (E(t+h) - E(t-h))/(2h) = dE/dt +
**    O(h^2 E''') plus RK4's O(h^4): 1e-3 relative (as check_meanfield.c).
**  - mean of the batch velocities vs the full one: the same sums split
**    into batches, so rounding only: 1e-12 relative to the largest.
**  - the others are derived where they are checked.
*/
#include <check.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "meanfield.h"
#include "mf_batch.h"
#include "mf_loss.h"
#include "mf_reg.h"
#include "testenv.h"
#include "wfield.h"

static uint64_t rs = 0x2545F4914F6CDD1Dull;
static double unif(void) { /* xorshift64* */
  rs ^= rs >> 12, rs ^= rs << 25, rs ^= rs >> 27;
  return (double)((rs * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}
static double gauss(void) {
  double u = unif(), v = unif();
  return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* A tanh network xi = [c, w (d), b] on n random points, fused kernels. */
typedef struct net {
  mf_problem P;
  long m;
  double *x, *y, *xi;
} net;

static net make_net(int d, long n, long m, double lambda, int sign_targets) {
  net N;
  memset(&N, 0, sizeof N);
  N.m = m;
  N.P.p = d + 2;
  N.P.d = d;
  N.P.n = n;
  N.P.lambda = lambda;
  N.x = malloc(sizeof(double) * n * d);
  N.y = malloc(sizeof(double) * n);
  N.xi = malloc(sizeof(double) * m * N.P.p);
  for (long k = 0; k < n; k++) {
    double s = 0;
    for (int l = 0; l < d; l++) s += N.x[k * d + l] = 2 * unif() - 1;
    N.y[k] = sign_targets ? (s > 0 ? 1 : -1) : sin(2 * s);
  }
  for (long i = 0; i < m * N.P.p; i++) N.xi[i] = gauss();
  N.P.x = N.x;
  N.P.y = N.y;
  N.P.unit = (mf_unit){ MF_TANH, 0, 1, d + 1, -1, 1, 0 };
  N.P.threads = 2;
  return N;
}

static void free_net(net *N) { free(N->x), free(N->y), free(N->xi); }

/* A smooth loss given as a callback, as the JIT compiles L(f, y):
** l = log cosh(f - y), dl/df = tanh(f - y). */
static int logcosh(const double *in, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  double u = in[0] - in[1];
  out[0] = tanh(u);
  out[1] = log(cosh(u));
  return 0;
}

/* v_i = -m dE/dxi_i with each loss, and with the porous-medium term. */
START_TEST(test_velocity_fd_losses) {
  double ws[1];
  mf_loss_compiled lc = { { logcosh, 0 }, ws };
  for (int c = 0; c < 4; c++) {   /* square, logistic, compiled, square + porous medium */
    rs = 17 + (uint64_t)c;
    long m = 60;
    net N = make_net(2, 25, m, 0.05, c == 1);
    mf_pm pm;
    if (c == 1) N.P.loss = mf_loss_logistic;
    if (c == 2) N.P.loss = mf_loss_call, N.P.loss_ctx = &lc;
    if (c == 3) {
      ck_assert_int_eq(mf_pm_init(&pm, 0.7, 0.6, m, N.P.p, 2), 0);
      N.P.term = mf_pm_term, N.P.term_ctx = &pm;
    }
    mf_ws *w = mf_ws_alloc(&N.P, m);
    size_t len = (size_t)m * N.P.p;
    double *v = malloc(sizeof(double) * len), vmax = 0, err = 0, v2 = 0;
    mf_stats st, sp, sm;
    char msg[256];
    ck_assert_msg(mf_eval(w, N.xi, v, &st, msg, sizeof msg) == 0, "%s", msg);
    for (size_t q = 0; q < len; q++) vmax = fmax(vmax, fabs(v[q])), v2 += v[q] * v[q];
    ck_assert_double_eq_tol(st.dissipation, v2 / (double)m, 1e-13 * st.dissipation);
    for (size_t q = 0; q < len; q += 3) {
      double keep = N.xi[q], delta = 1e-5;
      N.xi[q] = keep + delta;
      ck_assert_int_eq(mf_eval(w, N.xi, NULL, &sp, msg, sizeof msg), 0);
      N.xi[q] = keep - delta;
      ck_assert_int_eq(mf_eval(w, N.xi, NULL, &sm, msg, sizeof msg), 0);
      N.xi[q] = keep;
      double fd = -(double)m * (sp.energy - sm.energy) / (2 * delta);
      err = fmax(err, fabs(fd - v[q]));
    }
    report("loss case %d: risk %g, finite differences off by %g (max velocity %g)", c, st.risk, err, vmax);
    ck_assert_msg(err <= 1e-7 * vmax, "case %d: finite differences off by %g (max velocity %g)", c, err, vmax);
    if (c == 3) mf_pm_free(&pm);
    mf_ws_free(w);
    free(v);
    free_net(&N);
  }
}
END_TEST

/* The porous-medium term is wfield.c's blob power entropy of exponent 2
** at bandwidth sqrt(2) b, coefficient tau/2 (one kernel sum instead of
** two, added in the same order: rounding only, 1e-13 relative). */
START_TEST(test_pm_is_blob_power) {
  rs = 23;
  long m = 90;
  int p = 3;
  double *xi = malloc(sizeof(double) * m * p), *v = calloc((size_t)m * p, sizeof(double));
  double *vw = calloc((size_t)m * p, sizeof(double)), *w = malloc(sizeof(double) * m), e = 0.25, ew = 0, err = 0, vmax = 0;
  for (long q = 0; q < m * p; q++) xi[q] = gauss();
  for (long i = 0; i < m; i++) w[i] = 1.0 / (double)m;
  mf_pm pm;
  char msg[128];
  ck_assert_int_eq(mf_pm_init(&pm, 0.8, 0.35, m, p, 1), 0);
  ck_assert_int_eq(mf_pm_term(&pm, m, p, xi, v, &e, msg, sizeof msg), 0);
  wf_opts o = { 1, 0, sqrt(2.0) * 0.35, 0 };
  ck_assert_int_eq(wf_power_blob(0.4, 2, p, (size_t)m, xi, w, vw, &ew, &o), 0);
  for (long q = 0; q < m * p; q++) err = fmax(err, fabs(v[q] - vw[q])), vmax = fmax(vmax, fabs(vw[q]));
  ck_assert_double_eq_tol(e - 0.25, ew, 1e-13 * ew);
  ck_assert_msg(err <= 1e-13 * vmax, "velocities differ by %g (max %g)", err, vmax);
  mf_pm_free(&pm);
  free(xi), free(v), free(vw), free(w);
}
END_TEST

/* The logistic loss at a point, by its definition in long double. */
START_TEST(test_logistic_values) {
  double f[6] = { -40, -3, -1e-3, 0, 2.5, 800 }, y[6] = { 1, -1, 1, -1, 1, -1 }, dl[6], sum, want = 0;
  char msg[128];
  ck_assert_int_eq(mf_loss_logistic(NULL, 6, f, y, dl, &sum, msg, sizeof msg), 0);
  for (int k = 0; k < 6; k++) {
    long double z = (long double)y[k] * f[k];
    long double l = z < 0 ? -z + log1pl(expl(z)) : log1pl(expl(-z)), s = 1 / (1 + expl(z));
    want += (double)l;
    ck_assert_double_eq_tol(dl[k], (double)(-y[k] * s), 1e-16 + 1e-15 * fabs((double)s));
  }
  ck_assert_double_eq_tol(sum, want, 1e-14 * want);
  y[2] = 0.5;
  ck_assert_int_eq(mf_loss_logistic(NULL, 6, f, y, dl, &sum, msg, sizeof msg), -1);
  ck_assert_ptr_nonnull(strstr(msg, "data point 3"));
}
END_TEST

/* With the porous-medium term the flow still dissipates its (whole)
** energy: dE/dt = -(1/m) sum |v_i|^2, and E never rises. */
START_TEST(test_pm_dissipation) {
  rs = 11;
  long m = 120;
  net N = make_net(2, 30, m, 0.01, 0);
  mf_pm pm;
  ck_assert_int_eq(mf_pm_init(&pm, 0.5, 0.4, m, N.P.p, 2), 0);
  N.P.term = mf_pm_term, N.P.term_ctx = &pm;
  mf_ws *w = mf_ws_alloc(&N.P, m);
  size_t len = (size_t)m * N.P.p;
  double *v = malloc(sizeof(double) * len), *k = malloc(sizeof(double) * 4 * len), h = 0.01;
  double E[101], Dis[101], worst = 0;
  char msg[256];
  for (int s = 0; s <= 100; s++) {
    mf_stats st;
    ck_assert_msg(mf_eval(w, N.xi, v, &st, msg, sizeof msg) == 0, "%s", msg);
    E[s] = st.energy, Dis[s] = st.dissipation;
    if (s > 0) ck_assert_msg(E[s] <= E[s - 1], "energy rose at step %d: %.17g -> %.17g", s, E[s - 1], E[s]);
    if (s < 100) ck_assert_int_eq(mf_step_rk4(w, N.xi, h, v, k, msg, sizeof msg), 0);
  }
  for (int s = 1; s < 100; s++) worst = fmax(worst, fabs((E[s + 1] - E[s - 1]) / (2 * h) + Dis[s]) / Dis[s]);
  report("porous medium: dissipation identity off by %g relative", worst);
  ck_assert_msg(worst < 1e-3, "dissipation identity off by %g relative", worst);
  mf_ws_free(w);
  mf_pm_free(&pm);
  free(v), free(k);
  free_net(&N);
}
END_TEST

/* Neurons that do not touch the loss (phi = 0) with reg lambda and the
** porous-medium term: E = lambda/2 int |xi|^2 dmu + tau/2 int mu_b^2, whose
** minimizer as b -> 0 is the Barenblatt-like profile
**     mu(x) = (lambda/(2 tau)) (R^2 - x^2)_+,   R^3 = 3 tau/(2 lambda),
** in 1-D, of second moment R^2/5.  At the particles' steady state,
**     lambda sum_i x_i^2 / m = tau/2 (1/m^2) sum_ij (x_i - x_j)^2 / s^2 G_s(x_i - x_j)
** (velocities 0, times x_i, summed and symmetrized; G_s the Gaussian of
** variance s^2 = 2 b^2), exactly.  Smoothing shifts the second moment by
** O(s^2) (K_b * K_b * mu, not mu, is the parabola on the support): the
** error must fall about 4x when b halves; we ask for 2.5x. */
static int zero_phi(const double *in, const double *dir, double *out, double *ws) {
  (void)in, (void)dir, (void)ws;
  out[0] = 0;
  return 0;
}
static int zero_dphi(const double *in, const double *dir, double *out, double *ws) {
  (void)in, (void)dir, (void)ws;
  out[0] = out[1] = 0;
  return 0;
}

static double pm_steady(double b, double *virial, double *support) {
  double x0[1] = { 0 }, y0[1] = { 0 }, lambda = 1, tau = 2.0 / 3;   /* R = 1 */
  long m = 200;
  mf_problem P = { .p = 1, .d = 1, .n = 1, .x = x0, .y = y0, .lambda = lambda,
                   .unit = { MF_GENERIC, -1, -1, -1, -1, 1, 0 }, .phi = { zero_phi, 0 }, .dphi = { zero_dphi, 0 },
                   .threads = 2 };
  mf_pm pm;
  ck_assert_int_eq(mf_pm_init(&pm, tau, b, m, 1, 2), 0);
  P.term = mf_pm_term, P.term_ctx = &pm;
  mf_ws *w = mf_ws_alloc(&P, m);
  double xi[200], v[200];
  for (long i = 0; i < m; i++) xi[i] = -0.5 + (i + 0.5) / (double)m;
  /* explicit Euler: the stiffest collective mode is ~ tau mu max|G_s''| *
  ** (width of G_s) ~ tau mu_max / s^2 (mu_max = 3/4; ~25 at b = 0.1, ~100
  ** at b = 0.05; the self term tau G_s''(0)/m is smaller): h = s^2/(2 tau)
  ** is within Euler's bound 2/that; t = 10 (the confinement contracts at
  ** rate lambda = 1) */
  double h = b * b / tau;
  long steps = (long)ceil(10 / h);
  char msg[256];
  mf_stats st;
  for (long s = 0; s < steps; s++) {
    ck_assert_msg(mf_eval(w, xi, v, &st, msg, sizeof msg) == 0, "%s", msg);
    mf_step_euler(w, xi, h, v);
  }
  double m2 = 0, rhs = 0, s2 = 2 * b * b, top = 0;
  for (long i = 0; i < m; i++) {
    m2 += xi[i] * xi[i] / (double)m;
    top = fmax(top, fabs(xi[i]));
    for (long j = 0; j < m; j++) {
      double r = xi[i] - xi[j];
      rhs += r * r / s2 * exp(-r * r / (2 * s2)) / sqrt(2 * M_PI * s2);
    }
  }
  rhs *= 0.5 * tau / ((double)m * m);
  *virial = fabs(lambda * m2 - rhs) / (lambda * m2);
  *support = top;
  mf_ws_free(w);
  mf_pm_free(&pm);
  return m2;
}

START_TEST(test_pm_barenblatt) {
  double vir1, vir2, top1, top2;
  double m1 = pm_steady(0.1, &vir1, &top1), m2 = pm_steady(0.05, &vir2, &top2);
  double e1 = fabs(m1 - 0.2), e2 = fabs(m2 - 0.2);
  report("porous medium steady state: M2 %g (b 0.1), %g (b 0.05), Barenblatt 0.2; virial %g %g; max |x| %g %g", m1,
         m2, vir1, vir2, top1, top2);
  /* the steady state is reached to e^-10 of the start's distance (~0.1) */
  ck_assert_msg(vir1 < 1e-3 && vir2 < 1e-3, "not at a steady state: virial off by %g, %g", vir1, vir2);
  ck_assert_msg(e2 < e1 / 2.5, "second moment errors %g (b = 0.1) and %g (b = 0.05) do not fall as b^2", e1, e2);
  ck_assert_msg(e2 < 0.02, "second moment %g far from the Barenblatt 0.2", m2);
  /* compact support of radius R = 1: the outermost of m = 200 neurons sits
  ** where the profile leaves mass 1/(2m) outside, (3/4) d^2 = 1/400, d ~ 0.06
  ** inside R, and smoothing over s ~ 0.07 pulls it in further; it moves out
  ** as b shrinks */
  ck_assert_msg(top2 > 0.85 && top2 < 1 && top1 < top2, "support %g (b = 0.1), %g (b = 0.05); Barenblatt radius 1", top1,
                top2);
}
END_TEST

/* The entropy estimate at the quantiles x_i = Phi^-1((i - 1/2)/m) of N(0, 1)
** (no sampling noise).  There the kernel sum over all neurons,
** (1/m) sum_j K_b(x_i - x_j), is a quadrature of rho_b = K_b * rho =
** N(0, 1 + b^2) at x_i (spacing <= b/3 inside |x| < 2.4, relative error
** ~1e-5, larger in the sparse tails, which weigh ~1/m), and the estimate
** leaves the neuron's own term out:
**     Ent_b ~ (1/m) sum_i log((m rho_b(x_i) - K_b(0))/(m - 1))
** up to ~1e-4.  Without the correction (1/m) sum_i log rho_b(x_i) is a
** quadrature of the cross entropy int rho log rho_b = -log(2 pi (1 + b^2))/2
** - 1/(2 (1 + b^2)), below the entropy -log(2 pi e)/2 by O(b^4) here (the
** smoothing bias of docs/meanfield.md). */
START_TEST(test_entropy_estimate) {
  long m = 2000;
  double *x = malloc(sizeof(double) * m), b = 0.3, ent, bused, quad = 0;
  for (long i = 0; i < m; i++) x[i] = gsl_cdf_ugaussian_Pinv((i + 0.5) / (double)m);
  char msg[128];
  ck_assert_int_eq(mf_entropy(m, 1, x, b, 2, &ent, &bused, msg, sizeof msg), 0);
  ck_assert_double_eq(bused, b);
  double v = 1 + b * b, k0 = 1 / (b * sqrt(2 * M_PI)), pred = 0;
  for (long i = 0; i < m; i++) {
    double lrb = -x[i] * x[i] / (2 * v) - 0.5 * log(2 * M_PI * v);
    quad += lrb / (double)m;
    pred += log((m * exp(lrb) - k0) / (double)(m - 1)) / (double)m;
  }
  double cross = -0.5 * log(2 * M_PI * v) - 0.5 / v;
  report("entropy estimate %.6f, predicted %.6f; quadrature of the cross entropy %.6f, cross entropy %.6f, entropy "
         "%.6f", ent, pred, quad, cross, -0.5 * log(2 * M_PI * M_E));
  ck_assert_double_eq_tol(ent, pred, 2e-4);
  ck_assert_double_eq_tol(quad, cross, 1e-3);   /* the quantile rule drops the tails beyond 3.5: ~1/m */
  /* Silverman's bandwidth when none is given */
  ck_assert_int_eq(mf_entropy(m, 1, x, 0, 2, &ent, &bused, msg, sizeof msg), 0);
  ck_assert_double_eq_tol(bused, pow(4.0 / (3.0 * m), 0.2), 0.01);
  free(x);
}
END_TEST

/* The size-weighted mean of the batch velocities over an epoch is the
** full velocity; batch sizes B, ..., B, n mod B; any thread count gives
** the same bits. */
START_TEST(test_batch_mean) {
  static const long Bs[] = { 6, 7, 23 };
  for (int c = 0; c < 3; c++) {
    rs = 3;
    long m = 40, n = 24, B = Bs[c];
    net N = make_net(1, n, m, 0.1, 0);
    mf_pm pm;
    ck_assert_int_eq(mf_pm_init(&pm, 0.3, 0.5, m, N.P.p, 2), 0);
    N.P.term = mf_pm_term, N.P.term_ctx = &pm;
    size_t len = (size_t)m * N.P.p;
    double *full = malloc(sizeof(double) * len), *mean = calloc(len, sizeof(double)), *v = malloc(sizeof(double) * len);
    double *v1 = malloc(sizeof(double) * len);
    mf_ws *w = mf_ws_alloc(&N.P, m);
    mf_stats st;
    char msg[256];
    ck_assert_int_eq(mf_eval(w, N.xi, full, &st, msg, sizeof msg), 0);
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937), *g1 = gsl_rng_alloc(gsl_rng_mt19937);
    mf_batch *mb = mf_batch_new(&N.P, m, B, g);
    mf_problem P1 = N.P;
    P1.threads = 1;
    mf_batch *mb1 = mf_batch_new(&P1, m, B, g1);
    long total = 0, steps = (n + B - 1) / B;
    for (long s = 0; s < steps; s++) {
      long size, size1;
      ck_assert_int_eq(mf_batch_eval(mb, N.xi, v, &st, &size, msg, sizeof msg), 0);
      ck_assert_int_eq(mf_batch_eval(mb1, N.xi, v1, &st, &size1, msg, sizeof msg), 0);
      ck_assert_int_eq(size, s < steps - 1 || n % B == 0 ? B : n % B);
      ck_assert_int_eq(size, size1);
      ck_assert_mem_eq(v, v1, sizeof(double) * len);
      for (size_t q = 0; q < len; q++) mean[q] += (double)size / (double)n * v[q];
      total += size;
    }
    ck_assert_int_eq(total, n);
    double err = 0, vmax = 0, diff = 0;
    for (size_t q = 0; q < len; q++) err = fmax(err, fabs(mean[q] - full[q])), vmax = fmax(vmax, fabs(full[q]));
    /* the next epoch draws another permutation: its first batch differs */
    ck_assert_int_eq(mf_batch_eval(mb, N.xi, v1, &st, NULL, msg, sizeof msg), 0);
    for (size_t q = 0; q < len; q++) diff = fmax(diff, fabs(v1[q] - full[q]));
    report("batch %ld: mean of the batch velocities off by %g (max %g)", B, err, vmax);
    ck_assert_msg(err <= 1e-12 * vmax, "batch %ld: mean off by %g (max %g)", B, err, vmax);
    ck_assert(diff > 1e-6 * vmax);
    mf_batch_free(mb), mf_batch_free(mb1);
    gsl_rng_free(g), gsl_rng_free(g1);
    mf_ws_free(w);
    mf_pm_free(&pm);
    free(full), free(mean), free(v), free(v1);
    free_net(&N);
  }
}
END_TEST

/* ---------------------------------------------------- through the language */

/* loss = L with L(f, y) = (f - y)^2/2 is the square loss bit for bit: its
** derivative compiles to f - y (the 1/2 and the 2 are exact), and the risk
** (1/n) sum (r^2/2) equals (sum r^2)/(2n) (halving is exact).  And batch
** B >= n is full-batch gradient descent, the same bytes too. */
START_TEST(test_user_square_same_bits) {
  env e[3];
  char *mon[3], *neu[3];
  for (int c = 0; c < 3; c++) {   /* one flow name: the start's stream depends on it */
    char text[1024];
    snprintf(text, sizeof text,
             "param X[30] = uniform(-1, 1)\n"
             "function g(z) = z^2 - 0.3\n"
             "function half(f, y) = (f - y)^2/2\n"
             "neuron phi(xi[3]; z) = xi[1]*tanh(xi[2]*z + xi[3])\n"
             "flow net = meanfield(phi, X, width = 50, reg = 1e-2, target = g%s)\n"
             "run net from normal(0, 1) lr 5 steps 50 every 5 snapshots [50]%s -> \"a.csv\"\n",
             c == 1 ? ", loss = half" : "", c == 2 ? " batch 30" : "");
    env_open(&e[c], "mfl");
    load_ok(&e[c], text);
    mon[c] = env_file_bytes(&e[c], "a_monitor.csv", NULL);
    neu[c] = env_file_bytes(&e[c], "a.csv", NULL);
  }
  /* the comment lines hold the script: compare from the first data row */
  ck_assert_ptr_nonnull(strstr(mon[0], "\n0,"));
  ck_assert_str_eq(strstr(mon[0], "\n0,"), strstr(mon[1], "\n0,"));
  ck_assert_ptr_nonnull(strstr(neu[0], "\n5,"));
  ck_assert_str_eq(strstr(neu[0], "\n5,"), strstr(neu[1], "\n5,"));
  /* a batch of all the data is full-batch descent, the same bytes */
  ck_assert_str_eq(strstr(mon[0], "\n0,"), strstr(mon[2], "\n0,"));
  ck_assert_str_eq(strstr(neu[0], "\n5,"), strstr(neu[2], "\n5,"));
  for (int c = 0; c < 3; c++) free(mon[c]), free(neu[c]), env_close(&e[c]);
}
END_TEST

/* Logistic loss on separable data (y = sign(x)) reaches a small loss; the
** monitored risk is the mean logistic loss. */
START_TEST(test_logistic_separable) {
  env e;
  env_open(&e, "mfg");
  load_ok(&e, "param X[40] = uniform(-1, 1)\n"
              "function sgn(z) = sign(z)\n"
              "neuron phi(a, w, b; z) = a*tanh(w*z + b)\n"
              "flow c = meanfield(phi, X, width = 100, loss = logistic, target = sgn)\n"
              "run c from normal(0, 1) lr 50 steps 500 every 50 -> \"c.csv\"\n");
  csv c = read_csv(&e, "c_monitor.csv");
  double r0 = at(&c, 0, 2), r1 = at(&c, c.rows - 1, 2);
  report("logistic: risk %g -> %g", r0, r1);
  /* from log 2 (f ~ 0) to below 0.02: y f > 3.9 at every point on average */
  ck_assert_msg(r1 < 0.02 && r0 > 0.6, "logistic risk %g -> %g", r0, r1);
  for (int i = 1; i < c.rows; i++) ck_assert(at(&c, i, 3) <= at(&c, i - 1, 3));
  free(c.d);
  env_close(&e);
}
END_TEST

/* Mini-batch SGD approaches the flow as the step shrinks: its distance to
** the flow at t = 0.5 is O(sqrt(h)) (the batch noise) + O(h) (Euler), so a
** step 4x smaller should shrink it ~2x; we ask for 1.4x both times.  The
** reference is RK4 at h = 0.003125 (error ~1e-9). */
static double max_diff(const csv *a, const csv *b) {
  double e = 0;
  ck_assert_int_eq(a->rows, b->rows);
  for (int i = 0; i < a->rows; i++)
    for (int j = 3; j < a->cols; j++) e = fmax(e, fabs(at(a, i, j) - at(b, i, j)));
  return e;
}

START_TEST(test_sgd_approaches_flow) {
  env e;
  env_open(&e, "mfs");
  load_ok(&e, "param X[32] = uniform(-1, 1)\n"
              "function g(z) = z^2 - 0.3\n"
              "neuron phi(xi[3]; z) = xi[1]*tanh(xi[2]*z + xi[3])\n"
              "flow net = meanfield(phi, X, width = 40, reg = 1e-2, target = g)\n"
              "run net from normal(0, 1) method rk4 h 0.003125 steps 160 snapshots [160] -> \"ref.csv\"\n"
              "run net from normal(0, 1) lr 40*0.05 steps 10 batch 8 snapshots [10] -> \"s1.csv\"\n"
              "run net from normal(0, 1) lr 40*0.0125 steps 40 batch 8 snapshots [40] -> \"s2.csv\"\n"
              "run net from normal(0, 1) lr 40*0.003125 steps 160 batch 8 snapshots [160] -> \"s3.csv\"\n");
  setenv("HNN_THREADS", "1", 1);   /* the same run on one thread */
  load_ok(&e, "param X[32] = uniform(-1, 1)\n"
              "function g(z) = z^2 - 0.3\n"
              "neuron phi(xi[3]; z) = xi[1]*tanh(xi[2]*z + xi[3])\n"
              "flow net = meanfield(phi, X, width = 40, reg = 1e-2, target = g)\n"
              "run net from normal(0, 1) lr 40*0.003125 steps 160 batch 8 snapshots [160] -> \"s4.csv\"\n");
  unsetenv("HNN_THREADS");
  csv ref = read_csv(&e, "ref.csv"), s[3];
  const char *names[3] = { "s1.csv", "s2.csv", "s3.csv" };
  double err[3];
  for (int k = 0; k < 3; k++) s[k] = read_csv(&e, names[k]), err[k] = max_diff(&s[k], &ref);
  report("SGD (batch 8 of 32) vs the flow at t = 0.5: %g %g %g", err[0], err[1], err[2]);
  ck_assert_msg(err[1] < err[0] / 1.4 && err[2] < err[1] / 1.4, "SGD errors %g %g %g", err[0], err[1], err[2]);
  char *a = env_file_bytes(&e, "s3.csv", NULL), *b = env_file_bytes(&e, "s4.csv", NULL);
  ck_assert_ptr_nonnull(strstr(a, "\n0.5,"));
  ck_assert_str_eq(strstr(a, "\n0.5,"), strstr(b, "\n0.5,"));   /* same seed, same bytes, 1 or 2 threads */
  free(a), free(b);
  for (int k = 0; k < 3; k++) free(s[k].d);
  free(ref.d);
  env_close(&e);
}
END_TEST

/* With T > 0 the monitored energy is risk + lambda/2 mean |xi|^2 + T Ent_b,
** recomputed here from the neurons the run wrote at the same step. */
START_TEST(test_heat_energy_monitor) {
  env e;
  env_open(&e, "mft");
  load_ok(&e, "param D[4, 2] = [[0, 1], [1, 2], [2, 0.5], [3, 0.7]]\n"
              "neuron one(xi[2]; z) = xi[1] + 0*xi[2]*z\n"
              "flow heat = meanfield(one, D, width = 300, reg = 1, T = 0.5, blob = 0.2)\n"
              "run heat from normal(0, 1) h 0.01 steps 100 every 100 snapshots [100] -> \"h.csv\"\n");
  csv mon = read_csv(&e, "h_monitor.csv"), neu = read_csv(&e, "h.csv");
  ck_assert_int_eq(neu.rows, 300);
  double *xi = malloc(sizeof(double) * 600), sq = 0, ent;
  for (int i = 0; i < 300; i++)
    for (int q = 0; q < 2; q++) xi[2 * i + q] = at(&neu, i, 3 + q), sq += xi[2 * i + q] * xi[2 * i + q];
  char msg[128];
  ck_assert_int_eq(mf_entropy(300, 2, xi, 0.2, 0, &ent, NULL, msg, sizeof msg), 0);
  double want = at(&mon, 1, 2) + 0.5 * sq / 300 + 0.5 * ent;
  report("heat monitor: energy %.17g, recomputed %.17g (entropy estimate %g)", at(&mon, 1, 3), want, ent);
  /* the CSV's 17 digits and three additions in another order */
  ck_assert_double_eq_tol(at(&mon, 1, 3), want, 1e-13 * (1 + fabs(want)));
  free(xi), free(mon.d), free(neu.d);
  env_close(&e);
}
END_TEST

/* pm and blob through the language: the monitored energy (with the term)
** never rises along RK4, and the run is the same for 1 and 2 threads. */
START_TEST(test_pm_script) {
  env e;
  env_open(&e, "mfp");
  const char *text = "param X[30] = uniform(-1, 1)\n"
                     "function g(z) = z^2 - 0.3\n"
                     "neuron phi(xi[3]; z) = xi[1]*tanh(xi[2]*z + xi[3])\n"
                     "flow net = meanfield(phi, X, width = 64, reg = 1e-2, target = g, pm = 0.05, blob = 0.3)\n"
                     "run net from normal(0, 1) method rk4 h 0.05 steps 100 every 10 snapshots [100] -> \"p%d.csv\"\n";
  char buf[1024];
  for (int t = 1; t <= 2; t++) {
    setenv("HNN_THREADS", t == 1 ? "1" : "2", 1);
    snprintf(buf, sizeof buf, text, t);
    load_ok(&e, buf);
  }
  unsetenv("HNN_THREADS");
  csv mon = read_csv(&e, "p1_monitor.csv");
  for (int i = 1; i < mon.rows; i++) ck_assert(at(&mon, i, 3) <= at(&mon, i - 1, 3));
  char *a = env_file_bytes(&e, "p1.csv", NULL), *b = env_file_bytes(&e, "p2.csv", NULL);
  ck_assert_ptr_nonnull(strstr(a, "\n5,"));
  ck_assert_str_eq(strstr(a, "\n5,"), strstr(b, "\n5,"));
  free(a), free(b), free(mon.d);
  env_close(&e);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("mfreg");
  TCase *t = tcase_create("mfreg");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, test_velocity_fd_losses);
  tcase_add_test(t, test_pm_is_blob_power);
  tcase_add_test(t, test_logistic_values);
  tcase_add_test(t, test_pm_dissipation);
  tcase_add_test(t, test_pm_barenblatt);
  tcase_add_test(t, test_entropy_estimate);
  tcase_add_test(t, test_batch_mean);
  tcase_add_test(t, test_user_square_same_bits);
  tcase_add_test(t, test_logistic_separable);
  tcase_add_test(t, test_sgd_approaches_flow);
  tcase_add_test(t, test_heat_energy_monitor);
  tcase_add_test(t, test_pm_script);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return check_run(suite()); }
