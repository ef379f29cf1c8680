/*
** callbacks.c — a declaration's callbacks into a flow_problem, and
** expressions to numbers (callbacks.h).
*/
#include "callbacks.h"

#include <stdlib.h>

#include "diff.h"
#include "lower.h"

int flow_fn_of(hnn_state *S, sym *s, int what, int n, flow_fn *out) {
  hnn_fn *f = state_get(S, s, what, n);
  if (!f) return 1;
  state_fn_later(S, f, &out->fn);
  out->nwork = f->nwork;
  return 0;
}

int flow_fn_grad1_value(hnn_state *S, sym *f, int nargs, const int *sizes, flow_fn *out) {
  ir_ctx *ir = ir_ctx_new();
  ir_node *v[4], *args[4], *g[4] = { NULL, NULL, NULL, NULL };
  for (int i = 0; i < nargs && i < 4; i++) {
    v[i] = ir_var(ir, ir_vector_shape(sizes[i]), "a");
    args[i] = f->sig.formal[i].kind == TY_SCALAR ? ir_index(ir, v[i], 0, 0) : v[i];
  }
  ir_node *val = nargs <= 4 ? lower_inline(S, ir, f, nargs, args) : NULL;
  hnn_fn *fn = NULL;
  if (val) {
    diff_grad(ir, val, nargs, v, g);
    ir_node *parts[2] = { g[0], ir_bcast(ir, val, ir_vector_shape(1)) };
    ir_node *all = g[0] ? ir_concat(ir, 2, parts) : NULL;
    fn = all ? state_compile(S, ir, nargs, v, 0, NULL, 1, &all, 0) : NULL;
  }
  ir_ctx_free(ir);
  if (!fn) return 1;
  state_fn_later(S, fn, &out->fn);
  out->nwork = fn->nwork;
  return 0;
}

int flow_metric_problem(hnn_state *S, sym *g, int n, flow_problem *P) {
  P->metric_diagonal = lower_metric_is_diagonal(S, g, n);
  if (P->metric_diagonal)
    return flow_fn_of(S, g, HNN_METRIC_DIAG, n, &P->metric) || flow_fn_of(S, g, HNN_METRIC_INV_DIAG, n, &P->metric_inv) ||
           flow_fn_of(S, g, HNN_METRIC_JAC_DIAG, n, &P->metric_jac);
  return flow_fn_of(S, g, HNN_METRIC, n, &P->metric) || flow_fn_of(S, g, HNN_METRIC_INV, n, &P->metric_inv);
}

int flow_eval_value(hnn_state *S, ast *e, double **v, ir_shape *sh) {
  ty t;
  if (sema_check_expr(S, e, &t)) return HNN_ERR_SCRIPT;
  return state_eval_ast(S, e, v, sh);
}

int flow_eval_number(hnn_state *S, ast *e, double *v) {
  double *val = NULL;
  ir_shape sh;
  int r = state_eval_ast(S, e, &val, &sh);
  if (r == HNN_OK) *v = val[0];
  free(val);
  return r;
}
