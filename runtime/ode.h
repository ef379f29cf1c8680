/*
** ode.h — deterministic gradient flows integrated in time (features D1, D2,
** M5): the Hopfield flow x_H' = -grad f(s(x_H)) (eq. 1), the natural gradient
** x' = -G(x)^-1 grad f(x) (eq. 6) and the plain gradient flow x' = -grad f(x).
**
** Input: a flow_problem (flow.h) filled by the interpreter or by hand, an
** initial point x0 (always in the state space x, also for the Hopfield flow),
** options.  Output: points handed to an emit callback, a result record.
** Methods: our own fixed-step RK4 loop (no step-doubling error estimate), and
** gsl_odeiv2 for everything else (adaptive or fixed steps); implicit methods
** get the exact Jacobian from the Hessian and metric callbacks.
** The caller must have turned GSL's error handler off (hnn_open does).
*/
#ifndef HNN_ODE_H
#define HNN_ODE_H

#include "flow.h"

typedef enum {
  ODE_GRADIENT = 0,        /* x' = -grad f(x) */
  ODE_HOPFIELD,            /* x_H' = -grad f(s(x_H)), output x = s(x_H) */
  ODE_NATURAL_GRADIENT     /* x' = -G(x)^-1 grad f(x) */
} ode_flow_kind;

typedef enum {
  ODE_RK4 = 0, ODE_RK2, ODE_RKF45, ODE_RKCK, ODE_RK8PD, ODE_MSADAMS, ODE_MSBDF,
  ODE_BSIMP, ODE_RK1IMP, ODE_RK2IMP, ODE_RK4IMP,
  ODE_NMETHODS
} ode_method;

typedef struct ode_options {
  ode_method method;
  int fixed;          /* 1: fixed steps of size h; 0: adaptive (atol, rtol) */
  double t0, t_end;   /* t_end > t0 */
  double h;           /* fixed step, or initial step when adaptive (0: 1e-6) */
  double atol, rtol;  /* adaptive error control (0, 0: 1e-8, 1e-8) */
  double out_dt;      /* > 0: emit every out_dt time units */
  long out_every;     /* > 0: emit every out_every accepted steps */
  double grad_tol;    /* > 0: stop when |grad f(x)|_2 < grad_tol */
  long max_steps;     /* > 0: stop after this many steps */
  flow_tick tick;     /* NULL, or called with the emit ctx every FLOW_TICK_STEPS steps */
} ode_options;

/* Defaults: rkf45, adaptive, t in [0, 1], atol = rtol = 1e-8, emit only the
** first and last points, no gradient or step limit. */
void ode_options_default(ode_options *o);

typedef enum {
  ODE_STOP_TIME = 0,   /* reached t_end */
  ODE_STOP_GRAD,       /* |grad f| < grad_tol */
  ODE_STOP_MAXSTEPS,   /* max_steps reached */
  ODE_STOP_EMIT,       /* the emit callback returned nonzero */
  ODE_STOP_ERROR,      /* numerical failure, see msg */
  ODE_STOP_INTERRUPT   /* flow_interrupted() at a tick (status 3, msg "... interrupted at t = ...") */
} ode_stop;

typedef struct ode_result {
  double t;            /* time reached */
  long steps;          /* accepted steps */
  ode_stop reason;
  double grad_norm;    /* |grad f(x)| at the end when grad_tol > 0, else NAN */
  char msg[256];       /* on error: names the flow, the time, the component */
} ode_result;

/* Receives (t, step, x) for every output point, x in the state space.
** Nonzero stops the run (ODE_STOP_EMIT, status HNN_ERR_RUNTIME); errno set
** by then (a failed write's ENOSPC) is named in msg, 0 adds nothing. */
typedef int (*ode_emit)(void *ctx, double t, long step, const double *x, int n);

/* Integrate flow `kind` of p from x0 (n = p->n values) under o.  x_end (may be
** NULL) receives the last state (in x space).  name labels messages (NULL:
** the kind's name).  Returns 0 (HNN_OK), 2 for bad options or missing
** callbacks, 3 (HNN_ERR_RUNTIME) for non-finite values, failed callbacks,
** GSL failures or a failed emit; res->msg explains every nonzero status. */
int ode_run(const flow_problem *p, ode_flow_kind kind, const char *name,
            const ode_options *o, const double *x0, double *x_end,
            ode_emit emit, void *ctx, ode_result *res);

/* The right-hand side F(y) and, if J != NULL, its Jacobian dF/dy (row-major
** n x n) of flow `kind` at state y (the hidden state for ODE_HOPFIELD).
** Exposed for tests and for other engines.  Returns 0 or nonzero. */
int ode_eval(const flow_problem *p, ode_flow_kind kind, const double *y, double *F, double *J);

const char *ode_method_name(ode_method m);
int ode_method_from_name(const char *s);   /* -1 if unknown */
const char *ode_flow_name(ode_flow_kind k);
int ode_method_needs_jacobian(ode_method m);

#endif
