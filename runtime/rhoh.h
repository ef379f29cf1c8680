/*
** rhoh.h — two-layer networks in the (rho, H) formulation (source 003,
** Section 3.2-3.3): a network u(x) = int H(theta) h(theta, x) rho(dtheta)
** fitted to f on data x_j with weights q_j (sum 1), energy
**   G(rho, H) = 1/2 sum_j q_j (u(x_j) - f(x_j))^2 + lambda/2 int (H^2 + |theta|^2) drho   (3.12, 3.15)
** With r_j = u(x_j) - f(x_j) and g(theta) = L(rho, H)(theta) + S(theta)
** = sum_j q_j h(theta, x_j) r_j (3.14, 3.18), the three evolutions are
**   separated   (3.19)  rho_t = div(rho v), v = -grad(H g) - lambda (H grad H + theta)
**                       H_t = -g - lambda H
**   transported (3.21)  rho_t + div(rho v) = 0, the same v (3.22),
**                       H_t + v . grad H = -g - lambda H
**   chaos       (3.23)  rho_t + div(rho w) = 0, w = -H grad g - lambda theta (3.24),
**                       H_t + w . grad H = -g - lambda H
** (the sign of lambda H in 3.21 is a misprint of 003: it is -lambda H, the
** L2 gradient of the potential, as in 3.19).  Proposition 3.3: along chaos,
**   dG/dt = -int |w|^2 drho - int (g + lambda H)^2 drho,
** and along separated the same with v for w; transported dissipates in
** general no such way (003 says so), its energy is only monitored.
**
** Two discretizations:
**  - a 1-D grid in theta (M cells on [lo, hi], no-flux walls): upwind finite
**    volumes for rho (mass kept to rounding, rho >= 0 under the CFL bound
**    dt max|v| <= h/2, which rhoh_grid_step enforces by substeps), upwind
**    differences for the transport of H; first order in dt and h;
**  - particles for chaos, theta in R^d: (theta_i, H_i) with weights 1/N move
**    by w and dH/dt (Heun's method, second order) — the mean-field particle
**    system of the mu-formulation (3.7), of which chaos is the (rho, H) form.
*/
#ifndef HNN_RHOH_H
#define HNN_RHOH_H

#include <stddef.h>

#include "flow.h"

typedef enum { RHOH_SEPARATED = 0, RHOH_TRANSPORTED = 1, RHOH_CHAOS = 2 } rhoh_form;

typedef struct rhoh_data {
  int nx;              /* data points */
  const double *q;     /* their weights (sum 1) */
  const double *f;     /* the target at them */
  double lambda;       /* >= 0 */
} rhoh_data;

typedef struct rhoh_monitor {
  double G;            /* energy */
  double loss;         /* 1/2 sum_j q_j r_j^2 */
  double mass;         /* int rho (grid), 1 (particles) */
  double dissipation;  /* -dG/dt predicted by Prop 3.3 (chaos, separated); for
                       ** transported the same expression, which bounds nothing */
  double mean_H;       /* int H drho */
} rhoh_monitor;

/* ---------------------------------------------------------------- grid */

typedef struct rhoh_grid rhoh_grid;

/* hv, hd: h(theta_a, x_j) and dh/dtheta (theta_a, x_j) at the M cell
** centres (row a, column j), copied.  rho0 (M density values, normalized
** here to mass 1) and H0 (M values). NULL with msg on bad input. */
rhoh_grid *rhoh_grid_new(rhoh_form form, const rhoh_data *d, int M, double lo, double hi, const double *hv,
                         const double *hd, const double *rho0, const double *H0, char *msg, size_t len);
void rhoh_grid_free(rhoh_grid *g);
/* Advance by dt (in substeps within the CFL bound); 0, or -1 with msg when
** a value is not finite. */
int rhoh_grid_step(rhoh_grid *g, double dt, char *msg, size_t len);
void rhoh_grid_monitor(rhoh_grid *g, rhoh_monitor *m);
const double *rhoh_grid_rho(const rhoh_grid *g);
const double *rhoh_grid_H(const rhoh_grid *g);
double rhoh_grid_center(const rhoh_grid *g, int a);
long rhoh_grid_substeps(const rhoh_grid *g);

/* ----------------------------------------------------------- particles */

/* act(in = [theta (d), x (n)], out = [dh/dtheta (d), h]) */
typedef struct rhoh_particles rhoh_particles;

rhoh_particles *rhoh_particles_new(const rhoh_data *d, int dim, int n, const double *x, flow_fn act, size_t N,
                                   const double *theta0, const double *H0, char *msg, size_t len);
void rhoh_particles_free(rhoh_particles *p);
int rhoh_particles_step(rhoh_particles *p, double h, char *msg, size_t len);
void rhoh_particles_monitor(rhoh_particles *p, rhoh_monitor *m);
const double *rhoh_particles_theta(const rhoh_particles *p);
const double *rhoh_particles_H(const rhoh_particles *p);

#endif
