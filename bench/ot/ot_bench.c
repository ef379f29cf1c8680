/*
** ot_bench.c — timings of the OT solvers (runtime/ot1d.c, otexact.c,
** sinkhorn.c) on fixed clouds, for bench/ot/run.sh.  Writes the clouds
** (raw doubles) for ot_peers.py when a dump file is given.
**
** usage: ot_bench sinkhorn N EPS TOL THREADS [dump]  2-D, N per side: the
**          debiased divergence (three problems) to L1 marginal error TOL
**        ot_bench w1d N THREADS [dump]    1-D, N per side: W2^2 and W1
**        ot_bench exact N [dump]          2-D, N per side: W2^2 by LEMON
** Clouds: x uniform on the unit square (or N(0,1) in 1-D), y Gaussian
** (mean 0.6, sd 0.15 per axis; 1-D: mean 1, sd 2), xorshift64* with a
** fixed seed.  Prints one line per measurement: label, seconds, values.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "ot1d.h"
#include "otexact.h"
#include "sinkhorn.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
static uint64_t st = 88172645463325252ull;
static double unif(void) {
  st ^= st >> 12, st ^= st << 25, st ^= st >> 27;
  return ((st * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}
static double gauss(void) {
  double u = unif(), v = unif();
  return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}
static void dump(const char *path, size_t n, const double *x, size_t m, const double *y) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(x, sizeof *x, n, f) != n || fwrite(y, sizeof *y, m, f) != m || fclose(f)) {
    perror(path);
    exit(1);
  }
}
static long maxrss_kb(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_maxrss;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: ot_bench sinkhorn|w1d|exact N ...\n");
    return 2;
  }
  const char *mode = argv[1];
  size_t N = strtoul(argv[2], NULL, 10);
  if (!strcmp(mode, "sinkhorn") && argc >= 6) {
    double eps = atof(argv[3]), tol = atof(argv[4]);
    int threads = atoi(argv[5]);
    double *x = malloc(2 * N * sizeof *x), *y = malloc(2 * N * sizeof *y);
    for (size_t k = 0; k < 2 * N; k++) x[k] = unif();
    for (size_t k = 0; k < 2 * N; k++) y[k] = 0.6 + 0.15 * gauss();
    if (argc > 6) dump(argv[6], 2 * N, x, 2 * N, y);
    ot_sinkhorn_opts o;
    ot_sinkhorn_opts_default(&o);
    o.eps = eps, o.tol = tol, o.threads = threads;
    ot_sinkhorn_ws *w = ot_sinkhorn_ws_alloc(2, N, N);
    ot_sinkhorn_stats s[3];
    double div, t0 = now();
    int r = ot_sinkhorn_divergence(w, &o, 2, N, x, NULL, N, y, NULL, &div, s);
    double t = now() - t0;
    printf("hnn-sinkhorn N=%zu eps=%g tol=%g threads=%d time=%.3f S=%.12g status=%d\n", N, eps, tol,
           threads, t, div, r);
    for (int k = 0; k < 3; k++)
      printf("  problem %s: levels %d iterations %d L1 marginal error %.3g\n",
             k == 0 ? "(a,b)" : k == 1 ? "(a,a)" : "(b,b)", s[k].levels, s[k].iterations,
             s[k].marginal_err);
    printf("  max RSS %ld KB (the clouds: %zu KB)\n", maxrss_kb(), 4 * N * sizeof(double) / 1024);
    ot_sinkhorn_ws_free(w);
    free(x), free(y);
    return r != 0;
  }
  if (!strcmp(mode, "w1d") && argc >= 4) {
    int threads = atoi(argv[3]);
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (size_t k = 0; k < N; k++) x[k] = gauss();
    for (size_t k = 0; k < N; k++) y[k] = 1.0 + 2.0 * gauss();
    if (argc > 4) dump(argv[4], N, x, N, y);
    ot1d_ws *w = ot1d_ws_alloc(N, N);
    for (int p = 2; p >= 1; p--) {
      double best = INFINITY, v = 0;
      for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        if (ot1d_wpp(w, p, N, x, NULL, N, y, NULL, threads, &v)) return 1;
        double t = now() - t0;
        best = t < best ? t : best;
      }
      printf("hnn-w1d N=%zu p=%d threads=%d time=%.4f value=%.12g\n", N, p, threads, best, v);
    }
    ot1d_ws_free(w);
    free(x), free(y);
    return 0;
  }
  if (!strcmp(mode, "exact")) {
    double *x = malloc(2 * N * sizeof *x), *y = malloc(2 * N * sizeof *y);
    for (size_t k = 0; k < 2 * N; k++) x[k] = unif();
    for (size_t k = 0; k < 2 * N; k++) y[k] = 0.6 + 0.15 * gauss();
    if (argc > 3) dump(argv[3], 2 * N, x, 2 * N, y);
    double best = INFINITY, v = 0;
    for (int rep = 0; rep < 3; rep++) {
      double t0 = now();
      if (ot_exact(N, N, 2, x, NULL, y, NULL, 2.0, &v, NULL)) return 1;
      double t = now() - t0;
      best = t < best ? t : best;
    }
    printf("hnn-exact N=%zu time=%.4f value=%.12g\n", N, best, v);
    free(x), free(y);
    return 0;
  }
  fprintf(stderr, "ot_bench: bad arguments\n");
  return 2;
}
