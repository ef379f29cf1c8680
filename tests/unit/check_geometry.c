/*
** check_geometry.c — the geometry of training (docs/geometry.md): the
** Fisher metric `fisher(lp, theta, data)` against closed forms, the natural
** gradient of a declared Fisher metric against its closed-form trajectory,
** and the `adam` flow (kind_adam.c) against discrete Adam (first order in
** the step, measured) and on a quadratic.
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

static void eval(env *e, const char *expr, double *v, size_t n) {
  int st = hnn_eval(e->S, expr, v, n, NULL, NULL);
  ck_assert_msg(st == HNN_OK, "%s: %s", expr, hnn_error(e->S));
}

/* The last data row of a run file (t first). */
static int last_row(env *e, const char *name, double *row, int cap) {
  char path[256], line[4096], keep[4096] = "";
  snprintf(path, sizeof path, "%s/%s", e->dir, name);
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "no file %s", path);
  while (fgets(line, sizeof line, f))
    if (line[0] != '#') strcpy(keep, line);
  fclose(f);
  int n = 0;
  for (char *p = keep, *end; n < cap; p = end + 1) {
    row[n++] = strtod(p, &end);
    if (*end != ',') break;
  }
  return n;
}

/* ------------------------------------------------------------ Fisher */

/* The Gaussian model N(mu, exp(2 s)) on 400 draws of N(1, 4), theta = (mu, s).
** Its score is s_mu = (x - mu) e^{-2s}, s_s = -1 + (x - mu)^2 e^{-2s}, so the
** empirical Fisher mean(s s') has a closed form in the data's moments, which
** hnn evaluates separately from the symbolic scores of fisher(): they agree
** to rounding (400-term sums: 1e-13 relative).  The observed Fisher
** hessian(-mean lp) at the maximum-likelihood point is exactly
** diag(1/sigma^2, 2), the Fisher information of the model (same tolerance).
** With 10^5 draws the empirical Fisher at the true theta = (1, log 2)
** estimates diag(1/4, 2): the (2,2) entry mean((z^2 - 1)^2) has sd
** sqrt(56/N) = 0.024, the others less; tolerance 5 sd.  Matrix data: the
** empirical Fisher of a logistic regression is X' diag((y - p)^2) X / N
** (6 samples: rounding, 1e-14). */
START_TEST(test_fisher_closed_forms) {
  env e;
  env_open(&e, "geometry");
  load_ok(&e, "param xs[400] = normal(1, 2)\n"
              "param ys[100000] = normal(1, 2)\n"
              "function lp(th[2], x[n]) = -th[2] - (x - th[1])^2/(2*exp(2*th[2]))\n"
              "objective nll(th[2]) = -mean(lp(th, xs))\n"
              "metric F(th[2]) = fisher(lp, th, xs)\n"
              "function closed(mu, s) = [[mean((xs - mu)^2)*exp(-4*s), mean((xs - mu)*(-1 + (xs - mu)^2*exp(-2*s)))*exp(-2*s)],"
              " [mean((xs - mu)*(-1 + (xs - mu)^2*exp(-2*s)))*exp(-2*s), mean((-1 + (xs - mu)^2*exp(-2*s))^2)]]\n"
              "param mle[2] = [mean(xs), 0.5*log(mean((xs - mean(xs))^2))]\n");
  const char *pts[] = { "[0.5, 0.2]", "[1, 0.7]", "[-2, -0.3]" };
  double worst = 0;
  for (int k = 0; k < 3; k++) {
    char a[128], b[128];
    double F[4], C[4];
    snprintf(a, sizeof a, "F(%s)", pts[k]);
    snprintf(b, sizeof b, "closed(%s[1], %s[2])", pts[k], pts[k]);
    eval(&e, a, F, 4);
    eval(&e, b, C, 4);
    for (int j = 0; j < 4; j++) worst = fmax(worst, fabs(F[j] - C[j]) / (fabs(C[j]) + 1));
  }
  /* the data may also sit inside lp (a param), with theta the only argument */
  load_ok(&e, "function lq(th[2]) = lp(th, xs)\n");
  double Fa[4], Fb[4];
  eval(&e, "fisher(lq, [0.5, 0.2])", Fa, 4);
  eval(&e, "F([0.5, 0.2])", Fb, 4);
  for (int j = 0; j < 4; j++) ck_assert_double_eq(Fa[j], Fb[j]);
  report("fisher vs closed form: worst relative %.2g", worst);
  ck_assert_msg(worst < 1e-13, "fisher vs closed form: %g", worst);
  /* matrix data: logistic regression, whose empirical Fisher is X' diag((y - p)^2) X / N */
  load_ok(&e, "param X[6,2] = [[1, 0.5], [1, -1], [1, 2], [1, 0.1], [1, -0.3], [1, 1.5]]\n"
              "param y[6] = [1, 0, 1, 0, 0, 1]\n"
              "function lr(w[d], A[N,d], t[N]) = t*(A*w) - log(1 + exp(A*w))\n"
              "function prob(w[2]) = 1/(1 + exp(-(X*w)))\n");
  double Fl[4], Cl[4];
  eval(&e, "fisher(lr, [0.1, 0.2], X, y)", Fl, 4);
  eval(&e, "transpose(X)*diag((y - prob([0.1, 0.2]))^2)*X/6", Cl, 4);
  for (int j = 0; j < 4; j++) ck_assert_double_eq_tol(Fl[j], Cl[j], 1e-14);
  double H[4], mle[2];
  eval(&e, "hessian nll(mle)", H, 4);
  eval(&e, "mle", mle, 2);
  double inv_var = exp(-2 * mle[1]);
  report("observed Fisher at the MLE: [[%.15g, %.3g], [., %.15g]] vs diag(%.15g, 2)", H[0], H[1], H[3], inv_var);
  ck_assert_double_eq_tol(H[0], inv_var, 1e-13 * inv_var);
  ck_assert_double_eq_tol(H[1], 0, 1e-13);
  ck_assert_double_eq_tol(H[3], 2, 2e-13);
  double G[4];
  eval(&e, "fisher(lp, [1, log(2)], ys)", G, 4);
  report("empirical Fisher at the truth, N = 1e5: [[%.4f, %.4f], [., %.4f]] vs diag(0.25, 2)", G[0], G[1], G[3]);
  /* sd: (1,1) var((x-mu)^2/16) = 2/16^2*... = sqrt(2/N)/4; (1,2) sqrt(E z^2 (z^2-1)^2 / N)/2 = sqrt(10/N)/2 */
  ck_assert_msg(fabs(G[0] - 0.25) < 5 * 0.25 * sqrt(2e-5), "F11 = %g", G[0]);
  ck_assert_msg(fabs(G[1]) < 5 * 0.5 * sqrt(10e-5), "F12 = %g", G[1]);
  ck_assert_msg(fabs(G[3] - 2) < 5 * sqrt(56e-5), "F22 = %g", G[3]);
  env_close(&e);
}
END_TEST

/* The natural gradient of the average negative log-likelihood with the
** model's Fisher metric G = diag(e^{-2s}, 2), declared: mu' = xbar - mu and,
** with u = e^{2s}, u' = -u + V + (mu - xbar)^2, so mu(t) = xbar + d0 e^{-t},
** u(t) = V + (u0 - V + d0^2) e^{-t} - d0^2 e^{-2t} (V the sample variance,
** d0 = mu0 - xbar).  rk8pd at atol = rtol = 1e-12 on a contracting flow:
** 1e-9 absolute at t = 1..5.  The same metric written as fisher(lp, ...)
** on the data is the empirical Fisher: a different flow, not compared. */
START_TEST(test_natural_gradient_fisher_closed_form) {
  env e;
  env_open(&e, "geometry");
  load_ok(&e, "param xs[400] = normal(1, 2)\n"
              "function lp(th[2], x[n]) = -th[2] - (x - th[1])^2/(2*exp(2*th[2]))\n"
              "objective nll(th[2]) = -mean(lp(th, xs))\n"
              "metric G(th[2]) = diag([exp(-2*th[2]), 2])\n"
              "flow ng = natural_gradient(nll, G)\n"
              "run ng from [-1, 0.3] until 5 dt 1 method rk8pd atol 1e-12 rtol 1e-12 -> \"ng.csv\"\n");
  double xbar, V;
  eval(&e, "mean(xs)", &xbar, 1);
  eval(&e, "mean((xs - mean(xs))^2)", &V, 1);
  char path[256], line[1024];
  snprintf(path, sizeof path, "%s/ng.csv", e.dir);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  double d0 = -1 - xbar, u0 = exp(0.6), worst = 0;
  int rows = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    double t, step, mu, s;
    ck_assert_int_eq(sscanf(line, "%lf,%lf,%lf,%lf", &t, &step, &mu, &s), 4);
    double mu_x = xbar + d0 * exp(-t), u = V + (u0 - V + d0 * d0) * exp(-t) - d0 * d0 * exp(-2 * t);
    worst = fmax(worst, fmax(fabs(mu - mu_x), fabs(s - 0.5 * log(u))));
    rows++;
  }
  fclose(f);
  ck_assert_int_eq(rows, 6);
  report("natural gradient, declared Fisher: worst |theta - closed form| = %.2g", worst);
  ck_assert_msg(worst < 1e-9, "natural gradient vs closed form: %g", worst);
  env_close(&e);
}
END_TEST

/* -------------------------------------------------------------- Adam */

/* f = x'Qx/2 with Q = [[3, 1], [1, 2]], from (1, -0.5); rates a = 10, b = 1,
** eps = 1e-8.  Discrete Adam (no bias correction) with step h, beta1 = 1 -
** a h, beta2 = 1 - b h, after 1/h steps, against the flow at t = 1 (rk8pd,
** atol = rtol = 1e-12).  The update is an Euler step of the flow (moments
** first, then x with the new moments), so the error is first order: the
** measured orders log2(e(h)/e(h/2)) must lie in [0.8, 1.2] and the error
** must shrink by 8x from h = 0.01 to 0.00125.  The adam_descent kind runs
** the same iteration (checked against the C loop to rounding), and with
** Adam's bias correction its first step is lr sign(g) exactly (eps aside). */
static double adam_discrete(double h, double a, double b, double eps, double *x) {
  double Q[4] = { 3, 1, 1, 2 }, m[2] = { 0, 0 }, v[2] = { 0, 0 }, b1 = 1 - a * h, b2 = 1 - b * h;
  x[0] = 1, x[1] = -0.5;
  long K = lround(1 / h);
  for (long k = 0; k < K; k++) {
    double g[2] = { Q[0] * x[0] + Q[1] * x[1], Q[2] * x[0] + Q[3] * x[1] };
    for (int i = 0; i < 2; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      x[i] -= h * m[i] / (sqrt(v[i]) + eps);
    }
  }
  return 0;
}

START_TEST(test_adam_first_order) {
  env e;
  env_open(&e, "geometry");
  /* lr = 0.01, beta1 = 0.9, beta2 = 0.99: a = 10, b = 1 */
  load_ok(&e, "param Q[2,2] = [[3, 1], [1, 2]]\n"
              "objective f(x[2]) = 0.5*dot(x, Q*x)\n"
              "flow a = adam(f, lr = 0.01, beta1 = 0.9, beta2 = 0.99, eps = 1e-8)\n"
              "run a from [1, -0.5] until 1 method rk8pd atol 1e-12 rtol 1e-12 -> \"a.csv\"\n");
  double row[16];
  ck_assert_int_eq(last_row(&e, "a.csv", row, 16), 9);   /* t, step, x1, x2, m1, m2, v1, v2, f */
  ck_assert_double_eq_tol(row[0], 1, 1e-12);
  double err[4], h = 0.01;
  for (int k = 0; k < 4; k++, h /= 2) {
    double x[2];
    adam_discrete(h, 10, 1, 1e-8, x);
    err[k] = hypot(x[0] - row[2], x[1] - row[3]);
  }
  /* the language's adam_descent is the same iteration: at h = 0.005 (200
  ** steps) it matches the C loop above to rounding */
  double xc[2];
  adam_discrete(0.005, 10, 1, 1e-8, xc);
  load_ok(&e, "flow d = adam_descent(f, lr = 0.005, beta1 = 0.95, beta2 = 0.995, eps = 1e-8, bias_correction = 0)\n"
              "run d from [1, -0.5] steps 200 -> \"d.csv\"\n"
              "flow db = adam_descent(f, lr = 0.01)\n"
              "run db from [1, -0.5] steps 1 -> \"db.csv\"\n");
  double rd[16];
  ck_assert_int_eq(last_row(&e, "d.csv", rd, 16), 9);
  ck_assert_double_eq_tol(rd[0], 1, 1e-12);
  ck_assert_double_eq(rd[1], 200);
  report("adam_descent vs the C loop at h = 0.005: %.3g, %.3g", rd[2] - xc[0], rd[3] - xc[1]);
  ck_assert_double_eq_tol(rd[2], xc[0], 1e-13);
  ck_assert_double_eq_tol(rd[3], xc[1], 1e-13);
  /* with bias correction the first step is lr g/(|g| + eps): lr sign(g)
  ** to 1e-8 relative; g = Qx0 = (2.5, 0), and a zero component stays */
  ck_assert_int_eq(last_row(&e, "db.csv", rd, 16), 9);
  ck_assert_double_eq_tol(rd[2], 1 - 0.01, 1e-9);
  ck_assert_double_eq(rd[3], -0.5);
  double o1 = log2(err[0] / err[1]), o2 = log2(err[1] / err[2]), o3 = log2(err[2] / err[3]);
  report("adam: |x_K - x(1)| = %.3g, %.3g, %.3g, %.3g at h = 0.01 .. 0.00125; orders %.3f %.3f %.3f", err[0], err[1],
         err[2], err[3], o1, o2, o3);
  ck_assert_msg(o2 > 0.8 && o2 < 1.2 && o3 > 0.8 && o3 < 1.2, "orders %g %g", o2, o3);
  ck_assert_msg(err[3] < err[0] / 6, "errors %g -> %g", err[0], err[3]);
  ck_assert(err[0] < 0.1);
  env_close(&e);
}
END_TEST

/* On an ill-conditioned quadratic (condition 100) the adam flow reaches the
** minimizer 0: |x(40)| < 1e-6 (it moves each coordinate at speed ~1 until
** near 0, then contracts); the moments settle: m -> 0, v decays at rate b.
** The gradient flow from the same start is still 0.02 from 0 at t = 40 along
** the slow direction: exp(-0.1 * 40) (reported, checked > 1e-3). */
START_TEST(test_adam_quadratic_minimizer) {
  env e;
  env_open(&e, "geometry");
  load_ok(&e, "param Q[2,2] = [[10, 0], [0, 0.1]]\n"
              "objective f(x[2]) = 0.5*dot(x, Q*x)\n"
              "flow a = adam(f, lr = 0.01, beta1 = 0.9, beta2 = 0.999)\n"
              "flow g = gradient(f)\n"
              "run a from [1, 1] until 40 dt 1 method rk8pd atol 1e-12 rtol 1e-10 -> \"a.csv\"\n"
              "run g from [1, 1] until 40 dt 1 -> \"g.csv\"\n");
  double ra[16], rg[16];
  ck_assert_int_eq(last_row(&e, "a.csv", ra, 16), 9);
  ck_assert_int_eq(last_row(&e, "g.csv", rg, 16), 5);
  double da = hypot(ra[2], ra[3]), dg = hypot(rg[2], rg[3]);
  report("quadratic, condition 100: |x(40)| adam %.3g, gradient flow %.3g (exp(-4) = %.3g); m = (%.2g, %.2g)", da, dg,
         exp(-4), ra[4], ra[5]);
  ck_assert_msg(da < 1e-6, "adam at t = 40: |x| = %g", da);
  ck_assert_msg(fabs(ra[4]) < 1e-6 && fabs(ra[5]) < 1e-6, "m = (%g, %g)", ra[4], ra[5]);
  ck_assert_msg(dg > 1e-3, "gradient flow |x| = %g", dg);
  env_close(&e);
}
END_TEST

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

START_TEST(test_geometry_errors) {
  const char *pre = "objective f(x[2]) = norm2(x)\nfunction lp(th[2], x[n]) = -(x - th[1])^2*th[2]\nparam d[5] = 1\n";
  char t[512];
  snprintf(t, sizeof t, "%sflow a = adam(f, lr = 0.1, beta1 = 1)\nrun a from [1, 1] until 1\n", pre);
  load_fails(t, "'beta1' must be below 1");
  snprintf(t, sizeof t, "%sflow a = adam(f, beta1 = 0.5)\n", pre);
  load_fails(t, "adam needs lr = ...");
  snprintf(t, sizeof t, "%sflow a = adam(f, lr = 0.1)\nrun a from [1, 1] until 1 method bsimp\n", pre);
  load_fails(t, "explicit method");
  snprintf(t, sizeof t, "%sflow a = adam(f, lr = 0.1)\nrun a from [1, 1] until 1 tol 1e-3\n", pre);
  load_fails(t, "tol");
  snprintf(t, sizeof t, "%sprint fisher(f, [1, 2], d)\n", pre);
  load_fails(t, "takes 1 argument");
  snprintf(t, sizeof t, "%sprint fisher(d, [1, 2], d)\n", pre);
  load_fails(t, "usage: fisher(lp, theta, data...)");
  snprintf(t, sizeof t, "%sprint fisher(lp, 1, d)\n", pre);
  load_fails(t, "argument 1 of 'lp'");
}
END_TEST

static Suite *geometry_suite(void) {
  Suite *s = suite_create("geometry");
  TCase *t = tcase_create("geometry");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, test_fisher_closed_forms);
  tcase_add_test(t, test_natural_gradient_fisher_closed_form);
  tcase_add_test(t, test_adam_first_order);
  tcase_add_test(t, test_adam_quadratic_minimizer);
  tcase_add_test(t, test_geometry_errors);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return check_run(geometry_suite()); }
