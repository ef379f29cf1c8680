/*
** diff.h — exact derivatives of IR expressions, as IR.
**
** Reverse mode (diff_grad) gives the gradient of a scalar output with respect to
** one or more VARs in one sweep over the DAG, so its cost is a small multiple of
** the cost of the function (O(n^2) for x'Qx, never more).  Forward mode
** (diff_jvp) gives directional derivatives of any-shaped outputs; Hessians,
** Jacobians, s', s'', metric derivatives and divergences are built from it.
** Results are ordinary hash-consed IR in the same ctx, so they share
** subexpressions with the function itself.
*/
#ifndef HNN_DIFF_H
#define HNN_DIFF_H

#include "ir.h"

/* Gradient of scalar `out` w.r.t. each vars[k]; grads[k] gets vars[k]'s shape
** (zeros when out does not depend on it). */
void diff_grad(ir_ctx *, ir_node *out, int nvars, ir_node **vars, ir_node **grads);

/* Directional derivative of `out` (any shape) along dirs[k] for vars[k]
** (dirs[k] has vars[k]'s shape; NULL means zero direction). */
ir_node *diff_jvp(ir_ctx *, ir_node *out, int nvars, ir_node **vars, ir_node **dirs);

/* d out / d var for a scalar var (convenience over diff_jvp with direction 1). */
ir_node *diff_scalar(ir_ctx *, ir_node *out, ir_node *var);

/* Diagonal of the Jacobian of vector `out` w.r.t. vector `var` (same length):
** one forward sweep with direction ones when out is elementwise in var,
** otherwise one JVP per coordinate. */
ir_node *diff_jacobian_diag(ir_ctx *, ir_node *out, ir_node *var);

/* Full Jacobian d out / d var as an IR matrix (rows = size(out), cols = size(var)),
** one unit-direction JVP per column; meant for small sizes (print, tests). */
ir_node *diff_jacobian(ir_ctx *, ir_node *out, ir_node *var);

/* A node of root that depends on one of the vars and has no derivative
** (IR_GEODESIC: shooting gives the distance, not its sensitivities), or
** NULL.  Callers refuse to differentiate when it is not NULL; the sweeps
** above give NaN through such a node. */
const ir_node *diff_opaque(ir_node *root, int nvars, ir_node **vars);
#define DIFF_OPAQUE_WHY                                                                                  \
  "geodesic(G, x, y) of an explicit metric G is found by shooting, which gives no derivative (the "    \
  "distances of hopfield(s) and euclidean metrics have one)"

#endif
