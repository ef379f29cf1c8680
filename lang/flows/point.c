/*
** point.c — what the flows of one point share (kind_ode.c, kind_descent.c):
** the start, the output t, step, x1..xn, f (a CSV file or standard output)
** and the run around the engine.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowkind.h"

int point_check_start(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  ty t;
  if (sema_check_expr(S, run->kids[0], &t)) return 1;
  if (t.kind != TY_VECTOR) {
    diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "a %s run starts from a point (a vector)", k->name);
    return 1;
  }
  sym *obj = flow_role_sym(S, flow, R_OBJECTIVE);
  return !flow_objective_size(S, obj, t.r.val, run->kids[0]);
}

int point_prepare(flow_job *J) {
  point_run *pr = hnn_xcalloc(1, sizeof *pr);
  J->priv = pr;
  ir_shape sh;
  int status = state_eval_ast(J->S, J->run->kids[0], &pr->x0, &sh);
  if (status != HNN_OK) return status;
  pr->n = sh.rows;
  pr->nsize = flow_objective_size(J->S, flow_role_sym(J->S, J->flow, R_OBJECTIVE), pr->n, J->run->kids[0]);
  return pr->nsize ? HNN_OK : HNN_ERR_SCRIPT;
}

int point_compile(flow_job *J, int hessian) {
  point_run *pr = J->priv;
  return flow_compile_roles(J->S, J->flow, J->kind, pr->nsize, pr->n, hessian, &pr->P);
}

void point_release(flow_job *J) {
  point_run *pr = J->priv;
  if (!pr) return;
  free(pr->x0);
  for (int i = 0; pr->names && i < pr->n; i++) free(pr->names[i]);
  free(pr->names);
  free(pr);
  J->priv = NULL;
}

static int emit_row(void *ctx, double t, long step, const double *x, int n) {
  run_ctx *c = ctx;
  double fx = NAN;
  if (c->P->f.fn) c->P->f.fn(x, NULL, &fx, c->ws);
  memcpy(c->row, x, (size_t)n * sizeof *x);
  c->row[n] = fx;
  flow_progress(c, t, step);
  return run_out_row(c->out, t, step, c->row);
}

int point_run_engine(flow_job *J, point_engine engine) {
  hnn_state *S = J->S;
  point_run *pr = J->priv;
  ast *run = J->run;
  int n = pr->n, status = HNN_OK;
  run_ctx c;
  memset(&c, 0, sizeof c);
  flow_progress_start(&c, S, J->flow->name);
  c.P = &pr->P;
  c.ws = hnn_xcalloc(flow_problem_nwork(&pr->P) + 1, sizeof *c.ws);
  c.row = hnn_xcalloc((size_t)n + 1, sizeof *c.row);
  char *err = NULL;
  char **names = hnn_xcalloc((size_t)n + 1, sizeof *names);
  if (pr->names)
    for (int i = 0; i < n; i++) names[i] = hnn_xstrdup(pr->names[i]);
  else
    run_out_names(names, "x", n);
  names[n] = hnn_xstrdup("f");
  c.out = run_out_open(S, run->kids[1] ? run->kids[1]->name : NULL, n + 1, (const char *const *)names, &err);
  for (int i = 0; i <= n; i++) free(names[i]);
  free(names);
  ode_result res;
  memset(&res, 0, sizeof res);
  if (!c.out) {
    diag_error(&S->diags, run->kids[1]->src, run->kids[1]->loc, "%s", err);
    free(err);
    status = HNN_ERR_RUNTIME;
  } else {
    status = engine(J, pr, emit_row, &c, &res);
    flow_progress_end(&c);
    if (status != HNN_OK) {
      diag_error(&S->diags, run->src, run->loc, "%s", res.msg[0] ? res.msg : "the run failed");
      run_out_abort(c.out);
      status = status == HNN_ERR_USAGE ? HNN_ERR_SCRIPT : HNN_ERR_RUNTIME;
    } else if (run_out_close(c.out, &err) != 0) {
      diag_error(&S->diags, run->src, run->loc, "%s", err);
      free(err);
      status = HNN_ERR_RUNTIME;
    }
  }
  free(c.ws);
  free(c.row);
  return status;
}
