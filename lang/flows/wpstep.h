/*
** wpstep.h — the velocity field of an energy on N equally weighted
** particles, and the steps of its two particle flows (kind_wparticles.c):
**
**   particles(E)   dx_i/dt = v(x)_i = -grad (delta E / delta rho)(x_i),
**                  Heun's method (explicit trapezoid, order 2) with fixed h;
**   langevin(E)    dx_i = v'(x)_i dt + sqrt(2T) dW_i, Euler-Maruyama,
**                  v' the same field without the entropy term, T the
**                  energy's total entropy coefficient (energymodel.h).
**
** The field is the sum of the parts of E: the local part U (potential and
** kl terms: one compiled callback), the entropy through the score of a
** Gaussian kernel density estimate (wf_entropy_kde), and every nonlocal term
** through its wfield.h function.  The energy of each part is returned with
** the field (docs/particles.md: the KDE parts are estimates).
**
** Noise: one mt19937 stream per block of WP_BLOCK particles, rng_stream(seed,
** RNG_BLOCK, block), drawn in particle order; blocks run in parallel on the
** pool, so any thread count gives the same bits (blocks, as in sde.c, not
** one stream per particle: an mt19937 state is 5 kB).
*/
#ifndef HNN_WPSTEP_H
#define HNN_WPSTEP_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#include "energymodel.h"

#define WP_BLOCK 256

typedef struct wp_model {
  const energy_model *M;
  int n;
  size_t N;
  double *w;             /* the weights, 1/N */
  wf_opts o;             /* threads, tol; bandwidth: see `bandwidth` */
  double bandwidth;      /* KDE terms: > 0 fixed, 0 Silverman's rule on the current cloud */
  double last_bandwidth; /* the one the last call used (0 when no KDE term ran) */
  int blob;              /* KDE terms: 0 the KDE score (default), 1 the blob velocity
                         ** (wfield.h: the exact gradient of the estimate) */
  int nparts;            /* energy parts, in the order of part_name */
  char **part_name;      /* "potential", "entropy", then one per nonlocal term */
  double *ws, *out;      /* the local callback's workspace and result */
  double *tmp;           /* N x n */
  int nblocks;
  gsl_rng **rng;         /* Langevin: one stream per block */
} wp_model;

/* 0, or -1 with a message in err.  threads 0: the pool's default. */
int wp_model_init(wp_model *W, const energy_model *M, int n, size_t N, double bandwidth, double tol, int threads,
                  char *err, size_t errlen);
/* (then set W->blob = 1 for the blob velocities) */
void wp_model_free(wp_model *W);

/* v (N x n) = the field at x; with_entropy 0 leaves the entropy term out
** of v (parts[] still gets its estimate when parts is given).  parts
** (nparts, may be NULL) gets each part's energy.  0, or -1 with a message. */
int wp_velocity(wp_model *W, const double *x, int with_entropy, double *v, double *parts, char *err, size_t errlen);

/* One Heun step of the deterministic flow: x <- x + h/2 (v + v(x + h v)),
** v the field at x on entry (wp_velocity with entropy).  xt: N x n scratch. */
int wp_heun_step(wp_model *W, double *x, const double *v, double h, double *xt, char *err, size_t errlen);

/* Langevin: the streams of seed (once), then one Euler-Maruyama step
** x <- x + h v + sqrt(2 T h) xi, v the field at x without entropy. */
int wp_noise_init(wp_model *W, uint64_t seed);
void wp_langevin_step(wp_model *W, double *x, const double *v, double h, double T);

#endif
