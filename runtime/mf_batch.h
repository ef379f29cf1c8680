/*
** mf_batch.h — mini-batch (stochastic) gradients of a mean-field network.
**
** An epoch is one random permutation of the n data points, drawn from the
** run's stream (gsl_ran_shuffle of the previous permutation, on the calling
** thread: the same seed gives the same batches for any thread count); its
** batches are consecutive runs of B points of it, the last one n mod B
** points when B does not divide n, so an epoch is ceil(n/B) steps and
** every point is used once per epoch (sampling without replacement).  A
** step evaluates the network's energy and velocity on its batch alone:
** R_batch = (1/|batch|) sum_{k in batch} l(f(x_k), y_k), plus the same
** V and extra term as the full problem, so that the size-weighted mean of
** the velocities over the batches of an epoch is the full velocity.
*/
#ifndef HNN_MF_BATCH_H
#define HNN_MF_BATCH_H

#include <gsl/gsl_rng.h>

#include "meanfield.h"

typedef struct mf_batch mf_batch;

/* For the full problem P (its data are read, not copied) at width m and
** batches of B < P->n points drawn with g (kept, not freed).  NULL when
** out of memory. */
mf_batch *mf_batch_new(const mf_problem *P, long m, long B, gsl_rng *g);
void mf_batch_free(mf_batch *b);
double mf_batch_bytes(const mf_problem *P, long m, long B);

/* The next batch: mf_eval on it (st: the batch's risk and energy).
** *size (may be NULL) gets its number of points. */
int mf_batch_eval(mf_batch *b, const double *xi, double *vel, mf_stats *st, long *size, char *msg, size_t msglen);

#endif
