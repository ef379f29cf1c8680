/*
** ot.h — optimal transport between weighted point clouds: what the three
** solvers share (status codes, the cost convention).
**
**   ot1d.h      exact W_p^p on the line, by sorting (quantile functions);
**   otexact.h   exact W_p^p in any dimension, LEMON's network simplex;
**   sinkhorn.h  entropic OT and the debiased Sinkhorn divergence,
**               log-domain with eps-scaling, O(N) memory.
**
** Conventions (docs/ot.md): a measure is sum_i a_i delta_{x_i} with a_i >= 0
** and the weights normalized to total mass 1 by the solvers (a NULL weight
** array means uniform); points are row-major (N x d).  The cost is
** |x - y|^p, so the solvers return W_p^p, never W_p: W2^2 for p = 2.
*/
#ifndef HNN_OT_H
#define HNN_OT_H

#include <stddef.h>

/* Status: 0 ok; > 0 the value is written but is not to the requested
** tolerance (never use it as converged); < 0 nothing written. */
enum {
  OT_OK = 0,
  OT_EMAXITER = 1,     /* iteration cap reached before the marginal tolerance */
  OT_EINVAL = -1,      /* bad sizes, options or weights (negative, zero total) */
  OT_ENOMEM = -2,
  OT_ENONFINITE = -3,  /* a point, weight or cost is NaN or infinite */
  OT_ESOLVER = -4,     /* the exact solver failed (infeasible, unbounded) */
  OT_EREMOTE = -5      /* another process of the MPI job failed (par.h) */
};

/* Message for a status code. */
const char *ot_strerror(int status);

/* Checks shared by the solvers: n points of dimension d finite; weights
** (NULL: uniform) finite, >= 0, with a positive total, written to *total. */
int ot_check_points(size_t n, int d, const double *x);
int ot_check_weights(size_t n, const double *a, double *total);

#endif
