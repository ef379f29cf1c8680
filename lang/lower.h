/*
** lower.h — from checked AST to IR, with every size known.
**
** Calls to user declarations are inlined (their bodies lowered with the
** arguments bound), so derivatives see through them; hash-consing in the IR
** keeps repeated inlines shared.  grad, hessian, s', s'', inverses and metric
** quantities are built here from diff.h.
*/
#ifndef HNN_LOWER_H
#define HNN_LOWER_H

#include <gsl/gsl_rng.h>

#include "state.h"

/* The most levels of expressions lowering nests, summed over the bodies of
** the calls it expands in place (lower.c, lo). */
#define LOWER_MAX_DEPTH 2000

typedef enum {
  METRIC_G, METRIC_GINV, METRIC_DIVGINV,
  METRIC_DIAG, METRIC_INV_DIAG     /* diagonal metrics: the n entries of G, G^-1 */
} metric_part;

/* Is metric m diagonal (euclidean, hopfield(s), or diag(...) of its point)? */
int lower_metric_is_diagonal(hnn_state *S, sym *m, int n);

/* A print / eval expression (no free variables). NULL on error (reported). */
ir_node *lower_expr(hnn_state *S, ir_ctx *ir, ast *e);

/* A param initializer; random draws use rng; csv files are read; every
** buffer it allocates is appended to *bufs (freed by the caller after use). */
ir_node *lower_param(hnn_state *S, ir_ctx *ir, sym *p, gsl_rng *rng, double ***bufs, int *nbufs);

/* The formals of a callable as fresh VARs (sizes: generic ones set to n)
** and its body. Returns 0, or nonzero with an error in S->diags. */
int lower_callable(hnn_state *S, ir_ctx *ir, sym *f, int n, ir_node ***vars, int *nvars, ir_node **body);

/* The body of callable f with its formals bound to args (shapes checked). */
ir_node *lower_inline(hnn_state *S, ir_ctx *ir, sym *f, int nargs, ir_node **args);

/* Activation a applied to arg: deriv 0, 1, 2 (s, s', s''), or -1 (inverse). */
ir_node *lower_activation(hnn_state *S, ir_ctx *ir, sym *a, ir_node *arg, int deriv);

/* Metric quantities at x (a vector). */
ir_node *lower_metric(hnn_state *S, ir_ctx *ir, sym *m, ir_node *x, metric_part part);

/* The vector field of a deterministic flow of objective f at y (a vector of
** every argument of f concatenated; nsize fixes f's free size, or -1):
**   -grad f(y)                      with a and m NULL (gradient flow),
**   -grad f(s(y))                   with activation a (Hopfield, y = x_H),
**   -G(y)^-1 grad f(y)              with diagonal metric m (natural gradient).
** NULL on error (reported). */
ir_node *lower_flow_field(hnn_state *S, ir_ctx *ir, sym *f, int nsize, sym *a, sym *m, ir_node *y);

#endif
