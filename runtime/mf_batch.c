/*
** mf_batch.c — mini-batches of a mean-field network (mf_batch.h): the
** batch's rows are copied into buffers that a workspace of batch size
** reads (one for B points, one for the n mod B of an epoch's last batch),
** so the engine's passes run unchanged on them.
*/
#include "mf_batch.h"

#include <gsl/gsl_randist.h>
#include <stdlib.h>
#include <string.h>

struct mf_batch {
  mf_problem P;            /* the full problem */
  long m, B, pos;          /* pos: the next point of the permutation (n: a new epoch) */
  gsl_rng *g;
  long *perm;
  double *x, *y;           /* B rows */
  mf_ws *full, *rest;      /* B points; n mod B points (NULL when B divides n) */
};

mf_batch *mf_batch_new(const mf_problem *P, long m, long B, gsl_rng *g) {
  mf_batch *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->P = *P;
  b->m = m;
  b->B = B;
  b->g = g;
  b->pos = P->n;
  b->perm = malloc((size_t)P->n * sizeof *b->perm);
  b->x = malloc((size_t)B * P->d * sizeof *b->x);
  b->y = malloc((size_t)B * sizeof *b->y);
  if (!b->perm || !b->x || !b->y) {
    mf_batch_free(b);
    return NULL;
  }
  for (long k = 0; k < P->n; k++) b->perm[k] = k;
  mf_problem Q = *P;
  Q.x = b->x;
  Q.y = b->y;
  Q.n = B;
  b->full = mf_ws_alloc(&Q, m);
  Q.n = P->n % B;
  b->rest = Q.n ? mf_ws_alloc(&Q, m) : NULL;
  if (!b->full || (Q.n && !b->rest)) {
    mf_batch_free(b);
    return NULL;
  }
  return b;
}

void mf_batch_free(mf_batch *b) {
  if (!b) return;
  mf_ws_free(b->full);
  mf_ws_free(b->rest);
  free(b->perm);
  free(b->x);
  free(b->y);
  free(b);
}

double mf_batch_bytes(const mf_problem *P, long m, long B) {
  mf_problem Q = *P;
  Q.n = B;
  return 8.0 * (double)P->n + 8.0 * (double)B * (P->d + 1) + 2 * mf_ws_bytes(&Q, m);
}

int mf_batch_eval(mf_batch *b, const double *xi, double *vel, mf_stats *st, long *size, char *msg, size_t msglen) {
  const mf_problem *P = &b->P;
  if (b->pos >= P->n) {
    gsl_ran_shuffle(b->g, b->perm, (size_t)P->n, sizeof *b->perm);
    b->pos = 0;
  }
  long len = P->n - b->pos < b->B ? P->n - b->pos : b->B;
  for (long k = 0; k < len; k++) {
    long src = b->perm[b->pos + k];
    memcpy(b->x + (size_t)k * P->d, P->x + (size_t)src * P->d, (size_t)P->d * sizeof *b->x);
    b->y[k] = P->y[src];
  }
  b->pos += len;
  if (size) *size = len;
  return mf_eval(len == b->B ? b->full : b->rest, xi, vel, st, msg, msglen);
}
