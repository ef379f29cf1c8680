/*
** callbacks.h — compiling a declaration's callbacks into the slots of a
** flow_problem (runtime/flow.h), and evaluating expressions to numbers:
** what flow kinds, plots and the special functions (geodesic, bregman,
** gibbs) share, so none of them depends on another.
*/
#ifndef HNN_CALLBACKS_H
#define HNN_CALLBACKS_H

#include "flow.h"
#include "state.h"

/* Compile callback `what` of s at size n into out (filled when the JIT
** batch ends, if one is open: state_fn_later).  1 when it does not
** compile (message in S->diags). */
int flow_fn_of(hnn_state *S, sym *s, int what, int n, flow_fn *out);
/* One callback of f's arguments concatenated (argument i a vector of
** sizes[i] values; a scalar formal takes its one value) giving the
** gradient in the first argument, then the value: [grad_1 f (sizes[0]), f].
** For kernels k(x, y) and activations h(theta, x).  1 when it does not
** compile (message in S->diags). */
int flow_fn_grad1_value(hnn_state *S, sym *f, int nargs, const int *sizes, flow_fn *out);
/* The metric g at size n into P: metric_diagonal, then G, G^-1 and (diagonal
** metrics) dg/dx.  1 when a callback does not compile. */
int flow_metric_problem(hnn_state *S, sym *g, int n, flow_problem *P);
/* Check and evaluate an expression (v malloc'd, its shape in sh). */
int flow_eval_value(hnn_state *S, ast *e, double **v, ir_shape *sh);
/* Evaluate a checked scalar expression. */
int flow_eval_number(hnn_state *S, ast *e, double *v);

#endif
