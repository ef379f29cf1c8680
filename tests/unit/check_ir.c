/*
** check_ir.c — unit tests for ir.c, diff.c, cgen.c, jit.c and runtime/spd.c.
**
** Every derivative is checked numerically: expressions are differentiated
** (reverse and forward mode), generated, JIT-compiled, called, and compared
** with central differences.  With h = 1e-5 the central difference has
** truncation error ~h^2 |f'''|/6 ~ 1e-10 |f'''| and rounding error
** ~eps |f| / h ~ 2e-11 |f|, so a tolerance of 1e-6 relative (with an absolute
** floor of 1e-6 for derivatives near zero) leaves a wide margin while still
** catching any wrong rule (those are off by O(1)).
*/
#include <check.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgen.h"
#include "check_run.h"
#include "diff.h"
#include "ir.h"
#include "jit.h"
#include "spd.h"

#define H 1e-5
#define TOL 1e-6

static int close_to(double got, double want) {
  return fabs(got - want) <= TOL * (1 + fabs(want));
}

#define CHECK_CLOSE(got, want, what)                                                       \
  ck_assert_msg(close_to((got), (want)), "%s: got %.12g, want %.12g", (what), (double)(got), \
                (double)(want))

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------ compile-and-call helper */

typedef struct {
  cg_unit *u;
  jit_module *m;
  jit_fn f;
  double *ws;
} compiled;

/* Function "f": vars[k] bound consecutively in `in`, dvars[k] in `dir`,
** roots written consecutively to `out`. */
static compiled compile_fn(int nv, ir_node **vars, int nd, ir_node **dvars, int nr, ir_node **roots) {
  compiled c;
  c.u = cg_unit_new();
  ck_assert_int_eq(cg_func_begin(c.u, "f"), 0);
  int off = 0;
  for (int k = 0; k < nv; k++) {
    cg_func_bind(c.u, vars[k], CG_IN, off);
    off += ir_shape_size(vars[k]->shape);
  }
  off = 0;
  for (int k = 0; k < nd; k++) {
    cg_func_bind(c.u, dvars[k], CG_DIR, off);
    off += ir_shape_size(dvars[k]->shape);
  }
  off = 0;
  for (int k = 0; k < nr; k++) {
    cg_func_output(c.u, roots[k], off);
    off += ir_shape_size(roots[k]->shape);
  }
  ck_assert_int_eq(cg_func_end(c.u), 0);
  const char *src = cg_unit_source(c.u);
  int np = cg_unit_nparams(c.u);
  jit_symbol *syms = calloc((size_t)np + 1, sizeof *syms);
  for (int k = 0; k < np; k++) {
    const double *d;
    cg_unit_param(c.u, k, &syms[k].name, &d);
    syms[k].addr = d;
  }
  char *err = NULL;
  c.m = jit_compile(src, np, syms, &err);
  free(syms);
  ck_assert_msg(c.m != NULL, "compile failed: %s\n%s", err ? err : "", src);
  free(err);
  c.f = jit_lookup(c.m, "f");
  ck_assert_ptr_nonnull(c.f);
  c.ws = calloc(cg_func_workspace(c.u, "f") + 1, sizeof(double));
  return c;
}

static void compiled_free(compiled *c) {
  jit_module_free(c->m);
  cg_unit_free(c->u);
  free(c->ws);
}

/* ----------------------------------------- gradient / JVP vs differences */

/* f: scalar expression in the single var x (scalar, vector or matrix) of
** size n, checked at x0: value (when want_f is not NAN), reverse-mode
** gradient and forward-mode JVP along a fixed direction, both against
** central differences. */
static void check_scalar_fn(ir_ctx *ctx, ir_node *f, ir_node *x, const double *x0, double want_f) {
  int n = ir_shape_size(x->shape);
  ir_node *g;
  diff_grad(ctx, f, 1, &x, &g);
  ir_node *d = ir_var(ctx, x->shape, "d");
  ir_node *jv = diff_jvp(ctx, f, 1, &x, &d);
  ir_node *roots[3] = {f, g, jv};
  compiled c = compile_fn(1, &x, 1, &d, 3, roots);
  double *in = malloc((size_t)n * sizeof *in), *dir = malloc((size_t)n * sizeof *dir);
  double *out = malloc((size_t)(n + 2) * sizeof *out);
  for (int k = 0; k < n; k++) dir[k] = 0.3 + 0.1 * k * (k % 2 ? -1 : 1);
  memcpy(in, x0, (size_t)n * sizeof *in);
  ck_assert_int_eq(c.f(in, dir, out, c.ws), 0);
  double f0 = out[0], jvp = out[n + 1];
  double *grad = malloc((size_t)n * sizeof *grad);
  memcpy(grad, out + 1, (size_t)n * sizeof *grad);
  if (!isnan(want_f)) CHECK_CLOSE(f0, want_f, "value");
  double fd_dir = 0;
  for (int k = 0; k < n; k++) {
    memcpy(in, x0, (size_t)n * sizeof *in);
    in[k] += H;
    c.f(in, dir, out, c.ws);
    double fp = out[0];
    in[k] -= 2 * H;
    c.f(in, dir, out, c.ws);
    double fm = out[0];
    double fd = (fp - fm) / (2 * H);
    CHECK_CLOSE(grad[k], fd, "gradient");
    fd_dir += fd * dir[k];
  }
  CHECK_CLOSE(jvp, fd_dir, "jvp");
  for (int k = 0; k < n; k++) in[k] = x0[k] + H * dir[k];
  c.f(in, dir, out, c.ws);
  double fp = out[0];
  for (int k = 0; k < n; k++) in[k] = x0[k] - H * dir[k];
  c.f(in, dir, out, c.ws);
  CHECK_CLOSE(jvp, (fp - out[0]) / (2 * H), "jvp along dir");
  free(in), free(dir), free(out), free(grad);
  compiled_free(&c);
}

/* out (any shape) in x: the full Jacobian from diff_jacobian against
** differences of the compiled out. */
static void check_jacobian(ir_ctx *ctx, ir_node *out, ir_node *x, const double *x0) {
  int n = ir_shape_size(x->shape), m = ir_shape_size(out->shape);
  ir_node *J = diff_jacobian(ctx, out, x);
  ir_node *roots[2] = {out, J};
  compiled c = compile_fn(1, &x, 0, NULL, 2, roots);
  double *in = malloc((size_t)n * sizeof *in), *o = malloc((size_t)(m + m * n) * sizeof *o);
  double *jac = malloc((size_t)m * n * sizeof *jac), *fp = malloc((size_t)m * sizeof *fp);
  memcpy(in, x0, (size_t)n * sizeof *in);
  ck_assert_int_eq(c.f(in, NULL, o, c.ws), 0);
  memcpy(jac, o + m, (size_t)m * n * sizeof *jac);
  for (int k = 0; k < n; k++) {
    memcpy(in, x0, (size_t)n * sizeof *in);
    in[k] += H;
    c.f(in, NULL, o, c.ws);
    memcpy(fp, o, (size_t)m * sizeof *fp);
    in[k] -= 2 * H;
    c.f(in, NULL, o, c.ws);
    for (int i = 0; i < m; i++) CHECK_CLOSE(jac[i * n + k], (fp[i] - o[i]) / (2 * H), "jacobian");
  }
  free(in), free(o), free(jac), free(fp);
  compiled_free(&c);
}

/* ------------------------------------------------------------ fixtures */

static ir_ctx *C;
static void setup(void) { C = ir_ctx_new(); }
static void teardown(void) { ir_ctx_free(C); C = NULL; }

static ir_node *K(double v) { return ir_const(C, v); }
static ir_node *X(ir_node *v, int i) { return ir_index(C, v, i, 0); }
static ir_node *sq(ir_node *a) { return ir_pow(C, a, K(2)); }

static const double Qdata[9] = {4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2};
static const double Pdata[3] = {0.7, -1.1, 0.4};
static const double x3[3] = {0.3, -0.4, 0.8};

/* ---------------------------------------------------------- scalar tests */

typedef struct {
  ir_fn1 f;
  double at;      /* a point inside the domain, away from kinks */
} fn_case;

static const fn_case fn_cases[] = {
  {IR_EXP, 0.4},   {IR_LOG, 1.3},   {IR_LOG1P, 0.6},  {IR_EXPM1, -0.3}, {IR_SQRT, 2.1},
  {IR_SIN, 0.9},   {IR_COS, 0.9},   {IR_TAN, 0.4},    {IR_ASIN, 0.3},   {IR_ACOS, -0.2},
  {IR_ATAN, 1.5},  {IR_SINH, 0.7},  {IR_COSH, -0.8},  {IR_TANH, 0.6},   {IR_ASINH, -1.2},
  {IR_ACOSH, 1.7}, {IR_ATANH, 0.4}, {IR_SECH, 0.9},   {IR_ABS, -0.7},   {IR_SIGN, -0.6},
  {IR_STEP, 0.8},  {IR_ERF, 0.5},
};

/* fn(u) * (1 + u^2): the extra factor makes SIGN and STEP have a derivative. */
START_TEST(test_fn1) {
  const fn_case *fc = &fn_cases[_i];
  ir_node *u = ir_var(C, ir_scalar_shape(), "u");
  ir_node *f = ir_mul(C, ir_fn(C, fc->f, u), ir_add(C, K(1), sq(u)));
  double want;
  {
    ir_node *fv = ir_fn(C, fc->f, K(fc->at));   /* constant folding path */
    ck_assert_int_eq(fv->op, IR_CONST);
    want = fv->value * (1 + fc->at * fc->at);
  }
  check_scalar_fn(C, f, u, &fc->at, want);
  /* elementwise on a vector too */
  ir_node *x = ir_var(C, ir_vector_shape(3), "x");
  double xs[3] = {fc->at, fc->at * 0.9, fc->at * 1.05};
  if (fc->f == IR_ACOSH) xs[1] = 1.4;
  check_scalar_fn(C, ir_sum(C, ir_mul(C, ir_fn(C, fc->f, x), x)), x, xs, NAN);
}
END_TEST

/* Derivatives in the tails, against their closed forms to 1e-14 relative:
** where differences cannot tell (the values are ~1e-13 or the slopes ~1e9),
** tanh' = 1 - tanh^2 and atanh' = 1/(1 - u*u) have lost digits (at u = 15
** the former has 3e-4 relative error, at u = 1 - 2^-30 the latter 5e-10). */
START_TEST(test_fn1_tails) {
  ir_node *u = ir_var(C, ir_scalar_shape(), "u");
  const ir_fn1 fns[] = {IR_TANH, IR_ATANH, IR_ASIN, IR_ACOS};
  const double at[] = {15, 1 - 0x1p-30, 1 - 0x1p-30, -(1 - 0x1p-30)};
  for (int k = 0; k < 4; k++) {
    ir_node *g;
    diff_grad(C, ir_fn(C, fns[k], u), 1, &u, &g);
    compiled c = compile_fn(1, &u, 0, NULL, 1, &g);
    double x = at[k], d = NAN, q = (1 - fabs(x)) * (1 + fabs(x));
    ck_assert_int_eq(c.f(&x, NULL, &d, c.ws), 0);
    double want = k == 0 ? 1 / (cosh(x) * cosh(x)) : k == 1 ? 1 / q : k == 2 ? 1 / sqrt(q) : -1 / sqrt(q);
    ck_assert_msg(fabs(d - want) <= 1e-14 * fabs(want), "fn %d at %.17g: %.17g, want %.17g", k, x, d, want);
    compiled_free(&c);
  }
}
END_TEST

typedef ir_node *(*builder)(ir_node *x);

static ir_node *b_himmelblau_like(ir_node *x) {
  ir_node *t1 = ir_sub(C, ir_add(C, sq(ir_sub(C, ir_mul(C, K(10), X(x, 0)), K(5))), ir_mul(C, K(10), X(x, 1))), K(16));
  ir_node *t2 = ir_add(C, ir_sub(C, ir_mul(C, K(10), X(x, 0)), K(12)), sq(ir_sub(C, ir_mul(C, K(10), X(x, 1)), K(5))));
  return ir_add(C, sq(t1), sq(t2));
}
static ir_node *b_dot(ir_node *x) { return ir_dot(C, x, x); }
static ir_node *b_sumsq(ir_node *x) { return ir_sum(C, ir_mul(C, x, x)); }
static ir_node *b_param_dot(ir_node *x) {
  return ir_dot(C, ir_param(C, "p", Pdata, ir_vector_shape(3)), ir_fn(C, IR_SIN, x));
}
static ir_node *b_quadratic(ir_node *x) {
  ir_node *Q = ir_param(C, "Q", Qdata, ir_matrix_shape(3, 3));
  ir_node *b = ir_param(C, "p", Pdata, ir_vector_shape(3));
  return ir_add(C, ir_mul(C, K(0.5), ir_dot(C, x, ir_matvec(C, Q, x))), ir_dot(C, b, x));
}
static ir_node *b_broadcast(ir_node *x) {
  ir_node *s = ir_mul(C, X(x, 0), X(x, 2));   /* a scalar broadcast over the vector */
  return ir_sum(C, ir_div(C, ir_mul(C, s, x), ir_add(C, K(1), ir_mul(C, x, x))));
}
static ir_node *b_index(ir_node *x) {
  return ir_add(C, ir_mul(C, X(x, 0), X(x, 1)), ir_pow(C, X(x, 2), K(3)));
}
static ir_node *b_pack(ir_node *x) {
  ir_node *p[3] = {X(x, 1), sq(X(x, 0)), ir_fn(C, IR_SIN, X(x, 2))};
  return ir_dot(C, ir_pack(C, ir_vector_shape(3), p), x);
}
static ir_node *b_powers(ir_node *x) {
  ir_node *a = ir_add(C, X(x, 0), K(1.5)), *b = ir_add(C, X(x, 1), K(2));
  ir_node *t = ir_add(C, ir_pow(C, a, K(-1)), ir_pow(C, a, K(0.5)));
  t = ir_add(C, t, ir_pow(C, b, K(-0.5)));
  t = ir_add(C, t, ir_pow(C, b, K(1.5)));
  t = ir_add(C, t, ir_pow(C, ir_add(C, a, b), K(4)));
  t = ir_add(C, t, ir_pow(C, a, ir_mul(C, K(0.5), b)));   /* general a^b */
  t = ir_add(C, t, ir_pow(C, K(2), X(x, 2)));
  return ir_add(C, t, ir_pow(C, ir_sub(C, X(x, 1), K(1)), K(-2)));
}
static ir_node *b_negpow(ir_node *x) {   /* x^2, x^3 at negative x */
  return ir_add(C, ir_pow(C, X(x, 1), K(2)), ir_pow(C, X(x, 1), K(3)));
}
static ir_node *b_minmax(ir_node *x) {
  ir_node *t = ir_mul(C, ir_min(C, X(x, 0), X(x, 1)), X(x, 2));
  t = ir_add(C, t, ir_max(C, sq(X(x, 0)), X(x, 2)));
  return ir_add(C, t, ir_sum(C, ir_max(C, x, K(0))));
}
static ir_node *b_compose(ir_node *x) {
  ir_node *r = ir_fn(C, IR_SQRT, ir_add(C, K(1), ir_dot(C, x, x)));
  return ir_mul(C, ir_fn(C, IR_LOG, r), ir_fn(C, IR_TANH, ir_sum(C, ir_fn(C, IR_EXP, ir_neg(C, x)))));
}
static ir_node *b_concat(ir_node *x) {
  ir_node *parts[3] = {x, X(x, 0), ir_mul(C, x, x)};
  ir_node *v = ir_concat(C, 3, parts);
  static const double w[7] = {1, 2, 3, 4, 5, 6, 7};
  return ir_dot(C, ir_param(C, "w", w, ir_vector_shape(7)), ir_fn(C, IR_SIN, v));
}
static ir_node *b_matrix(ir_node *x) {
  ir_node *Q = ir_param(C, "Q", Qdata, ir_matrix_shape(3, 3));
  ir_node *O = ir_outer(C, x, ir_fn(C, IR_EXP, x));
  ir_node *t = ir_sum(C, ir_diagof(C, ir_matmul(C, O, Q)));
  t = ir_add(C, t, ir_dot(C, x, ir_matvec(C, ir_transpose(C, Q), ir_fn(C, IR_COS, x))));
  t = ir_add(C, t, ir_sum(C, ir_matvec(C, ir_diag(C, x), x)));
  return ir_add(C, t, ir_sum(C, ir_matvec(C, ir_transpose(C, O), x)));
}
static ir_node *b_spdinv(ir_node *x) {
  ir_node *Q = ir_param(C, "Q", Qdata, ir_matrix_shape(3, 3));
  ir_node *A = ir_add(C, Q, ir_outer(C, x, x));
  ir_node *b = ir_param(C, "p", Pdata, ir_vector_shape(3));
  return ir_dot(C, b, ir_matvec(C, ir_spdinv(C, A), b));
}

/* An IR_INVERT of a logistic-like and a tanh-like activation. */
static ir_node *logistic_body(ir_node **bv) {
  *bv = ir_var(C, ir_scalar_shape(), "u");
  return ir_div(C, K(1), ir_add(C, K(1), ir_fn(C, IR_EXP, ir_neg(C, *bv))));
}
static ir_node *tanh_body(ir_node **bv) {
  *bv = ir_var(C, ir_scalar_shape(), "u");
  return ir_add(C, ir_mul(C, K(0.5), ir_fn(C, IR_TANH, ir_mul(C, K(4), ir_sub(C, *bv, K(0.5))))), K(0.5));
}
static ir_node *b_invert_logistic(ir_node *x) {
  ir_node *bv, *body = logistic_body(&bv);
  ir_node *y = ir_add(C, ir_mul(C, K(0.3), x), K(0.5));   /* in (0, 1) */
  return ir_sum(C, ir_mul(C, ir_invert(C, body, bv, y), x));
}
static ir_node *b_invert_tanh(ir_node *x) {
  ir_node *bv, *body = tanh_body(&bv);
  ir_node *y = ir_add(C, ir_mul(C, K(0.2), X(x, 0)), K(0.4));
  return ir_add(C, ir_mul(C, ir_invert(C, body, bv, y), X(x, 1)), ir_sum(C, ir_invert(C, body, bv, ir_mul(C, K(0.3), ir_add(C, x, K(1.5))))));
}

static const struct { const char *name; builder b; int n; } vec_cases[] = {
  {"himmelblau", b_himmelblau_like, 2}, {"dot", b_dot, 3},           {"sumsq", b_sumsq, 3},
  {"param_dot", b_param_dot, 3},        {"quadratic", b_quadratic, 3}, {"broadcast", b_broadcast, 3},
  {"index", b_index, 3},                {"pack", b_pack, 3},         {"powers", b_powers, 3},
  {"negpow", b_negpow, 3},              {"minmax", b_minmax, 3},     {"compose", b_compose, 3},
  {"concat", b_concat, 3},              {"matrix", b_matrix, 3},     {"spdinv", b_spdinv, 3},
  {"invert_logistic", b_invert_logistic, 3}, {"invert_tanh", b_invert_tanh, 3},
};

START_TEST(test_vec) {
  ir_node *x = ir_var(C, ir_vector_shape(vec_cases[_i].n), "x");
  ir_node *f = vec_cases[_i].b(x);
  check_scalar_fn(C, f, x, x3, NAN);
}
END_TEST

/* Hessians: the JVP of the gradient, looped by cg_jacobian_loop, against
** differences of the compiled gradient and against diff_jacobian. */
START_TEST(test_hessian) {
  ir_node *x = ir_var(C, ir_vector_shape(vec_cases[_i].n), "x");
  int n = vec_cases[_i].n;
  ir_node *f = vec_cases[_i].b(x), *g;
  diff_grad(C, f, 1, &x, &g);
  ir_node *d = ir_var(C, x->shape, "d");
  ir_node *hv = diff_jvp(C, g, 1, &x, &d);
  cg_unit *u = cg_unit_new();
  ck_assert_int_eq(cg_func_begin(u, "hv"), 0);
  cg_func_bind(u, x, CG_IN, 0);
  cg_func_bind(u, d, CG_DIR, 0);
  cg_func_output(u, hv, 0);
  ck_assert_int_eq(cg_func_end(u), 0);
  ck_assert_int_eq(cg_func_begin(u, "g"), 0);
  cg_func_bind(u, x, CG_IN, 0);
  cg_func_output(u, g, 0);
  ck_assert_int_eq(cg_func_end(u), 0);
  ck_assert_int_eq(cg_jacobian_loop(u, "hess", "hv", n, n), 0);
  int np = cg_unit_nparams(u);
  jit_symbol syms[4];
  for (int k = 0; k < np; k++) {
    const double *dd;
    cg_unit_param(u, k, &syms[k].name, &dd);
    syms[k].addr = dd;
  }
  char *err = NULL;
  jit_module *m = jit_compile(cg_unit_source(u), np, syms, &err);
  ck_assert_msg(m != NULL, "%s", err ? err : "");
  jit_fn hess = jit_lookup(m, "hess"), gf = jit_lookup(m, "g");
  ck_assert_ptr_nonnull(hess);
  ck_assert_ptr_nonnull(gf);
  size_t wsz = cg_func_workspace(u, "hess") + cg_func_workspace(u, "g") + 1;
  double *ws = calloc(wsz, sizeof *ws), Hm[9], in[3], gp[3], gm[3];
  memcpy(in, x3, sizeof in);
  ck_assert_int_eq(hess(in, NULL, Hm, ws), 0);
  for (int k = 0; k < n; k++) {
    memcpy(in, x3, sizeof in);
    in[k] += H;
    gf(in, NULL, gp, ws);
    in[k] -= 2 * H;
    gf(in, NULL, gm, ws);
    for (int i = 0; i < n; i++) CHECK_CLOSE(Hm[i * n + k], (gp[i] - gm[i]) / (2 * H), "hessian");
  }
  free(ws);
  jit_module_free(m);
  cg_unit_free(u);
  check_jacobian(C, g, x, x3);
}
END_TEST

/* Vector-valued outputs: full Jacobians against differences. */
START_TEST(test_vector_jacobians) {
  ir_node *x = ir_var(C, ir_vector_shape(3), "x");
  ir_node *Q = ir_param(C, "Q", Qdata, ir_matrix_shape(3, 3));
  ir_node *bv, *body = logistic_body(&bv);
  check_jacobian(C, ir_mul(C, ir_fn(C, IR_TANH, x), ir_sum(C, x)), x, x3);
  check_jacobian(C, ir_matvec(C, Q, ir_fn(C, IR_EXP, x)), x, x3);
  check_jacobian(C, ir_invert(C, body, bv, ir_add(C, ir_mul(C, K(0.2), x), K(0.5))), x, x3);
  ir_node *parts[2] = {ir_mul(C, x, K(3)), X(x, 2)};
  check_jacobian(C, ir_concat(C, 2, parts), x, x3);
  check_jacobian(C, ir_spdinv(C, ir_add(C, Q, ir_diag(C, ir_mul(C, x, x)))), x, x3);
  check_jacobian(C, ir_transpose(C, ir_outer(C, x, ir_fn(C, IR_SIN, x))), x, x3);
}
END_TEST

START_TEST(test_jacobian_diag) {
  ir_node *x = ir_var(C, ir_vector_shape(3), "x");
  ir_node *Q = ir_param(C, "Q", Qdata, ir_matrix_shape(3, 3));
  ir_node *ew = ir_mul(C, ir_fn(C, IR_EXP, x), ir_add(C, x, K(2)));
  ir_node *mv = ir_matvec(C, Q, ir_mul(C, x, x));
  ck_assert(ir_elementwise_in(ew, x));
  ck_assert(!ir_elementwise_in(mv, x));
  ir_node *roots[4] = {diff_jacobian_diag(C, ew, x), diff_jacobian_diag(C, mv, x),
                       diff_jacobian(C, ew, x), diff_jacobian(C, mv, x)};
  compiled c = compile_fn(1, &x, 0, NULL, 4, roots);
  double in[3], out[24];
  memcpy(in, x3, sizeof in);
  c.f(in, NULL, out, c.ws);
  for (int i = 0; i < 3; i++) {
    CHECK_CLOSE(out[i], out[6 + i * 4], "diag elementwise");
    CHECK_CLOSE(out[3 + i], out[15 + i * 4], "diag general");
    CHECK_CLOSE(out[3 + i], Qdata[i * 4] * 2 * x3[i], "diag value");
  }
  compiled_free(&c);
}
END_TEST

START_TEST(test_hash_consing) {
  ir_node *x = ir_var(C, ir_scalar_shape(), "x"), *y = ir_var(C, ir_scalar_shape(), "y");
  ck_assert_ptr_eq(ir_mul(C, x, y), ir_mul(C, y, x));
  ck_assert_ptr_eq(ir_add(C, x, y), ir_add(C, y, x));
  ck_assert_ptr_eq(ir_max(C, x, y), ir_max(C, y, x));
  ck_assert_ptr_ne(ir_sub(C, x, y), ir_sub(C, y, x));
  ck_assert_ptr_ne(x, ir_var(C, ir_scalar_shape(), "x"));
  ck_assert_ptr_eq(ir_add(C, x, K(0)), x);
  ck_assert_ptr_eq(ir_mul(C, K(1), x), x);
  ck_assert(ir_is_zero(ir_mul(C, x, K(0))));
  ck_assert_ptr_eq(ir_neg(C, ir_neg(C, x)), x);
  ck_assert_ptr_eq(ir_sub(C, K(0), x), ir_neg(C, x));
  ck_assert_ptr_eq(ir_pow(C, x, K(1)), x);
  ck_assert_int_eq(ir_pow(C, x, K(2))->op, IR_POW);
  double v;
  ck_assert(ir_is_const(ir_pow(C, x, K(0)), &v) && v == 1);
  ck_assert(ir_is_const(ir_add(C, K(2), ir_mul(C, K(3), K(4))), &v) && v == 14);
  ck_assert(ir_is_const(ir_fn(C, IR_LOG1P, K(0)), &v) && v == 0);
  ir_node *xv = ir_var(C, ir_vector_shape(4), "v");
  ir_node *z = ir_mul(C, xv, K(0));
  ck_assert(ir_is_zero(z) && ir_shape_eq(z->shape, xv->shape));
  ir_node *zm = ir_mul(C, x, ir_zeros(C, ir_matrix_shape(2, 3)));
  ck_assert(ir_is_zero(zm) && ir_shape_eq(zm->shape, ir_matrix_shape(2, 3)));
  ir_node *p[2] = {x, y};
  ir_node *pk = ir_pack(C, ir_vector_shape(2), p);
  ck_assert_ptr_eq(X(pk, 1), y);
  ck_assert_int_eq(ir_add(C, pk, pk)->op, IR_PACK);
  ck_assert_ptr_eq(X(ir_bcast(C, x, ir_vector_shape(5)), 3), x);
  ck_assert_ptr_eq(ir_dot(C, pk, pk), ir_add(C, ir_mul(C, x, x), ir_mul(C, y, y)));
  ck_assert_ptr_eq(ir_diagof(C, ir_diag(C, xv)), xv);
  ir_node *M = ir_var(C, ir_matrix_shape(2, 3), "M");
  ck_assert_ptr_eq(ir_transpose(C, ir_transpose(C, M)), M);
  ck_assert_ptr_eq(ir_index(C, ir_diag(C, xv), 2, 2), X(xv, 2));
  ck_assert(ir_is_zero(ir_index(C, ir_diag(C, xv), 1, 2)));
  ck_assert_ptr_eq(ir_add(C, ir_mul(C, x, y), ir_mul(C, y, x)), ir_add(C, ir_mul(C, y, x), ir_mul(C, x, y)));
  ir_node *q[4] = {X(xv, 0), X(xv, 1), X(xv, 2), X(xv, 3)};
  ck_assert_ptr_eq(ir_pack(C, xv->shape, q), xv);
  ck_assert_uint_eq(ir_count(1, &pk), 3);
  /* queries */
  ir_node *e = ir_add(C, ir_fn(C, IR_EXP, x), y);
  ck_assert(ir_depends(e, x) && ir_depends(e, y) && !ir_depends(e, xv));
  ir_node *from = x, *to = K(0);
  ck_assert(ir_is_const(ir_subst(C, ir_mul(C, e, x), 1, &from, &to), &v) && v == 0);
  ck_assert_ptr_eq(ir_subst(C, e, 1, &from, &to), ir_add(C, K(1), y));
  char *s = ir_to_string(e);
  ck_assert_str_eq(s, "(y + exp(x))");
  free(s);
}
END_TEST

/* 0.5 x'Qx + b'x for n = 1000: the gradient is a handful of nodes, compiles
** fast, and equals (Q + Q')/2 x + b. */
START_TEST(test_quadratic_1000) {
  enum { N = 1000 };
  double *q = malloc(N * N * sizeof *q), *b = malloc(N * sizeof *b), *x0 = malloc(N * sizeof *x0);
  double *out = malloc(N * sizeof *out);
  for (int i = 0; i < N; i++) {
    b[i] = sin(i);
    x0[i] = cos(0.3 * i);
    for (int j = 0; j < N; j++) q[i * N + j] = (i == j ? 3.0 : 0.0) + 1.0 / (1 + i + 2 * j);
  }
  ir_node *x = ir_var(C, ir_vector_shape(N), "x");
  ir_node *Q = ir_param(C, "Q", q, ir_matrix_shape(N, N)), *B = ir_param(C, "b", b, ir_vector_shape(N));
  ir_node *f = ir_add(C, ir_mul(C, K(0.5), ir_dot(C, x, ir_matvec(C, Q, x))), ir_dot(C, B, x));
  ir_node *g;
  diff_grad(C, f, 1, &x, &g);
  size_t nodes = ir_count(1, &g);
  ck_assert_msg(nodes <= 12, "gradient has %zu nodes", nodes);
  double t0 = now();
  compiled c = compile_fn(1, &x, 0, NULL, 1, &g);
  double dt = now() - t0;
  fprintf(stderr, "quadratic n=1000: gradient %zu nodes, generate+compile %.3f ms, ws %zu\n", nodes,
          dt * 1e3, cg_func_workspace(c.u, "f"));
  ck_assert_msg(dt < 0.25, "compile took %g s", dt);
  ck_assert_uint_le(cg_func_workspace(c.u, "f"), 3 * N);
  ck_assert_int_eq(c.f(x0, NULL, out, c.ws), 0);
  for (int i = 0; i < N; i++) {
    double s = b[i];
    for (int j = 0; j < N; j++) s += 0.5 * (q[i * N + j] + q[j * N + i]) * x0[j];
    ck_assert_msg(fabs(out[i] - s) <= 1e-12 * (1 + fabs(s)) * N, "row %d: %g vs %g", i, out[i], s);
  }
  compiled_free(&c);
  free(q), free(b), free(x0), free(out);
}
END_TEST

/* x + x + ... + x (10^5 terms) and a deep non-foldable chain: differentiate,
** generate, compile, call, without recursion. */
START_TEST(test_deep_chain) {
  enum { N = 100000 };
  double t0 = now();
  ir_node *x = ir_var(C, ir_scalar_shape(), "x");
  ir_node *s = x, *t = x;
  for (int k = 1; k < N; k++) s = ir_add(C, s, x);
  for (int k = 1; k < N / 5; k++) t = ir_fn(C, IR_SIN, ir_add(C, t, ir_mul(C, K(1e-5), x)));
  ir_node *f = ir_add(C, s, t), *g;
  diff_grad(C, f, 1, &x, &g);
  ir_node *one = K(1), *jv = diff_jvp(C, f, 1, &x, &one);
  char *str = ir_to_string(f);   /* capped, iterative */
  free(str);
  ir_node *roots[3] = {f, g, jv};
  compiled c = compile_fn(1, &x, 0, NULL, 3, roots);
  double in = 0.25, out[3], tv = 0.25;
  c.f(&in, NULL, out, c.ws);
  for (int k = 1; k < N / 5; k++) tv = sin(tv + 1e-5 * 0.25);
  CHECK_CLOSE(out[0], N * 0.25 + tv, "chain value");
  CHECK_CLOSE(out[1], out[2], "chain grad vs jvp");
  compiled_free(&c);
  fprintf(stderr, "deep chain: %.2f s\n", now() - t0);
}
END_TEST

/* Generated code sees only registered symbols: no libc. */
START_TEST(test_sandbox) {
  char *err = NULL;
  jit_module *m = jit_compile("int system(const char *);\n"
                             "int f(const double *in, const double *dir, double *out, double *ws)"
                             " { return system(\"true\"); }\n",
                             0, NULL, &err);
  ck_assert_ptr_null(m);
  ck_assert_ptr_nonnull(err);
  ck_assert_msg(strstr(err, "system") != NULL, "message: %s", err);
  free(err);
  m = jit_compile("int f(void) { return 1 +; }", 0, NULL, &err);
  ck_assert_ptr_null(m);
  ck_assert(err && strlen(err) > 0);
  free(err);
  m = jit_compile("int f(void) { return 7; }", 0, NULL, NULL);
  ck_assert_ptr_nonnull(m);
  ck_assert_ptr_null(jit_lookup(m, "g"));
  jit_module_free(m);
  jit_module_free(NULL);
}
END_TEST

/* A numeric inverse without a bracket makes the function return nonzero. */
START_TEST(test_invert_failure) {
  ir_node *bv, *body = logistic_body(&bv);
  ir_node *y = ir_var(C, ir_scalar_shape(), "y");
  ir_node *inv = ir_invert(C, body, bv, y);
  compiled c = compile_fn(1, &y, 0, NULL, 1, &inv);
  double in = 0.8, out;
  ck_assert_int_eq(c.f(&in, NULL, &out, c.ws), 0);
  CHECK_CLOSE(out, log(0.8 / 0.2), "logit");
  in = 1e-200;   /* reachable: u ~ -460 */
  ck_assert_int_eq(c.f(&in, NULL, &out, c.ws), 0);
  CHECK_CLOSE(out, log(1e-200), "far tail");
  in = 1.5;
  ck_assert_int_ne(c.f(&in, NULL, &out, c.ws), 0);
  ck_assert(isnan(out));
  compiled_free(&c);
}
END_TEST

START_TEST(test_spd_runtime) {
  double a[9], inv[9];
  memcpy(a, Qdata, sizeof a);
  ck_assert_int_eq(hnn_rt_spd_inverse(a, inv, 3), 0);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      double s = 0;
      for (int k = 0; k < 3; k++) s += a[i * 3 + k] * inv[k * 3 + j];
      ck_assert(fabs(s - (i == j)) < 1e-12);
    }
  a[0] = -1;
  ck_assert_int_ne(hnn_rt_spd_inverse(a, inv, 3), 0);
  /* SPDINV failure propagates to the generated function's status */
  ir_node *M = ir_var(C, ir_matrix_shape(3, 3), "M");
  ir_node *r = ir_spdinv(C, M);
  compiled c = compile_fn(1, &M, 0, NULL, 1, &r);
  ck_assert_int_ne(c.f(a, NULL, inv, c.ws), 0);
  memcpy(a, Qdata, sizeof a);
  ck_assert_int_eq(c.f(a, NULL, inv, c.ws), 0);
  compiled_free(&c);
}
END_TEST

/* Roots that are leaves, broadcasts, repeated, or shared with other roots. */
START_TEST(test_output_kinds) {
  ir_node *x = ir_var(C, ir_vector_shape(3), "x"), *s = ir_var(C, ir_scalar_shape(), "s");
  ir_node *p = ir_param(C, "p", Pdata, ir_vector_shape(3));
  ir_node *e = ir_fn(C, IR_EXP, ir_mul(C, s, x));
  ir_node *tot = ir_sum(C, e);
  ir_node *M = ir_outer(C, x, p);
  ir_node *roots[9] = {x, ir_bcast(C, s, ir_vector_shape(2)), tot, tot, p, K(2.5),
                       ir_add(C, e, tot), ir_transpose(C, M), ir_index(C, ir_matmul(C, M, ir_transpose(C, M)), 1, 2)};
  ir_node *vars[2] = {x, s};
  compiled c = compile_fn(2, vars, 0, NULL, 9, roots);
  double in[4] = {0.1, 0.2, -0.3, 0.7}, out[27], E[3], T = 0;
  ck_assert_int_eq(c.f(in, NULL, out, c.ws), 0);
  for (int i = 0; i < 3; i++) T += E[i] = exp(in[3] * in[i]);
  for (int i = 0; i < 3; i++) CHECK_CLOSE(out[i], in[i], "var root");
  CHECK_CLOSE(out[3], 0.7, "bcast root");
  CHECK_CLOSE(out[4], 0.7, "bcast root");
  CHECK_CLOSE(out[5], T, "sum root");
  CHECK_CLOSE(out[6], T, "repeated root");
  for (int i = 0; i < 3; i++) CHECK_CLOSE(out[7 + i], Pdata[i], "param root");
  CHECK_CLOSE(out[10], 2.5, "const root");
  for (int i = 0; i < 3; i++) CHECK_CLOSE(out[11 + i], E[i] + T, "shared root");
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) CHECK_CLOSE(out[14 + i * 3 + j], in[j] * Pdata[i], "transpose root");
  double pp = Pdata[0] * Pdata[0] + Pdata[1] * Pdata[1] + Pdata[2] * Pdata[2];
  CHECK_CLOSE(out[23], in[1] * in[2] * pp, "matmul entry");
  compiled_free(&c);
}
END_TEST

static void *compile_many(void *arg) {
  (void)arg;
  for (int k = 0; k < 50; k++) {
    char src[4096];
    snprintf(src, sizeof src, "%sint f(const double *in, const double *dir, double *out, double *ws)"
             " { out[0] = exp(in[0]) + %d; return 0; }\n", jit_prelude(), k);
    char *err = NULL;
    jit_module *m = jit_compile(src, 0, NULL, &err);
    if (!m) {
      free(err);
      return (void *)1;
    }
    double in = 0, out = 0;
    jit_fn f = jit_lookup(m, "f");
    int bad = !f || (f(&in, NULL, &out, NULL), out != 1 + k);
    jit_module_free(m);
    if (bad) return (void *)1;
  }
  return NULL;
}

START_TEST(test_threads) {
  pthread_t t[4];
  for (int k = 0; k < 4; k++) ck_assert_int_eq(pthread_create(&t[k], NULL, compile_many, NULL), 0);
  for (int k = 0; k < 4; k++) {
    void *r;
    pthread_join(t[k], &r);
    ck_assert_ptr_null(r);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("ir");
  TCase *t = tcase_create("core");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 60);
  int nfn = (int)(sizeof fn_cases / sizeof fn_cases[0]), nvec = (int)(sizeof vec_cases / sizeof vec_cases[0]);
  tcase_add_loop_test(t, test_fn1, 0, nfn);
  tcase_add_test(t, test_fn1_tails);
  tcase_add_loop_test(t, test_vec, 0, nvec);
  tcase_add_loop_test(t, test_hessian, 0, nvec);
  tcase_add_test(t, test_vector_jacobians);
  tcase_add_test(t, test_jacobian_diag);
  tcase_add_test(t, test_hash_consing);
  tcase_add_test(t, test_quadratic_1000);
  tcase_add_test(t, test_deep_chain);
  tcase_add_test(t, test_sandbox);
  tcase_add_test(t, test_invert_failure);
  tcase_add_test(t, test_spd_runtime);
  tcase_add_test(t, test_output_kinds);
  tcase_add_test(t, test_threads);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  return check_run(suite());
}
