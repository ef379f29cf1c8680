/*
** condgrad.h — conditional gradient (Frank-Wolfe) training of a two-layer
** network over measures of bounded total variation (source 004, "Conditional
** Gradient Flows and Frank-Wolfe Algorithm"): the network is
** u(x) = sum_i c_i h(theta_i, x), the constraint sum_i |c_i| <= R, the loss
**   F = 1/2 sum_j q_j (u(x_j) - f(x_j))^2.
** A step asks the linear minimization oracle for the extreme point
** s = -R sign(g(theta*)) delta_{theta*} of the ball that minimizes
** <dF/dmu, s>, g(theta) = sum_j q_j h(theta, x_j) r_j, r = u - f, i.e. the one
** neuron theta* that best correlates with the residual, and moves
** mu <- (1 - gamma) mu + gamma s: every step adds one neuron and shrinks the
** others.  gamma = 2/(k + 2) (classical), a constant gamma (the Euler step
** of the conditional gradient flow d mu/dt = s(mu) - mu), or the exact line
** search of the quadratic loss.
**
** The oracle: theta* maximizes |g| by projected gradient ascent inside the
** box [lo, hi]^d from the `starts` candidates the caller draws and from
** the 5 neurons of the network where |g| is largest; with an exact oracle the classical step
** gives F_k - F* <= 2 C / (k + 2), C = (2 R max_theta |h(theta, .)|_q)^2.
** The Frank-Wolfe gap sum_i c_i g(theta_i) + R |g(theta*)| >= F - F* is
** reported at every step (an estimate from below when the oracle misses
** the global maximum).
*/
#ifndef HNN_CONDGRAD_H
#define HNN_CONDGRAD_H

#include <stddef.h>

#include "flow.h"

typedef enum { CG_STEP_CLASSIC = 0, CG_STEP_CONSTANT = 1, CG_STEP_LINE = 2 } cg_step_rule;

typedef struct cg_problem {
  int dim, n, nx;          /* theta in R^dim, x in R^n, nx data points */
  const double *x;         /* nx x n */
  const double *q, *f;     /* data weights (sum 1), targets */
  flow_fn act;             /* in [theta, x] -> out [grad_theta h (dim), h] */
  double radius;           /* R > 0 */
  double lo, hi;           /* the box of theta, lo < hi */
  cg_step_rule rule;
  double gamma;            /* CG_STEP_CONSTANT: in (0, 1] */
  int ascent_steps;        /* oracle: gradient steps per start (e.g. 100) */
} cg_problem;

typedef struct cg_info {
  double loss, gap, l1, gamma, g_star;
  int neurons;
  const double *theta_new; /* the neuron added by the last step (dim values) */
  double c_new;            /* and its coefficient */
} cg_info;

typedef struct cg_state cg_state;

cg_state *cg_new(const cg_problem *p, char *msg, size_t len);
void cg_free(cg_state *s);
/* One step; cand: ncand candidate starts (ncand x dim) for the oracle. */
int cg_step(cg_state *s, int ncand, const double *cand, cg_info *info, char *msg, size_t len);
/* Loss and gap of the current network (gap from the last oracle call). */
void cg_monitor(cg_state *s, cg_info *info);
int cg_neurons(const cg_state *s, const double **theta, const double **c);

#endif
