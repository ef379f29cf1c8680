/*
** distexpr.h — distances between laws in expressions:
**
**   w2(P, Q)                         W2(P, Q), the distance (not squared)
**   sinkhorn(P, Q [, eps = 0.01])    the debiased Sinkhorn divergence S_eps,
**                                    cost |x - y|^2 (-> W2^2 as eps -> 0)
**   mmd(k, P, Q)                     MMD_k(P, Q)^2 with a declared kernel k
**                                    (mmd(energy_distance, P, Q) with the
**                                    stdlib kernel is the energy distance)
**
** P and Q are laws as in `run ... from` and energy targets (law.h): a csv
** file, a param matrix of points (one per row), or normal / uniform /
** mixture drawn `samples = M` times (default 1000) from a stream of the
** seed and the call's place in the source.  The value is computed once
** while the expression is lowered and becomes a constant of it (as gibbs
** and partition), by lang/flows/distance.c.  Inside an `energy`
** declaration the pieces of the same names are energy terms instead
** (energy.h); a declaration named w2, sinkhorn or mmd shadows the builtin.
*/
#ifndef HNN_DISTEXPR_H
#define HNN_DISTEXPR_H

#include "builtins.h"
#include "sema_impl.h"

ty distexpr_check(chk *c, ast *e, const builtin *b);
/* The value as an IR constant; NULL on error (in S->diags). */
ir_node *distexpr_lower(hnn_state *S, ir_ctx *ir, ast *e, const builtin *b);

#endif
