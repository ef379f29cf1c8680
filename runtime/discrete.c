/*
** discrete.c — gradient descent, natural-gradient recursion, mirror descent
** and the Bregman divergence of the activation's mirror map (see discrete.h).
** Depends on: flow.h, ode.h (result/emit types), GSL integration (QAGS).
*/
#include "discrete.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct md_buf {
  double *ws, *g, *a, *b;
} md_buf;

static int md_alloc(md_buf *B, const flow_problem *p) {
  size_t n = (size_t)p->n;
  B->ws = malloc((flow_problem_nwork(p) + 1) * sizeof(double));
  B->g = malloc(3 * n * sizeof(double));
  if (!B->ws || !B->g) {
    free(B->ws);
    free(B->g);
    return -1;
  }
  B->a = B->g + n;
  B->b = B->a + n;
  return 0;
}

static void md_release(md_buf *B) {
  free(B->ws);
  free(B->g);
}

static int cb(const flow_fn *f, const double *in, double *out, double *ws) {
  return f->fn ? f->fn(in, NULL, out, ws) : -1;
}

static int first_bad(const double *v, int n) {
  for (int i = 0; i < n; i++)
    if (!isfinite(v[i])) return i;
  return -1;
}

static const char *kind_name(md_kind k) {
  return k == MD_GRADIENT ? "gradient_descent" : k == MD_NATURAL ? "natural_gradient" : "mirror_descent";
}

/* The objective at an output point x: the run file's f column, so a point
** outside f's domain (log of a negative x, where the gradient 1/x is still
** finite) stops the run instead of writing nan.  0, or 3 with a message. */
static int check_objective(const flow_problem *p, md_buf *B, const char *name, const double *x, double t, long k,
                           ode_result *res) {
  double fx;
  if (!p->f.fn) return 0;
  if (p->f.fn(x, NULL, &fx, B->ws))
    snprintf(res->msg, sizeof res->msg, "flow '%s': the objective could not be evaluated at t = %.17g (step %ld)",
             name, t, k);
  else if (!isfinite(fx))
    snprintf(res->msg, sizeof res->msg, "flow '%s': non-finite objective (%s) at t = %.17g (step %ld)", name,
             isnan(fx) ? "nan" : fx > 0 ? "inf" : "-inf", t, k);
  else
    return 0;
  return 3;
}

/* One step of kind k from x into x; B->g holds grad f(x) on entry. */
static int md_step(const flow_problem *p, md_kind k, double h, double *x, md_buf *B) {
  int n = p->n;
  switch (k) {
  case MD_GRADIENT:
    for (int i = 0; i < n; i++) x[i] -= h * B->g[i];
    return 0;
  case MD_NATURAL:
    if (p->metric_diagonal) {
      if (p->metric_inv.fn) {
        if (cb(&p->metric_inv, x, B->a, B->ws)) return -1;
      } else if (p->metric.fn) {
        if (cb(&p->metric, x, B->a, B->ws)) return -1;
        for (int i = 0; i < n; i++) B->a[i] = 1.0 / B->a[i];
      } else {
        if (cb(&p->act_inv, x, B->b, B->ws) || cb(&p->act_d, B->b, B->a, B->ws)) return -1;
      }
      for (int i = 0; i < n; i++) x[i] -= h * B->a[i] * B->g[i];
      return 0;
    } else {
      double *M = malloc((size_t)n * n * sizeof(double));
      if (!M || cb(&p->metric_inv, x, M, B->ws)) {
        free(M);
        return -1;
      }
      for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < n; j++) s += M[i * n + j] * B->g[j];
        B->a[i] = s;
      }
      for (int i = 0; i < n; i++) x[i] -= h * B->a[i];
      free(M);
      return 0;
    }
  case MD_MIRROR:
    if (cb(&p->act_inv, x, B->a, B->ws)) return -1;
    for (int i = 0; i < n; i++) B->a[i] -= h * B->g[i];
    return cb(&p->act, B->a, x, B->ws);
  }
  return -1;
}

/* One output point; errno from 0, so a failed write's reason is its own. */
static int put(ode_emit emit, void *ctx, double t, long k, const double *x, int n) {
  errno = 0;
  return emit(ctx, t, k, x, n);
}

int md_run(const flow_problem *p, md_kind kind, const char *name, double h, long nsteps,
           double *x, double grad_tol, long out_every, ode_emit emit, flow_tick tick, void *ctx,
           ode_result *res) {
  memset(res, 0, sizeof *res);
  res->grad_norm = NAN;
  if (!name) name = kind_name(kind);
  int n = p->n;
  const char *bad = NULL;
  if (n < 1 || !p->grad.fn) bad = "needs a gradient";
  else if (kind == MD_MIRROR && !(p->act.fn && p->act_inv.fn)) bad = "needs a mirror map (activation and inverse)";
  else if (kind == MD_NATURAL && !p->metric_inv.fn && !p->metric.fn && !(p->act_d.fn && p->act_inv.fn))
    bad = "needs a metric";
  else if (kind == MD_NATURAL && !p->metric_diagonal && !p->metric_inv.fn) bad = "needs the inverse metric";
  else if (!(h > 0) || nsteps < 0) bad = "needs a positive step";
  if (bad) {
    res->reason = ODE_STOP_ERROR;
    snprintf(res->msg, sizeof res->msg, "flow '%s': %s", name, bad);
    return 2;
  }
  md_buf B;
  if (md_alloc(&B, p)) {
    res->reason = ODE_STOP_ERROR;
    snprintf(res->msg, sizeof res->msg, "flow '%s': out of memory", name);
    return 3;
  }
  int st = 0;
  long k = 0;
  res->reason = ODE_STOP_TIME;
  int b = first_bad(x, n);
  if (b >= 0) {
    snprintf(res->msg, sizeof res->msg, "flow '%s': non-finite start in component x%d", name, b + 1);
    goto fail;
  }
  if (emit && check_objective(p, &B, name, x, 0.0, 0, res)) goto fail;
  if (emit && put(emit, ctx, 0.0, 0, x, n)) goto emit_failed;
  for (;;) {
    double t = (double)k * h;
    if (cb(&p->grad, x, B.g, B.ws)) {
      snprintf(res->msg, sizeof res->msg, "flow '%s': the gradient could not be evaluated at step %ld", name, k);
      goto fail;
    }
    b = first_bad(B.g, n);
    if (b >= 0) {
      snprintf(res->msg, sizeof res->msg, "flow '%s': non-finite gradient at t = %.17g (step %ld) in component x%d",
               name, t, k, b + 1);
      goto fail;
    }
    if (grad_tol > 0) {
      double a = 0;
      for (int i = 0; i < n; i++) a += B.g[i] * B.g[i];
      res->grad_norm = sqrt(a);
      if (res->grad_norm < grad_tol) {
        res->reason = ODE_STOP_GRAD;
        if (emit && (out_every <= 0 || k % out_every) && k > 0) {
          if (check_objective(p, &B, name, x, t, k, res)) goto fail;
          if (put(emit, ctx, t, k, x, n)) goto emit_failed;
        }
        break;
      }
    }
    if (k >= nsteps) break;
    if (md_step(p, kind, h, x, &B)) {
      snprintf(res->msg, sizeof res->msg, "flow '%s': a callback failed at step %ld", name, k);
      goto fail;
    }
    k++;
    b = first_bad(x, n);
    if (b >= 0) {
      snprintf(res->msg, sizeof res->msg, "flow '%s': non-finite state at t = %.17g (step %ld) in component x%d",
               name, (double)k * h, k, b + 1);
      goto fail;
    }
    res->steps = k;
    res->t = (double)k * h;
    if ((k & (FLOW_TICK_STEPS - 1)) == 0) {
      if (tick) tick(ctx, res->t, k);
      if (flow_interrupted()) {
        snprintf(res->msg, sizeof res->msg, "flow '%s': interrupted at step %ld", name, k);
        res->reason = ODE_STOP_INTERRUPT;
        md_release(&B);
        return 3;
      }
    }
    if (emit && ((out_every > 0 && k % out_every == 0) || k == nsteps)) {
      if (check_objective(p, &B, name, x, res->t, k, res)) goto fail;
      if (put(emit, ctx, res->t, k, x, n)) goto emit_failed;
    }
  }
  md_release(&B);
  return st;
emit_failed:
  snprintf(res->msg, sizeof res->msg, "flow '%s': output failed at step %ld%s%s", name, k, errno ? ": " : "",
           errno ? strerror(errno) : "");
  res->reason = ODE_STOP_EMIT;
  md_release(&B);
  return 3;
fail:
  res->reason = ODE_STOP_ERROR;
  md_release(&B);
  return 3;
}

int md_mirror_map(const flow_problem *p, const double *x, double *z) {
  md_buf B;
  if (!p->act_inv.fn || md_alloc(&B, p)) return -1;
  int r = cb(&p->act_inv, x, z, B.ws) || first_bad(z, p->n) >= 0;
  md_release(&B);
  return r;
}

int md_mirror_inv(const flow_problem *p, const double *z, double *x) {
  md_buf B;
  if (!p->act.fn || md_alloc(&B, p)) return -1;
  int r = cb(&p->act, z, x, B.ws) || first_bad(x, p->n) >= 0;
  md_release(&B);
  return r;
}

/* Quadrature of component i of s^-1 minus a constant: the callback is
** vector-valued, so the other components are held at a fixed point. */
typedef struct quad_ctx {
  const flow_problem *p;
  md_buf *B;
  int i, failed;
  double shift;
} quad_ctx;

static double quad_f(double t, void *v) {
  quad_ctx *q = v;
  q->B->a[q->i] = t;
  if (cb(&q->p->act_inv, q->B->a, q->B->b, q->B->ws) || !isfinite(q->B->b[q->i])) {
    q->failed = 1;
    return 0;
  }
  return q->B->b[q->i] - q->shift;
}

/* integral_{lo}^{hi} (s_i^-1(t) - shift) dt into *out; a holds the frozen point. */
static int quad(const flow_problem *p, md_buf *B, int i, double lo, double hi, double shift,
                gsl_integration_workspace *W, double *out) {
  quad_ctx q = { p, B, i, 0, shift };
  gsl_function F = { quad_f, &q };
  double err;
  *out = 0;
  if (lo == hi) return 0;
  int st = gsl_integration_qags(&F, lo, hi, 1e-15, 1e-12, 200, W, out, &err);
  return st != GSL_SUCCESS || q.failed || !isfinite(*out);
}

int md_potential(const flow_problem *p, const double *x, double *psi) {
  md_buf B;
  int n = p->n, r = 0;
  if (md_alloc(&B, p)) return -1;
  *psi = 0;
  if (p->mirror_pot.fn) {
    r = cb(&p->mirror_pot, x, B.a, B.ws);
    for (int i = 0; !r && i < n; i++) *psi += B.a[i];
  } else if (p->act_inv.fn) {
    gsl_integration_workspace *W = gsl_integration_workspace_alloc(200);
    r = !W;
    for (int i = 0; !r && i < n; i++) {
      double v;
      for (int j = 0; j < n; j++) B.a[j] = 0.5;
      r = quad(p, &B, i, 0.5, x[i], 0.0, W, &v);
      *psi += v;
    }
    gsl_integration_workspace_free(W);
  } else {
    r = -1;
  }
  md_release(&B);
  return r || !isfinite(*psi);
}

int md_bregman(const flow_problem *p, const double *x, const double *y, double *d) {
  md_buf B;
  int n = p->n, r = 0;
  if (!p->act_inv.fn || md_alloc(&B, p)) return -1;
  *d = 0;
  if (cb(&p->act_inv, y, B.g, B.ws) || first_bad(B.g, n) >= 0) {
    md_release(&B);
    return -1;
  }
  if (p->mirror_pot.fn) {
    /* closed form: psi(x) - psi(y) - <s^-1(y), x - y> */
    r = cb(&p->mirror_pot, x, B.a, B.ws) || cb(&p->mirror_pot, y, B.b, B.ws);
    for (int i = 0; !r && i < n; i++) *d += B.a[i] - B.b[i] - B.g[i] * (x[i] - y[i]);
  } else {
    gsl_integration_workspace *W = gsl_integration_workspace_alloc(200);
    r = !W;
    for (int i = 0; !r && i < n; i++) {
      double v;
      memcpy(B.a, y, (size_t)n * sizeof(double));
      r = quad(p, &B, i, y[i], x[i], B.g[i], W, &v);
      *d += v;
    }
    gsl_integration_workspace_free(W);
  }
  md_release(&B);
  return r || !isfinite(*d);
}
