/*
** distance.c — distances between point clouds and laws (distance.h).
*/
#include "distance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "law.h"
#include "ot1d.h"
#include "otexact.h"
#include "rng.h"
#include "sinkhorn.h"

int dist_points(hnn_state *S, ast *e, int n, const char *other, long samples, uint64_t stream, double **pts,
                int *npts, int *dim) {
  flow_law L;
  *pts = NULL;
  int r = law_read(S, e, "a distance is between", &L);
  if (r != HNN_OK) return r;
  if (n > 0 && L.n != n) {
    diag_error(&S->diags, e->src, e->loc, "this law is in dimension %d, %s in dimension %d", L.n, other, n);
    law_free(&L);
    return HNN_ERR_SCRIPT;
  }
  int N = L.kind == LAW_POINTS ? L.npoints : (int)samples;
  *pts = hnn_xmalloc((size_t)N * L.n * sizeof **pts);
  gsl_rng *g = rng_stream(S->seed, RNG_RUN, stream);
  law_sample(&L, N, g, *pts, NULL);
  gsl_rng_free(g);
  *npts = N;
  *dim = L.n;
  law_free(&L);
  return HNN_OK;
}

int dist_too_big(dist_kind k, int n, double N, double M, char *msg, size_t len) {
  if (k == DIST_W2 && n > 1 && N * M > WF_W2_EXACT_MAX) {
    snprintf(msg, len, "the exact W2 in %d dimensions is limited to %.0f pairs of points (here %.0f x %.0f): use "
             "the Sinkhorn divergence with a small eps", n, WF_W2_EXACT_MAX, N, M);
    return 1;
  }
  return 0;
}

int dist_value(dist_kind k, double eps, const wf_kernel *kern, int n, size_t N, const double *x, size_t M,
               const double *y, int threads, double *out, char *msg, size_t len) {
  return dist_value_weighted(k, eps, kern, n, N, x, NULL, M, y, NULL, threads, out, msg, len);
}

int dist_value_weighted(dist_kind k, double eps, const wf_kernel *kern, int n, size_t N, const double *x,
                        const double *a, size_t M, const double *y, const double *b, int threads, double *out,
                        char *msg, size_t len) {
  int s;
  if (dist_too_big(k, n, (double)N, (double)M, msg, len)) return WF_ETOOBIG;
  if (k == DIST_W2) {
    double v;
    s = n == 1 ? ot1d_wpp(NULL, 2, N, x, a, M, y, b, threads, &v) : ot_exact(N, M, n, x, a, y, b, 2, &v, NULL);
    if (s == OT_OK) *out = sqrt(fmax(v, 0));   /* a rounding below 0 is 0 */
    else snprintf(msg, len, "W2: %s", ot_strerror(s));
    return s;
  }
  if (k == DIST_SINKHORN) {
    ot_sinkhorn_opts o;
    ot_sinkhorn_opts_default(&o);
    o.eps = eps;
    o.tol = WF_SINKHORN_TOL;
    o.threads = threads;
    ot_sinkhorn_stats st[3];
    s = ot_sinkhorn_divergence(NULL, &o, n, N, x, a, M, y, b, out, st);
    if (s < 0) snprintf(msg, len, "Sinkhorn divergence: %s", ot_strerror(s));
    if (s > 0) {
      double e = fmax(st[0].marginal_err, fmax(st[1].marginal_err, st[2].marginal_err));
      snprintf(msg, len, "the Sinkhorn divergence did not reach its marginal tolerance %g in %d iterations (error "
               "%.3g): a larger eps converges faster", o.tol, o.max_iter, e);
    }
    return s;
  }
  wf_kernel ke = { .recognized = 1, .ks = KS_ENERGY, .scale = 1 };
  wf_opts o = { .threads = threads };
  s = wf_mmd_value(k == DIST_ENERGY ? &ke : kern, n, N, x, a, M, y, b, out, &o);
  if (s == KS_ENONFINITE) snprintf(msg, len, "the kernel is not finite at some pair of points");
  else if (s) snprintf(msg, len, "%s", ks_strerror(s));
  return s;
}
