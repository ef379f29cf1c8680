/*
** wdisc_figs.c — the particle runs behind the two discrepancy figures of
** source 002, on runtime/wfield_disc.c directly (explicit Euler on the
** velocity fields; the language's particle kind for energies will run the
** same flows from scripts):
**
**   count DIR      the energy-distance (MMD with k = -|x - y|) flow from a
**                  compact Gaussian blob to a two-Gaussian teacher for
**                  N = 10 .. 10^4 particles: DIR/count_N.csv (the final
**                  particles and a thinned set of trajectories) and
**                  DIR/count.csv (N, the energy distance of the initial and
**                  the final cloud to an independent teacher sample of 10^4,
**                  and the floor: the flow's own teacher sample of 5000
**                  measured the same way).
**   geometries DIR the MMD (energy kernel), Sinkhorn-divergence and
**                  straight OT-displacement (1/2 W2^2) flows of one source
**                  cloud to one target cloud: DIR/geo_KIND.csv, trajectories
**                  of every particle, and DIR/geo_target.csv.
** Deterministic: fixed seeds, every sum in a fixed order.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wfield.h"

static uint64_t rs;
static void seed(uint64_t s) { rs = s * 0x9E3779B97F4A7C15u + 1; }
static double unif(void) {
  uint64_t z = (rs += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return ((double)((z ^ (z >> 31)) >> 11) + 0.5) * 0x1.0p-53;
}
static double gauss(void) { return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif()); }

/* the teacher: 1/2 N((-1.2, 0), 0.35^2 I) + 1/2 N((1.2, 0), 0.35^2 I) */
static void teacher(size_t M, double *y) {
  for (size_t j = 0; j < M; j++) {
    double c = j % 2 ? 1.2 : -1.2;
    y[2 * j] = c + 0.35 * gauss();
    y[2 * j + 1] = 0.35 * gauss();
  }
}
/* the source: N((0, 2.2), 0.15^2 I), compact and away from the teacher */
static void source(size_t N, double *x) {
  for (size_t i = 0; i < N; i++) x[2 * i] = 0.15 * gauss(), x[2 * i + 1] = 2.2 + 0.15 * gauss();
}

static int die(const char *what, int s) {
  fprintf(stderr, "wdisc_figs: %s failed: status %d\n", what, s);
  exit(1);
}

static double edist(size_t N, const double *x, size_t M, const double *y) {
  wf_kernel ke = { .recognized = 1, .ks = KS_ENERGY, .scale = 1 };
  wf_opts o = { 0 };
  double v;
  int s = wf_mmd_value(&ke, 2, N, x, NULL, M, y, NULL, &v, &o);
  if (s) die("energy distance", s);
  return v;
}

static FILE *open_out(const char *dir, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) die(path, -1);
  return f;
}

static void count(const char *dir) {
  static const size_t Ns[] = { 10, 30, 100, 300, 1000, 3000, 10000 };
  /* the teacher seen by the flow (M points) and an independent sample of
  ** 10^4 that measures the result; floor: the flow's teacher sample itself
  ** measured the same way */
  const size_t M = 5000, ME = 10000, steps = 800, every = 10, traj = 40;
  double *y = malloc(M * 2 * sizeof *y), *ye = malloc(ME * 2 * sizeof *ye);
  seed(1), teacher(M, y);
  seed(2), teacher(ME, ye);
  FILE *sum = open_out(dir, "count.csv");
  fprintf(sum, "N,initial,final,floor\n");
  double floor_ = edist(M, y, ME, ye);
  wf_kernel ke = { .recognized = 1, .ks = KS_ENERGY, .scale = 1 };
  wf_opts o = { 0 };
  for (size_t k = 0; k < sizeof Ns / sizeof *Ns; k++) {
    size_t N = Ns[k];
    double *x = malloc(N * 2 * sizeof *x), *v = malloc(N * 2 * sizeof *v);
    seed(100 + k), source(N, x);
    double e0 = edist(N, x, ME, ye);
    char name[64];
    snprintf(name, sizeof name, "count_%zu.csv", N);
    FILE *f = open_out(dir, name);
    fprintf(f, "step,particle,x1,x2\n");
    size_t stride = N > traj ? N / traj : 1;
    for (size_t s = 0; s <= steps; s++) {
      if (s % every == 0 || s == steps)
        for (size_t i = 0; i < N; i++)
          if (s == steps || i % stride == 0) fprintf(f, "%zu,%zu,%.9g,%.9g\n", s, i + 1, x[2 * i], x[2 * i + 1]);
      if (s == steps) break;
      memset(v, 0, N * 2 * sizeof *v);
      int st = wf_mmd(&ke, 1, 2, N, x, NULL, M, y, NULL, v, NULL, &o);
      if (st) die("wf_mmd", st);
      /* |v| <= 4 (two averages of unit vectors): steps of 0.02 while the
      ** cloud travels, then 0.1 (stable here: the energy kernel's
      ** stiffness integral(rho(y)/|x - y|) stays O(1) in 2-D) to t = 64 */
      double h = s < 200 ? 0.02 : 0.1;
      for (size_t q = 0; q < 2 * N; q++) x[q] += h * v[q];
    }
    fclose(f);
    double e1 = edist(N, x, ME, ye);
    fprintf(sum, "%zu,%.9g,%.9g,%.9g\n", N, e0, e1, floor_);
    fprintf(stderr, "N = %zu: energy distance %.4g -> %.4g (floor %.3g)\n", N, e0, e1, floor_);
    free(x);
    free(v);
  }
  fclose(sum);
  free(y);
  free(ye);
}

static void geometries(const char *dir) {
  const size_t N = 60, M = 60, steps = 200;
  const double h = 0.025;
  double x0[2 * 60], y[2 * 60];
  seed(7);
  for (size_t i = 0; i < N; i++) x0[2 * i] = -1.6 + 0.35 * gauss(), x0[2 * i + 1] = 0.35 * gauss();
  for (size_t j = 0; j < M; j++) {   /* a crescent */
    double a = M_PI * (0.15 + 0.7 * unif()), r = 1.4 + 0.12 * gauss();
    y[2 * j] = 0.9 + r * sin(a) - 0.6, y[2 * j + 1] = r * cos(a);
  }
  FILE *t = open_out(dir, "geo_target.csv");
  fprintf(t, "x1,x2\n");
  for (size_t j = 0; j < M; j++) fprintf(t, "%.9g,%.9g\n", y[2 * j], y[2 * j + 1]);
  fclose(t);
  static const char *kinds[] = { "mmd", "sinkhorn", "w2" };
  for (int k = 0; k < 3; k++) {
    double x[2 * 60], v[2 * 60], e = 0;
    memcpy(x, x0, sizeof x);
    char name[64];
    snprintf(name, sizeof name, "geo_%s.csv", kinds[k]);
    FILE *f = open_out(dir, name);
    fprintf(f, "step,particle,x1,x2,energy\n");
    wf_kernel ke = { .recognized = 1, .ks = KS_ENERGY, .scale = 1 };
    wf_opts o = { .eps = 0.25 };
    for (size_t s = 0; s <= steps; s++) {
      memset(v, 0, sizeof v);
      int st = k == 0 ? wf_mmd(&ke, 1, 2, N, x, NULL, M, y, NULL, v, &e, &o)
               : k == 1 ? wf_sinkhorn(1, 2, N, x, NULL, M, y, NULL, v, &e, &o)
                        : wf_w2(1, 2, N, x, NULL, M, y, NULL, v, &e, &o);
      if (st < 0) die(kinds[k], st);
      for (size_t i = 0; i < N; i++) fprintf(f, "%zu,%zu,%.9g,%.9g,%.9g\n", s, i + 1, x[2 * i], x[2 * i + 1], e);
      for (size_t q = 0; q < 2 * N; q++) x[q] += h * v[q];
    }
    fclose(f);
    fprintf(stderr, "%s: final energy %.4g\n", kinds[k], e);
  }
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "count") && strcmp(argv[1], "geometries"))) {
    fprintf(stderr, "usage: wdisc_figs count|geometries DIR\n");
    return 2;
  }
  if (strcmp(argv[1], "count") == 0) count(argv[2]);
  else geometries(argv[2]);
  return 0;
}
