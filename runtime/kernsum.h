/*
** kernsum.h — kernel sums over point clouds, the inner loop of particle
** flows: for targets x_i (M x d) and sources y_j (N x d) with weights w_j,
**     pot_i  = sum_j w_j k(x_i, y_j)
**     grad_i = sum_j w_j grad_x k(x_i, y_j)        (M x d, row-major)
** Paths:
**   exact   blocked over sources, 8 lanes of sources per vector, all cores
**           (pool.h); O(N d) extra memory.  Every sum is added in an order
**           fixed by N alone, so results do not depend on the thread count
**           (they may differ in the last bits between the AVX-512, AVX2 and
**           baseline clones, whose vector widths split the sums differently).
**   grid    Gaussian kernel, d <= 3: Lagrange interpolation on a regular grid,
**           a separable convolution on the grid, interpolation back
**           (kernsum_grid.c).  Stated bound (per target, see ks_stats):
**             |pot_i  - exact| <= tol * sum_j |w_j|
**             |grad_i - exact| <= tol * sum_j |w_j| / h   (each component)
**   sort    energy kernel, d = 1: sorting and prefix sums; exact up to
**           rounding (kernsum_energy.c).
**   slice   energy kernel, d = 2: L equally spaced directions, each a sorted
**           1-D sum; |pot_i - exact| <= pi^2/(12 L^2) sum_j |w_j||x_i - y_j|,
**           |grad_i - exact| <= (pi/(2L))(1 + pi/(2L)) sum_j |w_j|.
** MPI (par.h): the exact path splits the targets into one block of rows per
** process and gathers pot and grad, so every process gets every row, the
** same bits as one process (each row's sum does not depend on the others).
** With tol = 0 the exact (or sorted) sums are used; with tol > 0 the cheapest
** path whose bound is <= tol is taken (ks_stats says which).
*/
#ifndef HNN_KERNSUM_H
#define HNN_KERNSUM_H

#include <stddef.h>

typedef enum {
  KS_GAUSS = 0,   /* exp(-|x-y|^2 / (2 h^2)) */
  KS_IMQ = 1,     /* (1 + |x-y|^2 / h^2)^(-1/2), inverse multiquadric */
  KS_ENERGY = 2   /* -|x-y| (energy distance / MMD with the distance kernel) */
} ks_kind;

typedef enum {
  KS_AUTO = 0,    /* exact when tol = 0, else the cheapest path within tol */
  KS_EXACT = 1,
  KS_GRID = 2,    /* KS_GAUSS, d <= 3 */
  KS_SORT = 3,    /* KS_ENERGY, d = 1 */
  KS_SLICE = 4    /* KS_ENERGY, d = 2 */
} ks_method;

typedef struct ks_opts {
  int threads;        /* 0: pool_max_threads() */
  double tol;         /* 0: exact; > 0: the error bound allowed (see above) */
  ks_method method;   /* KS_AUTO, or force one path (tol still sets its parameters) */
} ks_opts;

typedef struct ks_stats {
  ks_method method;   /* the path that ran */
  double bound_pot;   /* the stated bound of |pot_i - exact| for this call
                      ** (slice: relative, times sum_j |w_j||x_i - y_j|) */
  double bound_grad;  /* ... of each component of grad_i; 0 for exact */
  int order;          /* grid: interpolation points per dimension */
  double spacing;     /* grid: spacing */
  size_t grid_points; /* grid: points of one grid */
  int slices;         /* slice: directions */
  size_t recomputed;  /* ks_logsum: targets recomputed exactly in the log domain */
} ks_stats;

enum {
  KS_OK = 0,
  KS_EINVAL = -1,     /* bad sizes, kernel parameter or options; a forced method that does not apply */
  KS_ENOMEM = -2,
  KS_ENONFINITE = -3, /* a non-finite point or weight */
  KS_EREMOTE = -4     /* another process of the MPI job failed (par.h) */
};

void ks_opts_default(ks_opts *o);

/* The sums above.  x: M x d, y: N x d (row-major); w: N weights, NULL for
** all ones; pot (M) and grad (M x d) may each be NULL.  h > 0 for KS_GAUSS
** and KS_IMQ (ignored for KS_ENERGY).  o and st may be NULL. */
int ks_sum(ks_kind kind, double h, int d, size_t M, const double *x, size_t N, const double *y,
           const double *w, double *pot, double *grad, const ks_opts *o, ks_stats *st);

/* Gaussian sums with log weights, as logs (kernsum_log.c):
**     lpot_i = log sum_j exp(lw_j) exp(-|x_i - y_j|^2 / (2 h^2))
** for weights whose logs span any range (lw finite, N >= 1).  tol = 0:
** exact up to rounding; tol > 0: |lpot_i - exact| <= tol for every i (the
** grid path where it is cheaper, every sum it cannot certify recomputed
** exactly).  st->bound_pot is that bound (0 for exact sums), st->recomputed
** the count of recomputed targets.  o->method KS_EXACT forces exact sums. */
int ks_logsum(double h, int d, size_t M, const double *x, size_t N, const double *y, const double *lw, double *lpot,
              const ks_opts *o, ks_stats *st);

const char *ks_strerror(int status);

/* The vectorizable exp of the exact path, exposed for its test:
** relative error < 4e-16 on [-708, 0], 0 below -708 (the Gaussian kernel
** needs no positive arguments; above 0 it is the same formula up to 709). */
double ks_exp(double x);
/* ... and its 1/sqrt (IMQ and energy kernels): relative error < 4e-16 on
** [1e-300, 1e300]. */
double ks_rsqrt(double x);

#endif
