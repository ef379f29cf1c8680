/*
** netfit.h — what the flows that fit a network u(x) = sum c h(theta, x) to
** data share (rho_h, frank_wolfe): the declaration
**     flow NAME = KIND(h, f, X, keyword = value, ...)
** with h(theta, x) the activation, f(x) the target and X the data (a param:
** a vector of points, or a matrix with one point per row, each weighing
** 1/nx); the sizes; the callbacks; the targets at the data.
*/
#ifndef HNN_NETFIT_H
#define HNN_NETFIT_H

#include "flowkind.h"

typedef struct netfit {
  sym *act, *target;
  int dim, n, nx;          /* theta in R^dim, x in R^n, nx points */
  double *X;               /* nx x n */
  flow_fn act_fn;          /* [grad_theta h (dim), h] of [theta, x] */
  flow_fn f_fn;            /* f(x) */
} netfit;

/* The positional arguments h, f, X; each keyword argument goes to
** check_kw, which returns its number of errors, or -1 for a keyword the
** kind does not take. */
int netfit_check_decl(hnn_state *S, sym *s, const flow_kind *k, int (*check_kw)(hnn_state *S, ast *kwarg));
/* Sizes and data (prepare stage); errors at the declaration. */
int netfit_prepare(hnn_state *S, sym *flow, netfit *nf);
/* The callbacks (compile stage). */
int netfit_compile(hnn_state *S, netfit *nf);
/* The data weights (1/nx) and f at the data (run stage): 0, or 1 with msg. */
int netfit_targets(const netfit *nf, double *q, double *f, char *msg, size_t len);
/* h and grad_theta h at (theta, x): 0, or 1 when not finite. ws: act_fn.nwork + 1. */
int netfit_act(const netfit *nf, const double *theta, const double *x, double *in, double *out, double *ws);
void netfit_free(netfit *nf);

#endif
