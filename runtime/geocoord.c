/*
** geocoord.c — separable geodesic coordinates of Hopfield metrics by
** quadrature in the hidden coordinate (see geocoord.h).
*/
#include "geocoord.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct arc_ctx {
  const flow_fn *d1;
  double *ws;
  int failed;
} arc_ctx;

static double sqrt_deriv(double t, void *ctx) {
  arc_ctx *c = ctx;
  double g = NAN;
  if (c->d1->fn(&t, NULL, &g, c->ws) || !(g >= 0)) c->failed = 1;
  return g >= 0 ? sqrt(g) : 0;
}

static int arclength(const flow_fn *d1, double a, double b, double *ws, gsl_integration_workspace *w,
                     double *len) {
  *len = 0;
  if (a == b) return 0;
  arc_ctx c = { d1, ws, 0 };
  gsl_function F = { sqrt_deriv, &c };
  double r, err;
  /* sqrt(s') is smooth but decays over long intervals; a roundoff or
  ** subdivision-limit report whose error estimate is below 1e-10 (1 + |r|)
  ** is accepted */
  int st = gsl_integration_qag(&F, fmin(a, b), fmax(a, b), 1e-14, 1e-12, GEO_LIMIT, GSL_INTEG_GAUSS21, w, &r, &err);
  if ((st != GSL_SUCCESS && !((st == GSL_EROUND || st == GSL_EMAXITER) && err <= 1e-10 * (1 + fabs(r)))) ||
      c.failed || !isfinite(r))
    return 3;
  *len = b > a ? r : -r;
  return 0;
}

int geo_arclength(const flow_fn *d1, double a, double b, double *ws, gsl_integration_workspace *w, double *len) {
  if (w) return arclength(d1, a, b, ws, w, len);
  if (!(w = gsl_integration_workspace_alloc(GEO_LIMIT))) return 3;
  int r = arclength(d1, a, b, ws, w, len);
  gsl_integration_workspace_free(w);
  return r;
}

struct geo_hcoord {
  flow_fn inv, d1;
  double *ws;
  gsl_integration_workspace *w;
  size_t cap;
  struct upoint { double u; size_t i; } *pts; /* hidden coordinates, sorted */
};

geo_hcoord *geo_hcoord_alloc(const flow_fn *inv1, const flow_fn *d1) {
  geo_hcoord *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->inv = *inv1;
  c->d1 = *d1;
  size_t nw = inv1->nwork > d1->nwork ? inv1->nwork : d1->nwork;
  c->ws = malloc((nw + 1) * sizeof *c->ws);
  c->w = gsl_integration_workspace_alloc(GEO_LIMIT);
  if (!c->ws || !c->w) {
    geo_hcoord_free(c);
    return NULL;
  }
  return c;
}

void geo_hcoord_free(geo_hcoord *c) {
  if (!c) return;
  free(c->ws);
  free(c->pts);
  if (c->w) gsl_integration_workspace_free(c->w);
  free(c);
}

static int by_u(const void *a, const void *b) {
  const struct upoint *p = a, *q = b;
  return p->u < q->u ? -1 : p->u > q->u ? 1 : (p->i > q->i) - (p->i < q->i);
}

int geo_hcoord_map(void *ctx, int n, size_t N, const double *x, double *phi) {
  geo_hcoord *c = ctx;
  if (N > c->cap) {
    struct upoint *p = realloc(c->pts, N * sizeof *p);
    if (!p) return 4;
    c->pts = p;
    c->cap = N;
  }
  for (int d = 0; d < n; d++) {
    for (size_t i = 0; i < N; i++) {
      double xi = x[i * (size_t)n + d];
      c->pts[i].i = i;
      if (c->inv.fn(&xi, NULL, &c->pts[i].u, c->ws) || !isfinite(c->pts[i].u)) return 3;
    }
    qsort(c->pts, N, sizeof *c->pts, by_u);
    double acc = 0, prev = 0, piece;
    for (size_t k = 0; k < N; k++) {
      if (arclength(&c->d1, prev, c->pts[k].u, c->ws, c->w, &piece)) return 3;
      acc += piece;
      prev = c->pts[k].u;
      phi[(size_t)d * N + c->pts[k].i] = acc;
    }
  }
  return 0;
}

/* ---------------------------------------------------------- run-time helpers */

static _Thread_local char rt_msg[512];
static _Thread_local int rt_has_msg;

const char *hnn_rt_error(void) { return rt_has_msg ? rt_msg : NULL; }

void hnn_rt_error_clear(void) { rt_has_msg = 0; }

void hnn_rt_error_set(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rt_msg, sizeof rt_msg, fmt, ap);
  va_end(ap);
  rt_has_msg = 1;
}

typedef struct quad_ctx {
  hnn_rt_integrand f;
  double p;
  int bad;
} quad_ctx;

static double quad_f(double v, void *ctx) {
  quad_ctx *q = ctx;
  double r = q->f(v, q->p);
  if (!isfinite(r)) {
    q->bad = 1;
    return 0;
  }
  return r;
}

#define RT_QUAD_LIMIT 200

double hnn_rt_quad(hnn_rt_integrand f, double lo, double hi, double p, int *st) {
  if (lo == hi) return 0;
  if (!isfinite(lo) || !isfinite(hi) || isnan(p)) {
    hnn_rt_error_set("an integration limit is not finite (a point outside the activation's range?)");
    *st |= 2;
    return NAN;
  }
  gsl_integration_workspace *w = gsl_integration_workspace_alloc(RT_QUAD_LIMIT);
  if (!w) {
    hnn_rt_error_set("out of memory");
    *st |= 2;
    return NAN;
  }
  quad_ctx q = { f, p, 0 };
  gsl_function F = { quad_f, &q };
  double r = NAN, err = 0;
  /* the integrands are smooth (s' and its powers in the hidden coordinate);
  ** a roundoff report with an error estimate below 1e-12 relative is
  ** accepted, as in arclength above */
  int rc = gsl_integration_qag(&F, fmin(lo, hi), fmax(lo, hi), 0, 1e-13, RT_QUAD_LIMIT, GSL_INTEG_GAUSS21, w, &r,
                               &err);
  gsl_integration_workspace_free(w);
  if ((rc != GSL_SUCCESS && !((rc == GSL_EROUND || rc == GSL_EMAXITER) && err <= 1e-12 * fabs(r))) || q.bad ||
      !isfinite(r)) {
    if (q.bad) hnn_rt_error_set("the integrand is not finite on [%.17g, %.17g]", fmin(lo, hi), fmax(lo, hi));
    else hnn_rt_error_set("the quadrature on [%.17g, %.17g] missed 1e-12 relative (estimate %.3g of %.17g)",
                          fmin(lo, hi), fmax(lo, hi), err, r);
    *st |= 2;
    return NAN;
  }
  return hi > lo ? r : -r;
}
