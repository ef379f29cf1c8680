/* bench_fns.h — the function table the hnn bench driver takes its callbacks
** from (hand-written in callbacks.c; swap in JIT-compiled ones later). */
#ifndef BENCH_FNS_H
#define BENCH_FNS_H
#include "flow.h"
typedef struct bench_fns {
  int n;
  flow_cb act, act_d, act_inv, grad, hess;
} bench_fns;
extern const bench_fns BENCH_FNS;
#endif
