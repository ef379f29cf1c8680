/*
** fv_tridiag.h — the tridiagonal solve shared by the grid engines (the
** implicit finite-volume sweeps of fv.c and the quantile JKO of jko1d.c).
**
** Thomas elimination without pivoting: every matrix passed here is either a
** column diagonally dominant M-matrix (the finite-volume Newton Jacobians)
** or symmetric positive definite (the quantile Hessians), for which
** elimination without pivoting is stable.
*/
#ifndef HNN_FV_TRIDIAG_H
#define HNN_FV_TRIDIAG_H

/* Solve the n x n system with sub-diagonal a[1..n-1], diagonal b[0..n-1],
** super-diagonal c[0..n-2], right-hand side d; the solution overwrites d.
** w is scratch of n doubles.  a[0] and c[n-1] are ignored.  Returns 0, or
** -1 when a pivot is zero or not finite (the matrix is then not one of the
** kinds above: a caller bug or a non-finite entry). */
int fv_tridiag_solve(int n, const double *a, const double *b, const double *c, double *d, double *w);

#endif
