/*
** check_eld.c — the economic load dispatch example at nG = 6: the dual
** Hopfield method (examples/eld.hnn, augmented_lagrangian) must find the
** on/off pattern of the best of all 2^6 patterns, where for each pattern the
** outputs y are solved exactly (y_i = 0 for generators that are off, which
** x'y = 1'y forces; for the others the KKT conditions of
** min p'y + c2/2 |y - y0|^2, 1'y = pi_d, 0 <= y <= 1 give
** y_i = clip(y0_i - (p_i + nu)/c2, 0, 1) with nu found by bisection), and
** its constraint violations must be small.
*/
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "dual.h"
#include "hnn.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

enum { NG = 6 };

static double get1(hnn_state *S, const char *name) {
  double v = NAN;
  size_t n;
  ck_assert_int_eq(hnn_param_get(S, name, &v, 1, &n), HNN_OK);
  return v;
}

/* Cost of the best y for on/off pattern x (INFINITY if infeasible). */
static double best_y_cost(const double *p, const double *x0, const double *y0, double c1, double c2, double pid,
                          const int *x) {
  double cap = 0;
  for (int i = 0; i < NG; i++) cap += x[i];
  if (cap < pid) return INFINITY;
  double lo = -1e6, hi = 1e6, y[NG];
  for (int it = 0; it < 300; it++) {
    double nu = 0.5 * (lo + hi), s = 0;
    for (int i = 0; i < NG; i++) s += x[i] ? fmin(1, fmax(0, y0[i] - (p[i] + nu) / c2)) : 0;
    if (s > pid) lo = nu;
    else hi = nu;
  }
  double J = 0;
  for (int i = 0; i < NG; i++) {
    y[i] = x[i] ? fmin(1, fmax(0, y0[i] - (p[i] + lo) / c2)) : 0;
    J += p[i] * y[i] + c1 / 2 * (x[i] - x0[i]) * (x[i] - x0[i]) + c2 / 2 * (y[i] - y0[i]) * (y[i] - y0[i]);
  }
  return J;
}

START_TEST(test_eld_small_instance) {
  char dir[] = "/tmp/hnn-eld-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char outpath[256];
  snprintf(outpath, sizeof outpath, "%s/summary.txt", dir);
  FILE *out = fopen(outpath, "w+");
  ck_assert_ptr_nonnull(out);
  hnn_state *S = hnn_open();
  hnn_set_output(S, out);
  ck_assert_int_eq(hnn_set_output_dir(S, dir), HNN_OK);
  ck_assert_int_eq(hnn_define(S, "nG", "6"), HNN_OK);
  ck_assert_int_eq(hnn_define(S, "z0", "0.5"), HNN_OK);
  /* the example with a 12-vector start and fewer runs: the text is the
  ** example's own, only the run line and the plot differ */
  FILE *f = fopen(SRCDIR "/examples/eld.hnn", "r");
  ck_assert_ptr_nonnull(f);
  char line[512], text[8192] = "";
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "run eld", 7) == 0 || strncmp(line, "plot", 4) == 0) continue;
    if (strncmp(line, "param z0", 8) == 0) strcpy(line, "param z0[12] = 0.5\n");
    strncat(text, line, sizeof text - strlen(text) - 1);
  }
  fclose(f);
  strncat(text, "run eld from z0 multipliers [-1, 1] repeat 2 steps 300 tol 1e-7 inner 10000 -> \"eld.csv\"\n",
          sizeof text - strlen(text) - 1);
  int st = hnn_load_string(S, text, "eld6.hnn");
  ck_assert_msg(st == HNN_OK, "%s", hnn_error(S));
  double p[NG], x0[NG], y0[NG];
  size_t n;
  ck_assert_int_eq(hnn_param_get(S, "p", p, NG, &n), HNN_OK);
  ck_assert_int_eq(hnn_param_get(S, "x0", x0, NG, &n), HNN_OK);
  ck_assert_int_eq(hnn_param_get(S, "y0", y0, NG, &n), HNN_OK);
  double c1 = get1(S, "c1"), c2 = get1(S, "c2"), pid = get1(S, "pi_d");
  /* brute force over the 2^6 patterns */
  int best[NG], x[NG];
  double bestJ = INFINITY;
  for (int mask = 0; mask < 1 << NG; mask++) {
    for (int i = 0; i < NG; i++) x[i] = mask >> i & 1;
    double J = best_y_cost(p, x0, y0, c1, c2, pid, x);
    if (J < bestJ) bestJ = J, memcpy(best, x, sizeof x);
  }
  /* the method's answer from the summary */
  fflush(out);
  rewind(out);
  int found = 0, nviol = 0;
  double viol = 0;
  while (fgets(line, sizeof line, out)) {
    char *z = strstr(line, "rounded:");
    if (z) {
      found = 1;
      z += 8;
      for (int i = 0; i < NG; i++) ck_assert_int_eq((int)strtol(z, &z, 10), best[i]);
    }
    char *v = strstr(line, "over the runs:");
    if (v) viol = fmax(viol, strtod(v + 14, NULL)), nviol++;
  }
  ck_assert_msg(found && nviol == 2, "no summary lines");
  /* dual ascent converges: the constraints hold to well below the outputs' scale */
  ck_assert_msg(viol < 1e-6, "constraint violation %g", viol);
  fclose(out);
  hnn_close(S);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* min 0.5 |z - c|^2 s.t. sum(z) = 1, z in (0, 1) (docs/flows.md), with
** c = (0.9, 0.6, -0.5): z* = clip(c - nu, 0, 1) with sum 1 gives
** nu = 0.25, z* = (0.65, 0.35, 0) and lambda* = nu; at z3 = 0 the bound is
** active with dL/dz3 = z3 - c3 + lambda = 0.75 > 0. */
static const double qc[3] = { 0.9, 0.6, -0.5 };

static int logistic3(const double *in, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  for (int i = 0; i < 3; i++) out[i] = 1 / (1 + exp(-in[i]));
  return 0;
}

/* (z, lambda) -> (grad_z L_r, g), L_r = J + lambda g + r/2 g^2, r = 1 */
static int simplex_lgrad(const double *in, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  double g = in[0] + in[1] + in[2] - 1;
  for (int i = 0; i < 3; i++) out[i] = in[i] - qc[i] + in[3] + g;
  out[3] = g;
  return 0;
}

/* |grad_z L_r| stays >= 0.75 at the solution, so a stop on it never fires
** and every inner solve ran to the limit.  The projected gradient
** |z - clip(z - grad_z L_r, 0, 1)| vanishes there: each inner solve now
** stops at the tolerance.  Accuracy: L_r is 1-strongly convex in z
** (Hessian I + 11'), so a residual below 1e-7 puts z within 1e-7 of the
** minimizer for the current lambda; dual ascent shrinks the multiplier
** error by 1 - 0.5 * 2/3 per iteration (two free components), to 1e-18
** after 100; so z and lambda must be within 1e-6. */
START_TEST(test_dual_bound_active) {
  dual_problem P = { 3, 1, { simplex_lgrad, 0 }, { logistic3, 0 } };
  dual_opts o = { .h = 0.05, .h_dual = 0.5, .tol = 1e-7, .inner_max = 100000, .outer = 100 };
  double u[3] = { 0, 0, 0 }, lambda = 0, ws[3 * 4 + 8], z[3];
  long inner[100];
  char msg[256] = "";
  ck_assert_msg(dual_run(&P, &o, u, &lambda, NULL, inner, ws, msg, sizeof msg) == 0, "%s", msg);
  long total = 0;
  for (int k = 0; k < 100; k++) {
    ck_assert_msg(inner[k] < o.inner_max, "dual iteration %d: the inner solve hit the limit", k + 1);
    total += inner[k];
  }
  logistic3(u, NULL, z, NULL);
  const double zs[3] = { 0.65, 0.35, 0 };
  for (int i = 0; i < 3; i++) ck_assert_msg(fabs(z[i] - zs[i]) < 1e-6, "z%d = %.17g", i + 1, z[i]);
  ck_assert_msg(fabs(lambda - 0.25) < 1e-6, "lambda = %.17g", lambda);
  ck_assert_msg(inner[0] > 0 && total < 100 * o.inner_max, "sub-iterations %ld", total);
}
END_TEST

int main(void) {
  Suite *s = suite_create("eld");
  TCase *tc = tcase_create("dual_hopfield");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_eld_small_instance);
  tcase_add_test(tc, test_dual_bound_active);
  suite_add_tcase(s, tc);
  return check_run(s);
}
