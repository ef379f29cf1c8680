/*
** mf_reg.c — the porous-medium term and the entropy estimate of a
** mean-field network's neurons (mf_reg.h), on the kernel-sum engine
** (kernsum.h): the neurons are a particle cloud of m equal weights in R^p.
*/
#include "mf_reg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernsum.h"
#include "wfield.h"

int mf_pm_init(mf_pm *pm, double tau, double b, long m, int p, int threads) {
  memset(pm, 0, sizeof *pm);
  pm->tau = tau;
  pm->b = b;
  pm->m = m;
  pm->threads = threads;
  pm->w = malloc((size_t)m * sizeof *pm->w);
  pm->v = malloc((size_t)m * p * sizeof *pm->v);
  pm->rho = malloc((size_t)m * sizeof *pm->rho);
  if (!pm->w || !pm->v || !pm->rho) {
    mf_pm_free(pm);
    return -1;
  }
  for (long i = 0; i < m; i++) pm->w[i] = 1.0 / (double)m;
  return 0;
}

void mf_pm_free(mf_pm *pm) {
  free(pm->w);
  free(pm->v);
  free(pm->rho);
  pm->w = pm->v = pm->rho = NULL;
}

int mf_pm_term(void *ctx, long m, int p, const double *xi, double *vel, double *energy, char *msg, size_t msglen) {
  mf_pm *pm = ctx;
  if (m != pm->m) {
    snprintf(msg, msglen, "porous-medium term: width %ld, buffers for %ld", m, pm->m);
    return -1;
  }
  /* wfield.c's blob power entropy at exponent 2 and bandwidth h = sqrt(2) b
  ** with coef = tau/2: E = coef sum_i w_i rho_h(x_i) = tau/2 int mu_b^2
  ** (rho_h = K_h * mu = K_b * K_b * mu), v_k = -coef (grad rho_h(x_k) +
  ** sum_i w_i grad K_h(x_k - x_i)) = -tau grad rho_h(x_k).  There F' = 1, so
  ** its two kernel sums are one: one exact ks_sum gives rho_h and grad rho_h
  ** (half of wf_power_blob's work; the same bits for any thread count) */
  double h = sqrt(2.0) * pm->b, c = pow(2 * M_PI * h * h, -0.5 * p);
  ks_opts ko;
  ks_opts_default(&ko);
  ko.threads = pm->threads;
  int s = ks_sum(KS_GAUSS, h, p, (size_t)m, xi, (size_t)m, xi, pm->w, pm->rho, vel ? pm->v : NULL, &ko, NULL);
  if (s) {
    snprintf(msg, msglen, "porous-medium term: %s", ks_strerror(s));
    return -1;
  }
  double g = 0;
  for (long i = 0; i < m; i++) g += pm->w[i] * pm->rho[i];
  *energy += 0.5 * pm->tau * c * g;
  if (vel)
    for (size_t q = 0; q < (size_t)m * p; q++) vel[q] -= pm->tau * c * pm->v[q];
  return 0;
}

int mf_entropy(long m, int p, const double *xi, double b, int threads, double *ent, double *bused, char *msg,
               size_t msglen) {
  if (m < 2) {
    snprintf(msg, msglen, "the entropy estimate needs 2 neurons or more");
    return -1;
  }
  double *w = malloc((size_t)m * sizeof *w), *pot = malloc((size_t)m * sizeof *pot);
  int s = w && pot ? 0 : KS_ENOMEM, bad = 0;
  for (long i = 0; !s && i < m; i++) w[i] = 1.0 / (double)m;
  if (!s && !(b > 0)) b = wf_silverman(p, (size_t)m, xi, w);
  if (bused) *bused = b;
  if (!s && !(b > 0 && isfinite(b))) {
    snprintf(msg, msglen, "the entropy estimate: Silverman's bandwidth is %g (the neurons coincide?): give blob = b", b);
    bad = 1;
  }
  ks_opts ko;
  ks_opts_default(&ko);
  ko.threads = threads;
  /* one exact sum with unit weights; each neuron's own term exp(0) = 1 is
  ** taken out (leave one out) */
  if (!s && !bad) s = ks_sum(KS_GAUSS, b, p, (size_t)m, xi, (size_t)m, xi, NULL, pot, NULL, &ko, NULL);
  /* the other neurons' density, floored at K_b(0)/(m (m - 1)) (the others'
  ** kernels sum to 1/m of one's height): a neuron with no other within a
  ** few b (an outlier) would otherwise give log 0.  A floor of K_b(0)/m
  ** (one kernel) biased the estimate up (+0.39 at p = 5, m = 1000); this one
  ** is within the noise of none */
  double c = pow(2 * M_PI * b * b, -0.5 * p), e = 0;
  for (long i = 0; !s && !bad && i < m; i++) {
    double d = fmax(pot[i] - 1, 1 / (double)m) / (double)(m - 1) * c;
    if (!(d > 0) || !isfinite(d)) {
      snprintf(msg, msglen, "the entropy estimate is not finite at neuron %ld (bandwidth %g)", i + 1, b);
      bad = 1;
    }
    e += log(d);
  }
  free(w);
  free(pot);
  if (s) snprintf(msg, msglen, "entropy estimate (bandwidth %g): %s", b, ks_strerror(s));
  if (s || bad) return -1;
  *ent = e / (double)m;
  return 0;
}
