/*
** gibbs.c — partition function, density, cell probabilities, histogram
** chi-square and free energy of the Gibbs law exp(-f/T)/Z.  See gibbs.h.
*/
#include "gibbs.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_rng.h>

#include "rng.h"

void gibbs_opts_default(gibbs_opts *o) {
  memset(o, 0, sizeof *o);
  o->method = GIBBS_AUTO;
  o->panels = 8;
  o->nodes = 8;
  o->samples = 1000000;
  o->seed = 1;
  o->max_evals = 100000000L;
}

/* Running log-sum-exp: s * exp(amax) = sum w_i exp(a_i). */
typedef struct { double amax, s; } lse;
static void lse_add(lse *l, double a, double w) {
  if (a > l->amax) {
    l->s = l->s * exp(l->amax - a) + w;
    l->amax = a;
  } else {
    l->s += w * exp(a - l->amax);
  }
}

/* One axis of a tensor rule on [a, b]: m points and weights. */
static int axis_rule(gibbs_method rule, int panels, int nodes, double a, double b, double *pt,
                     double *wt) {
  double w = (b - a) / panels;
  if (rule == GIBBS_SIMPSON) { /* 2 panels intervals, 2 panels + 1 points */
    int m = 2 * panels;
    double hh = (b - a) / m;
    for (int i = 0; i <= m; i++) {
      pt[i] = a + i * hh;
      wt[i] = hh / 3 * (i == 0 || i == m ? 1 : (i % 2 ? 4 : 2));
    }
    return m + 1;
  }
  gsl_integration_glfixed_table *t = gsl_integration_glfixed_table_alloc((size_t)nodes);
  if (!t) return -1;
  int k = 0;
  for (int q = 0; q < panels; q++)
    for (int j = 0; j < nodes; j++, k++)
      gsl_integration_glfixed_point(a + q * w, a + (q + 1) * w, (size_t)j, &pt[k], &wt[k], t);
  gsl_integration_glfixed_table_free(t);
  return k;
}

int gibbs_log_integral(const flow_problem *p, double T, const double *lo, const double *hi,
                       gibbs_method rule, int panels, int nodes, double *out, long *evals) {
  if (!p || !p->f.fn || !(T > 0) || panels < 1 || nodes < 1 || nodes > 1024 ||
      (rule != GIBBS_GL && rule != GIBBS_SIMPSON))
    return GIBBS_EINVAL;
  int n = p->n;
  int m = rule == GIBBS_SIMPSON ? 2 * panels + 1 : panels * nodes;
  double *pt = malloc(sizeof(double) * (size_t)m * n), *wt = malloc(sizeof(double) * (size_t)m * n);
  double *ws = malloc(sizeof(double) * (flow_problem_nwork(p) + 2 * (size_t)n + 1));
  int *idx = calloc((size_t)n, sizeof(int));
  int rc = 0;
  if (!pt || !wt || !ws || !idx) {
    rc = GIBBS_ENOMEM;
    goto done;
  }
  for (int k = 0; k < n; k++)
    if (axis_rule(rule, panels, nodes, lo[k], hi[k], pt + (size_t)k * m, wt + (size_t)k * m) != m) {
      rc = GIBBS_ENOMEM;
      goto done;
    }
  double *x = ws + flow_problem_nwork(p), fx;
  lse l = { -INFINITY, 0 };
  long cnt = 0;
  for (;;) {
    double w = 1;
    for (int k = 0; k < n; k++) {
      x[k] = pt[(size_t)k * m + idx[k]];
      w *= wt[(size_t)k * m + idx[k]];
    }
    if (p->f.fn(x, NULL, &fx, ws) || isnan(fx)) {
      rc = GIBBS_ECALLBACK;
      goto done;
    }
    cnt++;
    if (fx < INFINITY) lse_add(&l, -fx / T, w);
    int k = 0;
    while (k < n && ++idx[k] == m) idx[k++] = 0;
    if (k == n) break;
  }
  *out = l.s > 0 ? l.amax + log(l.s) : -INFINITY;
  if (evals) *evals += cnt;
done:
  free(pt);
  free(wt);
  free(ws);
  free(idx);
  return rc;
}

int gibbs_partition(const flow_problem *p, double T, const double *lo, const double *hi,
                    const gibbs_opts *o, gibbs_z *z, char *err, size_t errlen) {
  gibbs_opts d;
  if (!o) {
    gibbs_opts_default(&d);
    o = &d;
  }
  if (!p || !p->f.fn || p->n < 1) {
    flow_msg(err, errlen, "gibbs: f is not available");
    return GIBBS_EINVAL;
  }
  if (!(T > 0) || !isfinite(T)) {
    flow_msg(err, errlen, "gibbs: need T > 0 (T = %g)", T);
    return GIBBS_EINVAL;
  }
  int n = p->n;
  double vol = 1;
  for (int k = 0; k < n; k++) {
    if (!(isfinite(lo[k]) && isfinite(hi[k]) && lo[k] < hi[k])) {
      flow_msg(err, errlen, "gibbs: the box must be finite and non-empty (x%d in [%g, %g])", k + 1, lo[k], hi[k]);
      return GIBBS_EINVAL;
    }
    vol *= hi[k] - lo[k];
  }
  gibbs_method m = o->method == GIBBS_AUTO ? (n <= 2 ? GIBBS_GL : GIBBS_MC) : o->method;
  memset(z, 0, sizeof *z);
  z->method = m;
  if (m == GIBBS_GL || m == GIBBS_SIMPSON) {
    double per = m == GIBBS_SIMPSON ? 2.0 * o->panels + 1 : (double)o->panels * o->nodes;
    if (pow(per, n) > (double)o->max_evals) {
      flow_msg(err, errlen, "gibbs: a tensor grid of %g points in %d dimensions exceeds the limit %ld; use Monte Carlo",
          pow(per, n), n, o->max_evals);
      return GIBBS_EINVAL;
    }
    /* Refine (double the panels) until two grids agree to 1e-10 in log Z,
    ** i.e. Z to 1e-10 relative: a density narrower than the grid is caught
    ** instead of returned silently wrong. */
    double prev = NAN;
    long evals = 0;
    for (int panels = o->panels;; panels *= 2) {
      double cur, pts = pow(m == GIBBS_SIMPSON ? 2.0 * panels + 1 : (double)panels * o->nodes, n);
      if (pts > (double)o->max_evals) {
        flow_msg(err, errlen, "gibbs: the quadrature did not converge within %ld points (last change of log Z "
                 "%.3g): exp(-f/T) is too narrow for the box; shrink the box around the mass", o->max_evals,
                 fabs(z->logZ - prev));
        return GIBBS_EINVAL;
      }
      long e = 0;
      int rc = gibbs_log_integral(p, T, lo, hi, m, panels, o->nodes, &cur, &e);
      evals += e;
      if (rc) {
        flow_msg(err, errlen, "gibbs: %s", rc == GIBBS_ECALLBACK ? "f could not be evaluated" : "bad quadrature options");
        return rc;
      }
      prev = z->logZ;
      z->logZ = cur;
      z->evals = evals;
      if (panels > o->panels && fabs(cur - prev) < 1e-10) return GIBBS_OK;
    }
  }
  if (m != GIBBS_MC || o->samples < 2) {
    flow_msg(err, errlen, "gibbs: unknown method or fewer than 2 samples");
    return GIBBS_EINVAL;
  }
  /* Monte Carlo: Z = V E[exp(-f(U)/T)], U uniform on the box; the terms are
  ** stored as a_i = -f/T so the mean and variance are formed after the shift. */
  gsl_rng *r = rng_stream(o->seed, RNG_RUN, 0);
  double *a = malloc(sizeof(double) * (size_t)o->samples);
  double *ws = malloc(sizeof(double) * (flow_problem_nwork(p) + (size_t)n + 1));
  int rc = 0;
  if (!r || !a || !ws) {
    flow_msg(err, errlen, "gibbs: out of memory");
    rc = GIBBS_ENOMEM;
    goto done;
  }
  double *x = ws + flow_problem_nwork(p), amax = -INFINITY;
  for (long s = 0; s < o->samples; s++) {
    for (int k = 0; k < n; k++) x[k] = lo[k] + (hi[k] - lo[k]) * gsl_rng_uniform(r);
    double fx;
    if (p->f.fn(x, NULL, &fx, ws) || isnan(fx)) {
      flow_msg(err, errlen, "gibbs: f could not be evaluated");
      rc = GIBBS_ECALLBACK;
      goto done;
    }
    a[s] = -fx / T;
    if (a[s] > amax) amax = a[s];
  }
  double mean = 0, m2 = 0;
  for (long s = 0; s < o->samples; s++) mean += exp(a[s] - amax);
  mean /= (double)o->samples;
  for (long s = 0; s < o->samples; s++) {
    double e = exp(a[s] - amax) - mean;
    m2 += e * e;
  }
  double se = sqrt(m2 / (double)(o->samples - 1) / (double)o->samples);
  z->logZ = mean > 0 ? amax + log(mean) + log(vol) : -INFINITY;
  z->log_se = mean > 0 ? se / mean : INFINITY;
  z->evals = o->samples;
done:
  if (r) gsl_rng_free(r);
  free(a);
  free(ws);
  return rc;
}

int gibbs_log_density(const flow_problem *p, double T, double logZ, const double *x, double *ws,
                      double *out) {
  double fx, *xx = ws + flow_problem_nwork(p);
  memcpy(xx, x, sizeof(double) * (size_t)p->n);
  if (p->f.fn(xx, NULL, &fx, ws) || isnan(fx)) return GIBBS_ECALLBACK;
  *out = -fx / T - logZ;
  return 0;
}

int gibbs_gof_hist(const flow_problem *p, double T, const double *lo, const double *hi, int bins,
                   int dim, int N, const double *x, gibbs_gof *g, char *err, size_t errlen) {
  int n = p ? p->n : 0;
  if (!p || !p->f.fn || bins < 1 || dim >= n || N < 1 || !(T > 0)) {
    flow_msg(err, errlen, "gibbs: bad histogram arguments");
    return GIBBS_EINVAL;
  }
  int axes = dim < 0 ? n : 1;
  double ncell_d = pow(bins, axes);
  if (ncell_d > 1e6) {
    flow_msg(err, errlen, "gibbs: %g histogram cells are too many", ncell_d);
    return GIBBS_EINVAL;
  }
  int nc = (int)ncell_d, rc = 0;
  double *logI = malloc(sizeof(double) * (size_t)nc), *cnt = calloc((size_t)nc, sizeof(double));
  double *clo = malloc(sizeof(double) * (size_t)n), *chi = malloc(sizeof(double) * (size_t)n);
  if (!logI || !cnt || !clo || !chi) {
    flow_msg(err, errlen, "gibbs: out of memory");
    rc = GIBBS_ENOMEM;
    goto done;
  }
  /* expected: integral over each cell, normalized over the grid */
  double lmax = -INFINITY;
  for (int c = 0; c < nc; c++) {
    int r = c;
    memcpy(clo, lo, sizeof(double) * (size_t)n);
    memcpy(chi, hi, sizeof(double) * (size_t)n);
    for (int a = 0; a < axes; a++) {
      int k = dim < 0 ? a : dim, b = r % bins;
      r /= bins;
      double w = (hi[k] - lo[k]) / bins;
      clo[k] = lo[k] + b * w;
      chi[k] = b == bins - 1 ? hi[k] : lo[k] + (b + 1) * w;
    }
    if ((rc = gibbs_log_integral(p, T, clo, chi, GIBBS_GL, 4, 8, &logI[c], NULL))) {
      flow_msg(err, errlen, "gibbs: f could not be evaluated");
      goto done;
    }
    if (logI[c] > lmax) lmax = logI[c];
  }
  double tot = 0;
  for (int c = 0; c < nc; c++) tot += exp(logI[c] - lmax);
  /* observed */
  for (int i = 0; i < N; i++) {
    int c = 0, mul = 1;
    for (int a = 0; a < axes; a++) {
      int k = dim < 0 ? a : dim;
      double v = x[(size_t)i * n + k];
      if (!(v >= lo[k] && v <= hi[k])) {
        flow_msg(err, errlen, "gibbs: particle %d is outside the box: x%d = %g", i + 1, k + 1, v);
        rc = GIBBS_EINVAL;
        goto done;
      }
      int b = (int)floor((v - lo[k]) / (hi[k] - lo[k]) * bins);
      if (b >= bins) b = bins - 1;
      if (b < 0) b = 0;
      c += b * mul;
      mul *= bins;
    }
    cnt[c] += 1;
  }
  memset(g, 0, sizeof *g);
  double pe = 0, po = 0;
  for (int c = 0; c < nc; c++) {
    double e = N * exp(logI[c] - lmax) / tot;
    if (e < 5) {
      pe += e, po += cnt[c], g->pooled++;
      continue;
    }
    double d = cnt[c] - e;
    g->chi2 += d * d / e;
    if (fabs(d) / sqrt(e) > g->max_z) g->max_z = fabs(d) / sqrt(e);
    g->cells++;
  }
  if (g->pooled && pe > 0) {
    g->chi2 += (po - pe) * (po - pe) / pe;
    g->cells++;
  } else if (g->pooled && po > 0) {
    g->chi2 = INFINITY;
  }
  g->df = g->cells - 1;
  /* far in the tail gsl_cdf_chisq_Q would underflow and call the GSL error
  ** handler (abort by default): report 0 there (the true value is < 1e-100) */
  if (g->df <= 0) g->pvalue = 1;
  else if (!isfinite(g->chi2) || (g->chi2 - g->df) / sqrt(2.0 * g->df) > 25) g->pvalue = 0;
  else g->pvalue = gsl_cdf_chisq_Q(g->chi2, g->df);
done:
  free(logI);
  free(cnt);
  free(clo);
  free(chi);
  return rc;
}

double gibbs_free_energy(size_t N, const double *f, const double *rho, const double *w, double T) {
  double s = 0;
  for (size_t i = 0; i < N; i++) {
    double wi = w ? w[i] : 1.0 / (double)N;
    if (!(rho[i] > 0)) return -INFINITY;
    s += wi * (f[i] + T * log(rho[i]));
  }
  return s;
}
