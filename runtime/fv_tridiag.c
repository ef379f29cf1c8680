/*
** fv_tridiag.c — Thomas elimination for the grid engines (see fv_tridiag.h).
*/
#include "fv_tridiag.h"

#include <math.h>

int fv_tridiag_solve(int n, const double *a, const double *b, const double *c, double *d, double *w) {
  double piv = b[0];
  if (!(piv != 0) || !isfinite(piv)) return -1;
  d[0] /= piv;
  for (int i = 1; i < n; i++) {
    w[i] = c[i - 1] / piv;
    piv = b[i] - a[i] * w[i];
    if (!(piv != 0) || !isfinite(piv)) return -1;
    d[i] = (d[i] - a[i] * d[i - 1]) / piv;
  }
  for (int i = n - 2; i >= 0; i--) d[i] -= w[i + 1] * d[i + 1];
  return 0;
}
