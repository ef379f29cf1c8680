/*
** special.h — builtins that need more than the IR's arithmetic:
** geodesic(G, x, y) and bregman(psi, x, y) are functions of their points
** (closed forms, run-time quadrature or shooting: special_lower);
** gibbs(f, T, x [, box]) and partition(f, T [, box]) run a quadrature of
** exp(-f/T) once while lowering: their arguments must be constants, and the
** result becomes a constant of the expression (special_eval).
*/
#ifndef HNN_SPECIAL_H
#define HNN_SPECIAL_H

#include "builtins.h"
#include "state.h"

/* args[1..]: the lowered arguments after the first (a name). NULL on error. */
ir_node *special_eval(hnn_state *S, ir_ctx *ir, ast *e, const builtin *b, ir_node **args);
/* geodesic and bregman: args[1], args[2] the two points (vectors of one
** length).  NULL on error (in S->diags). */
ir_node *special_lower(hnn_state *S, ir_ctx *ir, ast *e, const builtin *b, ir_node **args);

#endif
