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

void prox_ker_build(prox_ker *k);
/* The fused sweep's rows fall into prox_ker_parts(N) fixed parts: the
** largest power of two <= PROX_PARTS_MAX with >= PROX_PART_ROWS rows in
** each.  Their column sums are added over one fixed binary tree, so any
** contiguous split of the parts (threads, MPI processes) gives the same
** bits (prox_kernel.c). */
#define PROX_PARTS_MAX 4096
#define PROX_PART_ROWS 32
long prox_ker_parts(size_t N);
/* Doubles of the workspace `part` that prox_ker_sweep needs for k (with
** k's threads and this process's share of an MPI job). */
size_t prox_ker_work(const prox_ker *k);
int prox_ker_sweep(const prox_ker *k, const double *lwz, const double *wz, const double *lro, double *ls,
                   double *lwy, double *wy, double *lt, double *part);

/* The fixed point through the kernel-sum engine (prox_fast.c), for a cost
** Euclidean in the coordinates cold, cnew (n x N, coordinate-major). */
struct prox_stats;
typedef struct prox_ks {
  int n, threads, max_iter;
  size_t N;
  double eps, pw, tol, ktol, mass;  /* pw = 1/(1 + eps/(T h)); tol: marginal; ktol: kernel sums */
  double pa, pk;                    /* power_entropy: prox_power_beta's a and k (pa 0: none) */
  const double *cold, *cnew, *rho_old, *lro, *lxi;
  double *al, *be, *ls, *lt;        /* N each */
} prox_ks;

/* beta_j = log z_j with power_entropy: u = log rho_j solves
**   u + a e^(k u) = (1 - pw) g + pw lxi,   a = c m/((m-1)(T + eps/h)), k = m - 1,
** g = log (Gamma'y)_j, by Newton on Wright's omega (prox.c); beta = u - g. */
double prox_power_beta(double pw, double a, double k, double lxi, double g);

/* Fills lr (log of the raw rho_new) and the iteration fields of st. */
int prox_ks_solve(const prox_ks *k, double *lr, struct prox_stats *st);

#endif
