/*
** fused_peer.c — the machine's limit for one full-batch step of a two-layer
** ReLU network (forward, backward, update), written as plain C for
** gcc -O3 -march=native -ffast-math -fopenmp: neurons in blocks of 256
** held across the block (structure of arrays), the loops over a block's
** neurons vectorized, blocks spread over the OpenMP threads.  Results
** depend on the thread count (OpenMP reduction), which hnn's cannot.
** Usage: fused_peer M N D REPS
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BK 256

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 5) return 2;
  long m = atol(argv[1]), n = atol(argv[2]), reps = atol(argv[4]);
  int d = atoi(argv[3]);
  long mb = (m + BK - 1) / BK * BK;
  unsigned long long s = 88172645463325252ull;
#define RND() (s ^= s << 13, s ^= s >> 7, s ^= s << 17, (double)(s >> 11) / 9007199254740992.0 * 2 - 1)
  double *x = malloc(sizeof(double) * n * d), *y = malloc(sizeof(double) * n), *f = malloc(sizeof(double) * n);
  double *W = calloc((size_t)mb * d, sizeof(double)), *b = calloc(mb, sizeof(double)), *c = calloc(mb, sizeof(double));
  for (long i = 0; i < n * d; i++) x[i] = RND();
  for (long k = 0; k < n; k++) y[k] = RND();
  for (long i = 0; i < m; i++) {   /* W stored block-major: W[blk][l][j] */
    c[i] = RND(), b[i] = RND();
    for (int l = 0; l < d; l++) W[(i / BK) * BK * d + l * BK + i % BK] = RND();
  }
  double *t = malloc(sizeof(double) * reps);
  for (long r = 0; r < reps; r++) {
    double t0 = now();
    memset(f, 0, sizeof(double) * n);
#pragma omp parallel for reduction(+ : f[:n])
    for (long blk = 0; blk < mb / BK; blk++) {
      const double *Wb = W + blk * BK * d, *bb = b + blk * BK, *cb = c + blk * BK;
      double u[BK];
      for (long k = 0; k < n; k++) {
        for (int j = 0; j < BK; j++) u[j] = bb[j];
        for (int l = 0; l < d; l++)
          for (int j = 0; j < BK; j++) u[j] += Wb[l * BK + j] * x[k * d + l];
        double acc = 0;
        for (int j = 0; j < BK; j++) acc += cb[j] * (u[j] > 0 ? u[j] : 0);
        f[k] += acc;
      }
    }
    for (long k = 0; k < n; k++) f[k] = (f[k] / m - y[k]) / n;
#pragma omp parallel for
    for (long blk = 0; blk < mb / BK; blk++) {
      double *Wb = W + blk * BK * d, *bb = b + blk * BK, *cb = c + blk * BK;
      double u[BK], tt[BK], gc[BK] = { 0 }, gb[BK] = { 0 }, *gW = calloc((size_t)BK * d, sizeof(double));
      for (long k = 0; k < n; k++) {
        for (int j = 0; j < BK; j++) u[j] = bb[j];
        for (int l = 0; l < d; l++)
          for (int j = 0; j < BK; j++) u[j] += Wb[l * BK + j] * x[k * d + l];
        for (int j = 0; j < BK; j++) {
          gc[j] += f[k] * (u[j] > 0 ? u[j] : 0);
          tt[j] = u[j] > 0 ? f[k] * cb[j] : 0;
          gb[j] += tt[j];
        }
        for (int l = 0; l < d; l++)
          for (int j = 0; j < BK; j++) gW[l * BK + j] += tt[j] * x[k * d + l];
      }
      for (int j = 0; j < BK; j++) cb[j] -= 1e-3 * gc[j], bb[j] -= 1e-3 * gb[j];
      for (int l = 0; l < d * BK; l++) Wb[l] -= 1e-3 * gW[l];
      free(gW);
    }
    t[r] = now() - t0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmpd);
  printf("fused C -O3 -march=native m=%ld n=%ld d=%d step best=%.2f ms median=%.2f ms\n", m, n, d, 1e3 * t[0],
         1e3 * t[reps / 2]);
  return 0;
}
