/*
** geoflow.c — `geodesic(G)` as a flow: the geodesic of a diagonal metric
** from the run's start to the point `to Y`, written as a path.  The
** boundary-value problem (eq. 12) is solved by shooting (runtime/geodesic.c);
** its length d_G (eq. 13b) goes to standard output.
**
**   flow path = geodesic(G)
**   run path from [0.2, 0.7] to [0.9, 0.1] points 101 -> "path.csv"
**
** Rows: t = k/(points - 1) in [0, 1] (the geodesic's parameter), step k,
** x1..xn.  geodesic(G, x, y) in expressions gives the distance alone.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flows_impl.h"
#include "geodesic.h"

static const char *const geo_run_options[] = { "to", "points", NULL };

int geoflow_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  (void)flow;
  int errs = 0;
  for (int i = 2; i < run->nkids; i++)
    errs += flow_bad_option(S, run, i, geo_run_options, k->name);
  if (!errs && !flow_option(run, "to")) {
    diag_error(&S->diags, run->src, run->loc, "a geodesic run needs 'to Y' (the end point)");
    errs++;
  }
  return errs;
}

static int eval_vector(hnn_state *S, ast *e, double **v, int *n) {
  ir_shape sh;
  int r = flow_eval_value(S, e, v, &sh);
  if (r != HNN_OK) return r;
  if (sh.kind != IR_VECTOR) {
    diag_error(&S->diags, e->src, e->loc, "a point of a geodesic is a vector");
    return HNN_ERR_SCRIPT;
  }
  *n = sh.rows;
  return HNN_OK;
}

int geoflow_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  (void)k;
  double *x = NULL, *y = NULL, *path = NULL;
  long npts = 101;
  int n = 0, ny = 0, status = eval_vector(S, run->kids[0], &x, &n);
  ast *to = flow_option(run, "to");
  if (status == HNN_OK) status = eval_vector(S, to, &y, &ny);
  if (status == HNN_OK && ny != n) {
    diag_error(&S->diags, to->src, to->loc, "the end point has %d values, the start %d", ny, n);
    status = HNN_ERR_SCRIPT;
  }
  if (status == HNN_OK && flow_opt_count(S, run, "points", 2, 1000000, &npts)) status = HNN_ERR_SCRIPT;
  sym *g = flow_role_sym(S, flow, R_METRIC);
  flow_problem P;
  memset(&P, 0, sizeof P);
  P.n = n;
  if (status == HNN_OK && flow_metric_problem(S, g, n, &P)) status = HNN_ERR_SCRIPT;
  if (status == HNN_OK && !P.metric_diagonal) {
    diag_error(&S->diags, run->src, run->loc, "geodesic paths are computed for diagonal metrics (G = diag(...), hopfield(s), euclidean)");
    status = HNN_ERR_SCRIPT;
  }
  char msg[512] = "", *err = NULL;
  double d = NAN;
  int K = (int)npts;
  if (status == HNN_OK) {
    path = hnn_xmalloc((size_t)K * n * sizeof *path);
    if (geo_distance(&P, x, y, NULL, &d, path, K, msg, sizeof msg) != 0) {
      diag_error(&S->diags, run->src, run->loc, "run %s: %s", flow->name, msg[0] ? msg : "the geodesic was not found");
      status = HNN_ERR_RUNTIME;
    }
  }
  run_out *out = NULL;
  if (status == HNN_OK) {
    char **names = hnn_xcalloc((size_t)n, sizeof *names);
    run_out_names(names, "x", n);
    out = run_out_open(S, run->kids[1] ? run->kids[1]->name : NULL, n, (const char *const *)names, &err);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    int bad = !out;
    for (int kk = 0; kk < K && !bad; kk++) bad = run_out_row(out, (double)kk / (K - 1), kk, path + (size_t)kk * n);
    if (out && bad) run_out_abort(out);
    else if (out) bad = run_out_close(out, &err);
    if (bad) {
      diag_error(&S->diags, run->src, run->loc, "%s", err ? err : "cannot write the path");
      status = HNN_ERR_RUNTIME;
    }
    free(err);
  }
  if (status == HNN_OK && S->out) fprintf(S->out, "# %s: geodesic distance d_G = %.17g\n", flow->name, d);
  free(x), free(y), free(path);
  return status;
}
