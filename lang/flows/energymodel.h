/*
** energymodel.h — an `energy` declaration (lang/energy.h) made ready for
** an engine: coefficients, exponents and targets evaluated, callbacks
** compiled.  Every flow of an energy (particles, Langevin, grids) starts
** here, so a density flow and a particle flow of one energy are two runs
** of one script with the same terms.
**
** The local part of the first variation, every potential and kl term
** together, is one compiled callback:
**     U(x) = sum_k c_k V_k(x) - sum_j c_j log beta_j(x)
**     local(in = x[n], out = [grad U(x) (n values), U(x)])
** (a kl(beta) term contributes c_j to the entropy coefficient as well:
** kl(beta) = entropy - int log beta drho).  The other terms stay terms.
*/
#ifndef HNN_ENERGYMODEL_H
#define HNN_ENERGYMODEL_H

#include <stdint.h>

#include "energy.h"
#include "flow.h"
#include "state.h"
#include "wfield.h"


typedef struct em_term {
  energy_piece piece;  /* ENERGY_INTERACTION, _POWER, _MMD, _DISTANCE, _SINKHORN, _W2 */
  double coef;
  double m;            /* ENERGY_POWER: the exponent, > 1 */
  double eps;          /* ENERGY_SINKHORN: the blur, > 0 */
  sym *k;              /* ENERGY_INTERACTION, ENERGY_MMD: the kernel declared */
  wf_kernel kernel;    /* ... and compiled: pair is grad_x then value of k(x, y),
                       ** in = [x (n), y (n)]; recognized when it is a kernsum.h kernel */
  int ntarget;         /* targets: points (ntarget x n) and weights (sum 1) */
  double *target, *target_w;
  const energy_term *decl;
} em_term;

typedef struct energy_model {
  int n;               /* dimension of a point */
  int has_local;       /* a potential or kl term is present */
  flow_fn local;       /* see above */
  double entropy;      /* total coefficient of int rho log rho (entropy + kl terms) */
  int nterms;          /* the nonlocal terms */
  em_term *terms;
} energy_model;

/* Evaluate E's coefficients and targets and compile its callbacks at
** dimension n (inside a flow's compile stage: the callbacks are filled when
** the stage's JIT batch ends).  Targets are drawn from streams of the
** state's seed and the term's index.  HNN_OK or an error in S->diags. */
int energy_model_build(hnn_state *S, sym *E, int n, energy_model *M);
void energy_model_free(energy_model *M);

/* A declared kernel k compiled at dimension n as a pair callback
** (in [x, y], out [grad_x k (n), k]), as the terms' kernels are; for the
** mmd builtin of expressions (lang/distexpr.c). */
int energy_model_kernel(hnn_state *S, sym *k, int n, flow_fn *out);

/* The dimension E's declarations fix (0: any; then the run's start says). */
int energy_model_dim(const sym *E);

#endif
