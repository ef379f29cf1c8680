/*
** check_ode.c — unit tests for runtime/ode.c and runtime/discrete.c.
**
** Problems are filled by hand with plain C callbacks (testprobs.h).  Each
** tolerance is justified where it is used, from the method's order:
** adaptive methods at local tolerance tol give global errors ~ a few x tol
** on these contracting flows; fixed-step RK4 has global error O(h^4);
** one-step discrete schemes (gradient descent, eq. 5, mirror descent) are
** Euler-type and converge with order 1, so halving h halves the error.
*/
#include <check.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "discrete.h"
#include "ode.h"
#include "testprobs.h"

/* ---- output collector */
#define MAXOUT 4096
typedef struct coll {
  int m, n;
  double t[MAXOUT];
  long step[MAXOUT];
  double x[MAXOUT][TP_MAXN];
} coll;

static int collect(void *ctx, double t, long step, const double *x, int n) {
  coll *c = ctx;
  if (c->m >= MAXOUT) return 1;
  c->t[c->m] = t;
  c->step[c->m] = step;
  c->n = n;
  memcpy(c->x[c->m], x, sizeof(double) * n);
  c->m++;
  return 0;
}

static double maxdiff(const double *a, const double *b, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

/* ---- gradient flow of a diagonal quadratic: x(t) = exp(-Q t) x0, every method */
START_TEST(test_quadratic_closed_form) {
  double q[3] = { 1, 2, 5 }, x0[3] = { 1, -1, 0.5 }, x[3], want[3];
  memcpy(tp_q, q, sizeof q);
  memset(tp_c, 0, sizeof tp_c);
  tp_set_diag_quadratic(3);
  flow_problem p = tp_quadratic(3, 0);
  for (int m = 0; m < ODE_NMETHODS; m++) {
    ode_options o;
    ode_options_default(&o);
    o.method = m;
    o.t_end = 2;
    o.atol = o.rtol = 1e-11;
    ode_result r;
    int st = ode_run(&p, ODE_GRADIENT, NULL, &o, x0, x, NULL, NULL, &r);
    ck_assert_msg(st == 0, "%s: %s", ode_method_name(m), r.msg);
    ck_assert_int_eq(r.reason, ODE_STOP_TIME);
    ck_assert(r.t == 2);
    for (int i = 0; i < 3; i++) want[i] = exp(-q[i] * 2) * x0[i];
    /* local tolerance 1e-11 on a contracting linear flow: the global error is
    ** bounded by ~ (steps x tol); 1e-7 leaves room for the low-order methods
    ** (rk2, rk1imp at 1e-11 take 10^4-10^5 steps). */
    double e = maxdiff(x, want, 3);
    double bound = m == ODE_RK1IMP ? 1e-6 : 1e-7;   /* order 1: ~sqrt(tol) steps */
    ck_assert_msg(e < bound, "%s: error %g", ode_method_name(m), e);
  }
}
END_TEST

/* ---- fixed-step RK4 (own loop): order 4, error ratio 16 when h halves */
START_TEST(test_rk4_fixed_order) {
  double q[2] = { 1, 3 }, x0[2] = { 1, 2 }, x[2], want[2], err[2];
  memcpy(tp_q, q, sizeof q);
  memset(tp_c, 0, sizeof tp_c);
  tp_set_diag_quadratic(2);
  flow_problem p = tp_quadratic(2, 0);
  for (int i = 0; i < 2; i++) want[i] = exp(-q[i]) * x0[i];
  for (int k = 0; k < 2; k++) {
    ode_options o;
    ode_options_default(&o);
    o.method = ODE_RK4;
    o.fixed = 1;
    o.h = k ? 0.025 : 0.05;
    ode_result r;
    ck_assert_int_eq(ode_run(&p, ODE_GRADIENT, NULL, &o, x0, x, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.steps, k ? 40 : 20);
    err[k] = maxdiff(x, want, 2);
  }
  /* 2^4 = 16; the next term of the error expansion shifts it by O(h) */
  ck_assert_msg(err[0] / err[1] > 14 && err[0] / err[1] < 18, "ratio %g", err[0] / err[1]);
  ck_assert(err[1] < 1e-6);
}
END_TEST

/* ---- every gsl method also runs with fixed steps, with output every dt */
START_TEST(test_fixed_gsl_methods) {
  double q[2] = { 1, 3 }, x0[2] = { 1, 2 }, x[2], want[2];
  memcpy(tp_q, q, sizeof q);
  memset(tp_c, 0, sizeof tp_c);
  tp_set_diag_quadratic(2);
  flow_problem p = tp_quadratic(2, 0);
  for (int i = 0; i < 2; i++) want[i] = exp(-q[i]) * x0[i];
  static coll c;
  for (int m = 0; m < ODE_NMETHODS; m++) {
    ode_options o;
    ode_options_default(&o);
    o.method = m;
    o.fixed = 1;
    o.h = 1e-3;
    o.out_dt = 0.1;
    ode_result r;
    c.m = 0;
    int st = ode_run(&p, ODE_GRADIENT, NULL, &o, x0, x, collect, &c, &r);
    if (m == ODE_MSADAMS || m == ODE_MSBDF || m == ODE_RK1IMP) {   /* adaptive only: usage error */
      ck_assert_int_eq(st, 2);
      continue;
    }
    ck_assert_msg(st == 0, "%s: %s", ode_method_name(m), r.msg);
    ck_assert_int_eq(r.steps, 1000);
    ck_assert_int_eq(c.m, 11);     /* t = 0, 0.1, ..., 1 */
    ck_assert(fabs(c.t[5] - 0.5) < 1e-12);
    /* first-order methods (rk1imp) at h = 1e-3: error ~ h |x''| t / 2 ~ 5e-3 */
    ck_assert_msg(maxdiff(x, want, 2) < 1e-2, "%s", ode_method_name(m));
  }
}
END_TEST

/* ---- the Jacobians of ode_eval against central differences */
static void check_jac(const flow_problem *p, ode_flow_kind k, const double *y) {
  int n = p->n;
  double F[TP_MAXN], Fp[TP_MAXN], Fm[TP_MAXN], J[TP_MAXN * TP_MAXN], yy[TP_MAXN];
  ck_assert_int_eq(ode_eval(p, k, y, F, J), 0);
  for (int j = 0; j < n; j++) {
    double h = 1e-6 * fmax(1, fabs(y[j]));
    memcpy(yy, y, sizeof(double) * n);
    yy[j] = y[j] + h;
    ck_assert_int_eq(ode_eval(p, k, yy, Fp, NULL), 0);
    yy[j] = y[j] - h;
    ck_assert_int_eq(ode_eval(p, k, yy, Fm, NULL), 0);
    for (int i = 0; i < n; i++) {
      double fd = (Fp[i] - Fm[i]) / (2 * h);
      /* central differences: O(h^2) truncation + eps|F|/h rounding ~ 1e-8 relative */
      ck_assert_msg(fabs(fd - J[i * n + j]) < 1e-5 * (1 + fabs(fd)), "%s J[%d][%d] %g vs %g",
                    ode_flow_name(k), i, j, J[i * n + j], fd);
    }
  }
}

START_TEST(test_jacobians) {
  double x[2] = { 0.3, 0.7 }, u[2];
  for (int a = 0; a < 2; a++) {
    flow_problem p = tp_himmelblau(a ? 's' : 'l');
    check_jac(&p, ODE_GRADIENT, x);
    check_jac(&p, ODE_NATURAL_GRADIENT, x);
    p.act_inv.fn(x, NULL, u, NULL);
    check_jac(&p, ODE_HOPFIELD, u);
  }
}
END_TEST

/* ---- D1 = D2: hopfield(f, s) and natural_gradient(f, hopfield(s)) */
static void compare_flows(flow_problem *p, const double *x0, double t_end, ode_method m, double tol,
                          double bound) {
  static coll a, b;
  ode_options o;
  ode_options_default(&o);
  o.method = m;
  o.t_end = t_end;
  o.atol = o.rtol = tol;
  o.out_dt = t_end / 50;
  ode_result r;
  a.m = b.m = 0;
  ck_assert_msg(ode_run(p, ODE_HOPFIELD, NULL, &o, x0, NULL, collect, &a, &r) == 0, "%s", r.msg);
  ck_assert_msg(ode_run(p, ODE_NATURAL_GRADIENT, NULL, &o, x0, NULL, collect, &b, &r) == 0, "%s", r.msg);
  ck_assert_int_eq(a.m, 51);
  ck_assert_int_eq(b.m, 51);
  double e = 0;
  for (int k = 0; k < a.m; k++) {
    ck_assert(fabs(a.t[k] - b.t[k]) < 1e-12);
    e = fmax(e, maxdiff(a.x[k], b.x[k], p->n));
  }
  ck_assert_msg(e < bound, "hopfield vs natural gradient: %g", e);
  /* the flow must actually move */
  ck_assert(maxdiff(a.x[0], a.x[50], p->n) > 1e-2);
}

START_TEST(test_hopfield_equals_natgrad_himmelblau) {
  double x0[2] = { 0.35, 0.62 };
  /* rk8pd / rkf45 at local tolerance 1e-12 / 1e-11 on both sides: each output
  ** carries a global error of a few x tol, so the two agree to ~1e-9 */
  flow_problem p = tp_himmelblau('l');
  compare_flows(&p, x0, 0.05, ODE_RK8PD, 1e-12, 1e-8);
  compare_flows(&p, x0, 0.05, ODE_RKF45, 1e-11, 1e-8);
  tp_beta = 2;
  p = tp_himmelblau('s');
  compare_flows(&p, x0, 0.05, ODE_RK8PD, 1e-12, 1e-8);
  /* implicit method with the exact Jacobians (BDF order <= 5) */
  compare_flows(&p, x0, 0.05, ODE_MSBDF, 1e-11, 1e-7);
}
END_TEST

START_TEST(test_hopfield_equals_natgrad_quad50) {
  int n = 50;
  memset(tp_Q, 0, sizeof tp_Q);
  for (int i = 0; i < n; i++) {
    tp_c[i] = 0.2 + 0.6 * i / (n - 1.0);
    for (int j = 0; j < n; j++) tp_Q[i * n + j] = i == j ? 1 + i / 10.0 : 0.01;
  }
  flow_problem p = tp_quadratic(n, 'l');
  double x0[50];
  for (int i = 0; i < n; i++) x0[i] = 0.9 - 0.8 * i / (n - 1.0);
  compare_flows(&p, x0, 20, ODE_RK8PD, 1e-12, 1e-8);
}
END_TEST

/* ---- a non-finite value stops the run with a message */
static int bad_grad(const double *x, const double *d, double *o, double *w) {
  (void)d, (void)w;
  o[0] = x[0];
  o[1] = x[1] > 3 ? NAN : -x[1] * x[1];   /* x2' = x2^2: blows up at t = 1 */
  return 0;
}

START_TEST(test_nan_message) {
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 2;
  p.grad = FN(bad_grad);
  double x0[2] = { 0.1, 1 };
  for (int k = 0; k < 2; k++) {
    ode_options o;
    ode_options_default(&o);
    o.t_end = 2;
    o.method = k ? ODE_RKF45 : ODE_RK4;
    o.fixed = !k;
    o.h = 1e-3;
    ode_result r;
    int st = ode_run(&p, ODE_GRADIENT, "blowup", &o, x0, NULL, NULL, NULL, &r);
    ck_assert_int_eq(st, 3);
    ck_assert_int_eq(r.reason, ODE_STOP_ERROR);
    ck_assert_msg(strstr(r.msg, "flow 'blowup'") && strstr(r.msg, "component x2") && strstr(r.msg, "t = "),
                  "message: %s", r.msg);
    /* x2 = 1/(1 - t) > 3 after t = 2/3 */
    double t = strtod(strstr(r.msg, "t = ") + 4, NULL);
    ck_assert_msg(t > 0.6 && t < 0.7, "t = %g", t);
  }
}
END_TEST

/* ---- stop at |grad f| < tol, at a step limit; output every k steps */
START_TEST(test_stops) {
  tp_q[0] = 1;
  tp_c[0] = 0;
  tp_set_diag_quadratic(1);
  flow_problem p = tp_quadratic(1, 0);
  double x0 = 1, x;
  ode_options o;
  ode_options_default(&o);
  o.method = ODE_RK4;
  o.fixed = 1;
  o.h = 1e-3;
  o.t_end = 100;
  o.grad_tol = 1e-3;
  ode_result r;
  ck_assert_int_eq(ode_run(&p, ODE_GRADIENT, NULL, &o, &x0, &x, NULL, NULL, &r), 0);
  ck_assert_int_eq(r.reason, ODE_STOP_GRAD);
  ck_assert(r.grad_norm < 1e-3 && fabs(x) < 1e-3);
  /* |grad| = e^-t crosses 1e-3 at t = ln 1000; the first step after it */
  ck_assert_msg(r.t >= log(1000) && r.t < log(1000) + 1.001e-3, "t = %.10g", r.t);
  /* adaptive: stops within one (accepted) step after the crossing */
  o.fixed = 0;
  o.method = ODE_RKF45;
  ck_assert_int_eq(ode_run(&p, ODE_GRADIENT, NULL, &o, &x0, &x, NULL, NULL, &r), 0);
  ck_assert_int_eq(r.reason, ODE_STOP_GRAD);
  ck_assert(r.t >= log(1000) && fabs(x) < 1e-3);

  static coll c;
  o.grad_tol = 0;
  o.max_steps = 25;
  o.out_every = 10;
  c.m = 0;
  ck_assert_int_eq(ode_run(&p, ODE_GRADIENT, NULL, &o, &x0, &x, collect, &c, &r), 0);
  ck_assert_int_eq(r.reason, ODE_STOP_MAXSTEPS);
  ck_assert_int_eq(r.steps, 25);
  ck_assert_int_eq(c.m, 4);   /* steps 0, 10, 20, 25 */
  ck_assert_int_eq(c.step[3], 25);
  o.method = ODE_RK4;
  o.fixed = 1;
  c.m = 0;
  ck_assert_int_eq(ode_run(&p, ODE_GRADIENT, NULL, &o, &x0, &x, collect, &c, &r), 0);
  ck_assert_int_eq(c.m, 4);
  ck_assert(fabs(c.t[2] - 20e-3) < 1e-15);
  /* missing callbacks are a usage error, not a crash */
  o.method = ODE_MSBDF;
  o.fixed = 0;
  p.hess.fn = NULL;
  ck_assert_int_eq(ode_run(&p, ODE_GRADIENT, NULL, &o, &x0, &x, NULL, NULL, &r), 2);
  ck_assert_msg(strstr(r.msg, "Hessian") != NULL, "%s", r.msg);
}
END_TEST

/* ---- discrete schemes converge to their flows with order 1 */
static void ref_flow(flow_problem *p, ode_flow_kind k, const double *x0, double T, double *x) {
  ode_options o;
  ode_options_default(&o);
  o.method = ODE_RK8PD;
  o.t_end = T;
  o.atol = o.rtol = 1e-13;
  ode_result r;
  ck_assert_msg(ode_run(p, k, NULL, &o, x0, x, NULL, NULL, &r) == 0, "%s", r.msg);
}

static double ratio_md(flow_problem *p, md_kind mk, ode_flow_kind fk, const double *x0, double T, long N) {
  double ref[TP_MAXN], x[TP_MAXN], e[2];
  ref_flow(p, fk, x0, T, ref);
  for (int k = 0; k < 2; k++) {
    long steps = k ? 2 * N : N;
    memcpy(x, x0, sizeof(double) * p->n);
    ode_result r;
    ck_assert_msg(md_run(p, mk, NULL, T / steps, steps, x, 0, 0, NULL, NULL, NULL, &r) == 0, "%s", r.msg);
    ck_assert_int_eq(r.steps, steps);
    e[k] = maxdiff(x, ref, p->n);
  }
  ck_assert_msg(e[1] < 1e-2, "error %g", e[1]);
  if (getenv("CHECK_VERBOSE")) fprintf(stderr, "errors %g %g ratio %g\n", e[0], e[1], e[0] / e[1]);
  return e[0] / e[1];
}

/* A first-order scheme has error C h + O(h^2): the ratio at h and h/2 is
** 2 + O(h); with N >= 200 steps the O(h) term is below ~0.1. */
#define RATIO_OK(r) ck_assert_msg((r) > 1.85 && (r) < 2.15, "error ratio %g (want ~2)", (r))

START_TEST(test_mirror_descent_follows_natgrad) {
  double x0[2] = { 0.35, 0.62 };
  flow_problem p = tp_himmelblau('l');
  RATIO_OK(ratio_md(&p, MD_MIRROR, ODE_NATURAL_GRADIENT, x0, 0.004, 400));
  RATIO_OK(ratio_md(&p, MD_NATURAL, ODE_NATURAL_GRADIENT, x0, 0.004, 400));
  tp_beta = 2;
  p = tp_himmelblau('s');
  RATIO_OK(ratio_md(&p, MD_MIRROR, ODE_HOPFIELD, x0, 0.001, 400));
}
END_TEST

START_TEST(test_gd_follows_gradient_flow) {
  double q[3] = { 1, 2, 5 }, x0[3] = { 1, -1, 0.5 };
  memcpy(tp_q, q, sizeof q);
  memset(tp_c, 0, sizeof tp_c);
  tp_set_diag_quadratic(3);
  flow_problem p = tp_quadratic(3, 0);
  RATIO_OK(ratio_md(&p, MD_GRADIENT, ODE_GRADIENT, x0, 1, 400));
  p = tp_rosenbrock();
  double y0[2] = { -1.2, 1 };
  /* stiff (max eig H ~ 1000): the asymptotic regime needs h max(eig) << 1;
  ** N = 20000 over T = 1 gives h max(eig) ~ 0.05 */
  RATIO_OK(ratio_md(&p, MD_GRADIENT, ODE_GRADIENT, y0, 1, 20000));
}
END_TEST

/* ---- Bregman divergence of the logistic mirror map = bit-entropy KL (eq. 35) */
START_TEST(test_bregman) {
  flow_problem p = tp_himmelblau('l');
  double pts[][4] = { { 0.3, 0.7, 0.5, 0.2 }, { 1e-3, 0.999, 0.4, 0.6 }, { 0.5, 0.5, 0.5, 0.5 } };
  for (int k = 0; k < 3; k++) {
    double *x = pts[k], *y = pts[k] + 2, want = 0, d1, d2;
    for (int i = 0; i < 2; i++) want += x[i] * log(x[i] / y[i]) + (1 - x[i]) * log((1 - x[i]) / (1 - y[i]));
    p.mirror_pot.fn = NULL;
    ck_assert_int_eq(md_bregman(&p, x, y, &d1), 0);
    p.mirror_pot = FN(lg_pot);
    ck_assert_int_eq(md_bregman(&p, x, y, &d2), 0);
    /* QAGS at epsrel 1e-12 (log singularity at the boundary is integrable) */
    ck_assert_msg(fabs(d1 - want) < 1e-10 * (1 + want), "quadrature %.15g vs %.15g", d1, want);
    ck_assert_msg(fabs(d2 - want) < 1e-12 * (1 + want), "closed form %.15g vs %.15g", d2, want);
    ck_assert(d1 >= 0);
  }
  /* mirror map round trip */
  double x[2] = { 0.2, 0.9 }, z[2], xx[2];
  ck_assert_int_eq(md_mirror_map(&p, x, z), 0);
  ck_assert_int_eq(md_mirror_inv(&p, z, xx), 0);
  ck_assert(maxdiff(x, xx, 2) < 1e-15);
  double psi;
  p.mirror_pot.fn = NULL;
  ck_assert_int_eq(md_potential(&p, x, &psi), 0);
  double want = 0;
  for (int i = 0; i < 2; i++) want += x[i] * log(x[i]) + (1 - x[i]) * log(1 - x[i]) + log(2);
  ck_assert_msg(fabs(psi - want) < 1e-11, "psi %.15g vs %.15g", psi, want);
}
END_TEST

static Suite *ode_suite(void) {
  Suite *s = suite_create("ode");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_quadratic_closed_form);
  tcase_add_test(tc, test_rk4_fixed_order);
  tcase_add_test(tc, test_fixed_gsl_methods);
  tcase_add_test(tc, test_jacobians);
  tcase_add_test(tc, test_hopfield_equals_natgrad_himmelblau);
  tcase_add_test(tc, test_hopfield_equals_natgrad_quad50);
  tcase_add_test(tc, test_nan_message);
  tcase_add_test(tc, test_stops);
  tcase_add_test(tc, test_mirror_descent_follows_natgrad);
  tcase_add_test(tc, test_gd_follows_gradient_flow);
  tcase_add_test(tc, test_bregman);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  gsl_set_error_handler_off();
  return check_run(ode_suite());
}
