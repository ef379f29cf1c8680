/*
** prox.h — Wasserstein proximal step on weighted scattered point clouds
** (Caluya-Halder entropic fixed point), the density half of `wasserstein`.
**
** Input: the particles before (x_old) and after (x_new) one SDE step, the
** density values rho_old at x_old and the objective f at x_new.  Output: the
** density values rho_new at x_new (normalized, see prox_norm) and statistics.
** The cost is the squared geodesic distance of the problem's metric:
** Euclidean in geo_coord coordinates when the metric separates, otherwise the
** midpoint rule (x-y)'G((x+y)/2)(x-y), Euclidean when there is no metric.
** Derivation, stability scheme and measurements: docs/prox.md.
** Depends on flow.h; parallel on pool.h, results independent of the
** thread count.
*/
#ifndef HNN_PROX_H
#define HNN_PROX_H

#include <stddef.h>
#include "flow.h"

/* How the scale of rho_new is restored (the fixed point conserves
** sum_i rho_i, the true density values do not). */
typedef enum {
  PROX_NORM_NONE = 0,   /* raw fixed-point values, sum rho_new = sum rho_old */
  PROX_NORM_GAUSS = 1,  /* importance estimate with a Gaussian fitted to x_new */
  PROX_NORM_BOX = 2     /* importance estimate with the uniform density on a box */
} prox_norm;

/* Precision of a stored kernel.  Single halves the memory traffic of the
** sweeps (3x faster at N = 2000) and perturbs rho by ~1e-9 relative. */
enum { PROX_SINGLE = 0, PROX_DOUBLE = 1 };

/* How the kernel is applied (prox_opts.kernel). */
typedef enum {
  PROX_KERNEL_AUTO = 0,   /* PROX_KERNEL_SUMS when N >= PROX_SUMS_MIN_N, n <= 3 and
                          ** the cost is Euclidean in coordinates; else DIRECT */
  PROX_KERNEL_DIRECT = 1, /* the N x N kernel, stored or on the fly (prox_kernel.c) */
  PROX_KERNEL_SUMS = 2    /* the kernel-sum engine (prox_fast.c, kernsum.h) with
                          ** kernel_tol; needs a cost Euclidean in coordinates */
} prox_kernel;
#define PROX_SUMS_MIN_N 4000

/* A coordinate map: writes the coordinates of the N points x (N x n,
** row-major) into phi coordinate-major (phi[d*N + i]); 0, or nonzero. */
typedef int (*prox_coord_fn)(void *ctx, int n, size_t N, const double *x, double *phi);

typedef struct prox_opts {
  double eps;          /* entropic regularization (> 0) */
  double T;            /* temperature (> 0) */
  double h;            /* time step (> 0) */
  double tol;          /* stop when the relative L1 marginal violation < tol */
  int max_iter;        /* iteration limit */
  int threads;         /* threads; 0 = pool_max_threads() */
  prox_norm norm;
  const double *box_lo, *box_hi; /* PROX_NORM_BOX: the box, n entries each */
  size_t kernel_mem;   /* bytes allowed for a stored N x N kernel; beyond it
                       ** the kernel is built on the fly in blocks */
  int kernel_prec;     /* PROX_SINGLE (default) or PROX_DOUBLE for a stored kernel */
  /* a separable cost in coordinates given by the caller (see prox_coord_fn);
  ** it takes precedence over the problem's geo_coord and metric (geocoord.h
  ** has the Hopfield one).  NULL: p->geo_coord, else the midpoint rule on
  ** p->metric, else Euclidean. */
  prox_coord_fn coord;
  void *coord_ctx;
  prox_kernel kernel;  /* PROX_KERNEL_AUTO (default), DIRECT or SUMS */
  double kernel_tol;   /* SUMS: bound on the log error of every kernel sum
                       ** (0: exact sums; default 1e-6, see docs/prox.md) */
  /* power_entropy(m) with coefficient power_coef (0: none, the default):
  ** F gains power_coef sum_j rho_j^m/(m-1); the stationarity of each rho_j
  ** is then solved per point (docs/prox.md, "Energies").  m > 1. */
  double power_coef, power_m;
} prox_opts;

/* The identity as prox_opts.coord: a Euclidean cost even when the problem
** carries a metric (e.g. `euclidean`, which the midpoint rule would redo). */
int prox_identity_coord(void *ctx, int n, size_t N, const double *x, double *phi);

typedef struct prox_stats {
  int iterations;      /* fixed-point iterations used */
  double marginal_err; /* final sum_i |M 1 - rho_old|_i / sum rho_old */
  int converged;       /* marginal_err < tol within max_iter */
  double scale;        /* raw / normalized (1 for PROX_NORM_NONE) */
  double scale_rel_err;/* estimated relative standard error of scale */
  double mass_in;      /* sum rho_old */
  double mass_out;     /* sum of the raw rho_new (before normalization) */
  int rebuilds;        /* kernel rebuilds after absorbing scalings */
  int fallbacks;       /* entries recomputed by exact log-sum-exp */
  int stored;          /* 0 on the fly, 1 stored double, 2 stored single */
  int coords_reused;   /* x_old was the previous step's x_new: its coordinates were kept */
  int kernel_engine;   /* 0 the direct kernel, 1 kernel-sum engine exact, 2 its grid path */
  double kernel_bound; /* engine 2: the bound on the log error of each kernel sum */
} prox_stats;

/* Status: 0 ok, > 0 warning (results usable), < 0 error (rho_new unset). */
enum {
  PROX_OK = 0,
  PROX_WMAXITER = 1,   /* iteration limit reached before tol */
  PROX_EINVAL = -1,    /* bad sizes or options, non-positive rho_old */
  PROX_ENOMEM = -2,
  PROX_ECALLBACK = -3, /* a callback failed or returned a non-finite value */
  PROX_ENONFINITE = -4,/* non-finite input (f, points) or result */
  PROX_EUNDERFLOW = -5,/* a value of rho_new underflowed to 0 */
  PROX_EREMOTE = -6    /* another process of the MPI job failed (par.h) */
};

typedef struct prox_ws prox_ws;

void prox_opts_default(prox_opts *o);
/* Workspace for up to N particles in dimension n; NULL on failure. */
prox_ws *prox_ws_alloc(int n, size_t N);
void prox_ws_free(prox_ws *w);        /* accepts NULL */

/* One proximal step.  x_old, x_new: N x n row-major; rho_old: N positive
** values at x_old; f_new: f(x_new).  rho_new may alias rho_old.  p supplies
** the metric (p->geo_coord, else p->metric with p->metric_diagonal, else
** Euclidean); p may be NULL (Euclidean).  st may be NULL. */
int prox_step(prox_ws *w, const flow_problem *p, const prox_opts *o, size_t N,
              const double *x_old, const double *x_new, const double *rho_old,
              const double *f_new, double *rho_new, prox_stats *st);

/* F = sum_i w_i (f_i + T log rho_i); w NULL means w_i = 1/N (particles as
** samples of rho).  Returns -inf if some rho_i is 0 (prox_step never
** returns such a rho: it fails with PROX_EUNDERFLOW instead). */
double prox_free_energy(size_t N, const double *f, const double *rho, const double *w, double T);

/* Message for a status code. */
const char *prox_strerror(int status);

#endif
