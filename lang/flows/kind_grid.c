/*
** kind_grid.c — density flows of an `energy` on 1-D and 2-D grids:
**   fokker_planck(E)        finite volumes (runtime/fv.c), implicit Euler
**   fokker_planck(E, G)     the same with the mobility G^-1 (diagonal G;
**                           000 eq. 49, the diffusion machine's density)
**   jko(E)                  exact 1-D JKO steps in quantiles (runtime/jko1d.c)
**   entropic_jko(E, eps = ) Peyre's entropic JKO (runtime/jko_entropic.c)
** A run starts from a law, discretized on the grid (densities at the cell
** centres, normalized to mass 1; a point set is binned):
**   run fp from normal([0], [0.1]) grid [-4, 4] cells 400 dt 1e-3 until 1 every 0.1 -> "fp.csv"
** Rows: t, step, x (or x1, x2), rho, one per cell per output time; the
** monitor file NAME_monitor.csv has mass, energy, entropy, second moment,
** mean, min rho, the engine's iterations, (1-D) W2 to the start, and the
** distance columns: W2 to a `reference` (w2_ref), and the particle
** monitors' w2_to / sinkhorn_to (monitor_dist.h) with the density as cell
** centres weighted by their masses; jko also writes NAME_quantiles.csv
** (t, step, s, Q; `paths K` of the N + 1 quantiles).
** docs/grid.md describes the options and the engines.
*/
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowkind.h"
#include "fv.h"
#include "fv_fftconv.h"
#include "gridenergy.h"
#include "jko1d.h"
#include "jko_entropic.h"
#include "law.h"
#include "monitor_dist.h"
#include "strbuf.h"
#include "wfield.h"

enum { V_FV, V_JKO, V_ENTROPIC };

static const char *const fv_options_list[] = { "grid", "cells", "dt", "until", "every", "reference", "order",
                                               MON_DIST_OPTION_NAMES, NULL };
static const char *const jko_options_list[] = { "grid", "cells", "dt", "until", "every", "reference", "points", "paths",
                                                MON_DIST_OPTION_NAMES, NULL };
static const char *const ent_options_list[] = { "grid", "cells", "dt", "until", "every", "reference", "tol",
                                                "maxiter", MON_DIST_OPTION_NAMES, NULL };

static int engine_of(const flow_kind *k) {
  return k->variant == V_FV ? GRID_FV : k->variant == V_JKO ? GRID_JKO : GRID_ENTROPIC;
}

/* The energy (first positional argument) and the metric (second, or NULL). */
static void grid_args(hnn_state *S, sym *flow, sym **E, sym **G) {
  ast *call = flow->decl->kids[0];
  int pos = 0;
  *E = *G = NULL;
  for (int i = 0; i < call->nkids; i++) {
    if (call->kids[i]->kind == AST_KWARG) continue;
    sym *s = state_lookup(S, call->kids[i]->name);
    if (pos++ == 0) *E = s;
    else *G = s;
  }
}

/* ------------------------------------------------------------ checks */

static int grid_check_decl(hnn_state *S, sym *s, const flow_kind *k) {
  ast *call = s->decl->kids[0];
  int errs = 0, npos = 0, have_eps = 0, maxpos = k->variant == V_FV ? 2 : 1;
  for (int i = 0; i < call->nkids; i++) {
    ast *a = call->kids[i];
    if (a->kind == AST_KWARG) {
      if (k->variant != V_ENTROPIC || strcmp(a->name, "eps") != 0) {
        diag_error(&S->diags, a->src, a->name_loc, "%s takes no argument '%s' (usage: %s)", k->name, a->name, k->usage);
        errs++;
      } else {
        have_eps = 1;
        errs += flow_check_number(S, a->kids[0], a->name);
      }
      continue;
    }
    if (npos >= maxpos || a->kind != AST_NAME) {
      diag_error(&S->diags, a->src, a->loc, "usage: flow %s = %s", s->name, k->usage);
      errs++;
      npos++;
      continue;
    }
    sym *d = state_lookup(S, a->name);
    sym_kind want = npos++ == 0 ? SYM_ENERGY : SYM_METRIC;
    if (!d || d->kind != want) {
      diag_error(&S->diags, a->src, a->loc, "%s expects %s here; '%s' is %s", k->name,
                 want == SYM_ENERGY ? "an energy" : "a metric", a->name, d ? sym_kind_name(d->kind) : "not defined");
      errs++;
    } else if (sema_check_sym(S, d)) {
      errs++;
    } else if (want == SYM_ENERGY) {
      int n = energy_model_dim(d);
      if (n > (k->variant == V_JKO ? 1 : 2)) {
        diag_error(&S->diags, a->src, a->loc, "%s runs on %s grids; '%s' is in dimension %d", k->name,
                   k->variant == V_JKO ? "1-D" : "1-D and 2-D", a->name, n);
        errs++;
      } else {
        errs += gridenergy_check(S, d, engine_of(k));
      }
    }
  }
  if (!errs && npos < 1) {
    diag_error(&S->diags, call->src, call->loc, "usage: flow %s = %s", s->name, k->usage);
    errs++;
  }
  if (!errs && k->variant == V_ENTROPIC && !have_eps) {
    diag_error(&S->diags, call->src, call->loc, "%s needs eps = ... (usage: %s)", k->name, k->usage);
    errs++;
  }
  return errs;
}

static int grid_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  (void)flow;
  static const char *const special[] = { "grid", "cells", "reference", MON_DIST_OPTION_NAMES, NULL };
  int errs = flow_check_options(S, run, k, special);
  for (int i = 2; i < run->nkids; i++) {
    ast *o = run->kids[i];
    ty t;
    if (strcmp(o->name, "monitor_samples") == 0) {
      diag_error(&S->diags, o->src, o->loc, "a grid run puts a law with a density on its own grid (no sampling "
                 "error) and takes a point set as it is: monitor_samples is for particle runs");
      errs++;
    } else if (mon_dist_is_option(o->name)) {
      errs += mon_dist_check(S, run, o);
    }
    if (strcmp(o->name, "grid") == 0 || strcmp(o->name, "cells") == 0) {
      if (sema_check_expr(S, o->kids[0], &t)) errs++;
    }
  }
  if (!flow_option(run, "grid")) {
    diag_error(&S->diags, run->src, run->loc, "a %s run needs grid [lo, hi] (or [[lo1, hi1], [lo2, hi2]] in 2-D)", k->name);
    errs++;
  }
  return errs;
}

/* ------------------------------------------------------------ runs */

/* A distance column of the monitor: W2 or the Sinkhorn divergence to a
** target that is a density on the run's grid (rho) or a point set as it is
** (pts, w).  An on-grid target becomes weighted points too (its cells with
** mass) when the run starts. */
typedef struct gcol {
  dist_kind kind;
  const char *name;            /* w2_ref, w2_to, sinkhorn_to */
  double *rho;                 /* ncells, or NULL */
  double *pts, *w;             /* npts x dim and npts weights (sum 1) */
  int npts;
} gcol;

typedef struct grun {
  run_ctx c;
  run_out *mon, *qout;
  int dim, ncells;
  fv_grid g;
  double vol, until, dt, every;
  long npoints;                /* jko: quantile points N (N + 1 values) */
  long npaths;                 /* jko: quantile paths written (s = round(i N / K)/N, i = 0..K) */
  long order;                  /* fokker_planck: 1 or 2 in space */
  double eps, tol;
  long maxiter;
  flow_law L;
  double *rho0, *ref, *rho, *row, *mrow;
  sym *E, *G;
  sym *start_fn, *ref_fn;      /* start / reference given as density functions */
  flow_fn start_cb, ref_cb;
  grid_energy ge;
  double econst;               /* the mmd / energy_distance terms' constant, added to the energy column */
  long iterations;
  /* the engines */
  fv_solver *fv;
  jko1d_problem jp;
  double *Q, *Q0, *Qt;          /* Qt: a w2 term's target quantiles */
  jko1d_info jinfo;
  jko_ent *je;
  /* the distance columns (w2_ref, w2_to, sinkhorn_to) */
  gcol col[3];
  int ncol, warned;
  double meps;                 /* monitor_eps */
  double *cx, *cw;             /* the density as weighted points: scratch */
} grun;

static int eval_vector(hnn_state *S, ast *e, double **v, ir_shape *sh) {
  return state_eval_ast(S, e, v, sh) != HNN_OK;
}

/* grid [lo, hi] or [[lo1, hi1], [lo2, hi2]]; cells N or [n1, n2]. */
static int read_grid(hnn_state *S, ast *run, int dim, fv_grid *g) {
  ast *ge = flow_option(run, "grid"), *ce = flow_option(run, "cells");
  double *v = NULL;
  ir_shape sh;
  memset(g, 0, sizeof *g);
  g->dim = dim;
  g->n[0] = dim == 1 ? 400 : 100;
  g->n[1] = dim == 1 ? 1 : 100;
  if (eval_vector(S, ge, &v, &sh)) return 1;
  int bad = 0;
  if (sh.kind == IR_VECTOR && ir_shape_size(sh) == 2) {
    for (int d = 0; d < dim; d++) g->lo[d] = v[0], g->hi[d] = v[1];
  } else if (sh.kind == IR_MATRIX && ir_shape_size(sh) == 2 * dim && ir_shape_size(sh) == 4) {
    for (int d = 0; d < dim; d++) g->lo[d] = v[2 * d], g->hi[d] = v[2 * d + 1];
  } else {
    bad = 1;
  }
  for (int d = 0; d < dim && !bad; d++) bad = !(g->lo[d] < g->hi[d]) || !isfinite(g->lo[d]) || !isfinite(g->hi[d]);
  free(v);
  if (bad) {
    diag_error(&S->diags, ge->src, ge->loc, "grid is [lo, hi] with lo < hi%s", dim == 2 ? " (both coordinates) or "
               "[[lo1, hi1], [lo2, hi2]]" : "");
    return 1;
  }
  if (!ce) return 0;
  v = NULL;
  if (eval_vector(S, ce, &v, &sh)) return 1;
  int cnt = ir_shape_size(sh);
  bad = !(cnt == 1 || (cnt == dim && sh.kind == IR_VECTOR));
  for (int d = 0; d < dim && !bad; d++) {
    double c = v[cnt == 1 ? 0 : d];
    bad = !(c >= 2 && c <= 1e8 && c == floor(c));
    if (!bad) g->n[d] = (int)c;
  }
  free(v);
  if (!bad && (double)g->n[0] * g->n[1] > 1e8) bad = 1;
  if (bad) {
    diag_error(&S->diags, ce->src, ce->loc, "cells is a whole number from 2 on%s (at most 1e8 cells in all)",
               dim == 2 ? ", or [n1, n2]" : "");
    return 1;
  }
  return 0;
}

/* The density of law L on the grid: at the cell centres, or binned for a
** point set; normalized to mass 1.  1 when it has no mass there. */
static int law_on_grid(const flow_law *L, const fv_grid *g, double vol, double *rho) {
  int n0 = g->n[0], n1 = g->n[1];
  size_t M = (size_t)n0 * n1;
  if (L->kind == LAW_POINTS) {
    memset(rho, 0, M * sizeof *rho);
    for (int p = 0; p < L->npoints; p++) {
      const double *x = L->points + (size_t)p * L->n;
      int idx[2] = { 0, 0 }, in = 1;
      for (int d = 0; d < g->dim; d++) {
        double f = (x[d] - g->lo[d]) / (g->hi[d] - g->lo[d]) * g->n[d];
        in &= f >= 0 && f <= g->n[d];
        idx[d] = f >= g->n[d] ? g->n[d] - 1 : (int)f;
      }
      if (in) rho[(size_t)idx[1] * n0 + idx[0]] += 1;
    }
  } else {
    for (int j = 0; j < n1; j++)
      for (int i = 0; i < n0; i++) {
        double x[2] = { fv_center(g, 0, i), g->dim == 2 ? fv_center(g, 1, j) : 0 };
        rho[(size_t)j * n0 + i] = law_density(L, x);
      }
  }
  double mass = 0;
  for (size_t c = 0; c < M; c++) mass += rho[c];
  mass *= vol;
  if (!(mass > 0) || !isfinite(mass)) return 1;
  for (size_t c = 0; c < M; c++) rho[c] /= mass;
  return 0;
}

/* A start or reference given as a density function: the name of a
** function or objective of one point with a scalar value (its values at
** the cell centres, normalized).  NULL when e is something else (a law). */
static sym *density_fn(hnn_state *S, ast *e) {
  if (e->kind != AST_NAME) return NULL;
  sym *f = state_lookup(S, e->name);
  if (!f || (f->kind != SYM_FUNCTION && f->kind != SYM_OBJECTIVE)) return NULL;
  return f;
}

/* The dimension a density function fixes (0: generic or unusable, with an
** error unless generic and `fallback` > 0, which is then returned). */
static int density_fn_dim(hnn_state *S, sym *f, ast *at, int fallback) {
  if (sema_check_sym(S, f)) return 0;
  int ok = f->sig.nformals == 1 && f->sig.result.kind == TY_SCALAR &&
           (f->sig.formal[0].kind == TY_SCALAR || f->sig.formal[0].kind == TY_VECTOR);
  int n = !ok ? 0 : f->sig.formal[0].kind == TY_SCALAR ? 1 : f->sig.formal[0].r.val > 0 ? f->sig.formal[0].r.val : fallback;
  if (!n)
    diag_error(&S->diags, at->src, at->loc, "a density given by a function is f(x[n]) of one point with a number as its "
               "value%s", ok ? ", with n fixed (or fixed by the energy)" : "");
  return n;
}

/* Values of a density function at the cell centres into rho, normalized;
** 1 with msg when a value is negative, not finite, or the mass is 0. */
static int fn_on_grid(const flow_fn *f, const fv_grid *g, double vol, double *rho, const char *what, char *msg,
                      size_t len) {
  double *ws = hnn_xcalloc(f->nwork + 1, sizeof *ws), mass = 0;
  int bad = 0;
  for (int j = 0; j < g->n[1] && !bad; j++)
    for (int i = 0; i < g->n[0] && !bad; i++) {
      double x[2] = { fv_center(g, 0, i), g->dim == 2 ? fv_center(g, 1, j) : 0 }, v = NAN;
      if (f->fn(x, NULL, &v, ws) || !isfinite(v) || v < 0) {
        if (g->dim == 1) snprintf(msg, len, "the %s density is %g at x = %g, not a finite value >= 0", what, v, x[0]);
        else snprintf(msg, len, "the %s density is %g at x = (%g, %g), not a finite value >= 0", what, v, x[0], x[1]);
        bad = 1;
      }
      rho[(size_t)j * g->n[0] + i] = v;
      mass += v * vol;
    }
  free(ws);
  if (!bad && !(mass > 0 && isfinite(mass))) {
    snprintf(msg, len, "the %s density has no mass on the grid", what);
    bad = 1;
  }
  for (size_t c = 0; !bad && c < (size_t)g->n[0] * g->n[1]; c++) rho[c] /= mass;
  return bad;
}

/* w2_to LAW and sinkhorn_to LAW: a law with a density is put on the grid
** as the start is (its values at the cell centres, normalized), a point
** set is taken as it is.  On the grid the target's error is the lattice's,
** second order (W2^2 between two Gaussians put on one grid is within
** ~h^2/3 of the closed form, docs/grid.md), where M drawn points would add
** a sampling error (0.19 for two 1000-point draws of N(0, I) in 2-D). */
static int read_targets(hnn_state *S, ast *run, grun *r) {
  static const char *const opt[2] = { "w2_to", "sinkhorn_to" };
  r->meps = 0.01;
  if (flow_opt_positive(S, run, "monitor_eps", &r->meps)) return 1;
  for (int c = 0; c < 2; c++) {
    ast *e = flow_option(run, opt[c]);
    if (!e) continue;
    flow_law L;
    if (law_read(S, e, "a distance is between", &L) != HNN_OK) return 1;
    gcol *g = &r->col[r->ncol++];
    *g = (gcol){ .kind = c == 0 ? DIST_W2 : DIST_SINKHORN, .name = opt[c] };
    int bad = 0;
    if (L.n != r->dim) {
      diag_error(&S->diags, e->src, e->loc, "this law is in dimension %d, the grid in dimension %d", L.n, r->dim);
      bad = 1;
    } else if (L.kind == LAW_POINTS) {
      g->npts = L.npoints;
      g->pts = hnn_xmalloc((size_t)L.npoints * L.n * sizeof *g->pts);
      g->w = hnn_xmalloc((size_t)L.npoints * sizeof *g->w);
      memcpy(g->pts, L.points, (size_t)L.npoints * L.n * sizeof *g->pts);
      for (int i = 0; i < L.npoints; i++) g->w[i] = 1.0 / L.npoints;
    } else {
      g->rho = hnn_xmalloc((size_t)r->ncells * sizeof *g->rho);
      if (law_on_grid(&L, &r->g, r->vol, g->rho)) {
        diag_error(&S->diags, e->src, e->loc, "this law has no mass on the grid");
        bad = 1;
      }
    }
    law_free(&L);
    if (bad) return 1;
  }
  return 0;
}

/* The exact W2 in 2-D solves a network simplex on (cells) x (target
** points) arcs every monitor row: refused before the run beyond the
** particle monitors' limit, with the estimate. */
static int targets_fit(hnn_state *S, ast *run, const grun *r) {
  for (int c = 0; c < r->ncol; c++) {
    const gcol *g = &r->col[c];
    if (g->kind != DIST_W2 || r->dim == 1) continue;
    double M = g->rho ? r->ncells : g->npts, pairs = (double)r->ncells * M;
    if (pairs <= WF_W2_EXACT_MAX) continue;
    ast *e = flow_option(run, strcmp(g->name, "w2_ref") == 0 ? "reference" : g->name);
    diag_error(&S->diags, e->src, e->loc, "%s: the exact W2 on this grid is a network simplex on up to %d cells x %.0f "
               "points = %.3g pairs a monitor row (~%.0f MB, ~%.2g s of CPU at the 0.55 us a pair measured), above "
               "the limit of %.0f pairs: use sinkhorn_to (entropic, memory linear in the points) or fewer cells",
               g->name, r->ncells, M, pairs, pairs * 80 / 1e6, pairs * 0.55e-6, WF_W2_EXACT_MAX);
    return 1;
  }
  return 0;
}

static int grid_prepare(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  grun *r = hnn_xcalloc(1, sizeof *r);
  J->priv = r;
  grid_args(S, J->flow, &r->E, &r->G);
  int status, dim, en = energy_model_dim(r->E), maxdim = J->kind->variant == V_JKO ? 1 : 2;
  r->start_fn = density_fn(S, run->kids[0]);
  if (r->start_fn) {
    dim = density_fn_dim(S, r->start_fn, run->kids[0], en);
    if (!dim) return HNN_ERR_SCRIPT;
  } else {
    status = law_read(S, run->kids[0], "a grid run starts from", &r->L);
    if (status != HNN_OK) return status;
    dim = r->L.n;
  }
  if (dim > maxdim || (en && en != dim)) {
    if (en && en != dim)
      diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "the start is in dimension %d, the energy '%s' in "
                 "dimension %d", dim, r->E->name, en);
    else
      diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "%s runs on %s grids; the start is in dimension %d",
                 J->kind->name, maxdim == 1 ? "1-D" : "1-D and 2-D", dim);
    return HNN_ERR_SCRIPT;
  }
  r->dim = dim;
  if (read_grid(S, run, dim, &r->g)) return HNN_ERR_SCRIPT;
  r->ncells = r->g.n[0] * r->g.n[1];
  r->vol = fv_width(&r->g, 0) * (dim == 2 ? fv_width(&r->g, 1) : 1);
  r->until = 1;
  r->npoints = r->ncells;
  r->npaths = -1;
  r->order = 1;
  r->tol = 1e-9;
  r->maxiter = 100000;
  if (flow_opt_positive(S, run, "until", &r->until)) return HNN_ERR_SCRIPT;
  r->dt = r->until / 100;
  r->every = r->until / 10;
  if (flow_opt_positive(S, run, "dt", &r->dt) || flow_opt_positive(S, run, "every", &r->every) ||
      flow_opt_count(S, run, "points", 2, 100000000, &r->npoints) || flow_opt_positive(S, run, "tol", &r->tol) ||
      flow_opt_count(S, run, "paths", 1, 100000000, &r->npaths) || flow_opt_count(S, run, "order", 1, 2, &r->order) ||
      flow_opt_count(S, run, "maxiter", 1, 1000000000, &r->maxiter))
    return HNN_ERR_SCRIPT;
  if (r->npaths < 0 || r->npaths > r->npoints) r->npaths = r->npoints;
  if (J->kind->variant == V_ENTROPIC && flow_kw_number(S, J->flow, "eps", 0, 0, &r->eps)) return HNN_ERR_SCRIPT;
  if (r->until / r->dt > 1e12) {
    diag_error(&S->diags, run->src, run->loc, "run %s would take %.3g steps; raise dt", J->flow->name, r->until / r->dt);
    return HNN_ERR_SCRIPT;
  }
  r->rho0 = hnn_xmalloc((size_t)r->ncells * sizeof *r->rho0);
  if (!r->start_fn && law_on_grid(&r->L, &r->g, r->vol, r->rho0)) {
    diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "the start has no mass on the grid");
    return HNN_ERR_SCRIPT;
  }
  ast *re = flow_option(run, "reference");
  if (re) {
    r->ref = hnn_xmalloc((size_t)r->ncells * sizeof *r->ref);
    r->ref_fn = density_fn(S, re);
    if (r->ref_fn) {
      int rd = density_fn_dim(S, r->ref_fn, re, dim);
      if (!rd) return HNN_ERR_SCRIPT;
      if (rd != dim) {
        diag_error(&S->diags, re->src, re->loc, "the reference is in dimension %d, the run in dimension %d", rd, dim);
        return HNN_ERR_SCRIPT;
      }
    } else {
      flow_law R;
      status = law_read(S, re, "a reference is", &R);
      if (status != HNN_OK) return status;
      int bad = 0;
      if (R.n != dim) {
        diag_error(&S->diags, re->src, re->loc, "the reference is in dimension %d, the run in dimension %d", R.n, dim);
        bad = 1;
      } else if (law_on_grid(&R, &r->g, r->vol, r->ref)) {
        diag_error(&S->diags, re->src, re->loc, "the reference has no mass on the grid");
        bad = 1;
      }
      law_free(&R);
      if (bad) return HNN_ERR_SCRIPT;
    }
    r->col[r->ncol++] = (gcol){ .kind = DIST_W2, .name = "w2_ref", .rho = r->ref };
  }
  if (read_targets(S, run, r) || targets_fit(S, run, r)) return HNN_ERR_SCRIPT;
  double h2 = 0;
  for (int d = 0; d < dim; d++) h2 = fmax(h2, fv_width(&r->g, d) * fv_width(&r->g, d));
  if (flow_option(run, "sinkhorn_to") && r->meps < h2 / 4 && S->warn)
    state_warn(S, "run %s: sinkhorn_to's eps %g is below h^2/4 = %.3g: between lattice densities Sinkhorn then "
               "converges slowly (monitor_eps %.2g or more)", J->flow->name, r->meps, h2 / 4, h2 / 4);
  /* rows: every cell (and, for jko, every quantile) at every output time,
  ** and the monitor; memory: the engine's arrays (fv: ~30 per cell and the
  ** interaction table of 4 per cell; jko: ~12 per quantile point) */
  double snaps = floor(r->until / r->every) + 2, cells = r->ncells;
  double per = run->kids[1] ? cells + 1 + (J->kind->variant == V_JKO ? (double)r->npaths + 1 : 0) : 1;
  J->plan.rows = snaps * per;
  J->plan.values = 14 + r->ncol;
  J->plan.memory = cells * 8 * 40 + (J->kind->variant == V_JKO ? (double)r->npoints * 8 * 14 : 0);
  for (int i = 0; r->E->energy && i < r->E->energy->nterms; i++)   /* interaction: W table and, in 2-D, its FFT */
    if (r->E->energy->terms[i].piece == ENERGY_INTERACTION || r->E->energy->terms[i].piece == ENERGY_MMD ||
        r->E->energy->terms[i].piece == ENERGY_DISTANCE) {
      J->plan.memory += cells * 8 * 4 + (dim == 2 ? fv_fftconv_bytes(r->g.n[0], r->g.n[1]) : 0);
      break;
    }
  for (int c = 0; c < r->ncol; c++) {   /* the columns' targets, the cloud, the OT solvers */
    double M = r->col[c].rho ? cells : r->col[c].npts;
    J->plan.memory += (cells + M) * 8 * (dim + 1) * 2 + 8 * cells * (dim + 1);
    if (r->col[c].kind == DIST_W2 && dim == 2) J->plan.memory += cells * M * 80;
    else if (r->col[c].kind == DIST_SINKHORN) J->plan.memory += (cells + M) * 8 * 16;
  }
  return HNN_OK;
}

static int grid_compile(flow_job *J) {
  grun *r = J->priv;
  if ((r->start_fn && flow_fn_of(J->S, r->start_fn, HNN_VALUE, r->dim, &r->start_cb)) ||
      (r->ref_fn && flow_fn_of(J->S, r->ref_fn, HNN_VALUE, r->dim, &r->ref_cb)))
    return 1;
  return gridenergy_build(J->S, r->E, r->dim, J->kind->variant == V_JKO, r->G, J->run, &r->ge) != HNN_OK;
}

/* ------------------------------------------------------------ outputs */

static int open_outputs(hnn_state *S, ast *run, grun *r, int variant, char **err) {
  const char *path = run->kids[1] ? run->kids[1]->name : NULL;
  if (path) {
    const char *names1[] = { "x", "rho", NULL }, *names2[] = { "x1", "x2", "rho", NULL };
    r->c.out = run_out_open(S, path, r->dim + 1, r->dim == 1 ? names1 : names2, err);
    if (!r->c.out) return 1;
    if (variant == V_JKO) {
      const char *qn[] = { "s", "Q", NULL };
      char *qpath = run_out_sibling(path, "_quantiles");
      r->qout = run_out_open(S, qpath, 2, qn, err);
      free(qpath);
      if (!r->qout) return 1;
    }
  }
  const char *mn[16];
  int k = 0;
  mn[k++] = "mass";
  mn[k++] = "energy";
  mn[k++] = "entropy";
  mn[k++] = "second_moment";
  mn[k++] = r->dim == 1 ? "mean" : "mean1";
  if (r->dim == 2) mn[k++] = "mean2";
  mn[k++] = "min_rho";
  mn[k++] = "iterations";
  if (r->dim == 1) mn[k++] = "w2_start";
  for (int c = 0; c < r->ncol; c++) mn[k++] = r->col[c].name;
  mn[k] = NULL;
  r->mon = run_out_open_sibling(S, path, "_monitor", k, mn, err);
  r->mrow = hnn_xcalloc((size_t)k + 1, sizeof *r->mrow);
  return r->mon == NULL;
}

static int close_outputs(grun *r, int ok, char **err) {
  run_out *o[3] = { r->c.out, r->qout, r->mon };
  int bad = 0;
  for (int i = 0; i < 3; i++) {
    if (!o[i]) continue;
    if (ok && !bad) bad |= run_out_close(o[i], err);
    else run_out_abort(o[i]);
  }
  return bad;
}

/* mass, int rho log rho, second moment, mean and min of a grid density. */
static void density_moments(const grun *r, const double *rho, fv_monitors *m) {
  memset(m, 0, sizeof *m);
  m->min = INFINITY;
  for (int j = 0; j < r->g.n[1]; j++)
    for (int i = 0; i < r->g.n[0]; i++) {
      double v = rho[(size_t)j * r->g.n[0] + i], x[2] = { fv_center(&r->g, 0, i), fv_center(&r->g, 1, j) };
      m->mass += v * r->vol;
      if (v > 0) m->entropy += v * log(v) * r->vol;
      for (int d = 0; d < r->dim; d++) {
        m->mean[d] += x[d] * v * r->vol;
        m->second_moment += x[d] * x[d] * v * r->vol;
      }
      if (v < m->min) m->min = v;
    }
  for (int d = 0; d < r->dim; d++) m->mean[d] /= m->mass;
}

/* The density rho as weighted points (cell centres and masses, summing to
** 1) into x, w; the count.  Cells lighter than 1e-14/ncells of the mass
** are left out (with entropy every cell has some, down to 1e-100 of the
** peak): at most 1e-14 of the mass, which moves W2^2 by at most ~2e-14
** diam^2, below the exact solver's integer rounding of the weights
** (otexact.h: max C (n + m)/2^50). */
static size_t cloud_of(const grun *r, const double *rho, double *x, double *w) {
  double mass = 0, kept = 0;
  for (int c = 0; c < r->ncells; c++) mass += rho[c];
  size_t k = 0;
  for (int j = 0; j < r->g.n[1]; j++)
    for (int i = 0; i < r->g.n[0]; i++) {
      double v = rho[(size_t)j * r->g.n[0] + i];
      if (!(v > 1e-14 / r->ncells * mass)) continue;
      x[k * r->dim] = fv_center(&r->g, 0, i);
      if (r->dim == 2) x[k * r->dim + 1] = fv_center(&r->g, 1, j);
      w[k++] = v;
      kept += v;
    }
  for (size_t c = 0; c < k; c++) w[c] /= kept;
  return k;
}

/* An on-grid target as weighted points, once the run has it. */
static void col_points(grun *r, gcol *g) {
  if (!g->rho || g->pts) return;
  g->pts = hnn_xmalloc((size_t)r->ncells * r->dim * sizeof *g->pts);
  g->w = hnn_xmalloc((size_t)r->ncells * sizeof *g->w);
  g->npts = (int)cloud_of(r, g->rho, g->pts, g->w);
}

/* The distance columns of density rho into out; 1 with msg on an error.
** 1-D W2 to an on-grid target is fv_w2_1d's, between the two piecewise
** constant densities (quantiles linear in each cell: O(h^2) where point
** masses at the centres would be O(h)); everything else is between
** weighted points (dist_value_weighted, the particle columns' solvers). */
static int distances(grun *r, const double *rho, double *out, char *msg, size_t len) {
  size_t N = 0;
  for (int c = 0; c < r->ncol; c++) {
    gcol *g = &r->col[c];
    char why[400] = "";
    int s = 0;
    if (g->kind == DIST_W2 && r->dim == 1 && g->rho) {
      out[c] = fv_w2_1d(r->g.n[0], r->g.lo[0], r->g.hi[0], rho, r->g.n[0], r->g.lo[0], r->g.hi[0], g->rho);
    } else {
      if (!N) N = cloud_of(r, rho, r->cx, r->cw);
      col_points(r, g);
      s = dist_value_weighted(g->kind, r->meps, NULL, r->dim, N, r->cx, r->cw, (size_t)g->npts, g->pts, g->w, 0,
                              &out[c], why, sizeof why);
    }
    if (s < 0 || !isfinite(out[c])) {
      snprintf(msg, len, "the monitor %s: %s", g->name, why[0] ? why : "not finite");
      return 1;
    }
    if (s > 0 && !r->warned++ && r->c.S->warn) state_warn(r->c.S, "run %s: %s (the value is written)", r->c.name, why);
  }
  return 0;
}

/* Write the density rows and the monitor row of one output time; 1 on an
** output error (errno), or with msg filled on a distance's error. */
static int emit(grun *r, double t, long step, const double *rho, const fv_monitors *m, char *msg, size_t len) {
  int bad = 0;
  if (r->c.out) {
    for (int j = 0; j < r->g.n[1] && !bad; j++)
      for (int i = 0; i < r->g.n[0] && !bad; i++) {
        double row[3];
        int k = 0;
        row[k++] = fv_center(&r->g, 0, i);
        if (r->dim == 2) row[k++] = fv_center(&r->g, 1, j);
        row[k] = rho[(size_t)j * r->g.n[0] + i];
        bad = run_out_row(r->c.out, t, step, row);
      }
  }
  if (r->qout)
    for (long i = 0; i <= r->npaths && !bad; i++) {
      long j = (long)llround((double)i * (double)r->npoints / (double)r->npaths);
      double row[2] = { (double)j / (double)r->npoints, r->Q[j] };
      bad = run_out_row(r->qout, t, step, row);
    }
  double *mr = r->mrow;
  int k = 0;
  mr[k++] = m->mass;
  mr[k++] = m->energy;
  mr[k++] = m->entropy;
  mr[k++] = m->second_moment;
  for (int d = 0; d < r->dim; d++) mr[k++] = m->mean[d];
  mr[k++] = m->min;
  mr[k++] = (double)r->iterations;
  if (r->dim == 1) {
    mr[k++] = r->Q ? jko1d_w2(r->npoints, r->Q, r->Q0)
                   : fv_w2_1d(r->g.n[0], r->g.lo[0], r->g.hi[0], rho, r->g.n[0], r->g.lo[0], r->g.hi[0], r->rho0);
  }
  if (r->ncol && distances(r, rho, mr + k, msg, len)) return 1;
  flow_progress(&r->c, t, step);
  return bad || run_out_row(r->mon, t, step, mr);
}

/* ------------------------------------------------------------ engines */

/* The quantile density's entropy sum_j (1/N) log(1/(N g_j)). */
static double quantile_entropy(long N, const double *Q) {
  double s = 0;
  for (long j = 0; j < N; j++) s -= log((double)N * (Q[j + 1] - Q[j]));
  return s / (double)N;
}

/* The current density into r->rho and its monitors. */
static void current(grun *r, int variant, fv_monitors *m) {
  switch (variant) {
  case V_FV:
    memcpy(r->rho, fv_density(r->fv), (size_t)r->ncells * sizeof *r->rho);
    fv_monitor(r->fv, m);
    m->energy += r->econst;
    break;
  case V_JKO: {
    jko1d_to_grid(r->npoints, r->Q, r->g.n[0], r->g.lo[0], r->g.hi[0], r->rho);
    density_moments(r, r->rho, m);
    /* energy, entropy and moments of the quantile density itself (mass 1) */
    m->energy = jko1d_energy(&r->jp, r->npoints, r->Q);
    m->entropy = quantile_entropy(r->npoints, r->Q);
    jko1d_moments(r->npoints, r->Q, &m->mean[0], &m->second_moment);
    break;
  }
  default: {
    /* r->rho holds the masses of the last step divided by vol */
    for (int c = 0; c < r->ncells; c++) r->row[c] = r->rho[c] * r->vol;
    density_moments(r, r->rho, m);
    m->energy = jko_ent_energy(r->je, r->row);
    break;
  }
  }
}

/* U (the potential and kl terms) at every cell centre must be finite: said
** in the energy's terms before an engine says it of its V. */
static int check_local(grun *r, char *msg, size_t len) {
  const flow_fn *U = &r->ge.U;
  if (!U->fn) return 0;
  double *ws = hnn_xcalloc(U->nwork + 1, sizeof *ws);
  int bad = 0;
  for (int j = 0; j < r->g.n[1] && !bad; j++)
    for (int i = 0; i < r->g.n[0] && !bad; i++) {
      double x[2] = { fv_center(&r->g, 0, i), r->dim == 2 ? fv_center(&r->g, 1, j) : 0 }, v = NAN;
      if (U->fn(x, NULL, &v, ws) || !isfinite(v)) {
        bad = 1;
        if (r->dim == 1)
          snprintf(msg, len, "the potential and kl terms of '%s' are %g at the cell centre x = %g (a potential must be finite "
                   "and a kl target > 0 on the grid)", r->E->name, v, x[0]);
        else
          snprintf(msg, len, "the potential and kl terms of '%s' are %g at the cell centre x = (%g, %g) (a potential "
                   "must be finite and a kl target > 0 on the grid)", r->E->name, v, x[0], x[1]);
      }
    }
  free(ws);
  return bad;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The quantiles at s_j = j/N (j = 0..N) of a w2 term's target, the
** points the energy model drew (the ones a particle flow of the energy
** moves towards), equal weights: the left-continuous empirical quantile
** x_(ceil(s M)), and x_(1) at s = 0. */
static double *target_quantiles(const em_term *t, long N) {
  int M = t->ntarget;
  double *x = hnn_xmalloc((size_t)M * sizeof *x), *Qt = hnn_xmalloc(((size_t)N + 1) * sizeof *Qt);
  memcpy(x, t->target, (size_t)M * sizeof *x);
  qsort(x, (size_t)M, sizeof *x, cmp_double);
  for (long j = 0; j <= N; j++) {
    long i = (long)ceil((double)j * M / (double)N - 1e-9) - 1;   /* j M / N whole: the step's left value */
    Qt[j] = x[i < 0 ? 0 : i >= M ? M - 1 : i];
  }
  free(x);
  return Qt;
}

static int start_engine(grun *r, int variant, char *msg, size_t len) {
  grid_energy *G = &r->ge;
  if (check_local(r, msg, len)) return 1;
  r->rho = hnn_xmalloc((size_t)r->ncells * sizeof *r->rho);
  r->row = hnn_xmalloc((size_t)r->ncells * sizeof *r->row);
  if (r->ncol) {
    r->cx = hnn_xmalloc((size_t)r->ncells * r->dim * sizeof *r->cx);
    r->cw = hnn_xmalloc((size_t)r->ncells * sizeof *r->cw);
  }
  memcpy(r->rho, r->rho0, (size_t)r->ncells * sizeof *r->rho);
  if (variant == V_FV && G->T > 0) {
    /* the entropy needs rho > 0 in every cell: an empty cell of the start
    ** gets 1e-100 of the peak (then the mass is normalized again) */
    double peak = 0, mass = 0;
    for (int c = 0; c < r->ncells; c++) peak = fmax(peak, r->rho[c]);
    for (int c = 0; c < r->ncells; c++) mass += (r->rho[c] = fmax(r->rho[c], 1e-100 * peak));
    for (int c = 0; c < r->ncells; c++) r->rho[c] /= mass * r->vol;
  }
  switch (variant) {
  case V_FV: {
    fv_problem p = { .grid = r->g, .V = G->U, .W = G->W, .mob = G->mob, .T = G->T, .nu = G->nu, .m = G->m };
    fv_options o = { .order = (int)r->order };
    r->fv = fv_new(&p, &o, r->rho, msg, len);
    return r->fv == NULL;
  }
  case V_JKO: {
    jko1d_problem p = { .V = G->U, .dV = G->dU, .d2V = G->d2U, .T = G->T, .nu = G->nu, .m = G->m };
    if (G->w2) {
      r->Qt = target_quantiles(G->w2, r->npoints);
      p.w2c = G->w2c;
      p.Qt = r->Qt;
    }
    r->jp = p;
    r->Q = hnn_xmalloc(((size_t)r->npoints + 1) * sizeof *r->Q);
    r->Q0 = hnn_xmalloc(((size_t)r->npoints + 1) * sizeof *r->Q0);
    if (jko1d_from_density(r->g.n[0], r->g.lo[0], r->g.hi[0], r->rho, r->npoints, r->Q)) {
      snprintf(msg, len, "the start has no quantiles on the grid");
      return 1;
    }
    memcpy(r->Q0, r->Q, ((size_t)r->npoints + 1) * sizeof *r->Q);
    return 0;
  }
  default: {
    jko_ent_problem p = { .grid = r->g, .V = G->U, .T = G->T, .nu = G->nu, .m = G->m, .eps = r->eps,
                          .max_iter = (int)r->maxiter, .tol = r->tol };
    r->je = jko_ent_new(&p, msg, len);
    return r->je == NULL;
  }
  }
}

/* One step of size tau from the current state. */
static int engine_step(grun *r, int variant, double tau, char *msg, size_t len) {
  switch (variant) {
  case V_FV: {
    long before = fv_stats_of(r->fv)->newton;
    int rc = fv_step(r->fv, tau, msg, len);
    r->iterations = fv_stats_of(r->fv)->newton - before;
    return rc;
  }
  case V_JKO: {
    int rc = jko1d_step(&r->jp, r->npoints, r->Q, tau, r->Q, &r->jinfo, msg, len);
    r->iterations = r->jinfo.newton;
    return rc;
  }
  default: {
    jko_ent_info info;
    for (int c = 0; c < r->ncells; c++) r->row[c] = r->rho[c] * r->vol;
    int rc = jko_ent_step(r->je, r->row, tau, r->row, &info, msg, len);
    r->iterations = info.iterations;
    if (!rc)
      for (int c = 0; c < r->ncells; c++) r->rho[c] = r->row[c] / r->vol;
    return rc;
  }
  }
}

/* Steps of dt to `until` (the last one shortened to land on it), output
** every `every` in time, the start and the end. */
static int grid_loop(grun *r, int variant, char *msg, size_t len) {
  fv_monitors m;
  current(r, variant, &m);
  msg[0] = 0;
  if (emit(r, 0, 0, r->rho, &m, msg, len)) {
    if (!msg[0]) snprintf(msg, len, "output failed at t = 0: %s", strerror(errno));
    return 1;
  }
  long nsteps = (long)ceil(r->until / r->dt * (1 - 4 * DBL_EPSILON));
  double t = 0, next_out = r->every;
  for (long k = 1; k <= nsteps; k++) {
    double tk = k == nsteps ? r->until : (double)k * r->dt;
    if (engine_step(r, variant, tk - t, msg, len)) return 1;
    t = tk;
    if (flow_interrupted()) {
      snprintf(msg, len, "interrupted at t = %g", t);
      return 1;
    }
    if (k == nsteps || t >= next_out * (1 - 8 * DBL_EPSILON)) {
      while (next_out <= t * (1 + 8 * DBL_EPSILON)) next_out += r->every;
      current(r, variant, &m);
      if (emit(r, t, k, r->rho, &m, msg, len)) {
        if (!msg[0]) snprintf(msg, len, "output failed at t = %g: %s", t, strerror(errno));
        else {
          char at[64];
          snprintf(at, sizeof at, " (t = %g)", t);
          strncat(msg, at, len - strlen(msg) - 1);
        }
        return 1;
      }
    } else if (k % 64 == 0) {
      flow_progress(&r->c, t, k);
    }
  }
  return 0;
}

/* Pairs of points of the grid's box where a kernel is held against W(x - y). */
static int kernel_points(const grun *r, double *x, double *y) {
  int n = 0;
  for (int p = 0; p < 8; p++, n++)
    for (int d = 0; d < r->dim; d++) {
      double a = r->g.lo[d], w = r->g.hi[d] - r->g.lo[d];
      x[p * r->dim + d] = a + w * fmod(0.13 + 0.37 * p + 0.21 * d, 1.0);
      y[p * r->dim + d] = a + w * fmod(0.71 + 0.19 * p + 0.43 * d, 1.0);
    }
  return n;
}

static int grid_run(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  grun *r = J->priv;
  int variant = J->kind->variant, status = HNN_OK;
  char msg[512] = "", *err = NULL;
  double kx[16], ky[16];
  int np = kernel_points(r, kx, ky);
  if (gridenergy_check_kernels(S, &r->ge, np, kx, ky, run)) return HNN_ERR_SCRIPT;
  r->econst = gridenergy_constant(&r->ge);
  if ((r->start_fn && fn_on_grid(&r->start_cb, &r->g, r->vol, r->rho0, "start", msg, sizeof msg)) ||
      (r->ref_fn && fn_on_grid(&r->ref_cb, &r->g, r->vol, r->ref, "reference", msg, sizeof msg))) {
    diag_error(&S->diags, run->src, run->loc, "run %s: %s", J->flow->name, msg);
    return HNN_ERR_RUNTIME;
  }
  r->c.t_end = r->until;
  /* the engine first: a start it refuses (V not finite at a cell, ...)
  ** writes nothing */
  if (start_engine(r, variant, msg, sizeof msg)) {
    diag_error(&S->diags, run->src, run->loc, "run %s: %s", J->flow->name, msg[0] ? msg : "failed");
    return HNN_ERR_RUNTIME;
  }
  flow_progress_start(&r->c, S, J->flow->name);
  if (open_outputs(S, run, r, variant, &err)) {
    diag_error(&S->diags, run->src, run->loc, "%s", err);
    free(err);
    close_outputs(r, 0, NULL);
    return HNN_ERR_RUNTIME;
  }
  if (grid_loop(r, variant, msg, sizeof msg)) {
    diag_error(&S->diags, run->src, run->loc, "run %s: %s", J->flow->name, msg[0] ? msg : "failed");
    status = HNN_ERR_RUNTIME;
  }
  flow_progress_end(&r->c);
  if (close_outputs(r, status == HNN_OK, &err) && status == HNN_OK) {
    diag_error(&S->diags, run->src, run->loc, "%s", err);
    status = HNN_ERR_RUNTIME;
  }
  free(err);
  return status;
}

static void grid_release(flow_job *J) {
  grun *r = J->priv;
  if (!r) return;
  fv_free(r->fv);
  jko_ent_free(r->je);
  free(r->Q);
  free(r->Q0);
  free(r->Qt);
  free(r->rho0);
  free(r->ref);
  free(r->rho);
  free(r->row);
  free(r->mrow);
  for (int c = 0; c < r->ncol; c++) {
    if (r->col[c].rho != r->ref) free(r->col[c].rho);
    free(r->col[c].pts);
    free(r->col[c].w);
  }
  free(r->cx);
  free(r->cw);
  gridenergy_free(&r->ge);
  if (!r->start_fn) law_free(&r->L);
  free(r);
  J->priv = NULL;
}

const flow_kind flow_kind_fokker_planck = {
  .name = "fokker_planck", .usage = "fokker_planck(E) or fokker_planck(E, G) for an energy E and a diagonal metric G",
  .nroles = 1, .roles = { R_ENERGY }, .options = fv_options_list, .siblings = { "_monitor" }, .variant = V_FV, .check_decl = grid_check_decl,
  .check_run = grid_check_run, .prepare = grid_prepare, .compile = grid_compile, .run = grid_run,
  .release = grid_release
};

const flow_kind flow_kind_jko = {
  .name = "jko", .usage = "jko(E) for an energy E in 1-D", .nroles = 1, .roles = { R_ENERGY }, .options = jko_options_list,
  .siblings = { "_monitor", "_quantiles" }, .variant = V_JKO, .check_decl = grid_check_decl,
  .check_run = grid_check_run, .prepare = grid_prepare, .compile = grid_compile, .run = grid_run,
  .release = grid_release
};

const flow_kind flow_kind_entropic_jko = {
  .name = "entropic_jko", .usage = "entropic_jko(E, eps = regularization) for an energy E", .nroles = 1,
  .roles = { R_ENERGY }, .keywords = { "eps", NULL }, .options = ent_options_list,
  .siblings = { "_monitor" }, .variant = V_ENTROPIC, .check_decl = grid_check_decl, .check_run = grid_check_run,
  .prepare = grid_prepare, .compile = grid_compile, .run = grid_run, .release = grid_release
};
