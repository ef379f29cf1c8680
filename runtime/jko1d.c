/*
** jko1d.c — exact 1-D JKO steps by Newton in quantile coordinates (see
** jko1d.h).  The Hessian is tridiagonal: the proximal and potential terms
** are diagonal, each gap term couples its two end points.
*/
#include "jko1d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fv_tridiag.h"

static double wt(long N, long j) { return (j == 0 || j == N) ? 0.5 / N : 1.0 / N; }

/* phi(g) and its derivatives: the entropy and power terms of one gap */
static double gap_phi(const jko1d_problem *p, long N, double g) {
  double v = 0;
  if (p->T > 0) v -= p->T / N * log(N * g);
  if (p->nu > 0) v += p->nu * pow(N * g, -p->m) * g / (p->m - 1);
  return v;
}
static double gap_d1(const jko1d_problem *p, long N, double g) {
  double v = 0;
  if (p->T > 0) v -= p->T / (N * g);
  if (p->nu > 0) v -= p->nu * pow(N * g, -p->m);
  return v;
}
static double gap_d2(const jko1d_problem *p, long N, double g) {
  double v = 0;
  if (p->T > 0) v += p->T / (N * g * g);
  if (p->nu > 0) v += p->nu * p->m * pow(N * g, -p->m) / g;
  return v;
}

typedef struct ctx {
  const jko1d_problem *p;
  double *ws;
} ctx;

static int call1(const flow_fn *f, double x, double *y, double *ws) {
  double out;
  if (f->fn(&x, NULL, &out, ws) || !isfinite(out)) return -1;
  *y = out;
  return 0;
}

/* Energy of Q (plus the proximal term when Qo != NULL); NAN when Q is not
** increasing or V fails. */
static double objective(const ctx *c, long N, const double *Q, const double *Qo, double tau) {
  const jko1d_problem *p = c->p;
  double e = 0;
  for (long j = 0; j <= N; j++) {
    double w = wt(N, j);
    if (p->V.fn) {
      double v;
      if (call1(&p->V, Q[j], &v, c->ws)) return NAN;
      e += w * v;
    }
    if (Qo) e += w * (Q[j] - Qo[j]) * (Q[j] - Qo[j]) / (2 * tau);
    if (p->w2c > 0) e += w * p->w2c * (Q[j] - p->Qt[j]) * (Q[j] - p->Qt[j]) / 2;
    if (j < N) {
      double g = Q[j + 1] - Q[j];
      if (!(g > 0)) return NAN;
      e += gap_phi(p, N, g);
    }
  }
  return e;
}

static size_t nwork(const jko1d_problem *p) {
  size_t m = 0;
  const flow_fn *f[3] = { &p->V, &p->dV, &p->d2V };
  for (int k = 0; k < 3; k++)
    if (f[k]->fn && f[k]->nwork > m) m = f[k]->nwork;
  return m + 1;
}

double jko1d_energy(const jko1d_problem *p, long N, const double *Q) {
  double *ws = malloc(sizeof(double) * nwork(p));
  if (!ws) return NAN;
  ctx c = { p, ws };
  double e = objective(&c, N, Q, NULL, 1);
  free(ws);
  return e;
}

void jko1d_moments(long N, const double *Q, double *mean, double *m2) {
  double a = 0, b = 0;
  for (long j = 0; j <= N; j++) a += wt(N, j) * Q[j], b += wt(N, j) * Q[j] * Q[j];
  *mean = a;
  *m2 = b;
}

double jko1d_w2(long N, const double *Qa, const double *Qb) {
  double a = 0;
  for (long j = 0; j <= N; j++) a += wt(N, j) * (Qa[j] - Qb[j]) * (Qa[j] - Qb[j]);
  return sqrt(a);
}

int jko1d_step(const jko1d_problem *p, long N, const double *Qold, double tau, double *Q, jko1d_info *info,
               char *msg, size_t len) {
  if (N < 2 || !(tau > 0) || !isfinite(tau)) {
    flow_msg(msg, len, "jko1d: need N >= 2 and tau > 0 (got N = %ld, tau = %g)", N, tau);
    return 2;
  }
  if (!(p->T >= 0) || !(p->nu >= 0) || !(p->T + p->nu > 0) || (p->nu > 0 && !(p->m > 1)) ||
      (p->V.fn && (!p->dV.fn || !p->d2V.fn)) || !(p->w2c >= 0) || (p->w2c > 0 && !p->Qt)) {
    flow_msg(msg, len, "jko1d: need T >= 0, nu >= 0, T + nu > 0, m > 1 when nu > 0, and V' and V'' with V");
    return 2;
  }
  for (long j = 0; j < N; j++)
    if (!(Qold[j + 1] > Qold[j]) || !isfinite(Qold[j])) {
      flow_msg(msg, len, "jko1d: the quantiles must be finite and increasing (Q[%ld] = %g, Q[%ld] = %g)", j, Qold[j],
               j + 1, Qold[j + 1]);
      return 2;
    }
  size_t n1 = (size_t)N + 1;
  double *buf = malloc(sizeof(double) * (8 * n1 + nwork(p)));
  if (!buf) {
    flow_msg(msg, len, "jko1d: out of memory for N = %ld", N);
    return 3;
  }
  double *Qo = buf, *X = Qo + n1, *G = X + n1, *a = G + n1, *b = a + n1, *c = b + n1, *w = c + n1, *T = w + n1;
  ctx cx = { p, T + n1 };
  memcpy(Qo, Qold, sizeof(double) * n1);
  memcpy(X, Qold, sizeof(double) * n1);
  double span = Qold[N] - Qold[0];
  int rc = 3, it;
  double phi = objective(&cx, N, X, Qo, tau);
  for (it = 1; it <= 200; it++) {
    /* gradient and Hessian */
    for (long j = 0; j <= N; j++) {
      double wj = wt(N, j), d1 = 0, d2 = 0;
      if (p->V.fn && (call1(&p->dV, X[j], &d1, cx.ws) || call1(&p->d2V, X[j], &d2, cx.ws))) {
        flow_msg(msg, len, "jko1d: V' or V'' is not finite at x = %g", X[j]);
        goto out;
      }
      G[j] = wj * ((X[j] - Qo[j]) / tau + d1);
      /* a concave V could make the Hessian indefinite: keep at least half
      ** of the proximal curvature (the line search keeps descent) */
      b[j] = wj * fmax(1 / tau + d2, 0.5 / tau);
      if (p->w2c > 0) G[j] += wj * p->w2c * (X[j] - p->Qt[j]), b[j] += wj * p->w2c;
      a[j] = c[j] = 0;
    }
    for (long j = 0; j < N; j++) {
      double g = X[j + 1] - X[j], f1 = gap_d1(p, N, g), f2 = gap_d2(p, N, g);
      G[j] -= f1;
      G[j + 1] += f1;
      b[j] += f2;
      b[j + 1] += f2;
      c[j] -= f2;
      a[j + 1] -= f2;
    }
    double dec = 0;
    for (long j = 0; j <= N; j++) T[j] = -G[j];
    if (fv_tridiag_solve((int)n1, a, b, c, T, w)) {
      flow_msg(msg, len, "jko1d: the Newton system is singular (iteration %d)", it);
      goto out;
    }
    double dmax = 0;
    for (long j = 0; j <= N; j++) dec -= G[j] * T[j], dmax = fmax(dmax, fabs(T[j]));
    /* fraction to the boundary: gaps stay positive */
    double amax = 1;
    for (long j = 0; j < N; j++) {
      double dg = T[j + 1] - T[j];
      if (dg < 0) amax = fmin(amax, 0.9 * (X[j + 1] - X[j]) / -dg);
    }
    if (amax == 1 && dmax <= 1e-13 * span) {
      for (long j = 0; j <= N; j++) X[j] += T[j];
      rc = 0;
      break;
    }
    double alpha = amax, pn = NAN;
    int ok = 0;
    /* A decrement below what the N-term sum phi resolves (~N eps |phi|):
    ** the line search cannot see the decrease, and the iterate is deep in
    ** Newton's region of quadratic convergence; take the full step. */
    int blind = amax == 1 && dec <= 1e-10 * fabs(phi);
    for (int ls = 0; ls < 60; ls++, alpha *= 0.5) {
      for (long j = 0; j <= N; j++) G[j] = X[j] + alpha * T[j];
      pn = objective(&cx, N, G, Qo, tau);
      if (blind || pn <= phi - 1e-4 * alpha * dec) {
        ok = isfinite(pn);
        break;
      }
    }
    if (!ok) {
      flow_msg(msg, len, "jko1d: the line search failed (iteration %d, step %g)", it, dmax);
      goto out;
    }
    memcpy(X, G, sizeof(double) * n1);
    phi = pn;
  }
  if (rc) {
    flow_msg(msg, len, "jko1d: Newton did not converge in 200 iterations");
    goto out;
  }
  for (long j = 0; j < N; j++)
    if (!(X[j + 1] > X[j])) {
      flow_msg(msg, len, "jko1d: the step lost monotonicity at j = %ld", j);
      rc = 3;
      goto out;
    }
  if (info) {
    info->newton = it;
    info->w2 = jko1d_w2(N, X, Qo);
    info->energy = objective(&cx, N, X, NULL, tau);
  }
  memcpy(Q, X, sizeof(double) * n1);
out:
  free(buf);
  return rc;
}

int jko1d_from_density(int n, double lo, double hi, const double *rho, long N, double *Q) {
  double tot = 0, h = (hi - lo) / n;
  for (int i = 0; i < n; i++) {
    if (!(rho[i] >= 0) || !isfinite(rho[i])) return -1;
    tot += rho[i];
  }
  if (!(tot > 0) || N < 1) return -1;
  int first = 0, last = n - 1;
  while (rho[first] == 0) first++;
  while (rho[last] == 0) last--;
  Q[0] = lo + first * h;
  Q[N] = lo + (last + 1) * h;
  double S = 0;   /* mass below cell i */
  int i = first;
  for (long j = 1; j < N; j++) {
    double s = (double)j / N * tot;
    while (i < last && S + rho[i] < s) S += rho[i++];
    double f = rho[i] > 0 ? (s - S) / rho[i] : 0;
    Q[j] = lo + (i + fmin(fmax(f, 0), 1)) * h;
  }
  return 0;
}

void jko1d_to_grid(long N, const double *Q, int n, double lo, double hi, double *rho) {
  double h = (hi - lo) / n;
  memset(rho, 0, sizeof(double) * n);
  for (long j = 0; j < N; j++) {
    double a = fmax(Q[j], lo), b = fmin(Q[j + 1], hi), g = Q[j + 1] - Q[j];
    if (!(b > a) || !(g > 0)) continue;
    double dens = 1.0 / N / g;   /* mass per unit length on the gap */
    long i0 = (long)floor((a - lo) / h), i1 = (long)floor((b - lo) / h);
    if (i0 < 0) i0 = 0;
    if (i1 > n - 1) i1 = n - 1;
    for (long i = i0; i <= i1; i++) {
      double cl = lo + i * h, cr = cl + h;
      double ov = fmin(b, cr) - fmax(a, cl);
      if (ov > 0) rho[i] += dens * ov / h;
    }
  }
}
