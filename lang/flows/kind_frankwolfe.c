/*
** kind_frankwolfe.c — the `frank_wolfe` flow: conditional gradient training
** of a two-layer network over measures of total variation <= radius, one
** neuron added per step (source 004; runtime/condgrad.h).
**
**   flow fw = frank_wolfe(h, f, X, radius = 3, step = classic)   # classic | line | gamma in (0, 1]
**   run fw from uniform(-2, 2) steps 400 starts 20 -> "fw.csv"
**
** The run's law draws the oracle's `starts` candidate neurons at every step
** (a stream of the seed and the step), searched by `ascent` gradient steps
** inside `box [lo, hi]` (default: the corners of a uniform start).  With a
** constant step gamma the iteration is the Euler scheme of the conditional
** gradient flow d mu/dt = s(mu) - mu, and t = gamma * step; otherwise t is
** the step.  Rows: t, step, loss, gap, l1, neurons, gamma, theta_new1..d,
** c_new; NAME_net.csv: the final network, t, step, neuron, theta1..d, c.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "condgrad.h"
#include "flowkind.h"
#include "law.h"
#include "netfit.h"
#include "rng.h"

static const char *const fw_run_options[] = { "steps", "starts", "box", "ascent", "every", NULL };

static int fw_keyword(hnn_state *S, ast *a) {
  if (strcmp(a->name, "radius") == 0) return flow_check_number(S, a->kids[0], "radius");
  if (strcmp(a->name, "step") != 0) return -1;
  ast *v = a->kids[0];
  if (v->kind == AST_NAME && (strcmp(v->name, "classic") == 0 || strcmp(v->name, "line") == 0)) return 0;
  if (v->kind == AST_NAME && !state_lookup(S, v->name)) {
    diag_error(&S->diags, v->src, v->loc, "step is classic (2/(k + 2)), line (exact line search) or a number in (0, 1]");
    return 1;
  }
  return flow_check_number(S, v, "step");
}

static int fw_check_decl(hnn_state *S, sym *s, const flow_kind *k) {
  int errs = netfit_check_decl(S, s, k, fw_keyword);
  if (!errs && !flow_keyword(s, "radius")) {
    diag_error(&S->diags, s->decl->kids[0]->src, s->decl->kids[0]->loc, "frank_wolfe needs radius = R, the bound on sum |c_i| (usage: %s)", k->usage);
    errs++;
  }
  return errs;
}

static int fw_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  (void)flow;
  static const char *const special[] = { "box", NULL };
  return flow_check_options(S, run, k, special);
}

typedef struct fwrun {
  netfit nf;
  cg_problem p;
  flow_law L;
  long steps, starts, every, ascent;
} fwrun;

static int fw_prepare(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  sym *flow = J->flow;
  fwrun *r = hnn_xcalloc(1, sizeof *r);
  J->priv = r;
  if (netfit_prepare(S, flow, &r->nf)) return HNN_ERR_SCRIPT;
  cg_problem *p = &r->p;
  if (flow_kw_number(S, flow, "radius", 0, 0, &p->radius)) return HNN_ERR_SCRIPT;
  ast *st = flow_keyword(flow, "step");
  p->rule = CG_STEP_CLASSIC;
  if (st && st->kind == AST_NAME && strcmp(st->name, "line") == 0) p->rule = CG_STEP_LINE;
  else if (st && !(st->kind == AST_NAME && strcmp(st->name, "classic") == 0)) {
    p->rule = CG_STEP_CONSTANT;
    if (flow_eval_number(S, st, &p->gamma)) return HNN_ERR_SCRIPT;
    if (!(p->gamma > 0 && p->gamma <= 1)) {
      diag_error(&S->diags, st->src, st->loc, "a constant step must be in (0, 1]");
      return HNN_ERR_SCRIPT;
    }
  }
  r->steps = 100, r->starts = 20, r->ascent = 100;
  if (flow_opt_count(S, run, "steps", 1, 100000000, &r->steps) || flow_opt_count(S, run, "starts", 1, 1000000, &r->starts) ||
      flow_opt_count(S, run, "ascent", 0, 1000000, &r->ascent))
    return HNN_ERR_SCRIPT;
  r->every = 1;
  if (flow_opt_count(S, run, "every", 1, FLOW_COUNT_MAX, &r->every)) return HNN_ERR_SCRIPT;
  p->ascent_steps = (int)r->ascent;
  int status = law_read(S, run->kids[0], "the candidates of a frank_wolfe run are drawn from", &r->L);
  if (status != HNN_OK) return status;
  if (r->L.n != r->nf.dim) {
    diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "the law is in dimension %d, theta has %d values", r->L.n, r->nf.dim);
    return HNN_ERR_SCRIPT;
  }
  ast *bx = flow_option(run, "box");
  if (bx) {
    double *v = NULL;
    ir_shape sh;
    int bad = flow_eval_value(S, bx, &v, &sh) != HNN_OK;
    if (!bad && !(sh.kind == IR_VECTOR && sh.rows == 2 && v[0] < v[1] && isfinite(v[0]) && isfinite(v[1]))) {
      diag_error(&S->diags, bx->src, bx->loc, "box is [lo, hi] with lo < hi");
      bad = 1;
    }
    if (!bad) p->lo = v[0], p->hi = v[1];
    free(v);
    if (bad) return HNN_ERR_SCRIPT;
  } else {
    int same = r->L.kind == LAW_UNIFORM;
    for (int k = 1; same && k < r->L.n; k++) same = r->L.a[k] == r->L.a[0] && r->L.b[k] == r->L.b[0];
    if (!same) {
      diag_error(&S->diags, run->src, run->loc, "the oracle searches a box of theta: add box [lo, hi] (or start from uniform(lo, hi))");
      return HNN_ERR_SCRIPT;
    }
    p->lo = r->L.a[0], p->hi = r->L.b[0];
  }
  double rows = floor((double)r->steps / (double)r->every) + 2;
  J->plan.rows = rows + (run->kids[1] ? (double)r->steps : 0);
  J->plan.values = r->nf.dim + 8;
  J->plan.memory = (double)r->steps * (r->nf.dim + 1) * 8 * 2 + (double)r->nf.nx * 64;
  return HNN_OK;
}

static int fw_compile(flow_job *J) {
  fwrun *r = J->priv;
  return netfit_compile(J->S, &r->nf);
}

static run_out *open_main(hnn_state *S, const char *path, int dim, char **err) {
  int nc = dim + 6;
  char **names = hnn_xcalloc((size_t)nc, sizeof *names);
  const char *first[] = { "loss", "gap", "l1", "neurons", "gamma" };
  for (int i = 0; i < 5; i++) names[i] = hnn_xstrdup(first[i]);
  run_out_names(names + 5, "theta_new", dim);
  names[nc - 1] = hnn_xstrdup("c_new");
  run_out *o = run_out_open(S, path, nc, (const char *const *)names, err);
  for (int i = 0; i < nc; i++) free(names[i]);
  free(names);
  return o;
}

/* The final network, NAME_net.csv: a row per neuron (t and step are the
** last step's). */
static run_out *open_net(hnn_state *S, const char *path, int dim, char **err) {
  int nc = dim + 2;
  char **names = hnn_xcalloc((size_t)nc, sizeof *names);
  names[0] = hnn_xstrdup("neuron");
  run_out_names(names + 1, "theta", dim);
  names[nc - 1] = hnn_xstrdup("c");
  run_out *o = run_out_open_sibling(S, path, "_net", nc, (const char *const *)names, err);
  for (int i = 0; i < nc; i++) free(names[i]);
  free(names);
  return o;
}

static int write_net(run_out *o, cg_state *cg, int dim, double t, long step) {
  const double *th, *c;
  int K = cg_neurons(cg, &th, &c), bad = 0;
  double *row = hnn_xcalloc((size_t)dim + 2, sizeof *row);
  for (int i = 0; i < K && !bad; i++) {
    row[0] = i + 1;
    memcpy(row + 1, th + (size_t)i * dim, (size_t)dim * sizeof *row);
    row[dim + 1] = c[i];
    bad = run_out_row(o, t, step, row);
  }
  free(row);
  return bad;
}

static int fw_run(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  sym *flow = J->flow;
  fwrun *r = J->priv;
  netfit *nf = &r->nf;
  int dim = nf->dim, status = HNN_OK;
  char msg[512] = "", *err = NULL;
  double *q = hnn_xmalloc((size_t)nf->nx * sizeof *q), *f = hnn_xmalloc((size_t)nf->nx * sizeof *f);
  double *cand = hnn_xmalloc((size_t)r->starts * dim * sizeof *cand), *row = hnn_xcalloc((size_t)dim + 6, sizeof *row);
  cg_state *cg = NULL;
  run_out *out = NULL;
  if (!netfit_targets(nf, q, f, msg, sizeof msg)) {
    r->p.dim = dim, r->p.n = nf->n, r->p.nx = nf->nx, r->p.x = nf->X, r->p.q = q, r->p.f = f, r->p.act = nf->act_fn;
    cg = cg_new(&r->p, msg, sizeof msg);
  }
  const char *path = run->kids[1] ? run->kids[1]->name : NULL;
  if (cg && !(out = open_main(S, path, dim, &err))) {
    diag_error(&S->diags, run->src, run->loc, "%s", err);
    status = HNN_ERR_RUNTIME;
  }
  double t = 0;
  if (out) {
    run_ctx c = { 0 };
    c.steps_end = r->steps;
    flow_progress_start(&c, S, flow->name);
    uint64_t base = rng_name_index(flow->name) ^ 0x5f3a;
    int bad = 0;
    for (long k = 1; k <= r->steps && !bad && !msg[0]; k++) {
      if (flow_interrupted()) {
        snprintf(msg, sizeof msg, "interrupted at step %ld", k - 1);
        break;
      }
      gsl_rng *g = rng_stream(S->seed, RNG_RUN, base + (uint64_t)k * 0x9e3779b97f4a7c15ull);
      law_sample(&r->L, (int)r->starts, g, cand, NULL);
      gsl_rng_free(g);
      cg_info info;
      if (cg_step(cg, (int)r->starts, cand, &info, msg, sizeof msg)) break;
      t = r->p.rule == CG_STEP_CONSTANT ? r->p.gamma * (double)k : (double)k;
      if (k % r->every == 0 || k == r->steps) {
        row[0] = info.loss, row[1] = info.gap, row[2] = info.l1, row[3] = info.neurons, row[4] = info.gamma;
        for (int d = 0; d < dim; d++) row[5 + d] = info.theta_new ? info.theta_new[d] : NAN;
        row[5 + dim] = info.c_new;
        bad = run_out_row(out, t, k, row);
      }
      flow_progress(&c, t, k);
    }
    flow_progress_end(&c);
    if (bad && !msg[0]) snprintf(msg, sizeof msg, "cannot write the output");
    /* the network file and the rows land together or not at all */
    run_out *net = NULL;
    if (!msg[0] && path && !(net = open_net(S, path, dim, &err))) snprintf(msg, sizeof msg, "%s", err ? err : "cannot open the network file");
    if (net && write_net(net, cg, dim, t, r->steps)) snprintf(msg, sizeof msg, "cannot write the network");
    free(err);
    err = NULL;
    if (run_out_finish(out, net, !msg[0], &err) && !msg[0]) snprintf(msg, sizeof msg, "%s", err ? err : "cannot close the output");
  }
  if (msg[0] && status == HNN_OK) {
    diag_error(&S->diags, run->src, run->loc, "run %s: %s", flow->name, msg);
    status = HNN_ERR_RUNTIME;
  }
  free(err);
  cg_free(cg);
  free(q), free(f), free(cand), free(row);
  return status;
}

static void fw_release(flow_job *J) {
  fwrun *r = J->priv;
  if (!r) return;
  netfit_free(&r->nf);
  law_free(&r->L);
  free(r);
  J->priv = NULL;
}

const flow_kind flow_kind_frank_wolfe = {
  .name = "frank_wolfe", .usage = "frank_wolfe(h, f, X, radius = R, step = classic | line | gamma)",
  .options = fw_run_options, .siblings = { "_net" }, .check_decl = fw_check_decl, .check_run = fw_check_run,
  .prepare = fw_prepare, .compile = fw_compile, .run = fw_run, .release = fw_release
};
