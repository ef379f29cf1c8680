/*
** exp2_peer.c — the machine's limit for 004 Experiment 2's training: the
** three widths (10, 100, 1000) x 1000 epochs of full-batch gradient
** descent on 50 scalar points, the network sum_j a_j relu(w_j x + b_j) + c
** (hnn's phi = m a relu(w x + b) + sqrt(m) e), written as plain loops for
** gcc -O3 -march=native -ffast-math on one thread: the neurons as
** structure of arrays, the loops over neurons vectorized, forward and
** backward one pass each per epoch.  No files, no monitor, no W2: only
** the arithmetic hnn's engine does, so hnn's end-to-end time minus this
** is what the rest (start-up, parsing, JIT, outputs, the monitors and
** hnn's fixed summation order) costs.  Its sums are reassociated by
** -ffast-math, so its bits are not hnn's.
** Usage: exp2_peer REPS
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double clk(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* one run: width m, 1000 epochs; returns the final MSE (so nothing is optimized away) */
static double train(long m, long n, const double *x, const double *y, unsigned long long seed) {
  double *a = malloc(sizeof(double) * m), *w = malloc(sizeof(double) * m), *b = malloc(sizeof(double) * m);
  double *ga = malloc(sizeof(double) * m), *gw = malloc(sizeof(double) * m), *gb = malloc(sizeof(double) * m);
  double r[64], c = 0, lr = 0.01 / sqrt((double)m), mse = 0;
  unsigned long long s = seed;
#define RND() (s ^= s << 13, s ^= s >> 7, s ^= s << 17, (double)(s >> 11) / 9007199254740992.0 * 2 - 1)
  for (long i = 0; i < m; i++) a[i] = RND() / sqrt((double)m), w[i] = RND(), b[i] = RND();
  for (int epoch = 0; epoch < 1000; epoch++) {
    mse = 0;
    for (long k = 0; k < n; k++) {   /* forward: f(x_k), the residuals */
      double f = c;
      for (long i = 0; i < m; i++) {
        double u = w[i] * x[k] + b[i];
        f += a[i] * (u > 0 ? u : 0);
      }
      r[k] = 2 * (f - y[k]) / (double)n;   /* d MSE / d f(x_k) */
      mse += (f - y[k]) * (f - y[k]) / (double)n;
    }
    double gc = 0;
    for (long k = 0; k < n; k++) gc += r[k];
    for (long i = 0; i < m; i++) {   /* backward: per neuron, sums over the points (vectorized) */
      double sa = 0, sb = 0, sw = 0;
      for (long k = 0; k < n; k++) {
        double u = w[i] * x[k] + b[i], on = u > 0 ? 1 : 0;
        sa += r[k] * on * u;
        sb += on * r[k];
        sw += on * r[k] * x[k];
      }
      ga[i] = sa, gb[i] = sb * a[i], gw[i] = sw * a[i];
    }
    for (long i = 0; i < m; i++) a[i] -= lr * ga[i], w[i] -= lr * gw[i], b[i] -= lr * gb[i];
    c -= lr * gc;
  }
  free(a), free(w), free(b), free(ga), free(gw), free(gb);
  return mse;
}

static int cmpd(const void *p, const void *q) {
  double u = *(const double *)p, v = *(const double *)q;
  return (u > v) - (u < v);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 5;
  enum { N = 50 };
  double x[N], y[N];
  for (int k = 0; k < N; k++) x[k] = -1 + 2.0 * k / (N - 1), y[k] = x[k] * x[k];
  double *t = malloc(sizeof(double) * reps), *cpu = malloc(sizeof(double) * reps), mse[3] = { 0 };
  for (int rep = 0; rep < reps; rep++) {
    double t0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
    long widths[3] = { 10, 100, 1000 };
    for (int j = 0; j < 3; j++) mse[j] = train(widths[j], N, x, y, 88172645463325252ull + (unsigned)j);
    t[rep] = clk(CLOCK_MONOTONIC) - t0;
    cpu[rep] = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmpd);
  qsort(cpu, (size_t)reps, sizeof *cpu, cmpd);
  printf("fused C -O3 -march=native -ffast-math, 1 thread: 004 Exp 2 training (widths 10, 100, 1000 x 1000 epochs) "
         "best=%.2f ms median=%.2f ms cpu=%.2f ms (final MSE %.3g %.3g %.3g)\n",
         1e3 * t[0], 1e3 * t[reps / 2], 1e3 * cpu[0], mse[0], mse[1], mse[2]);
  free(t), free(cpu);
  return 0;
}
