/*
** kind_rhoh.c — the `rho_h` flow: a two-layer network in the (rho, H)
** formulation of source 003 (runtime/rhoh.h), on a 1-D grid of theta or on
** particles.
**
**   function h(theta, x) = exp(-(x - theta)^2/(2*0.3^2))    # the activation h(theta, x)
**   function f(x) = sin(pi*x)                               # the target
**   param X[20] = ...                                       # data (a vector, or rows of a matrix)
**   flow net = rho_h(h, f, X, lambda = 0.01, form = chaos)  # separated | transported | chaos
**   run net from normal(0, 0.25) grid [-3, 3] cells 200 H 0.5 h 0.01 steps 200 every 20 -> "net.csv"
**   run net from normal(0, 0.25) particles 400 H 0.5 h 0.01 steps 200 every 20 -> "netp.csv"
**
** The data weigh 1/nx each.  Grid rows: t, step, theta, rho, H; particle
** rows: t, step, particle, theta1..thetad, H; NAME_monitor.csv: t, step, G,
** loss, mass, dissipation (the -dG/dt of Proposition 3.3), mean_H.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowkind.h"
#include "law.h"
#include "netfit.h"
#include "rhoh.h"
#include "rng.h"

static const char *const rhoh_run_options[] = { "grid", "cells", "particles", "H", "h", "steps", "every", NULL };
static const char *const form_names[] = { "separated", "transported", "chaos" };

/* --------------------------------------------------------- declaration */

static int rhoh_keyword(hnn_state *S, ast *a) {
  if (strcmp(a->name, "lambda") == 0) return flow_check_number(S, a->kids[0], "lambda");
  if (strcmp(a->name, "form") != 0) return -1;
  for (int f = 0; f < 3; f++)
    if (a->kids[0]->kind == AST_NAME && strcmp(a->kids[0]->name, form_names[f]) == 0) return 0;
  diag_error(&S->diags, a->kids[0]->src, a->kids[0]->loc, "form is separated (003 eq. 3.19), transported (3.21) or chaos (3.23)");
  return 1;
}

static int rhoh_check_decl(hnn_state *S, sym *s, const flow_kind *k) { return netfit_check_decl(S, s, k, rhoh_keyword); }

static int rhoh_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  (void)flow;
  static const char *const special[] = { "grid", NULL };
  int errs = flow_check_options(S, run, k, special);
  int grid = flow_option(run, "grid") != NULL, parts = flow_option(run, "particles") != NULL;
  if (!errs && grid == parts) {
    diag_error(&S->diags, run->src, run->loc, "a rho_h run is on a grid (grid [lo, hi] cells M) or on particles (particles N), one of the two");
    errs++;
  }
  if (!errs && flow_option(run, "cells") && !grid) {
    diag_error(&S->diags, flow_option(run, "cells")->src, flow_option(run, "cells")->loc, "cells is for grid runs");
    errs++;
  }
  return errs;
}

/* ----------------------------------------------------------------- run */

typedef struct rrun {
  rhoh_form form;
  double lambda, H0, h;
  long steps, every, N, M;
  int grid;
  double lo, hi;
  flow_law L;
  netfit nf;
  run_ctx c;
  run_out *mon;
} rrun;

static int rhoh_prepare(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  sym *flow = J->flow;
  rrun *r = hnn_xcalloc(1, sizeof *r);
  J->priv = r;
  r->form = RHOH_CHAOS;
  ast *fk = flow_keyword(flow, "form");
  for (int f = 0; fk && f < 3; f++)
    if (strcmp(fk->name, form_names[f]) == 0) r->form = (rhoh_form)f;
  r->H0 = 1;
  r->h = 0.01;
  r->steps = 100;
  if (flow_kw_number(S, flow, "lambda", 0, 1, &r->lambda) || flow_opt_positive(S, run, "h", &r->h) ||
      flow_opt_count(S, run, "steps", 1, FLOW_COUNT_MAX, &r->steps))
    return HNN_ERR_SCRIPT;
  ast *He = flow_option(run, "H");
  if (He && (flow_eval_number(S, He, &r->H0) || !isfinite(r->H0))) {
    if (!S->diags.nerrors) diag_error(&S->diags, He->src, He->loc, "H must be a finite number");
    return HNN_ERR_SCRIPT;
  }
  r->every = r->steps >= 10 ? r->steps / 10 : 1;
  if (flow_opt_count(S, run, "every", 1, FLOW_COUNT_MAX, &r->every)) return HNN_ERR_SCRIPT;
  if (netfit_prepare(S, flow, &r->nf)) return HNN_ERR_SCRIPT;
  int status = law_read(S, run->kids[0], "a rho_h run starts from", &r->L);
  if (status != HNN_OK) return status;
  if (r->L.n != r->nf.dim) {
    diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "the start is a law in dimension %d, theta has %d values", r->L.n, r->nf.dim);
    return HNN_ERR_SCRIPT;
  }
  ast *g = flow_option(run, "grid");
  r->grid = g != NULL;
  if (r->grid) {
    double *v = NULL;
    ir_shape sh;
    int bad = flow_eval_value(S, g, &v, &sh) != HNN_OK;
    if (!bad && !(sh.kind == IR_VECTOR && sh.rows == 2 && v[0] < v[1] && isfinite(v[0]) && isfinite(v[1]))) {
      diag_error(&S->diags, g->src, g->loc, "grid is [lo, hi] with lo < hi");
      bad = 1;
    }
    if (!bad) r->lo = v[0], r->hi = v[1];
    free(v);
    if (bad) return HNN_ERR_SCRIPT;
    r->M = 200;
    if (flow_opt_count(S, run, "cells", 3, 10000000, &r->M)) return HNN_ERR_SCRIPT;
    if (r->nf.dim != 1) {
      diag_error(&S->diags, g->src, g->loc, "the grid is 1-D: theta must be a number (use particles for theta in R^%d)", r->nf.dim);
      return HNN_ERR_SCRIPT;
    }
    if (r->L.kind == LAW_POINTS) {
      diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "a grid run starts from a law with a density (uniform, normal, mixture), not from points");
      return HNN_ERR_SCRIPT;
    }
  } else {
    if (r->form != RHOH_CHAOS) {
      diag_error(&S->diags, run->src, run->loc,
                 "form %s needs grad H of a density (003 Sec. 3.2): it runs on a grid; particles carry the chaos form (3.23)",
                 form_names[r->form]);
      return HNN_ERR_SCRIPT;
    }
    r->N = r->L.kind == LAW_POINTS ? r->L.npoints : 1000;
    if (flow_opt_count(S, run, "particles", 1, 10000000, &r->N)) return HNN_ERR_SCRIPT;
    if (r->L.kind == LAW_POINTS && r->N != r->L.npoints) {
      diag_error(&S->diags, run->src, run->loc, "the start has %d points but the run asks for %ld particles", r->L.npoints, r->N);
      return HNN_ERR_SCRIPT;
    }
  }
  double snaps = floor((double)r->steps / (double)r->every) + 2, per = r->grid ? (double)r->M : (double)r->N;
  J->plan.rows = snaps * (run->kids[1] ? per + 1 : 1);
  J->plan.values = r->nf.dim + 4 > 8 ? r->nf.dim + 4 : 8;
  J->plan.memory = r->grid ? (double)r->M * r->nf.nx * 16 + (double)r->M * 80 : (double)r->N * r->nf.nx * (r->nf.dim + 1) * 8 + (double)r->N * (r->nf.dim + 1) * 64;
  return HNN_OK;
}

static int rhoh_compile(flow_job *J) {
  rrun *r = J->priv;
  return netfit_compile(J->S, &r->nf);
}

static int open_outputs(hnn_state *S, ast *run, rrun *r, char **err) {
  const char *path = run->kids[1] ? run->kids[1]->name : NULL;
  int nc = r->grid ? 3 : r->nf.dim + 2;
  char **names = hnn_xcalloc((size_t)nc + 1, sizeof *names);
  if (r->grid) {
    names[0] = hnn_xstrdup("theta");
    names[1] = hnn_xstrdup("rho");
    names[2] = hnn_xstrdup("H");
  } else {
    names[0] = hnn_xstrdup("particle");
    run_out_names(names + 1, "theta", r->nf.dim);
    names[r->nf.dim + 1] = hnn_xstrdup("H");
  }
  if (path) r->c.out = run_out_open(S, path, nc, (const char *const *)names, err);
  for (int i = 0; i < nc; i++) free(names[i]);
  free(names);
  if (path && !r->c.out) return 1;
  static const char *const mn[] = { "G", "loss", "mass", "dissipation", "mean_H" };
  r->mon = run_out_open_sibling(S, path, "_monitor", 5, mn, err);
  return r->mon == NULL;
}

static int emit_monitor(rrun *r, double t, long step, const rhoh_monitor *m) {
  double row[5] = { m->G, m->loss, m->mass, m->dissipation, m->mean_H };
  return run_out_row(r->mon, t, step, row);
}

static int emit_grid(rrun *r, rhoh_grid *g, double t, long step) {
  rhoh_monitor m;
  rhoh_grid_monitor(g, &m);
  if (emit_monitor(r, t, step, &m)) return 1;
  for (long a = 0; r->c.out && a < r->M; a++) {
    double row[3] = { rhoh_grid_center(g, (int)a), rhoh_grid_rho(g)[a], rhoh_grid_H(g)[a] };
    if (run_out_row(r->c.out, t, step, row)) return 1;
  }
  return 0;
}

static int emit_particles(rrun *r, rhoh_particles *p, double t, long step, double *row) {
  rhoh_monitor m;
  rhoh_particles_monitor(p, &m);
  if (emit_monitor(r, t, step, &m)) return 1;
  for (long i = 0; r->c.out && i < r->N; i++) {
    row[0] = (double)(i + 1);
    memcpy(row + 1, rhoh_particles_theta(p) + i * r->nf.dim, (size_t)r->nf.dim * sizeof *row);
    row[r->nf.dim + 1] = rhoh_particles_H(p)[i];
    if (run_out_row(r->c.out, t, step, row)) return 1;
  }
  return 0;
}

static int rhoh_run(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  sym *flow = J->flow;
  rrun *r = J->priv;
  const netfit *nf = &r->nf;
  int nx = nf->nx, n = nf->n, dim = nf->dim, status = HNN_OK;
  char msg[512] = "", *err = NULL;
  double *ws = hnn_xcalloc(nf->act_fn.nwork + 1, sizeof *ws), *in = hnn_xcalloc((size_t)(dim + n), sizeof *in);
  double *out = hnn_xcalloc((size_t)dim + 1, sizeof *out), *th = hnn_xcalloc((size_t)dim, sizeof *th);
  double *q = hnn_xmalloc((size_t)nx * sizeof *q), *f = hnn_xmalloc((size_t)nx * sizeof *f);
  netfit_targets(nf, q, f, msg, sizeof msg);
  rhoh_data d = { nx, q, f, r->lambda };
  rhoh_grid *g = NULL;
  rhoh_particles *p = NULL;
  double *row = hnn_xcalloc((size_t)dim + 3, sizeof *row);
  if (!msg[0] && r->grid) {
    int M = (int)r->M;
    double hc = (r->hi - r->lo) / M;
    double *hv = hnn_xmalloc((size_t)M * nx * sizeof *hv), *hd = hnn_xmalloc((size_t)M * nx * sizeof *hd);
    double *rho0 = hnn_xmalloc((size_t)M * sizeof *rho0), *H0 = hnn_xmalloc((size_t)M * sizeof *H0);
    for (int a = 0; a < M && !msg[0]; a++) {
      th[0] = r->lo + (a + 0.5) * hc;
      rho0[a] = law_density(&r->L, th);
      H0[a] = r->H0;
      for (int j = 0; j < nx && !msg[0]; j++) {
        if (netfit_act(nf, th, nf->X + (size_t)j * n, in, out, ws))
          snprintf(msg, sizeof msg, "the activation is not finite at theta = %g", th[0]);
        hv[(size_t)a * nx + j] = out[1];
        hd[(size_t)a * nx + j] = out[0];
      }
    }
    if (!msg[0]) g = rhoh_grid_new(r->form, &d, M, r->lo, r->hi, hv, hd, rho0, H0, msg, sizeof msg);
    free(hv), free(hd), free(rho0), free(H0);
  } else if (!msg[0]) {
    size_t N = (size_t)r->N;
    double *th0 = hnn_xmalloc(N * dim * sizeof *th0), *H0 = hnn_xmalloc(N * sizeof *H0);
    gsl_rng *rng = rng_stream(S->seed, RNG_RUN, rng_name_index(flow->name) ^ 0x2b0f);
    law_sample(&r->L, (int)N, rng, th0, NULL);
    gsl_rng_free(rng);
    for (size_t i = 0; i < N; i++) H0[i] = r->H0;
    p = rhoh_particles_new(&d, dim, n, nf->X, nf->act_fn, N, th0, H0, msg, sizeof msg);
    free(th0), free(H0);
  }
  if ((g || p) && open_outputs(S, run, r, &err)) {
    diag_error(&S->diags, run->src, run->loc, "%s", err);
    status = HNN_ERR_RUNTIME;
    if (r->c.out) run_out_abort(r->c.out);
    r->c.out = NULL;
  } else if (g || p) {
    r->c.steps_end = r->steps;
    flow_progress_start(&r->c, S, flow->name);
    int bad = g ? emit_grid(r, g, 0, 0) : emit_particles(r, p, 0, 0, row);
    for (long s = 1; s <= r->steps && !bad && !msg[0]; s++) {
      if (flow_interrupted()) {
        snprintf(msg, sizeof msg, "interrupted at t = %g", (double)(s - 1) * r->h);
        break;
      }
      if (g ? rhoh_grid_step(g, r->h, msg, sizeof msg) : rhoh_particles_step(p, r->h, msg, sizeof msg)) break;
      if (s % r->every == 0 || s == r->steps) bad = g ? emit_grid(r, g, (double)s * r->h, s) : emit_particles(r, p, (double)s * r->h, s, row);
      flow_progress(&r->c, (double)s * r->h, s);
    }
    flow_progress_end(&r->c);
    if (bad && !msg[0]) snprintf(msg, sizeof msg, "cannot write the output");
    if (run_out_finish(r->c.out, r->mon, !msg[0], &err) && !msg[0]) snprintf(msg, sizeof msg, "%s", err);
    r->c.out = r->mon = NULL;
  }
  if (msg[0] && status == HNN_OK) {
    diag_error(&S->diags, run->src, run->loc, "run %s: %s", flow->name, msg);
    status = HNN_ERR_RUNTIME;
  }
  free(err);
  rhoh_grid_free(g);
  rhoh_particles_free(p);
  free(ws), free(in), free(out), free(th), free(q), free(f), free(row);
  return status;
}

static void rhoh_release(flow_job *J) {
  rrun *r = J->priv;
  if (!r) return;
  law_free(&r->L);
  netfit_free(&r->nf);
  free(r);
  J->priv = NULL;
}

const flow_kind flow_kind_rho_h = {
  .name = "rho_h", .usage = "rho_h(h, f, X, lambda = 0, form = separated | transported | chaos)",
  .options = rhoh_run_options, .siblings = { "_monitor" }, .check_decl = rhoh_check_decl, .check_run = rhoh_check_run,
  .prepare = rhoh_prepare, .compile = rhoh_compile, .run = rhoh_run, .release = rhoh_release
};
