/*
** mf_reg.h — density regularizations of a mean-field network (003 Sec. 4)
** through a Gaussian kernel density estimate of the neurons' law
** mu = (1/m) sum_i delta(xi_i) in R^p, mu_b = K_b * mu (K_b the Gaussian of
** variance b^2 per coordinate).
**
** Porous medium (003 eqs. 4.6-4.7), an mf_term_fn (meanfield.h):
**     G(mu) = tau/2 int mu_b^2 = tau/2 (1/m^2) sum_ij (K_b * K_b)(xi_i - xi_j),
** K_b * K_b the Gaussian of variance 2 b^2, and its velocity
**     v_i = -m grad_{xi_i} G = -tau grad (K_b * K_b * mu)(xi_i),
** the exact gradient of the estimate, so the flow dissipates E + G.  It is
** wfield.c's blob power entropy (wf_power_blob) with exponent 2 at
** bandwidth sqrt(2) b, whose two kernel sums coincide there: one exact
** ks_sum (the same bits for any thread count).
**
** Entropy (003 eq. 4.1, monitored for the heat regularization): the
** leave-one-out estimate at the neurons
**     Ent_b = (1/m) sum_i log max(mu_b^(-i)(xi_i), K_b(0)/(m (m-1))),
**     mu_b^(-i) = (1/(m-1)) sum_{j != i} K_b(xi_i - xi_j),
** one exact ks_sum; the floor keeps a neuron with no other within a few b
** (an outlier) from giving log 0.  Its bias (docs/meanfield.md, measured there): smoothing
** lowers it (int mu log mu_b <= int mu log mu, Gibbs' inequality; O(b^2)
** for a smooth mu) and so does Jensen's inequality, by about
** Var/(2 mu_b^2) = O(1/(m b^p)); keeping each neuron's own term would raise
** it by about E[K_b(0)/(m mu_b)], 2^(1 + p/2) times that, so it is left out.
*/
#ifndef HNN_MF_REG_H
#define HNN_MF_REG_H

#include <stddef.h>

typedef struct mf_pm {
  double tau, b;           /* tau/2 int mu_b^2, bandwidth b > 0 */
  int threads;             /* kernel sums: 0 for the pool's default */
  long m;                  /* the width the buffers hold */
  double *w, *v, *rho;     /* m weights 1/m; m p and m sums */
} mf_pm;

/* Buffers for width m and p parameters per neuron (0, or -1 out of memory). */
int mf_pm_init(mf_pm *pm, double tau, double b, long m, int p, int threads);
void mf_pm_free(mf_pm *pm);
/* The mf_term_fn; ctx is an mf_pm. */
int mf_pm_term(void *ctx, long m, int p, const double *xi, double *vel, double *energy, char *msg, size_t msglen);

/* Ent_b of the neurons xi (m x p, m >= 2) at bandwidth b (b <= 0:
** Silverman's rule on the neurons, *bused says which).  0, or -1 with a
** message. */
int mf_entropy(long m, int p, const double *xi, double b, int threads, double *ent, double *bused, char *msg,
               size_t msglen);

#endif
