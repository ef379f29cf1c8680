/*
** omp_peer.c — the hand-written reference of the exact benchmark: an OpenMP
** double loop over the same cloud (cloud.h), built by run.sh with
** gcc -O3 -march=native -ffast-math -fopenmp, so exp is glibc's SIMD one
** (libmvec).  Usage: omp_peer N [dumpfile]  (dumpfile: the cloud as raw
** doubles, for np_peer.py).
*/
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include "cloud.h"

int main(int argc, char **argv) {
  size_t N = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
  double *x = malloc(sizeof(double) * 2 * N), *F = malloc(sizeof(double) * 2 * N);
  cloud_make(N, 0, x);
  if (argc > 2) {
    FILE *f = fopen(argv[2], "wb");
    if (!f || fwrite(x, sizeof(double), 2 * N, f) != 2 * N) return perror(argv[2]), 1;
    fclose(f);
  }
  const double h = CLOUD_H, c = -0.5 / (h * h), w = 1.0 / (double)N;
  double t = omp_get_wtime();
#pragma omp parallel for schedule(dynamic, 64)
  for (size_t i = 0; i < N; i++) {
    double xi = x[2 * i], yi = x[2 * i + 1], sx = 0, sy = 0;
#pragma omp simd reduction(+ : sx, sy)
    for (size_t j = 0; j < N; j++) {
      double dx = x[2 * j] - xi, dy = x[2 * j + 1] - yi, k = w * exp(c * (dx * dx + dy * dy));
      sx += k * dx, sy += k * dy;
    }
    F[2 * i] = sx / (h * h), F[2 * i + 1] = sy / (h * h);
  }
  t = omp_get_wtime() - t;
  double chk = 0;
  for (size_t i = 0; i < 2 * N; i++) chk += F[i] < 0 ? -F[i] : F[i];
  printf("omp peer N=%zu threads=%d seconds=%.3f checksum=%.15e\n", N, omp_get_max_threads(), t, chk);
  return 0;
}
