/* bench_fns.h — the function table the runtime-only bench driver (hnn_ode.c)
** takes its callbacks from: hand-written in callbacks.c, gcc -O2, in place
** of the JIT-compiled ones, to separate the runtime's cost from the JIT's. */
#ifndef BENCH_FNS_H
#define BENCH_FNS_H
#include "flow.h"
typedef struct bench_fns {
  int n;
  flow_cb f, act, act_d, act_inv, grad, hess, field;
} bench_fns;
extern const bench_fns BENCH_FNS;
#endif
