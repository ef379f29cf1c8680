/*
** ks_bench.c — benchmark of runtime/kernsum.c (docs/performance.md, "Kernel
** sums").  The clouds come from cloud.h, so the peers (omp_peer.c,
** np_peer.py) sum over the same points.
** Usage:
**   ks_bench exact N threads      Gaussian force, 2-D, h = 0.1, N targets = sources
**   ks_bench fast N h cloud tol   fast path (cloud: uniform | clustered); the
**                                 exact force on 1000 targets for the error
** Prints one line: seconds and, for fast, max |F - F_exact| / max |F_exact|.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cloud.h"
#include "kernsum.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
/* CPU seconds of all threads: on a shared machine, wall time / (CPU / 2)
** says how much of the two cores the run got. */
static double cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: ks_bench exact N threads | fast N h uniform|clustered tol\n");
    return 2;
  }
  size_t N = strtoul(argv[2], NULL, 10);
  double *x = malloc(sizeof(double) * 2 * N), *w = malloc(sizeof(double) * N);
  double *F = malloc(sizeof(double) * 2 * N);
  int clustered = argc > 4 && !strcmp(argv[4], "clustered");
  cloud_make(N, clustered, x);
  for (size_t j = 0; j < N; j++) w[j] = 1.0 / (double)N;
  ks_opts o;
  ks_opts_default(&o);
  ks_stats st;
  if (!strcmp(argv[1], "exact")) {
    o.threads = atoi(argv[3]), o.method = KS_EXACT;
    double t = now();
    int rc = ks_sum(KS_GAUSS, CLOUD_H, 2, N, x, N, x, w, NULL, F, &o, &st);
    t = now() - t;
    if (rc) return fprintf(stderr, "ks_sum: %s\n", ks_strerror(rc)), 3;
    double chk = 0;
    for (size_t i = 0; i < 2 * N; i++) chk += fabs(F[i]);
    printf("hnn exact N=%zu threads=%d seconds=%.3f checksum=%.15e\n", N, o.threads, t, chk);
    return 0;
  }
  double h = atof(argv[3]);
  o.tol = atof(argv[5]);
  double c0 = cpu(), t = now();
  int rc = ks_sum(KS_GAUSS, h, 2, N, x, N, x, w, NULL, F, &o, &st);
  t = now() - t, c0 = cpu() - c0;
  if (rc) return fprintf(stderr, "ks_sum: %s\n", ks_strerror(rc)), 3;
  size_t Ms = 1000, stride = N / Ms;
  double *xs = malloc(sizeof(double) * 2 * Ms), *Fe = malloc(sizeof(double) * 2 * Ms);
  for (size_t i = 0; i < Ms; i++) xs[2 * i] = x[2 * i * stride], xs[2 * i + 1] = x[2 * i * stride + 1];
  o.tol = 0, o.method = KS_EXACT;
  ks_sum(KS_GAUSS, h, 2, Ms, xs, N, x, w, NULL, Fe, &o, NULL);
  double err = 0, mx = 0;
  for (size_t i = 0; i < Ms; i++)
    for (int a = 0; a < 2; a++) {
      err = fmax(err, fabs(F[2 * i * stride + a] - Fe[2 * i + a]));
      mx = fmax(mx, fabs(Fe[2 * i + a]));
    }
  printf("hnn fast N=%zu h=%g %s tol=%g method=%s p=%d grid=%zu seconds=%.3f cpu=%.3f err/max=%.2e bound/max=%.2e\n", N, h,
         clustered ? "clustered" : "uniform", atof(argv[5]), st.method == KS_GRID ? "grid" : "exact", st.order,
         st.grid_points, t, c0, err / mx, st.bound_grad / mx);
  return 0;
}
