/*
** check_energy.c — energy declarations (lang/energy.c) and their models
** (lang/flows/energymodel.c): the split into terms with their
** coefficients, the compiled local part U = sum c V - sum c log beta and its
** gradient against closed forms, the kernel callbacks against closed forms,
** targets drawn the same way from the same seed, and the errors.
*/
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "energymodel.h"
#include "check_run.h"
#include "hnn.h"
#include "state.h"

static hnn_state *load(const char *src) {
  hnn_state *S = hnn_open();
  ck_assert_ptr_nonnull(S);
    int r = hnn_load_string(S, src, "energy.hnn");
  ck_assert_msg(r == HNN_OK, "%s", hnn_error(S));
  return S;
}

static int build(hnn_state *S, const char *name, int n, energy_model *M) {
  sym *E = state_lookup(S, name);
  ck_assert_ptr_nonnull(E);
  ck_assert_int_eq(E->kind, SYM_ENERGY);
  ck_assert_int_eq(sema_check_sym(S, E), 0);
  state_batch_begin(S);
  int r = energy_model_build(S, E, n, M);
  if (state_batch_end(S)) r = HNN_ERR_SCRIPT;
  return r;
}

static const char *model_src =
  "param T = 0.25\n"
  "param c = 3\n"
  "objective V(x[2]) = 0.5*norm2(x) + x[1]\n"
  "function beta(x[2]) = exp(-norm2(x - [1, 2])/2) + 2*exp(-norm2(x + [1, 0])/2)\n"
  "kernel k(x[2], y[2]) = exp(-norm2(x - y)/(2*0.3^2))\n"
  "energy E = c*potential(V) - potential(V)/2 + T*entropy + 2*kl(beta) + interaction(k)/4 + 2*power_entropy(3)\n";

/* U = 2.5 V - 2 log beta; grad U = 2.5 grad V - 2 grad beta / beta. */
START_TEST(test_local_part) {
  hnn_state *S = load(model_src);
  energy_model M;
  ck_assert_int_eq(build(S, "E", 2, &M), HNN_OK);
  ck_assert(M.has_local);
  ck_assert_double_eq_tol(M.entropy, 2.25, 1e-15);
  ck_assert_int_eq(M.nterms, 2);
  ck_assert_int_eq(M.terms[0].piece, ENERGY_INTERACTION);
  ck_assert_double_eq_tol(M.terms[0].coef, 0.25, 1e-15);
  ck_assert_int_eq(M.terms[1].piece, ENERGY_POWER);
  ck_assert_double_eq(M.terms[1].m, 3);
  double x[2] = { 0.3, -0.7 }, out[3], *ws = calloc(M.local.nwork + 1, sizeof *ws);
  ck_assert_int_eq(M.local.fn(x, NULL, out, ws), 0);
  double a = exp(-((x[0] - 1) * (x[0] - 1) + (x[1] - 2) * (x[1] - 2)) / 2);
  double b = 2 * exp(-((x[0] + 1) * (x[0] + 1) + x[1] * x[1]) / 2);
  double beta = a + b;
  double gb[2] = { -(x[0] - 1) * a - (x[0] + 1) * b, -(x[1] - 2) * a - x[1] * b };
  double V = 0.5 * (x[0] * x[0] + x[1] * x[1]) + x[0];
  /* the callback and the closed form differ by rounding only: a few ulps of
  ** terms of size ~10 */
  ck_assert_double_eq_tol(out[2], 2.5 * V - 2 * log(beta), 1e-13);
  ck_assert_double_eq_tol(out[0], 2.5 * (x[0] + 1) - 2 * gb[0] / beta, 1e-13);
  ck_assert_double_eq_tol(out[1], 2.5 * x[1] - 2 * gb[1] / beta, 1e-13);
  /* the kernel: grad_x k = -(x - y)/h^2 k */
  double xy[4] = { 0.1, 0.2, -0.3, 0.5 }, ko[3];
  double *kws = calloc(M.terms[0].kernel.pair.nwork + 1, sizeof *kws);
  ck_assert_int_eq(M.terms[0].kernel.pair.fn(xy, NULL, ko, kws), 0);
  double d2 = 0.4 * 0.4 + 0.3 * 0.3, kv = exp(-d2 / (2 * 0.09));
  ck_assert_double_eq_tol(ko[2], kv, 1e-15);
  ck_assert_double_eq_tol(ko[0], -0.4 / 0.09 * kv, 1e-14);
  ck_assert_double_eq_tol(ko[1], 0.3 / 0.09 * kv, 1e-14);
  free(ws);
  free(kws);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* Targets: a mixture drawn with samples = M, the same points for the same
** seed; the sample mean near the mixture's mean (5 standard errors). */
START_TEST(test_targets) {
  const char *src =
    "kernel k(x[1], y[1]) = exp(-norm2(x - y))\n"
    "param P[3,1] = [[1], [2], [4]]\n"
    "energy E = mmd(k, mixture([1, 3], normal([-2], [0.25]), normal([2], [0.25])), samples = 4000) + w2(P)\n";
  hnn_state *S = load(src);
  energy_model M, M2;
  ck_assert_int_eq(build(S, "E", 1, &M), HNN_OK);
  ck_assert_int_eq(build(S, "E", 1, &M2), HNN_OK);
  ck_assert_int_eq(M.nterms, 2);
  ck_assert_int_eq(M.terms[0].ntarget, 4000);
  ck_assert_int_eq(memcmp(M.terms[0].target, M2.terms[0].target, 4000 * sizeof(double)), 0);
  double mean = 0, var = 0;
  for (int i = 0; i < 4000; i++) mean += M.terms[0].target[i] / 4000;
  for (int i = 0; i < 4000; i++) var += (M.terms[0].target[i] - mean) * (M.terms[0].target[i] - mean) / 4000;
  /* mixture mean 0.25*(-2) + 0.75*2 = 1, variance 0.25 + 4*0.25*0.75*... = 0.25 + 3 */
  ck_assert_double_eq_tol(mean, 1, 5 * sqrt(3.25 / 4000));
  ck_assert_double_eq_tol(var, 3.25, 0.15);
  ck_assert_int_eq(M.terms[1].ntarget, 3);
  ck_assert_double_eq(M.terms[1].target[2], 4);
  ck_assert_double_eq_tol(M.terms[1].target_w[0], 1.0 / 3, 1e-16);
  energy_model_free(&M);
  energy_model_free(&M2);
  hnn_close(S);
}
END_TEST

static void expect_error(const char *src, const char *want) {
  hnn_state *S = hnn_open();
    int r = hnn_load_string(S, src, "bad.hnn");
  ck_assert_int_ne(r, HNN_OK);
  ck_assert_msg(strstr(hnn_error(S), want), "wanted '%s' in:\n%s", want, hnn_error(S));
  hnn_close(S);
}

static void expect_build_error(const char *src, int n, const char *want) {
  hnn_state *S = load(src);
  energy_model M;
  ck_assert_int_ne(build(S, "E", n, &M), HNN_OK);
  energy_model_free(&M);
  const char *msg = S->diags.text.s ? S->diags.text.s : "";
  ck_assert_msg(strstr(msg, want), "wanted '%s' in:\n%s", want, msg);
  hnn_close(S);
}

START_TEST(test_errors) {
  expect_error("objective V(x[2]) = norm2(x)\nenergy E = potential(V) * entropy\nprint 1\n", "bad.hnn:2:12: error: an energy is a sum of terms");
  expect_error("objective V(x[2]) = norm2(x)\nenergy E = interaction(V)\nprint 1\n", "a kernel is named here");
  expect_error("objective V(x[2]) = norm2(x)\nobjective W(x[3]) = norm2(x)\nenergy E = potential(V) + potential(W)\nprint 1\n",
               "in dimension 3, an earlier one in dimension 2");
  expect_error("energy E = entropy + 3\nprint 1\n", "an energy is a sum of pieces");
  expect_error("energy E = mmd(entropy)\nprint 1\n", "mmd takes mmd(k, target");
  expect_error("energy E = w2(foo(1))\nprint 1\n", "a target is csv");
  expect_error("energy E = entropy\nprint E(1)\n", "'E' is an energy");
  expect_error("enrgy E = entropy\n", "unexpected name after a name");
  expect_build_error("energy E = power_entropy(1)\n", 1, "must be > 1");
  expect_build_error("energy E = -entropy\n", 1, "negative coefficient");
  expect_build_error("energy E = w2(normal([0, 0], [1, 1]))\n", 1, "the target is in dimension 2, the flow in dimension 1");
  expect_build_error("param P[2,1] = [[1], [2]]\nenergy E = w2(P, samples = 10)\n", 1, "a point set is used as it is");
}
END_TEST

/* A function named energy stays a function: `energy` is a keyword only
** where a declaration starts with it. */
START_TEST(test_energy_is_a_name) {
  hnn_state *S = load("function energy(x) = 2*x\nenergy E = potential(energy)\n");
  sym *E = state_lookup(S, "E");
  ck_assert_int_eq(sema_check_sym(S, E), 0);
  ck_assert_int_eq(E->energy->nterms, 1);
  ck_assert_int_eq(energy_model_dim(E), 1);
  hnn_close(S);
}
END_TEST

int main(void) {
  Suite *s = suite_create("energy");
  TCase *tc = tcase_create("energy");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_local_part);
  tcase_add_test(tc, test_targets);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_energy_is_a_name);
  suite_add_tcase(s, tc);
  return check_run(s);
}
