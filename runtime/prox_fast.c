/*
** prox_fast.c — the proximal fixed point (prox.c) with its kernel
** applications done by the kernel-sum engine (kernsum.h), for a cost that
** is Euclidean in coordinates: C_ij = |c_i - c'_j|^2, so that
**   Gamma_ij = exp(-C_ij / (2 eps)) = exp(-|c_i - c'_j|^2 / (2 h^2)),  h = sqrt(eps),
** a KS_GAUSS kernel in the coordinates (the identity for `euclidean`,
** geo_coord or prox_opts.coord otherwise).  The same iteration as the direct
** kernel, on the log potentials alpha = log y, beta = log z:
**   log (Gamma z)_i  = ks_logsum(targets c_i,  sources c'_j, log weights beta_j)
**   alpha_i          = log rho_old,i - log (Gamma z)_i
**   log (Gamma' y)_j = ks_logsum(targets c'_j, sources c_i,  log weights alpha_i)
**   beta_j           = p (log xi_j - log (Gamma' y)_j)
** ks_logsum shifts the weights and recomputes in the log domain every sum it
** cannot certify, so no sum over- or underflows whatever the potentials.
** With kernel_tol = 0 the sums are exact (rounding); with kernel_tol > 0
** each log sum is within kernel_tol of the exact one, and rho_new within
** 2 kernel_tol (1 + p)/(1 - p) in log of the fixed point of exact sums
** (docs/prox.md, "Kernel sums").
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernsum.h"
#include "prox.h"
#include "prox_internal.h"

/* coordinate-major (n x N) into row-major (N x n), as ks_logsum reads points */
static double *row_major(int n, size_t N, const double *c) {
  double *r = malloc((size_t)n * N * sizeof *r);
  if (!r) return NULL;
  for (size_t i = 0; i < N; i++)
    for (int d = 0; d < n; d++) r[i * (size_t)n + (size_t)d] = c[(size_t)d * N + i];
  return r;
}

static int ks_status(int rc) {
  return rc == KS_ENOMEM ? PROX_ENOMEM : rc == KS_ENONFINITE ? PROX_ENONFINITE : PROX_EINVAL;
}

int prox_ks_solve(const prox_ks *k, double *lr, prox_stats *st) {
  const size_t N = k->N;
  const int n = k->n;
  double *xo = row_major(n, N, k->cold), *xn = row_major(n, N, k->cnew);
  double *al = k->al, *be = k->be, *ls = k->ls, *lt = k->lt;
  int rc = PROX_ENOMEM, it = 0;
  if (!xo || !xn) goto out;
  const double h = sqrt(k->eps);
  ks_opts ko;
  ks_opts_default(&ko);
  ko.threads = k->threads;
  ko.tol = k->ktol;
  ks_stats s;
  memset(al, 0, N * sizeof *al);
  memset(be, 0, N * sizeof *be);
  double err = INFINITY;
  st->kernel_engine = 1;
  for (;;) {
    if ((rc = ks_logsum(h, n, N, xo, N, xn, be, ls, &ko, &s))) goto fail;
    st->fallbacks += (int)s.recomputed;
    if (s.method == KS_GRID) st->kernel_engine = 2, st->kernel_bound = s.bound_pot;
    err = 0.0;
    for (size_t i = 0; i < N; i++) {
      err += fabs(exp(al[i] + ls[i]) - k->rho_old[i]);
      al[i] = k->lro[i] - ls[i];
    }
    err /= k->mass;
    if (!isfinite(err)) {
      rc = PROX_ENONFINITE;
      goto out;
    }
    /* the columns of the row-feasible plan: log Gamma'y for the new alpha */
    if ((rc = ks_logsum(h, n, N, xn, N, xo, al, lt, &ko, &s))) goto fail;
    st->fallbacks += (int)s.recomputed;
    if (s.method == KS_GRID) st->kernel_engine = 2, st->kernel_bound = s.bound_pot;
    if (err < k->tol || it >= k->max_iter) break;
    it++;
    for (size_t j = 0; j < N; j++)
      be[j] = k->pa > 0 ? prox_power_beta(k->pw, k->pa, k->pk, k->lxi[j], lt[j]) : k->pw * (k->lxi[j] - lt[j]);
  }
  for (size_t j = 0; j < N; j++) lr[j] = be[j] + lt[j];
  st->iterations = it;
  st->marginal_err = err;
  st->converged = err < k->tol;
  rc = PROX_OK;
  goto out;
fail:
  rc = ks_status(rc);
out:
  free(xo), free(xn);
  return rc;
}
