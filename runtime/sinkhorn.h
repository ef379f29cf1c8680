/*
** sinkhorn.h — entropic optimal transport between weighted point clouds
** and the debiased Sinkhorn divergence, for the squared Euclidean cost.
**
**   OT_eps(a, b) = min_P <P, C> + eps KL(P | a x b),  C_ij = |x_i - y_j|^2,
**   S_eps(a, b)  = OT_eps(a, b) - (OT_eps(a, a) + OT_eps(b, b)) / 2.
**
** S_eps >= 0, S_eps(a, a) = 0, and S_eps -> W2^2 as eps -> 0 (within
** eps log max(n, m) for discrete measures; docs/ot.md).  OT_eps is
** returned as the dual objective <a, f> + <b, g> - eps (mass of P - 1) at
** the final potentials (a lower bound, exact in the limit).
**
** Solver: Sinkhorn's alternating updates in the log domain (every sum is a
** blocked online log-sum-exp, so no exp overflows or underflows to a NaN
** and no N x N matrix is stored: O((n + m) d) memory), with eps-scaling
** (eps from the squared diameter down to eps by the factor `scaling`, each
** level to L1 marginal error 0.1), then over-relaxed iterations at eps
** until the L1 marginal error of the plan, sum_i |(P 1)_i - a_i| +
** sum_j |(P' 1)_j - b_j| (weights of mass 1), is <= tol.  The self-transport
** terms OT_eps(a, a) use the symmetric averaged update.  Rows run in
** parallel on runtime/pool.h; each row is summed in an order fixed by the
** data alone, so results are identical for any thread count.  Methods and
** measurements: docs/ot.md.
*/
#ifndef HNN_SINKHORN_H
#define HNN_SINKHORN_H

#include <stddef.h>
#include "ot.h"

typedef struct ot_sinkhorn_opts {
  double eps;          /* regularization (> 0), in units of the cost |x - y|^2 */
  double tol;          /* stop when the L1 marginal error <= tol (> 0) */
  int max_iter;        /* iterations (all levels) before OT_EMAXITER */
  double scaling;      /* eps ratio between levels, in (0, 1); 0: no eps-scaling */
  int threads;         /* 0 = pool_max_threads() */
} ot_sinkhorn_opts;

typedef struct ot_sinkhorn_stats {
  int levels;          /* eps-scaling levels above the target eps */
  int iterations;      /* iterations over all levels (each updates f and g) */
  double marginal_err; /* L1 marginal error of the returned potentials */
} ot_sinkhorn_stats;

typedef struct ot_sinkhorn_ws ot_sinkhorn_ws;

/* eps 0.05, tol 1e-6, max_iter 10000, scaling 0.5, threads 0 */
void ot_sinkhorn_opts_default(ot_sinkhorn_opts *o);

/* Workspace for clouds of dimension d with up to nmax and mmax points
** (the self terms of the divergence need max(nmax, mmax) on both sides,
** which this allocates); NULL on failure. */
ot_sinkhorn_ws *ot_sinkhorn_ws_alloc(int d, size_t nmax, size_t mmax);
void ot_sinkhorn_ws_free(ot_sinkhorn_ws *w);   /* accepts NULL */

/* OT_eps between sum_i a_i delta_{x_i} and sum_j b_j delta_{y_j} (x: n x d,
** y: m x d row-major; weights normalized; NULL: uniform).  *value = the
** regularized value; cost (may be NULL) = <P, C>, the transport cost of the
** entropic plan (what POT's sinkhorn2 returns); f, g (may be NULL) = the
** dual potentials, n and m entries.  st may be NULL.  Status OT_OK,
** OT_EMAXITER (the values are written, the marginal error in st is > tol),
** OT_EINVAL, OT_ENONFINITE, OT_ENOMEM.  w NULL: allocated for the call. */
int ot_sinkhorn(ot_sinkhorn_ws *w, const ot_sinkhorn_opts *o, int d, size_t n,
                const double *x, const double *a, size_t m, const double *y,
                const double *b, double *value, double *cost, double *f, double *g,
                ot_sinkhorn_stats *st);

/* OT_eps(a, a) by the symmetric update f <- (f + T(f)) / 2 (the alternating
** updates of ot_sinkhorn can stall on a symmetric problem), and f (may be
** NULL, n entries) its symmetric potential, the same on both sides.  For
** the gradient of the divergence's self-term.  Status as ot_sinkhorn. */
int ot_sinkhorn_self(ot_sinkhorn_ws *w, const ot_sinkhorn_opts *o, int d, size_t n, const double *x,
                     const double *a, double *value, double *f, ot_sinkhorn_stats *st);

/* *div = S_eps(a, b), the three problems solved to tol.  st (may be NULL)
** receives 3 entries: (a, b), (a, a), (b, b).  Status as ot_sinkhorn (the
** worst of the three); on an error (< 0) *div is not written. */
int ot_sinkhorn_divergence(ot_sinkhorn_ws *w, const ot_sinkhorn_opts *o, int d, size_t n,
                           const double *x, const double *a, size_t m, const double *y,
                           const double *b, double *div, ot_sinkhorn_stats st[3]);

/* The same, and grad (n x d, row-major; may be NULL) = the gradient of
** S_eps with respect to the points x: 2 sum_j P_ij (x_i - y_j) -
** 2 sum_j Q_ij (x_i - x_j) with P, Q the plans of (a, b) and (a, a) (the
** potentials are optimal, so they are not differentiated); accurate to
** the marginal tolerance.  d <= 16 when grad is asked for.  For the
** Sinkhorn-divergence flow of the points x towards y.  On an error (< 0)
** the contents of grad are unspecified. */
int ot_sinkhorn_divergence_grad(ot_sinkhorn_ws *w, const ot_sinkhorn_opts *o, int d, size_t n,
                                const double *x, const double *a, size_t m, const double *y,
                                const double *b, double *div, double *grad,
                                ot_sinkhorn_stats st[3]);

#endif
