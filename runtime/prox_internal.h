/*
** prox_internal.h — shared between prox.c (the fixed point) and
** prox_kernel.c (the N x N kernel).  Not installed.
*/
#ifndef HNN_PROX_INTERNAL_H
#define HNN_PROX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct prox_ker {
  int n, threads;
  int par;               /* 0: run serially (small N) */
  size_t N;
  double inv2eps;        /* 1 / (2 eps) */
  const double *cold;    /* geodesic coordinates, n x N (coordinate-major) */
  const double *cnew;
  const double *cost;    /* or: stored cost C[i*N + j] (old i, new j) */
  const double *a, *b;   /* absorbed log potentials (old, new) */
  double *K;             /* stored kernel (N x N) or NULL: on the fly */
  float *Kf;             /* or the stored kernel in single precision */
} prox_ker;

double prox_exp(double x);
void prox_ker_build(prox_ker *k);
void prox_ker_lse(const prox_ker *k, int tr, const double *px, const double *py, const double *lw,
                  double *out);
int prox_ker_logapply(const prox_ker *k, int tr, const double *lw, const double *w, double *out);

#endif
