/*
** monitor_dist.c — distance columns of particle monitors (monitor_dist.h).
*/
#include "monitor_dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowkind.h"
#include "rng.h"

static const char *const names[] = { MON_DIST_OPTION_NAMES, NULL };

int mon_dist_is_option(const char *name) {
  for (int i = 0; names[i]; i++)
    if (strcmp(name, names[i]) == 0) return 1;
  return 0;
}

int mon_dist_check(hnn_state *S, ast *run, ast *o) {
  ast *v = o->kids[0];
  if (strcmp(o->name, "w2_to") == 0 || strcmp(o->name, "sinkhorn_to") == 0) {
    /* the law itself is read when the run starts (law.c says what it takes) */
    if (v->kind != AST_NAME && v->kind != AST_CALL) {
      diag_error(&S->diags, v->src, v->loc, "%s takes a law: csv(\"file\"), a param matrix of points, normal(...), "
                 "uniform(...) or mixture(...)", o->name);
      return 1;
    }
    return 0;
  }
  if (strcmp(o->name, "monitor_eps") == 0 && !flow_option(run, "sinkhorn_to")) {
    diag_error(&S->diags, o->src, o->loc, "monitor_eps is the eps of sinkhorn_to: add sinkhorn_to LAW");
    return 1;
  }
  if (strcmp(o->name, "monitor_samples") == 0 && !flow_option(run, "sinkhorn_to") && !flow_option(run, "w2_to")) {
    diag_error(&S->diags, o->src, o->loc, "monitor_samples is the size of the target of w2_to or sinkhorn_to: add one");
    return 1;
  }
  return flow_check_number(S, v, o->name);
}

int mon_dist_prepare(hnn_state *S, ast *run, const char *run_name, int n, long N, mon_dist *m) {
  memset(m, 0, sizeof *m);
  m->S = S;
  m->run_name = run_name;
  m->n = n;
  m->eps = 0.01;
  long samples = 1000;
  if (flow_opt_positive(S, run, "monitor_eps", &m->eps) ||
      flow_opt_count(S, run, "monitor_samples", 1, 100000000, &samples))
    return HNN_ERR_SCRIPT;
  static const char *const opt[2] = { "w2_to", "sinkhorn_to" };
  static const dist_kind kind[2] = { DIST_W2, DIST_SINKHORN };
  for (int c = 0; c < 2; c++) {
    ast *e = flow_option(run, opt[c]);
    if (!e) continue;
    int k = m->ncols, dim = 0;
    uint64_t stream = rng_name_index(run_name) ^ (0x3d15ull + (uint64_t)c);
    if (dist_points(S, e, n, "the particles", samples, stream, &m->target[k], &m->ntarget[k], &dim) != HNN_OK) return HNN_ERR_SCRIPT;
    m->kind[k] = kind[c];
    m->ncols++;
    char msg[256];
    if (dist_too_big(kind[c], n, (double)N, m->ntarget[k], msg, sizeof msg)) {
      diag_error(&S->diags, e->src, e->loc, "%s: %s", opt[c], msg);
      return HNN_ERR_SCRIPT;
    }
  }
  return HNN_OK;
}

void mon_dist_names(const mon_dist *m, char **out) {
  for (int k = 0; k < m->ncols; k++) out[k] = hnn_xstrdup(m->kind[k] == DIST_W2 ? "w2_to" : "sinkhorn_to");
}

int mon_dist_row(mon_dist *m, const double *x, int N, double *out) {
  for (int k = 0; k < m->ncols; k++) {
    char msg[400] = "";
    int s = dist_value(m->kind[k], m->eps, NULL, m->n, (size_t)N, x, (size_t)m->ntarget[k], m->target[k], 0, &out[k],
                       msg, sizeof msg);
    if (s < 0 || !isfinite(out[k])) {
      snprintf(m->err, sizeof m->err, "the monitor %s: %s", m->kind[k] == DIST_W2 ? "w2_to" : "sinkhorn_to",
               msg[0] ? msg : "not finite");
      return 1;
    }
    if (s > 0 && !m->warned++ && m->S->warn) state_warn(m->S, "run %s: %s (the value is written)", m->run_name, msg);
  }
  return 0;
}

void mon_dist_free(mon_dist *m) {
  for (int k = 0; k < 2; k++) free(m->target[k]);
  memset(m, 0, sizeof *m);
}
