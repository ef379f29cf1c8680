/*
** fisher.h — the Fisher information of a model in expressions:
** fisher(lp, theta, data...) = (1/N) sum_i grad_theta lp_i grad_theta lp_i',
** lp(theta, data...) the log-likelihoods of N samples (docs/geometry.md).
*/
#ifndef HNN_FISHER_H
#define HNN_FISHER_H

#include "ir.h"
#include "state.h"

/* fisher(lp, theta, d1, ..., dk): at most this many arguments in all. */
#define FISHER_MAX_ARGS 8

/* The p x p Fisher matrix at args[0] (theta, p values), with the data
** args[1..nargs-1], for the call e (errors reported at e).  NULL on error. */
ir_node *fisher_lower(hnn_state *S, ir_ctx *ir, ast *e, int nargs, ir_node **args);

#endif
