/*
** bench.c -- benchmarks of the hnn language core (see run.sh).
**
**  (a) compile: open a fresh state, load a Himmelblau script (parse, check),
**      look up its value and gradient (derive, generate C, JIT), close;
**      median over REPS repetitions.
**  (b) call: the JIT-compiled gradient of Himmelblau (hnn_call_ws and the raw
**      entry point) over a set of varying points, vs the same gradient written
**      by hand in C (handgrad.c, gcc -O2, called through a function pointer).
**  (c) n = 1000 quadratic 0.5*dot(x, Q*x) + dot(b, x): load time (with the
**      1e6 random draws of Q), compile time of the gradient, and cost per call
**      vs a hand-written O(n^2) C loop.
**
** Prints one "key value" line per measurement (run.sh makes the table).
** No assertion on timings; the exit status is non-zero only when the JIT
** and the hand-written gradients disagree.
*/
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handgrad.h"
#include "hnn.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static const char *himmelblau_src =
  "objective himmelblau(x[2]) = ((10*x[1] - 5)^2 + (10*x[2] - 5) - 11)^2 +\n"
  "                             ((10*x[1] - 5) + (10*x[2] - 5)^2 - 7)^2\n";

static const char *quadratic_src =
  "param n = 1000\n"
  "param Q[n,n] = uniform(-1, 1)\n"
  "param b[n] = uniform(-1, 1)\n"
  "objective q(x[n]) = 0.5*dot(x, Q*x) + dot(b, x)\n";

static void die(hnn_state *S, const char *what) {
  fprintf(stderr, "bench: %s: %s\n", what, S ? hnn_error(S) : "hnn_open failed");
  exit(2);
}

/* Function pointers the optimizer cannot see through. */
typedef void (*grad2_fn)(const double *, double *);
typedef void (*gradq_fn)(size_t, const double *, const double *, const double *, double *);
static volatile grad2_fn hand_himmelblau = himmelblau_grad;
static volatile gradq_fn hand_quadratic = quadratic_grad;

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 200;
  int status = 0;
  if (reps < 1) reps = 1;

  /* ---------------------------------------------------------- (a) */
  double *t = malloc((size_t)reps * sizeof *t), *tl = malloc((size_t)reps * sizeof *tl);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    hnn_state *S = hnn_open();
    if (!S) die(NULL, "open");
    if (hnn_load_string(S, himmelblau_src, "himmelblau.hnn") != HNN_OK) die(S, "load");
    double t1 = now();
    if (!hnn_get(S, "himmelblau", HNN_VALUE, 0) || !hnn_get(S, "himmelblau", HNN_GRADIENT, 0)) die(S, "get");
    hnn_close(S);
    double t2 = now();
    t[r] = t2 - t0;
    tl[r] = t1 - t0;
  }
  printf("compile_reps %d\n", reps);
  printf("compile_total_ms %.4f\n", 1e3 * median(t, reps));
  printf("compile_load_ms %.4f\n", 1e3 * median(tl, reps));
  free(t);
  free(tl);

  /* ---------------------------------------------------------- (b) */
  hnn_state *S = hnn_open();
  if (!S || hnn_load_string(S, himmelblau_src, "himmelblau.hnn") != HNN_OK) die(S, "load");
  hnn_fn *g = hnn_get(S, "himmelblau", HNN_GRADIENT, 0);
  if (!g) die(S, "get");
  enum { NPTS = 1024 };
  static double pts[NPTS][2];
  for (int i = 0; i < NPTS; i++) {
    pts[i][0] = (i % 37) / 37.0;
    pts[i][1] = ((i * 7) % 41) / 41.0;
  }
  double *work = calloc(hnn_fn_nwork(g) + 1, sizeof *work);
  hnn_raw_fn raw = hnn_fn_raw(g);
  /* Agreement first. */
  for (int i = 0; i < NPTS; i++) {
    double a[2], b[2];
    hnn_call_ws(g, pts[i], a, work);
    hand_himmelblau(pts[i], b);
    for (int k = 0; k < 2; k++)
      if (fabs(a[k] - b[k]) > 1e-9 * (1 + fabs(b[k]))) {
        fprintf(stderr, "bench: himmelblau gradients differ at point %d: %g vs %g\n", i, a[k], b[k]);
        status = 1;
      }
  }
  long calls = 0;
  double best_jit = 1e30, best_raw = 1e30, best_c = 1e30, sink = 0;
  int outer = 2000;   /* 2000 x 1024 calls per timing */
  for (int trial = 0; trial < 7; trial++) {
    double out[2], t0 = now();
    for (int o = 0; o < outer; o++)
      for (int i = 0; i < NPTS; i++) {
        hnn_call_ws(g, pts[i], out, work);
        sink += out[0];
      }
    double t1 = now();
    for (int o = 0; o < outer; o++)
      for (int i = 0; i < NPTS; i++) {
        raw(pts[i], NULL, out, work);
        sink += out[0];
      }
    double t2 = now();
    for (int o = 0; o < outer; o++)
      for (int i = 0; i < NPTS; i++) {
        hand_himmelblau(pts[i], out);
        sink += out[0];
      }
    double t3 = now();
    if (t1 - t0 < best_jit) best_jit = t1 - t0;
    if (t2 - t1 < best_raw) best_raw = t2 - t1;
    if (t3 - t2 < best_c) best_c = t3 - t2;
    calls = (long)outer * NPTS;
  }
  printf("call_himmelblau_jit_ns %.3f\n", 1e9 * best_jit / (double)calls);
  printf("call_himmelblau_raw_ns %.3f\n", 1e9 * best_raw / (double)calls);
  printf("call_himmelblau_c_ns %.3f\n", 1e9 * best_c / (double)calls);
  free(work);
  hnn_close(S);

  /* ---------------------------------------------------------- (c) */
  enum { N = 1000 };
  double tq_load = 1e30, tq_grad = 1e30;
  hnn_state *Q = NULL;
  hnn_fn *gq = NULL;
  for (int trial = 0; trial < 5; trial++) {
    if (Q) hnn_close(Q);
    double t0 = now();
    Q = hnn_open();
    if (!Q || hnn_load_string(Q, quadratic_src, "quadratic.hnn") != HNN_OK) die(Q, "load quadratic");
    double t1 = now();
    gq = hnn_get(Q, "q", HNN_GRADIENT, 0);
    if (!gq) die(Q, "get quadratic");
    double t2 = now();
    if (t1 - t0 < tq_load) tq_load = t1 - t0;
    if (t2 - t1 < tq_grad) tq_grad = t2 - t1;
  }
  printf("quad_n %d\n", N);
  printf("quad_load_ms %.4f\n", 1e3 * tq_load);
  printf("quad_grad_compile_ms %.4f\n", 1e3 * tq_grad);
  double *Qm = malloc(sizeof(double) * N * N), *bv = malloc(sizeof(double) * N);
  size_t cnt = 0;
  if (hnn_param_get(Q, "Q", Qm, (size_t)N * N, &cnt) != HNN_OK || cnt != (size_t)N * N) die(Q, "param Q");
  if (hnn_param_get(Q, "b", bv, N, &cnt) != HNN_OK || cnt != N) die(Q, "param b");
  double *x = malloc(sizeof(double) * N), *ga = malloc(sizeof(double) * N), *gb = malloc(sizeof(double) * N);
  double *wq = calloc(hnn_fn_nwork(gq) + 1, sizeof *wq);
  for (int i = 0; i < N; i++) x[i] = sin(0.37 * i);
  hnn_call_ws(gq, x, ga, wq);
  hand_quadratic(N, Qm, bv, x, gb);
  for (int i = 0; i < N; i++)
    if (fabs(ga[i] - gb[i]) > 1e-9 * (1 + fabs(gb[i]))) {
      fprintf(stderr, "bench: quadratic gradients differ at %d: %g vs %g\n", i, ga[i], gb[i]);
      status = 1;
      break;
    }
  double best_qj = 1e30, best_qc = 1e30;
  int qcalls = 200;
  for (int trial = 0; trial < 5; trial++) {
    double t0 = now();
    for (int k = 0; k < qcalls; k++) {
      x[k % N] += 1e-3;
      hnn_call_ws(gq, x, ga, wq);
      sink += ga[0];
    }
    double t1 = now();
    for (int k = 0; k < qcalls; k++) {
      x[k % N] += 1e-3;
      hand_quadratic(N, Qm, bv, x, gb);
      sink += gb[0];
    }
    double t2 = now();
    if (t1 - t0 < best_qj) best_qj = t1 - t0;
    if (t2 - t1 < best_qc) best_qc = t2 - t1;
  }
  printf("call_quad_jit_us %.3f\n", 1e6 * best_qj / qcalls);
  printf("call_quad_c_us %.3f\n", 1e6 * best_qc / qcalls);
  fprintf(stderr, "(sink %g)\n", sink);
  free(Qm);
  free(bv);
  free(x);
  free(ga);
  free(gb);
  free(wq);
  hnn_close(Q);
  return status;
}
