/*
** dual.h — the dual Hopfield method (source 000, Sec. IV-B, eqs. 41-44):
** minimize J(z) subject to g(z) = 0 through the augmented Lagrangian
**
**   L_r(z, lambda) = J(z) + lambda' g(z) + (r/2) |g(z)|^2            (41)
**
** by Hopfield sub-iterations on z for fixed lambda, in the hidden state u
** with z = s(u) (the discrete HNN (1), i.e. mirror descent (15) with the
** activation's mirror map, the natural-gradient recursion (5) to first order)
**
**   u <- u - h grad_z L_r(s(u), lambda)                               (44a)
**
** until the projected gradient |z - clip(z - grad_z L_r)| < tol, clipped to
** the range of s (the box; found from s(-+2^j)), or a step limit, then dual
** ascent
**
**   lambda <- lambda + h_dual g(z)                                   (44b-c)
**
** One callback gives both halves: its input is (z, lambda), its output
** (grad_z L_r, g(z)) — the derivative of L_r in lambda is g(z).
** The iterates never leave the range of s.  Also: the geodesic distance of
** the Hopfield metric G = diag(1/s'(s^-1(z))) between two points, by 1-D
** quadrature in the hidden coordinates, d^2 = sum_i (int_{v_i}^{u_i}
** sqrt(s'(t)) dt)^2 (substituting z = s(t) in int sqrt(g(z)) dz), for the
** distance to the optimum per iteration (Fig. 3).
*/
#ifndef HNN_DUAL_H
#define HNN_DUAL_H

#include "flow.h"

typedef struct dual_problem {
  int n, m;              /* primal and dual sizes */
  flow_fn lgrad;         /* (z, lambda) -> (grad_z L_r, g(z)), n + m values */
  flow_fn act;           /* z = s(u), elementwise on n values */
} dual_problem;

typedef struct dual_opts {
  double h;              /* sub-iteration step (eq. 5) */
  double h_dual;         /* dual ascent step */
  double tol;            /* sub-iterations stop when the projected gradient
                         ** |z - clip(z - grad_z L_r)|_2 < tol: |grad_z L_r|
                         ** where no bound is active; grad_z L_r itself does
                         ** not vanish at a minimizer on a bound */
  long inner_max;        /* ... or after this many sub-iterations */
  long outer;            /* dual iterations */
} dual_opts;

/* Run `outer` dual iterations from the hidden state u (z = s(u)) and lambda,
** both updated in place.  traj (may be NULL) receives u(k) after the
** sub-iterations of iteration k (outer x n, row-major); inner (may be NULL)
** the sub-iterations used per iteration.  Returns 0, or 3 with a message
** naming the value, its component and the (sub-)iteration, e.g. "non-finite
** u3 = -inf at dual iteration 1, sub-iteration 3" (a non-finite u, z,
** lambda, gradient or constraint value, a failed callback, or
** flow_interrupted()).
** ws: the callbacks' nwork + 3(n + m). */
int dual_run(const dual_problem *p, const dual_opts *o, double *u, double *lambda, double *traj, long *inner,
             double *ws, char *msg, size_t msglen);

/* Geodesic distance of the Hopfield metric between s(u) and s(v), from the
** hidden states: d^2 = sum_i (int_{v_i}^{u_i} sqrt(s'(t)) dt)^2, where d1
** evaluates s' at a 1-vector.  Returns 0 or 3. */
int dual_hopfield_distance(const flow_fn *d1, const double *u, const double *v, int n, double *ws, double *d);

#endif
