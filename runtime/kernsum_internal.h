/*
** kernsum_internal.h — shared by the paths of the kernel-sum engine
** (kernsum.c: checks, dispatch, exact sums; kernsum_grid.c; kernsum_energy.c).
** Not installed.
*/
#ifndef HNN_KERNSUM_INTERNAL_H
#define HNN_KERNSUM_INTERNAL_H

#include <stddef.h>
#include "kernsum.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(HNN_NO_CLONES)
#define KS_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KS_CLONES
#endif

/* One call's arguments, after the checks of ks_sum. */
typedef struct ks_call {
  ks_kind kind;
  double h;
  int d, threads;
  size_t M, N;
  const double *x, *y, *w;   /* w may be NULL (all ones) */
  double *pot, *grad;
  double wabs;               /* sum_j |w_j| */
} ks_call;

int ks_exact(const ks_call *c);

/* Grid path: the parameters for tol (0 if the grid does not apply or would
** exceed its memory cap), its cost in flops, and the run. */
typedef struct ks_grid_plan {
  int p;                     /* interpolation points per dimension (even) */
  double dx;                 /* grid spacing */
  int taps;                  /* half-width of the truncated kernel, in spacings */
  size_t n[3];               /* grid points per dimension */
  double lo[3];              /* grid origin */
  double bound_pot, bound_grad;
  double cost;
  double iden[16];           /* 1 / prod_{m != k} (k - m), the Lagrange denominators */
} ks_grid_plan;

#define KS_GRID_TOL_MIN 1e-13 /* the grid path refuses smaller tolerances (rounding) */

int ks_grid_plan_make(const ks_call *c, double tol, ks_grid_plan *g);
int ks_grid_run(const ks_call *c, const ks_grid_plan *g);
/* The bound of the grid path for points p, spacing ratio dx/h, tail t (kernsum_grid.c). */
void ks_grid_bound(int d, int p, double ratio, int taps, double *bpot, double *bgrad);

int ks_energy_sort(const ks_call *c);
int ks_energy_slice(const ks_call *c, int L);

#endif
