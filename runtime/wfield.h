/*
** wfield.h — Wasserstein gradients of energy terms on a weighted particle
** cloud: for particles x (N x n, row-major) with weights w (N, sum 1),
** each function ADDS to v (N x n) the velocity -coef * grad_x (delta E / delta rho)
** of one term at the particles, and sets *energy (may be NULL) to the
** term's value coef * E[rho_N] (rho_N = sum_i w_i delta_{x_i}, or its
** kernel density estimate for the terms that need a density).
**
**   wf_interaction   1/2 int int k drho drho      v_i -= coef sum_j w_j grad_1 k(x_i, x_j)
**   wf_entropy_kde   int rho log rho              score of the KDE (bandwidth > 0)
**   wf_power_kde     int rho^m/(m-1)              v = -coef grad(m/(m-1) rho_h^(m-1))
**   wf_mmd           MMD_k(rho, target)^2         v_i -= 2 coef grad(k*rho - k*target)(x_i)
**   wf_sinkhorn      S_eps(rho, target)           v_i -= coef grad(f_{rho,t} - f_{rho,rho})(x_i)
**   wf_w2            1/2 W_2(rho, target)^2       v_i -= coef (x_i - T(x_i)), T the OT map
** The convention for factors is docs/energies.md's.  A kernel is either one
** of kernsum.h's (recognized: ks_sum runs it, exact or within opts->tol) or
** a compiled callback pair(x, y) -> [grad_x k (n), k], summed in blocks on
** the worker pool.  Every sum is added in an order fixed by N, so the
** result does not depend on the thread count.
** Return: 0, or a KS_* / negative error code (wf_strerror).
*/
#ifndef HNN_WFIELD_H
#define HNN_WFIELD_H

#include <stddef.h>

#include "flow.h"
#include "kernsum.h"

/* Statuses: 0, kernsum.h's KS_* (-1 .. -3), or these. */
enum {
  WF_OK = 0,
  WF_EINVAL = KS_EINVAL,
  WF_ENOMEM = KS_ENOMEM,
  WF_ENONFINITE = KS_ENONFINITE,
  WF_ECALLBACK = -10,  /* a compiled kernel callback failed */
  WF_EBANDWIDTH = -11, /* a KDE term without a bandwidth > 0 */
  WF_EDENSITY = -12,   /* the KDE underflowed to 0 at a particle */
  WF_ENOTARGET = -13,  /* a discrepancy term without target points */
  WF_EKERNEL = -14     /* a kernel sum is not finite (a singular kernel at coincident points) */
};

typedef struct wf_kernel {
  int recognized;      /* 1: k = scale * ks kernel (bandwidth h) */
  ks_kind ks;
  double h, scale;
  flow_fn pair;        /* otherwise: in [x, y] (2n), out [grad_x k (n), k] */
} wf_kernel;

typedef struct wf_opts {
  int threads;         /* 0: pool default */
  double tol;          /* kernel sums: 0 exact, > 0 the kernsum.h bound */
  double bandwidth;    /* KDE terms: > 0 */
  double eps;          /* sinkhorn */
} wf_opts;

int wf_interaction(const wf_kernel *k, double coef, int n, size_t N, const double *x, const double *w, double *v,
                   double *energy, const wf_opts *o);
int wf_entropy_kde(double coef, int n, size_t N, const double *x, const double *w, double *v, double *energy,
                   const wf_opts *o);
int wf_power_kde(double coef, double m, int n, size_t N, const double *x, const double *w, double *v, double *energy,
                 const wf_opts *o);
int wf_mmd(const wf_kernel *k, double coef, int n, size_t N, const double *x, const double *w, size_t M,
           const double *y, const double *wy, double *v, double *energy, const wf_opts *o);
int wf_sinkhorn(double coef, int n, size_t N, const double *x, const double *w, size_t M, const double *y,
                const double *wy, double *v, double *energy, const wf_opts *o);
int wf_w2(double coef, int n, size_t N, const double *x, const double *w, size_t M, const double *y,
          const double *wy, double *v, double *energy, const wf_opts *o);

/* The blob versions of the KDE terms: the velocity is the exact gradient
** of the energy estimate they return (wfield.c), so a flow decreases it. */
int wf_entropy_blob(double coef, int n, size_t N, const double *x, const double *w, double *v, double *energy,
                    const wf_opts *o);
int wf_power_blob(double coef, double m, int n, size_t N, const double *x, const double *w, double *v, double *energy,
                  const wf_opts *o);

/* Silverman's rule of thumb for the KDE terms' bandwidth on a cloud:
**     h = sigma (4 / ((n + 2) N))^(1/(n+4)),
** sigma^2 the mean over coordinates of the weighted variances (NaN for N < 2). */
double wf_silverman(int n, size_t N, const double *x, const double *w);
/* The discrepancy terms (wfield_disc.c; docs/ot.md "Discrepancy flows"):
** wf_sinkhorn stops its three problems at the L1 marginal error o->tol, or
** WF_SINKHORN_TOL when o->tol = 0, and needs o->eps > 0 (units of |x - y|^2);
** wf_w2 in n > 1 dimensions solves the exact problem on N M pairs, at most
** WF_W2_EXACT_MAX of them (WF_ETOOBIG beyond: use wf_sinkhorn).  Beside the
** KS_* codes (whose values OT_EINVAL, _ENOMEM and _ENONFINITE share) they
** return OT_ESOLVER (-4, the exact solver failed) and WF_EMAXITER (> 0: a
** Sinkhorn problem hit its iteration cap; v and energy are written but not
** to the tolerance). */
/* MMD_k^2 alone (no gradient: kernels that are not differentiable where
** x = y, such as -|x - y| given as a callback, are fine). */
int wf_mmd_value(const wf_kernel *k, int n, size_t N, const double *x, const double *w, size_t M, const double *y,
                 const double *wy, double *value, const wf_opts *o);
#define WF_SINKHORN_TOL 1e-6
#define WF_W2_EXACT_MAX 4e6
enum { WF_EMAXITER = 1, WF_ESOLVER = -4, WF_ETOOBIG = -5 };

const char *wf_strerror(int status);

#endif
