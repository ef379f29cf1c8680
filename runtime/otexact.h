/*
** otexact.h — exact optimal transport between two weighted point clouds in
** any dimension: the linear program min <P, C> over plans with marginals a
** and b, solved by LEMON's network simplex (otexact_lemon.cc).
**
** Memory and time grow as n*m (the cost matrix and the arcs): meant for
** small sets (n*m up to ~10^6-10^7); use sinkhorn.h beyond.  LEMON's
** supplies are integers: uniform weights are exact (supplies m/g and n/g,
** g = gcd(n, m)); other weights are scaled to integers summing to
** S ~ 2^50 by largest remainders, which moves each weight by at most 1/S
** and the value by at most max C * (n + m) / S.
*/
#ifndef HNN_OTEXACT_H
#define HNN_OTEXACT_H

#include <stddef.h>
#include "ot.h"

/* A transport plan as its nonzero entries: mass[k] moves from point i[k]
** to point j[k] (masses sum to 1).  At most n + m entries. */
typedef struct ot_plan {
  size_t cap, nnz;
  size_t *i, *j;
  double *mass;
} ot_plan;

ot_plan *ot_plan_alloc(size_t cap);   /* cap >= n + m; NULL on failure */
void ot_plan_free(ot_plan *p);        /* accepts NULL */

/* *value = W_p^p = min_P sum_ij P_ij |x_i - y_j|^p for the n points x and the
** m points y of dimension d (row-major), weights a and b normalized (NULL:
** uniform); p >= 1.  plan (may be NULL) receives an optimal plan.
** Status OT_OK, OT_EINVAL (also n*m beyond LEMON's int arc ids),
** OT_ENONFINITE, OT_ENOMEM or OT_ESOLVER. */
int ot_exact(size_t n, size_t m, int d, const double *x, const double *a,
             const double *y, const double *b, double p, double *value, ot_plan *plan);

/* The same with a given cost matrix C (n x m row-major, finite). */
int ot_exact_cost(size_t n, size_t m, const double *C, const double *a, const double *b,
                  double *value, ot_plan *plan);

#endif
