/*
** gridenergy.h — an `energy` declaration made ready for the grid engines
** (runtime/fv.h, jko1d.h, jko_entropic.h), whose problems take one
** callback per ingredient of
**   E[rho] = int U rho + 1/2 int int W(x - y) rho(x) rho(y)
**          + T int rho log rho + nu int rho^m / (m - 1):
** U is every potential and kl term together (energymodel.h's local part,
** here as a value, and for the 1-D JKO its first two derivatives), W the
** interaction kernels as functions of x - y, T and nu, m the coefficients.
** mmd(k, t) and energy_distance(t) are carried as what they are,
** interaction(2k) + potential(-2 k * t) + a constant (the potential sums
** k over the target's points, the ones a particle flow of the energy
** draws).  What a grid cannot carry is refused at the term with the
** reason (gridenergy_check): sinkhorn (its first variation solves a
** transport problem in rho), w2 outside the exact 1-D JKO (where
** 1/2 W2^2 = 1/2 int (Q - Q_t)^2 ds is quadratic in the quantiles), and
** interaction, mmd and energy_distance in the JKO engines.
*/
#ifndef HNN_GRIDENERGY_H
#define HNN_GRIDENERGY_H

#include "energymodel.h"
#include "flow.h"
#include "state.h"

typedef struct grid_energy {
  int dim;
  energy_model M;      /* coefficients, kernels (pair callbacks) */
  flow_fn U;           /* x (dim) -> U(x); fn NULL when E has no potential or kl term */
  flow_fn dU, d2U;     /* dim 1 and asked for: U'(x), U''(x) */
  flow_fn W;           /* z (dim) -> sum_k c_k k_k(z, 0); fn NULL without interaction */
  flow_fn mob;         /* x -> the diagonal of G^-1(x) when a metric is given, else fn NULL */
  double T, nu, m;
  const em_term *w2;   /* the exact 1-D JKO's w2(t) term (w2c/2 W2^2), or NULL */
  double w2c;
} grid_energy;

/* The most target points of an mmd or energy_distance term a grid flow
** compiles into its potential. */
#define GRID_TARGET_MAX 10000

/* The engines a term can go to. */
enum { GRID_FV = 1, GRID_JKO = 2, GRID_ENTROPIC = 4 };

/* At declaration time: every term of E (checked) can be carried by the
** engine (GRID_*); else an error at the term saying why.  The number of
** errors. */
int gridenergy_check(hnn_state *S, sym *E, int engine);

/* Compile what the engine needs at dimension dim (inside a compile stage:
** callbacks are filled when the JIT batch ends).  derivs: compile dU, d2U
** (dim 1).  metric: a diagonal metric for the mobility, or NULL.  Errors
** at `at`.  HNN_OK or an error. */
int gridenergy_build(hnn_state *S, sym *E, int dim, int derivs, sym *metric, ast *at, grid_energy *G);

/* After the batch: is every interaction kernel a function of x - y?  Its
** pair callback is compared with W at the given points (npts x dim each);
** 0, or 1 with an error at `at`. */
int gridenergy_check_kernels(hnn_state *S, const grid_energy *G, int npts, const double *x, const double *y, ast *at);

/* After the batch: the constant of the mmd and energy_distance terms,
** sum c int int k t t, which the engines' energy leaves out (so that the
** energy column is c MMD^2 as the particle flows write it). */
double gridenergy_constant(const grid_energy *G);

void gridenergy_free(grid_energy *G);

#endif
