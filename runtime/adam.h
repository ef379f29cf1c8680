/*
** adam.h — discrete Adam (Kingma and Ba) on a flow_problem: the iteration
** whose small-step limit is the `adam` flow (lang/flows/kind_adam.c,
** docs/geometry.md):
**
**   g = grad f(x),  m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2,
**   x = x - lr mh / (sqrt(vh) + eps),
**
** with mh = m / (1 - beta1^k), vh = v / (1 - beta2^k) at step k when
** bias_correction is set, else mh = m, vh = v.  The state is (x, m, v),
** 3n values, written as the flow's: t = k lr.  Depends on flow.h, ode.h
** (emit and result types).
*/
#ifndef HNN_ADAM_H
#define HNN_ADAM_H

#include "flow.h"
#include "ode.h"

typedef struct adam_opts {
  double lr, beta1, beta2, eps;  /* lr > 0, beta in [0, 1), eps > 0 */
  int bias_correction;
  long steps;                    /* iterations */
  long every;                    /* emit every k steps (0: first and last only) */
} adam_opts;

/* Run o->steps iterations from y = (x, m, v) (3 p->n values, updated in
** place).  Emits step 0, every o->every-th step and the last (state of 3n
** values).  tick (may be NULL) gets ctx every FLOW_TICK_STEPS steps, where
** flow_interrupted() stops the run.  Returns 0, 2 (bad options or no
** gradient) or 3 (non-finite gradient or state, failed emit, interrupt),
** with res->msg naming the flow, the step and the component. */
int adam_run(const flow_problem *p, const char *name, const adam_opts *o, double *y, ode_emit emit, flow_tick tick,
             void *ctx, ode_result *res);

#endif
