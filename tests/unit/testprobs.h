/*
** testprobs.h — hand-written flow_problem callbacks shared by check_ode.c and
** check_geo.c: activations (logistic, soft projection, tanh) with their
** Hopfield metrics, scaled Himmelblau, quadratics, Rosenbrock.  Dimensions and
** coefficients live in file-scope variables (callbacks do not receive n).
*/
#ifndef HNN_TESTPROBS_H
#define HNN_TESTPROBS_H

#include <math.h>
#include <string.h>

#include "flow.h"

#define TP_MAXN 64
static int tp_n = 2;
static double tp_beta = 2.0;          /* soft projection slope */
static double tp_q[TP_MAXN];          /* quadratic: f = 1/2 (x-c)' Q (x-c) */
static double tp_c[TP_MAXN];
static double tp_Q[TP_MAXN * TP_MAXN];

#define CB(name) __attribute__((unused)) static int name(const double *x, const double *d, double *o, double *w)
#define UNUSED (void)d, (void)w

/* ---- logistic: s = 1/(1+e^-u), s' = s(1-s), g = 1/(x(1-x)) */
CB(lg_s) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = 1 / (1 + exp(-x[i])); return 0; }
CB(lg_ds) { UNUSED; for (int i = 0; i < tp_n; i++) { double s = 1 / (1 + exp(-x[i])); o[i] = s * (1 - s); } return 0; }
CB(lg_inv) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = log(x[i] / (1 - x[i])); return 0; }
CB(lg_g) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = 1 / (x[i] * (1 - x[i])); return 0; }
CB(lg_gi) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = x[i] * (1 - x[i]); return 0; }
CB(lg_gj) {
  UNUSED;
  memset(o, 0, sizeof(double) * tp_n * tp_n);
  for (int i = 0; i < tp_n; i++) { double a = x[i] * (1 - x[i]); o[i * tp_n + i] = -(1 - 2 * x[i]) / (a * a); }
  return 0;
}
/* psi_i = x log x + (1-x) log(1-x) */
CB(lg_pot) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = x[i] * log(x[i]) + (1 - x[i]) * log(1 - x[i]); return 0; }

/* ---- soft projection (eq. 22): s = (1 + tanh(beta (u - 1/2)))/2, s' = 2 beta s (1-s),
** g = 1/(2 beta x (1-x)) (eq. 24) */
CB(sp_s) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = 0.5 * (1 + tanh(tp_beta * (x[i] - 0.5))); return 0; }
CB(sp_ds) { UNUSED; for (int i = 0; i < tp_n; i++) { double c = cosh(tp_beta * (x[i] - 0.5)); o[i] = 0.5 * tp_beta / (c * c); } return 0; }
CB(sp_inv) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = 0.5 + atanh(2 * x[i] - 1) / tp_beta; return 0; }
CB(sp_g) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = 1 / (2 * tp_beta * x[i] * (1 - x[i])); return 0; }
CB(sp_gi) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = 2 * tp_beta * x[i] * (1 - x[i]); return 0; }
CB(sp_gj) {
  UNUSED;
  memset(o, 0, sizeof(double) * tp_n * tp_n);
  for (int i = 0; i < tp_n; i++) { double a = x[i] * (1 - x[i]); o[i * tp_n + i] = -(1 - 2 * x[i]) / (2 * tp_beta * a * a); }
  return 0;
}

/* ---- tanh: s = tanh u on (-1, 1), s' = 1 - x^2, g = 1/(1-x^2) */
CB(th_s) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = tanh(x[i]); return 0; }
CB(th_ds) { UNUSED; for (int i = 0; i < tp_n; i++) { double c = cosh(x[i]); o[i] = 1 / (c * c); } return 0; }
CB(th_inv) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = atanh(x[i]); return 0; }
CB(th_g) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = 1 / (1 - x[i] * x[i]); return 0; }
CB(th_gi) { UNUSED; for (int i = 0; i < tp_n; i++) o[i] = 1 - x[i] * x[i]; return 0; }
CB(th_gj) {
  UNUSED;
  memset(o, 0, sizeof(double) * tp_n * tp_n);
  for (int i = 0; i < tp_n; i++) { double a = 1 - x[i] * x[i]; o[i * tp_n + i] = 2 * x[i] / (a * a); }
  return 0;
}

/* ---- scaled Himmelblau on (0,1)^2: a = 10 x1 - 5, b = 10 x2 - 5,
** f = (a^2 + b - 11)^2 + (a + b^2 - 7)^2 */
CB(hb_f) { UNUSED; double a = 10 * x[0] - 5, b = 10 * x[1] - 5, F1 = a * a + b - 11, F2 = a + b * b - 7; o[0] = F1 * F1 + F2 * F2; return 0; }
CB(hb_g) {
  UNUSED;
  double a = 10 * x[0] - 5, b = 10 * x[1] - 5, F1 = a * a + b - 11, F2 = a + b * b - 7;
  o[0] = 10 * (4 * a * F1 + 2 * F2);
  o[1] = 10 * (2 * F1 + 4 * b * F2);
  return 0;
}
CB(hb_h) {
  UNUSED;
  double a = 10 * x[0] - 5, b = 10 * x[1] - 5, F1 = a * a + b - 11, F2 = a + b * b - 7;
  o[0] = 100 * (4 * F1 + 8 * a * a + 2);
  o[1] = o[2] = 100 * (4 * a + 4 * b);
  o[3] = 100 * (4 * F2 + 8 * b * b + 2);
  return 0;
}

/* ---- quadratic f = 1/2 (x-c)' Q (x-c), Q dense tp_Q */
CB(qd_f) {
  UNUSED;
  double s = 0;
  for (int i = 0; i < tp_n; i++)
    for (int j = 0; j < tp_n; j++) s += 0.5 * (x[i] - tp_c[i]) * tp_Q[i * tp_n + j] * (x[j] - tp_c[j]);
  o[0] = s;
  return 0;
}
CB(qd_g) {
  UNUSED;
  for (int i = 0; i < tp_n; i++) {
    double s = 0;
    for (int j = 0; j < tp_n; j++) s += tp_Q[i * tp_n + j] * (x[j] - tp_c[j]);
    o[i] = s;
  }
  return 0;
}
CB(qd_h) { UNUSED; (void)x; memcpy(o, tp_Q, sizeof(double) * tp_n * tp_n); return 0; }

/* diagonal Q = diag(tp_q), c = tp_c */
__attribute__((unused)) static void tp_set_diag_quadratic(int n) {
  tp_n = n;
  memset(tp_Q, 0, sizeof tp_Q);
  for (int i = 0; i < n; i++) tp_Q[i * n + i] = tp_q[i];
}

/* ---- Rosenbrock (n = 2): f = (1-x)^2 + 100 (y - x^2)^2 */
CB(rb_f) { UNUSED; double a = 1 - x[0], b = x[1] - x[0] * x[0]; o[0] = a * a + 100 * b * b; return 0; }
CB(rb_g) {
  UNUSED;
  double b = x[1] - x[0] * x[0];
  o[0] = -2 * (1 - x[0]) - 400 * x[0] * b;
  o[1] = 200 * b;
  return 0;
}
CB(rb_h) {
  UNUSED;
  o[0] = 2 - 400 * (x[1] - 3 * x[0] * x[0]);
  o[1] = o[2] = -400 * x[0];
  o[3] = 200;
  return 0;
}

#define FN(f) ((flow_fn){ (f), 0 })

__attribute__((unused)) static void tp_activation(flow_problem *p, char which) {
  p->metric_diagonal = 1;
  if (which == 'l') {
    p->act = FN(lg_s); p->act_d = FN(lg_ds); p->act_inv = FN(lg_inv);
    p->metric = FN(lg_g); p->metric_inv = FN(lg_gi); p->metric_jac = FN(lg_gj);
  } else if (which == 's') {
    p->act = FN(sp_s); p->act_d = FN(sp_ds); p->act_inv = FN(sp_inv);
    p->metric = FN(sp_g); p->metric_inv = FN(sp_gi); p->metric_jac = FN(sp_gj);
  } else {
    p->act = FN(th_s); p->act_d = FN(th_ds); p->act_inv = FN(th_inv);
    p->metric = FN(th_g); p->metric_inv = FN(th_gi); p->metric_jac = FN(th_gj);
  }
}

__attribute__((unused)) static flow_problem tp_himmelblau(char act) {
  flow_problem p;
  memset(&p, 0, sizeof p);
  tp_n = p.n = 2;
  p.f = FN(hb_f); p.grad = FN(hb_g); p.hess = FN(hb_h);
  tp_activation(&p, act);
  return p;
}

__attribute__((unused)) static flow_problem tp_quadratic(int n, char act) {
  flow_problem p;
  memset(&p, 0, sizeof p);
  tp_n = p.n = n;
  p.f = FN(qd_f); p.grad = FN(qd_g); p.hess = FN(qd_h);
  if (act) tp_activation(&p, act);
  return p;
}

__attribute__((unused)) static flow_problem tp_rosenbrock(void) {
  flow_problem p;
  memset(&p, 0, sizeof p);
  tp_n = p.n = 2;
  p.f = FN(rb_f); p.grad = FN(rb_g); p.hess = FN(rb_h);
  return p;
}

#endif
