/*
** check_hidden.c — the Hopfield network with hidden units (runtime/hidden.c,
** lang/flows/kind_hidden.c) against closed forms and finite differences:
**
**   - quadratic L_h = h'Ah/2 makes q_E(h|v) Gaussian, N(U'g(v), T A^-1):
**     relaxed samples match its mean and covariance (full A: Cholesky noise);
**   - a non-quadratic separable L_h (K = 1/L_h'' varies): the relaxed samples
**     match the moments of exp(-E(v, h)/T) computed by quadrature, which
**     fails without the drift correction T div K;
**   - the conditional free energy -T ln Z_E(v) against its closed form;
**   - the drift -K grad E + T div K and K = H^-1 against finite differences
**     of E and of the compiled K (separable and full Lagrangians);
**   - the joint dynamics with quadratic Lagrangians (Thm 16) samples the
**     Gaussian exp(-E/T); at T = 0 a run is explicit Euler on Def. 15's
**     field (checked row by row) and E decreases (a Lyapunov function);
**   - Recall-and-Learn: the free energy decreases every round, the stored
**     patterns are recalled from corrupted cues, and the output is the same
**     bytes for 1 and 2 threads.
*/
#include <check.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hidden.h"
#include "hnn.h"
#include "kind_hidden.h"
#include "rng.h"

typedef struct {
  hnn_state *S;
  char dir[64];
  hid_net net;
  double *U, *I;
} env;

/* Load a script declaring Lv, Lh and `flow net`, and compile the Lagrangians
** for U (nv x nh, copied) and I. */
static void env_open(env *e, const char *script, int nv, int nh, const double *U, const double *I) {
  memset(e, 0, sizeof *e);
  strcpy(e->dir, "/tmp/hnn-hidden-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(e->dir));
  e->S = hnn_open();
  ck_assert_ptr_nonnull(e->S);
  ck_assert_int_eq(hnn_set_output_dir(e->S, e->dir), HNN_OK);
  int st = hnn_load_string(e->S, script, "t.hnn");
  ck_assert_msg(st == HNN_OK, "script failed: %s", hnn_error(e->S));
  e->U = malloc(sizeof(double) * (size_t)nv * nh);
  e->I = calloc((size_t)nv, sizeof(double));
  if (U) memcpy(e->U, U, sizeof(double) * (size_t)nv * nh);
  if (I) memcpy(e->I, I, sizeof(double) * (size_t)nv);
  e->net.nv = nv, e->net.nh = nh, e->net.U = e->U, e->net.I = e->I;
  sym *flow = state_lookup(e->S, "net");
  ck_assert_ptr_nonnull(flow);
  ck_assert_int_eq(hidden_compile_lagrangians(e->S, flow, &e->net), 0);
}

static void env_close(env *e) {
  hnn_close(e->S);
  free(e->U);
  free(e->I);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", e->dir);
}

/* N chains of h given v, relaxed for `steps` EM steps of dt from h = 0;
** samples into hs (N x nh). */
static void relax(env *e, const double *v, int N, long steps, double dt, double *hs) {
  hid_net *net = &e->net;
  int nv = net->nv, nh = net->nh;
  hid_ws *w = hid_ws_alloc(net);
  gsl_rng *r = rng_stream(7, RNG_BLOCK, 0);
  double *x = malloc(sizeof(double) * (size_t)(nv + nh));
  int bad = 0;   /* asserted once: each ck_assert writes to Check's pipe */
  for (int i = 0; i < N; i++) {
    memcpy(x, v, sizeof(double) * (size_t)nv);
    for (int j = 0; j < nh; j++) x[nv + j] = 0;
    for (long t = 0; t < steps; t++) bad |= hid_step(net, x, 1, dt, r, w) != HID_OK;
    memcpy(hs + (size_t)i * nh, x + nv, sizeof(double) * (size_t)nh);
  }
  ck_assert_int_eq(bad, 0);
  free(x);
  gsl_rng_free(r);
  hid_ws_free(w);
}

static const char *script_quadratic =
  "objective Lv(v[3]) = sum(abs(v) + log1p(exp(-2*abs(v))) - log(2))\n"
  "objective Lh(h[2]) = 0.5*(2*h[1]^2 + 1.2*h[1]*h[2] + h[2]^2)\n"
  "param W[3,2] = [[0.5, -0.3], [0.2, 0.4], [-0.6, 0.1]]\n"
  "flow net = hidden_hopfield(Lv, Lh, U = W, T = 0.5)\n";
static const double W3x2[6] = { 0.5, -0.3, 0.2, 0.4, -0.6, 0.1 };

/* q_E(h|v) = N(b, T A^-1), b = U' tanh(v), for L_h = h'Ah/2. */
START_TEST(test_gaussian_conditional) {
  env e;
  env_open(&e, script_quadratic, 3, 2, W3x2, NULL);
  ck_assert(!e.net.Lh.diagonal);
  ck_assert(e.net.Lv.diagonal);
  e.net.T = 0.5;
  double v[3] = { 0.8, -0.4, 1.5 }, b[2] = { 0, 0 };
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++) b[j] += W3x2[i * 2 + j] * tanh(v[i]);
  /* A = [[2, .6], [.6, 1]], det 1.64; T A^-1 scaled by the EM factor: the
  ** drift is b - h (rate 1 in every direction), so EM's stationary
  ** covariance is exactly 2/(2 - dt) times the continuous one */
  const int N = 8000;
  const double dt = 0.02, T = 0.5, det = 1.64, em = 2 / (2 - dt);
  double S[2][2] = { { T * 1 / det * em, -T * 0.6 / det * em }, { -T * 0.6 / det * em, T * 2 / det * em } };
  double *hs = malloc(sizeof(double) * N * 2);
  relax(&e, v, N, 500, dt, hs);   /* t = 10: the start's offset decays to e^-10 |b| < 1e-4 */
  double m[2] = { 0, 0 }, C[2][2] = { { 0, 0 }, { 0, 0 } };
  for (int i = 0; i < N; i++)
    for (int j = 0; j < 2; j++) m[j] += hs[i * 2 + j] / N;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < 2; j++)
      for (int k = 0; k < 2; k++) C[j][k] += (hs[i * 2 + j] - m[j]) * (hs[i * 2 + k] - m[k]) / (N - 1);
  /* independent chains: the mean's standard error is sqrt(S_jj/N), a
  ** covariance entry's sqrt((S_jj S_kk + S_jk^2)/N); 5 of them */
  for (int j = 0; j < 2; j++) {
    ck_assert_msg(fabs(m[j] - b[j]) < 5 * sqrt(S[j][j] / N), "mean %d: %g vs %g", j, m[j], b[j]);
    for (int k = 0; k < 2; k++) {
      double se = sqrt((S[j][j] * S[k][k] + S[j][k] * S[j][k]) / N);
      ck_assert_msg(fabs(C[j][k] - S[j][k]) < 5 * se, "cov %d%d: %g vs %g", j, k, C[j][k], S[j][k]);
    }
  }
  free(hs);
  env_close(&e);
}
END_TEST

/* The joint dynamics (Thm 16: linear f, g) with Lv = |v|^2/2, Lh = |h|^2/2:
** exp(-E/T) is Gaussian with precision [[1, -U], [-U', 1]]/T and mean
** solving v = U h + I, h = U' v. */
START_TEST(test_joint_gaussian) {
  const char *script =
    "objective Lv(v[2]) = 0.5*dot(v, v)\n"
    "objective Lh(h[2]) = 0.5*dot(h, h)\n"
    "param W[2,2] = 0\n"
    "flow net = hidden_hopfield(Lv, Lh, U = W, T = 0.4)\n";
  const double U[4] = { 0.4, -0.2, 0.1, 0.3 }, I[2] = { 0.5, -0.3 };
  env e;
  env_open(&e, script, 2, 2, U, I);
  e.net.T = 0.4;
  /* covariance T Q^-1 and mean Q^-1 (I, 0) for Q = [[1, -U], [-U', 1]] */
  gsl_matrix *Q = gsl_matrix_alloc(4, 4), *Qi = gsl_matrix_alloc(4, 4);
  gsl_permutation *perm = gsl_permutation_alloc(4);
  gsl_matrix_set_identity(Q);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) {
      gsl_matrix_set(Q, i, 2 + j, -U[i * 2 + j]);
      gsl_matrix_set(Q, 2 + j, i, -U[i * 2 + j]);
    }
  int sg;
  gsl_linalg_LU_decomp(Q, perm, &sg);
  gsl_linalg_LU_invert(Q, perm, Qi);
  double mean[4], cov[4][4];
  for (int a = 0; a < 4; a++) {
    mean[a] = gsl_matrix_get(Qi, a, 0) * I[0] + gsl_matrix_get(Qi, a, 1) * I[1];
    for (int b = 0; b < 4; b++) cov[a][b] = e.net.T * gsl_matrix_get(Qi, a, b);
  }
  const int N = 6000;
  const double dt = 0.01;
  hid_ws *w = hid_ws_alloc(&e.net);
  gsl_rng *r = rng_stream(11, RNG_BLOCK, 0);
  double *xs = malloc(sizeof(double) * N * 4), x[4];
  int bad = 0;
  for (int i = 0; i < N; i++) {
    memset(x, 0, sizeof x);
    for (int t = 0; t < 1500; t++) bad |= hid_step(&e.net, x, 0, dt, r, w) != HID_OK;
    memcpy(xs + i * 4, x, sizeof x);
  }
  ck_assert_int_eq(bad, 0);
  /* the slowest mode decays at rate 1 - |U|_2 > 0.5: t = 15 leaves < 1e-3 of
  ** the start; tolerances 5 standard errors plus EM's O(dt) bias */
  for (int a = 0; a < 4; a++) {
    double m = 0, v = 0;
    for (int i = 0; i < N; i++) m += xs[i * 4 + a] / N;
    for (int i = 0; i < N; i++) v += (xs[i * 4 + a] - m) * (xs[i * 4 + a] - m) / (N - 1);
    ck_assert_msg(fabs(m - mean[a]) < 5 * sqrt(cov[a][a] / N) + 1e-3, "x%d: mean %g vs %g", a, m, mean[a]);
    ck_assert_msg(fabs(v - cov[a][a]) < cov[a][a] * (5 * sqrt(2.0 / N) + 2 * dt), "x%d: var %g vs %g", a, v, cov[a][a]);
  }
  free(xs);
  gsl_rng_free(r);
  hid_ws_free(w);
  gsl_permutation_free(perm);
  gsl_matrix_free(Q);
  gsl_matrix_free(Qi);
  env_close(&e);
}
END_TEST

/* ------------------------------------------ non-quadratic separable L_h */

static const char *script_soft =
  "objective Lv(v[2]) = sum(abs(v) + log1p(exp(-2*abs(v))) - log(2))\n"
  "objective Lh(h[2]) = sum(0.5*h^2 + abs(2*h) + log1p(exp(-2*abs(2*h))) - log(2))\n"
  "param W[2,2] = [[0.8, -0.5], [0.3, 0.9]]\n"
  "flow net = hidden_hopfield(Lv, Lh, U = W, T = 0.5)\n";
static const double W2x2[4] = { 0.8, -0.5, 0.3, 0.9 };

typedef struct {
  double b, T;
  int power;
} moment_ctx;

/* h^k exp(-phi(h)/T), phi = h f(h) - l(h) - b f(h), l = h^2/2 + log cosh 2h */
static double moment_fn(double h, void *p) {
  moment_ctx *c = p;
  double a = fabs(2 * h), f = h + 2 * tanh(2 * h), l = 0.5 * h * h + a + log1p(exp(-2 * a)) - log(2);
  return pow(h, c->power) * exp(-((h - c->b) * f - l) / c->T);
}

START_TEST(test_divergence_term_gives_gibbs_law) {
  env e;
  env_open(&e, script_soft, 2, 2, W2x2, NULL);
  ck_assert(e.net.Lh.diagonal);
  e.net.T = 0.5;
  double v[2] = { 0.7, -1.2 }, b[2] = { 0, 0 };
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) b[j] += W2x2[i * 2 + j] * tanh(v[i]);
  const int N = 8000;
  double *hs = malloc(sizeof(double) * N * 2);
  relax(&e, v, N, 1000, 0.005, hs);
  gsl_integration_workspace *W = gsl_integration_workspace_alloc(200);
  for (int j = 0; j < 2; j++) {
    double mom[3];
    for (int k = 0; k < 3; k++) {
      moment_ctx c = { b[j], 0.5, k };
      gsl_function F = { moment_fn, &c };
      double err;
      ck_assert_int_eq(gsl_integration_qagi(&F, 0, 1e-9, 200, W, &mom[k], &err), 0);
    }
    double mean = mom[1] / mom[0], var = mom[2] / mom[0] - mean * mean;
    double sm = 0, sv = 0;
    for (int i = 0; i < N; i++) sm += hs[i * 2 + j] / N;
    for (int i = 0; i < N; i++) sv += (hs[i * 2 + j] - sm) * (hs[i * 2 + j] - sm) / (N - 1);
    /* standard errors sqrt(var/N) and ~var sqrt(2/N) (5 of each), plus the
    ** EM bias O(dt) = 0.005 of the variance; without T div K the drift
    ** misses T d(1/l'')/dh, and the law's variance is off by ~30% here */
    ck_assert_msg(fabs(sm - mean) < 5 * sqrt(var / N), "unit %d: mean %g vs %g", j, sm, mean);
    ck_assert_msg(fabs(sv - var) < 5 * var * sqrt(2.0 / N) + 0.005 * var, "unit %d: var %g vs %g", j, sv, var);
  }
  gsl_integration_workspace_free(W);
  free(hs);
  env_close(&e);
}
END_TEST

/* -T ln Z_E(v) = E_v(v) - |b|^2/2 - (nh T/2) ln(2 pi T) for L_h = |h|^2/2. */
START_TEST(test_free_energy_closed_form) {
  const char *script =
    "objective Lv(v[3]) = sum(abs(v) + log1p(exp(-2*abs(v))) - log(2))\n"
    "objective Lh(h[2]) = 0.5*dot(h, h)\n"
    "param W[3,2] = 0\n"
    "flow net = hidden_hopfield(Lv, Lh, U = W, T = 0.3)\n";
  double I[3] = { 0.1, -0.2, 0.3 };
  env e;
  env_open(&e, script, 3, 2, W3x2, I);
  hid_ws *w = hid_ws_alloc(&e.net);
  for (int k = 0; k < 2; k++) {
    e.net.T = k ? 0.02 : 0.3;
    double v[3] = { 0.8, -0.4, 1.5 }, b[2] = { 0, 0 }, ev = 0;
    for (int i = 0; i < 3; i++) {
      ev += (v[i] - I[i]) * tanh(v[i]) - log(cosh(v[i]));
      for (int j = 0; j < 2; j++) b[j] += W3x2[i * 2 + j] * tanh(v[i]);
    }
    double exact = ev - 0.5 * (b[0] * b[0] + b[1] * b[1]) - e.net.T * log(2 * M_PI * e.net.T);
    double center[2] = { b[0] + 0.3, b[1] - 0.2 }, F = NAN;   /* off the mode on purpose */
    ck_assert_int_eq(hid_free_energy(&e.net, v, center, &F, w), HID_OK);
    /* QAGI at relative 1e-10 per integral */
    ck_assert_msg(fabs(F - exact) < 1e-8 * (1 + fabs(exact)), "T %g: F %.17g vs %.17g", e.net.T, F, exact);
  }
  hid_ws_free(w);
  env_close(&e);
}
END_TEST

/* --------------------------------------------------------- drift by FD */

static void check_drift_fd(const char *script, int nv, int nh, const double *U, int full_v, int full_h) {
  env e;
  double I[3] = { 0.2, -0.1, 0.05 };
  env_open(&e, script, nv, nh, U, I);
  ck_assert_int_eq(e.net.Lv.diagonal, !full_v);
  ck_assert_int_eq(e.net.Lh.diagonal, !full_h);
  e.net.T = 0.7;
  int n = nv + nh;
  hid_ws *w = hid_ws_alloc(&e.net);
  double x[8] = { 0.3, -0.2, 0.5, 0.4, -0.6, 0.25, 0, 0 }, gE[8], K[8][8], dK[8], drift[8], xp[8];
  ck_assert_int_le(n, 8);
  const double eps = 1e-4;
  /* grad E by central differences */
  for (int a = 0; a < n; a++) {
    double Ep, Em;
    memcpy(xp, x, sizeof xp);
    xp[a] = x[a] + eps;
    ck_assert_int_eq(hid_energy(&e.net, xp, &Ep, w), HID_OK);
    xp[a] = x[a] - eps;
    ck_assert_int_eq(hid_energy(&e.net, xp, &Em, w), HID_OK);
    gE[a] = (Ep - Em) / (2 * eps);
  }
  /* K = blockdiag(H_v^-1, H_h^-1) from the compiled callbacks, and its
  ** divergence by central differences of those K */
  const hid_lagr *L[2] = { &e.net.Lv, &e.net.Lh };
  int off[2] = { 0, nv };
  memset(K, 0, sizeof K);
  memset(dK, 0, sizeof dK);
  for (int blk = 0; blk < 2; blk++) {
    int m = L[blk]->n;
    double *out = malloc(sizeof(double) * (size_t)(m * m + m)), *op = malloc(sizeof(double) * (size_t)(m * m + m));
    double *om = malloc(sizeof(double) * (size_t)(m * m + m)), *ws = malloc(sizeof(double) * (L[blk]->geom.nwork + 1));
    double y[8];
    memcpy(y, x + off[blk], sizeof(double) * (size_t)m);
#define KAT(o, i, j) (L[blk]->diagonal ? ((i) == (j) ? (o)[i] : 0.0) : (o)[(i) * m + (j)])
    ck_assert_int_eq(L[blk]->geom.fn(y, NULL, out, ws), 0);
    for (int i = 0; i < m; i++)
      for (int j = 0; j < m; j++) K[off[blk] + i][off[blk] + j] = KAT(out, i, j);
    for (int j = 0; j < m; j++) {
      double s = y[j];
      y[j] = s + eps;
      ck_assert_int_eq(L[blk]->geom.fn(y, NULL, op, ws), 0);
      y[j] = s - eps;
      ck_assert_int_eq(L[blk]->geom.fn(y, NULL, om, ws), 0);
      y[j] = s;
      for (int i = 0; i < m; i++) dK[off[blk] + i] += (KAT(op, i, j) - KAT(om, i, j)) / (2 * eps);
    }
    /* the compiled div K is the same sum */
    const double *dc = out + (L[blk]->diagonal ? m : m * m);
    for (int i = 0; i < m; i++)
      ck_assert_msg(fabs(dc[i] - dK[off[blk] + i]) < 1e-6 * (1 + fabs(dK[off[blk] + i])), "div K %d: %g vs %g", i,
                    dc[i], dK[off[blk] + i]);
    /* K H = 1 with H by central differences of grad L */
    double *g1 = malloc(sizeof(double) * (size_t)(m + 1)), *g2 = malloc(sizeof(double) * (size_t)(m + 1));
    double *wl = malloc(sizeof(double) * (L[blk]->lg.nwork + 1));
    for (int j = 0; j < m; j++) {
      double s = y[j];
      y[j] = s + eps;
      ck_assert_int_eq(L[blk]->lg.fn(y, NULL, g1, wl), 0);
      y[j] = s - eps;
      ck_assert_int_eq(L[blk]->lg.fn(y, NULL, g2, wl), 0);
      y[j] = s;
      /* column j of H; (K H)_ij must be delta_ij */
      for (int i = 0; i < m; i++) {
        double kh = 0;
        for (int l = 0; l < m; l++) kh += KAT(out, i, l) * (g1[1 + l] - g2[1 + l]) / (2 * eps);
        ck_assert_msg(fabs(kh - (i == j)) < 1e-6, "(K H)_%d%d = %g", i, j, kh);
      }
    }
#undef KAT
    free(g1);
    free(g2);
    free(wl);
    free(out);
    free(op);
    free(om);
    free(ws);
  }
  ck_assert_int_eq(hid_drift(&e.net, x, 0, drift, w), HID_OK);
  /* central differences: error ~eps^2 |third derivatives| ~ 1e-8, roundoff
  ** ~1e-16/eps = 1e-12; 1e-6 leaves room and still catches a wrong sign */
  for (int a = 0; a < n; a++) {
    double ref = e.net.T * dK[a];
    for (int b = 0; b < n; b++) ref -= K[a][b] * gE[b];
    ck_assert_msg(fabs(drift[a] - ref) < 1e-6 * (1 + fabs(ref)), "drift %d: %.12g vs FD %.12g", a, drift[a], ref);
  }
  hid_ws_free(w);
  env_close(&e);
}

START_TEST(test_drift_finite_differences_separable) {
  check_drift_fd("objective Lv(v[3]) = sum(abs(v) + log1p(exp(-2*abs(v))) - log(2)) + 0.1*dot(v, v)\n"
                 "objective Lh(h[3]) = sum(0.5*h^2 + abs(2*h) + log1p(exp(-2*abs(2*h))) - log(2))\n"
                 "param W[3,3] = 0\n"
                 "flow net = hidden_hopfield(Lv, Lh, U = W, T = 0.7)\n",
                 3, 3, (const double[]){ 0.5, -0.3, 0.2, 0.4, -0.6, 0.1, 0.3, 0.2, -0.7 }, 0, 0);
}
END_TEST

START_TEST(test_drift_finite_differences_full) {
  check_drift_fd("objective Lv(v[3]) = 0.5*dot(v, v) + 0.3*log(cosh(v[1] + 2*v[2] - v[3])) + 0.1*exp(v[1]*0.5 + v[3])\n"
                 "objective Lh(h[2]) = 0.5*dot(h, h) + 0.4*log(cosh(h[1] - h[2])) + 0.2*exp(0.5*h[1] + 0.3*h[2])\n"
                 "param W[3,2] = 0\n"
                 "flow net = hidden_hopfield(Lv, Lh, U = W, T = 0.7)\n",
                 3, 2, W3x2, 1, 1);
}
END_TEST

/* ------------------------------------------------- trajectory runs */

/* Rows of a CSV the script wrote into dir ('#' lines skipped). */
static int read_rows(const char *dir, const char *name, double *d, int cap, int *cols) {
  char path[256], line[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "no file %s", path);
  int n = 0, rows = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    int c = 0;
    for (char *p = line, *end;; p = end + 1) {
      double v = strtod(p, &end);
      ck_assert(end != p && n < cap);
      d[n++] = v;
      c++;
      if (*end != ',') break;
    }
    *cols = c;
    rows++;
  }
  fclose(f);
  return rows;
}

/* T = 0 with quadratic Lagrangians: the run is explicit Euler on the linear
** field x' = A x + c, A = [[-1, U], [U', -1]], c = (I, 0), so every row is
** (1 + hA)^k x0 + ... exactly up to roundoff; E = x'Qx/2 - c'x decreases. */
START_TEST(test_deterministic_trajectory) {
  const char *script =
    "objective Lv(v[2]) = 0.5*dot(v, v)\n"
    "objective Lh(h[2]) = 0.5*dot(h, h)\n"
    "param W[2,2] = [[0.4, -0.2], [0.1, 0.3]]\n"
    "flow net = hidden_hopfield(Lv, Lh, U = W, I = [0.5, -0.3], T = 0)\n"
    "run net from [1, -1, 0.5, 2] steps 200 every 1 h 0.05 -> \"det.csv\"\n"
    "function logcosh(x[k]) = abs(x) + log1p(exp(-2*abs(x))) - log(2)\n"
    "objective Sv(v[2]) = sum(logcosh(3*v))/3 + 0.05*dot(v, v)\n"
    "objective Sh(h[2]) = sum(logcosh(h)) + 0.05*dot(h, h)\n"
    "param W2[2,2] = [[2, -1], [1.5, 2]]\n"
    "flow nl = hidden_hopfield(Sv, Sh, U = W2, I = 0.2, T = 0)\n"
    "run nl from [0.3, -0.8, 1, -2] steps 400 every 1 h 0.01 -> \"nl.csv\"\n";
  const double U[4] = { 0.4, -0.2, 0.1, 0.3 }, I[2] = { 0.5, -0.3 }, h = 0.05;
  env e;
  env_open(&e, script, 2, 2, U, I);
  static double d[401 * 8];
  int cols = 0, rows = read_rows(e.dir, "det.csv", d, 401 * 8, &cols);
  ck_assert_int_eq(rows, 201);
  ck_assert_int_eq(cols, 7);   /* t, step, v1, v2, h1, h2, E */
  double x[4] = { 1, -1, 0.5, 2 }, worst = 0, prevE = INFINITY;
  for (int k = 0; k < rows; k++) {
    const double *r = d + k * cols;
    ck_assert_double_eq_tol(r[0], k * h, 1e-12);
    for (int a = 0; a < 4; a++) worst = fmax(worst, fabs(r[2 + a] - x[a]));
    double E = 0.5 * (x[0] * x[0] + x[1] * x[1] + x[2] * x[2] + x[3] * x[3]) - I[0] * x[0] - I[1] * x[1];
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 2; j++) E -= x[i] * U[i * 2 + j] * x[2 + j];
    ck_assert_msg(fabs(r[6] - E) < 1e-12, "row %d: E %.17g vs %.17g", k, r[6], E);
    ck_assert_msg(r[6] <= prevE, "E rose at row %d", k);
    prevE = r[6];
    double dx[4];
    for (int i = 0; i < 2; i++) {
      dx[i] = I[i] - x[i];
      dx[2 + i] = -x[2 + i];
      for (int j = 0; j < 2; j++) {
        dx[i] += U[i * 2 + j] * x[2 + j];
        dx[2 + i] += U[j * 2 + i] * x[j];
      }
    }
    for (int a = 0; a < 4; a++) x[a] += h * dx[a];
  }
  /* 200 Euler steps in double: the same operations in another order, ~1e-15 */
  ck_assert_msg(worst < 1e-12, "trajectory off by %g", worst);
  /* nonlinear: E is a Lyapunov function of Def. 15 (dE/dt = -grad E' K grad E) */
  rows = read_rows(e.dir, "nl.csv", d, 401 * 8, &cols);
  ck_assert_int_eq(rows, 401);
  for (int k = 1; k < rows; k++)
    ck_assert_msg(d[k * cols + 6] <= d[(k - 1) * cols + 6], "E rose at row %d: %.17g > %.17g", k, d[k * cols + 6],
                  d[(k - 1) * cols + 6]);
  ck_assert(d[6] - d[400 * cols + 6] > 0.1);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------------ Recall-and-Learn */

static const char *script_rl =
  "param nv = 32\n"
  "param nh = 32\n"
  "param P = 3\n"
  "function logcosh(x[k]) = abs(x) + log1p(exp(-2*abs(x))) - log(2)\n"
  "objective Lv(v[nv]) = sum(logcosh(v))\n"
  "objective Lh(h[nh]) = sum(logcosh(h)) + 0.005*dot(h, h)\n"
  "param W[nv,nh] = normal(0, 0.3)\n"
  "param pats[P,nv] = sign(normal(0, 1))\n"
  "flow net = hidden_hopfield(Lv, Lh, U = W, T = 0.01)\n"
  "run net from pats rounds 30 rate 0.05 samples 16 relax 50 recall 400 h 0.05 corrupt 0.2 -> \"rl.csv\"\n";

static char *slurp(const char *path, long *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "no file %s", path);
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  rewind(f);
  char *s = malloc((size_t)*len + 1);
  ck_assert_int_eq((long)fread(s, 1, (size_t)*len, f), *len);
  s[*len] = 0;
  fclose(f);
  return s;
}

static char *run_rl(const char *threads, long *len) {
  setenv("HNN_THREADS", threads, 1);
  char dir[64] = "/tmp/hnn-hidden-XXXXXX", path[128], cmd[128];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_set_output_dir(S, dir), HNN_OK);
  ck_assert_int_eq(hnn_set_seed(S, 3), HNN_OK);
  int st = hnn_load_string(S, script_rl, "rl.hnn");
  ck_assert_msg(st == HNN_OK, "%s", hnn_error(S));
  hnn_close(S);
  snprintf(path, sizeof path, "%s/rl.csv", dir);
  char *s = slurp(path, len);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  unsetenv("HNN_THREADS");
  return s;
}

START_TEST(test_recall_and_learn) {
  long n1, n2;
  char *a = run_rl("1", &n1), *b = run_rl("2", &n2);
  ck_assert_msg(n1 == n2 && memcmp(a, b, (size_t)n1) == 0, "1 and 2 threads wrote different bytes");
  /* rows: round, round, free_energy, recall_rate, overlap, energy, norm_U */
  double prevF = INFINITY, first_rate = -1, last_rate = -1;
  int rows = 0;
  for (char *line = strtok(a, "\n"); line; line = strtok(NULL, "\n")) {
    if (line[0] == '#') continue;
    double r, s, F, rate, ov, E, nu;
    ck_assert_int_eq(sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf,%lf", &r, &s, &F, &rate, &ov, &E, &nu), 7);
    ck_assert_msg(F < prevF, "round %g: free energy %g did not decrease from %g", r, F, prevF);
    prevF = F;
    if (first_rate < 0) first_rate = rate;
    last_rate = rate;
    rows++;
  }
  ck_assert_int_eq(rows, 31);
  /* the random initial U recalls none of the 3 patterns from 20%-corrupted
  ** cues; after 30 rounds all three come back sign for sign */
  ck_assert_double_eq(first_rate, 0);
  ck_assert_double_eq(last_rate, 1);
  free(a);
  free(b);
}
END_TEST

static Suite *hidden_suite(void) {
  Suite *s = suite_create("hidden");
  TCase *t = tcase_create("hidden");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, test_gaussian_conditional);
  tcase_add_test(t, test_joint_gaussian);
  tcase_add_test(t, test_deterministic_trajectory);
  tcase_add_test(t, test_divergence_term_gives_gibbs_law);
  tcase_add_test(t, test_free_energy_closed_form);
  tcase_add_test(t, test_drift_finite_differences_separable);
  tcase_add_test(t, test_drift_finite_differences_full);
  tcase_add_test(t, test_recall_and_learn);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  SRunner *r = srunner_create(hidden_suite());
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
