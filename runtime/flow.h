/*
** flow.h — the one interface between JIT-compiled mathematics and the
** ahead-of-time runtime (ODE, SDE, proximal, geodesic engines).
**
** A flow component never sees the language: it receives callbacks with the
** hnn ABI (below), each with the workspace size it needs, bundled in a
** flow_problem.  The interpreter fills one from a script (lang/); tests and
** embedders can fill one by hand with plain C functions.
*/
#ifndef HNN_FLOW_H
#define HNN_FLOW_H

#include <stddef.h>

/* The callback ABI of every compiled function:
**   in  : the point (n doubles, or what the callback documents)
**   dir : a direction for forward-mode callbacks, else unused (may be NULL)
**   out : the result
**   ws  : scratch space of nwork doubles (one per thread)
** Returns 0, or nonzero when the value could not be computed (e.g. a numeric
** inverse found no bracket); a result may also be non-finite, which the
** caller checks. */
typedef int (*flow_cb)(const double *in, const double *dir, double *out, double *ws);

typedef struct flow_fn {
  flow_cb fn;            /* NULL when not available */
  size_t nwork;
} flow_fn;

/* Called by long loops every FLOW_TICK_STEPS steps (t, step so far) with
** the caller's context, so a front end can draw a progress line between
** output points. */
typedef void (*flow_tick)(void *ctx, double t, long step);
#define FLOW_TICK_STEPS 4096

/* Interrupts.  flow_interrupt records a signal number (SIGINT, SIGTERM) and
** only stores it, so a signal handler may call it.  Engines test
** flow_interrupted() where they tick (and the particle engines every step,
** the dual method every outer iteration, shooting every Newton solve) and
** stop with a message "... interrupted at ..." and their error status, so
** the front end removes partial output as after any failed run.  0 when
** nothing is pending.  Process-wide, as signals are. */
void flow_interrupt(int signo);
int flow_interrupted(void);
void flow_interrupt_clear(void);

/* Everything a flow may need about the problem.  Unused members are NULL.
** Matrices are n x n, row-major. */
typedef struct flow_problem {
  int n;
  flow_fn f;             /* objective, -> 1 */
  flow_fn grad;          /* gradient, -> n */
  flow_fn hess;          /* Hessian, -> n x n (for implicit methods' Jacobians) */
  /* the vector field F(y) of a deterministic flow compiled in one piece, in
  ** its state variable (x_H for the Hopfield flow, x otherwise), -> n; when
  ** set, the ODE engine calls it instead of composing grad, act and metric
  ** (one call, and the compiler shares their common subexpressions); the
  ** SDE engine takes it as the whole drift, metric_inv as the noise (sde.h) */
  flow_fn field;
  /* metric G(x): when metric_diagonal, these callbacks return n diagonal
  ** entries instead of n x n matrices */
  int metric_diagonal;
  flow_fn metric;        /* G(x) */
  flow_fn metric_inv;    /* G(x)^-1 */
  flow_fn metric_jac;    /* diagonal metrics: d g_k / d x_j as n x n (row k) */
  flow_fn div_metric_inv;/* (div G^-1)_i = sum_j d_j (G^-1)_ij, -> n */
  /* activation, elementwise on n-vectors */
  flow_fn act;           /* s(u) */
  flow_fn act_d;         /* s'(u) */
  flow_fn act_inv;       /* s^-1(x) */
  /* a coordinate map for separable diagonal metrics: d(x, y)^2 =
  ** sum_i (phi_i(x_i) - phi_i(y_i))^2 with phi_i' = sqrt(g_ii); NULL if the
  ** metric does not separate */
  flow_fn geo_coord;     /* phi(x), -> n */
  /* full (non-diagonal) metrics: dG/dx_j for j = 0..n-1, -> n x n x n
  ** (out[(j*n + k)*n + l] = d G_kl / d x_j); needed by the geodesic solver and
  ** by implicit ODE methods on full-metric natural gradients */
  flow_fn metric_dx;
  /* full metrics, optional: w(x; v) = dG[v] v - 1/2 grad_x (v' G(x) v), the
  ** geodesic equation's G Gamma(v, v) contracted symbolically (v is the
  ** callback's direction), -> n.  Near a boundary where G blows up, dG has
  ** entries ~1e16 that cancel in w; contracted before rounding, they do not */
  flow_fn metric_w;
  /* mirror potential in closed form: psi_i(x_i) = integral of s_i^-1,
  ** elementwise, -> n; when NULL, runtime/discrete.c integrates act_inv */
  flow_fn mirror_pot;
} flow_problem;

/* Format a message into buf (len bytes); buf NULL or len 0: nothing. */
void flow_msg(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Workspace of the largest callback of p (doubles), for per-thread buffers. */
size_t flow_problem_nwork(const flow_problem *p);

#endif
