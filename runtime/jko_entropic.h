/*
** jko_entropic.h — the entropic JKO step of Peyre (2015) on 1-D and 2-D
** tensor grids (feature W2):
**   q = argmin_q  W_eps(p, q) / (2 tau) + E(q),
**   W_eps(p, q) = min over couplings pi of (p, q) of <c, pi> + eps sum pi (log pi - 1),
**   c(x, y) = |x - y|^2,  E(q) = <V, q> + T sum q log(q/vol) + nu sum vol (q/vol)^m/(m-1)
** with p, q cell masses (vol the cell volume, q/vol the density).
**
** Dividing by eps/(2 tau), pi minimizes KL(pi | K) + gamma E(pi^T 1) with
** K = exp(-c/eps), gamma = 2 tau/eps, subject to pi 1 = p; the generalized
** Sinkhorn (Dykstra) iteration with pi = diag(a) K diag(b) is
**   b = prox^KL_{gamma E}(K^T a) / K^T a,    a = p / (K b),
** where the KL proximal map is pointwise: closed form for V and T, one
** monotone scalar Newton solve per cell with nu.  Everything runs on log
** potentials (alpha = log a, beta = log b): a kernel application is a
** log-sum-exp, and K is separable on a tensor grid, so it is one 1-D
** log-sum-exp per grid line and direction, never an M x M matrix (O(M n)
** work for M cells and n cells a side).
** The iteration stops on the violation of the first marginal,
** sum |a K b - p| <= tol sum p, then makes a last a-update, so the returned
** q = b K^T a has the mass of p to rounding.
*/
#ifndef HNN_JKO_ENTROPIC_H
#define HNN_JKO_ENTROPIC_H

#include <stddef.h>

#include "flow.h"
#include "fv.h"

typedef struct jko_ent_problem {
  fv_grid grid;        /* cells, as for fv.h */
  flow_fn V;           /* V(x) (dim values -> 1); fn NULL: 0 */
  double T, nu, m;     /* T >= 0, nu >= 0, m > 1 when nu > 0 */
  double eps;          /* > 0 */
  int max_iter;        /* 0: 100000 */
  double tol;          /* 0: 1e-9 */
  int threads;         /* 0: pool_max_threads() */
} jko_ent_problem;

typedef struct jko_ent_info {
  long iterations;     /* Sinkhorn iterations of the last step */
  double violation;    /* the first-marginal violation when it stopped */
} jko_ent_info;

typedef struct jko_ent jko_ent;

jko_ent *jko_ent_new(const jko_ent_problem *p, char *msg, size_t len);
void jko_ent_free(jko_ent *J);

/* One step from masses p (>= 0, sum > 0) into q (may alias p).  The
** potentials of the previous step start the iteration (warm start).
** Returns 0, 2 for bad arguments, 3 when the iteration does not reach tol
** in max_iter iterations or meets a non-finite value (msg). */
int jko_ent_step(jko_ent *J, const double *p, double tau, double *q, jko_ent_info *info, char *msg, size_t len);

/* E(q) of masses q (the discrete energy above). */
double jko_ent_energy(const jko_ent *J, const double *q);

#endif
