/*
** ot1d.h — exact optimal transport on the line: W_p^p between two weighted
** empirical measures from their quantile functions (sorting, then one merge
** of the two step functions).  Unequal sizes and weights are exact: the
** integral of |F^-1(t) - G^-1(t)|^p over t in [0, 1] is a finite sum over
** the merged steps; with uniform weights the steps are merged in integer
** arithmetic (positions i*m and j*n), so no rounding enters the plan.
** Sorting is an LSD radix sort of the IEEE bit patterns (O(N), stable);
** the two sides are sorted on two threads of runtime/pool.h.  The result
** does not depend on the thread count.
*/
#ifndef HNN_OT1D_H
#define HNN_OT1D_H

#include <stddef.h>
#include "ot.h"

typedef struct ot1d_ws ot1d_ws;

/* Workspace for up to nmax and mmax points (each < 2^32); NULL on failure. */
ot1d_ws *ot1d_ws_alloc(size_t nmax, size_t mmax);
void ot1d_ws_free(ot1d_ws *w);        /* accepts NULL */

/* *out = W_p^p(sum_i a_i delta_{x_i}, sum_j b_j delta_{y_j}) with the weights
** normalized to mass 1; a or b NULL: uniform.  p >= 1.  threads: 0 =
** pool_max_threads().  w NULL: a workspace is allocated for the call.
** Status OT_OK, OT_EINVAL, OT_ENONFINITE or OT_ENOMEM (ot.h). */
int ot1d_wpp(ot1d_ws *w, double p, size_t n, const double *x, const double *a,
             size_t m, const double *y, const double *b, int threads, double *out);

/* Sorts x[0..n) ascending with the workspace's radix sort (n <= nmax); NaN
** is refused (OT_ENONFINITE).  Exposed for the tests and for callers that
** need sorted samples (e.g. quantiles along a run). */
int ot1d_sort(ot1d_ws *w, size_t n, double *x);

#endif
