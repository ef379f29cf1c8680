/*
** hidden.c — the Hopfield network with hidden units: energy, deterministic
** and stochastic dynamics, the conditional free energy and Recall-and-Learn.
** See hidden.h for the equations and the contract.
*/
#include "hidden.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_randist.h>

#include "pool.h"
#include "rng.h"

struct hid_ws {
  double *cb;            /* callback scratch */
  double *lg_v, *lg_h;   /* [L, grad L] */
  double *geo_v, *geo_h; /* [K, div K] */
  double *fac;           /* Cholesky factor, max(nv, nh)^2 */
  double *b;             /* U' g(v), nh */
  double *y;             /* a point of h, nh (quadrature) */
  double *z;             /* normal draws, nv + nh */
  double *drift;         /* nv + nh */
  gsl_integration_workspace *quad;
};

static size_t geo_size(const hid_lagr *L) { return L->diagonal ? 2 * (size_t)L->n : (size_t)L->n * (L->n + 1); }

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

void hid_ws_free(hid_ws *w) {
  if (!w) return;
  free(w->cb);
  free(w->lg_v);
  free(w->lg_h);
  free(w->geo_v);
  free(w->geo_h);
  free(w->fac);
  free(w->b);
  free(w->y);
  free(w->z);
  free(w->drift);
  if (w->quad) gsl_integration_workspace_free(w->quad);
  free(w);
}

hid_ws *hid_ws_alloc(const hid_net *net) {
  hid_ws *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  size_t nw = max_sz(max_sz(net->Lv.lg.nwork, net->Lv.geom.nwork), max_sz(net->Lh.lg.nwork, net->Lh.geom.nwork));
  size_t m = (size_t)(net->nv > net->nh ? net->nv : net->nh);
  w->cb = malloc(sizeof(double) * (nw + 1));
  w->lg_v = malloc(sizeof(double) * ((size_t)net->nv + 1));
  w->lg_h = malloc(sizeof(double) * ((size_t)net->nh + 1));
  w->geo_v = malloc(sizeof(double) * geo_size(&net->Lv));
  w->geo_h = malloc(sizeof(double) * geo_size(&net->Lh));
  w->fac = malloc(sizeof(double) * m * m);
  w->b = malloc(sizeof(double) * (size_t)net->nh);
  w->y = malloc(sizeof(double) * (size_t)net->nh);
  w->z = malloc(sizeof(double) * ((size_t)net->nv + net->nh));
  w->drift = malloc(sizeof(double) * ((size_t)net->nv + net->nh));
  w->quad = gsl_integration_workspace_alloc(400);
  if (!w->cb || !w->lg_v || !w->lg_h || !w->geo_v || !w->geo_h || !w->fac || !w->b || !w->y || !w->z || !w->drift || !w->quad) {
    hid_ws_free(w);
    return NULL;
  }
  return w;
}

const char *hid_strerror(int s) {
  switch (s) {
  case HID_OK: return "ok";
  case HID_STOPPED: return "stopped by the output callback";
  case HID_ECALLBACK: return "a Lagrangian's callback failed or was not finite";
  case HID_ENONFINITE: return "a state or a weight became non-finite";
  case HID_EHESSIAN: return "a Hessian is not positive definite";
  case HID_EQUAD: return "a free-energy integral did not converge";
  case HID_EFAR: return "exp(-E/T) overflows in a free-energy integral: the samples are far from the mode of q_E(h|v) (relax longer)";
  case HID_ENOMEM: return "out of memory";
  case HID_EINTR: return "interrupted";
  case HID_EINVAL: return "invalid options";
  default: return "unknown status";
  }
}

/* ------------------------------------------------------------ pieces */

static int all_finite(const double *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(a[i])) return 0;
  return 1;
}

/* [L, grad L] at x; only the gradient need be finite for the dynamics
** (L overflows first: log cosh v at |v| > 710 where tanh v is 1). */
static int call_lg_opt(const hid_lagr *L, const double *x, double *out, hid_ws *w, int value) {
  if (L->lg.fn(x, NULL, out, w->cb) != 0 || !all_finite(out + !value, (size_t)L->n + value)) return HID_ECALLBACK;
  return HID_OK;
}

static int call_lg(const hid_lagr *L, const double *x, double *out, hid_ws *w) { return call_lg_opt(L, x, out, w, 1); }
static int call_g(const hid_lagr *L, const double *x, double *out, hid_ws *w) { return call_lg_opt(L, x, out, w, 0); }

static int call_geom(const hid_lagr *L, const double *x, double *out, hid_ws *w) {
  if (L->geom.fn(x, NULL, out, w->cb) != 0 || !all_finite(out, geo_size(L))) return HID_ECALLBACK;
  return HID_OK;
}

/* b = U' g */
static void ut_times(const hid_net *net, const double *g, double *b) {
  int nv = net->nv, nh = net->nh;
  for (int j = 0; j < nh; j++) b[j] = 0;
  for (int i = 0; i < nv; i++) {
    const double *row = net->U + (size_t)i * nh;
    for (int j = 0; j < nh; j++) b[j] += row[j] * g[i];
  }
}

/* a = U f */
static void u_times(const hid_net *net, const double *f, double *a) {
  int nh = net->nh;
  for (int i = 0; i < net->nv; i++) {
    const double *row = net->U + (size_t)i * nh;
    double s = 0;
    for (int j = 0; j < nh; j++) s += row[j] * f[j];
    a[i] = s;
  }
}

/* Lower Cholesky factor F of the n x n matrix K (row-major); -1 if K is not
** positive definite. */
static int cholesky(const double *K, double *F, int n) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j <= i; j++) {
      double s = K[(size_t)i * n + j];
      for (int k = 0; k < j; k++) s -= F[(size_t)i * n + k] * F[(size_t)j * n + k];
      if (i == j) {
        if (!(s > 0)) return -1;
        F[(size_t)i * n + i] = sqrt(s);
      } else {
        F[(size_t)i * n + j] = s / F[(size_t)j * n + j];
      }
    }
  return 0;
}

/* x += sqrt(2 T dt) K^1/2 z for the block of L (geo: its [K, div K]). */
static int add_noise(const hid_lagr *L, const double *geo, double *x, double scale, gsl_rng *r, hid_ws *w) {
  int n = L->n;
  for (int i = 0; i < n; i++) w->z[i] = gsl_ran_gaussian_ziggurat(r, 1.0);
  if (L->diagonal) {
    for (int i = 0; i < n; i++) {
      if (!(geo[i] > 0)) return HID_EHESSIAN;
      x[i] += scale * sqrt(geo[i]) * w->z[i];
    }
    return HID_OK;
  }
  if (cholesky(geo, w->fac, n)) return HID_EHESSIAN;
  for (int i = 0; i < n; i++) {
    double s = 0;
    for (int k = 0; k <= i; k++) s += w->fac[(size_t)i * n + k] * w->z[k];
    x[i] += scale * s;
  }
  return HID_OK;
}

static const double *div_part(const hid_lagr *L, const double *geo) {
  return geo + (L->diagonal ? L->n : (size_t)L->n * L->n);
}

/* ------------------------------------------------------------ public */

int hid_energy(const hid_net *net, const double *x, double *E, hid_ws *w) {
  int nv = net->nv, nh = net->nh, s;
  const double *v = x, *h = x + nv;
  if ((s = call_lg(&net->Lv, v, w->lg_v, w)) || (s = call_lg(&net->Lh, h, w->lg_h, w))) return s;
  const double *g = w->lg_v + 1, *f = w->lg_h + 1;
  double e = -w->lg_v[0] - w->lg_h[0];
  for (int i = 0; i < nv; i++) e += (v[i] - net->I[i]) * g[i];
  for (int j = 0; j < nh; j++) e += h[j] * f[j];
  ut_times(net, g, w->b);
  for (int j = 0; j < nh; j++) e -= w->b[j] * f[j];
  *E = e;
  return isfinite(e) ? HID_OK : HID_ENONFINITE;
}

int hid_field(const hid_net *net, const double *x, double *dx, hid_ws *w) {
  int nv = net->nv, nh = net->nh, s;
  if ((s = call_g(&net->Lv, x, w->lg_v, w)) || (s = call_g(&net->Lh, x + nv, w->lg_h, w))) return s;
  u_times(net, w->lg_h + 1, dx);
  for (int i = 0; i < nv; i++) dx[i] += net->I[i] - x[i];
  ut_times(net, w->lg_v + 1, dx + nv);
  for (int j = 0; j < nh; j++) dx[nv + j] -= x[nv + j];
  return HID_OK;
}

int hid_drift(const hid_net *net, const double *x, int clamp_v, double *drift, hid_ws *w) {
  int nv = net->nv, nh = net->nh, s;
  if (clamp_v) {
    if ((s = call_g(&net->Lv, x, w->lg_v, w))) return s;
    ut_times(net, w->lg_v + 1, drift + nv);
    for (int j = 0; j < nh; j++) drift[nv + j] -= x[nv + j];
  } else if ((s = hid_field(net, x, drift, w))) {
    return s;
  }
  if (net->T > 0) {
    if (!clamp_v) {
      if ((s = call_geom(&net->Lv, x, w->geo_v, w))) return s;
      const double *d = div_part(&net->Lv, w->geo_v);
      for (int i = 0; i < nv; i++) drift[i] += net->T * d[i];
    }
    if ((s = call_geom(&net->Lh, x + nv, w->geo_h, w))) return s;
    const double *d = div_part(&net->Lh, w->geo_h);
    for (int j = 0; j < nh; j++) drift[nv + j] += net->T * d[j];
  }
  return HID_OK;
}

/* One EM step of h given b = U'g(v): dh = (b - h + T div K_h) dt + noise. */
static int step_clamped(const hid_net *net, const double *b, double *h, double dt, gsl_rng *r, hid_ws *w) {
  int nh = net->nh, s;
  if (!(net->T > 0)) {
    for (int j = 0; j < nh; j++) h[j] += dt * (b[j] - h[j]);
    return HID_OK;
  }
  if ((s = call_geom(&net->Lh, h, w->geo_h, w))) return s;
  const double *d = div_part(&net->Lh, w->geo_h);
  /* the noise factor is taken at the old point, as the drift (Ito) */
  double *old = w->y;
  memcpy(old, h, sizeof(double) * (size_t)nh);
  for (int j = 0; j < nh; j++) h[j] += dt * (b[j] - old[j] + net->T * d[j]);
  if ((s = add_noise(&net->Lh, w->geo_h, h, sqrt(2 * net->T * dt), r, w))) return s;
  return all_finite(h, (size_t)nh) ? HID_OK : HID_ENONFINITE;
}

int hid_step(const hid_net *net, double *x, int clamp_v, double dt, gsl_rng *r, hid_ws *w) {
  int nv = net->nv, nh = net->nh, s;
  if (clamp_v) {
    if ((s = call_g(&net->Lv, x, w->lg_v, w))) return s;
    ut_times(net, w->lg_v + 1, w->b);
    return step_clamped(net, w->b, x + nv, dt, r, w);
  }
  size_t n = (size_t)nv + nh;
  double *drift = w->drift;
  s = hid_drift(net, x, 0, drift, w);
  if (!s) {
    for (size_t i = 0; i < n; i++) x[i] += dt * drift[i];
    if (net->T > 0) {
      double scale = sqrt(2 * net->T * dt);
      /* geo_v, geo_h hold K at the old point (hid_drift) */
      s = add_noise(&net->Lv, w->geo_v, x, scale, r, w);
      if (!s) s = add_noise(&net->Lh, w->geo_h, x + nv, scale, r, w);
    }
  }
  if (!s && !all_finite(x, n)) s = HID_ENONFINITE;
  return s;
}

/* ------------------------------------------------------ free energy */

typedef struct quad_ctx {
  const hid_net *net;
  hid_ws *w;
  const double *b;
  double *y;             /* the center, with coordinate j varying */
  int j;
  double L0;             /* L_h at the center */
  double psi0;           /* (c_j - b_j) f_j(c_j) */
  int status;
} quad_ctx;

/* exp(-(phi_j(t) - phi_j(c_j))/T).  L_h is separable, so moving y_j leaves
** every other f_k as it was, and phi_j(t) - phi_j(c_j) = (t - b_j) f_j(t)
** - psi0 - (L_h(y) - L_h(c)): only the L_h difference sums over all units. */
static double integrand(double t, void *p) {
  quad_ctx *q = p;
  int j = q->j;
  double save = q->y[j];
  q->y[j] = t;
  int s = call_lg(&q->net->Lh, q->y, q->w->lg_h, q->w);
  q->y[j] = save;
  double d = (t - q->b[j]) * q->w->lg_h[1 + j] - q->psi0 - (q->w->lg_h[0] - q->L0);
  double a = -d / q->net->T;
  if (s || !(a < 700)) {
    if (!q->status) q->status = s ? s : HID_EFAR;
    return 0;
  }
  return exp(a);
}

/* A half-line's integral: GSL's estimate also when it stops on roundoff
** (the L_h difference of a large L_h carries ~1e-16 |L_h| / T of noise into
** the exponent) if its own error estimate is still below 1e-7 relative. */
static int half_line(int status, double val, double err) {
  return status == 0 || (status == GSL_EROUND && err <= 1e-7 * fabs(val));
}

int hid_free_energy(const hid_net *net, const double *v, const double *center, double *F, hid_ws *w) {
  int nv = net->nv, nh = net->nh, s;
  if (!net->Lh.diagonal || !(net->T > 0)) return HID_EINVAL;
  if ((s = call_lg(&net->Lv, v, w->lg_v, w))) return s;
  double ev = -w->lg_v[0];
  for (int i = 0; i < nv; i++) ev += (v[i] - net->I[i]) * w->lg_v[1 + i];
  double *b = malloc(sizeof(double) * (size_t)nh * 3);
  if (!b) return HID_ENOMEM;
  double *y = b + nh, *f0 = b + 2 * (size_t)nh;
  ut_times(net, w->lg_v + 1, b);
  memcpy(y, center, sizeof(double) * (size_t)nh);
  quad_ctx q = { net, w, b, y, 0, 0, 0, HID_OK };
  double phi0 = 0;
  if (!(s = call_lg(&net->Lh, y, w->lg_h, w))) {
    q.L0 = w->lg_h[0];
    memcpy(f0, w->lg_h + 1, sizeof(double) * (size_t)nh);
    phi0 = -q.L0;
    for (int j = 0; j < nh; j++) phi0 += (y[j] - b[j]) * f0[j];
  }
  double lnsum = 0;
  gsl_function fn = { integrand, &q };
  /* exp(-(phi_j - phi_j(c_j))/T) is ~1 near the mode and decays like a
  ** Gaussian of width ~sqrt(T K); each half-line is mapped to (0, 1] by GSL */
  for (int j = 0; j < nh && !s; j++) {
    double lo = 0, hi = 0, elo = 0, ehi = 0;
    q.j = j;
    q.psi0 = (y[j] - b[j]) * f0[j];
    int g1 = gsl_integration_qagil(&fn, y[j], 0, 1e-10, 400, w->quad, &lo, &elo);
    int g2 = q.status ? 0 : gsl_integration_qagiu(&fn, y[j], 0, 1e-10, 400, w->quad, &hi, &ehi);
    if (q.status) s = q.status;
    else if (!half_line(g1, lo, elo) || !half_line(g2, hi, ehi) || !(lo + hi > 0) || !isfinite(lo + hi)) s = HID_EQUAD;
    else lnsum += log(lo + hi);
  }
  free(b);
  if (s) return s;
  *F = ev + phi0 - net->T * lnsum;
  return isfinite(*F) ? HID_OK : HID_EQUAD;
}

/* ------------------------------------------------- Recall-and-Learn */

void hid_rl_opts_default(hid_rl_opts *o) {
  memset(o, 0, sizeof *o);
  o->rounds = 50;
  o->rate = 0.01;
  o->samples = 100;
  o->relax = 200;
  o->dt = 0.01;
  o->recall = 1000;
  o->corrupt = 0.2;
  o->seed = 1;
  o->threads = 0;
}

/* Per pattern: its samples, streams, cue and what a round measures. */
typedef struct rl_pattern {
  gsl_rng *rng;
  double *h;             /* samples x nh */
  double *cue;           /* nv */
  double *g;             /* g(xi), nv */
  double *fmean;         /* <f(h)>, nh */
  double F, E, overlap;
  int recalled;
  int status;
  char msg[200];
} rl_pattern;

typedef struct rl_ctx {
  hid_net *net;
  const double *xi;
  const hid_rl_opts *o;
  rl_pattern *pat;
  hid_ws **ws;           /* per thread */
  double *x;             /* per thread: nv + nh (recall state) */
} rl_ctx;

static double sgn(double a) { return a > 0 ? 1 : a < 0 ? -1 : 0; }

/* Recall from pattern k's cue: the deterministic dynamics from v = cue,
** h = U' g(cue); the sign pattern of v is compared with the stored one. */
static int recall_one(rl_ctx *c, int k, hid_ws *w, double *x) {
  hid_net *net = c->net;
  int nv = net->nv, nh = net->nh, s;
  rl_pattern *p = &c->pat[k];
  size_t n = (size_t)nv + nh;
  memcpy(x, p->cue, sizeof(double) * (size_t)nv);
  if ((s = call_g(&net->Lv, x, w->lg_v, w))) return s;
  ut_times(net, w->lg_v + 1, x + nv);
  double *dx = w->z;   /* nv + nh */
  for (long t = 0; t < c->o->recall; t++) {
    if ((s = hid_field(net, x, dx, w))) return s;
    for (size_t i = 0; i < n; i++) x[i] += c->o->dt * dx[i];
    if (!all_finite(x, n)) return HID_ENONFINITE;
  }
  const double *xi = c->xi + (size_t)k * nv;
  int same = 0;
  for (int i = 0; i < nv; i++) same += sgn(x[i]) == sgn(xi[i]);
  p->recalled = same == nv;
  double ov = 0;
  for (int i = 0; i < nv; i++) ov += sgn(x[i]) * sgn(xi[i]);
  p->overlap = ov / nv;
  return HID_OK;
}

/* Relax pattern k's samples, then measure <f(h)>, <E>, F and the recall. */
static int round_one(rl_ctx *c, int k, hid_ws *w, double *x) {
  hid_net *net = c->net;
  const hid_rl_opts *o = c->o;
  int nv = net->nv, nh = net->nh, N = o->samples, s;
  rl_pattern *p = &c->pat[k];
  const double *xi = c->xi + (size_t)k * nv;
  if ((s = call_lg(&net->Lv, xi, w->lg_v, w))) return s;
  memcpy(p->g, w->lg_v + 1, sizeof(double) * (size_t)nv);
  double *b = malloc(sizeof(double) * (size_t)nh * 2);
  if (!b) return HID_ENOMEM;
  double *center = b + nh;
  ut_times(net, p->g, b);
  for (long t = 0; t < o->relax && !s; t++) {
    if (flow_interrupted()) s = HID_EINTR;
    for (int i = 0; i < N && !s; i++) {
      s = step_clamped(net, b, p->h + (size_t)i * nh, o->dt, p->rng, w);
      if (s) flow_msg(p->msg, sizeof p->msg, "sample %d at relaxation step %ld", i + 1, t + 1);
    }
  }
  /* <f(h)>, <E(xi, h)> and the mean of h, each summed in sample order */
  for (int j = 0; j < nh; j++) p->fmean[j] = center[j] = 0;
  double esum = 0;
  memcpy(x, xi, sizeof(double) * (size_t)nv);
  for (int i = 0; i < N && !s; i++) {
    const double *h = p->h + (size_t)i * nh;
    double e;
    memcpy(x + nv, h, sizeof(double) * (size_t)nh);
    if ((s = hid_energy(net, x, &e, w))) break;
    esum += e;
    for (int j = 0; j < nh; j++) {
      p->fmean[j] += w->lg_h[1 + j];
      center[j] += h[j];
    }
  }
  if (!s) {
    for (int j = 0; j < nh; j++) {
      p->fmean[j] /= N;
      center[j] /= N;
    }
    p->E = esum / N;
    if (net->T > 0) {
      s = hid_free_energy(net, xi, center, &p->F, w);
      if (s) flow_msg(p->msg, sizeof p->msg, "the free energy of pattern %d", k + 1);
    } else {
      p->F = p->E;   /* T -> 0: -T ln Z -> min_h E(v, h), where the samples sit */
    }
  }
  free(b);
  if (!s) {
    s = recall_one(c, k, w, x);
    if (s) flow_msg(p->msg, sizeof p->msg, "the recall of pattern %d", k + 1);
  }
  return s;
}

static void rl_body(void *ctx, long lo, long hi, int thread) {
  rl_ctx *c = ctx;
  size_t n = (size_t)c->net->nv + c->net->nh;
  for (long k = lo; k < hi; k++) {
    rl_pattern *p = &c->pat[k];
    p->msg[0] = 0;
    p->status = round_one(c, (int)k, c->ws[thread], c->x + n * thread);
  }
}

int hid_rl_run(hid_net *net, const double *xi, int P, const hid_rl_opts *o, hid_rl_emit emit, void *ctx,
               flow_tick tick, void *tick_ctx, char *err, size_t errlen) {
  int nv = net->nv, nh = net->nh, N = o->samples;
  if (P < 1 || N < 1 || !(o->dt > 0) || o->rounds < 0 || o->relax < 0 || o->recall < 0 || !(o->corrupt >= 0) ||
      o->corrupt > 1 || !isfinite(o->rate) || !(net->T >= 0)) {
    flow_msg(err, errlen, "hidden_hopfield: invalid options");
    return HID_EINVAL;
  }
  if (net->T > 0 && !net->Lh.diagonal) {
    flow_msg(err, errlen, "the free energy needs a separable L_h (a sum of functions of single hidden units)");
    return HID_EINVAL;
  }
  int nt = o->threads > 0 ? o->threads : pool_max_threads();
  if (nt > P) nt = P;
  if (nt < 1) nt = 1;
  int status = HID_OK;
  rl_ctx c = { net, xi, o, NULL, NULL, NULL };
  c.pat = calloc((size_t)P, sizeof *c.pat);
  c.ws = calloc((size_t)nt, sizeof *c.ws);
  c.x = malloc(sizeof(double) * ((size_t)nv + nh) * nt);
  double *dU = malloc(sizeof(double) * (size_t)nv * nh);
  if (!c.pat || !c.ws || !c.x || !dU) status = HID_ENOMEM;
  for (int t = 0; t < nt && !status; t++)
    if (!(c.ws[t] = hid_ws_alloc(net))) status = HID_ENOMEM;
  uint64_t base = rng_split(o->seed, RNG_RUN, 0x6869646465ULL);   /* "hidde" */
  int nflip = (int)floor(o->corrupt * nv + 0.5);
  size_t *idx = malloc(sizeof(size_t) * (size_t)nv), *pick = malloc(sizeof(size_t) * (size_t)(nflip + 1));
  if (!idx || !pick) status = HID_ENOMEM;
  for (int k = 0; k < P && !status; k++) {
    rl_pattern *p = &c.pat[k];
    p->h = malloc(sizeof(double) * (size_t)N * nh);
    p->cue = malloc(sizeof(double) * (size_t)nv);
    p->g = malloc(sizeof(double) * (size_t)nv);
    p->fmean = malloc(sizeof(double) * (size_t)nh);
    p->rng = rng_stream(base, RNG_BLOCK, (uint64_t)k);
    gsl_rng *cr = rng_stream(base, RNG_PARAM, (uint64_t)k);
    if (!p->h || !p->cue || !p->g || !p->fmean || !p->rng || !cr) {
      if (cr) gsl_rng_free(cr);
      status = HID_ENOMEM;
      break;
    }
    /* the cue: the pattern with nflip of its signs flipped, the same every round */
    const double *x = xi + (size_t)k * nv;
    memcpy(p->cue, x, sizeof(double) * (size_t)nv);
    for (int i = 0; i < nv; i++) idx[i] = (size_t)i;
    if (nflip > 0) gsl_ran_choose(cr, pick, (size_t)nflip, idx, (size_t)nv, sizeof(size_t));
    for (int i = 0; i < nflip; i++) p->cue[pick[i]] = -p->cue[pick[i]];
    gsl_rng_free(cr);
    /* the samples start at the mean of q_E(h|xi) for linear f: U' g(xi) */
    int s = call_lg(&net->Lv, x, c.ws[0]->lg_v, c.ws[0]);
    if (s) {
      flow_msg(err, errlen, "L_v at pattern %d: %s", k + 1, hid_strerror(s));
      status = s;
      break;
    }
    ut_times(net, c.ws[0]->lg_v + 1, c.ws[0]->b);
    for (int i = 0; i < N; i++) memcpy(p->h + (size_t)i * nh, c.ws[0]->b, sizeof(double) * (size_t)nh);
  }
  free(idx);
  free(pick);
  if (status == HID_ENOMEM) flow_msg(err, errlen, "hidden_hopfield: out of memory for %d patterns", P);

  for (long r = 0; r <= o->rounds && !status; r++) {
    if (flow_interrupted()) {
      flow_msg(err, errlen, "interrupted at round %ld", r);
      status = HID_EINTR;
      break;
    }
    pool_run(nt, P, 1, rl_body, &c);
    hid_rl_row row = { r, 0, 0, 0, 0, 0 };
    for (int k = 0; k < P && !status; k++) {
      rl_pattern *p = &c.pat[k];
      if (p->status) {
        status = p->status;
        if (status == HID_EINTR) flow_msg(err, errlen, "interrupted at round %ld", r);
        else flow_msg(err, errlen, "round %ld, %s: %s", r, p->msg[0] ? p->msg : "a pattern", hid_strerror(status));
        break;
      }
      row.free_energy += p->F / P;
      row.energy += p->E / P;
      row.overlap += p->overlap / P;
      row.recall_rate += (double)p->recalled / P;
    }
    if (status) break;
    double nu = 0;
    for (size_t i = 0; i < (size_t)nv * nh; i++) nu += net->U[i] * net->U[i];
    row.norm_u = sqrt(nu);
    if (emit && emit(ctx, &row)) {
      flow_msg(err, errlen, "output failed at round %ld", r);
      status = HID_STOPPED;
      break;
    }
    if (tick) tick(tick_ctx, (double)r, r);
    if (r == o->rounds) break;
    /* learn: U += rate * (1/P) sum_k g(xi_k) <f(h)>_k', in pattern order */
    memset(dU, 0, sizeof(double) * (size_t)nv * nh);
    for (int k = 0; k < P; k++) {
      const rl_pattern *p = &c.pat[k];
      for (int i = 0; i < nv; i++) {
        double gi = p->g[i] / P;
        for (int j = 0; j < nh; j++) dU[(size_t)i * nh + j] += gi * p->fmean[j];
      }
    }
    for (size_t i = 0; i < (size_t)nv * nh; i++) net->U[i] += o->rate * dU[i];
    if (!all_finite(net->U, (size_t)nv * nh)) {
      flow_msg(err, errlen, "U became non-finite after round %ld (lower the rate)", r + 1);
      status = HID_ENONFINITE;
    }
  }

  for (int k = 0; c.pat && k < P; k++) {
    rl_pattern *p = &c.pat[k];
    free(p->h);
    free(p->cue);
    free(p->g);
    free(p->fmean);
    if (p->rng) gsl_rng_free(p->rng);
  }
  free(c.pat);
  for (int t = 0; c.ws && t < nt; t++) hid_ws_free(c.ws[t]);
  free(c.ws);
  free(c.x);
  free(dU);
  return status;
}
