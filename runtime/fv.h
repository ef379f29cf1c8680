/*
** fv.h — densities on grids: the finite-volume scheme of Carrillo, Chertock
** and Huang (2015) for the gradient flow d rho/dt = div(rho G^-1 grad xi) of
**   E[rho] = int V rho + 1/2 int int W(x - y) rho(x) rho(y)
**          + T int rho log rho + nu int rho^m / (m - 1),
**   xi = delta E / delta rho = V + W * rho + T (log rho + 1) + nu m/(m-1) rho^(m-1),
** on 1-D and 2-D tensor grids with no-flux boundaries (features W1, W3; the
** Fokker-Planck equation of the diffusion machine, 000 eq. 49, is the case
** V = f, W = 0, nu = 0 with the mobility G^-1 of the activations).
**
** The scheme: cell averages rho_i; at each interior face the velocity
** u = -G^-1 (xi_{i+1} - xi_i)/h and the upwind flux F = u+ rho_i + u- rho_{i+1}
** (u+ = max(u, 0), u- = min(u, 0)).  This is CCH with the piecewise-constant
** reconstruction (first order in space); fv_options.order 2 takes the
** piecewise-linear minmod reconstruction instead (second order, fv.c).
** Time: implicit Euler, with u taken
** at the NEW density (fully implicit), solved by Newton (tridiagonal
** Jacobian; the nonlocal W * rho term is left out of the Jacobian, so with
** W the iteration converges linearly).  In 2-D each step is two implicit
** sweeps, x then y (the order alternates between steps), each a fully
** implicit step of the fluxes of one direction, so a Newton iteration is a
** set of independent tridiagonal solves, one per grid line.
**
** What holds for every dt (no CFL or parabolic limit, unlike explicit CCH,
** which needs dt <= h/(2 max|u|) and dt <= h^2/(4 max rho H''(rho))):
**  - mass: the update is in conservation form and the last Newton step is a
**    full additive step, whose increments sum to minus the residuals, so
**    mass is kept to rounding;
**  - positivity: for frozen u the implicit system is a column diagonally
**    dominant M-matrix, so every solution is >= 0 (> 0 where rho was > 0);
**  - energy: E(rho') - E(rho) <= <xi(rho'), rho' - rho> - 1/2 <W*d, d>
**    (d = rho' - rho; V linear, entropies convex) and <xi(rho'), rho' - rho>
**    = -dt sum_faces h^(dim-1) g u F <= 0 since u F >= 0: the discrete
**    energy never increases when W is a positive semi-definite kernel (or
**    absent); for other W the increase is at most 1/2 |<W*d, d>| = O(dt^2).
** What dt still controls: the accuracy (first order), and Newton's
** convergence: a step whose Newton iteration fails is split in halves.
*/
#ifndef HNN_FV_H
#define HNN_FV_H

#include <stddef.h>

#include "flow.h"

/* A tensor grid of cells: dim = 1 or 2, n[d] cells on [lo[d], hi[d]]
** (n[1] = 1 and lo/hi[1] ignored when dim = 1).  Cells are stored with x
** fastest: cell (i, j) is rho[j * n[0] + i]. */
typedef struct fv_grid {
  int dim;
  int n[2];
  double lo[2], hi[2];
} fv_grid;

/* The problem: callbacks with the hnn ABI (flow.h), each evaluated once per
** cell or face when the solver is made (the energy does not depend on t).
**   V(x)   : in = x (dim values) -> 1 value; fn NULL: V = 0
**   W(z)   : in = z = x - y (dim values) -> 1 value, even in z; fn NULL: none
**   mob(x) : in = x -> dim values, the diagonal of G^-1(x) (> 0 inside the
**            domain, may vanish on its boundary); fn NULL: 1 */
typedef struct fv_problem {
  fv_grid grid;
  flow_fn V, W, mob;
  double T;            /* >= 0 */
  double nu, m;        /* nu >= 0; m > 1 when nu > 0 */
} fv_problem;

typedef struct fv_options {
  int max_newton;      /* Newton iterations per sweep (0: 60) */
  double tol;          /* stop when a full Newton step moves no cell by more
                       ** than tol * max rho (0: 1e-12) */
  int max_halvings;    /* a failed sweep is split in halves up to this depth (0: 24) */
  int threads;         /* 0: pool_max_threads() */
  int order;           /* 2: second order in space, the piecewise-linear
                       ** reconstruction of CCH with minmod slopes (theta = 2)
                       ** along each sweep; 0 or 1: piecewise constant */
} fv_options;

typedef struct fv_monitors {
  double mass;         /* int rho */
  double energy;       /* E[rho], the discrete sum */
  double potential, interaction, entropy, power;   /* its parts: int V rho,
                       ** 1/2 int W*rho rho, int rho log rho, int rho^m/(m-1)
                       ** (the last two without T and nu) */
  double mean[2];      /* int x rho / mass */
  double second_moment;/* int |x|^2 rho (cell centres) */
  double min;          /* min rho */
} fv_monitors;

typedef struct fv_stats {
  long steps;          /* fv_step calls that succeeded */
  long sweeps;         /* implicit sweeps solved (halved ones counted each) */
  long newton;         /* Newton iterations */
  long halvings;       /* sweeps split because Newton failed */
} fv_stats;

typedef struct fv_solver fv_solver;

/* Make a solver for p (copied) from the start density rho0 (cells as in
** fv_grid, values >= 0, > 0 everywhere when T > 0).  o may be NULL
** (defaults).  Returns NULL with msg filled on bad input or a non-finite
** callback value (naming the cell). */
fv_solver *fv_new(const fv_problem *p, const fv_options *o, const double *rho0, char *msg, size_t len);
void fv_free(fv_solver *s);

/* One implicit step of size dt > 0.  Returns 0, 2 for dt <= 0, 3 when Newton
** fails after max_halvings halvings or a value is not finite (msg says
** where); on failure the density is left as before the step. */
int fv_step(fv_solver *s, double dt, char *msg, size_t len);

const double *fv_density(const fv_solver *s);
double fv_time(const fv_solver *s);
const fv_grid *fv_grid_of(const fv_solver *s);
const fv_stats *fv_stats_of(const fv_solver *s);

/* Monitors of the solver's density, or of any density rho on its grid. */
void fv_monitor(const fv_solver *s, fv_monitors *m);
void fv_monitor_of(const fv_solver *s, const double *rho, fv_monitors *m);

/* Centre of cell i along dimension d, and the cell width. */
double fv_center(const fv_grid *g, int d, int i);
double fv_width(const fv_grid *g, int d);

/* Receives every output point; nonzero stops the run (status 3). */
typedef int (*fv_emit)(void *ctx, double t, long step, const double *rho, const fv_monitors *m);

/* Steps of dt from the current time to t_end (the last one shortened to land
** on t_end), emitting the start, every out_dt (<= 0: only the start and the
** end) and the end; tick (may be NULL) every FLOW_TICK_STEPS steps.
** Returns 0, 2 for bad arguments, 3 on failure (msg). */
int fv_run(fv_solver *s, double t_end, double dt, double out_dt, fv_emit emit, void *ctx,
           flow_tick tick, void *tick_ctx, char *msg, size_t len);

/* W2 distance between two 1-D piecewise-constant densities, ra on na cells
** of [la, ha] and rb on nb cells of [lb, hb], each normalized to mass 1:
** the exact integral of (Qa - Qb)^2 over s in [0, 1] (quantile functions
** are piecewise linear).  Returns NAN when a density has no mass or a
** negative or non-finite value. */
double fv_w2_1d(int na, double la, double ha, const double *ra, int nb, double lb, double hb, const double *rb);

#endif
