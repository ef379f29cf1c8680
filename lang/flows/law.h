/*
** law.h — probability laws written in scripts: where a particle run starts
** (`run ... from LAW`) and the targets of energies (energy.h).
**
**   uniform([a, b]^n)   uniform(lo, hi)       corners as vectors
**   normal(mean, var)   var: variances (a vector) or a covariance matrix
**   csv("points.csv")   a point set, one point per row
**   P                   a param matrix: a point set, one point per row
**   mixture([w1, ..., wK], law1, ..., lawK)   of uniform and normal laws
** Draws are made with the caller's stream in a fixed order, so one seed
** gives the same points everywhere.
*/
#ifndef HNN_LAW_H
#define HNN_LAW_H

#include <gsl/gsl_rng.h>

#include "state.h"

typedef enum { LAW_UNIFORM, LAW_NORMAL, LAW_POINTS, LAW_MIXTURE } flow_law_kind;

typedef struct flow_law {
  flow_law_kind kind;
  int n, npoints;
  double *a, *b;             /* uniform: corners; normal: mean, covariance (n x n) */
  double *chol;              /* normal: the lower Cholesky factor of the covariance */
  double logdet;             /* normal: log det C */
  double volume;             /* uniform: the box's volume */
  double *points;            /* LAW_POINTS: npoints x n */
  int ncomp;                 /* LAW_MIXTURE: components and their weights (sum 1) */
  struct flow_law *comp;
  double *weight;
} flow_law;

/* Read a law, evaluating its pieces; errors at e's location.  `what` names
** it in messages ("a particle run starts from", "a target is"). */
int law_read(hnn_state *S, ast *e, const char *what, flow_law *L);
/* Draw N points into x (N x n); rho (may be NULL) gets the density at them
** (1 for point sets, whose density is unknown). */
void law_sample(const flow_law *L, int N, gsl_rng *r, double *x, double *rho);
/* The density at x (not for point sets). */
double law_density(const flow_law *L, const double *x);
void law_free(flow_law *L);

#endif
