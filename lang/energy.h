/*
** energy.h — `energy` declarations: a functional of a density written as a
** sum of terms, each a constant coefficient times one piece.
**
**   energy E = potential(V) + interaction(W) + T*entropy + nu*power_entropy(m)
**            + kl(beta) + mmd(k, target) + energy_distance(target)
**            + sinkhorn(target, eps = 0.01) + w2(target)
**
** Conventions (docs/energies.md derives the first variations):
**   potential(V)        int V drho                       delta = V
**   interaction(W)      1/2 int int W(x, y) drho drho     delta = W * rho  (W symmetric)
**   entropy             int rho log rho                  delta = log rho + 1
**   power_entropy(m)    int rho^m / (m - 1), m > 1        delta = m/(m-1) rho^(m-1)
**   kl(beta)            int rho log(rho / beta)          = entropy + potential(-log beta)
**   mmd(k, target)      MMD_k(rho, target)^2             delta = 2 (k * rho - k * target)
**   energy_distance(t)  mmd with k(x, y) = -|x - y|
**   sinkhorn(t, eps)    debiased Sinkhorn divergence S_eps(rho, t)
**   w2(t)               1/2 W_2(rho, t)^2                delta = Kantorovich potential
** A target is a law: csv("points.csv"), normal(mean, var), uniform(lo, hi),
** mixture([w1, ...], law1, ...), or a param matrix of points (one per row);
** `samples = M` draws M points of a law that is not a point set.
**
** This file only checks the declaration's form and the types of what it
** names; coefficients, exponents and laws are evaluated when a flow runs
** (lang/flows/energymodel.c), so -D and hnn_param_set reach them.
*/
#ifndef HNN_ENERGY_H
#define HNN_ENERGY_H

#include "state.h"

typedef enum {
  ENERGY_POTENTIAL,
  ENERGY_INTERACTION,
  ENERGY_ENTROPY,
  ENERGY_POWER,
  ENERGY_KL,
  ENERGY_MMD,
  ENERGY_DISTANCE,     /* energy_distance: MMD with -|x - y| */
  ENERGY_SINKHORN,
  ENERGY_W2
} energy_piece;

typedef struct energy_term {
  energy_piece piece;
  ast *coef;           /* owned scalar expression (a copy), NULL for 1 */
  ast *at;             /* the piece as written (borrowed from the declaration) */
  sym *fn;             /* potential V, kl's beta, interaction / mmd kernel, or NULL */
  ast *exponent;       /* power_entropy: m (borrowed) */
  ast *eps;            /* sinkhorn: eps (borrowed), NULL for the default */
  ast *target;         /* mmd, energy_distance, sinkhorn, w2: the law (borrowed) */
  ast *samples;        /* samples = M (borrowed), or NULL */
} energy_term;

typedef struct energy_decl {
  int nterms;
  energy_term *terms;
  int n;               /* the dimension the named functions fix, 0 when generic */
} energy_decl;

/* Check s's declaration and set s->energy (sema.c calls this). */
int energy_check(hnn_state *S, sym *s);
void energy_decl_free(energy_decl *d);
/* The name of a piece as written in scripts. */
const char *energy_piece_name(energy_piece p);

#endif
