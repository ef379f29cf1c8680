/*
** dual.c — the dual Hopfield method and separable geodesic distances
** (see dual.h).
*/
#include "dual.h"
#include "geocoord.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int finite_all(const double *v, int n) {
  for (int i = 0; i < n; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

int dual_run(const dual_problem *p, const dual_opts *o, double *u, double *lambda, double *traj, long *inner,
             double *ws, char *msg, size_t msglen) {
  int n = p->n, m = p->m;
  double *in = ws, *out = in + n + m, *cbws = out + 2 * (n + m);
  for (long k = 0; k < o->outer; k++) {
    if (flow_interrupted()) {
      snprintf(msg, msglen, "interrupted at dual iteration %ld", k + 1);
      return 3;
    }
    long it = 0;
    for (;; it++) {
      if (p->act.fn(u, NULL, in, cbws) || !finite_all(in, n)) {
        snprintf(msg, msglen, "the activation is not finite at dual iteration %ld, sub-iteration %ld", k + 1, it + 1);
        return 3;
      }
      memcpy(in + n, lambda, (size_t)m * sizeof *lambda);
      if (p->lgrad.fn(in, NULL, out, cbws) || !finite_all(out, n + m)) {
        snprintf(msg, msglen, "the gradient of the augmented Lagrangian is not finite at dual iteration %ld, "
                 "sub-iteration %ld", k + 1, it + 1);
        return 3;
      }
      double norm = 0;
      for (int i = 0; i < n; i++) norm += out[i] * out[i];
      if (sqrt(norm) < o->tol || it >= o->inner_max) break;
      if ((it & (FLOW_TICK_STEPS - 1)) == FLOW_TICK_STEPS - 1 && flow_interrupted()) {
        snprintf(msg, msglen, "interrupted at dual iteration %ld, sub-iteration %ld", k + 1, it + 1);
        return 3;
      }
      for (int i = 0; i < n; i++) u[i] -= o->h * out[i];
    }
    /* out[n..] holds g(z) at the final z of the sub-iterations */
    for (int j = 0; j < m; j++) lambda[j] += o->h_dual * out[n + j];
    if (traj) memcpy(traj + (size_t)k * n, u, (size_t)n * sizeof *u);
    if (inner) inner[k] = it;
  }
  return 0;
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
