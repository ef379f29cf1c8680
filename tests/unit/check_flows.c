/*
** check_flows.c — the flow layer at the language level.  Every test writes
** an hnn script, loads it through the public API (lang/hnn.h), and reads
** back what the runs wrote (CSV with '#' header lines) or what the
** expressions evaluate to, against closed forms and against each other:
**
**   - hopfield(f, s) and natural_gradient(f, hopfield(s)) are one trajectory
**     (source 000, Theorem 1, eqs. 1, 4, 6) on Himmelblau and a 50-d quadratic;
**   - mirror_descent (eq. 15) and gradient_descent are first order in the step;
**   - the run option tol stops at |grad f| < tol; a blow-up is exit status 3
**     with a message naming the flow, the time and the component;
**   - geodesic, bregman, partition and gibbs against closed forms;
**   - diffusion (eq. 45) and wasserstein (eq. 60) runs on an Ornstein-Uhlenbeck
**     problem against the exact law;
**   - augmented_lagrangian (eqs. 41-44) on a problem with a known KKT point;
**   - the plot statement.
*/
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "flowkind.h"
#include "hnn.h"
#include "testenv.h"
#include "ode.h"
#include "prox.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* ------------------------------------------------------------ helpers */

static void env_open_flows(env *e) {
  env_open(e, "flows");
  ck_assert_int_eq(hnn_add_path(e->S, SRCDIR "/stdlib"), HNN_OK);
}

static double eval1(env *e, const char *expr) {
  double v = NAN;
  int st = hnn_eval(e->S, expr, &v, 1, NULL, NULL);
  ck_assert_msg(st == HNN_OK, "%s: %s", expr, hnn_error(e->S));
  return v;
}

/* All of the printed output so far. */
static char *out_text(env *e) {
  fflush(e->out);
  long n = ftell(e->out);
  char *s = calloc((size_t)n + 1, 1);
  rewind(e->out);
  ck_assert_int_eq((long)fread(s, 1, (size_t)n, e->out), n);
  return s;
}


/* Largest |a - b| over the columns [j0, j1) of rows with the same time. */
static double max_diff(const csv *a, const csv *b, int j0, int j1) {
  ck_assert_int_eq(a->rows, b->rows);
  double m = 0;
  for (int r = 0; r < a->rows; r++) {
    ck_assert_double_eq_tol(at(a, r, 0), at(b, r, 0), 1e-12);
    for (int j = j0; j < j1; j++) m = fmax(m, fabs(at(a, r, j) - at(b, r, j)));
  }
  return m;
}

/* ------------------------------------------------- Hopfield = natural gradient */

/* Theorem 1: with x = s(u), u' = -grad f(x) is x' = -G(x)^-1 grad f(x),
** G = diag(1/s'(s^-1(x))).  Both runs are rk8pd (order 8) at atol = rtol =
** 1e-12, so each trajectory is within ~1e-10 of the exact one (the global
** error is a modest multiple of the tolerance on this short, contracting
** run); 1e-8 leaves room for the different coordinates the two integrate in. */
START_TEST(test_hopfield_is_natural_gradient_himmelblau) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "use \"activations\"\nuse \"objectives\"\n"
              "metric G = hopfield(logistic)\n"
              "flow det = hopfield(himmelblau, logistic)\n"
              "flow ngd = natural_gradient(himmelblau, G)\n"
              /* the transient: the flow reaches the minimizer by t ~ 0.02 */
              "run det from [0.2, 0.7] until 0.03 method rk8pd dt 0.001 atol 1e-12 rtol 1e-12 -> \"det.csv\"\n"
              "run ngd from [0.2, 0.7] until 0.03 method rk8pd dt 0.001 atol 1e-12 rtol 1e-12 -> \"ngd.csv\"\n");
  csv a = read_csv(&e, "det.csv"), b = read_csv(&e, "ngd.csv");
  ck_assert_int_eq(a.cols, 5);    /* t, step, x1, x2, f */
  ck_assert_int_eq(a.rows, 31);
  double d = max_diff(&a, &b, 2, 4);
  ck_assert_msg(d < 1e-8, "hopfield vs natural_gradient: max |dx| = %g", d);
  report("himmelblau: hopfield vs natural_gradient max |dx| = %.3g", d);
  /* it moved: the start is far from the end */
  ck_assert(fabs(at(&a, 0, 3) - at(&a, a.rows - 1, 3)) > 0.1);
  /* the f column is f(x) */
  ck_assert_double_eq_tol(at(&a, 0, 4), 36, 1e-9);
  free(a.d), free(b.d);
  env_close(&e);
}
END_TEST

/* The same on a 50-dimensional quadratic with a diagonally dominant Q and
** the soft-projection activation (beta = 0.5). */
START_TEST(test_hopfield_is_natural_gradient_quadratic50) {
  env e;
  env_open_flows(&e);
  ck_assert_int_eq(hnn_define(e.S, "beta", "0.5"), HNN_OK);
  load_ok(&e, "use \"activations\"\n"
              "param v[50] = uniform(-1, 1)\n"
              "param Q[50,50] = 2*eye(50) + outer(v, v)/50\n"   /* off-diagonal row sums < 1 < 2 */
              "param b[50] = uniform(-1, 1)\n"
              "param x0[50] = uniform(0.2, 0.8)\n"
              "objective q(x[50]) = 0.5*dot(x, Q*x) + dot(b, x)\n"
              "metric G = hopfield(soft_projection)\n"
              "flow hq = hopfield(q, soft_projection)\n"
              "flow nq = natural_gradient(q, G)\n"
              "run hq from x0 until 2 method rk8pd dt 0.1 atol 1e-12 rtol 1e-12 -> \"hq.csv\"\n"
              "run nq from x0 until 2 method rk8pd dt 0.1 atol 1e-12 rtol 1e-12 -> \"nq.csv\"\n");
  csv a = read_csv(&e, "hq.csv"), b = read_csv(&e, "nq.csv");
  ck_assert_int_eq(a.cols, 53);
  ck_assert_int_eq(a.rows, 21);
  double d = max_diff(&a, &b, 2, 52);
  ck_assert_msg(d < 1e-8, "50-d: max |dx| = %g", d);
  report("quadratic50: hopfield vs natural_gradient max |dx| = %.3g", d);
  /* f decreases along the flow */
  for (int r = 1; r < a.rows; r++) ck_assert(at(&a, r, 52) <= at(&a, r - 1, 52) + 1e-12);
  free(a.d), free(b.d);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------------ first-order methods */

/* Mirror descent with the logistic mirror map is explicit Euler in the
** hidden state u (eq. 15), a first-order method: its error against the
** (rk8pd, ~1e-11 accurate) natural-gradient flow at the same times halves
** with the step.  Ratio within [1.8, 2.2]: the O(h^2) part at these steps
** is a few percent of the O(h) part. */
START_TEST(test_mirror_descent_first_order) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "use \"activations\"\nuse \"objectives\"\n"
              "metric G = hopfield(logistic)\n"
              "mirror psi = hopfield(logistic)\n"
              "flow ngd = natural_gradient(himmelblau, G)\n"
              "flow md1 = mirror_descent(himmelblau, psi, step = 2e-5)\n"
              "flow md2 = mirror_descent(himmelblau, psi, step = 1e-5)\n"
              "run ngd from [0.2, 0.7] until 0.004 method rk8pd dt 0.0005 atol 1e-13 rtol 1e-13 -> \"ngd.csv\"\n"
              "run md1 from [0.2, 0.7] steps 200 every 25 -> \"md1.csv\"\n"
              "run md2 from [0.2, 0.7] steps 400 every 50 -> \"md2.csv\"\n");
  csv g = read_csv(&e, "ngd.csv"), a = read_csv(&e, "md1.csv"), b = read_csv(&e, "md2.csv");
  double e1 = max_diff(&g, &a, 2, 4), e2 = max_diff(&g, &b, 2, 4);
  ck_assert_msg(e1 > 1e-6, "mirror descent error too small to measure: %g", e1);
  report("mirror descent errors %.3g (h), %.3g (h/2), ratio %.4f", e1, e2, e1 / e2);
  ck_assert_msg(e1 / e2 > 1.8 && e1 / e2 < 2.2, "mirror descent: errors %g, %g, ratio %g", e1, e2, e1 / e2);
  free(g.d), free(a.d), free(b.d);
  env_close(&e);
}
END_TEST

/* Gradient descent is explicit Euler for x' = -grad f: at a fixed time t =
** k h its error against the gradient flow is O(h), so halving h halves it
** (ratio in [1.8, 2.2] as above).  On the quadratic of a 5x5 SPD Q, and on
** 2-D Rosenbrock (stiff: h h_max below 2/lambda_max ~ 1e-3). */
static void gd_ratio(const char *decls, const char *obj, const char *x0, double t, double h, double lo, double hi) {
  env e;
  env_open_flows(&e);
  char text[4096];
  long k = lround(t / h);
  snprintf(text, sizeof text,
           "use \"objectives\"\n%s"
           "flow gf = gradient(%s)\n"
           "flow gd1 = gradient_descent(%s, step = %.17g)\n"
           "flow gd2 = gradient_descent(%s, step = %.17g)\n"
           "run gf from %s until %.17g method rk8pd dt %.17g atol 1e-13 rtol 1e-13 -> \"gf.csv\"\n"
           "run gd1 from %s steps %ld every %ld -> \"gd1.csv\"\n"
           "run gd2 from %s steps %ld every %ld -> \"gd2.csv\"\n",
           decls, obj, obj, h, obj, h / 2, x0, t, t / 4, x0, k, k / 4, x0, 2 * k, k / 2);
  load_ok(&e, text);
  csv g = read_csv(&e, "gf.csv"), a = read_csv(&e, "gd1.csv"), b = read_csv(&e, "gd2.csv");
  int n = g.cols - 3;
  double e1 = max_diff(&g, &a, 2, 2 + n), e2 = max_diff(&g, &b, 2, 2 + n);
  ck_assert_msg(e1 / e2 > lo && e1 / e2 < hi, "%s: errors %g, %g, ratio %g", obj, e1, e2, e1 / e2);
  /* and the last gradient-descent point is close to the flow's */
  ck_assert_msg(e2 < 0.05, "%s: error %g", obj, e2);
  report("%s: gradient descent errors %.3g (h), %.3g (h/2), ratio %.4f", obj, e1, e2, e1 / e2);
  free(g.d), free(a.d), free(b.d);
  env_close(&e);
}

START_TEST(test_gradient_descent_quadratic) {
  gd_ratio("param Q[5,5] = [[3,1,0,0,0],[1,3,1,0,0],[0,1,3,1,0],[0,0,1,3,1],[0,0,0,1,3]]\n"
           "param b[5] = [1, -1, 0.5, 0, 2]\n"
           "objective q(x[5]) = 0.5*dot(x, Q*x) + dot(b, x)\n",
           "q", "[1, 2, 3, 4, 5]", 1, 0.01, 1.8, 2.2);
}
END_TEST

START_TEST(test_gradient_descent_rosenbrock) {
  gd_ratio("", "rosenbrock", "[-1, 1]", 0.2, 2e-4, 1.8, 2.2);
}
END_TEST

/* ------------------------------------------------------ stopping and errors */

/* x' = -x from 1: |grad f| = x(t) = e^-t falls below 1e-3 at t = log(1000)
** = 6.91, far before until = 100.  The stop is checked at the engine's
** steps, so the last row is the first step with |x| < tol: t a little past
** 6.91 (adaptive rkf45 steps here are < 0.5). */
START_TEST(test_tol_stops_early) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "objective f(x[1]) = 0.5*x[1]^2\n"
              "flow gf = gradient(f)\n"
              "flow gd = gradient_descent(f, step = 0.01)\n"
              "run gf from [1] until 100 tol 1e-3 -> \"gf.csv\"\n"
              "run gd from [1] steps 100000 tol 1e-6 -> \"gd.csv\"\n");
  csv a = read_csv(&e, "gf.csv");
  double tl = at(&a, a.rows - 1, 0), xl = at(&a, a.rows - 1, 2);
  ck_assert_msg(tl > log(1000) - 1e-6 && tl < log(1000) + 0.5, "stopped at t = %g", tl);
  report("tol: gradient stopped at t = %.6g, x = %.3g", tl, xl);
  ck_assert_msg(fabs(xl) < 1e-3 && fabs(xl) > 1e-4, "last x = %g", xl);
  /* x_k = 0.99^k < 1e-6 first at k = ceil(log(1e-6)/log(0.99)) = 1375 */
  csv b = read_csv(&e, "gd.csv");
  double kl = at(&b, b.rows - 1, 1);
  ck_assert_msg(fabs(kl - 1375) <= 1, "gradient descent stopped at step %g", kl);
  ck_assert(fabs(at(&b, b.rows - 1, 2)) < 1e-6);
  free(a.d), free(b.d);
  env_close(&e);
}
END_TEST

/* f = -x^4/4: the gradient flow x' = x^3 from x = 1 blows up at t = 1/2.
** rk4 with h = 0.01 overflows right after; the run is a runtime error (3)
** naming the flow, the time and the component, and leaves no output file. */
START_TEST(test_blowup_is_runtime_error) {
  env e;
  env_open_flows(&e);
  int st = hnn_load_string(e.S,
                           "objective g(x[2]) = -x[2]^4/4 + 0.5*x[1]^2\n"
                           "flow boom = gradient(g)\n"
                           "run boom from [1, 1] until 2 method rk4 h 0.01 -> \"boom.csv\"\n",
                           "t.hnn");
  ck_assert_int_eq(st, HNN_ERR_RUNTIME);
  const char *msg = hnn_error(e.S);
  ck_assert_msg(strstr(msg, "boom") && strstr(msg, "t = 0.5") && strstr(msg, "x2"), "message: %s", msg);
  char path[256];
  snprintf(path, sizeof path, "%s/boom.csv", e.dir);
  ck_assert_msg(access(path, F_OK) != 0, "a failed run left %s", path);
  /* gradient descent with a step far above 2/lambda_max on Rosenbrock */
  st = hnn_load_string(e.S,
                       "use \"objectives\"\n"
                       "flow wild = gradient_descent(rosenbrock, step = 0.01)\n"
                       "run wild from [-1, 1] steps 1000 -> \"wild.csv\"\n",
                       "t2.hnn");
  ck_assert_int_eq(st, HNN_ERR_RUNTIME);
  msg = hnn_error(e.S);
  ck_assert_msg(strstr(msg, "wild") && strstr(msg, "t = ") && strstr(msg, "x1"), "message: %s", msg);
  env_close(&e);
}
END_TEST

/* -------------------------------------------------- geodesic and bregman */

static double urand(double a, double b) { return a + (b - a) * (rand() / (RAND_MAX + 1.0)); }

static void vec_text(char *buf, size_t len, const double *x, int n) {
  size_t k = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < n; i++) k += (size_t)snprintf(buf + k, len - k, "%s%.17g", i ? ", " : "", x[i]);
  snprintf(buf + k, len - k, "]");
}

static double geod(env *e, const char *G, const double *x, const double *y, int n) {
  char a[512], b[512], ex[1200];
  vec_text(a, sizeof a, x, n);
  vec_text(b, sizeof b, y, n);
  snprintf(ex, sizeof ex, "geodesic(%s, %s, %s)", G, a, b);
  return eval1(e, ex);
}

/* For a diagonal G = diag(g(x_i)), phi(x) = int sqrt(g) maps G to the
** Euclidean metric coordinate by coordinate, so d(x, y) = |phi(x) - phi(y)|_2.
**   logistic: s'(s^-1(x)) = x(1 - x), phi = int dx/sqrt(x(1-x)) = 2 asin(sqrt x);
**   soft projection: s'(s^-1(x)) = 2 beta x(1 - x), phi = sqrt(2/beta) asin(sqrt x);
**   tanh: s'(s^-1(x)) = 1 - x^2, phi = asin(x).
** The geodesic solver reaches 1e-8 relative (its documented accuracy). */
static double phi_logistic(double x) { return 2 * asin(sqrt(x)); }
static double phi_soft(double x) { return sqrt(2 / 0.25) * asin(sqrt(x)); }
static double phi_tanh(double x) { return asin(x); }

START_TEST(test_geodesic_closed_forms) {
  env e;
  env_open_flows(&e);
  ck_assert_int_eq(hnn_define(e.S, "beta", "0.25"), HNN_OK);
  load_ok(&e, "use \"activations\"\n"
              "metric GL = hopfield(logistic)\n"
              "metric GS = hopfield(soft_projection)\n"
              "metric GT = hopfield(tanh_act)\n");
  const char *names[] = { "GL", "GS", "GT" };
  double (*phi[])(double) = { phi_logistic, phi_soft, phi_tanh };
  double lo[] = { 0, 0, -1 };
  srand(12345);
  enum { N = 3 };
  for (int m = 0; m < 3; m++)
    for (int trial = 0; trial < 4; trial++) {
      double x[N], y[N], z[N];
      for (int i = 0; i < N; i++) {
        x[i] = urand(lo[m] + 0.02, 0.98);
        y[i] = urand(lo[m] + 0.02, 0.98);
        z[i] = urand(lo[m] + 0.02, 0.98);
      }
      double s = 0;
      for (int i = 0; i < N; i++) s += pow(phi[m](x[i]) - phi[m](y[i]), 2);
      double want = sqrt(s), dxy = geod(&e, names[m], x, y, N);
      report("%s: geodesic rel err %.3g", names[m], fabs(dxy - want) / want);
      ck_assert_msg(fabs(dxy - want) <= 1e-8 * want, "%s: geodesic %.17g, closed form %.17g", names[m], dxy, want);
      double dyx = geod(&e, names[m], y, x, N), dyz = geod(&e, names[m], y, z, N), dxz = geod(&e, names[m], x, z, N);
      ck_assert_msg(fabs(dxy - dyx) <= 1e-8 * dxy, "%s: not symmetric: %.17g vs %.17g", names[m], dxy, dyx);
      ck_assert_msg(dxz <= (dxy + dyz) * (1 + 1e-8), "%s: triangle inequality fails", names[m]);
    }
  double x[2] = { 0.3, 0.6 };
  ck_assert_double_eq_tol(geod(&e, "GL", x, x, 2), 0, 1e-12);
  env_close(&e);
}
END_TEST

/* psi with grad psi = s^-1 = logit is the negative bit entropy, whose
** Bregman divergence is the bit KL divergence (quadrature-free: 1e-10). */
/* geodesic(G) as a flow writes the path: for the soft projection it is
** gamma_i(t) = sin^2((1-t) asin sqrt x_i + t asin sqrt y_i) (eq. 29; the
** metric's constant factor cancels in the path).  Shooting to 1e-10 and
** rk8pd at 1e-13 leave ~1e-10 on the points; the test asks 1e-8. */
START_TEST(test_geodesic_path) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "activation sp(u) = 0.5*tanh(0.25*(u - 0.5)) + 0.5\n"
              "metric G = hopfield(sp)\n"
              "flow path = geodesic(G)\n"
              "run path from [0.2, 0.7] to [0.9, 0.1] points 21 -> \"path.csv\"\n");
  csv c = read_csv(&e, "path.csv");
  ck_assert_int_eq(c.rows, 21);
  ck_assert_int_eq(c.cols, 4);
  const double x[2] = { 0.2, 0.7 }, y[2] = { 0.9, 0.1 };
  double worst = 0;
  for (int r = 0; r < 21; r++) {
    double t = at(&c, r, 0);
    ck_assert_double_eq_tol(t, r / 20.0, 1e-15);
    for (int i = 0; i < 2; i++) {
      double g = pow(sin((1 - t) * asin(sqrt(x[i])) + t * asin(sqrt(y[i]))), 2);
      worst = fmax(worst, fabs(at(&c, r, 2 + i) - g));
    }
  }
  report("geodesic path against eq. 29: %.2e", worst);
  ck_assert_msg(worst < 1e-8, "path off eq. 29 by %g", worst);
  char *s = out_text(&e);
  char *p = strstr(s, "geodesic distance d_G = ");
  ck_assert_ptr_nonnull(p);
  double d = strtod(p + strlen("geodesic distance d_G = "), NULL), want = 0;
  for (int i = 0; i < 2; i++) want += pow(sqrt(8.0) * (asin(sqrt(x[i])) - asin(sqrt(y[i]))), 2);
  ck_assert_double_eq_tol(d, sqrt(want), 1e-8 * sqrt(want));
  free(s);
  free(c.d);
  env_close(&e);
}
END_TEST

START_TEST(test_bregman_is_bit_kl) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "use \"activations\"\nmirror psi = hopfield(logistic)\n");
  srand(777);
  for (int trial = 0; trial < 5; trial++) {
    double x[4], y[4], kl = 0;
    for (int i = 0; i < 4; i++) {
      x[i] = urand(0.01, 0.99), y[i] = urand(0.01, 0.99);
      kl += x[i] * log(x[i] / y[i]) + (1 - x[i]) * log((1 - x[i]) / (1 - y[i]));
    }
    char a[512], b[512], ex[1200];
    vec_text(a, sizeof a, x, 4);
    vec_text(b, sizeof b, y, 4);
    snprintf(ex, sizeof ex, "bregman(psi, %s, %s)", a, b);
    double d = eval1(&e, ex);
    report("bregman vs KL: abs err %.3g", fabs(d - kl));
    ck_assert_msg(fabs(d - kl) <= 1e-10 * fmax(1, kl), "bregman %.17g, KL %.17g", d, kl);
  }
  env_close(&e);
}
END_TEST

/* ------------------------------------------------------ partition and gibbs */

/* Z = int_box exp(-f/T) is computed by a fixed tensor Gauss-Legendre rule
** (8 panels x 8 nodes per axis) for n <= 2.  For Gaussians whose standard
** deviations are ~1/10 of the box or more, that rule is accurate to ~1e-8
** relative; the tails outside [-8, 8] are below e^-16. */
START_TEST(test_partition_and_gibbs) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "objective f1(x[1]) = 0.5*x[1]^2\n"
              "objective f2(x[2]) = 0.25*x[1]^2 + 1.5*x[2]^2\n");
  double T = 0.7, Z1 = sqrt(2 * M_PI * T);
  double z = eval1(&e, "partition(f1, 0.7, [-8, 8])");
  report("partition 1-D rel err %.3g", fabs(z - Z1) / Z1);
  ck_assert_msg(fabs(z - Z1) <= 1e-8 * Z1, "1-D: Z = %.17g, exact %.17g", z, Z1);
  double g = eval1(&e, "gibbs(f1, 0.7, [0.4], [-8, 8])");
  ck_assert_double_eq_tol(g, exp(-0.08 / T) / Z1, 1e-8 * g);
  /* 2-D: variances T/(1/2) and T/3 */
  T = 1;
  double Z2 = 2 * M_PI * T / sqrt(0.5 * 3);
  z = eval1(&e, "partition(f2, 1, [-8, 8])");
  report("partition 2-D rel err %.3g", fabs(z - Z2) / Z2);
  ck_assert_msg(fabs(z - Z2) <= 1e-6 * Z2, "2-D: Z = %.17g, exact %.17g", z, Z2);
  g = eval1(&e, "gibbs(f2, 1, [0.3, -0.2], [-8, 8])");
  double want = exp(-(0.25 * 0.09 + 1.5 * 0.04)) / Z2;
  ck_assert_msg(fabs(g - want) <= 1e-6 * want, "2-D gibbs %.17g, exact %.17g", g, want);
  /* the default box is [0, 1]^n: Z of f = 0 is the volume 1 */
  ck_assert_double_eq_tol(eval1(&e, "partition(f1, 1) - sqrt(2*pi)*(erf(1/sqrt(2))/2)"), 0, 1e-10);
  env_close(&e);
}
END_TEST

/* -------------------------------------------------------- particle flows */

/* The OU problem f = |x|^2/2, G = I, T: dX = -X dt + sqrt(2T) dW from
** N(m0, diag(v0)): exactly m(t) = m0 e^-t, var v0 e^-2t + T(1 - e^-2t).
** Euler-Maruyama with step h has its own exact moments m0 (1-h)^k and
** v_{k+1} = (1-h)^2 v_k + 2 T h, which differ from the exact law by O(h)
** (the weak error); the bound used is that difference, computed, plus five
** standard errors of the N-particle estimates. */
typedef struct {
  double mean, var;
} moments;

static moments ou_exact(double m0, double v0, double T, double t) {
  moments r = { m0 * exp(-t), v0 * exp(-2 * t) + T * (1 - exp(-2 * t)) };
  return r;
}

static moments ou_em(double m0, double v0, double T, double h, long k) {
  moments r = { m0, v0 };
  for (long i = 0; i < k; i++) {
    r.mean *= 1 - h;
    r.var = (1 - h) * (1 - h) * r.var + 2 * T * h;
  }
  return r;
}

/* Check monitor row r (columns t, step, mean1, mean2, cov11, cov12, cov21, cov22, ...). */
static void check_ou_row(const csv *m, int r, int N, double T, double h) {
  double m0[2] = { 1, -1 }, v0[2] = { 0.1, 0.2 };
  double t = at(m, r, 0);
  long k = lround(at(m, r, 1));
  for (int i = 0; i < 2; i++) {
    moments ex = ou_exact(m0[i], v0[i], T, t), em = ou_em(m0[i], v0[i], T, h, k);
    double mean = at(m, r, 2 + i), var = at(m, r, 4 + 3 * i);
    double tol_m = 5 * sqrt(ex.var / N) + fabs(em.mean - ex.mean);
    double tol_v = 5 * ex.var * sqrt(2.0 / (N - 1)) + fabs(em.var - ex.var);
    report("t = %g N = %d: mean%d err %.3g (tol %.3g), var err %.3g (tol %.3g)", t, N, i + 1, fabs(mean - ex.mean), tol_m,
           fabs(var - ex.var), tol_v);
    ck_assert_msg(fabs(mean - ex.mean) <= tol_m, "t = %g: mean%d %g, exact %g (tol %g)", t, i + 1, mean, ex.mean, tol_m);
    ck_assert_msg(fabs(var - ex.var) <= tol_v, "t = %g: var%d %g, exact %g (tol %g)", t, i + 1, var, ex.var, tol_v);
  }
  /* independent coordinates: the covariance is 0 within 5 standard errors */
  moments a = ou_exact(m0[0], v0[0], T, t), b = ou_exact(m0[1], v0[1], T, t);
  ck_assert_msg(fabs(at(m, r, 5)) <= 5 * sqrt(a.var * b.var / N), "t = %g: cov12 %g", t, at(m, r, 5));
  ck_assert_double_eq(at(m, r, 5), at(m, r, 6));
}

START_TEST(test_diffusion_ou) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "objective f(x[2]) = 0.5*norm2(x)\n"
              "metric E = euclidean\n"
              "flow ou = diffusion(f, E, T = 0.5)\n"
              "run ou from normal([1, -1], [0.1, 0.2]) particles 4000 h 0.01 steps 100 every 25 -> \"ou.csv\"\n");
  csv m = read_csv(&e, "ou_monitor.csv");
  ck_assert_int_eq(m.cols, 2 + 2 + 4 + 2);   /* t, step, mean, cov, f_mean, absorbed */
  ck_assert_int_eq(m.rows, 5);
  for (int r = 0; r < m.rows; r++) check_ou_row(&m, r, 4000, 0.5, 0.01);
  ck_assert_double_eq_tol(at(&m, m.rows - 1, 0), 1, 1e-12);
  /* the particle file: t, step, particle, x1, x2, f for each particle */
  csv p = read_csv(&e, "ou.csv");
  ck_assert_int_eq(p.cols, 6);
  ck_assert_int_eq(p.rows, 5 * 4000);
  free(m.d), free(p.d);
  env_close(&e);
}
END_TEST

/* The same OU problem by the Wasserstein proximal recursion: the particles
** move by the same SDE (so the moments obey the same bound), the free
** energy F = E[f] + T E[log rho] decreases towards its minimum -T log Z up
** to the noise of a 300-particle estimate, and every fixed point converged. */
START_TEST(test_wasserstein_ou) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "objective f(x[2]) = 0.5*norm2(x)\n"
              "metric E = euclidean\n"
              "flow w = wasserstein(f, E, T = 0.5, eps = 0.1)\n"
              "run w from normal([1, -1], [0.1, 0.2]) particles 300 h 0.01 steps 60 every 10 -> \"w.csv\"\n");
  csv m = read_csv(&e, "w_monitor.csv");
  ck_assert_int_eq(m.cols, 2 + 2 + 4 + 1 + 4);   /* ..., f_mean, free_energy, iterations, marginal_error, converged */
  ck_assert_int_eq(m.rows, 7);
  for (int r = 0; r < m.rows; r++) {
    check_ou_row(&m, r, 300, 0.5, 0.01);
    ck_assert_double_eq(at(&m, r, 12), 1);
    if (r > 0) ck_assert_msg(at(&m, r, 9) <= at(&m, r - 1, 9) + 0.02, "free energy rose at row %d", r);
  }
  double F0 = at(&m, 0, 9), F1 = at(&m, m.rows - 1, 9), Fmin = -0.5 * log(2 * M_PI * 0.5);
  report("wasserstein free energy %g -> %g (minimum -T log Z = %g)", F0, F1, Fmin);
  ck_assert_msg(F1 < F0 - 0.3 && F1 > Fmin - 0.1, "free energy %g -> %g (minimum %g)", F0, F1, Fmin);
  csv p = read_csv(&e, "w.csv");
  ck_assert_int_eq(p.cols, 7);   /* t, step, particle, x1, x2, rho, f */
  free(m.d), free(p.d);
  env_close(&e);
}
END_TEST

/* The cost of a hopfield(s) metric is the exact squared geodesic distance,
** through the separable coordinates phi (quadrature of sqrt(s') in the hidden
** coordinate).  Each step of a language run is recomputed here from its own
** CSV (old and new points, old rho, f at the new points) with the closed form
** phi(x) = sqrt(2/beta) asin(sqrt x) of the soft projection: the quadrature
** is good to 1e-12 and the fixed point to tol = 1e-12, so the densities
** must agree to 1e-8.  The midpoint rule would miss by ~1e-2. */
static const double SP_BETA = 0.25;
static int sp_phi(const double *x, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  for (int d = 0; d < 2; d++) out[d] = sqrt(2 / SP_BETA) * asin(sqrt(x[d]));
  return 0;
}

START_TEST(test_wasserstein_hopfield_cost) {
  env e;
  env_open_flows(&e);
  const int N = 200;
  load_ok(&e, "activation s(u) = 0.5*tanh(0.25*(u - 0.5)) + 0.5\n"
              "metric G = hopfield(s)\n"
              "objective f(x[2]) = ((10*x[1] - 5)^2 + 10*x[2] - 16)^2 + (10*x[1] - 12 + (10*x[2] - 5)^2)^2\n"
              "flow w = wasserstein(f, G, T = 25, eps = 0.1)\n"
              "run w from uniform([0, 1]^2) particles 200 h 1e-4 steps 3 every 1 boundary reflect"
              " tol 1e-12 normalize none precision double -> \"w.csv\"\n");
  csv c = read_csv(&e, "w.csv");
  ck_assert_int_eq(c.rows, 4 * N);
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 2;
  p.geo_coord.fn = sp_phi;
  prox_opts o;
  prox_opts_default(&o);
  o.eps = 0.1, o.T = 25, o.h = 1e-4, o.tol = 1e-12, o.norm = PROX_NORM_NONE, o.kernel_prec = PROX_DOUBLE;
  prox_ws *w = prox_ws_alloc(2, (size_t)N);
  double xo[400], xn[400], ro[200], fn[200], rn[200];
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < N; i++) {
      int a = k * N + i, b = (k + 1) * N + i;
      xo[2 * i] = at(&c, a, 3), xo[2 * i + 1] = at(&c, a, 4), ro[i] = at(&c, a, 5);
      xn[2 * i] = at(&c, b, 3), xn[2 * i + 1] = at(&c, b, 4), fn[i] = at(&c, b, 6);
    }
    ck_assert_int_eq(prox_step(w, &p, &o, (size_t)N, xo, xn, ro, fn, rn, NULL), PROX_OK);
    double num = 0, den = 0;
    for (int i = 0; i < N; i++) {
      double v = at(&c, (k + 1) * N + i, 5);
      num += (v - rn[i]) * (v - rn[i]), den += rn[i] * rn[i];
    }
    report("hopfield cost, step %d: rho against the closed-form coordinates %.2e", k + 1, sqrt(num / den));
    ck_assert_msg(sqrt(num / den) < 1e-8, "step %d: %g", k + 1, sqrt(num / den));
  }
  prox_ws_free(w);
  free(c.d);
  env_close(&e);
}
END_TEST

/* `sums fast` in a language run: the same Hopfield-cost steps as above,
** through the kernel-sum engine with sums_tol 1e-6 (docs/prox.md): each
** log density within 2 sums_tol (1 + p)/(1 - p) = 2.1e-6 (p = 1/41) of
** the exact step, plus the 1e-8 of the test above; the same in relative L2. */
START_TEST(test_wasserstein_kernel_fast) {
  env e;
  env_open_flows(&e);
  const int N = 200;
  load_ok(&e, "activation s(u) = 0.5*tanh(0.25*(u - 0.5)) + 0.5\n"
              "metric G = hopfield(s)\n"
              "objective f(x[2]) = ((10*x[1] - 5)^2 + 10*x[2] - 16)^2 + (10*x[1] - 12 + (10*x[2] - 5)^2)^2\n"
              "flow w = wasserstein(f, G, T = 25, eps = 0.1)\n"
              "run w from uniform([0, 1]^2) particles 200 h 1e-4 steps 3 every 1 boundary reflect"
              " tol 1e-12 normalize none sums fast sums_tol 1e-6 -> \"w.csv\"\n");
  csv c = read_csv(&e, "w.csv");
  ck_assert_int_eq(c.rows, 4 * N);
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 2;
  p.geo_coord.fn = sp_phi;
  prox_opts o;
  prox_opts_default(&o);
  o.eps = 0.1, o.T = 25, o.h = 1e-4, o.tol = 1e-12, o.norm = PROX_NORM_NONE, o.kernel_prec = PROX_DOUBLE;
  o.kernel = PROX_KERNEL_DIRECT;
  const double pw = 1 / (1 + o.eps / (o.T * o.h)), bound = 2e-6 * (1 + pw) / (1 - pw) + 1e-8;
  prox_ws *w = prox_ws_alloc(2, (size_t)N);
  double xo[400], xn[400], ro[200], fn[200], rn[200];
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < N; i++) {
      int a = k * N + i, b = (k + 1) * N + i;
      xo[2 * i] = at(&c, a, 3), xo[2 * i + 1] = at(&c, a, 4), ro[i] = at(&c, a, 5);
      xn[2 * i] = at(&c, b, 3), xn[2 * i + 1] = at(&c, b, 4), fn[i] = at(&c, b, 6);
    }
    ck_assert_int_eq(prox_step(w, &p, &o, (size_t)N, xo, xn, ro, fn, rn, NULL), PROX_OK);
    double worst = 0;
    for (int i = 0; i < N; i++) {
      double d = fabs(log(at(&c, (k + 1) * N + i, 5)) - log(rn[i]));
      worst = d > worst || isnan(d) ? d : worst;
    }
    report("sums fast, step %d: max |log rho diff| against the exact step %.2e (bound %.2e)", k + 1, worst, bound);
    ck_assert_msg(worst <= bound, "step %d: %g", k + 1, worst);
  }
  prox_ws_free(w);
  free(c.d);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------ augmented Lagrangian */

/* minimize 0.5 |z - c|^2 subject to sum(z) = 1, z in (0, 1) through the
** logistic activation.  KKT: z = c - nu 1 with nu = (sum(c) - 1)/3; for
** c = [0.9, 0.35, 0.15], nu = 0.4/3 and z* = [0.7667, 0.2167, 0.0167], inside
** (0, 1), so the box is inactive.  The summary prints the final constraint
** violation and z* rounded to integers (all a script can see of z*: the run
** file has only distances to z*). */
START_TEST(test_augmented_lagrangian_kkt) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "activation lg(u) = 1/(1 + exp(-u))\n"
              "param c[3] = [0.9, 0.35, 0.15]\n"
              "objective J(z[3]) = 0.5*norm2(z - c)\n"
              "function total(z[3]) = sum(z) - 1\n"
              "flow al = augmented_lagrangian(J, [total], lg, step = 0.05, dual_step = 0.5)\n"
              "param z0[3] = 0.5\n"
              "run al from z0 repeat 2 steps 150 tol 1e-10 -> \"al.csv\"\n");
  char *s = out_text(&e);
  double viol = NAN;
  char *p = strstr(s, "largest final |total| over the runs: ");
  ck_assert_msg(p != NULL, "summary: %s", s);
  viol = strtod(p + strlen("largest final |total| over the runs: "), NULL);
  ck_assert_msg(viol < 1e-8, "constraint violation %g", viol);
  report("augmented_lagrangian: final violation %g", viol);
  /* z* = c - nu, nu = (1.4 - 1)/3: [0.7667, 0.2167, 0.0167], rounded 1 0 0 */
  ck_assert_msg(strstr(s, "z* of run 1, rounded: 1 0 0\n") != NULL, "summary: %s", s);
  free(s);
  /* rows: t, step, run, d_geodesic, d_euclidean, subiterations; the
  ** distance to z* shrinks to 0 over the dual iterations */
  csv c = read_csv(&e, "al.csv");
  ck_assert_int_eq(c.cols, 6);
  ck_assert_int_eq(c.rows, 300);
  ck_assert(at(&c, 0, 4) > 1e-3);
  ck_assert(at(&c, 149, 4) < 1e-12);
  free(c.d);
  /* al_zstar.csv: t, step, run, z1..z3, lambda1, violation_total per run.
  ** The KKT point to the method's tolerance (violation < 1e-8 above, so z*
  ** within ~1e-8 of it: the problem is 1-strongly convex) */
  csv z = read_csv(&e, "al_zstar.csv");
  ck_assert_int_eq(z.cols, 3 + 3 + 1 + 1);
  ck_assert_int_eq(z.rows, 2);
  const double kkt[3] = { 0.9 - 0.4 / 3, 0.35 - 0.4 / 3, 0.15 - 0.4 / 3 };
  for (int r = 0; r < 2; r++) {
    for (int i = 0; i < 3; i++) ck_assert_double_eq_tol(at(&z, r, 3 + i), kkt[i], 1e-7);
    ck_assert_double_eq_tol(at(&z, r, 6), 0.4 / 3, 1e-6);   /* the multiplier is nu */
    ck_assert(at(&z, r, 7) < 1e-8);
  }
  free(z.d);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------------------- plot */

START_TEST(test_plot_statement) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "use \"activations\"\nuse \"objectives\"\n"
              "flow det = hopfield(himmelblau, logistic)\n"
              "run det from [0.2, 0.7] until 0.05 method rk8pd dt 0.005 -> \"det.csv\"\n"
              "plot contour(himmelblau, [0, 1]^2), \"det.csv\" -> \"det.png\"\n"
              "plot \"det.csv\" x t y f logy 1 -> \"f.png\"\n");
  const char *files[] = { "det.png", "f.png" };
  for (int i = 0; i < 2; i++) {
    char path[256];
    unsigned char magic[8] = { 0 };
    snprintf(path, sizeof path, "%s/%s", e.dir, files[i]);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no %s", path);
    ck_assert_int_eq((int)fread(magic, 1, 8, f), 8);
    fclose(f);
    ck_assert(memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0);
  }
  int st = hnn_load_string(e.S, "plot contour(himmelblau, [0, 1]^2) -> \"det.jpg\"\n", "bad.hnn");
  ck_assert_int_eq(st, HNN_ERR_SCRIPT);
  ck_assert_msg(strstr(hnn_error(e.S), ".png") != NULL, "message: %s", hnn_error(e.S));
  env_close(&e);
}
END_TEST

/* ------------------------------------------------- the compiled vector field */

/* The one-piece vector field the front end compiles for ODE flows (gradient,
** Hopfield, diagonal natural gradient) against the same field composed by
** the engine from the separate callbacks (grad, s, G^-1), at 50 points each.
** Same mathematics, different operation order: only rounding may differ,
** so 1e-13 relative (the fields reach 1e3 here; f's terms cancel to ~1e-15
** relative each).  A full metric is left to the engine (no field). */
START_TEST(test_flow_field_matches_composed) {
  env e;
  env_open_flows(&e);
  load_ok(&e, "use \"activations\"\nuse \"objectives\"\n"
              "objective mixed(a, b[2], c) = (a - 1)^2*b[1] + exp(c*b[2]) + a*c^3 + b[1]^4\n"
              "objective sq(x[n]) = sum(x^4) + dot(x, x)^2\n"
              "metric Gs = hopfield(soft_projection)\n"
              "metric Gd(x[2]) = diag(2 + x^2 + sin(3*x))\n"
              "metric Gf(x[2]) = [[2 + x[1]^2, x[1]*x[2]/2], [x[1]*x[2]/2, 2 + x[2]^2]]\n"
              "flow g1 = gradient(mixed)\n"
              "flow h1 = hopfield(himmelblau, logistic)\n"
              "flow h2 = hopfield(mixed, tanh_act)\n"
              "flow h3 = hopfield(sq, soft_projection)\n"
              "flow n1 = natural_gradient(sq, Gs)\n"
              "flow n2 = natural_gradient(himmelblau, Gd)\n"
              "flow n3 = natural_gradient(himmelblau, Gf)\n");
  struct { const char *flow; int n, nsize; ode_flow_kind kind; double lo, hi; int has_field; } c[] = {
    { "g1", 4, -1, ODE_GRADIENT, -1, 1, 1 },
    { "h1", 2, -1, ODE_HOPFIELD, -3, 3, 1 },
    { "h2", 4, -1, ODE_HOPFIELD, -1, 1, 1 },
    { "h3", 7, 7, ODE_HOPFIELD, -2, 2, 1 },
    { "n1", 7, 7, ODE_NATURAL_GRADIENT, 0.05, 0.95, 1 },
    { "n2", 2, -1, ODE_NATURAL_GRADIENT, 0.1, 0.9, 1 },
    { "n3", 2, -1, ODE_NATURAL_GRADIENT, 0.1, 0.9, 0 },
  };
  unsigned long long r = 12345;
  for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
    sym *fl = state_lookup(e.S, c[k].flow);
    ck_assert_ptr_nonnull(fl);
    ck_assert_int_eq(sema_check_sym(e.S, fl), 0);
    flow_problem P;
    ck_assert_msg(ode_kind_problem(e.S, fl, c[k].nsize, c[k].n, 0, &P) == 0, "%s", c[k].flow);
    ck_assert_int_eq(P.field.fn != NULL, c[k].has_field);
    flow_problem Q = P;
    Q.field.fn = NULL;
    double worst = 0;
    for (int t = 0; t < 50; t++) {
      double y[8], F[8], G[8], scale = 0, diff = 0;
      for (int i = 0; i < c[k].n; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        y[i] = c[k].lo + (c[k].hi - c[k].lo) * (double)(r >> 11) / 9007199254740992.0;
      }
      ck_assert_int_eq(ode_eval(&P, c[k].kind, y, F, NULL), 0);
      ck_assert_int_eq(ode_eval(&Q, c[k].kind, y, G, NULL), 0);
      for (int i = 0; i < c[k].n; i++) {
        scale = fmax(scale, fabs(G[i]));
        diff = fmax(diff, fabs(F[i] - G[i]));
      }
      ck_assert(scale > 0);
      worst = fmax(worst, diff / scale);
    }
    ck_assert_msg(worst < 1e-13, "%s: field vs composed, relative %g", c[k].flow, worst);
    report("field %s: worst relative difference %.3g", c[k].flow, worst);
  }
  env_close(&e);
}
END_TEST

/* Every kind of the table provides every entry point, a usage line that
** starts with its name, and an option list; names are unique. */
START_TEST(test_flow_kinds_complete) {
  size_t n = 0;
  for (const flow_kind *k; (k = flows_kind_at(n)); n++) {
    ck_assert_msg(k->name && k->usage && strncmp(k->usage, k->name, strlen(k->name)) == 0, "kind %zu", n);
    ck_assert_msg(k->options && k->check_run && k->prepare && k->compile && k->run && k->release, "%s", k->name);
    /* roles for the generic declaration check, or a check of its own */
    ck_assert_msg((k->nroles >= 1 && k->nroles <= 3) || k->check_decl, "%s", k->name);
    for (size_t j = 0; j < n; j++) ck_assert_str_ne(flows_kind_at(j)->name, k->name);
  }
  ck_assert_uint_ge(n, 22);
}
END_TEST

static Suite *flows_suite(void) {
  Suite *s = suite_create("flows");
  TCase *t = tcase_create("flows");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, test_hopfield_is_natural_gradient_himmelblau);
  tcase_add_test(t, test_hopfield_is_natural_gradient_quadratic50);
  tcase_add_test(t, test_mirror_descent_first_order);
  tcase_add_test(t, test_gradient_descent_quadratic);
  tcase_add_test(t, test_gradient_descent_rosenbrock);
  tcase_add_test(t, test_tol_stops_early);
  tcase_add_test(t, test_blowup_is_runtime_error);
  tcase_add_test(t, test_geodesic_closed_forms);
  tcase_add_test(t, test_geodesic_path);
  tcase_add_test(t, test_bregman_is_bit_kl);
  tcase_add_test(t, test_partition_and_gibbs);
  tcase_add_test(t, test_diffusion_ou);
  tcase_add_test(t, test_wasserstein_ou);
  tcase_add_test(t, test_wasserstein_hopfield_cost);
  tcase_add_test(t, test_wasserstein_kernel_fast);
  tcase_add_test(t, test_augmented_lagrangian_kkt);
  tcase_add_test(t, test_plot_statement);
  tcase_add_test(t, test_flow_field_matches_composed);
  tcase_add_test(t, test_flow_kinds_complete);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  return check_run(flows_suite());
}
