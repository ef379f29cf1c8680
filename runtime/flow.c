/*
** flow.c — helpers shared by every flow component.
*/
#include "flow.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

/* the pending signal: written by a handler, read by the engines' loops */
static volatile sig_atomic_t interrupt_signo;

void flow_interrupt(int signo) { interrupt_signo = signo; }
int flow_interrupted(void) { return interrupt_signo; }
void flow_interrupt_clear(void) { interrupt_signo = 0; }

size_t flow_problem_nwork(const flow_problem *p) {
  const flow_fn *all[] = { &p->f, &p->grad, &p->hess, &p->field, &p->metric, &p->metric_inv, &p->metric_jac,
                           &p->div_metric_inv, &p->act, &p->act_d, &p->act_inv, &p->geo_coord, &p->metric_dx, &p->metric_w,
                           &p->mirror_pot };
  size_t m = 0;
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    if (all[i]->fn && all[i]->nwork > m) m = all[i]->nwork;
  return m;
}

void flow_msg(char *buf, size_t len, const char *fmt, ...) {
  if (!buf || !len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}
