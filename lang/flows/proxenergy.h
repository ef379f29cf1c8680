/*
** proxenergy.h — what an `energy` adds to the Wasserstein proximal
** recursion, `wasserstein(E, G, eps = e)` (kind_particles.c; derivation in
** docs/prox.md, "Energies"):
**
**   - the local part U (potential and kl terms) as the value and gradient
**     callbacks of the SDE engine, so the particles move as under
**     `wasserstein(U, G, T = ...)` (bit for bit when E is potential(V) +
**     T*entropy);
**   - the entropy coefficient T of E (entropy + kl), which must be > 0;
**   - the nonlocal terms (interaction, mmd, energy_distance): their drift on
**     the particles (wpstep.c's field without the local part and entropy)
**     and their first variation as a potential at the new particles, with
**     the particles as samples of the density (weights 1/N), added to f in
**     the proximal step;
**   - power_entropy(m): its coefficient and exponent for prox_opts (solved
**     per point inside the fixed point, runtime/prox.c) and its drift by
**     the KDE velocity (wfield.h);
**   - the free energy of the cloud with every term.
** sinkhorn and w2 are refused (pe_check says why).
*/
#ifndef HNN_PROXENERGY_H
#define HNN_PROXENERGY_H

#include "energymodel.h"
#include "wpstep.h"

typedef struct pe_model {
  energy_model M;      /* E's terms (owned) */
  energy_model Mnl;    /* the same terms without local part and entropy: the drift */
  wp_model W;          /* the drift of Mnl (its part energies for the monitor) */
  int have_M, have_W;
  int n;
  size_t N;
  double T;            /* the entropy coefficient (> 0) */
  double power_coef, power_m;  /* power_entropy (0: none) */
  int drift;           /* a nonlocal term or power_entropy moves the particles */
  int potential;       /* an interaction, mmd or energy_distance term enters f */
  double *parts, *tmp; /* part energies; N x n scratch */
  double *ws;          /* kernel callbacks' workspace */
  size_t nws;
} pe_model;

/* Check time: E's terms for the proximal recursion on metric G (sinkhorn
** and w2 refused, nonlocal terms only with `euclidean`, one power_entropy,
** an entropy or kl term present).  Returns the number of errors, reported
** at the terms. */
int pe_check(hnn_state *S, sym *E, sym *G, ast *at);

/* Compile stage: build E at dimension n and the callbacks f = U and grad U
** into P (flow_fn_of of V itself when E's local part is one potential(V)
** with coefficient 1, as `wasserstein(V, G, ...)` compiles them).  Checks
** T > 0 (error at `at`).  HNN_OK or an error in S->diags. */
int pe_build(hnn_state *S, sym *E, int n, flow_problem *P, ast *at, pe_model *pm);

/* Run stage: workspaces for N particles; 0 or -1 with a message. */
int pe_init(pe_model *pm, size_t N, char *err, size_t errlen);
void pe_free(pe_model *pm);

/* v (N x n) = the drift of the nonlocal and power_entropy terms at x.
** 0 or -1 with a message. */
int pe_drift(pe_model *pm, const double *x, double *v, char *err, size_t errlen);

/* phi[j] += the first variation of the interaction, mmd and
** energy_distance terms at y_j, the cloud y as samples of the density
** (weights 1/N).  0 or -1 with a message. */
int pe_potential(pe_model *pm, const double *y, double *phi, char *err, size_t errlen);

/* The free energy of the cloud x with density values rho and U values f:
**   (1/N) sum_i (f_i + T log rho_i + c/(m-1) rho_i^(m-1)) + the nonlocal
**   terms' energies of the empirical measure (wfield.h).
** NaN with a message when a term fails. */
double pe_free_energy(pe_model *pm, const double *x, const double *f, const double *rho, char *err, size_t errlen);

#endif
