/*
** spd.h — run-time helpers called from JIT-compiled code (registered in jit.c).
*/
#ifndef HNN_RT_SPD_H
#define HNN_RT_SPD_H

/* ainv = a^-1 for a symmetric positive definite n x n matrix a (row-major; only
** the lower triangle is read), by Cholesky.  Returns 0, or nonzero (ainv
** filled with NaN) when a is not numerically SPD.  a and ainv may alias. */
int hnn_rt_spd_inverse(const double *a, double *ainv, int n);

#endif
