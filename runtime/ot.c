/*
** ot.c — status messages and input checks shared by the OT solvers (ot.h).
*/
#include <math.h>
#include <stddef.h>
#include "ot.h"

const char *ot_strerror(int status) {
  switch (status) {
  case OT_OK: return "success";
  case OT_EMAXITER: return "iteration limit reached before the marginal tolerance";
  case OT_EINVAL: return "invalid sizes, options or weights";
  case OT_ENOMEM: return "out of memory";
  case OT_ENONFINITE: return "a point, weight or cost is not finite";
  case OT_ESOLVER: return "the exact transport solver failed";
  case OT_EREMOTE: return "another process of the MPI job failed";
  default: return "unknown optimal transport status";
  }
}

int ot_check_points(size_t n, int d, const double *x) {
  if (n == 0 || d < 1 || !x) return OT_EINVAL;
  for (size_t k = 0; k < n * (size_t)d; k++)
    if (!isfinite(x[k])) return OT_ENONFINITE;
  return OT_OK;
}

int ot_check_weights(size_t n, const double *a, double *total) {
  if (!a) {
    *total = 1.0;
    return OT_OK;
  }
  double s = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(a[i])) return OT_ENONFINITE;
    if (a[i] < 0.0) return OT_EINVAL;
    s += a[i];
  }
  if (!(s > 0.0) || !isfinite(s)) return OT_EINVAL;
  *total = s;
  return OT_OK;
}
