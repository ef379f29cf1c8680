/*
** kind_wparticles.c — the Wasserstein gradient flows of an `energy` on
** particles: `particles(E)` (deterministic, Heun) and `langevin(E)` (the
** entropy as noise, Euler-Maruyama); the field and the steps are wpstep.c's.
**
**   flow p = particles(E)
**   run p from normal([0, 0], [1, 1]) particles 1000 h 1e-3 steps 2000 every 100 -> "p.csv"
**
** Run options: particles, h, steps, every (as the other particle kinds),
** bandwidth (the KDE terms; default Silverman's rule on the current cloud),
** score (kde: the KDE's score, default; blob: the gradient of the KDE
** energy estimate) and tol (kernel sums: 0 exact, else kernsum.h's bound).  The file has t,
** step, particle, x1..xn; NAME_monitor.csv has per written step the energy
** of every part and their total, the dissipation (1/N) sum |v_i|^2, the
** mean, the second moment (1/N) sum |x_i|^2 and the bandwidth (when a KDE
** term is present).  On standard output only the monitor rows are printed.
*/
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowkind.h"
#include "law.h"
#include "rng.h"
#include "monitor_dist.h"
#include "wpstep.h"

static const char *const wp_run_options[] = { "particles", "h", "steps", "every", "bandwidth", "tol", "score",
                                              MON_DIST_OPTION_NAMES, NULL };

/* ------------------------------------------------------------ checks */

static int wp_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  (void)flow;
  static const char *const special[] = { "score", MON_DIST_OPTION_NAMES, NULL };
  int errs = flow_check_options(S, run, k, special);
  for (int i = 2; i < run->nkids; i++)
    if (mon_dist_is_option(run->kids[i]->name)) errs += mon_dist_check(S, run, run->kids[i]);
  ast *v = flow_option(run, "score");
  if (v) {
    if (v->kind != AST_NAME || (strcmp(v->name, "kde") && strcmp(v->name, "blob"))) {
      diag_error(&S->diags, v->src, v->loc, "score is kde (the score of the kernel density estimate) or blob (the "
                 "gradient of the estimated energy)");
      errs++;
    }
  }
  return errs;
}

/* ------------------------------------------------------------ runs */

typedef struct wprun {
  run_ctx c;
  run_out *mon;
  int N, n, langevin, kde, blob;
  long steps, every;
  double h, bandwidth, tol;
  flow_law L;
  sym *E;
  energy_model M;
  int have_model;
  wp_model W;
  double *x, *v, *xt, *parts, *mrow;
  mon_dist md;                 /* w2_to, sinkhorn_to columns */
} wprun;

static int wp_prepare(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  wprun *r = hnn_xcalloc(1, sizeof *r);
  J->priv = r;
  r->langevin = J->kind->variant == 1;
  r->E = state_lookup(S, J->flow->decl->kids[0]->kids[0]->name);
  int status = law_read(S, run->kids[0], "a particle run starts from", &r->L);
  if (status != HNN_OK) return status;
  long N = r->L.kind == LAW_POINTS ? r->L.npoints : 1000;
  r->steps = 1000;
  r->h = 1e-3;
  if (flow_opt_count(S, run, "particles", 1, 10000000, &N) || flow_opt_positive(S, run, "h", &r->h) ||
      flow_opt_count(S, run, "steps", 1, FLOW_COUNT_MAX, &r->steps))
    return HNN_ERR_SCRIPT;
  r->every = r->steps >= 10 ? r->steps / 10 : 1;
  if (flow_opt_count(S, run, "every", 1, FLOW_COUNT_MAX, &r->every) ||
      flow_opt_positive(S, run, "bandwidth", &r->bandwidth))
    return HNN_ERR_SCRIPT;
  ast *sc = flow_option(run, "score");
  r->blob = sc && strcmp(sc->name, "blob") == 0;
  ast *tol = flow_option(run, "tol");
  if (tol) {
    double *v = NULL;
    ir_shape sh;
    int bad = state_eval_ast(S, tol, &v, &sh) != HNN_OK;
    if (!bad && !(v[0] >= 0 && isfinite(v[0]))) {
      diag_error(&S->diags, tol->src, tol->loc, "tol is 0 (exact kernel sums) or a bound > 0");
      bad = 1;
    }
    if (!bad) r->tol = v[0];
    free(v);
    if (bad) return HNN_ERR_SCRIPT;
  }
  r->N = (int)N;
  r->n = r->L.n;
  if (r->L.kind == LAW_POINTS && r->N != r->L.npoints) {
    diag_error(&S->diags, run->src, run->loc, "the csv file has %d points but the run asks for %d particles",
               r->L.npoints, r->N);
    return HNN_ERR_SCRIPT;
  }
  int dim = energy_model_dim(r->E);
  if (dim && dim != r->n) {
    diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc,
               "the start is in dimension %d, the energy %s in dimension %d", r->n, r->E->name, dim);
    return HNN_ERR_SCRIPT;
  }
  for (int i = 0; i < r->E->energy->nterms; i++)
    r->kde |= r->E->energy->terms[i].piece == ENERGY_POWER || r->E->energy->terms[i].piece == ENERGY_ENTROPY ||
              r->E->energy->terms[i].piece == ENERGY_KL;
  /* rows: the cloud at every written step (to a file only) and the
  ** monitor; memory: the cloud, its velocities and the kernel sums' buffers */
  if (mon_dist_prepare(S, run, J->flow->name, r->n, r->N, &r->md) != HNN_OK) return HNN_ERR_SCRIPT;
  double snaps = floor((double)r->steps / (double)r->every) + 2;
  J->plan.rows = snaps * (run->kids[1] ? (double)r->N + 1 : 1);
  J->plan.values = r->E->energy->nterms + r->n + 8 + r->md.ncols;
  J->plan.memory = (double)r->N * r->n * 8 * 12 + (double)r->N * 8 * 8;
  return HNN_OK;
}

static int wp_compile(flow_job *J) {
  wprun *r = J->priv;
  int s = energy_model_build(J->S, r->E, r->n, &r->M);
  r->have_model = 1;
  return s != HNN_OK;
}

static int open_outputs(hnn_state *S, ast *run, wprun *r, char **err) {
  int n = r->n;
  const char *path = run->kids[1] ? run->kids[1]->name : NULL;
  char **names = hnn_xcalloc((size_t)n + 2, sizeof *names);
  names[0] = hnn_xstrdup("particle");
  run_out_names(names + 1, "x", n);
  if (path) r->c.out = run_out_open(S, path, n + 1, (const char *const *)names, err);
  for (int i = 0; i < n + 1; i++) free(names[i]);
  free(names);
  if (path && !r->c.out) return 1;
  int np = r->W.nparts, nm = np + 2 + n + 1 + r->kde + r->md.ncols;
  char **mn = hnn_xcalloc((size_t)nm + 1, sizeof *mn);
  int k = 0;
  for (int i = 0; i < np; i++) mn[k++] = hnn_xstrdup(r->W.part_name[i]);
  mn[k++] = hnn_xstrdup("energy");
  mn[k++] = hnn_xstrdup("dissipation");
  run_out_names(mn + k, "mean", n);
  k += n;
  mn[k++] = hnn_xstrdup("second_moment");
  if (r->kde) mn[k++] = hnn_xstrdup("bandwidth");
  mon_dist_names(&r->md, mn + k);
  r->mon = run_out_open_sibling(S, path, "_monitor", nm, (const char *const *)mn, err);
  for (int i = 0; i < nm; i++) free(mn[i]);
  free(mn);
  r->mrow = hnn_xcalloc((size_t)nm + 1, sizeof *r->mrow);
  return r->mon == NULL;
}

static int close_outputs(wprun *r, int ok, char **err) { return run_out_finish(r->c.out, r->mon, ok, err); }

/* The rows of step k: the cloud, and the monitor from the parts' energies
** and the full velocity v at x (entropy included). */
static int emit(wprun *r, long k, const double *x, const double *v) {
  int n = r->n, N = r->N, bad = 0;
  double t = (double)k * r->h;
  for (int i = 0; r->c.out && i < N && !bad; i++) {
    r->c.row[0] = i + 1;
    memcpy(r->c.row + 1, x + (size_t)i * n, (size_t)n * sizeof *x);
    bad = run_out_row(r->c.out, t, k, r->c.row);
  }
  double *m = r->mrow, total = 0, diss = 0, second = 0;
  int j = 0;
  for (int i = 0; i < r->W.nparts; i++) total += m[j++] = r->parts[i];
  m[j++] = total;
  for (size_t i = 0; i < (size_t)N * n; i++) diss += v[i] * v[i];
  m[j++] = diss / N;
  for (int a = 0; a < n; a++) {
    double s = 0;
    for (int i = 0; i < N; i++) s += x[(size_t)i * n + a];
    m[j++] = s / N;
  }
  for (size_t i = 0; i < (size_t)N * n; i++) second += x[i] * x[i];
  m[j++] = second / N;
  if (r->kde) m[j++] = r->W.last_bandwidth;
  if (!bad && r->md.ncols && mon_dist_row(&r->md, x, N, m + j)) return 1;
  flow_progress(&r->c, t, k);
  return bad || run_out_row(r->mon, t, k, m);
}

/* Step k: the field (and the rows, at a written step), then the move to
** step k + 1.  -1 with a message, -2 with a complete message (output). */
static int wp_step(wprun *r, long k, char *msg, size_t len) {
  wp_model *W = &r->W;
  int out = k % r->every == 0 || k == r->steps;
  /* the deterministic flow needs the full field every step; Langevin its
  ** drift, and at written steps the full field for the monitor */
  if (!r->langevin || out) {
    if (wp_velocity(W, r->x, 1, r->v, out ? r->parts : NULL, msg, len)) return -1;
    if (out && emit(r, k, r->x, r->v)) {
      if (r->md.err[0]) snprintf(msg, len, "step %ld: %.400s", k, r->md.err);
      else snprintf(msg, len, "output failed at step %ld: %s", k, strerror(errno));
      return -2;
    }
  }
  if (k == r->steps) return 0;
  if (!r->langevin) return wp_heun_step(W, r->x, r->v, r->h, r->xt, msg, len);
  double T = r->M.entropy;
  if ((!out || T > 0) && wp_velocity(W, r->x, 0, r->v, NULL, msg, len)) return -1;
  wp_langevin_step(W, r->x, r->v, r->h, T);
  return 0;
}

static int wp_loop(wprun *r, char *msg, size_t len) {
  for (long k = 0; k <= r->steps; k++) {
    if (flow_interrupted()) {
      snprintf(msg, len, "interrupted at step %ld", k);
      return -1;
    }
    int s = wp_step(r, k, msg, len);
    if (s == -1) {
      size_t used = strlen(msg);
      snprintf(msg + used, len - used, " at step %ld", k);
    }
    if (s) return -1;
  }
  return 0;
}

static int wp_run(flow_job *J) {
  hnn_state *S = J->S;
  sym *flow = J->flow;
  wprun *r = J->priv;
  int N = r->N, n = r->n, status = HNN_OK;
  char msg[512] = "", *err = NULL;
  if (wp_model_init(&r->W, &r->M, n, (size_t)N, r->bandwidth, r->tol, 0, msg, sizeof msg) ||
      (r->langevin && wp_noise_init(&r->W, rng_split(S->seed, RNG_RUN, rng_name_index(flow->name))))) {
    diag_error(&S->diags, J->run->src, J->run->loc, "run %s: %s", flow->name, msg[0] ? msg : "out of memory");
    return HNN_ERR_RUNTIME;
  }
  r->W.blob = r->blob;
  r->x = hnn_xmalloc((size_t)N * n * sizeof *r->x);
  r->v = hnn_xmalloc((size_t)N * n * sizeof *r->v);
  r->xt = hnn_xmalloc((size_t)N * n * sizeof *r->xt);
  r->parts = hnn_xcalloc((size_t)r->W.nparts + 1, sizeof *r->parts);
  r->c.row = hnn_xcalloc((size_t)n + 2, sizeof *r->c.row);
  r->c.steps_end = r->steps;
  gsl_rng *g = rng_stream(S->seed, RNG_RUN, rng_name_index(flow->name) ^ 0x1a1f);
  law_sample(&r->L, N, g, r->x, NULL);
  gsl_rng_free(g);
  flow_progress_start(&r->c, S, flow->name);
  if (open_outputs(S, J->run, r, &err)) {
    diag_error(&S->diags, J->run->src, J->run->loc, "%s", err);
    free(err);
    return HNN_ERR_RUNTIME;
  }
  int s = wp_loop(r, msg, sizeof msg);
  flow_progress_end(&r->c);
  if (s) {
    diag_error(&S->diags, J->run->src, J->run->loc, "run %s: %s", flow->name, msg);
    status = HNN_ERR_RUNTIME;
  }
  if (close_outputs(r, status == HNN_OK, &err) && status == HNN_OK) {
    diag_error(&S->diags, J->run->src, J->run->loc, "%s", err);
    status = HNN_ERR_RUNTIME;
  }
  free(err);
  return status;
}

static void wp_release(flow_job *J) {
  wprun *r = J->priv;
  if (!r) return;
  wp_model_free(&r->W);
  if (r->have_model) energy_model_free(&r->M);
  free(r->x);
  free(r->v);
  free(r->xt);
  free(r->parts);
  free(r->mrow);
  free(r->c.row);
  law_free(&r->L);
  mon_dist_free(&r->md);
  free(r);
  J->priv = NULL;
}

const flow_kind flow_kind_particles = {
  .name = "particles", .usage = "particles(E), E an energy", .nroles = 1, .roles = { R_ENERGY }, .keywords = { NULL },
  .options = wp_run_options, .siblings = { "_monitor" }, .variant = 0, 
  .check_run = wp_check_run, .prepare = wp_prepare, .compile = wp_compile, .run = wp_run, .release = wp_release
};

const flow_kind flow_kind_langevin = {
  .name = "langevin", .usage = "langevin(E), E an energy", .nroles = 1, .roles = { R_ENERGY }, .keywords = { NULL },
  .options = wp_run_options, .siblings = { "_monitor" }, .variant = 1, 
  .check_run = wp_check_run, .prepare = wp_prepare, .compile = wp_compile, .run = wp_run, .release = wp_release
};
