/*
** sde.h — particle integrator of the diffusion machine (`diffusion(f, G, T)`),
** the Ito SDE (45) of source 000 Sec. V:
**
**   dx = ( -G(x)^-1 grad f(x) + T div G(x)^-1 ) dt + sqrt(2T) G(x)^-1/2 dW,
**
** (div G^-1)_i = sum_j d_j (G^-1)_ij.  The divergence term makes the Gibbs
** density exp(-f/T)/Z (47) stationary; without it the stationary law is wrong
** (kept switchable only to demonstrate that).  Schemes: Euler-Maruyama (66)
** (evaluated at x_{k-1}: explicit), Milstein for diagonal noise.  Boundaries
** on a box [lo, hi]: none (leaving is an error naming particle, step and
** constraint), reflecting (fold modulo 2L), absorbing, periodic.
**
** Random numbers: one GSL mt19937 stream per block of SDE_BLOCK particles,
** rng_stream(seed, RNG_BLOCK, block); blocks run in parallel (pool.h) and
** every reduction is done in particle order, so the output is bit-for-bit
** independent of the number of threads.
** Inputs: a flow_problem (grad, optional metric_inv, div_metric_inv, f).
** A problem with a `field` gives the whole drift b(x) instead: then
** dx = b(x) dt + sqrt(2T) chol(metric_inv(x)) dW, grad and div_metric_inv are
** not used and the divergence switch is the field's business (the general
** mobility K = S + A: b = T div K - K grad f, metric_inv = S; kind_mobility.c).
** Depends on flow.h, rng.h, GSL.
*/
#ifndef HNN_SDE_H
#define HNN_SDE_H

#include <stddef.h>
#include <stdint.h>
#include "flow.h"

/* Particles per random stream: fixed, never derived from the thread count. */
#define SDE_BLOCK 256

typedef enum {
  SDE_EM = 0,        /* Euler-Maruyama, weak order 1 (1/2 with reflection) */
  SDE_MILSTEIN = 1   /* diagonal noise only: adds (T/2) d_i w_i (dW_i^2 - h) */
} sde_scheme;

typedef enum {
  SDE_BOUNDARY_NONE = 0, /* with a box: leaving it is an error (SDE_EDOMAIN) */
  SDE_REFLECT = 1,       /* fold repeatedly into [lo, hi] (modulo 2L) */
  SDE_ABSORB = 2,        /* the particle stops on the face and is flagged */
  SDE_PERIODIC = 3       /* wrap modulo L */
} sde_boundary;

typedef struct sde_opts {
  double T;              /* temperature (>= 0) */
  double h;              /* time step (> 0) */
  long steps;            /* number of steps */
  long every;            /* emit every k steps (and at step 0 and the last) */
  sde_scheme scheme;
  sde_boundary boundary;
  const double *lo, *hi; /* box, n entries each; NULL = unbounded (only
                         ** SDE_BOUNDARY_NONE); entries may be +-inf */
  int include_divergence;/* 1 (default): the T div G^-1 drift; 0 only for demos */
  uint64_t seed;         /* master seed */
  int threads;           /* threads; 0 = pool_max_threads() */
  int monitor_f;         /* 1 (default): evaluate f for the monitor if p->f */
} sde_opts;

/* Status: 0 ok, > 0 stopped on request, < 0 error (message in err). */
enum {
  SDE_OK = 0,
  SDE_STOPPED = 1,       /* emit returned nonzero */
  SDE_EINVAL = -1,       /* bad options or missing callbacks */
  SDE_ENOMEM = -2,
  SDE_ECALLBACK = -3,    /* a callback failed or returned a non-finite value */
  SDE_EDOMAIN = -4,      /* a particle left the box without a boundary rule */
  SDE_ENONFINITE = -5,   /* a particle became non-finite */
  SDE_EMETRIC = -6,      /* G^-1 not positive semidefinite at a particle */
  SDE_EINTR = -7         /* flow_interrupted() before a step (flow.h) */
};

/* Statistics of the cloud at an output step (over all N particles; absorbed
** ones sit on the face where they stopped). */
typedef struct sde_monitor {
  int n;
  const double *mean;    /* n */
  const double *cov;     /* n x n, row-major, divisor N - 1 (0 when N = 1) */
  double f_mean;         /* (1/N) sum f(x_i); NaN when not evaluated */
  int absorbed;          /* particles flagged by SDE_ABSORB so far */
} sde_monitor;

/* x: N x n row-major.  Return nonzero to stop the run (SDE_STOPPED; errno
** set by then, a failed write's, is named in the message). */
typedef int (*sde_emit_fn)(void *ctx, long step, double t, const double *x, int N, int n,
                           const sde_monitor *m);

void sde_opts_default(sde_opts *o);   /* T 1, h 1e-3, steps 1000, every 100,
                                      ** EM, no boundary, divergence on, seed 1 */

/* Integrate N particles in place (x: N x n, the initial cloud on entry, the
** final cloud on return).  emit may be NULL.  err (errlen bytes) receives a
** message on failure; it may be NULL.  Particles and coordinates in messages
** are numbered from 1: "particle 17 left the domain at step 230: x2 = 1.0003 > 1". */
int sde_run(const flow_problem *p, const sde_opts *o, int N, double *x, sde_emit_fn emit,
            void *ctx, char *err, size_t errlen);

/* ---- single steps (for runtime/prox.c and other drivers) -------------- */

typedef struct sde_ws sde_ws;

/* A stepper for N particles: validates p and o, creates the block streams
** (so consecutive sde_ws_step calls continue them).  NULL on failure with a
** message in err. */
sde_ws *sde_ws_alloc(const flow_problem *p, const sde_opts *o, int N, char *err, size_t errlen);
void sde_ws_free(sde_ws *w);          /* accepts NULL */

/* One step x_old -> x_new (N x n each, may alias).  step is the number of the
** step being taken (1-based, for messages).  Returns an SDE_ status. */
int sde_ws_step(sde_ws *w, const double *x_old, double *x_new, long step, char *err,
                size_t errlen);

/* 1 for particle i (0-based) absorbed by SDE_ABSORB, else 0. */
int sde_ws_absorbed(const sde_ws *w, int i);

/* Monitor of a cloud: mean (n), cov (n x n) written to the caller's arrays,
** f_mean with p->f when p and p->f are given (else NaN).  Deterministic
** (particle order).  Returns an SDE_ status. */
int sde_ws_monitor(sde_ws *w, const double *x, double *mean, double *cov, sde_monitor *m);

/* Check the Milstein assumption at point x: a diagonal metric whose i-th
** entry w_i of diag(G^-1) depends on x_i only, and d_i w_i = (div G^-1)_i
** (central differences, step 1e-6 relative).  0 if it holds, else SDE_EINVAL
** with the reason in err.  ws: flow_problem_nwork(p) + 4n doubles. */
int sde_check_milstein(const flow_problem *p, const double *x, double *ws, char *err,
                       size_t errlen);

const char *sde_strerror(int status);

#endif
