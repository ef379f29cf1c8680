/*
** distance.h — distances between point clouds and laws written in scripts:
** the one place that turns them into numbers, for the builtins of
** expressions (`print w2(P, Q)`, lang/special.c) and for the distance
** columns of particle runs' monitors (monitor_dist.h).
**
**   DIST_W2        W2 (the distance, not squared): exact, 1-D by sorting
**                  (any sizes), n-D by the network simplex on N M pairs
**                  (at most WF_W2_EXACT_MAX)
**   DIST_SINKHORN  the debiased Sinkhorn divergence S_eps, cost |x - y|^2
**                  (so it tends to W2^2 as eps -> 0), marginal error 1e-6
**   DIST_MMD       MMD_k^2 with a declared kernel (compiled callback)
**   DIST_ENERGY    the energy distance, MMD^2 with k = -|x - y|:
**                  2 E|X - Y| - E|X - X'| - E|Y - Y'|
** The conventions are those of the energy pieces of the same names
** (energy.h), except w2: the piece w2(t) is 1/2 W2^2, the distance is W2.
*/
#ifndef HNN_DISTANCE_H
#define HNN_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "wfield.h"

typedef enum { DIST_W2, DIST_SINKHORN, DIST_MMD, DIST_ENERGY } dist_kind;

/* A law's points: a point set as it is, another law drawn `samples` times
** from the stream (seed, `stream`).  Equal weights.  The law's dimension
** must be n when n > 0 (`other` names what is in dimension n in the
** message).  Errors at e, HNN_ERR_SCRIPT. */
int dist_points(hnn_state *S, ast *e, int n, const char *other, long samples, uint64_t stream, double **pts,
                int *npts, int *dim);

/* The distance of kind k between x (N x n) and y (M x n), equal weights.
** eps: DIST_SINKHORN's blur (> 0); kern: DIST_MMD's kernel.  Status 0,
** WF_EMAXITER (written, Sinkhorn not to its tolerance) or a negative code
** with a sentence in msg. */
int dist_value(dist_kind k, double eps, const wf_kernel *kern, int n, size_t N, const double *x, size_t M,
               const double *y, int threads, double *out, char *msg, size_t len);

/* The same between x with weights a and y with weights b (each summing to
** 1; NULL: equal weights). */
int dist_value_weighted(dist_kind k, double eps, const wf_kernel *kern, int n, size_t N, const double *x,
                        const double *a, size_t M, const double *y, const double *b, int threads, double *out,
                        char *msg, size_t len);

/* Could dist_value run on N and M points of dimension n (the exact W2's
** pair limit)?  0, or 1 with the reason in msg. */
int dist_too_big(dist_kind k, int n, double N, double M, char *msg, size_t len);

#endif
