/*
** disc_bench.c — time the discrepancy fields of runtime/wfield_disc.c on
** 2-D clouds (bench/wdisc/bench.sh compares them with numpy and POT on the
** same points, written to FILE as raw doubles: x then y).
**   disc_bench mmd N FILE        wf_mmd, energy kernel (exact), N vs N
**   disc_bench w2 N FILE         wf_w2, exact plan, N vs N
**   disc_bench sinkhorn N EPS    wf_sinkhorn at tol 1e-6
** Prints "hnn-KIND N=.. threads=.. time=SECONDS check=..." (best of 3).
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "wfield.h"

static uint64_t rs = 42;
static double unif(void) {
  uint64_t z = (rs += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return ((double)((z ^ (z >> 31)) >> 11) + 0.5) * 0x1.0p-53;
}
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  const char *kind = argv[1];
  size_t N = (size_t)atol(argv[2]);
  double *x = malloc(2 * N * sizeof *x), *y = malloc(2 * N * sizeof *y), *v = malloc(2 * N * sizeof *v);
  for (size_t i = 0; i < 2 * N; i++) x[i] = unif();
  for (size_t i = 0; i < 2 * N; i++) y[i] = 0.5 + unif();
  if (strcmp(kind, "sinkhorn")) {
    FILE *f = fopen(argv[3], "wb");
    if (!f || fwrite(x, sizeof *x, 2 * N, f) != 2 * N || fwrite(y, sizeof *y, 2 * N, f) != 2 * N) return 1;
    fclose(f);
  }
  wf_kernel ke = { .recognized = 1, .ks = KS_ENERGY, .scale = 1 };
  for (int threads = 1; threads <= 2; threads++) {
    wf_opts o = { .threads = threads, .eps = strcmp(kind, "sinkhorn") ? 0 : atof(argv[3]) };
    double best = INFINITY, check = 0;
    for (int r = 0; r < 3; r++) {
      memset(v, 0, 2 * N * sizeof *v);
      double t0 = now();
      int s = strcmp(kind, "mmd") == 0 ? wf_mmd(&ke, 1, 2, N, x, NULL, N, y, NULL, v, NULL, &o)
              : strcmp(kind, "w2") == 0 ? wf_w2(1, 2, N, x, NULL, N, y, NULL, v, NULL, &o)
                                        : wf_sinkhorn(1, 2, N, x, NULL, N, y, NULL, v, NULL, &o);
      double t = now() - t0;
      if (s < 0) {
        fprintf(stderr, "disc_bench: status %d\n", s);
        return 1;
      }
      best = t < best ? t : best;
    }
    check = 0;
    for (size_t i = 0; i < 2 * N; i++) check += fabs(v[i]);
    printf("hnn-%s N=%zu threads=%d time=%.4f check=%.12g\n", kind, N, threads, best, check / (2 * N));
  }
  return 0;
}
