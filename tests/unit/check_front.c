/*
** check_front.c — unit tests for the front end: lexer and parser (statements
** and their syntax trees, line continuation, comments, error recovery, the
** `incomplete` flag), the checker (dimension inference, size-generic
** declarations, cycles) and the embedding API (load, eval, compiled
** callbacks, params written in place, several states, error text).
*/
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "check_run.h"
#include "diag.h"
#include "hnn.h"
#include "par.h"
#include "parse.h"
#include "state.h"

/* ---- parser helpers ---- */

typedef struct parsed {
  diag_list d;
  ast **stmts;
  int n;
  int errors;
  int incomplete;
  hnn_src *src;
} parsed;

static void parse_text(parsed *p, const char *text) {
  memset(p, 0, sizeof *p);
  diag_init(&p->d);
  p->src = src_new("t.hnn", text);
  p->errors = hnn_parse(p->src, &p->d, &p->stmts, &p->n, &p->incomplete);
}

static void parsed_free(parsed *p) {
  for (int i = 0; i < p->n; i++) ast_free(p->stmts[i]);
  free(p->stmts);
  diag_clear(&p->d);
  src_release(p->src);
}

/* The S-expression of statement i of `text` (which must parse). */
static void expect_tree(const char *text, int i, const char *want) {
  parsed p;
  parse_text(&p, text);
  ck_assert_msg(p.errors == 0, "'%s' did not parse: %s", text, p.d.text.s ? p.d.text.s : "");
  ck_assert_int_gt(p.n, i);
  char *s = ast_to_string(p.stmts[i]);
  ck_assert_str_eq(s, want);
  free(s);
  parsed_free(&p);
}

START_TEST(test_parse_statements) {
  expect_tree("param Q[2,2] = [[1, 2], [3, 4]]\n", 0,
              "(param Q dims=2 2 2 (vector (vector 1 2) (vector 3 4)))");
  expect_tree("param T = 25\n", 0, "(param T 25)");
  expect_tree("activation s(u) = tanh(u) inverse atanh(x)\n", 0, "(activation s u (tanh u) (atanh x))");
  expect_tree("objective f(x[n]) = dot(p, x)\n", 0, "(objective f x[n] (dot p x))");
  expect_tree("print s'(1), grad f([1, 2]), Q[1, 2]\n", 0,
              "(print (s' 1) (grad f (vector 1 2)) (index Q 1 2))");
  /* precedence: ^ binds tighter than unary minus, * tighter than + */
  expect_tree("1 + 2*3^2\n", 0, "(expr (+ 1 (* 2 (^ 3 2))))");
  /* several statements; no final newline needed */
  expect_tree("param a = 1\nparam b = 2", 1, "(param b 2)");
}
END_TEST

START_TEST(test_parse_continuation_and_comments) {
  /* after an operator, a comma, '=', and inside brackets the line goes on */
  expect_tree("param a = 1 +\n  2\n", 0, "(param a (+ 1 2))");
  expect_tree("print 1,\n 2\n", 0, "(print 1 2)");
  expect_tree("param a =\n 3\n", 0, "(param a 3)");
  expect_tree("param v = [1,\n 2\n ]\n", 0, "(param v (vector 1 2))");
  expect_tree("print (1\n + 2)\n", 0, "(print (+ 1 2))");
  /* comments: whole lines, after code, inside brackets */
  expect_tree("# a comment\nparam a = 1 # trailing\n", 0, "(param a 1)");
  expect_tree("param v = [1, # one\n 2] # two\n", 0, "(param v (vector 1 2))");
  parsed p;
  parse_text(&p, "# only a comment\n\n   \n");
  ck_assert_int_eq(p.errors, 0);
  ck_assert_int_eq(p.n, 0);
  parsed_free(&p);
  /* a newline after a complete expression ends the statement */
  parse_text(&p, "param a = 1\n+ 2\n");
  ck_assert_int_eq(p.errors, 0);
  ck_assert_int_eq(p.n, 2);
  parsed_free(&p);
}
END_TEST

static int count(const char *s, const char *needle) {
  int k = 0;
  for (const char *q = s; (q = strstr(q, needle)) != NULL; q++) k++;
  return k;
}

START_TEST(test_parse_errors_one_pass) {
  parsed p;
  parse_text(&p, "param a = 2 3\nparam b = 1\nprint a b\nprint (1 +) * 2\n");
  ck_assert_int_eq(p.errors, 3);
  ck_assert_int_eq(p.n, 0);           /* on error no statements are returned */
  ck_assert_int_eq(count(p.d.text.s, ": error: "), 3);
  ck_assert_ptr_nonnull(strstr(p.d.text.s, "t.hnn:1:13: error: "));
  ck_assert_ptr_nonnull(strstr(p.d.text.s, "t.hnn:3:9: error: "));
  ck_assert_ptr_nonnull(strstr(p.d.text.s, "t.hnn:4:11: error: "));
  ck_assert_int_eq(p.d.first_line, 1);
  ck_assert_int_eq(p.d.first_col, 13);
  ck_assert_int_eq(p.incomplete, 0);
  parsed_free(&p);
  /* lexical errors are reported with the syntax errors */
  parse_text(&p, "param a = 2x\nprint $\n");
  ck_assert_int_ge(p.errors, 2);
  ck_assert_ptr_nonnull(strstr(p.d.text.s, "malformed number '2x'"));
  ck_assert_ptr_nonnull(strstr(p.d.text.s, "unexpected character '$'"));
  parsed_free(&p);
}
END_TEST

START_TEST(test_parse_incomplete) {
  static const char *unfinished[] = {
    "print (1 + 2", "param a = 1 +", "print [1, 2,", "param Q = [[1, 2],\n", "function g(x) =",
  };
  for (size_t i = 0; i < sizeof unfinished / sizeof *unfinished; i++) {
    parsed p;
    parse_text(&p, unfinished[i]);
    ck_assert_msg(p.errors > 0, "'%s' parsed", unfinished[i]);
    ck_assert_msg(p.incomplete, "'%s' is not flagged incomplete", unfinished[i]);
    parsed_free(&p);
  }
  static const char *wrong[] = { "print (1 + )", "param a = 2 3", "print )" };
  for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
    parsed p;
    parse_text(&p, wrong[i]);
    ck_assert_msg(p.errors > 0, "'%s' parsed", wrong[i]);
    ck_assert_msg(!p.incomplete, "'%s' is flagged incomplete", wrong[i]);
    parsed_free(&p);
  }
  /* the API reports it too */
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_load_string(S, "print (1 +", "r.hnn"), HNN_ERR_SCRIPT);
  ck_assert(hnn_error_incomplete(S));
  ck_assert_int_eq(hnn_load_string(S, "print 1 +* 2", "r.hnn"), HNN_ERR_SCRIPT);
  ck_assert(!hnn_error_incomplete(S));
  hnn_close(S);
}
END_TEST

START_TEST(test_parse_depth_limit) {
  /* 500 nested sums: rejected with an error, never a crash */
  strbuf b = STRBUF_INIT;
  sb_puts(&b, "print ");
  for (int i = 0; i < 500; i++) sb_puts(&b, "(1+");
  sb_puts(&b, "1");
  for (int i = 0; i < 500; i++) sb_puts(&b, ")");
  parsed p;
  parse_text(&p, b.s);
  ck_assert_int_ge(p.errors, 1);
  ck_assert_ptr_nonnull(strstr(p.d.text.s, "nested too deeply"));
  parsed_free(&p);
  sb_free(&b);
}
END_TEST

/* ---- checker ---- */

static char *describe(const char *src, const char *name) {
  hnn_state *S = hnn_open();
  FILE *null = fopen("/dev/null", "w");
  hnn_set_output(S, null);
  int st = hnn_load_string(S, src, "d.hnn");
  ck_assert_msg(st == HNN_OK, "load failed: %s", hnn_error(S));
  char *d = hnn_describe(S, name);
  hnn_close(S);
  fclose(null);
  return d;
}

START_TEST(test_check_dimension_inference) {
  char *d = describe("param p[3] = [1, 2, 3]\nobjective f(x[n]) = dot(p, x)\n", "f");
  ck_assert_ptr_nonnull(d);
  ck_assert_str_eq(d, "objective f(x[3]) -> scalar");
  free(d);
  /* n fixed by a matrix product */
  d = describe("param Q[2,2] = [[1, 0], [0, 1]]\nfunction g(x[n]) = Q*x\n", "g");
  ck_assert_ptr_nonnull(d);
  ck_assert_ptr_nonnull(strstr(d, "x[2]"));
  free(d);
  d = describe("param p[3] = [1, 2, 3]\n", "p");
  ck_assert_ptr_nonnull(d);
  ck_assert_ptr_nonnull(strstr(d, "param"));
  free(d);
  d = describe("param a = 1\n", "nonexistent");
  ck_assert_ptr_null(d);
}
END_TEST

START_TEST(test_check_generic) {
  /* a size-generic function stays generic, and works at two sizes */
  char *d = describe("function total(x[n]) = sum(x) + n\n", "total");
  ck_assert_ptr_nonnull(d);
  ck_assert_ptr_nonnull(strstr(d, "x[n]"));
  free(d);
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_load_string(S, "function total(x[n]) = sum(x) + n\n", "g.hnn"), HNN_OK);
  double out[4];
  size_t r, c;
  ck_assert_int_eq(hnn_eval(S, "total([1, 2])", out, 4, &r, &c), HNN_OK);
  ck_assert_double_eq(out[0], 5);
  ck_assert_int_eq(r, 1);
  ck_assert_int_eq(c, 1);
  ck_assert_int_eq(hnn_eval(S, "total([1, 2, 3, 4])", out, 4, &r, &c), HNN_OK);
  ck_assert_double_eq(out[0], 14);
  /* a compiled callback at a chosen size */
  hnn_fn *fn = hnn_get(S, "total", HNN_VALUE, 3);
  ck_assert_msg(fn != NULL, "%s", hnn_error(S));
  ck_assert_int_eq(hnn_fn_nin(fn), 3);
  double x[3] = { 1, 1, 1 };
  ck_assert_int_eq(hnn_call(fn, x, out), HNN_OK);
  ck_assert_double_eq(out[0], 6);
  /* mismatched sizes of one size variable are an error */
  ck_assert_int_eq(hnn_load_string(S, "function w(x[n], y[n]) = dot(x, y)\nprint w([1, 2], [1, 2, 3])\n",
                                   "g2.hnn"),
                   HNN_ERR_SCRIPT);
  hnn_close(S);
}
END_TEST

START_TEST(test_check_cycles) {
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_check_string(S, "function f(x) = g(x) + 1\nfunction g(x) = 2*f(x)\n", "c.hnn"),
                   HNN_ERR_SCRIPT);
  ck_assert_ptr_nonnull(strstr(hnn_error(S), "cycle"));
  ck_assert_int_eq(hnn_check_string(S, "param a = b + 1\nparam b = 2*a\n", "c.hnn"), HNN_ERR_SCRIPT);
  ck_assert_ptr_nonnull(strstr(hnn_error(S), "depends on itself"));
  ck_assert_int_eq(hnn_check_string(S, "function h(x) = h(x - 1)\n", "c.hnn"), HNN_ERR_SCRIPT);
  /* order-free but acyclic is fine */
  ck_assert_int_eq(hnn_check_string(S, "function f(x) = g(x) + 1\nfunction g(x) = 2*x\nparam a = b\nparam b = 1\n",
                                    "ok.hnn"),
                   HNN_OK);
  hnn_close(S);
}
END_TEST

/* ---- API ---- */

#define HIMMELBLAU                                                            \
  "objective himmelblau(x[2]) = ((10*x[1] - 5)^2 + (10*x[2] - 5) - 11)^2 +\n" \
  "                             ((10*x[1] - 5) + (10*x[2] - 5)^2 - 7)^2\n"

START_TEST(test_api_gradient_vs_fd) {
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_load_string(S, HIMMELBLAU, "h.hnn"), HNN_OK);
  hnn_fn *f = hnn_function(S, "himmelblau");
  hnn_fn *g = hnn_gradient(S, "himmelblau");
  ck_assert_msg(f && g, "%s", hnn_error(S));
  ck_assert_int_eq(hnn_fn_nin(g), 2);
  ck_assert_int_eq(hnn_fn_nout(g), 2);
  /* Central differences with h = 1e-6: the truncation error is
  ** h^2/6 |f'''| ~ 1e-12 * 1e3..1e4 (third derivatives of the scaled
  ** Himmelblau are ~1e3-1e4, gradients ~1e2-1e3), i.e. ~1e-10 relative;
  ** the rounding error is ~eps |f| / h ~ 2e-16 * 1e2 / 1e-6 ~ 2e-8 absolute,
  ** ~1e-10 relative to gradients of size 1e2.  Both are far below the 1e-6
  ** relative tolerance, while a wrong derivative rule is off by O(1). */
  const double h = 1e-6, tol = 1e-6;
  const double pts[][2] = { { 0.3, 0.3 }, { 0.1, 0.9 }, { 0.8, 0.2 }, { 0.55, 0.45 } };
  for (size_t k = 0; k < sizeof pts / sizeof *pts; k++) {
    double gx[2];
    ck_assert_int_eq(hnn_call(g, pts[k], gx), HNN_OK);
    for (int i = 0; i < 2; i++) {
      double xp[2] = { pts[k][0], pts[k][1] }, xm[2] = { pts[k][0], pts[k][1] }, fp, fm;
      xp[i] += h;
      xm[i] -= h;
      ck_assert_int_eq(hnn_call(f, xp, &fp), HNN_OK);
      ck_assert_int_eq(hnn_call(f, xm, &fm), HNN_OK);
      double fd = (fp - fm) / (2 * h);
      ck_assert_msg(fabs(gx[i] - fd) <= tol * fmax(1, fabs(fd)), "point %zu, component %d: grad %.15g, fd %.15g",
                    k, i, gx[i], fd);
    }
  }
  /* the same through hnn_eval */
  double out[2];
  size_t r, c;
  ck_assert_int_eq(hnn_eval(S, "grad himmelblau([0.25, 0.5])", out, 2, &r, &c), HNN_OK);
  ck_assert_int_eq(r, 2);
  ck_assert_int_eq(c, 1);
  ck_assert_double_eq(out[0], 285);
  ck_assert_double_eq(out[1], -95);
  /* too little room is an error, not an overflow */
  ck_assert_int_ne(hnn_eval(S, "[1, 2, 3]", out, 2, &r, &c), HNN_OK);
  hnn_close(S);
}
END_TEST

START_TEST(test_api_param_set) {
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_load_string(S, "param w[2] = [1, 1]\nparam c = 0\n"
                                      "function lin(x[2]) = dot(w, x) + c\n",
                                   "p.hnn"),
                   HNN_OK);
  hnn_fn *fn = hnn_function(S, "lin");
  ck_assert_msg(fn != NULL, "%s", hnn_error(S));
  double x[2] = { 2, 3 }, out;
  ck_assert_int_eq(hnn_call(fn, x, &out), HNN_OK);
  ck_assert_double_eq(out, 5);
  double w[2] = { 10, 100 }, c = 0.5;
  ck_assert_int_eq(hnn_param_set(S, "w", w, 2), HNN_OK);
  ck_assert_int_eq(hnn_param_set(S, "c", &c, 1), HNN_OK);
  /* the same callback, not recompiled, sees the new values */
  ck_assert_int_eq(hnn_call(fn, x, &out), HNN_OK);
  ck_assert_double_eq(out, 320.5);
  double back[2];
  size_t n;
  ck_assert_int_eq(hnn_param_get(S, "w", back, 2, &n), HNN_OK);
  ck_assert_int_eq(n, 2);
  ck_assert_double_eq(back[1], 100);
  /* wrong count and unknown names are errors */
  ck_assert_int_ne(hnn_param_set(S, "w", w, 1), HNN_OK);
  ck_assert_int_ne(hnn_param_set(S, "nope", w, 1), HNN_OK);
  hnn_close(S);
}
END_TEST

START_TEST(test_api_two_states) {
  hnn_state *A = hnn_open(), *B = hnn_open();
  ck_assert_int_eq(hnn_load_string(A, "param k = 2\nfunction f(x) = k*x\n", "a.hnn"), HNN_OK);
  ck_assert_int_eq(hnn_load_string(B, "param k = 3\nfunction f(x) = k*x + 1\n", "b.hnn"), HNN_OK);
  hnn_fn *fa = hnn_function(A, "f"), *fb = hnn_function(B, "f");
  ck_assert_msg(fa && fb, "%s %s", hnn_error(A), hnn_error(B));
  double x = 5, oa, ob;
  ck_assert_int_eq(hnn_call(fa, &x, &oa), HNN_OK);
  ck_assert_int_eq(hnn_call(fb, &x, &ob), HNN_OK);
  ck_assert_double_eq(oa, 10);
  ck_assert_double_eq(ob, 16);
  /* an error in one leaves the other alone */
  ck_assert_int_eq(hnn_load_string(A, "print nope", "a2.hnn"), HNN_ERR_SCRIPT);
  ck_assert_int_eq(hnn_call(fb, &x, &ob), HNN_OK);
  ck_assert_double_eq(ob, 16);
  hnn_close(A);
  ck_assert_int_eq(hnn_call(fb, &x, &ob), HNN_OK);
  ck_assert_double_eq(ob, 16);
  hnn_close(B);
}
END_TEST

START_TEST(test_api_error_text) {
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_load_string(S, "param alpha = 1\nprint alpah + 1\n", "model.hnn"), HNN_ERR_SCRIPT);
  const char *e = hnn_error(S);
  ck_assert_ptr_nonnull(strstr(e, "model.hnn:2:7: error: unknown name 'alpah'"));
  ck_assert_ptr_nonnull(strstr(e, "    2 | print alpah + 1\n"));
  ck_assert_ptr_nonnull(strstr(e, "      |       ^~~~~\n"));
  ck_assert_str_eq(hnn_error_file(S), "model.hnn");
  ck_assert_int_eq(hnn_error_line(S), 2);
  ck_assert_int_eq(hnn_error_col(S), 7);
  /* a failed load does not define anything; the state stays usable */
  ck_assert_ptr_null(hnn_describe(S, "alpha"));
  ck_assert_int_eq(hnn_load_string(S, "param beta = 2\n", "ok.hnn"), HNN_OK);
  double v;
  ck_assert_int_eq(hnn_eval(S, "beta*3", &v, 1, NULL, NULL), HNN_OK);
  ck_assert_double_eq(v, 6);
  /* errors from hnn_eval name their place too */
  ck_assert_int_ne(hnn_eval(S, "[1, 2] + [1, 2, 3]", &v, 1, NULL, NULL), HNN_OK);
  ck_assert_ptr_nonnull(strstr(hnn_error(S), ":1:1: error: dimension mismatch"));
  /* a later load (a new line of the REPL) numbers its lines from first_line */
  ck_assert_int_eq(hnn_load_string_at(S, "print zeta", "<stdin>", 7), HNN_ERR_SCRIPT);
  ck_assert_int_eq(hnn_error_line(S), 7);
  hnn_close(S);
}
END_TEST

START_TEST(test_api_eval_shapes) {
  hnn_state *S = hnn_open();
  double out[6];
  size_t r, c;
  ck_assert_int_eq(hnn_eval(S, "[[1, 2, 3], [4, 5, 6]]", out, 6, &r, &c), HNN_OK);
  ck_assert_int_eq(r, 2);
  ck_assert_int_eq(c, 3);
  ck_assert_double_eq(out[5], 6);
  char *s = hnn_eval_string(S, "[[1, 0], [0, 1]]*[0.5, 2]");
  ck_assert_ptr_nonnull(s);
  ck_assert_str_eq(s, "[0.5, 2]");
  free(s);
  hnn_close(S);
}
END_TEST

/* Not started by mpirun or srun: one process, whatever the build, and the
** end-of-program agreement hands back this process's own outcome. */
START_TEST(test_api_mpi_one_process) {
  int argc = 1;
  char *args[] = { "check_front", NULL }, **argv = args;
#ifdef HNN_WITH_MPI
  ck_assert_int_eq(hnn_mpi_available(), 1);
#else
  ck_assert_int_eq(hnn_mpi_available(), 0);
#endif
  ck_assert_int_eq(hnn_mpi_start(&argc, &argv), HNN_OK);
  ck_assert_int_eq(hnn_mpi_rank(), 0);
  ck_assert_int_eq(hnn_mpi_size(), 1);
  long lo = -1, hi = -1;
  par_share(10, &lo, &hi);
  ck_assert(lo == 0 && hi == 10);
  double v[3] = { 1, 2, 3 };
  ck_assert_int_eq(par_gather(v, 3, sizeof(double), 7, NULL, 0), 7);   /* nothing to move */
  ck_assert(v[0] == 1 && v[2] == 3);
  char *text = NULL;
  ck_assert_int_eq(hnn_mpi_finish(HNN_ERR_RUNTIME, "x.hnn:1:1: error: boom", &text), HNN_ERR_RUNTIME);
  ck_assert_ptr_nonnull(text);
  ck_assert_str_eq(text, "x.hnn:1:1: error: boom");
  free(text);
  ck_assert_int_eq(hnn_mpi_finish(HNN_OK, "", &text), HNN_OK);
  ck_assert_ptr_null(text);
  /* no MPI_Init here, so no communicator can be taken */
  int fake = 0;
  ck_assert_int_eq(hnn_set_mpi_comm(&fake), HNN_ERR_USAGE);
  ck_assert_int_eq(hnn_set_mpi_comm(NULL), HNN_OK);
  hnn_mpi_stop();
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("front");
  TCase *p = tcase_create("parser");
  tcase_add_test(p, test_parse_statements);
  tcase_add_test(p, test_parse_continuation_and_comments);
  tcase_add_test(p, test_parse_errors_one_pass);
  tcase_add_test(p, test_parse_incomplete);
  tcase_add_test(p, test_parse_depth_limit);
  suite_add_tcase(s, p);
  TCase *c = tcase_create("checker");
  tcase_add_test(c, test_check_dimension_inference);
  tcase_add_test(c, test_check_generic);
  tcase_add_test(c, test_check_cycles);
  suite_add_tcase(s, c);
  TCase *a = tcase_create("api");
  tcase_set_timeout(a, 30);
  tcase_add_test(a, test_api_gradient_vs_fd);
  tcase_add_test(a, test_api_param_set);
  tcase_add_test(a, test_api_two_states);
  tcase_add_test(a, test_api_error_text);
  tcase_add_test(a, test_api_eval_shapes);
  tcase_add_test(a, test_api_mpi_one_process);
  suite_add_tcase(s, a);
  return s;
}

int main(void) {
  return check_run(suite());
}
