/*
** condgrad.c — Frank-Wolfe steps over measures of bounded total variation
** (condgrad.h).
*/
#include "condgrad.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CG_REFINE 5

struct cg_state {
  cg_problem p;
  double *x, *q, *f;       /* own copies */
  double *u, *r, *s;       /* the network, the residual and the oracle's atom at the data */
  double *theta, *c;       /* neurons: K x dim, K */
  int K, cap, steps;
  double gap, g_star;
  double *in, *out, *ws, *grad, *cur, *trial;
};

static void *xcalloc(size_t n, size_t s) {
  void *p = calloc(n ? n : 1, s);
  if (!p) abort();
  return p;
}

static void *dup(const double *v, size_t n) {
  double *d = xcalloc(n, sizeof *d);
  memcpy(d, v, n * sizeof *d);
  return d;
}

cg_state *cg_new(const cg_problem *p, char *msg, size_t len) {
  double qs = 0;
  for (int j = 0; j < p->nx; j++) qs += p->q[j];
  if (p->dim < 1 || p->n < 1 || p->nx < 1 || !(p->radius > 0) || !(p->lo < p->hi) || fabs(qs - 1) > 1e-12 ||
      (p->rule == CG_STEP_CONSTANT && !(p->gamma > 0 && p->gamma <= 1)) || p->ascent_steps < 0) {
    snprintf(msg, len, "conditional gradient: needs data with weights summing to 1, a radius > 0, a box lo < hi%s",
             p->rule == CG_STEP_CONSTANT ? " and a step in (0, 1]" : "");
    return NULL;
  }
  cg_state *s = xcalloc(1, sizeof *s);
  s->p = *p;
  s->x = dup(p->x, (size_t)p->nx * p->n);
  s->q = dup(p->q, (size_t)p->nx);
  s->f = dup(p->f, (size_t)p->nx);
  s->p.x = s->x, s->p.q = s->q, s->p.f = s->f;
  s->u = xcalloc((size_t)p->nx, sizeof *s->u);
  s->r = xcalloc((size_t)p->nx, sizeof *s->r);
  s->s = xcalloc((size_t)p->nx, sizeof *s->s);
  s->in = xcalloc((size_t)(p->dim + p->n), sizeof *s->in);
  s->out = xcalloc((size_t)p->dim + 1, sizeof *s->out);
  s->ws = xcalloc(p->act.nwork + 1, sizeof *s->ws);
  s->grad = xcalloc((size_t)p->dim, sizeof *s->grad);
  s->cur = xcalloc((size_t)p->dim, sizeof *s->cur);
  s->trial = xcalloc((size_t)p->dim, sizeof *s->trial);
  return s;
}

void cg_free(cg_state *s) {
  if (!s) return;
  free(s->x), free(s->q), free(s->f), free(s->u), free(s->r), free(s->s), free(s->theta), free(s->c);
  free(s->in), free(s->out), free(s->ws), free(s->grad), free(s->cur), free(s->trial);
  free(s);
}

int cg_neurons(const cg_state *s, const double **theta, const double **c) {
  *theta = s->theta;
  *c = s->c;
  return s->K;
}

/* h(theta, x_j) for every j into hv (may be NULL), g(theta) and its
** gradient (may be NULL).  -1 when the activation is not finite. */
static int eval_g(cg_state *s, const double *theta, double *hv, double *g, double *grad) {
  const cg_problem *p = &s->p;
  memcpy(s->in, theta, (size_t)p->dim * sizeof *s->in);
  double gv = 0;
  if (grad) memset(grad, 0, (size_t)p->dim * sizeof *grad);
  for (int j = 0; j < p->nx; j++) {
    memcpy(s->in + p->dim, s->x + (size_t)j * p->n, (size_t)p->n * sizeof *s->in);
    if (p->act.fn(s->in, NULL, s->out, s->ws)) return -1;
    for (int k = 0; k <= p->dim; k++)
      if (!isfinite(s->out[k])) return -1;
    double w = s->q[j] * s->r[j];
    gv += w * s->out[p->dim];
    if (grad)
      for (int k = 0; k < p->dim; k++) grad[k] += w * s->out[k];
    if (hv) hv[j] = s->out[p->dim];
  }
  *g = gv;
  return 0;
}

/* Projected ascent of |g| from theta (in place); |g| at the end in *best. */
static int ascend(cg_state *s, double *theta, double *best) {
  const cg_problem *p = &s->p;
  int d = p->dim;
  for (int k = 0; k < d; k++) theta[k] = fmin(fmax(theta[k], p->lo), p->hi);
  double g;
  if (eval_g(s, theta, NULL, &g, s->grad)) return -1;
  double eta = 0.1 * (p->hi - p->lo);
  for (int it = 0; it < p->ascent_steps && eta > 1e-12 * (p->hi - p->lo); it++) {
    double norm = 0, sg = g >= 0 ? 1 : -1;
    for (int k = 0; k < d; k++) norm += s->grad[k] * s->grad[k];
    norm = sqrt(norm);
    if (!(norm > 0)) break;
    for (int k = 0; k < d; k++) s->trial[k] = fmin(fmax(theta[k] + eta * sg * s->grad[k] / norm, p->lo), p->hi);
    double gt;
    if (eval_g(s, s->trial, NULL, &gt, s->cur)) return -1;
    if (fabs(gt) > fabs(g)) {
      memcpy(theta, s->trial, (size_t)d * sizeof *theta);
      memcpy(s->grad, s->cur, (size_t)d * sizeof *s->grad);
      g = gt;
      eta *= 1.5;
    } else {
      eta *= 0.5;
    }
  }
  *best = g;
  return 0;
}

static double loss_of(const cg_state *s) {
  double l = 0;
  for (int j = 0; j < s->p.nx; j++) l += 0.5 * s->q[j] * s->r[j] * s->r[j];
  return l;
}

void cg_monitor(cg_state *s, cg_info *info) {
  double l1 = 0;
  for (int i = 0; i < s->K; i++) l1 += fabs(s->c[i]);
  info->loss = loss_of(s);
  info->gap = s->gap;
  info->l1 = l1;
  info->neurons = s->K;
  info->g_star = s->g_star;
}

int cg_step(cg_state *s, int ncand, const double *cand, cg_info *info, char *msg, size_t len) {
  const cg_problem *p = &s->p;
  int d = p->dim, nx = p->nx;
  for (int j = 0; j < nx; j++) s->r[j] = s->u[j] - s->f[j];
  /* the oracle: ascents from every candidate and from the CG_REFINE
  ** neurons in place where |g| is largest (where the next atom often is,
  ** late in a run; ascending from all of them would cost O(K) per step) */
  double *th = xcalloc((size_t)d, sizeof *th), *best_th = xcalloc((size_t)d, sizeof *best_th), best = 0;
  int top[CG_REFINE], ntop = 0, found = 0;
  double topg[CG_REFINE];
  for (int i = 0; i < s->K; i++) {
    double g;
    if (eval_g(s, s->theta + (size_t)i * d, NULL, &g, NULL)) goto bad;
    if (ntop == CG_REFINE && fabs(g) <= topg[CG_REFINE - 1]) continue;
    int at = ntop < CG_REFINE ? ntop++ : CG_REFINE - 1;   /* the last place, or the slot of the smallest */
    for (; at > 0 && topg[at - 1] < fabs(g); at--) top[at] = top[at - 1], topg[at] = topg[at - 1];
    top[at] = i, topg[at] = fabs(g);
  }
  for (int k = 0; k < ncand + ntop; k++) {
    memcpy(th, k < ncand ? cand + (size_t)k * d : s->theta + (size_t)top[k - ncand] * d, (size_t)d * sizeof *th);
    double g;
    if (ascend(s, th, &g)) goto bad;
    if (!found || fabs(g) > fabs(best)) memcpy(best_th, th, (size_t)d * sizeof *th), best = g, found = 1;
  }
  double g;
  eval_g(s, best_th, s->s, &g, NULL);
  double sgn = g >= 0 ? 1 : -1, a = -p->radius * sgn;
  for (int j = 0; j < nx; j++) s->s[j] *= a;
  /* gap = <r, u - s>_q; the step */
  double gap = 0, dd = 0;
  for (int j = 0; j < nx; j++) {
    gap += s->q[j] * s->r[j] * (s->u[j] - s->s[j]);
    dd += s->q[j] * (s->u[j] - s->s[j]) * (s->u[j] - s->s[j]);
  }
  s->gap = gap;
  s->g_star = fabs(g);
  double gamma = p->rule == CG_STEP_CONSTANT ? p->gamma : 2.0 / (s->steps + 2);
  if (p->rule == CG_STEP_LINE) gamma = dd > 0 ? fmin(fmax(gap / dd, 0), 1) : 0;
  for (int j = 0; j < nx; j++) s->u[j] = (1 - gamma) * s->u[j] + gamma * s->s[j];
  for (int i = 0; i < s->K; i++) s->c[i] *= 1 - gamma;
  int at = -1;   /* an atom the network already has gets the mass, not a copy */
  for (int i = 0; i < s->K && at < 0; i++)
    if (memcmp(s->theta + (size_t)i * d, best_th, (size_t)d * sizeof *best_th) == 0) at = i;
  if (at < 0 && gamma > 0) {
    if (s->K == s->cap) {
      s->cap = s->cap ? 2 * s->cap : 64;
      s->theta = realloc(s->theta, (size_t)s->cap * d * sizeof *s->theta);
      s->c = realloc(s->c, (size_t)s->cap * sizeof *s->c);
      if (!s->theta || !s->c) abort();
    }
    at = s->K++;
    memcpy(s->theta + (size_t)at * d, best_th, (size_t)d * sizeof *best_th);
    s->c[at] = 0;
  }
  if (at >= 0) s->c[at] += gamma * a;
  s->steps++;
  for (int j = 0; j < nx; j++) s->r[j] = s->u[j] - s->f[j];
  cg_monitor(s, info);
  info->gap = gap;
  info->gamma = gamma;
  info->theta_new = at >= 0 ? s->theta + (size_t)at * d : NULL;
  info->c_new = at >= 0 ? s->c[at] : 0;
  free(th), free(best_th);
  return 0;
bad:
  snprintf(msg, len, "the activation is not finite during the oracle's search");
  free(th), free(best_th);
  return -1;
}
