/*
** check_mobility.c — the general mobility flow `mobility(E, K, T)` (kind_mobility.c,
** docs/mobility.md): dx = [T div K - K grad E] dt + sqrt(2T) chol(S) dW with
** K = S + A.  Every test runs a script through the public API and holds what
** it wrote against closed forms:
**
**   - the stationary law exp(-E/T)/Z with an x-dependent K whose antisymmetric
**     part has a divergence; without the T div K term the law is measurably off;
**   - the stationary lag covariance of a 2-D OU with constant K: exactly
**     (I - hKQ)^k Sigma for Euler-Maruyama, whose antisymmetric part (the
**     probability flux) vanishes only when A = 0;
**   - the moments of a Gaussian start against the exact Euler-Maruyama
**     recursion, and the free energy (001 Thm 6) decreasing to -T log Z;
**   - 001 Thm 22 on a linear drift without a potential: the drift is
**     -K grad E with K = B Sigma / T (Lyapunov), the stationary flux is
**     divergence-free but not constant, and the flow reaches exp(-E/T)/Z.
*/
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "hnn.h"
#include "testenv.h"

static const double *row_at(const csv *c, int r, int j) { return c->d + (size_t)r * c->cols + j; }

/* 2 x 2 helpers, row-major. */
static void mul2(const double *a, const double *b, double *c) {
  double r[4] = { a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2],
                  a[2] * b[1] + a[3] * b[3] };
  memcpy(c, r, sizeof r);
}

/* ------------------------------------------------------ stationary law */

/* E = (2 x1^2 + x2^2)/2 at T = 0.5: exp(-E/T)/Z is N(0, diag(0.25, 0.5)).
** K(x) = S(x) + a(x) J with S = diag(1 + x2^2/2, 1) and a = 1 + sin(x1)/2,
** so div A = (d2 a, -d1 a) = (0, -cos(x1)/2) is not zero.  N = 20000
** particles after t = 6 (>= 6 relaxation times of the slowest rate, ~1):
** the sample mean has sd sqrt(0.5/N) = 0.005 and a variance entry sd
** var*sqrt(2/N) = 1%.  Euler-Maruyama at h = 0.01 biases the variances by
** about lambda h/2 relative (lambda <= |KQ| ~ 4 here): 2%.  Tolerances:
** mean 5 sd; variances 2% + 5 sd.  Without T div K (divergence = 0) the
** drift misses T div A and the mean of x2 settles near 0.12: 20 sd away. */
static void stationary_run(env *e, int divergence, double *mean, double *cov) {
  char text[1024];
  snprintf(text, sizeof text,
           "objective E(x[2]) = 0.5*(2*x[1]^2 + x[2]^2)\n"
           "function K(x[2]) = [[1 + 0.5*x[2]^2, 1 + 0.5*sin(x[1])], [-(1 + 0.5*sin(x[1])), 1]]\n"
           "flow m%d = mobility(E, K, T = 0.5, divergence = %d)\n"
           "run m%d from normal([1, -1], [0.1, 0.2]) particles 20000 h 0.01 steps 600 every 600 -> \"m%d.csv\"\n",
           divergence, divergence, divergence, divergence);
  load_ok(e, text);
  char name[32];
  snprintf(name, sizeof name, "m%d_monitor.csv", divergence);
  csv m = read_csv(e, name);
  ck_assert_int_eq(m.rows, 2);
  ck_assert_int_eq(m.cols, 2 + 2 + 4 + 2);
  for (int j = 0; j < 2; j++) mean[j] = at(&m, 1, 2 + j);
  for (int j = 0; j < 4; j++) cov[j] = at(&m, 1, 4 + j);
  free(m.d);
}

START_TEST(test_stationary_law_x_dependent_K) {
  env e;
  env_open(&e, "mobility");
  double mean[2], cov[4], var[2] = { 0.25, 0.5 };
  stationary_run(&e, 1, mean, cov);
  report("stationary: mean (%.4f, %.4f), cov [[%.4f, %.4f], [., %.4f]] vs diag(0.25, 0.5)", mean[0], mean[1], cov[0],
         cov[1], cov[3]);
  for (int j = 0; j < 2; j++) {
    ck_assert_msg(fabs(mean[j]) < 5 * sqrt(var[j] / 20000), "mean %d = %g", j + 1, mean[j]);
    double tol = 0.02 * var[j] + 5 * var[j] * sqrt(2.0 / 20000);
    ck_assert_msg(fabs(cov[3 * j] - var[j]) < tol, "var %d = %g, expected %g +- %g", j + 1, cov[3 * j], var[j], tol);
  }
  ck_assert_msg(fabs(cov[1]) < 0.01 * 0.5 + 5 * sqrt(0.25 * 0.5 / 20000), "cov12 = %g", cov[1]);
  /* the divergence of K matters: without it the law is wrong */
  stationary_run(&e, 0, mean, cov);
  report("without T div K: mean (%.4f, %.4f)", mean[0], mean[1]);
  ck_assert_msg(fabs(mean[1]) > 20 * sqrt(0.5 / 20000), "mean2 without div K = %g", mean[1]);
  env_close(&e);
}
END_TEST

/* Size-generic declarations: E(x[n]) and K(x[n]) instantiated at n = 3 by
** the start.  K = (1 + |x|^2/10) I + x sin(x)' - sin(x) x' has a
** non-constant antisymmetric part in every plane; at T = 1 the law is
** N(0, I).  Same tolerances as above (EM bias ~ lambda h/2 with lambda
** ~ 1.5 near the bulk: 1%; allow 2%), t = 5. */
START_TEST(test_stationary_law_generic_3d) {
  env e;
  env_open(&e, "mobility");
  load_ok(&e, "objective E(x[n]) = 0.5*norm2(x)\n"
              "function K(x[n]) = diag(0*x + 1 + 0.1*norm2(x)) + outer(x, sin(x)) - outer(sin(x), x)\n"
              "flow m = mobility(E, K, T = 1)\n"
              "run m from normal([1, 0, -1], [0.1, 0.1, 0.1]) particles 20000 h 0.01 steps 500 every 500 -> \"g.csv\"\n");
  csv m = read_csv(&e, "g_monitor.csv");
  ck_assert_int_eq(m.cols, 2 + 3 + 9 + 2);
  double worst = 0;
  for (int j = 0; j < 3; j++) ck_assert_msg(fabs(at(&m, 1, 2 + j)) < 5 * sqrt(1.0 / 20000), "mean %d = %g", j + 1, at(&m, 1, 2 + j));
  for (int j = 0; j < 9; j++) {
    double want = j % 4 == 0, d = fabs(at(&m, 1, 5 + j) - want);
    worst = fmax(worst, d);
    ck_assert_msg(d < 0.02 + 5 * sqrt((1 + want) / 20000.0), "cov entry %d = %g", j, at(&m, 1, 5 + j));
  }
  report("generic 3-d: worst |cov - I| = %.4f", worst);
  free(m.d);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------ flux: lag covariance */

/* A 2-D OU: E = x'Qx/2, Q = diag(2, 1), T = 0.5, constant K = S + A with
** S = [[1, 0.3], [0.3, 0.8]], A = a [[0, 1], [-1, 0]].  Starting from the
** stationary law N(0, Sigma), Sigma = T Q^-1, Euler-Maruyama has E[x_k | x_0]
** = M^k x_0 exactly, M = I - hKQ, so C(k) = E[x_k x_0'] = M^k Sigma exactly
** (the continuous e^{-KQ tau} Sigma differs by O(h)).  C - C' = 0 iff the
** stationary flux rho (-A grad E) vanishes, i.e. iff a = 0.  Tolerance: 5
** standard errors of each sample mean of products (measured from the
** particles themselves, N = 20000). */
static void lag_covariance(env *e, double a, double *C, double *Cexact, double *se) {
  char text[1024];
  snprintf(text, sizeof text,
           "param Q[2,2] = [[2, 0], [0, 1]]\n"
           "objective E(x[2]) = 0.5*dot(x, Q*x)\n"
           "function K(x[2]) = [[1, 0.3 + %.17g], [0.3 - %.17g, 0.8]]\n"
           "flow ou = mobility(E, K, T = 0.5)\n"
           "run ou from normal([0, 0], [[0.25, 0], [0, 0.5]]) particles 20000 h 0.01 steps 50 every 50 -> \"ou.csv\"\n",
           a, a);
  load_ok(e, text);
  csv p = read_csv(e, "ou.csv");   /* t, step, particle, x1, x2, f */
  int N = 20000;
  ck_assert_int_eq(p.rows, 2 * N);
  double s[4] = { 0 }, s2[4] = { 0 };
  for (int i = 0; i < N; i++) {
    ck_assert_double_eq(at(&p, N + i, 2), at(&p, i, 2));
    for (int r = 0; r < 2; r++)
      for (int c = 0; c < 2; c++) {
        double v = at(&p, N + i, 3 + r) * at(&p, i, 3 + c);
        s[2 * r + c] += v;
        s2[2 * r + c] += v * v;
      }
  }
  for (int j = 0; j < 4; j++) {
    C[j] = s[j] / N;
    se[j] = sqrt((s2[j] / N - C[j] * C[j]) / N);
  }
  double h = 0.01, K[4] = { 1, 0.3 + a, 0.3 - a, 0.8 }, Q[4] = { 2, 0, 0, 1 }, KQ[4], M[4], P[4] = { 1, 0, 0, 1 };
  mul2(K, Q, KQ);
  for (int j = 0; j < 4; j++) M[j] = (j == 0 || j == 3) - h * KQ[j];
  for (int k = 0; k < 50; k++) mul2(M, P, P);
  double Sigma[4] = { 0.25, 0, 0, 0.5 };
  mul2(P, Sigma, Cexact);
  free(p.d);
}

/* e^{M} of a 2 x 2 matrix: scaling by 2^-10, Taylor to degree 12 (error
** ~ |M/1024|^13/13!, far below rounding), then 10 squarings. */
static void expm2(const double *M, double *E) {
  double A[4], T[4] = { 1, 0, 0, 1 };
  for (int j = 0; j < 4; j++) A[j] = M[j] / 1024, E[j] = T[j];
  for (int k = 1; k <= 12; k++) {
    mul2(T, A, T);
    for (int j = 0; j < 4; j++) T[j] /= k, E[j] += T[j];
  }
  for (int k = 0; k < 10; k++) mul2(E, E, E);
}

START_TEST(test_flux_lag_covariance) {
  double C[4], X[4], se[4];
  env e;
  env_open(&e, "mobility");
  lag_covariance(&e, 1.5, C, X, se);
  env_close(&e);
  /* the continuous closed form e^{-KQ tau} Sigma, tau = 0.5: (I - hKQ)^k
  ** differs from e^{-KQ tau} by about k (hKQ)^2/2 = tau h |KQ|^2 / 2 ~
  ** 0.5 * 0.01 * 9 / 2 = 0.02 (times |Sigma| <= 0.5: 0.01); asserted < 0.02.
  ** The measurement is then within 5 se + that difference of it. */
  double KQ[4] = { -2, -1.8, 2.4, -0.8 }, Ek[4], Cc[4], Sigma[4] = { 0.25, 0, 0, 0.5 };   /* -KQ tau */
  for (int j = 0; j < 4; j++) KQ[j] *= 0.5;
  expm2(KQ, Ek);
  mul2(Ek, Sigma, Cc);
  double dcont = 0;
  for (int j = 0; j < 4; j++) dcont = fmax(dcont, fabs(X[j] - Cc[j]));
  report("continuous e^{-KQ tau} Sigma = [[%.4f, %.4f], [%.4f, %.4f]] (C12 - C21 = %.4f); exact EM off by %.4f", Cc[0],
         Cc[1], Cc[2], Cc[3], Cc[1] - Cc[2], dcont);
  ck_assert_msg(dcont < 0.02, "EM vs continuous lag covariance: %g", dcont);
  for (int j = 0; j < 4; j++) ck_assert_msg(fabs(C[j] - Cc[j]) < 5 * se[j] + dcont, "C[%d] = %g vs %g", j, C[j], Cc[j]);
  double anti = C[1] - C[2], anti_x = X[1] - X[2], anti_se = se[1] + se[2];
  report("A on: C(0.5) = [[%.4f, %.4f], [%.4f, %.4f]], exact EM [[%.4f, %.4f], [%.4f, %.4f]]; C12 - C21 = %.4f "
         "(exact %.4f, se %.4f)", C[0], C[1], C[2], C[3], X[0], X[1], X[2], X[3], anti, anti_x, anti_se);
  for (int j = 0; j < 4; j++) ck_assert_msg(fabs(C[j] - X[j]) < 5 * se[j], "C[%d] = %g vs %g (se %g)", j, C[j], X[j], se[j]);
  ck_assert_msg(fabs(anti - anti_x) < 5 * anti_se, "antisymmetric part %g vs %g", anti, anti_x);
  ck_assert_msg(fabs(anti_x) > 20 * anti_se, "the flux should be visible: %g (se %g)", anti_x, anti_se);
  env_open(&e, "mobility");
  lag_covariance(&e, 0, C, X, se);
  env_close(&e);
  anti = C[1] - C[2];
  report("A off: C12 - C21 = %.4f (exact %.3g, se %.4f)", anti, X[1] - X[2], se[1] + se[2]);
  ck_assert(fabs(X[1] - X[2]) < 1e-14);
  ck_assert_msg(fabs(anti) < 5 * (se[1] + se[2]), "no flux without A: %g", anti);
}
END_TEST

/* ---------------------------------------- moments and the free energy */

/* The same OU (a = 1.5) from N((1.5, -1), diag(0.05, 0.3)).  The law stays
** Gaussian under Euler-Maruyama, with m' = M m and Sigma' = M Sigma M' +
** 2Th S exactly.  The monitor's mean and covariance must match the
** recursion within 5 standard errors (sd of a mean sqrt(Sigma_ii/N), of a
** covariance entry sqrt((Sigma_ii Sigma_jj + Sigma_ij^2)/N)); the Gaussian
** free energy F = E[E] - T H = tr(Q Sigma)/2 + m'Qm/2 - (T/2) log((2 pi e)^2
** det Sigma) of the exact moments decreases at every step (Thm 6; for EM
** at this h as well) to -T log Z = -(T/2) log((2 pi)^2 det(T Q^-1)), and
** the one of the monitor's moments follows it within 0.04: 5 se of F,
** whose se is ~0.007 at the start (m'Qm/2: |Qm| sqrt(Sigma_ii/N) ~ 0.005;
** (T/2) log det: (T/2) sqrt(2 * 2/N) ~ 0.0035) and smaller later. */
static double gauss_free_energy(const double *m, const double *S, double T) {
  double det = S[0] * S[3] - S[1] * S[2];
  return 0.5 * (2 * S[0] + S[3]) + 0.5 * (2 * m[0] * m[0] + m[1] * m[1]) - 0.5 * T * log(pow(2 * M_PI * M_E, 2) * det);
}

START_TEST(test_moments_and_free_energy) {
  env e;
  env_open(&e, "mobility");
  load_ok(&e, "param Q[2,2] = [[2, 0], [0, 1]]\n"
              "objective E(x[2]) = 0.5*dot(x, Q*x)\n"
              "function K(x[2]) = [[1, 1.8], [-1.2, 0.8]]\n"
              "flow ou = mobility(E, K, T = 0.5)\n"
              "run ou from normal([1.5, -1], [0.05, 0.3]) particles 20000 h 0.01 steps 300 every 10 -> \"fe.csv\"\n");
  csv mon = read_csv(&e, "fe_monitor.csv");
  ck_assert_int_eq(mon.rows, 31);
  double h = 0.01, T = 0.5, N = 20000, K[4] = { 1, 1.8, -1.2, 0.8 }, Q[4] = { 2, 0, 0, 1 }, KQ[4], M[4], Mt[4];
  mul2(K, Q, KQ);
  for (int j = 0; j < 4; j++) M[j] = (j == 0 || j == 3) - h * KQ[j];
  Mt[0] = M[0], Mt[1] = M[2], Mt[2] = M[1], Mt[3] = M[3];
  double m[2] = { 1.5, -1 }, S[4] = { 0.05, 0, 0, 0.3 }, Sym[4] = { 1, 0.3, 0.3, 0.8 };
  double Fprev = INFINITY, worst_F = 0, worst_z = 0;
  for (int k = 0, r = 0; k <= 300; k++) {
    if (k % 10 == 0) {
      for (int j = 0; j < 2; j++) {
        double z = fabs(at(&mon, r, 2 + j) - m[j]) / sqrt(S[3 * j] / N);
        worst_z = fmax(worst_z, z);
      }
      for (int j = 0; j < 4; j++) {
        int a = j / 2, b = j % 2;
        double z = fabs(at(&mon, r, 4 + j) - S[j]) / sqrt((S[3 * a] * S[3 * b] + S[j] * S[j]) / N);
        worst_z = fmax(worst_z, z);
      }
      double F = gauss_free_energy(m, S, T), Fm = gauss_free_energy(row_at(&mon, r, 2), row_at(&mon, r, 4), T);
      worst_F = fmax(worst_F, fabs(F - Fm));
      ck_assert_msg(F < Fprev, "free energy rose at step %d: %g after %g", k, F, Fprev);
      Fprev = F;
      r++;
    }
    double mn[2] = { M[0] * m[0] + M[1] * m[1], M[2] * m[0] + M[3] * m[1] }, t[4];
    memcpy(m, mn, sizeof mn);
    mul2(M, S, t);
    mul2(t, Mt, S);
    for (int j = 0; j < 4; j++) S[j] += 2 * T * h * Sym[j];
  }
  double Fmin = -0.5 * T * log(pow(2 * M_PI, 2) * (T / 2) * T);
  double F0 = gauss_free_energy(row_at(&mon, 0, 2), row_at(&mon, 0, 4), T);
  double F1 = gauss_free_energy(row_at(&mon, 30, 2), row_at(&mon, 30, 4), T);
  report("moments: worst |monitor - exact EM| = %.2f se; free energy %.4f -> %.4f (minimum %.4f), worst |F - F_exact| "
         "= %.4f", worst_z, F0, F1, Fmin, worst_F);
  ck_assert_msg(worst_z < 5, "moments %.2f standard errors from the exact recursion", worst_z);
  ck_assert_msg(worst_F < 0.04, "free energy of the monitor off by %g", worst_F);
  ck_assert_msg(F0 > Fmin + 1 && fabs(F1 - Fmin) < 0.02, "free energy %g -> %g, minimum %g", F0, F1, Fmin);
  free(mon.d);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------------------ Thm 22 */

/* Gauss-Jordan with partial pivoting on an augmented 3 x 4 system. */
static void solve3(double A[3][4]) {
  for (int c = 0; c < 3; c++) {
    int piv = c;
    for (int r = c + 1; r < 3; r++)
      if (fabs(A[r][c]) > fabs(A[piv][c])) piv = r;
    for (int j = 0; j < 4; j++) {
      double t = A[c][j];
      A[c][j] = A[piv][j];
      A[piv][j] = t;
    }
    for (int i = 0; i < 3; i++) {
      if (i == c) continue;
      double f = A[i][c] / A[c][c];
      for (int j = 0; j < 4; j++) A[i][j] -= f * A[c][j];
    }
  }
}

/* 001 Thm 22 claims p_* exists iff rho (f + Sigma grad E/2) is a constant
** vector (E = -log p_*).  Take f = -Bx, B = [[1, 2], [-1, 0.5]] (stable,
** not symmetric: no potential), noise covariance 2T I, T = 0.5.  The
** Lyapunov equation B P + P B' = 2T I gives the stationary covariance P;
** then E/T = x'P^-1 x/2, K = B P / T has symmetric part I (from the
** Lyapunov equation) and antisymmetric part A = (BP - PB')/(2T) != 0, and
** -K grad(E) = -Bx: the drift is a mobility flow.  Its stationary flux
** J = rho (f + T grad(E/T)) = -rho A Q x is divergence-free (checked by
** central differences, error O(d^2) ~ 1e-10) but not constant: Thm 22's
** "only if" holds in 1-D only (div J = 0 there means J constant).  The flow
** built from K and Q reaches N(0, P) all the same: its moments follow the
** exact Euler-Maruyama recursion (m' = Mm, C' = MCM' + 2Th I, M = I - hB)
** within 5 se, and that recursion's limit is P up to O(h) (reported). */
START_TEST(test_thm22_linear_drift) {
  double B[4] = { 1, 2, -1, 0.5 }, T = 0.5;
  /* B P + P B' = 2T I for symmetric P = [[p, q], [q, r]]: three equations */
  double a11 = B[0], a12 = B[1], a21 = B[2], a22 = B[3];
  /* (1,1): 2 a11 p + 2 a12 q = 2T; (2,2): 2 a21 q + 2 a22 r = 2T;
  ** (1,2): a21 p + (a11 + a22) q + a12 r = 0 */
  double Mx[3][4] = { { 2 * a11, 2 * a12, 0, 2 * T }, { 0, 2 * a21, 2 * a22, 2 * T }, { a21, a11 + a22, a12, 0 } };
  solve3(Mx);
  double P[4] = { Mx[0][3] / Mx[0][0], Mx[1][3] / Mx[1][1], 0, Mx[2][3] / Mx[2][2] };
  P[2] = P[1];
  double det = P[0] * P[3] - P[1] * P[1];
  double Q[4] = { T * P[3] / det, -T * P[1] / det, -T * P[1] / det, T * P[0] / det };   /* E = x'Qx/2 */
  double K[4];
  mul2(B, P, K);
  for (int j = 0; j < 4; j++) K[j] /= T;
  ck_assert_double_eq_tol(K[0], 1, 1e-12);
  ck_assert_double_eq_tol(K[3], 1, 1e-12);
  ck_assert_double_eq_tol(K[1] + K[2], 0, 1e-12);
  double a = 0.5 * (K[1] - K[2]);
  ck_assert(fabs(a) > 0.1);
  /* J(x) = -rho A Q x, rho = exp(-x'Qx/(2T)) (unnormalized) */
  double AQ[4], Am[4] = { 0, a, -a, 0 };
  mul2(Am, Q, AQ);
#define RHO(x, y) exp(-(Q[0] * (x) * (x) + 2 * Q[1] * (x) * (y) + Q[3] * (y) * (y)) / (2 * T))
#define J1(x, y) (-RHO(x, y) * (AQ[0] * (x) + AQ[1] * (y)))
#define J2(x, y) (-RHO(x, y) * (AQ[2] * (x) + AQ[3] * (y)))
  double worst_div = 0, d = 1e-5;
  for (int i = 0; i < 20; i++) {
    double x = -1.5 + 0.15 * i, y = 1 - 0.1 * i;
    double div = (J1(x + d, y) - J1(x - d, y) + J2(x, y + d) - J2(x, y - d)) / (2 * d);
    worst_div = fmax(worst_div, fabs(div));
  }
  double Jspread = fabs(J1(0.5, 0.2) - J1(-0.3, 0.7)) + fabs(J2(0.5, 0.2) - J2(-0.3, 0.7));
  report("thm22: K = [[%.4f, %.4f], [%.4f, %.4f]]; max |div J| = %.2g; J not constant (spread %.3f)", K[0], K[1], K[2],
         K[3], worst_div, Jspread);
  ck_assert_msg(worst_div < 1e-8, "div J = %g", worst_div);
  ck_assert_msg(Jspread > 0.1, "J is constant?");
  /* the flow of (E, K) has drift -Bx and reaches N(0, P) */
  env e;
  env_open(&e, "mobility");
  char text[1024];
  snprintf(text, sizeof text,
           "param Q[2,2] = [[%.17g, %.17g], [%.17g, %.17g]]\n"
           "objective E(x[2]) = 0.5*dot(x, Q*x)\n"
           "function K(x[2]) = [[%.17g, %.17g], [%.17g, %.17g]]\n"
           "flow b = mobility(E, K, T = 0.5)\n"
           "run b from normal([1, 1], [0.1, 0.1]) particles 20000 h 0.01 steps 1000 every 1000 -> \"b.csv\"\n",
           Q[0], Q[1], Q[2], Q[3], K[0], K[1], K[2], K[3]);
  load_ok(&e, text);
  csv m = read_csv(&e, "b_monitor.csv");
  double h = 0.01, M[4], Mt[4], C[4] = { 0.1, 0, 0, 0.1 }, t[4];
  for (int j = 0; j < 4; j++) M[j] = (j == 0 || j == 3) - h * B[j];
  Mt[0] = M[0], Mt[1] = M[2], Mt[2] = M[1], Mt[3] = M[3];
  for (int k = 0; k < 1000; k++) {
    mul2(M, C, t);
    mul2(t, Mt, C);
    C[0] += 2 * T * h, C[3] += 2 * T * h;
  }
  report("thm22: stationary cov [[%.4f, %.4f], [., %.4f]]; exact EM [[%.4f, %.4f], [., %.4f]]; Lyapunov (h -> 0) "
         "[[%.4f, %.4f], [., %.4f]]", at(&m, 1, 4), at(&m, 1, 5), at(&m, 1, 7), C[0], C[1], C[3], P[0], P[1], P[3]);
  for (int j = 0; j < 4; j++) {
    int r = j / 2, c = j % 2;
    double se = sqrt((C[3 * r] * C[3 * c] + C[j] * C[j]) / 20000);
    ck_assert_msg(fabs(at(&m, 1, 4 + j) - C[j]) < 5 * se, "cov[%d] = %g vs %g (se %g)", j, at(&m, 1, 4 + j), C[j], se);
    ck_assert_msg(fabs(C[j] - P[j]) < 0.05, "EM bias of cov[%d]: %g vs %g", j, C[j], P[j]);
  }
  free(m.d);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------- thread independence */

/* The same seed gives the same particle file, byte for byte, on 1, 2 and
** 3 threads (one random stream per block of particles, runtime/sde.h):
** 1000 particles are 4 blocks, so the threads split them differently. */
START_TEST(test_same_output_any_thread_count) {
  const char *threads[] = { "1", "2", "3" };
  char *first = NULL;
  for (int k = 0; k < 3; k++) {
    ck_assert_int_eq(setenv("HNN_THREADS", threads[k], 1), 0);
    env e;
    env_open(&e, "mobility");
    load_ok(&e, "objective E(x[2]) = 0.5*(2*x[1]^2 + x[2]^2)\n"
                "function K(x[2]) = [[1 + 0.5*x[2]^2, 1 + 0.5*sin(x[1])], [-(1 + 0.5*sin(x[1])), 1]]\n"
                "flow m = mobility(E, K, T = 0.5)\n"
                "run m from normal([1, -1], [0.1, 0.2]) particles 1000 h 0.01 steps 50 every 25 -> \"t.csv\"\n");
    char path[128];
    snprintf(path, sizeof path, "%s/t.csv", e.dir);
    char *s = file_bytes(path, NULL);
    if (first) {
      ck_assert_msg(strcmp(first, s) == 0, "output differs on %s threads", threads[k]);
      free(s);
    } else {
      first = s;
    }
    env_close(&e);
  }
  unsetenv("HNN_THREADS");
  free(first);
}
END_TEST

/* ------------------------------------------------------------ errors */

static void load_fails(const char *text, const char *msg) {
  hnn_state *S = hnn_open();
  FILE *out = tmpfile();
  hnn_set_output(S, out);
  int st = hnn_load_string(S, text, "t.hnn");
  ck_assert_int_ne(st, HNN_OK);
  ck_assert_msg(strstr(hnn_error(S), msg) != NULL, "expected '%s' in: %s", msg, hnn_error(S));
  hnn_close(S);
  fclose(out);
}

START_TEST(test_mobility_errors) {
  const char *pre = "objective E(x[2]) = norm2(x)\nfunction K(x[2]) = eye(2)\nfunction v(x[2]) = x\n";
  char t[512];
  snprintf(t, sizeof t, "%sflow m = mobility(E, K)\n", pre);
  load_fails(t, "mobility needs T = ...");
  snprintf(t, sizeof t, "%sflow m = mobility(E, v, T = 1)\n", pre);
  load_fails(t, "must take one vector x[n] and return an n x n matrix");
  snprintf(t, sizeof t, "%sflow m = mobility(K, K, T = 1)\n", pre);
  load_fails(t, "not scalar-valued");
  snprintf(t, sizeof t, "%sflow m = mobility(E, E, T = 1)\n", pre);
  load_fails(t, "expects a function K(x[n])");
  snprintf(t, sizeof t, "%sflow m = mobility(E, K, T = 1)\nrun m from normal([0, 0], [1, 1]) scheme milstein\n", pre);
  load_fails(t, "Euler-Maruyama only");
  /* a symmetric part that is not positive semidefinite stops the run */
  snprintf(t, sizeof t, "objective E(x[2]) = norm2(x)\nfunction K(x[2]) = [[1, 0], [0, -1]]\n"
           "flow m = mobility(E, K, T = 1)\nrun m from normal([0, 0], [1, 1]) particles 10 steps 2\n");
  load_fails(t, "the symmetric part of the mobility is not positive semidefinite");
}
END_TEST

static Suite *mobility_suite(void) {
  Suite *s = suite_create("mobility");
  TCase *t = tcase_create("mobility");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, test_stationary_law_x_dependent_K);
  tcase_add_test(t, test_stationary_law_generic_3d);
  tcase_add_test(t, test_flux_lag_covariance);
  tcase_add_test(t, test_moments_and_free_energy);
  tcase_add_test(t, test_thm22_linear_drift);
  tcase_add_test(t, test_same_output_any_thread_count);
  tcase_add_test(t, test_mobility_errors);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return check_run(mobility_suite()); }
