/*
** sde.c — Euler-Maruyama / Milstein particle integrator of the diffusion
** machine (45) with box boundaries, block-wise random streams and monitors.
** See sde.h for the contract.
**
** One step of particle x (w = G^-1 at x, d = div G^-1 at x, Z ~ N(0, I)):
**   EM:       x' = x + (-w grad f + T d) h + sqrt(2T h) S Z,  S S' = w
**   Milstein: x'_i = EM_i + (T/2) d_i (h Z_i^2 - h)   (diagonal w, w_i(x_i))
** The Milstein term is (1/2) sigma_i sigma_i' (dW_i^2 - h) with
** sigma_i = sqrt(2T w_i): sigma_i sigma_i' = 2T w_i'/2 = T d_i w_i, and
** d_i w_i = (div G^-1)_i exactly when w_i depends on x_i only (checked).
** For a full metric S is the Cholesky factor of G^-1: S Z has the law of
** G^-1/2 Z, so the EM increments (and the weak solution) are the same.
** When the problem has a `field` (the general mobility of kind_mobility.c,
** docs/mobility.md), the drift is that callback whole and metric_inv is
** only the noise's covariance (/2T): x' = x + field(x) h + sqrt(2T h) S Z.
*/
#include "sde.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "rng.h"

#include "pool.h"
#include "par.h"

typedef struct blk_err {
  int status;
  int particle;          /* 0-based */
  char msg[256];
} blk_err;

struct sde_ws {
  flow_problem p;
  sde_opts o;
  int N, n, nblocks, nthreads;
  int diag;              /* metric_inv returns n entries */
  int euclid;            /* no metric_inv */
  int milstein_checked;
  long step;             /* the last step taken (for the monitor's messages) */
  double *lo, *hi;       /* NULL when unbounded */
  size_t nwork, per_thread;
  double *scratch;       /* nthreads * per_thread */
  gsl_rng **rng;         /* nblocks */
  blk_err *berr;         /* nblocks */
  char *absorbed;        /* N */
  double *fval;          /* N, monitor */
  long b0, b1;           /* the blocks this process steps (par.h; all of them in one process) */
  int dist;              /* 1: the other blocks come from the other processes */
};

void sde_opts_default(sde_opts *o) {
  memset(o, 0, sizeof *o);
  o->T = 1;
  o->h = 1e-3;
  o->steps = 1000;
  o->every = 100;
  o->scheme = SDE_EM;
  o->boundary = SDE_BOUNDARY_NONE;
  o->include_divergence = 1;
  o->seed = 1;
  o->threads = 0;
  o->monitor_f = 1;
}

const char *sde_strerror(int s) {
  switch (s) {
  case SDE_OK: return "ok";
  case SDE_STOPPED: return "stopped by the output callback";
  case SDE_EINVAL: return "invalid options or missing callbacks";
  case SDE_ENOMEM: return "out of memory";
  case SDE_ECALLBACK: return "a callback failed";
  case SDE_EDOMAIN: return "a particle left the domain";
  case SDE_ENONFINITE: return "a particle became non-finite";
  case SDE_EMETRIC: return "the inverse metric is not positive semidefinite";
  case SDE_EINTR: return "interrupted";
  default: return "unknown status";
  }
}

/* Print v with the fewest digits (>= 6) that tell it apart from bound b. */
static void fmt_apart(char *buf, size_t len, double v, double b) {
  char bb[64];
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(buf, len, "%.*g", prec, v);
    snprintf(bb, sizeof bb, "%.*g", prec, b);
    if (strcmp(buf, bb) != 0) return;
  }
}

void sde_ws_free(sde_ws *w) {
  if (!w) return;
  if (w->rng)
    for (int b = 0; b < w->nblocks; b++) gsl_rng_free(w->rng[b]);
  free(w->rng);
  free(w->berr);
  free(w->absorbed);
  free(w->fval);
  free(w->scratch);
  free(w->lo);
  free(w->hi);
  free(w);
}

sde_ws *sde_ws_alloc(const flow_problem *p, const sde_opts *o, int N, char *err, size_t errlen) {
  if (!p || !o || N < 1 || p->n < 1) {
    flow_msg(err, errlen, "diffusion: need at least one particle and dimension >= 1");
    return NULL;
  }
  int n = p->n;
  if (!p->grad.fn && !p->field.fn) {
    flow_msg(err, errlen, "diffusion: the gradient of f is not available");
    return NULL;
  }
  if (!(o->h > 0) || !isfinite(o->h) || !(o->T >= 0) || !isfinite(o->T) || o->steps < 0) {
    flow_msg(err, errlen, "diffusion: need h > 0, T >= 0 and steps >= 0 (h = %g, T = %g, steps = %ld)",
        o->h, o->T, o->steps);
    return NULL;
  }
  if (p->metric_inv.fn && !p->field.fn && o->include_divergence && !p->div_metric_inv.fn) {
    flow_msg(err, errlen, "diffusion: a metric needs its divergence div(G^-1) for the drift term");
    return NULL;
  }
  if (o->scheme == SDE_MILSTEIN && p->metric_inv.fn) {
    if (!p->metric_diagonal || p->field.fn) {
      flow_msg(err, errlen, "diffusion: Milstein needs diagonal noise (a diagonal metric)");
      return NULL;
    }
    if (!p->div_metric_inv.fn) {
      flow_msg(err, errlen, "diffusion: Milstein needs div(G^-1) (= d_i (G^-1)_ii)");
      return NULL;
    }
  }
  if (o->scheme != SDE_EM && o->scheme != SDE_MILSTEIN) {
    flow_msg(err, errlen, "diffusion: unknown scheme %d", (int)o->scheme);
    return NULL;
  }
  if (o->boundary < SDE_BOUNDARY_NONE || o->boundary > SDE_PERIODIC) {
    flow_msg(err, errlen, "diffusion: unknown boundary kind %d", (int)o->boundary);
    return NULL;
  }
  if ((o->lo == NULL) != (o->hi == NULL)) {
    flow_msg(err, errlen, "diffusion: the box needs both lo and hi");
    return NULL;
  }
  if (o->boundary != SDE_BOUNDARY_NONE && !o->lo) {
    flow_msg(err, errlen, "diffusion: a boundary rule needs a box");
    return NULL;
  }
  if (o->lo)
    for (int i = 0; i < n; i++) {
      if (!(o->lo[i] < o->hi[i]) || isnan(o->lo[i]) || isnan(o->hi[i])) {
        flow_msg(err, errlen, "diffusion: empty box in coordinate x%d: [%g, %g]", i + 1, o->lo[i], o->hi[i]);
        return NULL;
      }
      if (o->boundary == SDE_PERIODIC && !(isfinite(o->lo[i]) && isfinite(o->hi[i]))) {
        flow_msg(err, errlen, "diffusion: a periodic boundary needs a finite box (x%d)", i + 1);
        return NULL;
      }
    }

  sde_ws *w = calloc(1, sizeof *w);
  if (!w) goto nomem;
  w->p = *p;
  w->o = *o;
  w->N = N;
  w->n = n;
  w->nblocks = (N + SDE_BLOCK - 1) / SDE_BLOCK;
  w->euclid = p->metric_inv.fn == NULL;
  w->diag = !w->euclid && p->metric_diagonal;
  w->nthreads = o->threads > 0 ? o->threads : pool_max_threads();
  w->dist = par_active();
  par_share(w->nblocks, &w->b0, &w->b1);
  if (w->nthreads < 1) w->nthreads = 1;
  if (w->nthreads > w->nblocks) w->nthreads = w->nblocks;
  w->nwork = flow_problem_nwork(p);
  /* x, grad, div, drift, z (n each), metric and factor (n*n each) */
  w->per_thread = w->nwork + 5 * (size_t)n + 2 * (size_t)n * n;
  w->scratch = malloc(sizeof(double) * w->per_thread * (size_t)w->nthreads);
  w->rng = calloc((size_t)w->nblocks, sizeof *w->rng);
  w->berr = calloc((size_t)w->nblocks, sizeof *w->berr);
  w->absorbed = calloc((size_t)N, 1);
  w->fval = malloc(sizeof(double) * (size_t)N);
  if (!w->scratch || !w->rng || !w->berr || !w->absorbed || !w->fval) goto nomem;
  if (o->lo) {
    w->lo = malloc(sizeof(double) * (size_t)n);
    w->hi = malloc(sizeof(double) * (size_t)n);
    if (!w->lo || !w->hi) goto nomem;
    memcpy(w->lo, o->lo, sizeof(double) * (size_t)n);
    memcpy(w->hi, o->hi, sizeof(double) * (size_t)n);
  }
  w->o.lo = w->lo;
  w->o.hi = w->hi;
  for (int b = 0; b < w->nblocks; b++)
    if (!(w->rng[b] = rng_stream(o->seed, RNG_BLOCK, (uint64_t)b))) goto nomem;
  return w;
nomem:
  sde_ws_free(w);
  flow_msg(err, errlen, "diffusion: out of memory for %d particles", N);
  return NULL;
}

int sde_ws_absorbed(const sde_ws *w, int i) {
  return w && i >= 0 && i < w->N ? w->absorbed[i] : 0;
}

/* Lower Cholesky factor of a symmetric PSD matrix in place (upper part
** zeroed).  Zero pivots (to rounding) give zero columns: PSD is allowed. */
static int cholesky_psd(double *a, int n) {
  for (int j = 0; j < n; j++) {
    double s = a[j * n + j];
    for (int k = 0; k < j; k++) s -= a[j * n + k] * a[j * n + k];
    double scale = fabs(a[j * n + j]) + 1e-300;
    if (s < -1e-12 * scale) return -1;
    double d = s > 0 ? sqrt(s) : 0;
    a[j * n + j] = d;
    for (int i = j + 1; i < n; i++) {
      double t = a[i * n + j];
      for (int k = 0; k < j; k++) t -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = d > 0 ? t / d : 0;
    }
    for (int i = 0; i < j; i++) a[i * n + j] = 0;
  }
  return 0;
}

static int all_finite(const double *v, size_t m) {
  for (size_t i = 0; i < m; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

/* Apply the boundary rule to particle i (0-based) at x (n).  0 or status. */
static int boundary(sde_ws *w, int i, double *x, long step, blk_err *e) {
  int n = w->n;
  for (int k = 0; k < n; k++) {
    if (!isfinite(x[k])) {
      e->status = SDE_ENONFINITE;
      snprintf(e->msg, sizeof e->msg, "particle %d became non-finite at step %ld: x%d = %g", i + 1,
               step, k + 1, x[k]);
      return e->status;
    }
  }
  if (!w->lo) return 0;
  for (int k = 0; k < n; k++) {
    double lo = w->lo[k], hi = w->hi[k], v = x[k];
    if (v >= lo && v <= hi) continue;
    switch (w->o.boundary) {
    case SDE_BOUNDARY_NONE: {
      char vb[64];
      fmt_apart(vb, sizeof vb, v, v < lo ? lo : hi);
      e->status = SDE_EDOMAIN;
      snprintf(e->msg, sizeof e->msg, "particle %d left the domain at step %ld: x%d = %s %s %g",
               i + 1, step, k + 1, vb, v < lo ? "<" : ">", v < lo ? lo : hi);
      return e->status;
    }
    case SDE_REFLECT:
      if (isfinite(lo) && isfinite(hi)) {
        double L = hi - lo, y = fmod(v - lo, 2 * L);
        if (y < 0) y += 2 * L;
        if (y > L) y = 2 * L - y;
        v = lo + y;
        if (v < lo) v = lo; /* rounding */
        if (v > hi) v = hi;
      } else if (v < lo) {
        v = 2 * lo - v;
      } else {
        v = 2 * hi - v;
      }
      x[k] = v;
      break;
    case SDE_PERIODIC: {
      double L = hi - lo, y = fmod(v - lo, L);
      if (y < 0) y += L;
      v = lo + y;
      if (v >= hi) v = lo; /* y + L rounded up to L */
      x[k] = v;
      break;
    }
    case SDE_ABSORB:
      x[k] = v < lo ? lo : hi;
      w->absorbed[i] = 1;
      break;
    }
  }
  return 0;
}

static void cb_fail(blk_err *e, int status, int i, long step, const char *what, const char *why) {
  e->status = status;
  snprintf(e->msg, sizeof e->msg, "particle %d at step %ld: %s %s", i + 1, step, what, why);
}

/* One step of particle i from xo to xn (n each; may alias). */
static int step_one(sde_ws *w, int i, const double *xo, double *xn, gsl_rng *r, double *sc,
                    long step, blk_err *e) {
  int n = w->n;
  const flow_problem *p = &w->p;
  double T = w->o.T, h = w->o.h;
  double *ws = sc, *x = ws + w->nwork, *g = x + n, *d = g + n, *b = d + n, *z = b + n;
  double *G = z + n, *S = G + (size_t)n * n;
  memcpy(x, xo, sizeof(double) * (size_t)n);
  if (w->absorbed[i]) {
    memmove(xn, x, sizeof(double) * (size_t)n);
    return 0;
  }
  if (p->field.fn) {
    if (p->field.fn(x, NULL, b, ws) || !all_finite(b, (size_t)n)) {
      cb_fail(e, SDE_ECALLBACK, i, step, "the drift", "could not be evaluated (or is not finite)");
      return e->status;
    }
  } else if (p->grad.fn(x, NULL, g, ws) || !all_finite(g, (size_t)n)) {
    cb_fail(e, SDE_ECALLBACK, i, step, "the gradient of f", "could not be evaluated (or is not finite)");
    return e->status;
  }
  int nm = w->euclid ? 0 : w->diag ? n : n * n;
  if (nm && (p->metric_inv.fn(x, NULL, G, ws) || !all_finite(G, (size_t)nm))) {
    cb_fail(e, SDE_ECALLBACK, i, step, "the inverse metric", "could not be evaluated (or is not finite)");
    return e->status;
  }
  int need_div = !w->euclid && !p->field.fn && (w->o.include_divergence || w->o.scheme == SDE_MILSTEIN);
  if (need_div && (p->div_metric_inv.fn(x, NULL, d, ws) || !all_finite(d, (size_t)n))) {
    cb_fail(e, SDE_ECALLBACK, i, step, "div(G^-1)", "could not be evaluated (or is not finite)");
    return e->status;
  }
  /* drift (composed unless the problem gives it whole) */
  for (int k = 0; k < n && !p->field.fn; k++) {
    double v;
    if (w->euclid) v = -g[k];
    else if (w->diag) v = -G[k] * g[k];
    else {
      v = 0;
      for (int j = 0; j < n; j++) v -= G[k * n + j] * g[j];
    }
    if (!w->euclid && w->o.include_divergence) v += T * d[k];
    b[k] = v;
  }
  for (int k = 0; k < n; k++) z[k] = gsl_ran_gaussian_ziggurat(r, 1.0);
  double c = sqrt(2 * T * h);
  if (w->euclid) {
    for (int k = 0; k < n; k++) xn[k] = x[k] + b[k] * h + c * z[k];
  } else if (w->diag) {
    for (int k = 0; k < n; k++) {
      if (G[k] < 0) {
        e->status = SDE_EMETRIC;
        snprintf(e->msg, sizeof e->msg,
                 "particle %d at step %ld: (G^-1)_%d%d = %g < 0 at x%d = %g (the noise needs G^-1 >= 0)",
                 i + 1, step, k + 1, k + 1, G[k], k + 1, x[k]);
        return e->status;
      }
      double v = x[k] + b[k] * h + c * sqrt(G[k]) * z[k];
      if (w->o.scheme == SDE_MILSTEIN) v += 0.5 * T * d[k] * h * (z[k] * z[k] - 1);
      xn[k] = v;
    }
  } else {
    memcpy(S, G, sizeof(double) * (size_t)n * n);
    if (cholesky_psd(S, n)) {
      e->status = SDE_EMETRIC;
      snprintf(e->msg, sizeof e->msg, "particle %d at step %ld: %s is not positive semidefinite", i + 1, step,
               p->field.fn ? "the symmetric part of the mobility" : "G^-1");
      return e->status;
    }
    for (int k = 0; k < n; k++) {
      double s = 0;
      for (int j = 0; j <= k; j++) s += S[k * n + j] * z[j];
      xn[k] = x[k] + b[k] * h + c * s;
    }
  }
  return boundary(w, i, xn, step, e);
}

int sde_check_milstein(const flow_problem *p, const double *x0, double *ws, char *err, size_t errlen) {
  if (!p->metric_inv.fn) return 0; /* constant (Euclidean) noise: Milstein = EM */
  if (!p->metric_diagonal || !p->div_metric_inv.fn) {
    flow_msg(err, errlen, "diffusion: Milstein needs a diagonal metric and div(G^-1)");
    return SDE_EINVAL;
  }
  int n = p->n;
  size_t nw = flow_problem_nwork(p);
  double *x = ws + nw, *wp = x + n, *wm = wp + n, *d = wm + n;
  memcpy(x, x0, sizeof(double) * (size_t)n);
  if (p->div_metric_inv.fn(x, NULL, d, ws)) {
    flow_msg(err, errlen, "diffusion: div(G^-1) could not be evaluated");
    return SDE_ECALLBACK;
  }
  for (int j = 0; j < n; j++) {
    double dl = 1e-6 * (1 + fabs(x0[j]));
    x[j] = x0[j] + dl;
    int rc = p->metric_inv.fn(x, NULL, wp, ws);
    x[j] = x0[j] - dl;
    rc |= p->metric_inv.fn(x, NULL, wm, ws);
    x[j] = x0[j];
    if (rc) {
      flow_msg(err, errlen, "diffusion: G^-1 could not be evaluated near the initial point");
      return SDE_ECALLBACK;
    }
    for (int k = 0; k < n; k++) {
      double fd = (wp[k] - wm[k]) / (2 * dl);
      double scale = 1 + fabs(wp[k]) + fabs(wm[k]);
      if (k != j && fabs(fd) > 1e-6 * scale) {
        flow_msg(err, errlen,
            "diffusion: Milstein assumes (G^-1)_%d%d depends on x%d only, but its derivative in x%d is %g",
            k + 1, k + 1, k + 1, j + 1, fd);
        return SDE_EINVAL;
      }
      if (k == j && fabs(fd - d[k]) > 1e-5 * (scale + fabs(d[k]))) {
        flow_msg(err, errlen,
            "diffusion: Milstein assumes d_%d (G^-1)_%d%d = (div G^-1)_%d, but %g != %g", k + 1,
            k + 1, k + 1, k + 1, fd, d[k]);
        return SDE_EINVAL;
      }
    }
  }
  return 0;
}

static double *thread_scratch(sde_ws *w, int thread) { return w->scratch + (size_t)thread * w->per_thread; }

/* The first error in particle order (deterministic for any thread count). */
static int collect(sde_ws *w, char *err, size_t errlen) {
  for (int b = 0; b < w->nblocks; b++)
    if (w->berr[b].status) {
      flow_msg(err, errlen, "%s", w->berr[b].msg);
      return w->berr[b].status;
    }
  return 0;
}

/* The message of the first failed block. */
static const char *first_msg(const sde_ws *w) {
  for (int b = 0; b < w->nblocks; b++)
    if (w->berr[b].status) return w->berr[b].msg;
  return "";
}

typedef struct {
  sde_ws *w;
  const double *x_old;
  double *x_new;
  long step;
} step_job;

/* One past the last particle of block b. */
static int block_end(const sde_ws *w, long b) {
  return (int)(b + 1) * SDE_BLOCK < w->N ? (int)(b + 1) * SDE_BLOCK : w->N;
}

/* Blocks lo..hi-1 of particles, each with its own random stream. */
static void step_blocks(void *ctx, long lo, long hi, int thread) {
  step_job *J = ctx;
  sde_ws *w = J->w;
  int n = w->n;
  double *sc = thread_scratch(w, thread);
  for (long b = lo + w->b0; b < hi + w->b0; b++) {
    for (int i = (int)b * SDE_BLOCK, i1 = block_end(w, b); i < i1; i++) {
      size_t off = (size_t)i * n;
      if (step_one(w, i, J->x_old + off, J->x_new + off, w->rng[b], sc, J->step, &w->berr[b])) {
        w->berr[b].particle = i;
        break;
      }
    }
  }
}

int sde_ws_step(sde_ws *w, const double *x_old, double *x_new, long step, char *err, size_t errlen) {
  int n = w->n;
  if (flow_interrupted()) {   /* a step of the cloud is long enough to test every time */
    flow_msg(err, errlen, "interrupted at step %ld", step);
    return SDE_EINTR;
  }
  if (w->o.scheme == SDE_MILSTEIN && !w->milstein_checked) {
    int m = w->N < 4 ? w->N : 4;
    for (int i = 0; i < m; i++) {
      int rc = sde_check_milstein(&w->p, x_old + (size_t)i * n, w->scratch, err, errlen);
      if (rc) return rc;
    }
    w->milstein_checked = 1;
  }
  for (int b = 0; b < w->nblocks; b++) w->berr[b].status = 0;
  step_job J = { w, x_old, x_new, step };
  pool_run(w->nthreads, w->b1 - w->b0, 0, step_blocks, &J);
  w->step = step;
  int rc = collect(w, err, errlen);
  if (!w->dist) return rc;
  /* every process gets the whole cloud; the first error in particle order
  ** is the lowest failing rank's first */
  rc = par_gather_upto(x_new, w->nblocks, sizeof(double) * SDE_BLOCK * (size_t)n, sizeof(double) * (size_t)w->N * n,
                       rc, err, errlen);
  if (!rc && w->o.boundary == SDE_ABSORB)
    rc = par_gather_upto(w->absorbed, w->nblocks, SDE_BLOCK, (size_t)w->N, 0, err, errlen);
  return rc;
}

/* f at the particles of blocks lo..hi-1 (J->x_old: the cloud). */
static void f_blocks(void *ctx, long lo, long hi, int thread) {
  step_job *J = ctx;
  sde_ws *w = J->w;
  int n = w->n;
  double *sc = thread_scratch(w, thread), *xx = sc + w->nwork;
  for (long b = lo + w->b0; b < hi + w->b0; b++) {
    for (int i = (int)b * SDE_BLOCK, i1 = block_end(w, b); i < i1; i++) {
      memcpy(xx, J->x_old + (size_t)i * n, sizeof(double) * (size_t)n);
      double *fi = &w->fval[i];
      int failed = w->p.f.fn(xx, NULL, fi, sc);
      if (failed || !isfinite(*fi)) {
        /* f is the run file's f column and the monitor's f_mean: a particle
        ** outside f's domain (log of a negative x, where the gradient 1/x is
        ** still finite) stops the run instead of writing nan */
        w->berr[b].status = SDE_ECALLBACK;
        w->berr[b].particle = i;
        snprintf(w->berr[b].msg, sizeof w->berr[b].msg, "particle %d at step %ld: f %s", i + 1, J->step,
                 failed ? "could not be evaluated" : isnan(*fi) ? "is not finite (nan)"
                 : *fi > 0 ? "is not finite (inf)" : "is not finite (-inf)");
        break;
      }
    }
  }
}

int sde_ws_monitor(sde_ws *w, const double *x, double *mean, double *cov, sde_monitor *m) {
  int N = w->N, n = w->n;
  for (int k = 0; k < n; k++) {
    double s = 0;
    for (int i = 0; i < N; i++) s += x[(size_t)i * n + k];
    mean[k] = s / N;
  }
  for (int k = 0; k < n; k++)
    for (int l = k; l < n; l++) {
      double s = 0;
      for (int i = 0; i < N; i++) s += (x[(size_t)i * n + k] - mean[k]) * (x[(size_t)i * n + l] - mean[l]);
      cov[k * n + l] = cov[l * n + k] = N > 1 ? s / (N - 1) : 0;
    }
  m->n = n;
  m->mean = mean;
  m->cov = cov;
  m->f_mean = NAN;
  m->absorbed = 0;
  for (int i = 0; i < N; i++) m->absorbed += w->absorbed[i];
  for (int b = 0; b < w->nblocks; b++) w->berr[b].status = 0;
  /* finite particles can still overflow the sums (|x| near 1e154 and up) */
  if (!all_finite(mean, (size_t)n) || !all_finite(cov, (size_t)n * n)) {
    w->berr[0].status = SDE_ENONFINITE;
    snprintf(w->berr[0].msg, sizeof w->berr[0].msg, "the mean or covariance of the cloud overflows at step %ld",
             w->step);
    return SDE_ENONFINITE;
  }
  if (!w->p.f.fn || !w->o.monitor_f) return 0;
  step_job J = { w, x, NULL, w->step };
  pool_run(w->nthreads, w->b1 - w->b0, 0, f_blocks, &J);
  int rc = collect(w, NULL, 0);
  if (w->dist) {
    char msg[sizeof w->berr[0].msg];
    snprintf(msg, sizeof msg, "%s", rc ? first_msg(w) : "");
    if ((rc = par_gather_upto(w->fval, w->nblocks, sizeof(double) * SDE_BLOCK, sizeof(double) * (size_t)N, rc, msg,
                              sizeof msg))) {
      /* the caller reads the message from the blocks (collect) */
      w->berr[0].status = rc;
      snprintf(w->berr[0].msg, sizeof w->berr[0].msg, "%s", msg);
    }
  }
  if (rc) return rc;
  double s = 0;
  for (int i = 0; i < N; i++) s += w->fval[i];
  m->f_mean = s / N;
  if (!isfinite(m->f_mean)) {
    w->berr[0].status = SDE_ENONFINITE;
    snprintf(w->berr[0].msg, sizeof w->berr[0].msg, "the mean of f over the cloud overflows at step %ld", w->step);
    return SDE_ENONFINITE;
  }
  return 0;
}

int sde_run(const flow_problem *p, const sde_opts *o, int N, double *x, sde_emit_fn emit, void *ctx,
            char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  sde_ws *w = sde_ws_alloc(p, o, N, err, errlen);
  if (!w) return SDE_EINVAL;
  int n = w->n, rc = 0;
  double *mean = NULL, *cov = NULL;
  /* initial cloud inside the box */
  if (w->lo)
    for (int i = 0; i < N && !rc; i++)
      for (int k = 0; k < n; k++) {
        double v = x[(size_t)i * n + k];
        if (!(v >= w->lo[k] && v <= w->hi[k])) {
          flow_msg(err, errlen, "particle %d starts outside the domain: x%d = %g not in [%g, %g]", i + 1,
              k + 1, v, w->lo[k], w->hi[k]);
          rc = SDE_EDOMAIN;
          break;
        }
      }
  for (int i = 0; i < N && !rc; i++)
    for (int k = 0; k < n; k++)
      if (!isfinite(x[(size_t)i * n + k])) {
        flow_msg(err, errlen, "particle %d starts non-finite: x%d = %g", i + 1, k + 1, x[(size_t)i * n + k]);
        rc = SDE_ENONFINITE;
        break;
      }
  if (rc) goto done;
  if (emit) {
    mean = malloc(sizeof(double) * (size_t)n);
    cov = malloc(sizeof(double) * (size_t)n * n);
    if (!mean || !cov) {
      flow_msg(err, errlen, "diffusion: out of memory");
      rc = SDE_ENOMEM;
      goto done;
    }
  }
  for (long k = 0; k <= o->steps; k++) {
    if (k > 0 && (rc = sde_ws_step(w, x, x, k, err, errlen))) goto done;
    int out = k == 0 || k == o->steps || (o->every > 0 && k % o->every == 0);
    if (emit && out) {
      sde_monitor m;
      if ((rc = sde_ws_monitor(w, x, mean, cov, &m))) {
        collect(w, err, errlen);
        goto done;
      }
      errno = 0;
      if (emit(ctx, k, k * o->h, x, N, n, &m)) {
        flow_msg(err, errlen, "output failed at step %ld%s%s", k, errno ? ": " : "", errno ? strerror(errno) : "");
        rc = SDE_STOPPED;
        goto done;
      }
    }
  }
done:
  free(mean);
  free(cov);
  sde_ws_free(w);
  return rc;
}
