/*
** ks_driver.c — runs ks_sum (Gaussian, exact path) under MPI for
** tests/run-mpi.sh and bench/mpi: M targets and N sources in d dimensions
** drawn from fixed streams, pot and grad split over the processes
** (runtime/par.h).  Rank 0 writes the raw doubles (pot, then grad) to OUT
** and prints the seconds of one sum (the mean over the repeats after a
** first, untimed one) and the bytes this rank received per sum.
** usage: ks_driver M N d OUT [repeats]
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gsl/gsl_rng.h>

#include "kernsum.h"
#include "par.h"
#include "rng.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  char err[256];
  if (par_start(&argc, &argv, err, sizeof err)) return fprintf(stderr, "ks_driver: %s\n", err), 3;
  if (argc < 5) return fprintf(stderr, "usage: ks_driver M N d OUT [repeats]\n"), 2;
  size_t M = strtoul(argv[1], NULL, 10), N = strtoul(argv[2], NULL, 10);
  int d = atoi(argv[3]), reps = argc > 5 ? atoi(argv[5]) : 1;
  double *x = malloc(sizeof(double) * M * d), *y = malloc(sizeof(double) * N * d);
  double *w = malloc(sizeof(double) * N), *pot = malloc(sizeof(double) * M), *grad = malloc(sizeof(double) * M * d);
  if (!x || !y || !w || !pot || !grad) return fprintf(stderr, "ks_driver: out of memory\n"), 3;
  gsl_rng *g = rng_stream(7, RNG_RUN, 1);
  for (size_t i = 0; i < M * d; i++) x[i] = gsl_rng_uniform(g) * 4 - 2;
  for (size_t i = 0; i < N * d; i++) y[i] = gsl_rng_uniform(g) * 4 - 2;
  for (size_t j = 0; j < N; j++) w[j] = gsl_rng_uniform(g);
  gsl_rng_free(g);
  ks_opts o;
  ks_opts_default(&o);
  o.method = KS_EXACT;
  /* a first sum outside the timing when repeating: MPI connects lazily */
  int rc = reps > 1 ? ks_sum(KS_GAUSS, 0.5, d, M, x, N, y, w, pot, grad, &o, NULL) : 0;
  double t0 = now(), b0 = par_bytes();
  for (int r = 0; r < reps && !rc; r++) rc = ks_sum(KS_GAUSS, 0.5, d, M, x, N, y, w, pot, grad, &o, NULL);
  double t = (now() - t0) / reps, bytes = (par_bytes() - b0) / reps;
  if (rc) fprintf(stderr, "ks_driver: rank %d: %s\n", par_rank(), ks_strerror(rc));
  if (!rc && par_writes()) {
    FILE *f = fopen(argv[4], "wb");
    if (!f || fwrite(pot, sizeof *pot, M, f) != M || fwrite(grad, sizeof *grad, M * d, f) != M * d || fclose(f))
      return fprintf(stderr, "ks_driver: cannot write %s\n", argv[4]), 3;
    printf("ks_sum M=%zu N=%zu d=%d ranks=%d seconds=%.6f bytes_received=%.0f\n", M, N, d, par_size(), t, bytes);
  }
  free(x), free(y), free(w), free(pot), free(grad);
  par_stop();
  return rc ? 3 : 0;
}
