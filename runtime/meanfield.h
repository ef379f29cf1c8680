/*
** meanfield.h — two-layer networks in mean-field scaling as particle flows.
**
** A network of width m is m particles xi_1..xi_m in R^p, each a neuron
** phi(xi; z) of an input z in R^d, and predicts
**     f(z) = (1/m) sum_i phi(xi_i; z).
** With data (x_k, y_k), k = 1..n, the square loss and V(xi) = lambda/2 |xi|^2
** the energy of the empirical measure mu = (1/m) sum_i delta(xi_i) is
**     E(mu) = R + (1/m) sum_i V(xi_i),   R = 1/(2n) sum_k (f(x_k) - y_k)^2,
** its first variation dE/dmu(xi) = (1/n) sum_k (f(x_k) - y_k) phi(xi; x_k) + V(xi),
** and the particle flow (003 eq. 3.7 on empirical measures) moves each
** neuron with the velocity
**     v_i = -grad_xi dE/dmu(xi_i) = -(1/n) sum_k r_k grad_xi phi(xi_i; x_k) - lambda xi_i,
** so that dE/dt = -(1/m) sum_i |v_i|^2 (003 eq. 3.9).  Gradient descent on
** the m p weights of E with step eta is the explicit Euler step h = eta/m
** of this flow (mean-field scaling: the step grows with the width).
**
** The heavy loops (every pair of neuron and data point, forward and back)
** are here, ahead of time, on the threads of runtime/pool.h.  Neurons are
** cut into blocks of MF_BLOCK whose partial sums are added in block order,
** so results are bit-identical for any thread count.  Two paths:
**   - a recognized unit c * s(<w, z> + b) with s = relu or tanh: fused,
**     vectorized kernels (pre-activations never stored: no n x m matrix);
**     with any other scalar s (MF_CUSTOM) the same kernels, calling the
**     compiled s and s' once per pair;
**   - any other neuron: its compiled value and gradient called per pair.
*/
#ifndef HNN_MEANFIELD_H
#define HNN_MEANFIELD_H

#include "flow.h"

#define MF_BLOCK 8

typedef enum { MF_GENERIC, MF_RELU, MF_TANH, MF_CUSTOM } mf_activation;

/* A neuron xi -> cs xi[c] s(<w, z> + b) + es xi[e]: the offsets in xi of
** c, of w (d consecutive entries), of b and of e, with constant scales cs
** and es; c < 0 means the factor xi[c] is absent, b < 0 means b = 0, e < 0
** no additive term.  (004's standard parameterization is cs = m.) */
typedef struct mf_unit {
  mf_activation act;
  int c, w, b, e;
  double cs, es;
} mf_unit;

/* A loss l(f, y) in place of the square (mf_loss.h): dl[k] = dl/df at
** (f[k], y[k]) for every data point and *sum = sum_k l(f[k], y[k]); 0, or
** -1 with a message. */
typedef int (*mf_loss_fn)(void *ctx, long n, const double *f, const double *y, double *dl, double *sum, char *msg,
                          size_t msglen);
/* An energy term G(xi_1..xi_m) beside R and V (mf_reg.h): adds G to
** *energy and, when vel != NULL, its velocity -m grad_{xi_i} G to vel
** (m x p); 0, or -1 with a message. */
typedef int (*mf_term_fn)(void *ctx, long m, int p, const double *xi, double *vel, double *energy, char *msg,
                          size_t msglen);

typedef struct mf_problem {
  int p, d;                /* parameters per neuron, input dimension */
  long n;                  /* data points */
  const double *x;         /* n x d inputs, row-major */
  const double *y;         /* n targets */
  double lambda;           /* V(xi) = lambda/2 |xi|^2 */
  mf_unit unit;            /* act MF_GENERIC: use phi and dphi */
  flow_fn phi;             /* in = [xi (p), z (d)] -> phi */
  flow_fn dphi;            /* in = [xi, z] -> [grad_xi phi (p), grad_z phi (d)] */
  flow_fn act2;            /* MF_CUSTOM: t -> [s(t), s'(t)], the unit's own activation */
  int threads;             /* exactly this many; 0: up to pool_max_threads(), fewer for small passes */
  mf_loss_fn loss;         /* NULL: the square loss; else R = (1/n) sum_k l(f_k, y_k), r_k = dl/df */
  void *loss_ctx;
  mf_term_fn term;         /* NULL: none; else an energy term added to E and its velocity to v */
  void *term_ctx;
} mf_problem;

/* What one evaluation gives (dissipation only with velocities). */
typedef struct mf_stats {
  double risk;             /* R */
  double energy;           /* R + (1/m) sum V */
  double dissipation;      /* (1/m) sum |v_i|^2 = -dE/dt */
} mf_stats;

typedef struct mf_ws mf_ws;

/* Workspace for m neurons (NULL when out of memory). */
mf_ws *mf_ws_alloc(const mf_problem *P, long m);
void mf_ws_free(mf_ws *w);
/* Bytes mf_ws_alloc takes, for the plan of a run. */
double mf_ws_bytes(const mf_problem *P, long m);

/* Energy of xi (m x p) and, when vel != NULL, the velocities (m x p).
** 0, or -1 with a message (a callback failed, a value is not finite). */
int mf_eval(mf_ws *w, const double *xi, double *vel, mf_stats *st, char *msg, size_t msglen);
/* The network's predictions f(x_k) of the last mf_eval (n values). */
const double *mf_predictions(const mf_ws *w);

/* The rest of one time step of the flow from xi, given vel, the velocity
** at xi from mf_eval: explicit Euler (gradient descent with eta = m h) and
** classical RK4 (k: 4 m p doubles of scratch). */
void mf_step_euler(mf_ws *w, double *xi, double h, const double *vel);
int mf_step_rk4(mf_ws *w, double *xi, double h, const double *vel, double *k, char *msg, size_t msglen);

#endif
