/*
** ode.c — time integration of gradient flows (see ode.h).
**
** Layout: the flow system (right-hand side and exact Jacobian for the three
** flow kinds), then the fixed-step RK4 loop, then the gsl_odeiv2 loop (one
** evolve step at a time, so output, gradient and step-limit stops are exact),
** then ode_run.  Every value that leaves a callback or a step is checked for
** finiteness; the first non-finite one stops the run with a message naming
** the flow, the time and the component.
** Depends on: flow.h, GSL (odeiv2, linalg for full metrics).
*/
#include "ode.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_odeiv2.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_OK 0
#define ST_USAGE 2
#define ST_RUNTIME 3

/* {====================================================================
** The flow system
** ===================================================================== */

typedef struct ode_sys {
  const flow_problem *p;
  ode_flow_kind kind;
  const char *name;
  int n;
  double *ws;                /* callback workspace */
  double *x, *g, *gi, *H, *M, *dG, *v, *w;  /* scratch */
  double t;                  /* time of the current evaluation (messages) */
  char msg[256];
  int failed;
} ode_sys;

static void sys_fail(ode_sys *s, const char *fmt, ...) {
  if (s->failed) return;
  s->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->msg, sizeof s->msg, fmt, ap);
  va_end(ap);
}

static int call_failed(ode_sys *s, const flow_fn *f, const char *what) {
  if (!f->fn) sys_fail(s, "flow '%s': no %s callback", s->name, what);
  else sys_fail(s, "flow '%s': the %s could not be evaluated at t = %.17g", s->name, what, s->t);
  return -1;
}

static inline int call(ode_sys *s, const flow_fn *f, const char *what, const double *in, double *out) {
  return f->fn && !f->fn(in, NULL, out, s->ws) ? 0 : call_failed(s, f, what);
}

static const char *state_var(const ode_sys *s) { return s->kind == ODE_HOPFIELD ? "x_H" : "x"; }

/* Index of the first non-finite entry of v[0..m-1], or -1. */
static int first_bad(const double *v, int m) {
  for (int i = 0; i < m; i++)
    if (!isfinite(v[i])) return i;
  return -1;
}

/* Diagonal G^-1(x): metric_inv, else 1/metric, else s'(s^-1(x)) (eq. 4). */
static int metric_inv_diag(ode_sys *s, const double *x, double *gi) {
  const flow_problem *p = s->p;
  if (p->metric_inv.fn) return call(s, &p->metric_inv, "inverse metric", x, gi);
  if (p->metric.fn) {
    if (call(s, &p->metric, "metric", x, gi)) return -1;
    for (int i = 0; i < s->n; i++) gi[i] = 1.0 / gi[i];
    return 0;
  }
  if (p->act_inv.fn && p->act_d.fn) {
    if (call(s, &p->act_inv, "inverse activation", x, s->w)) return -1;
    return call(s, &p->act_d, "activation derivative", s->w, gi);
  }
  sys_fail(s, "flow '%s': no metric callbacks", s->name);
  return -1;
}

/* Full G^-1(x) into M: metric_inv, else Cholesky inverse of metric. */
static int metric_inv_full(ode_sys *s, const double *x, double *M) {
  const flow_problem *p = s->p;
  int n = s->n;
  if (p->metric_inv.fn) return call(s, &p->metric_inv, "inverse metric", x, M);
  if (call(s, &p->metric, "metric", x, M)) return -1;
  gsl_matrix_view mv = gsl_matrix_view_array(M, (size_t)n, (size_t)n);
  if (gsl_linalg_cholesky_decomp1(&mv.matrix) || gsl_linalg_cholesky_invert(&mv.matrix)) {
    sys_fail(s, "flow '%s': the metric is not positive definite at t = %.17g", s->name, s->t);
    return -1;
  }
  return 0;
}

/* F = the flow's vector field at y, composed from its callbacks. */
static int sys_rhs_composed(ode_sys *s, const double *y, double *F) {
  const flow_problem *p = s->p;
  int n = s->n;
  switch (s->kind) {
  case ODE_GRADIENT:
    if (call(s, &p->grad, "gradient", y, F)) return -1;
    for (int i = 0; i < n; i++) F[i] = -F[i];
    break;
  case ODE_HOPFIELD:
    if (call(s, &p->act, "activation", y, s->x)) return -1;
    if (call(s, &p->grad, "gradient", s->x, F)) return -1;
    for (int i = 0; i < n; i++) F[i] = -F[i];
    break;
  case ODE_NATURAL_GRADIENT:
    if (call(s, &p->grad, "gradient", y, s->g)) return -1;
    if (p->metric_diagonal) {
      if (metric_inv_diag(s, y, s->gi)) return -1;
      for (int i = 0; i < n; i++) F[i] = -s->gi[i] * s->g[i];
    } else {
      if (metric_inv_full(s, y, s->M)) return -1;
      for (int i = 0; i < n; i++) {
        double a = 0;
        for (int j = 0; j < n; j++) a += s->M[i * n + j] * s->g[j];
        F[i] = -a;
      }
    }
    break;
  }
  return 0;
}

static int bad_derivative(ode_sys *s, int b) {
  sys_fail(s, "flow '%s': non-finite derivative at t = %.17g in component %s%d", s->name, s->t, state_var(s), b + 1);
  return -1;
}

/* F = the vector field at y: the compiled field when there is one (the hot
** path of every ODE run, kept small enough to inline), else composed. */
static inline int sys_rhs(ode_sys *s, const double *y, double *F) {
  const flow_fn *field = &s->p->field;
  if (field->fn ? call(s, field, "vector field", y, F) : sys_rhs_composed(s, y, F)) return -1;
  int b = first_bad(F, s->n);
  return b < 0 ? 0 : bad_derivative(s, b);
}

/* Exact Jacobian of sys_rhs:
**   gradient:  J = -H(x)
**   hopfield:  J = -H(s(x_H)) diag(s'(x_H))
**   natural, diagonal G: F_i = -gi_i g_i with gi = 1/G_ii, so
**     J_ij = -gi_i H_ij + gi_i^2 (dG_ii/dx_j) g_i
**   natural, full G: with v = G^-1 grad f and d(G^-1)/dx_j = -G^-1 (dG/dx_j) G^-1,
**     J[:, j] = -G^-1 (H[:, j] - (dG/dx_j) v). */
static int sys_jac(ode_sys *s, const double *y, double *J) {
  const flow_problem *p = s->p;
  int n = s->n;
  switch (s->kind) {
  case ODE_GRADIENT:
    if (call(s, &p->hess, "Hessian", y, J)) return -1;
    for (int i = 0; i < n * n; i++) J[i] = -J[i];
    break;
  case ODE_HOPFIELD:
    if (call(s, &p->act, "activation", y, s->x)) return -1;
    if (call(s, &p->act_d, "activation derivative", y, s->v)) return -1;
    if (call(s, &p->hess, "Hessian", s->x, J)) return -1;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) J[i * n + j] = -J[i * n + j] * s->v[j];
    break;
  case ODE_NATURAL_GRADIENT:
    if (call(s, &p->grad, "gradient", y, s->g)) return -1;
    if (call(s, &p->hess, "Hessian", y, s->H)) return -1;
    if (p->metric_diagonal) {
      if (metric_inv_diag(s, y, s->gi)) return -1;
      if (call(s, &p->metric_jac, "metric Jacobian", y, s->dG)) return -1;
      for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
          J[i * n + j] = -s->gi[i] * s->H[i * n + j] + s->gi[i] * s->gi[i] * s->dG[i * n + j] * s->g[i];
    } else {
      if (metric_inv_full(s, y, s->M)) return -1;
      if (call(s, &p->metric_dx, "metric derivative", y, s->dG)) return -1;
      for (int i = 0; i < n; i++) {
        double a = 0;
        for (int j = 0; j < n; j++) a += s->M[i * n + j] * s->g[j];
        s->v[i] = a;
      }
      for (int j = 0; j < n; j++) {
        const double *D = s->dG + (size_t)j * n * n;
        for (int k = 0; k < n; k++) {
          double a = 0;
          for (int l = 0; l < n; l++) a += D[k * n + l] * s->v[l];
          s->w[k] = s->H[k * n + j] - a;
        }
        for (int i = 0; i < n; i++) {
          double a = 0;
          for (int k = 0; k < n; k++) a += s->M[i * n + k] * s->w[k];
          J[i * n + j] = -a;
        }
      }
    }
    break;
  }
  int b = first_bad(J, n * n);
  if (b >= 0) {
    sys_fail(s, "flow '%s': non-finite Jacobian at t = %.17g in component %s%d", s->name, s->t,
             state_var(s), b / n + 1);
    return -1;
  }
  return 0;
}

static int sys_init(ode_sys *s, const flow_problem *p, ode_flow_kind kind, const char *name) {
  memset(s, 0, sizeof *s);
  s->p = p;
  s->kind = kind;
  s->name = name ? name : ode_flow_name(kind);
  s->n = p->n;
  size_t n = (size_t)p->n, nw = flow_problem_nwork(p);
  s->ws = malloc((nw + 1) * sizeof(double));
  s->x = malloc((6 * n + 2 * n * n + n * n * n + 1) * sizeof(double));
  if (!s->ws || !s->x) {
    free(s->ws);
    free(s->x);
    s->ws = s->x = NULL;
    return -1;
  }
  s->g = s->x + n;
  s->gi = s->g + n;
  s->v = s->gi + n;
  s->w = s->v + n;
  s->H = s->w + 2 * n;
  s->M = s->H + n * n;
  s->dG = s->M + n * n;
  return 0;
}

static void sys_free(ode_sys *s) {
  free(s->ws);
  free(s->x);
}

int ode_eval(const flow_problem *p, ode_flow_kind kind, const double *y, double *F, double *J) {
  ode_sys s;
  if (sys_init(&s, p, kind, NULL)) return -1;
  int r = sys_rhs(&s, y, F);
  if (!r && J) r = sys_jac(&s, y, J);
  sys_free(&s);
  return r;
}

/* {====================================================================
** Run bookkeeping shared by both loops
** ===================================================================== */

typedef struct ode_loop {
  ode_sys *s;
  const ode_options *o;
  ode_emit emit;
  void *ctx;
  ode_result *res;
  double *xout;       /* state-space point for output (n) */
  double *gbuf;       /* gradient for the stop test (n) */
} ode_loop;

/* The state-space point of state y into L->xout. */
static int to_x(ode_loop *L, const double *y) {
  ode_sys *s = L->s;
  if (s->kind == ODE_HOPFIELD) return call(s, &s->p->act, "activation", y, L->xout);
  memcpy(L->xout, y, (size_t)s->n * sizeof(double));
  return 0;
}

static int check_state(ode_loop *L, const double *y, double t) {
  int b = first_bad(y, L->s->n);
  if (b < 0) return 0;
  sys_fail(L->s, "flow '%s': non-finite state at t = %.17g in component %s%d", L->s->name, t,
           state_var(L->s), b + 1);
  return -1;
}

static int do_emit(ode_loop *L, double t, long step, const double *y) {
  if (!L->emit) return 0;
  L->s->t = t;
  if (to_x(L, y)) return -1;
  /* f is the run file's f column: a point outside f's domain (log of a
  ** negative x, where the gradient 1/x is still finite) stops the run */
  double fx;
  if (L->s->p->f.fn && call(L->s, &L->s->p->f, "objective", L->xout, &fx)) return -1;
  if (L->s->p->f.fn && !isfinite(fx)) {
    sys_fail(L->s, "flow '%s': non-finite objective (%s) at t = %.17g", L->s->name,
             isnan(fx) ? "nan" : fx > 0 ? "inf" : "-inf", t);
    return -1;
  }
  errno = 0;
  if (L->emit(L->ctx, t, step, L->xout, L->s->n)) {
    int e = errno;
    L->res->reason = ODE_STOP_EMIT;
    sys_fail(L->s, "flow '%s': output failed at t = %.17g%s%s", L->s->name, t, e ? ": " : "", e ? strerror(e) : "");
    return -1;
  }
  return 0;
}

/* Out of line: the tick is on the hot path of small problems. */
static int interrupted(ode_loop *L, double t, long step) {
  L->res->reason = ODE_STOP_INTERRUPT;
  sys_fail(L->s, "flow '%s': interrupted at t = %.17g (step %ld)", L->s->name, t, step);
  return -1;
}

/* 1 if |grad f(x(y))| < grad_tol (stores the norm), 0 if not, -1 on error. */
static int grad_small(ode_loop *L, const double *y) {
  if (!(L->o->grad_tol > 0)) return 0;
  if (to_x(L, y) || call(L->s, &L->s->p->grad, "gradient", L->xout, L->gbuf)) return -1;
  double a = 0;
  for (int i = 0; i < L->s->n; i++) a += L->gbuf[i] * L->gbuf[i];
  L->res->grad_norm = sqrt(a);
  if (!isfinite(a)) return check_state(L, L->gbuf, L->s->t);
  return L->res->grad_norm < L->o->grad_tol;
}

/* After an accepted step: checks, output, stop tests.  Returns 1 to stop
** normally, -1 on error, 0 to continue. */
static int after_step(ode_loop *L, double t, long step, const double *y, int out_now) {
  L->s->t = t;
  L->res->t = t;
  L->res->steps = step;
  if (check_state(L, y, t)) return -1;
  int g = grad_small(L, y);
  if (g < 0) return -1;
  const ode_options *o = L->o;
  int stop = g || (o->max_steps > 0 && step >= o->max_steps);
  if ((step & (FLOW_TICK_STEPS - 1)) == 0) { /* steps >= 1 */
    if (o->tick) o->tick(L->ctx, t, step);
    if (flow_interrupted()) return interrupted(L, t, step);
  }
  if (out_now || stop || (o->out_every > 0 && step % o->out_every == 0))
    if (do_emit(L, t, step, y)) return -1;
  if (g) L->res->reason = ODE_STOP_GRAD;
  else if (stop) L->res->reason = ODE_STOP_MAXSTEPS;
  return stop;
}

/* {====================================================================
** Fixed-step RK4, our own loop (GSL's rk4 estimates its error by step
** doubling, about 3x the work).
** ===================================================================== */

static int run_rk4_fixed(ode_loop *L, double *y) {
  ode_sys *s = L->s;
  const ode_options *o = L->o;
  int n = s->n;
  double *k = malloc(5 * (size_t)n * sizeof(double));
  if (!k) {
    sys_fail(s, "flow '%s': out of memory", s->name);
    return -1;
  }
  double *k1 = k, *k2 = k + n, *k3 = k + 2 * n, *k4 = k + 3 * n, *yt = k + 4 * n;
  double h = o->h, t0 = o->t0, t = t0;
  long nsteps = (long)ceil((o->t_end - t0) / h - 1e-9);
  if (nsteps < 1) nsteps = 1;
  long every = o->out_dt > 0 ? (long)floor(o->out_dt / h + 0.5) : 0;
  if (o->out_dt > 0 && every < 1) every = 1;
  int r = 0;
  for (long st = 1; st <= nsteps; st++) {
    double hk = st == nsteps ? o->t_end - t : h;
    double h2 = 0.5 * hk;
    s->t = t;
    if (sys_rhs(s, y, k1)) { r = -1; break; }
    for (int i = 0; i < n; i++) yt[i] = y[i] + h2 * k1[i];
    s->t = t + h2;
    if (sys_rhs(s, yt, k2)) { r = -1; break; }
    for (int i = 0; i < n; i++) yt[i] = y[i] + h2 * k2[i];
    if (sys_rhs(s, yt, k3)) { r = -1; break; }
    for (int i = 0; i < n; i++) yt[i] = y[i] + hk * k3[i];
    s->t = t + hk;
    if (sys_rhs(s, yt, k4)) { r = -1; break; }
    double h6 = hk / 6.0;
    for (int i = 0; i < n; i++) y[i] += h6 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i]);
    t = st == nsteps ? o->t_end : t0 + (double)st * h;
    r = after_step(L, t, st, y, st == nsteps || (every > 0 && st % every == 0));
    if (r) break;
  }
  free(k);
  return r < 0 ? -1 : 0;
}

/* {====================================================================
** gsl_odeiv2
** ===================================================================== */

static int gsl_f(double t, const double y[], double f[], void *params) {
  ode_sys *s = params;
  s->t = t;
  return sys_rhs(s, y, f) ? GSL_EBADFUNC : GSL_SUCCESS;
}

static int gsl_j(double t, const double y[], double *dfdy, double dfdt[], void *params) {
  ode_sys *s = params;
  s->t = t;
  if (sys_jac(s, y, dfdy)) return GSL_EBADFUNC;
  for (int i = 0; i < s->n; i++) dfdt[i] = 0;
  return GSL_SUCCESS;
}

static const gsl_odeiv2_step_type *gsl_type(ode_method m) {
  switch (m) {
  case ODE_RK4: return gsl_odeiv2_step_rk4;
  case ODE_RK2: return gsl_odeiv2_step_rk2;
  case ODE_RKF45: return gsl_odeiv2_step_rkf45;
  case ODE_RKCK: return gsl_odeiv2_step_rkck;
  case ODE_RK8PD: return gsl_odeiv2_step_rk8pd;
  case ODE_MSADAMS: return gsl_odeiv2_step_msadams;
  case ODE_MSBDF: return gsl_odeiv2_step_msbdf;
  case ODE_BSIMP: return gsl_odeiv2_step_bsimp;
  case ODE_RK1IMP: return gsl_odeiv2_step_rk1imp;
  case ODE_RK2IMP: return gsl_odeiv2_step_rk2imp;
  case ODE_RK4IMP: return gsl_odeiv2_step_rk4imp;
  default: return NULL;
  }
}

/* GSL's step control never gives up: asked for an accuracy below the
** rounding of double precision it shrinks the step until t moves by an ulp,
** and the run crawls on for ever.  Fail instead: when atol + rtol |y_i| is
** below the spacing of doubles at y_i (possible only for rtol < eps), and
** (as MATLAB's ode45) when a step other than the last one to an output time
** is below 16 eps |t|.  The failures are reported out of line: the tests
** run after every step. */
static int tolerance_unreachable(ode_loop *L, const double *y, double t, double atol, double rtol) {
  ode_sys *s = L->s;
  for (int i = 0; i < s->n; i++)
    if (atol + rtol * fabs(y[i]) < DBL_EPSILON * fabs(y[i])) {
      sys_fail(s, "flow '%s': atol = %g, rtol = %g ask for less than double precision resolves in "
               "%s%d = %.17g at t = %.17g (atol + rtol |%s%d| must be at least %.3g)", s->name, atol, rtol,
               state_var(s), i + 1, y[i], t, state_var(s), i + 1, DBL_EPSILON * fabs(y[i]));
      return -1;
    }
  return 0;
}

static int step_stalled(ode_loop *L, double t_prev, double t, double atol, double rtol) {
  sys_fail(L->s, "flow '%s': the %s step size fell to %.3g at t = %.17g, too small to advance t; "
           "atol = %g, rtol = %g cannot be met there (does the solution blow up?)", L->s->name,
           ode_method_name(L->o->method), t - t_prev, t, atol, rtol);
  return -1;
}

/* After the step t_prev -> t towards the output time t1 (before the first
** step: t_prev = t = t1). */
static inline int check_progress(ode_loop *L, const double *y, double t_prev, double t, double t1, double atol,
                                 double rtol) {
  if (rtol < DBL_EPSILON && tolerance_unreachable(L, y, t, atol, rtol)) return -1;
  if (t != t1 && !(t - t_prev > 16 * DBL_EPSILON * fabs(t))) return step_stalled(L, t_prev, t, atol, rtol);
  return 0;
}

static int run_gsl(ode_loop *L, double *y) {
  ode_sys *s = L->s;
  const ode_options *o = L->o;
  gsl_odeiv2_system sys = { gsl_f, gsl_j, (size_t)s->n, s };
  double h = o->h > 0 ? o->h : 1e-6;
  double atol = o->atol > 0 || o->rtol > 0 ? o->atol : 1e-8;
  double rtol = o->atol > 0 || o->rtol > 0 ? o->rtol : 1e-8;
  gsl_odeiv2_driver *d = gsl_odeiv2_driver_alloc_y_new(&sys, gsl_type(o->method), h, atol, rtol);
  if (!d) {
    sys_fail(s, "flow '%s': cannot allocate the %s stepper", s->name, ode_method_name(o->method));
    return -1;
  }
  double t = o->t0, next_out = o->out_dt > 0 ? o->t0 + o->out_dt : o->t_end;
  long out_k = 1, every = o->fixed && o->out_dt > 0 ? (long)floor(o->out_dt / h + 0.5) : 0;
  long nsteps = o->fixed ? (long)ceil((o->t_end - o->t0) / h - 1e-9) : 0;
  int r = 0;
  if (!o->fixed && check_progress(L, y, t, t, t, atol, rtol)) r = -1;
  for (long st = 1; r == 0; st++) {
    int status, out_now;
    double t_prev = t, t1 = t;
    if (o->fixed) {
      double hk = st >= nsteps ? o->t_end - t : h;
      status = gsl_odeiv2_evolve_apply_fixed_step(d->e, d->c, d->s, &sys, &t, hk, y);
      out_now = st >= nsteps || (every > 0 && st % every == 0);
    } else {
      t1 = next_out < o->t_end ? next_out : o->t_end;
      status = gsl_odeiv2_evolve_apply(d->e, d->c, d->s, &sys, &t, t1, &h, y);
      out_now = t == t1;
      if (out_now && o->out_dt > 0) next_out = o->t0 + (double)(++out_k) * o->out_dt;
    }
    if (status != GSL_SUCCESS) {
      sys_fail(s, "flow '%s': the %s step failed at t = %.17g (%s)", s->name,
               ode_method_name(o->method), t, gsl_strerror(status));
      r = -1;
      break;
    }
    if (!o->fixed && check_progress(L, y, t_prev, t, t1, atol, rtol)) {
      r = -1;
      break;
    }
    int done = o->fixed ? st >= nsteps : t >= o->t_end;
    r = after_step(L, t, st, y, out_now || done);
    if (r) break;
    if (done) break;
  }
  gsl_odeiv2_driver_free(d);
  return r < 0 ? -1 : 0;
}

/* {====================================================================
** Entry point
** ===================================================================== */

static const char *const method_names[ODE_NMETHODS] = {
  "rk4", "rk2", "rkf45", "rkck", "rk8pd", "msadams", "msbdf", "bsimp", "rk1imp", "rk2imp", "rk4imp"
};

const char *ode_method_name(ode_method m) {
  return (unsigned)m < ODE_NMETHODS ? method_names[m] : "?";
}

int ode_method_from_name(const char *str) {
  for (int i = 0; i < ODE_NMETHODS; i++)
    if (!strcmp(str, method_names[i])) return i;
  return -1;
}

const char *ode_flow_name(ode_flow_kind k) {
  switch (k) {
  case ODE_GRADIENT: return "gradient";
  case ODE_HOPFIELD: return "hopfield";
  case ODE_NATURAL_GRADIENT: return "natural_gradient";
  }
  return "?";
}

int ode_method_needs_jacobian(ode_method m) {
  return m == ODE_MSBDF || m == ODE_BSIMP || m == ODE_RK1IMP || m == ODE_RK2IMP || m == ODE_RK4IMP;
}

void ode_options_default(ode_options *o) {
  memset(o, 0, sizeof *o);
  o->method = ODE_RKF45;
  o->t_end = 1;
  o->atol = o->rtol = 1e-8;
}

static const char *check_problem(const flow_problem *p, ode_flow_kind kind, const ode_options *o) {
  if (p->n < 1) return "the problem has no variables";
  if (!p->grad.fn) return "no gradient callback";
  if (kind == ODE_HOPFIELD && !p->act.fn) return "the Hopfield flow needs an activation";
  if (kind == ODE_HOPFIELD && !p->act_inv.fn) return "the Hopfield flow needs the inverse activation";
  if (kind == ODE_NATURAL_GRADIENT && !p->metric_diagonal && !p->metric_inv.fn && !p->metric.fn)
    return "the natural gradient needs a metric";
  if (kind == ODE_NATURAL_GRADIENT && p->metric_diagonal && !p->metric_inv.fn && !p->metric.fn &&
      !(p->act_d.fn && p->act_inv.fn))
    return "the natural gradient needs a metric";
  if (!(o->t_end > o->t0)) return "t_end must exceed t0";
  if ((unsigned)o->method >= ODE_NMETHODS) return "unknown method";
  if (o->fixed && !(o->h > 0)) return "a fixed-step run needs h > 0";
  /* GSL's multistep methods return GSL_FAILURE from evolve_apply_fixed_step
  ** (also through driver_apply_fixed_step): they need error control */
  if (o->fixed && (o->method == ODE_MSADAMS || o->method == ODE_MSBDF || o->method == ODE_RK1IMP))
    return "msadams, msbdf and rk1imp are adaptive only (use fixed = 0)";
  if (o->atol < 0 || o->rtol < 0) return "negative tolerance";
  if (ode_method_needs_jacobian(o->method)) {
    if (!p->hess.fn) return "this method needs the Hessian (for the Jacobian)";
    if (kind == ODE_HOPFIELD && !p->act_d.fn) return "this method needs the activation derivative";
    if (kind == ODE_NATURAL_GRADIENT && p->metric_diagonal && !p->metric_jac.fn)
      return "this method needs the metric Jacobian";
    if (kind == ODE_NATURAL_GRADIENT && !p->metric_diagonal && !p->metric_dx.fn)
      return "this method needs the metric derivatives dG/dx";
  }
  return NULL;
}

int ode_run(const flow_problem *p, ode_flow_kind kind, const char *name, const ode_options *o,
            const double *x0, double *x_end, ode_emit emit, void *ctx, ode_result *res) {
  memset(res, 0, sizeof *res);
  res->t = o->t0;
  res->grad_norm = NAN;
  if (!name) name = ode_flow_name(kind);
  const char *bad = check_problem(p, kind, o);
  if (bad) {
    res->reason = ODE_STOP_ERROR;
    snprintf(res->msg, sizeof res->msg, "flow '%s': %s", name, bad);
    return ST_USAGE;
  }
  ode_sys s;
  if (sys_init(&s, p, kind, name)) {
    res->reason = ODE_STOP_ERROR;
    snprintf(res->msg, sizeof res->msg, "flow '%s': out of memory", name);
    return ST_RUNTIME;
  }
  int n = p->n;
  double *y = malloc(3 * (size_t)n * sizeof(double));
  ode_loop L = { &s, o, emit, ctx, res, y ? y + n : NULL, y ? y + 2 * n : NULL };
  int r = -1;
  if (!y) {
    sys_fail(&s, "flow '%s': out of memory", name);
    goto done;
  }
  s.t = o->t0;
  if (kind == ODE_HOPFIELD) {
    if (call(&s, &p->act_inv, "inverse activation", x0, y)) goto done;
  } else {
    memcpy(y, x0, (size_t)n * sizeof(double));
  }
  if (check_state(&L, y, o->t0)) goto done;
  if (do_emit(&L, o->t0, 0, y)) goto done;
  int g = grad_small(&L, y);
  if (g < 0) goto done;
  if (g) {
    res->reason = ODE_STOP_GRAD;
    r = 0;
  } else if (o->fixed && o->method == ODE_RK4) {
    r = run_rk4_fixed(&L, y);
  } else {
    r = run_gsl(&L, y);
  }
  if (!r && x_end) {
    if (to_x(&L, y)) r = -1;
    else memcpy(x_end, L.xout, (size_t)n * sizeof(double));
  }
done:
  if (r) {
    if (res->reason != ODE_STOP_EMIT && res->reason != ODE_STOP_INTERRUPT) res->reason = ODE_STOP_ERROR;
    snprintf(res->msg, sizeof res->msg, "%s", s.msg);
  }
  free(y);
  sys_free(&s);
  return r ? ST_RUNTIME : ST_OK;
}
