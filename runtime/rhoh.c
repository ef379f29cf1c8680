/*
** rhoh.c — the (rho, H) evolutions of rhoh.h on a 1-D grid and on particles.
*/
#include "rhoh.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n, size_t s) {
  void *p = calloc(n ? n : 1, s);
  if (!p) abort();
  return p;
}

static int check_data(const rhoh_data *d, char *msg, size_t len) {
  double qs = 0;
  if (d->nx < 1 || !(d->lambda >= 0) || !isfinite(d->lambda)) {
    snprintf(msg, len, "the data need at least one point and lambda >= 0");
    return -1;
  }
  for (int j = 0; j < d->nx; j++) {
    if (!(d->q[j] >= 0) || !isfinite(d->f[j])) {
      snprintf(msg, len, "data point %d: a weight < 0 or a target value that is not finite", j + 1);
      return -1;
    }
    qs += d->q[j];
  }
  if (fabs(qs - 1) > 1e-12) {
    snprintf(msg, len, "the data weights must sum to 1 (they sum to %.17g)", qs);
    return -1;
  }
  return 0;
}

/* dst = src with its own copies of the weights and targets. */
static void copy_data(rhoh_data *dst, const rhoh_data *src, double **q, double **f) {
  *dst = *src;
  *q = xcalloc((size_t)src->nx, sizeof **q);
  *f = xcalloc((size_t)src->nx, sizeof **f);
  memcpy(*q, src->q, (size_t)src->nx * sizeof **q);
  memcpy(*f, src->f, (size_t)src->nx * sizeof **f);
  dst->q = *q;
  dst->f = *f;
}

/* r_j = u(x_j) - f(x_j) with u(x_j) = sum_a c_a hv[a, j]; the loss. */
static double residual(const rhoh_data *d, int M, const double *c, const double *hv, double *r) {
  double loss = 0;
  for (int j = 0; j < d->nx; j++) r[j] = -d->f[j];
  for (int a = 0; a < M; a++) {
    if (c[a] == 0) continue;
    const double *row = hv + (size_t)a * d->nx;
    for (int j = 0; j < d->nx; j++) r[j] += c[a] * row[j];
  }
  for (int j = 0; j < d->nx; j++) loss += 0.5 * d->q[j] * r[j] * r[j];
  return loss;
}

static double project(const rhoh_data *d, const double *row, const double *r) {
  double s = 0;
  for (int j = 0; j < d->nx; j++) s += d->q[j] * row[j] * r[j];
  return s;
}

/* ================================================================ grid */

struct rhoh_grid {
  rhoh_form form;
  rhoh_data d;
  double *q, *f;
  int M;
  double lo, h;
  double *hv, *hd;          /* M x nx */
  double *rho, *H;
  double *c, *r, *g, *gp;   /* rho H h per cell, residuals, g and dg/dtheta per cell */
  double *vf, *vc, *flux;   /* face and cell velocities, face fluxes */
  long substeps;
};

double rhoh_grid_center(const rhoh_grid *g, int a) { return g->lo + (a + 0.5) * g->h; }
const double *rhoh_grid_rho(const rhoh_grid *g) { return g->rho; }
const double *rhoh_grid_H(const rhoh_grid *g) { return g->H; }
long rhoh_grid_substeps(const rhoh_grid *g) { return g->substeps; }

rhoh_grid *rhoh_grid_new(rhoh_form form, const rhoh_data *d, int M, double lo, double hi, const double *hv,
                         const double *hd, const double *rho0, const double *H0, char *msg, size_t len) {
  if (check_data(d, msg, len)) return NULL;
  if (M < 3 || !(lo < hi) || !isfinite(lo) || !isfinite(hi)) {
    snprintf(msg, len, "a grid needs at least 3 cells and lo < hi");
    return NULL;
  }
  size_t T = (size_t)M * d->nx;
  for (size_t k = 0; k < T; k++)
    if (!isfinite(hv[k]) || !isfinite(hd[k])) {
      snprintf(msg, len, "the activation or its derivative is not finite at theta = %g", lo + ((double)(k / d->nx) + 0.5) * (hi - lo) / M);
      return NULL;
    }
  double mass = 0, h = (hi - lo) / M;
  for (int a = 0; a < M; a++) {
    if (!(rho0[a] >= 0) || !isfinite(rho0[a]) || !isfinite(H0[a])) {
      snprintf(msg, len, "the start is negative or not finite in cell %d", a + 1);
      return NULL;
    }
    mass += rho0[a] * h;
  }
  if (!(mass > 0)) {
    snprintf(msg, len, "the start has no mass on the grid");
    return NULL;
  }
  rhoh_grid *g = xcalloc(1, sizeof *g);
  g->form = form;
  copy_data(&g->d, d, &g->q, &g->f);
  g->M = M;
  g->lo = lo;
  g->h = h;
  g->hv = xcalloc(T, sizeof *g->hv);
  g->hd = xcalloc(T, sizeof *g->hd);
  memcpy(g->hv, hv, T * sizeof *hv);
  memcpy(g->hd, hd, T * sizeof *hd);
  g->rho = xcalloc((size_t)M, sizeof *g->rho);
  g->H = xcalloc((size_t)M, sizeof *g->H);
  for (int a = 0; a < M; a++) g->rho[a] = rho0[a] / mass, g->H[a] = H0[a];
  g->c = xcalloc((size_t)M, sizeof *g->c);
  g->r = xcalloc((size_t)d->nx, sizeof *g->r);
  g->g = xcalloc((size_t)M, sizeof *g->g);
  g->gp = xcalloc((size_t)M, sizeof *g->gp);
  g->vf = xcalloc((size_t)M + 1, sizeof *g->vf);
  g->vc = xcalloc((size_t)M, sizeof *g->vc);
  g->flux = xcalloc((size_t)M + 1, sizeof *g->flux);
  return g;
}

void rhoh_grid_free(rhoh_grid *g) {
  if (!g) return;
  free(g->q), free(g->f), free(g->hv), free(g->hd), free(g->rho), free(g->H);
  free(g->c), free(g->r), free(g->g), free(g->gp), free(g->vf), free(g->vc), free(g->flux);
  free(g);
}

/* Residuals, g, g' and the velocities at faces (vf[a] between cells a-1
** and a; vf[0] = vf[M] = 0: no flux through the walls) and cells.  The
** loss is returned. */
static double grid_fields(rhoh_grid *g) {
  int M = g->M, nx = g->d.nx;
  double lam = g->d.lambda, h = g->h;
  for (int a = 0; a < M; a++) g->c[a] = g->rho[a] * h * g->H[a];
  double loss = residual(&g->d, M, g->c, g->hv, g->r);
  for (int a = 0; a < M; a++) {
    g->g[a] = project(&g->d, g->hv + (size_t)a * nx, g->r);
    g->gp[a] = project(&g->d, g->hd + (size_t)a * nx, g->r);
  }
  if (g->form == RHOH_CHAOS) {
    for (int a = 0; a < M; a++) g->vc[a] = -g->H[a] * g->gp[a] - lam * rhoh_grid_center(g, a);
    for (int a = 1; a < M; a++) g->vf[a] = 0.5 * (g->vc[a - 1] + g->vc[a]);
  } else {
    /* v = -d/dtheta (H g) - lambda (d/dtheta (H^2/2) + theta), differenced across the face */
    for (int a = 1; a < M; a++) {
      double dHg = (g->H[a] * g->g[a] - g->H[a - 1] * g->g[a - 1]) / h;
      double dH2 = 0.5 * (g->H[a] * g->H[a] - g->H[a - 1] * g->H[a - 1]) / h;
      g->vf[a] = -dHg - lam * (dH2 + g->lo + a * h);
    }
    for (int a = 0; a < M; a++) {
      double l = a > 0 ? g->vf[a] : g->vf[a + 1], rr = a < M - 1 ? g->vf[a + 1] : g->vf[a];
      g->vc[a] = 0.5 * (l + rr);
    }
  }
  g->vf[0] = g->vf[M] = 0;
  return loss;
}

static int grid_substep(rhoh_grid *g, double dt) {
  int M = g->M;
  double h = g->h, lam = g->d.lambda;
  for (int a = 1; a < M; a++) {
    double v = g->vf[a];
    g->flux[a] = v > 0 ? v * g->rho[a - 1] : v * g->rho[a];
  }
  g->flux[0] = g->flux[M] = 0;
  /* H first, with the velocities of the old density */
  for (int a = 0; a < M; a++) {
    double dH = -g->g[a] - lam * g->H[a];
    if (g->form != RHOH_SEPARATED) {
      double v = g->vc[a], grad;
      if (v > 0) grad = a > 0 ? (g->H[a] - g->H[a - 1]) / h : 0;
      else grad = a < M - 1 ? (g->H[a + 1] - g->H[a]) / h : 0;
      dH -= v * grad;
    }
    g->c[a] = dH;   /* reused as the increment of H */
  }
  for (int a = 0; a < M; a++) {
    g->H[a] += dt * g->c[a];
    g->rho[a] -= dt / h * (g->flux[a + 1] - g->flux[a]);
    if (g->rho[a] < 0) g->rho[a] = 0;   /* rounding only: the CFL bound keeps it >= 0 */
    if (!isfinite(g->H[a]) || !isfinite(g->rho[a])) return -1;
  }
  return 0;
}

int rhoh_grid_step(rhoh_grid *g, double dt, char *msg, size_t len) {
  double done = 0;
  while (done < dt) {
    grid_fields(g);
    double vmax = 0;
    for (int a = 0; a <= g->M; a++) vmax = fmax(vmax, fabs(g->vf[a]));
    for (int a = 0; a < g->M; a++) vmax = fmax(vmax, fabs(g->vc[a]));
    double sub = dt - done, cfl = 0.5 * g->h / (vmax > 0 ? vmax : 1e-300);
    if (sub > cfl) sub = cfl;
    if (!(sub > 0) || !isfinite(vmax)) {
      snprintf(msg, len, "the velocity is not finite");
      return -1;
    }
    if (grid_substep(g, sub)) {
      snprintf(msg, len, "a value is not finite after a substep");
      return -1;
    }
    done += sub;
    g->substeps++;
    if (dt - done < 1e-14 * dt) break;
  }
  return 0;
}

void rhoh_grid_monitor(rhoh_grid *g, rhoh_monitor *m) {
  double loss = grid_fields(g), h = g->h, lam = g->d.lambda;
  double pot = 0, mass = 0, dis = 0, mh = 0;
  for (int a = 0; a < g->M; a++) {
    double w = g->rho[a] * h, th = rhoh_grid_center(g, a), dH = g->g[a] + lam * g->H[a];
    mass += w;
    pot += w * 0.5 * lam * (g->H[a] * g->H[a] + th * th);
    dis += w * (g->vc[a] * g->vc[a] + dH * dH);
    mh += w * g->H[a];
  }
  m->loss = loss;
  m->G = loss + pot;
  m->mass = mass;
  m->dissipation = dis;
  m->mean_H = mh;
}

/* =========================================================== particles */

struct rhoh_particles {
  rhoh_data d;
  double *q, *f;
  int dim, n;
  double *x;                /* nx x n */
  flow_fn act;
  double *ws, *in, *out;
  size_t N;
  double *theta, *H;
  double *hv, *hd;          /* N x nx, N x nx x dim */
  double *c, *r;
  double *k1t, *k1H, *k2t, *k2H, *t1, *H1;
  int k1_current;           /* k1 holds the right-hand side at (theta, H): the monitor computed it */
};

const double *rhoh_particles_theta(const rhoh_particles *p) { return p->theta; }
const double *rhoh_particles_H(const rhoh_particles *p) { return p->H; }

rhoh_particles *rhoh_particles_new(const rhoh_data *d, int dim, int n, const double *x, flow_fn act, size_t N,
                                   const double *theta0, const double *H0, char *msg, size_t len) {
  if (check_data(d, msg, len)) return NULL;
  if (dim < 1 || n < 1 || N < 1) {
    snprintf(msg, len, "particles need a dimension >= 1 and N >= 1");
    return NULL;
  }
  rhoh_particles *p = xcalloc(1, sizeof *p);
  copy_data(&p->d, d, &p->q, &p->f);
  p->dim = dim;
  p->n = n;
  p->x = xcalloc((size_t)d->nx * n, sizeof *p->x);
  memcpy(p->x, x, (size_t)d->nx * n * sizeof *p->x);
  p->act = act;
  p->ws = xcalloc(act.nwork + 1, sizeof *p->ws);
  p->in = xcalloc((size_t)(dim + n), sizeof *p->in);
  p->out = xcalloc((size_t)dim + 1, sizeof *p->out);
  p->N = N;
  p->theta = xcalloc(N * dim, sizeof *p->theta);
  p->H = xcalloc(N, sizeof *p->H);
  memcpy(p->theta, theta0, N * dim * sizeof *p->theta);
  memcpy(p->H, H0, N * sizeof *p->H);
  p->hv = xcalloc(N * d->nx, sizeof *p->hv);
  p->hd = xcalloc(N * d->nx * dim, sizeof *p->hd);
  p->c = xcalloc(N, sizeof *p->c);
  p->r = xcalloc((size_t)d->nx, sizeof *p->r);
  p->k1t = xcalloc(N * dim, sizeof(double));
  p->k2t = xcalloc(N * dim, sizeof(double));
  p->t1 = xcalloc(N * dim, sizeof(double));
  p->k1H = xcalloc(N, sizeof(double));
  p->k2H = xcalloc(N, sizeof(double));
  p->H1 = xcalloc(N, sizeof(double));
  return p;
}

void rhoh_particles_free(rhoh_particles *p) {
  if (!p) return;
  free(p->q), free(p->f), free(p->x), free(p->ws), free(p->in), free(p->out), free(p->theta), free(p->H);
  free(p->hv), free(p->hd), free(p->c), free(p->r);
  free(p->k1t), free(p->k2t), free(p->t1), free(p->k1H), free(p->k2H), free(p->H1);
  free(p);
}

/* The velocities (dtheta, dH) at (theta, H); the loss. -1 when the
** activation fails or is not finite. */
static int particle_rhs(rhoh_particles *p, const double *theta, const double *H, double *dt, double *dH, double *loss) {
  int nx = p->d.nx, dim = p->dim, n = p->n;
  size_t N = p->N;
  double lam = p->d.lambda;
  for (size_t i = 0; i < N; i++) {
    memcpy(p->in, theta + i * dim, (size_t)dim * sizeof *p->in);
    for (int j = 0; j < nx; j++) {
      memcpy(p->in + dim, p->x + (size_t)j * n, (size_t)n * sizeof *p->in);
      if (p->act.fn(p->in, NULL, p->out, p->ws)) return -1;
      for (int k = 0; k <= dim; k++)
        if (!isfinite(p->out[k])) return -1;
      p->hv[i * nx + j] = p->out[dim];
      memcpy(p->hd + (i * nx + j) * dim, p->out, (size_t)dim * sizeof *p->out);
    }
    p->c[i] = H[i] / (double)N;
  }
  *loss = residual(&p->d, (int)N, p->c, p->hv, p->r);
  for (size_t i = 0; i < N; i++) {
    double g = project(&p->d, p->hv + i * nx, p->r);
    for (int k = 0; k < dim; k++) {
      double gp = 0;
      for (int j = 0; j < nx; j++) gp += p->d.q[j] * p->hd[(i * nx + j) * dim + k] * p->r[j];
      dt[i * dim + k] = -H[i] * gp - lam * theta[i * dim + k];
    }
    dH[i] = -g - lam * H[i];
  }
  return 0;
}

int rhoh_particles_step(rhoh_particles *p, double h, char *msg, size_t len) {
  size_t N = p->N, D = N * p->dim;
  double loss;
  if (!p->k1_current && particle_rhs(p, p->theta, p->H, p->k1t, p->k1H, &loss)) goto bad;
  p->k1_current = 0;
  for (size_t k = 0; k < D; k++) p->t1[k] = p->theta[k] + h * p->k1t[k];
  for (size_t i = 0; i < N; i++) p->H1[i] = p->H[i] + h * p->k1H[i];
  if (particle_rhs(p, p->t1, p->H1, p->k2t, p->k2H, &loss)) goto bad;
  for (size_t k = 0; k < D; k++) p->theta[k] += 0.5 * h * (p->k1t[k] + p->k2t[k]);
  for (size_t i = 0; i < N; i++) p->H[i] += 0.5 * h * (p->k1H[i] + p->k2H[i]);
  for (size_t k = 0; k < D; k++)
    if (!isfinite(p->theta[k])) goto bad;
  return 0;
bad:
  snprintf(msg, len, "the activation or a particle is not finite");
  return -1;
}

void rhoh_particles_monitor(rhoh_particles *p, rhoh_monitor *m) {
  size_t N = p->N;
  int dim = p->dim;
  double loss = 0, pot = 0, dis = 0, mh = 0, lam = p->d.lambda;
  if (particle_rhs(p, p->theta, p->H, p->k1t, p->k1H, &loss)) loss = NAN;
  else p->k1_current = 1;   /* the next step's first stage */
  for (size_t i = 0; i < N; i++) {
    double t2 = 0, v2 = 0;
    for (int k = 0; k < dim; k++) {
      t2 += p->theta[i * dim + k] * p->theta[i * dim + k];
      v2 += p->k1t[i * dim + k] * p->k1t[i * dim + k];
    }
    pot += 0.5 * lam * (p->H[i] * p->H[i] + t2) / (double)N;
    dis += (v2 + p->k1H[i] * p->k1H[i]) / (double)N;
    mh += p->H[i] / (double)N;
  }
  m->loss = loss;
  m->G = loss + pot;
  m->mass = 1;
  m->dissipation = dis;
  m->mean_H = mh;
}
