/*
** dual.c — the dual Hopfield method and separable geodesic distances
** (see dual.h).
*/
#include "dual.h"
#include "geocoord.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Index of the first non-finite entry of v[0..m-1], or -1. */
static int first_bad(const double *v, int m) {
  for (int i = 0; i < m; i++)
    if (!isfinite(v[i])) return i;
  return -1;
}

/* The failure message: the value, its component, dual iteration k (from 1)
** and sub-iteration it (the steps taken in that iteration, 0 at its start),
** e.g. "non-finite u3 = -inf at dual iteration 2, sub-iteration 17". */
static int bad_value(char *msg, size_t msglen, const char *what, const double *v, int b, long k, long it) {
  flow_msg(msg, msglen, "non-finite %s%d = %s at dual iteration %ld, sub-iteration %ld", what, b + 1,
           isnan(v[b]) ? "nan" : v[b] > 0 ? "inf" : "-inf", k, it);
  return 3;
}

/* z = s(u), checked. */
static int activate(const dual_problem *p, const double *u, double *z, double *cbws, long k, long it, char *msg,
                    size_t msglen) {
  if (p->act.fn(u, NULL, z, cbws)) {
    flow_msg(msg, msglen, "the activation could not be evaluated at dual iteration %ld, sub-iteration %ld", k, it);
    return 3;
  }
  int b = first_bad(z, p->n);
  return b < 0 ? 0 : bad_value(msg, msglen, "z", z, b, k, it);
}

/* The box of (44a), the range of the increasing activation s: per
** component its limits at -inf and +inf, approached by s(-+2^j),
** j = 0, 1, ..., while the value stays finite and keeps moving outwards
** (an unbounded s ends near +-2^1023, which no clip reaches). */
static void act_range(const dual_problem *p, double *lo, double *hi, double *u, double *v, double *cbws) {
  int n = p->n;
  for (int side = 0; side < 2; side++) {
    double *lim = side ? hi : lo, sign = side ? 1 : -1;
    for (int i = 0; i < n; i++) lim[i] = sign * INFINITY;
    for (int j = 0, moving = 1; j <= 1023 && moving; j++) {
      for (int i = 0; i < n; i++) u[i] = sign * ldexp(1, j);
      if (p->act.fn(u, NULL, v, cbws)) break;
      moving = 0;
      for (int i = 0; i < n; i++) {
        int outwards = j == 0 || (side ? v[i] > lim[i] : v[i] < lim[i]);
        if (isfinite(v[i]) && outwards) lim[i] = v[i], moving = 1;
      }
    }
  }
}

/* The first-order optimality residual of min L_r over the box [lo, hi]:
** |z - clip(z - grad_z L_r)|_2, the projected gradient.  It is
** |grad_z L_r| where no bound is active, and it vanishes at a minimizer on
** a bound too, where grad_z L_r does not. */
static double kkt_residual(const double *z, const double *g, const double *lo, const double *hi, int n) {
  double r = 0;
  for (int i = 0; i < n; i++) {
    double c = z[i] - g[i];
    c = c < lo[i] ? lo[i] : c > hi[i] ? hi[i] : c;
    r += (z[i] - c) * (z[i] - c);
  }
  return sqrt(r);
}

int dual_run(const dual_problem *p, const dual_opts *o, double *u, double *lambda, double *traj, long *inner,
             double *ws, char *msg, size_t msglen) {
  int n = p->n, m = p->m, b;
  double *z = ws, *out = z + n + m, *cbws = out + 2 * (n + m);
  double *lo = malloc(2 * (size_t)n * sizeof *lo), *hi = lo + n;
  if (!lo) {
    flow_msg(msg, msglen, "out of memory");
    return 3;
  }
  act_range(p, lo, hi, z, out, cbws); /* z and out are scratch until the first iteration */
  int st = 0;
  for (int j = 0; j < m && !st; j++)
    if (!isfinite(lambda[j])) st = bad_value(msg, msglen, "lambda", lambda, j, 1, 0);
  for (long k = 1; k <= o->outer && !st; k++) {
    if (flow_interrupted()) {
      flow_msg(msg, msglen, "interrupted at dual iteration %ld", k);
      st = 3;
      break;
    }
    if ((b = first_bad(u, n)) >= 0) {
      st = bad_value(msg, msglen, "u", u, b, k, 0);
      break;
    }
    long it = 0;
    for (;; it++) {
      if ((st = activate(p, u, z, cbws, k, it, msg, msglen))) break;
      memcpy(z + n, lambda, (size_t)m * sizeof *lambda);
      if (p->lgrad.fn(z, NULL, out, cbws)) {
        flow_msg(msg, msglen, "the gradient of the augmented Lagrangian could not be evaluated at dual iteration %ld, "
                 "sub-iteration %ld", k, it);
        st = 3;
        break;
      }
      if ((b = first_bad(out, n + m)) >= 0) {
        st = bad_value(msg, msglen, b < n ? "dL/dz" : "g", out, b < n ? b : b - n, k, it);
        break;
      }
      if (kkt_residual(z, out, lo, hi, n) < o->tol || it >= o->inner_max) break;
      if ((it & (FLOW_TICK_STEPS - 1)) == FLOW_TICK_STEPS - 1 && flow_interrupted()) {
        flow_msg(msg, msglen, "interrupted at dual iteration %ld, sub-iteration %ld", k, it + 1);
        st = 3;
        break;
      }
      /* the Hopfield step (44a) in the hidden state */
      for (int i = 0; i < n; i++) u[i] -= o->h * out[i];
      if ((b = first_bad(u, n)) >= 0) {
        st = bad_value(msg, msglen, "u", u, b, k, it + 1);
        break;
      }
    }
    if (st) break;
    /* out[n..] holds g(z) at the final z of the sub-iterations */
    for (int j = 0; j < m; j++) lambda[j] += o->h_dual * out[n + j];
    if ((b = first_bad(lambda, m)) >= 0) st = bad_value(msg, msglen, "lambda", lambda, b, k, it);
    if (traj) memcpy(traj + (size_t)(k - 1) * n, u, (size_t)n * sizeof *u);
    if (inner) inner[k - 1] = it;
  }
  free(lo);
  return st;
}

int dual_hopfield_distance(const flow_fn *d1, const double *x, const double *y, int n, double *ws, double *d) {
  gsl_integration_workspace *w = gsl_integration_workspace_alloc(GEO_LIMIT);
  if (!w) return 3;
  double sum = 0, r;
  int status = 0;
  for (int i = 0; i < n && !status; i++) {
    status = geo_arclength(d1, y[i], x[i], ws, w, &r);
    sum += r * r;
  }
  gsl_integration_workspace_free(w);
  *d = sqrt(sum);
  return status;
}
