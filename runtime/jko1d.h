/*
** jko1d.h — exact JKO steps in 1-D through quantile functions (002 eq. 1,
** features W1, W2): rho_{k+1} = argmin W2^2(rho, rho_k)/(2 tau) + E[rho] with
**   E[rho] = int V rho + T int rho log rho + nu int rho^m/(m - 1).
**
** In quantile coordinates (Q = F^-1, rho(Q(s)) = 1/Q'(s)) the step is the
** convex minimization over monotone Q of
**   1/(2 tau) int (Q - Q_k)^2 ds + int V(Q) ds - T int log Q' ds
**   + nu/(m - 1) int Q'^(1-m) ds,
** discretized by N + 1 points Q_0 < ... < Q_N at s_j = j/N, mass 1/N on each
** gap (density 1/(N g_j) there), trapezoid weights w_j for the s-integrals.
** The discrete problem is strictly convex when V'' > -1/tau (the entropy
** terms are barriers that keep Q increasing), and Newton with a tridiagonal
** Hessian solves it exactly: O(N) work per iteration.
**
** Discrete identities the tests use (mean m1 = sum w Q, M2 = sum w Q^2):
** with V = 0 the mean is kept and
**   M2_{k+1} - M2_k = 2 tau (T + (m - 1) P_{k+1}) - W2^2(Q_{k+1}, Q_k),
** P the discrete power energy nu sum_j g_j (1/(N g_j))^m/(m - 1).
** The interaction energy W is not handled here (not convex in Q in general).
** A W2 term c/2 W2^2(rho, beta) = c/2 int (Q - Q_beta)^2 ds is quadratic in
** Q (w2c, Qt below); with it and V = 0 the summed conditions give the mean
** of implicit Euler towards the target's: m_{k+1} = (m_k + tau c m_beta)/(1 + tau c).
*/
#ifndef HNN_JKO1D_H
#define HNN_JKO1D_H

#include <stddef.h>

#include "flow.h"

typedef struct jko1d_problem {
  flow_fn V, dV, d2V;  /* V(x), V'(x), V''(x), each 1 -> 1; all NULL: V = 0 */
  double T;            /* >= 0 */
  double nu, m;        /* nu >= 0, m > 1 when nu > 0; T + nu > 0 */
  double w2c;          /* >= 0: the term w2c/2 sum_j w_j (Q_j - Qt_j)^2 */
  const double *Qt;    /* with w2c > 0: the target's quantiles at s_j = j/N (N + 1 values) */
} jko1d_problem;

typedef struct jko1d_info {
  int newton;          /* Newton iterations */
  double w2;           /* W2(Q_new, Q_old) (trapezoid) */
  double energy;       /* E at Q_new (discrete) */
} jko1d_info;

/* One JKO step of size tau > 0 from Qold (N + 1 increasing points, N >= 2)
** into Q (may alias Qold).  Returns 0, 2 for bad arguments, 3 when Newton
** fails or a callback value is not finite (msg). */
int jko1d_step(const jko1d_problem *p, long N, const double *Qold, double tau, double *Q, jko1d_info *info,
               char *msg, size_t len);

/* The discrete energy of Q (NAN if Q is not increasing or a callback fails). */
double jko1d_energy(const jko1d_problem *p, long N, const double *Q);

/* Trapezoid moments: mean sum w Q, second moment sum w Q^2, and the
** trapezoid W2 between two quantile vectors. */
void jko1d_moments(long N, const double *Q, double *mean, double *m2);
double jko1d_w2(long N, const double *Qa, const double *Qb);

/* Quantiles at s_j = j/N (j = 0..N) of the piecewise-constant density rho
** on n cells of [lo, hi] (normalized; Q_0 and Q_N are the ends of its
** support).  Returns 0, or -1 if rho has no mass or a negative value. */
int jko1d_from_density(int n, double lo, double hi, const double *rho, long N, double *Q);

/* Cell averages on n cells of [lo, hi] of the density of Q (mass 1/N spread
** uniformly on each gap): exact overlaps, so the grid mass is the part of
** the unit mass inside [lo, hi]. */
void jko1d_to_grid(long N, const double *Q, int n, double lo, double hi, double *rho);

#endif
