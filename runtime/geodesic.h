/*
** geodesic.h — geodesics and the geodesic distance of a Riemannian metric G
** (feature D3; paper eqs. 8/12, 13b).  The Euler-Lagrange equation
**   gamma_k'' + sum_ij Gamma^k_ij gamma_i' gamma_j' = 0,
** gamma(0) = x, gamma(1) = y, is solved by shooting on the initial velocity
** (Newton with finite-difference sensitivities, damping, and continuation of
** the target point from x to y; from both ends to a meeting point when both
** are near the boundary).  The length
**   d_G(x, y) = integral_0^1 sqrt(gamma' G(gamma) gamma') dt       (13b)
** is integrated along with the geodesic.  No closed form is used unless the
** caller asks for the separable coordinate map (p->geo_coord).
**
** Diagonal metrics (p->metric_diagonal) need p->metric (the diagonal g) and
** p->metric_jac (d g_k / d x_j); full metrics need p->metric (n x n) and
** p->metric_dx (dG/dx_j).  The Christoffel symbols follow from these.
*/
#ifndef HNN_GEODESIC_H
#define HNN_GEODESIC_H

#include <stddef.h>

#include "flow.h"

typedef struct geo_options {
  double tol;        /* shooting residual |gamma(1) - y|_G(y) <= tol (1e-9), in units of length */
  double ode_tol;    /* rk8pd local tolerance, relative; absolute 1e-10 of it for gamma (1e-12) */
  int max_iter;      /* Newton iterations per continuation stage (50) */
  int use_coord;     /* 1: when p->geo_coord is set and no path is asked for,
                     ** d = |phi(x) - phi(y)|_2 (exact for separable metrics) */
} geo_options;

void geo_options_default(geo_options *o);

/* The geodesic distance between x and y (n = p->n) into *dist.  When path is
** not NULL it receives npath >= 2 points gamma(k / (npath - 1)), row-major
** npath x n (first x, last y).  o may be NULL (defaults).  Returns 0, 2 for
** missing callbacks, 3 when the shooting does not converge, a value is not
** finite or flow_interrupted(); msg (msglen bytes, may be NULL) then says why. */
int geo_distance(const flow_problem *p, const double *x, const double *y, const geo_options *o,
                 double *dist, double *path, int npath, char *msg, size_t msglen);

/* geodesic(G, x, y) in compiled code, for metrics that do not separate:
** ctx is a geo_rt the front end filled (P.n, the metric callbacks, o) and
** keeps alive as long as the code.  On failure *st |= 2, the reason goes to
** hnn_rt_error (geocoord.h), and the result is NaN. */
typedef struct geo_rt {
  flow_problem P;
  geo_options o;
} geo_rt;
double hnn_rt_geodesic(void *ctx, const double *x, const double *y, int *st);

/* The geodesic acceleration a = -Gamma(gamma)[v, v] at (gamma, v); for
** other engines and tests.  Returns 0 or nonzero. */
int geo_accel(const flow_problem *p, const double *gamma, const double *v, double *a);

#endif
