/*
** mf_bench.c — one full-batch step (forward, backward, update) of the
** mean-field engine (runtime/meanfield.c) on a ReLU network: width m,
** n data points in d dimensions; best and median of R repetitions.
** Usage: mf_bench M N D THREADS REPS [generic|tanh]
** "generic" calls a C neuron per pair (the path of a user-written neuron,
** without the JIT: a lower bound on that path's cost); "tanh" runs the
** fused kernels of a tanh unit instead of ReLU.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meanfield.h"

static int D;
static int phi(const double *in, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  double u = in[D + 1];
  for (int l = 0; l < D; l++) u += in[1 + l] * in[D + 2 + l];
  out[0] = in[0] * (u > 0 ? u : 0);
  return 0;
}
static int dphi(const double *in, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  double u = in[D + 1];
  for (int l = 0; l < D; l++) u += in[1 + l] * in[D + 2 + l];
  double on = u > 0;
  out[0] = u > 0 ? u : 0;
  for (int l = 0; l < D; l++) out[1 + l] = in[0] * on * in[D + 2 + l], out[D + 2 + l] = in[0] * on * in[1 + l];
  out[D + 1] = in[0] * on;
  return 0;
}

static double clk(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now(void) { return clk(CLOCK_MONOTONIC); }
static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: mf_bench M N D THREADS REPS [generic]\n");
    return 2;
  }
  long m = atol(argv[1]), n = atol(argv[2]);
  int d = atoi(argv[3]), nt = atoi(argv[4]), reps = atoi(argv[5]);
  int generic = argc > 6 && strcmp(argv[6], "generic") == 0, th = argc > 6 && strcmp(argv[6], "tanh") == 0;
  D = d;
  unsigned long long s = 88172645463325252ull;
#define RND() (s ^= s << 13, s ^= s >> 7, s ^= s << 17, (double)(s >> 11) / 9007199254740992.0 * 2 - 1)
  double *x = malloc(sizeof(double) * n * d), *y = malloc(sizeof(double) * n);
  double *xi = malloc(sizeof(double) * m * (d + 2)), *v = malloc(sizeof(double) * m * (d + 2));
  for (long i = 0; i < n * d; i++) x[i] = RND();
  for (long k = 0; k < n; k++) y[k] = RND();
  for (long i = 0; i < m * (d + 2); i++) xi[i] = RND();
  mf_problem P = { .p = d + 2, .d = d, .n = n, .x = x, .y = y, .lambda = 0,
                   .unit = { generic ? MF_GENERIC : th ? MF_TANH : MF_RELU, 0, 1, d + 1, -1, 1, 0 },
                   .phi = { phi, 0 }, .dphi = { dphi, 0 }, .threads = nt };
  mf_ws *w = mf_ws_alloc(&P, m);
  double *t = malloc(sizeof(double) * reps), *cpu = malloc(sizeof(double) * reps);
  char msg[256];
  mf_stats st;
  for (int r = 0; r < reps; r++) {
    double t0 = now(), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
    if (mf_eval(w, xi, v, &st, msg, sizeof msg)) {
      fprintf(stderr, "%s\n", msg);
      return 1;
    }
    mf_step_euler(w, xi, 1e-3, v);
    t[r] = now() - t0;
    cpu[r] = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmpd);
  qsort(cpu, (size_t)reps, sizeof *cpu, cmpd);
  /* a hash of the final weights' bits: equal hashes, equal bytes (across versions and thread counts) */
  unsigned long long hash = 1469598103934665603ull;
  for (long i = 0; i < m * (d + 2); i++) {
    unsigned long long u;
    memcpy(&u, xi + i, sizeof u);
    hash = (hash ^ u) * 1099511628211ull;
  }
  printf("hnn %s m=%ld n=%ld d=%d threads=%d step best=%.4f ms median=%.4f ms cpu=%.4f ms (risk %.6g, bits %016llx)\n",
         generic ? "generic" : th ? "fused tanh" : "fused", m, n, d, nt, 1e3 * t[0], 1e3 * t[reps / 2], 1e3 * cpu[0], st.risk,
         hash);
  mf_ws_free(w);
  free(x), free(y), free(xi), free(v), free(t), free(cpu);
  return 0;
}
