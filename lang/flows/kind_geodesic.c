/*
** kind_geodesic.c — `geodesic(G)` as a flow: the geodesic of a diagonal metric
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

#include "flowkind.h"
#include "geodesic.h"

static const char *const geodesic_run_options[] = { "to", "points", NULL };

static int geodesic_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  (void)flow;
  int errs = 0;
  for (int i = 2; i < run->nkids; i++)
    errs += flow_bad_option(S, run, i, k->options, k->name);
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

/* A prepared geodesic run (flow_job.priv). */
typedef struct grun {
  double *x, *y;
  int n;
  long npts;
  flow_problem P;
} grun;

static int geodesic_prepare(flow_job *J) {
  hnn_state *S = J->S;
  grun *g = hnn_xcalloc(1, sizeof *g);
  J->priv = g;
  g->npts = 101;
  int ny = 0, status = eval_vector(S, J->run->kids[0], &g->x, &g->n);
  ast *to = flow_option(J->run, "to");
  if (status == HNN_OK) status = eval_vector(S, to, &g->y, &ny);
  if (status == HNN_OK && ny != g->n) {
    diag_error(&S->diags, to->src, to->loc, "the end point has %d values, the start %d", ny, g->n);
    status = HNN_ERR_SCRIPT;
  }
  if (status == HNN_OK && flow_opt_count(S, J->run, "points", 2, 1000000, &g->npts)) status = HNN_ERR_SCRIPT;
  J->plan.rows = (double)g->npts;
  J->plan.values = g->n + 2;
  J->plan.memory = (double)g->npts * g->n * 8;
  return status;
}

static int geodesic_compile(flow_job *J) {
  grun *g = J->priv;
  g->P.n = g->n;
  if (flow_metric_problem(J->S, flow_role_sym(J->S, J->flow, R_METRIC), g->n, &g->P)) return 1;
  if (!g->P.metric_diagonal) {
    diag_error(&J->S->diags, J->run->src, J->run->loc,
               "geodesic paths are computed for diagonal metrics (G = diag(...), hopfield(s), euclidean)");
    return 1;
  }
  return 0;
}

static void geodesic_release(flow_job *J) {
  grun *g = J->priv;
  if (!g) return;
  free(g->x);
  free(g->y);
  free(g);
  J->priv = NULL;
}

static int geodesic_run(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  sym *flow = J->flow;
  grun *g = J->priv;
  int n = g->n, K = (int)g->npts, status = HNN_OK;
  double *x = g->x, *y = g->y, *path = NULL;
  char msg[512] = "", *err = NULL;
  double d = NAN;
  path = hnn_xmalloc((size_t)K * n * sizeof *path);
  if (geo_distance(&g->P, x, y, NULL, &d, path, K, msg, sizeof msg) != 0) {
    diag_error(&S->diags, run->src, run->loc, "run %s: %s", flow->name, msg[0] ? msg : "the geodesic was not found");
    status = HNN_ERR_RUNTIME;
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
    if (out) bad = run_out_close(out, &err) || bad;
    if (bad) {
      diag_error(&S->diags, run->src, run->loc, "%s", err ? err : "cannot write the path");
      status = HNN_ERR_RUNTIME;
    }
    free(err);
  }
  if (status == HNN_OK && S->out) fprintf(S->out, "# %s: geodesic distance d_G = %.17g\n", flow->name, d);
  free(path);
  return status;
}

const flow_kind flow_kind_geodesic = {
  .name = "geodesic", .usage = "geodesic(G)", .nroles = 1, .roles = { R_METRIC }, .options = geodesic_run_options,
  .check_run = geodesic_check_run, .prepare = geodesic_prepare, .compile = geodesic_compile, .run = geodesic_run,
  .release = geodesic_release
};
