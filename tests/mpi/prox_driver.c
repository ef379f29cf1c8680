/*
** prox_driver.c — one proximal step (runtime/prox.c, the N x N kernel)
** under MPI for tests/run-mpi.sh, where every sum falls back: the new points
** are the old ones shifted by SHIFT (1.3 at eps = 1e-3 puts the far kernel
** entries at e^-1700, below double), so rows and then columns are redone in
** the log domain on the processes that own them.  Rank 0 prints the status,
** the fallback and rebuild counts, the iterations and a hash of the output
** bits, which must not depend on the process count.
** usage: prox_driver N SHIFT MODE   (MODE 0 stored double, 1 on the fly, 2 stored single)
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "par.h"
#include "prox.h"
#include "rng.h"

int main(int argc, char **argv) {
  char err[256];
  if (par_start(&argc, &argv, err, sizeof err)) return fprintf(stderr, "prox_driver: %s\n", err), 3;
  if (argc < 4) return fprintf(stderr, "usage: prox_driver N SHIFT MODE\n"), 2;
  size_t N = strtoul(argv[1], NULL, 10);
  double shift = atof(argv[2]);
  int mode = atoi(argv[3]);
  double *x = malloc(2 * N * sizeof(double)), *xn = malloc(2 * N * sizeof(double));
  double *rho = malloc(N * sizeof(double)), *f = malloc(N * sizeof(double)), *out = malloc(N * sizeof(double));
  if (!x || !xn || !rho || !f || !out) return fprintf(stderr, "prox_driver: out of memory\n"), 3;
  gsl_rng *r = rng_stream(5u, RNG_RUN, 0);
  for (size_t i = 0; i < N; i++) {
    double q = 0;
    for (int d = 0; d < 2; d++) {
      x[2 * i + d] = 1.0 + 0.5 * gsl_ran_gaussian(r, 1.0);
      xn[2 * i + d] = x[2 * i + d] + shift;
      q += (x[2 * i + d] - 1.0) * (x[2 * i + d] - 1.0);
    }
    rho[i] = exp(-q / 0.5);
    f[i] = 0.5 * (xn[2 * i] * xn[2 * i] + xn[2 * i + 1] * xn[2 * i + 1]);
  }
  gsl_rng_free(r);
  prox_opts o;
  prox_opts_default(&o);
  o.eps = 1e-3, o.T = 0.5, o.h = 1e-2, o.norm = PROX_NORM_NONE, o.kernel = PROX_KERNEL_DIRECT;
  if (mode == 0) o.kernel_prec = PROX_DOUBLE;
  if (mode == 1) o.kernel_mem = 0;
  if (mode == 2) o.kernel_prec = PROX_SINGLE;
  prox_ws *w = prox_ws_alloc(2, N);
  prox_stats st;
  int rc = prox_step(w, NULL, &o, N, x, xn, rho, f, out, &st);
  uint64_t h = 1469598103934665603u; /* FNV-1a over the output's bytes */
  const unsigned char *b = (const unsigned char *)out;
  for (size_t i = 0; i < N * sizeof(double); i++) h = (h ^ b[i]) * 1099511628211u;
  if (par_writes())
    printf("status %d fallbacks %d rebuilds %d iterations %d hash %016llx\n", rc, st.fallbacks, st.rebuilds,
           st.iterations, (unsigned long long)h);
  prox_ws_free(w);
  free(x), free(xn), free(rho), free(f), free(out);
  char *text;
  int fin = par_finish(rc < 0 ? 3 : 0, rc < 0 ? prox_strerror(rc) : "", &text);
  if (text) fprintf(stderr, "prox_driver: %s\n", text), free(text);
  par_stop();
  return fin;
}
