/*
** mf_loss.c — the logistic and compiled losses of the mean-field engine
** (mf_loss.h).  Both run over the n data points on the calling thread, in
** order (n calls a step against the n m pairs of the passes).
*/
#include "mf_loss.h"

#include <math.h>
#include <stdio.h>

int mf_loss_logistic(void *ctx, long n, const double *f, const double *y, double *dl, double *sum, char *msg,
                     size_t msglen) {
  (void)ctx;
  double s = 0;
  for (long k = 0; k < n; k++) {
    if (y[k] != 1 && y[k] != -1) {
      snprintf(msg, msglen, "the logistic loss takes targets -1 or 1, not %g (data point %ld)", y[k], k + 1);
      return -1;
    }
    double z = y[k] * f[k];
    /* log(1 + e^-z) and sigmoid(-z) = 1/(1 + e^z) without overflow: one
    ** exp of -|z| <= 0 */
    double e = exp(-fabs(z));
    s += (z > 0 ? 0 : -z) + log1p(e);
    dl[k] = -y[k] * (z > 0 ? e / (1 + e) : 1 / (1 + e));
  }
  *sum = s;
  return 0;
}

int mf_loss_call(void *ctx, long n, const double *f, const double *y, double *dl, double *sum, char *msg,
                 size_t msglen) {
  mf_loss_compiled *L = ctx;
  double s = 0;
  for (long k = 0; k < n; k++) {
    double in[2] = { f[k], y[k] }, out[2] = { NAN, NAN };
    if (L->fn.fn(in, NULL, out, L->ws) || !isfinite(out[0]) || !isfinite(out[1])) {
      snprintf(msg, msglen, "the loss or its derivative failed or is not finite at data point %ld (f = %g, y = %g)",
               k + 1, f[k], y[k]);
      return -1;
    }
    dl[k] = out[0];
    s += out[1];
  }
  *sum = s;
  return 0;
}
