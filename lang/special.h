/*
** special.h — builtins the interpreter evaluates with a runtime engine while
** lowering: geodesic(G, x, y) (shooting BVP), bregman(psi, x, y) (mirror
** potential by quadrature), gibbs(f, T, x [, box]) and partition(f, T [, box])
** (quadrature of exp(-f/T)).  Their arguments must be constants, and the
** result becomes a constant of the expression.
*/
#ifndef HNN_SPECIAL_H
#define HNN_SPECIAL_H

#include "builtins.h"
#include "state.h"

/* args[1..]: the lowered arguments after the first (a name). NULL on error. */
ir_node *special_eval(hnn_state *S, ir_ctx *ir, ast *e, const builtin *b, ir_node **args);

#endif
