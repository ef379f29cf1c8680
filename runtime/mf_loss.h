/*
** mf_loss.h — the losses of the mean-field engine other than the square
** (meanfield.h's mf_loss_fn): the logistic loss and a compiled one.
**
**   logistic  l(f, y) = log(1 + exp(-y f)),  dl/df = -y sigmoid(-y f),  y in {-1, 1}
**   compiled  a callback (f, y) -> [dl/df, l] (the language's L(f, y) and
**             its exact derivative in f: lang/callbacks.c flow_fn_grad1_value)
** The residuals are all that changes between the forward and backward
** passes, so the fused kernels run unchanged.
*/
#ifndef HNN_MF_LOSS_H
#define HNN_MF_LOSS_H

#include "flow.h"

/* ctx unused.  Fails (with the data point) when a y is not -1 or 1. */
int mf_loss_logistic(void *ctx, long n, const double *f, const double *y, double *dl, double *sum, char *msg,
                     size_t msglen);

/* ctx: an mf_loss_compiled whose ws holds fn.nwork doubles (at least 1). */
typedef struct mf_loss_compiled {
  flow_fn fn;
  double *ws;
} mf_loss_compiled;
int mf_loss_call(void *ctx, long n, const double *f, const double *y, double *dl, double *sum, char *msg,
                 size_t msglen);

#endif
