/*
** discrete.h — discrete-time counterparts of the flows in ode.h (features D2,
** D4, M5): gradient descent, the natural-gradient recursion (eq. 5), mirror
** descent (eq. 15) with the mirror map taken from the activation, and the
** Bregman divergence of that map (eqs. 19-20, 31-38).
**
** Mirror map (Hopfield): grad psi = s^-1 componentwise, so the dual variable
** is z = s^-1(x) and (grad psi)^-1 = s; psi_i(x_i) = integral of s_i^-1, from
** p->mirror_pot when given, else by adaptive Gauss-Kronrod quadrature.
** Mirror descent x_{k+1} = s(s^-1(x_k) - h grad f(x_k)) stays in the range of
** s, so no Bregman projection is needed for this family of maps.
*/
#ifndef HNN_DISCRETE_H
#define HNN_DISCRETE_H

#include "flow.h"
#include "ode.h"

typedef enum {
  MD_GRADIENT = 0,   /* x_{k+1} = x_k - h grad f(x_k) */
  MD_NATURAL,        /* x_{k+1} = x_k - h G(x_k)^-1 grad f(x_k)            (eq. 5) */
  MD_MIRROR          /* x_{k+1} = s(s^-1(x_k) - h grad f(x_k))              (eq. 15) */
} md_kind;

/* Run nsteps steps of size h from x (updated in place).  Emits step 0, every
** out_every-th step (0: none) and the last one, with t = k h.  Stops early when
** grad_tol > 0 and |grad f(x)| < grad_tol.  tick (may be NULL) gets ctx
** every FLOW_TICK_STEPS steps.  res as in ode.h (steps, reason, msg).
** Returns 0, 2 (missing callbacks) or 3 (non-finite value, failed callback
** or emit). */
int md_run(const flow_problem *p, md_kind kind, const char *name, double h, long nsteps,
           double *x, double grad_tol, long out_every, ode_emit emit, flow_tick tick, void *ctx,
           ode_result *res);

/* z = grad psi(x) = s^-1(x), and its inverse x = s(z).  Return 0 or nonzero. */
int md_mirror_map(const flow_problem *p, const double *x, double *z);
int md_mirror_inv(const flow_problem *p, const double *z, double *x);

/* psi(x) = sum_i psi_i(x_i), normalised by psi_i(1/2) = 0 when integrated
** numerically (a constant does not change the Bregman divergence). */
int md_potential(const flow_problem *p, const double *x, double *psi);

/* D(x, y) = psi(x) - psi(y) - <s^-1(y), x - y>
**         = sum_i integral_{y_i}^{x_i} (s_i^-1(t) - s_i^-1(y_i)) dt  (>= 0). */
int md_bregman(const flow_problem *p, const double *x, const double *y, double *d);

#endif
