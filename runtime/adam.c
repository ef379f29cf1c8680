/*
** adam.c — discrete Adam iterations (adam.h).  The bias-correction
** factors 1 - beta^k are kept as running products, so a long run does not
** call pow; beta^k underflows to 0 harmlessly.
*/
#include "adam.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int first_bad(const double *v, int n) {
  for (int i = 0; i < n; i++)
    if (!isfinite(v[i])) return i;
  return -1;
}

/* The component name of state entry i: x1..xn, m1..mn, v1..vn. */
static void component(char *buf, size_t len, int i, int n) {
  snprintf(buf, len, "%c%d", "xmv"[i / n], i % n + 1);
}

int adam_run(const flow_problem *p, const char *name, const adam_opts *o, double *y, ode_emit emit, flow_tick tick,
             void *ctx, ode_result *res) {
  memset(res, 0, sizeof *res);
  res->grad_norm = NAN;
  res->reason = ODE_STOP_TIME;
  if (!name) name = "adam";
  int n = p->n;
  if (n < 1 || !p->grad.fn || !(o->lr > 0) || !(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) ||
      !(o->eps > 0) || o->steps < 0) {
    res->reason = ODE_STOP_ERROR;
    snprintf(res->msg, sizeof res->msg, "flow '%s': needs a gradient, lr > 0, beta1 and beta2 in [0, 1), eps > 0", name);
    return 2;
  }
  double *g = malloc(sizeof(double) * (size_t)n), *ws = malloc(sizeof(double) * (p->grad.nwork + 1));
  double *x = y, *m = y + n, *v = y + 2 * (size_t)n;
  double c1 = 1, c2 = 1;   /* beta1^k, beta2^k */
  int st = 0;
  char comp[32];
  if (!g || !ws) {
    snprintf(res->msg, sizeof res->msg, "flow '%s': out of memory", name);
    st = 3;
    goto done;
  }
  int b = first_bad(y, 3 * n);
  if (b >= 0) {
    component(comp, sizeof comp, b, n);
    snprintf(res->msg, sizeof res->msg, "flow '%s': non-finite start in component %s", name, comp);
    st = 3;
    goto done;
  }
  errno = 0;
  if (emit && emit(ctx, 0.0, 0, y, 3 * n)) goto emit_failed;
  for (long k = 1; k <= o->steps; k++) {
    if (p->grad.fn(x, NULL, g, ws) || (b = first_bad(g, n)) >= 0) {
      snprintf(res->msg, sizeof res->msg, "flow '%s': the gradient is not finite at step %ld (t = %.17g)", name, k - 1,
               (double)(k - 1) * o->lr);
      st = 3;
      goto done;
    }
    c1 *= o->beta1, c2 *= o->beta2;
    double s1 = o->bias_correction ? 1 / (1 - c1) : 1, s2 = o->bias_correction ? 1 / (1 - c2) : 1;
    for (int i = 0; i < n; i++) {
      m[i] = o->beta1 * m[i] + (1 - o->beta1) * g[i];
      v[i] = o->beta2 * v[i] + (1 - o->beta2) * g[i] * g[i];
      x[i] -= o->lr * m[i] * s1 / (sqrt(v[i] * s2) + o->eps);
    }
    if ((b = first_bad(y, 3 * n)) >= 0) {
      component(comp, sizeof comp, b, n);
      snprintf(res->msg, sizeof res->msg, "flow '%s': non-finite state at step %ld (t = %.17g) in component %s", name, k,
               (double)k * o->lr, comp);
      st = 3;
      goto done;
    }
    res->steps = k;
    res->t = (double)k * o->lr;
    if ((k & (FLOW_TICK_STEPS - 1)) == 0) {
      if (tick) tick(ctx, res->t, k);
      if (flow_interrupted()) {
        snprintf(res->msg, sizeof res->msg, "flow '%s': interrupted at step %ld", name, k);
        res->reason = ODE_STOP_INTERRUPT;
        st = 3;
        goto done;
      }
    }
    errno = 0;
    if (emit && ((o->every > 0 && k % o->every == 0) || k == o->steps) && emit(ctx, res->t, k, y, 3 * n))
      goto emit_failed;
  }
  goto done;
emit_failed:
  res->reason = ODE_STOP_EMIT;
  snprintf(res->msg, sizeof res->msg, "flow '%s': output failed at step %ld%s%s", name, res->steps, errno ? ": " : "",
           errno ? strerror(errno) : "");
  st = 3;
done:
  if (st && res->reason == ODE_STOP_TIME) res->reason = ODE_STOP_ERROR;
  free(g);
  free(ws);
  return st;
}
