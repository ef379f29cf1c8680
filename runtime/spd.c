/*
** spd.c — Cholesky inverse of an SPD matrix, for IR_SPDINV in generated code.
**
** Plain C (no GSL handler state involved), O(n^3), scratch of n*n doubles.
*/
#include "spd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int hnn_rt_spd_inverse(const double *a, double *ainv, int n) {
  if (n <= 0) return n < 0;
  size_t nn = (size_t)n * (size_t)n;
  double *L = malloc(nn * sizeof *L);
  if (!L) return 2;
  memset(L, 0, nn * sizeof *L);
  /* A = L L' */
  for (int j = 0; j < n; j++) {
    double d = a[j * n + j];
    for (int k = 0; k < j; k++) d -= L[j * n + k] * L[j * n + k];
    if (!(d > 0) || !isfinite(d)) goto fail;
    double ljj = sqrt(d);
    L[j * n + j] = ljj;
    for (int i = j + 1; i < n; i++) {
      double s = a[i * n + j];
      for (int k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = s / ljj;
    }
  }
  /* L := X = L^-1 in place, from X L = I: X[i][j] = -X[j][j] sum_{k=j+1..i} X[i][k] L[k][j].
  ** Columns right of j already hold X; column j still holds L below row i. */
  for (int j = n - 1; j >= 0; j--) {
    L[j * n + j] = 1 / L[j * n + j];
    for (int i = n - 1; i > j; i--) {
      double s = 0;
      for (int k = j + 1; k <= i; k++) s += L[i * n + k] * L[k * n + j];
      L[i * n + j] = -s * L[j * n + j];
    }
  }
  /* A^-1 = L^-T L^-1: entry (i, j) = sum_{k >= max(i,j)} Li[k][i] Li[k][j] */
  for (int i = 0; i < n; i++)
    for (int j = 0; j <= i; j++) {
      double s = 0;
      for (int k = i; k < n; k++) s += L[k * n + i] * L[k * n + j];
      ainv[i * n + j] = ainv[j * n + i] = s;
    }
  free(L);
  return 0;
fail:
  free(L);
  for (size_t k = 0; k < nn; k++) ainv[k] = NAN;
  return 1;
}
