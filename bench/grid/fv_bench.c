/*
** fv_bench.c — the 2-D finite-volume step of docs/performance.md ("Both
** cores") timed on the engine itself: the OU problem of vs_numpy.py (V =
** |x|^2/2, T = 1, 512 x 512 cells on [-4, 4]^2, dt = 0.01, from N((1, 0),
** 0.25 I)), one untimed step, then K timed ones.  Prints the process's CPU
** and wall time per step and each thread's own CPU time per step (from
** /proc/self/task/ID/schedstat): on a shared machine the wall time measures
** the neighbours, while the threads' CPU times say what the wall would be
** with the cores free.  Usage: fv_bench [THREADS [K [N]]] (built by run.sh).
*/
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fv.h"

static double cpu(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
static double wall(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
/* CPU nanoseconds of each thread of the process, in /proc's order */
static int thread_ns(long long *ns, int max) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return 0;
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d)) && n < max) {
    if (e->d_name[0] == '.') continue;
    char p[300];
    snprintf(p, sizeof p, "/proc/self/task/%s/schedstat", e->d_name);
    FILE *f = fopen(p, "r");
    if (!f) continue;
    if (fscanf(f, "%lld", &ns[n]) == 1) n++;
    fclose(f);
  }
  closedir(d);
  return n;
}
static int cb_V(const double *x, const double *d, double *o, double *w) {
  (void)d, (void)w;
  o[0] = 0.5 * (x[0] * x[0] + x[1] * x[1]);
  return 0;
}

int main(int argc, char **argv) {
  int th = argc > 1 ? atoi(argv[1]) : 1, K = argc > 2 ? atoi(argv[2]) : 8, n = argc > 3 ? atoi(argv[3]) : 512;
  if (th < 1 || K < 1 || n < 2) {
    fprintf(stderr, "usage: fv_bench [THREADS [K [N]]]\n");
    return 2;
  }
  fv_problem p;
  memset(&p, 0, sizeof p);
  p.grid.dim = 2, p.grid.n[0] = p.grid.n[1] = n;
  p.grid.lo[0] = p.grid.lo[1] = -4, p.grid.hi[0] = p.grid.hi[1] = 4;
  p.V.fn = cb_V, p.T = 1;
  fv_options o = { 0, 0, 0, th, 1 };
  double h = 8.0 / n, sum = 0, *r = malloc(sizeof(double) * n * n);
  for (int j = 0; j < n; j++)
    for (int i = 0; i < n; i++) {
      double x = -4 + (i + 0.5) * h, y = -4 + (j + 0.5) * h;
      sum += r[j * n + i] = exp(-((x - 1) * (x - 1) + y * y) / 0.5);
    }
  for (int c = 0; c < n * n; c++) r[c] /= sum * h * h;
  char msg[256];
  fv_solver *s = fv_new(&p, &o, r, msg, sizeof msg);
  if (!s || fv_step(s, 0.01, msg, sizeof msg)) {
    fprintf(stderr, "fv_bench: %s\n", msg);
    return 3;
  }
  long nw = fv_stats_of(s)->newton;
  long long t0[64], t1[64];
  int n0 = thread_ns(t0, 64);
  double c0 = cpu(), w0 = wall();
  for (int k = 0; k < K; k++)
    if (fv_step(s, 0.01, msg, sizeof msg)) {
      fprintf(stderr, "fv_bench: %s\n", msg);
      return 3;
    }
  double c1 = cpu(), w1 = wall();
  int n1 = thread_ns(t1, 64);
  printf("fv %d x %d OU step dt = 0.01, %d thread(s): CPU %.4f s, wall %.4f s per step, %.2f Newton iterations\n", n, n,
         th, (c1 - c0) / K, (w1 - w0) / K, (double)(fv_stats_of(s)->newton - nw) / K);
  if (n0 == n1) {
    printf("  each thread's CPU per step:");
    for (int k = 0; k < n1; k++) printf(" %.4f s", (t1[k] - t0[k]) * 1e-9 / K);
    printf("\n");
  }
  fv_free(s);
  free(r);
  return 0;
}
