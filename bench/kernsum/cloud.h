/*
** cloud.h — the benchmark's point clouds in [0,1]^2 (row-major N x 2), made
** the same way by ks_bench.c and omp_peer.c; np_peer.py reads them from a file.
** uniform, or clustered: 8 Gaussian clusters (sd 0.02-0.1) clipped to the square.
*/
#ifndef KS_BENCH_CLOUD_H
#define KS_BENCH_CLOUD_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define CLOUD_H 0.1 /* bandwidth of the exact benchmark */

static uint64_t cloud_state = 88172645463325252ull;
static double cloud_unif(void) { /* xorshift64* */
  cloud_state ^= cloud_state >> 12, cloud_state ^= cloud_state << 25, cloud_state ^= cloud_state >> 27;
  return (double)((cloud_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static void cloud_make(size_t N, int clustered, double *x) {
  double c[8][3];
  for (int k = 0; k < 8; k++) c[k][0] = 0.1 + 0.8 * cloud_unif(), c[k][1] = 0.1 + 0.8 * cloud_unif(), c[k][2] = 0.02 + 0.08 * cloud_unif();
  for (size_t i = 0; i < N; i++) {
    if (!clustered) {
      x[2 * i] = cloud_unif(), x[2 * i + 1] = cloud_unif();
      continue;
    }
    int k = (int)(8 * cloud_unif());
    double u = cloud_unif(), v = cloud_unif(), r = sqrt(-2 * log(u + 1e-300)) * c[k][2];
    double a = c[k][0] + r * cos(6.283185307179586 * v), b = c[k][1] + r * sin(6.283185307179586 * v);
    x[2 * i] = a < 0 ? 0 : a > 1 ? 1 : a, x[2 * i + 1] = b < 0 ? 0 : b > 1 ? 1 : b;
  }
}
#endif
