/*
** geocoord.h — separable geodesic coordinates of Hopfield metrics.
**
** The metric of an elementwise activation s, g_ii(x) = 1/s'(s^-1(x_i)),
** separates: d_G(x, y)^2 = sum_i (phi(x_i) - phi(y_i))^2 with phi' = sqrt(g).
** Substituting x = s(u) gives phi(s(u)) = int sqrt(s'(t)) dt, a smooth
** integrand in the hidden coordinate u, integrated here by adaptive
** Gauss-Kronrod quadrature.  Callers must have GSL's error handler off.
*/
#ifndef HNN_GEOCOORD_H
#define HNN_GEOCOORD_H

#include <gsl/gsl_integration.h>
#include <stddef.h>
#include "flow.h"

/* int_a^b sqrt(s'(t)) dt (negative when b < a) into *len, where d1 evaluates
** s' at a 1-vector with ws (d1->nwork doubles); w: a workspace of
** GEO_LIMIT intervals, or NULL for a temporary one.  Returns 0, or 3 when s'
** fails or is negative, or the quadrature misses 1e-10 relative. */
#define GEO_LIMIT 1000
int geo_arclength(const flow_fn *d1, double a, double b, double *ws, gsl_integration_workspace *w, double *len);

/* The coordinate map phi for N points of n coordinates (row-major x), from
** scalar s^-1 and s' callbacks; phi is coordinate-major (phi[d*N + i]).  The
** points of each coordinate are sorted in u = s^-1(x) and phi accumulated
** piece by piece from u = 0, so each step costs N n short quadratures. */
typedef struct geo_hcoord geo_hcoord;
geo_hcoord *geo_hcoord_alloc(const flow_fn *inv1, const flow_fn *d1);
void geo_hcoord_free(geo_hcoord *c);
/* Returns 0, or 3 (a point outside the activation's range, a failed
** callback or quadrature), or 4 (out of memory). */
int geo_hcoord_map(void *c, int n, size_t N, const double *x, double *phi);

/* ---- helpers called from JIT-compiled code (registered in lang/jit.c) */

/* integral_lo^hi f(v, p) dv by adaptive Gauss-Kronrod to 1e-13 relative;
** the integrand of an IR_QUAD node (geodesic coordinates and Bregman
** divergences of activations with no closed form).  On failure (limits or
** values not finite, the tolerance missed) *st |= 2, the reason goes to
** hnn_rt_error, and the result is NaN. */
typedef double (*hnn_rt_integrand)(double v, double p);
double hnn_rt_quad(hnn_rt_integrand f, double lo, double hi, double p, int *st);

/* The reason of the last failure of a run-time helper in this thread, or
** NULL; hnn_rt_error_clear forgets it.  Front ends report it when a
** compiled function returns nonzero. */
const char *hnn_rt_error(void);
void hnn_rt_error_clear(void);
void hnn_rt_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
