/*
** kind_dual.c — `augmented_lagrangian(J, [g1, ...], G, ...)`: constrained
** problems by the dual Hopfield method (runtime/dual.c, source 000 eqs.
** 41-44), and its Monte Carlo runs.
**
**   flow eld = augmented_lagrangian(J, [g1, g2], s, step = 1e-2, dual_step = 0.1, r = 1)
**   run eld from z0 multipliers [-1, 1] repeat 100 steps 200 tol 1e-7 inner 10000 -> "eld.csv"
**
** The constraints g_k(z) = 0 take the same arguments as J.  L_r (41) is
** built as IR and differentiated exactly; one compiled callback maps
** (z, lambda) to (grad_z L_r, g(z)).  The sub-iterations are Hopfield steps
** in the hidden state of the activation s, and d_G is the geodesic distance
** of G = hopfield(s).  Each of the `repeat` runs draws its
** initial multipliers uniformly from [lo, hi] from its own stream (master
** seed, run number) and runs on its own workspace, so runs go in parallel
** and the output does not depend on the thread count.  Rows: run, iteration
** k, the geodesic and the Euclidean distance from z(k) to the run's final
** z*, and the sub-iterations used; NAME_zstar.csv has each run's final z,
** multipliers and constraint violations; a summary goes to standard output.
*/
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "dual.h"
#include "flowkind.h"
#include "lower.h"
#include "pool.h"
#include "par.h"
#include "rng.h"
#include "strbuf.h"

static const char *const dual_run_options[] = { "multipliers", "repeat", "steps", "tol", "inner", NULL };

static ast *constraint_list(sym *flow) { return flow->decl->kids[0]->kids[1]; }

static int same_signature(const sym *a, const sym *b) {
  if (a->sig.nformals != b->sig.nformals || a->sig.ngen || b->sig.ngen) return 0;
  for (int i = 0; i < a->sig.nformals; i++) {
    ty x = a->sig.formal[i], y = b->sig.formal[i];
    if (x.kind != y.kind || x.r.val != y.r.val || x.c.val != y.c.val) return 0;
  }
  return 1;
}

static int dual_check_decl(hnn_state *S, sym *flow, const flow_kind *k) {
  ast *call = flow->decl->kids[0];
  int npos = 0, errs = 0;
  for (int i = 0; i < call->nkids; i++) npos += call->kids[i]->kind != AST_KWARG;
  if (npos != 3 || call->kids[0]->kind != AST_NAME || call->kids[1]->kind != AST_VECTOR ||
      call->kids[2]->kind != AST_NAME) {
    diag_error(&S->diags, call->src, call->loc, "usage: flow %s = %s", flow->name, k->usage);
    return 1;
  }
  sym *J = state_lookup(S, call->kids[0]->name), *A = state_lookup(S, call->kids[2]->name);
  if (!J || (J->kind != SYM_OBJECTIVE && J->kind != SYM_FUNCTION) || sema_check_sym(S, J)) {
    diag_error(&S->diags, call->kids[0]->src, call->kids[0]->loc, "'%s' is not an objective", call->kids[0]->name);
    return 1;
  }
  if (J->sig.result.kind != TY_SCALAR || J->sig.ngen) {
    diag_error(&S->diags, call->kids[0]->src, call->kids[0]->loc,
               "'%s' must be scalar-valued with fixed argument sizes", J->name);
    return 1;
  }
  if (!A || A->kind != SYM_ACTIVATION || sema_check_sym(S, A)) {
    diag_error(&S->diags, call->kids[2]->src, call->kids[2]->loc, "'%s' is not an activation", call->kids[2]->name);
    return 1;
  }
  ast *list = call->kids[1];
  for (int i = 0; i < list->nkids; i++) {
    ast *g = list->kids[i];
    sym *c = g->kind == AST_NAME ? state_lookup(S, g->name) : NULL;
    if (!c || (c->kind != SYM_FUNCTION && c->kind != SYM_OBJECTIVE) || sema_check_sym(S, c)) {
      diag_error(&S->diags, g->src, g->loc, "a constraint is a function g(...) whose value must be 0");
      errs++;
    } else if (!same_signature(J, c) || c->sig.result.kind != TY_SCALAR) {
      diag_error(&S->diags, g->src, g->loc, "constraint '%s' must be scalar and take the same arguments as '%s'",
                 c->name, J->name);
      errs++;
    }
  }
  for (int i = 0; i < call->nkids; i++) {
    ast *a = call->kids[i];
    if (a->kind != AST_KWARG) continue;
    int ok = 0;
    for (int w = 0; k->keywords[w]; w++) ok |= strcmp(k->keywords[w], a->name) == 0;
    if (!ok) {
      diag_error(&S->diags, a->src, a->name_loc, "%s takes no argument '%s' (usage: %s)", k->name, a->name, k->usage);
      errs++;
    } else {
      errs += flow_check_number(S, a->kids[0], a->name);
    }
  }
  if (!errs && (!flow_keyword(flow, "step") || !flow_keyword(flow, "dual_step"))) {
    diag_error(&S->diags, call->src, call->loc, "%s needs step = ... and dual_step = ... (usage: %s)", k->name,
               k->usage);
    errs++;
  }
  return errs;
}

static int dual_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  int errs = 0;
  for (int i = 2; i < run->nkids; i++) {
    ast *o = run->kids[i];
    if (flow_bad_option(S, run, i, k->options, k->name)) {
      errs++;
    } else if (strcmp(o->name, "multipliers") == 0) {
      ty t;
      if (sema_check_expr(S, o->kids[0], &t)) errs++;
      else if (t.kind != TY_VECTOR || t.r.val != 2) {
        diag_error(&S->diags, o->kids[0]->src, o->kids[0]->loc, "multipliers [lo, hi]: each starts uniform in it");
        errs++;
      }
    } else {
      errs += flow_check_number(S, o->kids[0], o->name);
    }
  }
  ty t;
  if (sema_check_expr(S, run->kids[0], &t)) return errs + 1;
  sym *J = state_lookup(S, flow->decl->kids[0]->kids[0]->name);
  if (t.kind != TY_VECTOR || flow_objective_size(S, J, t.r.val, run->kids[0]) == 0) errs++;
  return errs;
}

/* The repeat runs of a dual Hopfield ensemble: each has its own stream
** (seed, run number) and outputs, so they run in any order. */
typedef struct {
  const dual_problem *P;
  const dual_opts *o;
  const flow_fn *d1;
  const double *u0, *mult;
  int n, m;
  long K;
  size_t nws;
  uint64_t seed, stream;
  double *traj, *zf, *lam, *dg, *de, *viol;
  long *inn;
  int *st;
  char (*msg)[256];
  run_ctx *progress;     /* the progress line, drawn by thread 0 */
  atomic_long done;      /* runs finished */
  long first;            /* the first run of this process (par.h) */
} ensemble;

static void ensemble_runs(void *ctx, long lo, long hi, int thread) {
  ensemble *E = ctx;
  const dual_problem *P = E->P;
  int n = E->n, m = E->m;
  long K = E->K;
  for (long run_i = lo + E->first; run_i < hi + E->first; run_i++) {
    double *ws = hnn_xcalloc(E->nws, sizeof *ws), *z = E->zf + (size_t)run_i * n, *l = E->lam + (size_t)run_i * m;
    gsl_rng *g = rng_stream(E->seed, RNG_RUN, E->stream + (uint64_t)run_i);
    for (int j = 0; j < m; j++)
      l[j] = gsl_ran_flat(g, E->mult[0], E->mult[1] + (E->mult[0] == E->mult[1] ? 1e-300 : 0));
    gsl_rng_free(g);
    double *u = hnn_xmalloc((size_t)n * sizeof *u), *zk = hnn_xmalloc((size_t)n * sizeof *zk);
    memcpy(u, E->u0, (size_t)n * sizeof *u);
    double *tr = E->traj + (size_t)run_i * K * n, *cb = ws + 3 * (size_t)(n + m);
    E->st[run_i] = dual_run(P, E->o, u, l, tr, E->inn + (size_t)run_i * K, ws, E->msg[run_i], sizeof E->msg[run_i]);
    if (!E->st[run_i]) {
      /* z* = s(u*), and the constraint values there */
      double *in = ws, *out = ws + n + m;
      P->act.fn(u, NULL, z, cb);
      memcpy(in, z, (size_t)n * sizeof *z);
      memcpy(in + n, l, (size_t)m * sizeof *l);
      P->lgrad.fn(in, NULL, out, cb);
      for (int j = 0; j < m; j++) E->viol[(size_t)run_i * m + j] = fabs(out[n + j]);
      for (long kk = 0; kk < K; kk++) {
        const double *uk = tr + (size_t)kk * n;
        P->act.fn(uk, NULL, zk, cb);
        double s = 0;
        for (int i = 0; i < n; i++) s += (zk[i] - z[i]) * (zk[i] - z[i]);
        E->de[(size_t)run_i * K + kk] = sqrt(s);
        if (dual_hopfield_distance(E->d1, uk, u, n, cb, &E->dg[(size_t)run_i * K + kk]))
          E->dg[(size_t)run_i * K + kk] = NAN;
      }
    }
    free(u);
    free(zk);
    free(ws);
    long done = atomic_fetch_add(&E->done, 1) + 1;
    if (thread == 0) flow_progress(E->progress, NAN, done);
  }
}

/* In an MPI job each process ran its share of the repetitions: every
** process gets all of them, so the checks and the files below are the
** one-process ones.  Nonzero (message in err) when another process failed. */
static int gather_runs(ensemble *E, long R, char *err, size_t errlen) {
  size_t n = (size_t)E->n, m = (size_t)E->m, K = (size_t)E->K;
  struct { void *p; size_t row; } a[] = {
    { E->traj, K * n * sizeof(double) }, { E->zf, n * sizeof(double) }, { E->lam, m * sizeof(double) },
    { E->dg, K * sizeof(double) }, { E->de, K * sizeof(double) }, { E->viol, m * sizeof(double) },
    { E->inn, K * sizeof(long) }, { E->st, sizeof(int) }, { E->msg, sizeof *E->msg },
  };
  for (size_t i = 0; i < sizeof a / sizeof *a; i++)
    if (par_gather(a[i].p, R, a[i].row, 0, err, errlen)) return -1;
  return 0;
}

/* (z, lambda) -> (grad_z L_r, g(z)), L_r = J + lambda'g + r/2 |g|^2 (41). */
static hnn_fn *compile_lagrangian(hnn_state *S, sym *flow, double r, int *m) {
  ir_ctx *ir = ir_ctx_new();
  sym *J = state_lookup(S, flow->decl->kids[0]->kids[0]->name);
  ast *list = constraint_list(flow);
  ir_node **vars = NULL, *body = NULL;
  int nv = 0;
  hnn_fn *fn = NULL;
  *m = list->nkids;
  if (lower_callable(S, ir, J, 0, &vars, &nv, &body) == 0) {
    ir_node **g = hnn_xcalloc((size_t)*m + 1, sizeof *g);
    int ok = 1;
    for (int k = 0; k < *m && ok; k++)
      ok = (g[k] = lower_inline(S, ir, state_lookup(S, list->kids[k]->name), nv, vars)) != NULL;
    if (ok) {
      ir_node *gv = ir_pack(ir, ir_vector_shape(*m), g);
      ir_node *lambda = ir_var(ir, ir_vector_shape(*m), "lambda");
      ir_node *L = ir_add(ir, ir_add(ir, body, ir_dot(ir, lambda, gv)), ir_mul(ir, ir_const(ir, r / 2), ir_dot(ir, gv, gv)));
      ir_node **all = hnn_xcalloc((size_t)nv + 2, sizeof *all), **grads = hnn_xcalloc((size_t)nv + 2, sizeof *grads);
      memcpy(all, vars, (size_t)nv * sizeof *vars);
      all[nv] = lambda;
      diff_grad(ir, L, nv + 1, all, grads);
      fn = state_compile(S, ir, nv + 1, all, 0, NULL, nv + 1, grads, 0);
      free(all);
      free(grads);
    }
    free(g);
  }
  free(vars);
  ir_ctx_free(ir);
  return fn;
}

/* 1 if d never grows (to rounding); a distance that could not be computed
** (NaN) does not count as decaying */
static int monotone(const double *d, long K) {
  for (long k = 0; k < K; k++)
    if (isnan(d[k]) || (k > 0 && d[k] > d[k - 1] * (1 + 1e-12) + 1e-15)) return 0;
  return 1;
}

/* A prepared dual run (flow_job.priv). */
typedef struct drun {
  double r, mult[2];
  dual_opts o;
  long repeat;
  double *z0;
  int n, m;
  hnn_fn *lg;                  /* (z, lambda) -> (grad_z L_r, g(z)) */
  dual_problem P;
  flow_fn d1, inv;
} drun;

static int dual_prepare(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  sym *flow = J->flow;
  drun *d = hnn_xcalloc(1, sizeof *d);
  J->priv = d;
  d->r = 1;
  d->o = (dual_opts){ .tol = 1e-7, .outer = 100, .inner_max = 10000 };
  d->repeat = 1;
  d->mult[0] = -1, d->mult[1] = 1;
  if (flow_kw_number(S, flow, "r", 0, 1, &d->r) || flow_kw_number(S, flow, "step", 0, 0, &d->o.h) ||
      flow_kw_number(S, flow, "dual_step", 0, 0, &d->o.h_dual) ||
      flow_opt_count(S, run, "repeat", 1, 1000000, &d->repeat) ||
      flow_opt_count(S, run, "steps", 1, 10000000, &d->o.outer) ||
      flow_opt_count(S, run, "inner", 1, FLOW_COUNT_MAX, &d->o.inner_max) || flow_opt_positive(S, run, "tol", &d->o.tol))
    return HNN_ERR_SCRIPT;
  ast *me = flow_option(run, "multipliers");
  if (me) {
    double *v = NULL;
    ir_shape sh;
    int bad = state_eval_ast(S, me, &v, &sh) != HNN_OK;
    if (!bad) d->mult[0] = v[0], d->mult[1] = v[1];
    free(v);
    if (!bad && !(d->mult[0] <= d->mult[1] && isfinite(d->mult[0]) && isfinite(d->mult[1]))) {
      diag_error(&S->diags, me->src, me->loc, "multipliers [lo, hi] needs finite lo <= hi");
      bad = 1;
    }
    if (bad) return HNN_ERR_SCRIPT;
  }
  ir_shape sh;
  if (state_eval_ast(S, run->kids[0], &d->z0, &sh) != HNN_OK) return HNN_ERR_SCRIPT;
  d->n = sh.rows;
  d->m = constraint_list(flow)->nkids;
  /* rows: each repetition's iterations, and its line of z*; memory: the
  ** trajectories kept for the distances to z* */
  double R = (double)d->repeat, K = (double)d->o.outer;
  J->plan.rows = R * K + R;
  J->plan.values = fmax(6, 3 + d->n + 2.0 * d->m);
  J->plan.memory = R * K * (d->n * 8 + 24);
  return HNN_OK;
}

static int dual_compile(flow_job *J) {
  drun *d = J->priv;
  hnn_state *S = J->S;
  sym *A = state_lookup(S, J->flow->decl->kids[0]->kids[2]->name);
  int m = 0;
  d->P.n = d->n;
  d->lg = compile_lagrangian(S, J->flow, d->r, &m);
  return !d->lg || flow_fn_of(S, A, HNN_VALUE, d->n, &d->P.act) || flow_fn_of(S, A, HNN_INVERSE, d->n, &d->inv) ||
         flow_fn_of(S, A, HNN_DERIV1, 1, &d->d1);
}

static void dual_release(flow_job *J) {
  drun *d = J->priv;
  if (!d) return;
  free(d->z0);
  free(d);
  J->priv = NULL;
}

static int dual_run_ensemble(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  sym *flow = J->flow;
  drun *d = J->priv;
  int n = d->n, m = d->m;
  double *z0 = d->z0, *mult = d->mult;
  dual_opts o = d->o;
  dual_problem P = d->P;
  flow_fn d1 = d->d1, inv = d->inv;
  sym *A = state_lookup(S, flow->decl->kids[0]->kids[2]->name);
  P.m = m;
  P.lgrad.fn = d->lg->fn;
  P.lgrad.nwork = d->lg->nwork;
  int R = (int)d->repeat;
  long K = o.outer;
  size_t nws = P.lgrad.nwork + P.act.nwork + inv.nwork + d1.nwork + 3 * (size_t)(n + m) + 8;
  /* the start in the hidden state */
  double *u0 = hnn_xcalloc((size_t)n, sizeof *u0), *tmpws = hnn_xcalloc(nws, sizeof *tmpws);
  int start_bad = inv.fn(z0, NULL, u0, tmpws);
  for (int i = 0; i < n; i++) start_bad |= !isfinite(u0[i]);
  free(tmpws);
  if (start_bad) {
    diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "the start is outside the range of the activation '%s'",
               A->name);
    free(u0);
    return HNN_ERR_SCRIPT;
  }
  const int have_g1 = 1;
  double *traj = hnn_xcalloc((size_t)R * K * n, sizeof *traj), *zf = hnn_xcalloc((size_t)R * n, sizeof *zf);
  double *lam = hnn_xcalloc((size_t)R * m, sizeof *lam), *dg = hnn_xcalloc((size_t)R * K, sizeof *dg);
  double *de = hnn_xcalloc((size_t)R * K, sizeof *de), *viol = hnn_xcalloc((size_t)R * m, sizeof *viol);
  long *inn = hnn_xcalloc((size_t)R * K, sizeof *inn);
  int *st = hnn_xcalloc((size_t)R, sizeof *st);
  char (*msg)[256] = hnn_xcalloc((size_t)R, sizeof *msg);
  uint64_t seed = S->seed, stream = rng_name_index(flow->name);
  run_ctx prog;
  memset(&prog, 0, sizeof prog);
  flow_progress_start(&prog, S, flow->name);
  prog.steps_end = R;
  ensemble E = { &P, &o, &d1, u0, mult, n, m, K, nws, seed, stream, traj, zf, lam, dg, de, viol, inn, st, msg, &prog };
  atomic_init(&E.done, 0);
  long r1;
  par_share(R, &E.first, &r1);
  pool_run(pool_max_threads(), r1 - E.first, 1, ensemble_runs, &E);
  flow_progress_end(&prog);
  int status = HNN_OK;
  char perr[512];
  if (gather_runs(&E, R, perr, sizeof perr)) {
    diag_error(&S->diags, run->src, run->loc, "run %s: %s", flow->name, perr);
    status = HNN_ERR_RUNTIME;
  }
  for (int i = 0; i < R && status == HNN_OK; i++)
    if (st[i]) {
      diag_error(&S->diags, run->src, run->loc, "run %s, repetition %d: %s", flow->name, i + 1, msg[i]);
      status = HNN_ERR_RUNTIME;
    }
  /* a distance the quadrature could not compute is a failure, as in every
  ** engine: no file is written with it */
  for (size_t k = 0; status == HNN_OK && k < (size_t)R * K; k++)
    if (isnan(dg[k])) {
      diag_error(&S->diags, run->src, run->loc, "run %s, repetition %zu: the geodesic distance to z* could not be "
                 "computed at dual iteration %zu", flow->name, k / (size_t)K + 1, k % (size_t)K + 1);
      status = HNN_ERR_RUNTIME;
    }
  char *err = NULL;
  const char *names[] = { "run", "d_geodesic", "d_euclidean", "subiterations" };
  /* without a file, the rows go to standard output (no z* file then) */
  run_out *out = status == HNN_OK ? run_out_open(S, run->kids[1] ? run->kids[1]->name : NULL, 4, names, &err) : NULL;
  if (status == HNN_OK && !out) {
    diag_error(&S->diags, run->kids[1]->src, run->kids[1]->loc, "%s", err);
    free(err);
    status = HNN_ERR_RUNTIME;
  }
  /* NAME_zstar.csv: each run's final z, multipliers and |g_j|, full precision */
  if (out && run->kids[1]) {
    strbuf hb = STRBUF_INIT;
    size_t nc = 1 + (size_t)n + 2 * (size_t)m;
    char **zn = hnn_xcalloc(nc, sizeof *zn);
    zn[0] = hnn_xstrdup("run");
    for (int i = 0; i < n; i++) sb_printf(&hb, "z%d", i + 1), zn[1 + i] = sb_take(&hb);
    for (int j = 0; j < m; j++) sb_printf(&hb, "lambda%d", j + 1), zn[1 + n + j] = sb_take(&hb);
    for (int j = 0; j < m; j++)
      sb_printf(&hb, "violation_%s", constraint_list(flow)->kids[j]->name), zn[1 + n + m + j] = sb_take(&hb);
    char *zpath = run_out_sibling(run->kids[1]->name, "_zstar");
    run_out *zo = run_out_open(S, zpath, (int)nc, (const char *const *)zn, &err);
    double *zr = hnn_xcalloc(nc, sizeof *zr);
    int zbad = !zo;
    for (int i = 0; i < R && !zbad; i++) {
      zr[0] = i + 1;
      memcpy(zr + 1, zf + (size_t)i * n, (size_t)n * sizeof *zr);
      memcpy(zr + 1 + n, lam + (size_t)i * m, (size_t)m * sizeof *zr);
      memcpy(zr + 1 + n + m, viol + (size_t)i * m, (size_t)m * sizeof *zr);
      zbad = run_out_row(zo, (double)K, K, zr);
    }
    /* a failed row is remembered: closing removes the temporary and says why */
    if (zo) zbad = run_out_close(zo, &err) || zbad;
    if (zbad) {
      diag_error(&S->diags, run->src, run->loc, "%s", err ? err : "cannot write the z* file");
      free(err);
      err = NULL;
      status = HNN_ERR_RUNTIME;
    }
    for (size_t c = 0; c < nc; c++) free(zn[c]);
    free(zn), free(zr), free(zpath);
  }
  if (out) {
    double row[4];
    int wbad = 0;
    for (int i = 0; i < R && !wbad; i++)
      for (long kk = 0; kk < K && !wbad; kk++) {
        row[0] = i + 1;
        row[1] = dg[(size_t)i * K + kk];
        row[2] = de[(size_t)i * K + kk];
        row[3] = (double)inn[(size_t)i * K + kk];
        wbad = run_out_row(out, (double)(kk + 1), kk + 1, row);
      }
    if (run_out_close(out, &err) || wbad) {
      diag_error(&S->diags, run->src, run->loc, "%s", err);
      free(err);
      status = HNN_ERR_RUNTIME;
    }
  }
  if (status == HNN_OK && S->out) {
    int mono = 0;
    double worst[8] = { 0 };
    for (int i = 0; i < R; i++) {
      mono += have_g1 && monotone(dg + (size_t)i * K, K);
      for (int j = 0; j < m && j < 8; j++) worst[j] = fmax(worst[j], viol[(size_t)i * m + j]);
    }
    fprintf(S->out, "# %s: %d run%s of %ld dual iterations\n", flow->name, R, R == 1 ? "" : "s", K);
    if (have_g1) fprintf(S->out, "# geodesic distance to z* decays monotonically in %d of %d runs\n", mono, R);
    for (int j = 0; j < m && j < 8; j++)
      fprintf(S->out, "# largest final |%s| over the runs: %.3g\n", constraint_list(flow)->kids[j]->name, worst[j]);
    fputs("# z* of run 1, rounded:", S->out);
    for (int i = 0; i < n; i++) fprintf(S->out, " %.0f", round(zf[i]));
    fputc('\n', S->out);
    if (run->kids[1]) {
      char *zp = run_out_sibling(run->kids[1]->name, "_zstar");
      fprintf(S->out, "# every run's z*, multipliers and violations: %s\n", zp);
      free(zp);
    }
  }
  free(u0);
  free(traj);
  free(zf);
  free(lam);
  free(dg);
  free(de);
  free(viol);
  free(inn);
  free(st);
  free(msg);
  return status;
}

const flow_kind flow_kind_augmented_lagrangian = {
  .name = "augmented_lagrangian",
  .usage = "augmented_lagrangian(J, [g1, g2, ...], s, step = h, dual_step = h2, r = 1)",
  .nroles = 3, .roles = { R_OBJECTIVE, R_CONSTRAINTS, R_ACTIVATION }, .keywords = { "step", "dual_step", "r", NULL },
  .options = dual_run_options, .siblings = { "_zstar" }, .check_decl = dual_check_decl, .check_run = dual_check_run,
  .prepare = dual_prepare, .compile = dual_compile, .run = dual_run_ensemble, .release = dual_release
};
