/*
** gibbs.h — the Gibbs density rho(x) = exp(-f(x)/T) / Z of source 000 (47)
** on a box, its partition function Z, cell probabilities, a histogram
** goodness-of-fit test (used to check the diffusion machine), and the
** particle estimate of the free energy (51).
**
** Z by tensor quadrature (Gauss-Legendre panels from gsl_integration_glfixed,
** or composite Simpson) up to a few dimensions, Monte Carlo (uniform samples,
** with a standard error) beyond.  All sums are done in log space (shifted by
** the running maximum of -f/T), so Z may under- or overflow a double.
** Depends on flow.h (the callback f), rng.h, GSL.
*/
#ifndef HNN_GIBBS_H
#define HNN_GIBBS_H

#include <stddef.h>
#include <stdint.h>
#include "flow.h"

typedef enum {
  GIBBS_AUTO = 0,      /* Gauss-Legendre for n <= 2, Monte Carlo beyond */
  GIBBS_GL = 1,        /* composite Gauss-Legendre, tensor grid */
  GIBBS_SIMPSON = 2,   /* composite Simpson, tensor grid */
  GIBBS_MC = 3         /* uniform Monte Carlo on the box */
} gibbs_method;

typedef struct gibbs_opts {
  gibbs_method method;
  int panels;          /* per axis (GL panels, Simpson: pairs of intervals) */
  int nodes;           /* GL nodes per panel */
  long samples;        /* Monte Carlo samples */
  uint64_t seed;       /* Monte Carlo master seed (stream rng_stream(seed, RNG_RUN, 0)) */
  long max_evals;      /* refuse tensor grids larger than this */
} gibbs_opts;

typedef struct gibbs_z {
  double logZ;         /* log of Z = integral over the box of exp(-f/T) */
  double log_se;       /* Monte Carlo: standard error of log Z (= relative
                       ** standard error of Z to first order); 0 for quadrature */
  long evals;          /* evaluations of f */
  gibbs_method method; /* the method used (never GIBBS_AUTO) */
} gibbs_z;

enum { GIBBS_OK = 0, GIBBS_EINVAL = -1, GIBBS_ENOMEM = -2, GIBBS_ECALLBACK = -3 };

/* panels 8, nodes 8, samples 1e6, seed 1, max_evals 1e8, AUTO */
void gibbs_opts_default(gibbs_opts *o);

/* Z of exp(-f/T) on the box [lo, hi] (finite).  p->f is required.  err may
** be NULL. */
int gibbs_partition(const flow_problem *p, double T, const double *lo, const double *hi,
                    const gibbs_opts *o, gibbs_z *z, char *err, size_t errlen);

/* log rho(x) = -f(x)/T - log Z.  ws: flow_problem_nwork(p) + n doubles. */
int gibbs_log_density(const flow_problem *p, double T, double logZ, const double *x, double *ws,
                      double *out);

/* log of the integral of exp(-f/T) over the box [lo, hi] by the tensor rule
** (GIBBS_GL or GIBBS_SIMPSON) with the given panels and nodes per axis. */
int gibbs_log_integral(const flow_problem *p, double T, const double *lo, const double *hi,
                       gibbs_method rule, int panels, int nodes, double *out, long *evals);

/* Chi-square goodness of fit of a particle cloud x (N x n) to the Gibbs
** density on the box [lo, hi]: bins per axis; dim < 0 uses the full grid of
** bins^n cells, dim = k the marginal of coordinate k (0-based).  Expected
** cell probabilities by Gauss-Legendre (4 panels x 8 nodes per axis per
** cell), normalized over the grid; cells with an expected count < 5 are
** pooled into one cell.  A particle outside the box is an error. */
typedef struct gibbs_gof {
  double chi2;
  int df;              /* cells used - 1 */
  double pvalue;       /* P(chi2_df >= chi2) */
  int cells;           /* cells used (after pooling) */
  int pooled;          /* cells pooled */
  double max_z;        /* largest |observed - expected| / sqrt(expected) */
} gibbs_gof;

int gibbs_gof_hist(const flow_problem *p, double T, const double *lo, const double *hi, int bins,
                   int dim, int N, const double *x, gibbs_gof *g, char *err, size_t errlen);

/* Free energy (51) of a weighted point cloud: F = sum_i w_i (f_i + T log rho_i),
** w NULL meaning w_i = 1/N (particles as samples of rho).  -inf if some
** rho_i = 0.  At the Gibbs density F = -T log Z. */
double gibbs_free_energy(size_t N, const double *f, const double *rho, const double *w, double T);

#endif
