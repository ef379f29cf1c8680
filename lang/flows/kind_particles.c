/*
** kind_particles.c — the particle flows: the diffusion machine (SDE engine,
** runtime/sde.c) and the Wasserstein proximal recursion (SDE step plus the
** Caluya-Halder density update, runtime/prox.c), of an objective
** `wasserstein(f, G, T, eps)` or of an energy `wasserstein(E, G, eps)`
** (proxenergy.c: the energy's drift, potentials and free energy).
**
** A particle run starts from a law: uniform(box) with box [a, b]^n or two
** corner vectors, normal(mean, variances or covariance), or csv("file") of
** points.  Its rows are t, step, particle, x1..xn (, rho), f; the monitor
** file NAME_monitor.csv has the mean, the covariance, the mean of f (and the
** free energy and fixed-point statistics) per output step, and the
** distances to targets that the options w2_to and sinkhorn_to ask for
** (monitor_dist.h).  On standard output only the monitor rows are printed.
** The general mobility kind (kind_mobility.c) runs through the same stages
** with its own callbacks.
*/
#include <errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowkind.h"
#include "law.h"
#include "geocoord.h"
#include "monitor_dist.h"
#include "prox.h"
#include "proxenergy.h"
#include "rng.h"
#include "sde.h"
#include "strbuf.h"

static const char *const particle_run_options[] = { "particles", "h", "steps", "every", "boundary", "box", "scheme",
                                                "tol", "maxiter", "normalize", "precision", "sums",
                                                "sums_tol", MON_DIST_OPTION_NAMES, NULL };

/* ------------------------------------------------------------ checks */

int particles_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  int errs = 0;
  for (int i = 2; i < run->nkids; i++) {
    ast *o = run->kids[i];
    if (flow_bad_option(S, run, i, k->options, k->name)) {
      errs++;
      continue;
    }
    ast *v = o->kids[0];
    if (mon_dist_is_option(o->name)) {
      errs += mon_dist_check(S, run, o);
    } else if (strcmp(o->name, "boundary") == 0) {
      const char *ok_names[] = { "none", "reflect", "absorb", "periodic" };
      int found = 0;
      for (int w = 0; w < 4; w++) found |= v->kind == AST_NAME && strcmp(v->name, ok_names[w]) == 0;
      if (!found) {
        diag_error(&S->diags, v->src, v->loc, "boundary is none, reflect, absorb or periodic");
        errs++;
      }
    } else if (strcmp(o->name, "normalize") == 0) {
      if (v->kind != AST_NAME || (strcmp(v->name, "gauss") && strcmp(v->name, "box") && strcmp(v->name, "none"))) {
        diag_error(&S->diags, v->src, v->loc, "normalize is gauss (a Gaussian fitted to the cloud), box or none");
        errs++;
      }
    } else if (strcmp(o->name, "precision") == 0) {
      if (v->kind != AST_NAME || (strcmp(v->name, "single") && strcmp(v->name, "double"))) {
        diag_error(&S->diags, v->src, v->loc, "precision (of the stored kernel) is single or double");
        errs++;
      }
    } else if (strcmp(o->name, "sums") == 0) {
      if (v->kind != AST_NAME || (strcmp(v->name, "auto") && strcmp(v->name, "exact") && strcmp(v->name, "fast"))) {
        diag_error(&S->diags, v->src, v->loc,
                   "sums (the kernel sums of the proximal step) is auto, exact (the N x N kernel) or fast (the "
                   "kernel-sum engine within sums_tol)");
        errs++;
      }
    } else if (strcmp(o->name, "scheme") == 0) {
      if (v->kind != AST_NAME || (strcmp(v->name, "em") != 0 && strcmp(v->name, "milstein") != 0)) {
        diag_error(&S->diags, v->src, v->loc, "scheme is em (Euler-Maruyama) or milstein");
        errs++;
      }
    } else if (strcmp(o->name, "box") == 0) {
      ty t;
      if (sema_check_expr(S, v, &t)) errs++;
      else if (t.kind != TY_VECTOR || t.r.val != 2) {
        diag_error(&S->diags, v->src, v->loc, "box is [lo, hi], the same bounds for every coordinate");
        errs++;
      }
    } else {
      errs += flow_check_number(S, v, o->name);
    }
  }
  ast *bd = flow_option(run, "boundary");
  if (k->variant == 3 && bd && !(bd->kind == AST_NAME && strcmp(bd->name, "none") == 0)) {
    sym *E = flow_role_sym(S, flow, R_ENERGY);
    for (int i = 0; E && i < E->energy->nterms; i++) {
      energy_piece p = E->energy->terms[i].piece;
      if (p == ENERGY_INTERACTION || p == ENERGY_MMD || p == ENERGY_DISTANCE || p == ENERGY_POWER) {
        diag_error(&S->diags, bd->src, bd->loc, "a boundary is not done for wasserstein(E, ...) with %s: its drift "
                   "is added after the SDE step, which could leave the box", energy_piece_name(p));
        errs++;
        break;
      }
    }
  }
  if (k->variant == 1 && !flow_keyword(flow, "eps")) {
    diag_error(&S->diags, flow->decl->src, flow->decl->loc, "wasserstein needs eps = ... (the entropic regularization)");
    errs++;
  }
  return errs;
}

/* ------------------------------------------------------------ runs */

/* A prepared particle run (flow_job.priv). */
typedef struct prun {
  run_ctx c;
  run_out *mon;
  int N, n, nsize, wasserstein, energy, have_box;
  flow_law L;
  sde_opts so;
  prox_opts po;
  double *lo, *hi;
  double *x, *fx, *rho, *mrow;
  const prox_stats *pst;
  double free_energy;
  flow_problem P;
  flow_fn geo_inv, geo_d1;     /* hopfield(s) cost geometry: s^-1 and s' */
  mon_dist md;                 /* w2_to, sinkhorn_to */
  int md_failed;
  pe_model pe;                 /* wasserstein(E, ...): the energy's terms */
  int have_pe;
} prun;

static int emit_particles(void *ctx, long step, double t, const double *x, int N, int n, const sde_monitor *m) {
  prun *r = ctx;
  flow_problem *P = r->c.P;
  int bad = 0;
  if (r->c.out) {
    for (int i = 0; i < N && !bad; i++) {
      double *row = r->c.row;
      row[0] = i + 1;
      memcpy(row + 1, x + (size_t)i * n, (size_t)n * sizeof *x);
      double fx = NAN;
      P->f.fn(x + (size_t)i * n, NULL, &fx, r->c.ws);
      int k = n + 1;
      if (r->wasserstein) row[k++] = r->rho[i];
      row[k] = fx;
      bad = run_out_row(r->c.out, t, step, row);
    }
  }
  double *mr = r->mrow;
  int k = 0;
  for (int j = 0; j < n; j++) mr[k++] = m->mean[j];
  for (int j = 0; j < n * n; j++) mr[k++] = m->cov[j];
  mr[k++] = m->f_mean;
  if (r->wasserstein) {
    mr[k++] = r->free_energy;
    mr[k++] = r->pst ? r->pst->iterations : 0;
    mr[k++] = r->pst ? r->pst->marginal_err : 0;
    mr[k++] = r->pst ? r->pst->converged : 1;
  } else {
    mr[k++] = m->absorbed;
  }
  if (mon_dist_row(&r->md, x, N, mr + k)) {
    r->md_failed = 1;
    return 1;
  }
  flow_progress(&r->c, t, step);
  return bad || run_out_row(r->mon, t, step, mr);
}

/* Open the particle file and the monitor file. */
static int open_outputs(hnn_state *S, ast *run, prun *r, char **err) {
  int n = r->n;
  const char *path = run->kids[1] ? run->kids[1]->name : NULL;
  int np = n + 2 + r->wasserstein;
  char **names = hnn_xcalloc((size_t)np + 1, sizeof *names);
  names[0] = hnn_xstrdup("particle");
  run_out_names(names + 1, "x", n);
  int k = n + 1;
  if (r->wasserstein) names[k++] = hnn_xstrdup("rho");
  names[k] = hnn_xstrdup("f");
  if (path) r->c.out = run_out_open(S, path, np, (const char *const *)names, err);
  for (int i = 0; i < np; i++) free(names[i]);
  free(names);
  if (path && !r->c.out) return 1;
  int nm = n + n * n + 2 + (r->wasserstein ? 3 : 0) + r->md.ncols;
  char **mn = hnn_xcalloc((size_t)nm + 1, sizeof *mn);
  run_out_names(mn, "mean", n);
  k = n;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      strbuf b = STRBUF_INIT;
      sb_printf(&b, "cov%d_%d", i + 1, j + 1);
      mn[k++] = sb_take(&b);
    }
  mn[k++] = hnn_xstrdup("f_mean");
  if (r->wasserstein) {
    mn[k++] = hnn_xstrdup("free_energy");
    mn[k++] = hnn_xstrdup("iterations");
    mn[k++] = hnn_xstrdup("marginal_error");
    mn[k++] = hnn_xstrdup("converged");
  } else {
    mn[k++] = hnn_xstrdup("absorbed");
  }
  mon_dist_names(&r->md, mn + k);
  r->mon = run_out_open_sibling(S, path, "_monitor", nm, (const char *const *)mn, err);
  for (int i = 0; i < nm; i++) free(mn[i]);
  free(mn);
  r->mrow = hnn_xcalloc((size_t)nm + 1, sizeof *r->mrow);
  return r->mon == NULL;
}

static int close_outputs(prun *r, int ok, char **err) { return run_out_finish(r->c.out, r->mon, ok, err); }

/* The Wasserstein recursion: one SDE step moves the particles, one proximal
** step updates the density values at them. */
/* The cost geometry of the proximal step (docs/prox.md): Euclidean for
** `euclidean`; for hopfield(s) the separable coordinates phi by quadrature
** of sqrt(s') in the hidden coordinate (runtime/geocoord.c); otherwise the
** midpoint rule on the declared metric, which prox_step applies itself. */
static int prox_geometry(prun *r, sym *g, geo_hcoord **hc) {
  *hc = NULL;
  if (g->mform == MET_EUCLIDEAN) {
    r->po.coord = prox_identity_coord;
  } else if (g->mform == MET_HOPFIELD) {
    if (!(*hc = geo_hcoord_alloc(&r->geo_inv, &r->geo_d1))) return 1;
    r->po.coord = geo_hcoord_map;
    r->po.coord_ctx = *hc;
  }
  return 0;
}

static int wasserstein_loop(hnn_state *S, prun *r, const flow_problem *P, const sde_opts *so, const prox_opts *po,
                            double *x, char *msg, size_t msglen) {
  int N = r->N, n = r->n, status = 0;
  sde_ws *sw = sde_ws_alloc(P, so, N, msg, msglen);
  prox_ws *pw = sw ? prox_ws_alloc(n, (size_t)N) : NULL;
  double *xn = hnn_xmalloc((size_t)N * n * sizeof *xn);
  /* an energy: its drift at the old points, U + its first variation at the new */
  double *vnl = r->energy && r->pe.drift ? hnn_xmalloc((size_t)N * n * sizeof *vnl) : NULL;
  double *ftot = r->energy && r->pe.potential ? hnn_xmalloc((size_t)N * sizeof *ftot) : r->fx;
  double *mean = hnn_xmalloc((size_t)n * sizeof *mean), *cov = hnn_xmalloc((size_t)n * n * sizeof *cov);
  prox_stats st;
  memset(&st, 0, sizeof st);
  long nfail = 0, worst_step = 0;
  double worst = 0;
  if (!sw || !pw) {
    if (sw && !pw) snprintf(msg, msglen, "out of memory for the proximal workspace");
    status = -1;
  }
  for (long k = 0; status == 0 && k <= so->steps; k++) {
    if (k > 0) {
      if (vnl && pe_drift(&r->pe, x, vnl, msg, msglen)) {
        status = -1;
        break;
      }
      int s = sde_ws_step(sw, x, xn, k, msg, msglen);
      if (s < 0) {
        status = -1;
        break;
      }
      /* Euler-Maruyama of the whole drift: the nonlocal part at the old points too */
      for (size_t i = 0; vnl && i < (size_t)N * n; i++) xn[i] += so->h * vnl[i];
      for (int i = 0; i < N && status == 0; i++)
        if (P->f.fn(xn + (size_t)i * n, NULL, &r->fx[i], r->c.ws) || !isfinite(r->fx[i])) {
          snprintf(msg, msglen, "f is not finite at particle %d at step %ld", i + 1, k);
          status = -1;
        }
      if (status) break;
      if (ftot != r->fx) {
        memcpy(ftot, r->fx, (size_t)N * sizeof *ftot);
        if (pe_potential(&r->pe, xn, ftot, msg, msglen)) {
          status = -1;
          break;
        }
      }
      int ps = prox_step(pw, P, po, (size_t)N, x, xn, r->rho, ftot, r->rho, &st);
      if (ps < 0) {
        snprintf(msg, msglen, "proximal step %ld failed: %s", k, prox_strerror(ps));
        status = -1;
        break;
      }
      if (ps > 0) {
        /* the first time in full, then a summary at the end: not one line per step */
        if (nfail++ == 0 && S->warn)
          state_warn(S, "run %s: the proximal fixed point did not converge at step %ld (marginal error %.3g after %d "
                     "iterations)", r->c.name, k, st.marginal_err, st.iterations);
        if (!(st.marginal_err <= worst)) worst = st.marginal_err, worst_step = k;
      }
      memcpy(x, xn, (size_t)N * n * sizeof *x);
      r->pst = &st;
    } else {
      for (int i = 0; i < N && status == 0; i++)
        if (P->f.fn(x + (size_t)i * n, NULL, &r->fx[i], r->c.ws) || !isfinite(r->fx[i])) {
          snprintf(msg, msglen, "f is not finite at particle %d at step 0", i + 1);
          status = -1;
        }
      if (status) break;
    }
    if (k % so->every == 0 || k == so->steps) {
      sde_monitor m;
      r->free_energy = r->energy ? pe_free_energy(&r->pe, x, r->fx, r->rho, msg, msglen)
                                 : prox_free_energy((size_t)N, r->fx, r->rho, NULL, so->T);
      if (isnan(r->free_energy) && msg[0]) {
        status = -1;
        break;
      }
      if (sde_ws_monitor(sw, x, mean, cov, &m) || !isfinite(r->free_energy)) {
        snprintf(msg, msglen, "the monitor (mean, covariance, free energy) is not finite at step %ld", k);
        status = -1;
        break;
      }
      if (emit_particles(r, k, (double)k * so->h, x, N, n, &m)) {
        snprintf(msg, msglen, "output failed at step %ld: %s", k, strerror(errno));
        status = -1;
      }
    }
  }
  if (nfail > 1 && S->warn)
    state_warn(S, "run %s: the proximal fixed point did not converge in %ld of %ld steps (worst marginal error %.3g, "
               "at step %ld); see tol, maxiter and eps in docs/prox.md", r->c.name, nfail, so->steps, worst, worst_step);
  free(xn);
  free(vnl);
  if (ftot != r->fx) free(ftot);
  free(mean);
  free(cov);
  prox_ws_free(pw);
  sde_ws_free(sw);
  return status;
}

/* The options of a run and of its flow, and the start law. */
int particles_prepare(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  sym *flow = J->flow;
  prun *r = hnn_xcalloc(1, sizeof *r);
  J->priv = r;
  flow_law *L = &r->L;
  int status = law_read(S, run->kids[0], "a particle run starts from", L);
  if (status != HNN_OK) return status;
  r->wasserstein = J->kind->variant == 1 || J->kind->variant == 3;
  r->energy = J->kind->variant == 3;
  long Nl = L->kind == LAW_POINTS ? L->npoints : 1000;
  sde_opts *so = &r->so;
  sde_opts_default(so);
  double dflag = 1;
  if (flow_opt_count(S, run, "particles", 1, 10000000, &Nl) || flow_opt_positive(S, run, "h", &so->h) ||
      flow_opt_count(S, run, "steps", 1, FLOW_COUNT_MAX, &so->steps))
    return HNN_ERR_SCRIPT;
  so->every = so->steps >= 10 ? so->steps / 10 : 1;
  if (flow_opt_count(S, run, "every", 1, FLOW_COUNT_MAX, &so->every) || flow_kw_number(S, flow, "T", 0, 1, &so->T) ||
      flow_kw_number(S, flow, "divergence", -INFINITY, 0, &dflag))
    return HNN_ERR_SCRIPT;
  so->include_divergence = dflag != 0;
  so->seed = rng_split(S->seed, RNG_RUN, rng_name_index(flow->name));
  ast *sch = flow_option(run, "scheme");
  so->scheme = sch && strcmp(sch->name, "milstein") == 0 ? SDE_MILSTEIN : SDE_EM;
  ast *bd = flow_option(run, "boundary");
  if (bd) so->boundary = strcmp(bd->name, "reflect") == 0 ? SDE_REFLECT : strcmp(bd->name, "absorb") == 0 ? SDE_ABSORB
                       : strcmp(bd->name, "periodic") == 0 ? SDE_PERIODIC : SDE_BOUNDARY_NONE;
  int N = (int)Nl, n = L->n;
  r->N = N;
  r->n = n;
  if (L->kind == LAW_POINTS && N != L->npoints) {
    diag_error(&S->diags, run->src, run->loc, "the csv file has %d points but the run asks for %d particles", L->npoints, N);
    return HNN_ERR_SCRIPT;
  }
  /* the box: the option, else a uniform start's box */
  r->lo = hnn_xmalloc((size_t)n * sizeof *r->lo);
  r->hi = hnn_xmalloc((size_t)n * sizeof *r->hi);
  ast *bx = flow_option(run, "box");
  if (bx) {
    double *v = NULL;
    ir_shape sh;
    int bad = state_eval_ast(S, bx, &v, &sh) != HNN_OK;
    if (!bad && !(v[0] < v[1])) {
      diag_error(&S->diags, bx->src, bx->loc, "box [lo, hi] needs lo < hi");
      bad = 1;
    } else if (!bad) {
      for (int j = 0; j < n; j++) r->lo[j] = v[0], r->hi[j] = v[1];
      r->have_box = 1;
    }
    free(v);
    if (bad) return HNN_ERR_SCRIPT;
  } else if (L->kind == LAW_UNIFORM) {
    memcpy(r->lo, L->a, (size_t)n * sizeof *r->lo);
    memcpy(r->hi, L->b, (size_t)n * sizeof *r->hi);
    r->have_box = 1;
  }
  if (so->boundary != SDE_BOUNDARY_NONE && !r->have_box) {
    diag_error(&S->diags, bd->src, bd->loc, "a boundary needs a box: add 'box [lo, hi]' or start from uniform(...)");
    return HNN_ERR_SCRIPT;
  }
  if (r->have_box && (so->boundary != SDE_BOUNDARY_NONE || bx)) so->lo = r->lo, so->hi = r->hi;
  if (r->energy) {
    sym *E = flow_role_sym(S, flow, R_ENERGY);
    int dim = energy_model_dim(E);
    if (dim && dim != n) {
      diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "the start is in dimension %d, the energy %s in "
                 "dimension %d", n, E->name, dim);
      return HNN_ERR_SCRIPT;
    }
    r->nsize = -1;   /* the energy's callbacks are compiled at n (proxenergy.c) */
  } else {
    r->nsize = flow_objective_size(S, flow_role_sym(S, flow, R_OBJECTIVE), n, run->kids[0]);
    if (!r->nsize) return HNN_ERR_SCRIPT;
  }
  if (r->wasserstein) {
    prox_opts *po = &r->po;
    prox_opts_default(po);
    po->T = so->T;
    po->h = so->h;
    long maxiter = po->max_iter;
    if (flow_kw_number(S, flow, "eps", 0, 0, &po->eps) || flow_opt_positive(S, run, "tol", &po->tol) ||
        flow_opt_count(S, run, "maxiter", 1, INT_MAX, &maxiter))
      return HNN_ERR_SCRIPT;
    po->max_iter = (int)maxiter;
    ast *pr = flow_option(run, "precision");
    if (pr && strcmp(pr->name, "double") == 0) po->kernel_prec = PROX_DOUBLE;
    if (flow_opt_positive(S, run, "sums_tol", &po->kernel_tol)) return HNN_ERR_SCRIPT;
    ast *ke = flow_option(run, "sums");
    int mform = flow_role_sym(S, flow, R_METRIC)->mform;
    if (ke && strcmp(ke->name, "exact") == 0) po->kernel = PROX_KERNEL_DIRECT;
    if (ke && strcmp(ke->name, "fast") == 0) {
      /* kernel sums need a cost Euclidean in coordinates (docs/prox.md) */
      if (mform != MET_EUCLIDEAN && mform != MET_HOPFIELD) {
        diag_error(&S->diags, ke->src, ke->loc,
                   "sums fast needs a metric whose geodesic distance is Euclidean in coordinates (euclidean or "
                   "hopfield(s)); this metric's cost is the midpoint rule: use sums exact");
        return HNN_ERR_SCRIPT;
      }
      po->kernel = PROX_KERNEL_SUMS;
    }
    ast *nz = flow_option(run, "normalize");
    if (nz && strcmp(nz->name, "none") == 0) po->norm = PROX_NORM_NONE;
    if (nz && strcmp(nz->name, "box") == 0) {
      if (!r->have_box) {
        diag_error(&S->diags, nz->src, nz->loc, "normalize box needs a box: add 'box [lo, hi]' or start from uniform(...)");
        return HNN_ERR_SCRIPT;
      }
      po->norm = PROX_NORM_BOX, po->box_lo = r->lo, po->box_hi = r->hi;
    }
  }
  /* rows: every particle at every written step (to a file only), and the
  ** monitor; memory: the cloud and its copies, and for the proximal step
  ** a cost matrix when the metric's geodesics have no coordinates (its
  ** kernel is stored only within po.kernel_mem) */
  if (mon_dist_prepare(S, run, flow->name, n, N, &r->md) != HNN_OK) return HNN_ERR_SCRIPT;
  double snaps = floor((double)so->steps / (double)so->every) + 2;
  J->plan.rows = snaps * (run->kids[1] ? (double)N + 1 : 1);
  J->plan.values = fmax(n + 5, n + n * n + 7 + r->md.ncols);
  J->plan.memory = (double)N * n * 8 * 10 + (double)N * 8 * 12;
  /* the exact W2 of a monitor: LEMON's arcs, ~64 bytes per pair of points */
  for (int c = 0; c < r->md.ncols; c++)
    if (r->md.kind[c] == DIST_W2 && n > 1) J->plan.memory += (double)N * r->md.ntarget[c] * 64;
  if (r->wasserstein) /* kernel sums: points row-major, weights, sums (the grid is capped in kernsum) */
    J->plan.memory += (double)N * 8 * (2.0 * n + 6);
  if (r->energy) /* proxenergy.c: the drift, its field's scratch, U + the first variation */
    J->plan.memory += (double)N * 8 * (4.0 * n + 4);
  if (r->wasserstein && flow_role_sym(S, flow, R_METRIC)->mform != MET_EUCLIDEAN &&
      flow_role_sym(S, flow, R_METRIC)->mform != MET_HOPFIELD)
    J->plan.memory += (double)N * N * 8;
  return HNN_OK;
}

flow_problem *particles_problem(flow_job *J, int *n, int *nsize, double *T, int *divergence) {
  prun *r = J->priv;
  *n = r->n;
  *nsize = r->nsize;
  *T = r->so.T;
  *divergence = r->so.include_divergence;
  return &r->P;
}

static int particles_compile(flow_job *J) {
  prun *r = J->priv;
  hnn_state *S = J->S;
  sym *g = flow_role_sym(S, J->flow, R_METRIC);
  if (flow_compile_roles(S, J->flow, J->kind, r->nsize, r->n, 0, &r->P) ||
      flow_fn_of(S, g, HNN_METRIC_DIV_INV, r->n, &r->P.div_metric_inv))
    return 1;
  if (r->energy) {
    /* T and power_entropy are E's, known once its coefficients are evaluated */
    r->have_pe = 1;
    if (pe_build(S, flow_role_sym(S, J->flow, R_ENERGY), r->n, &r->P, J->flow->decl->kids[0], &r->pe) != HNN_OK)
      return 1;
    r->so.T = r->po.T = r->pe.T;
    r->po.power_coef = r->pe.power_coef;
    r->po.power_m = r->pe.power_m;
  }
  if (r->wasserstein && g->mform == MET_HOPFIELD) {
    sym *a = state_lookup(S, g->mact);
    if (!a || flow_fn_of(S, a, HNN_INVERSE, 1, &r->geo_inv) || flow_fn_of(S, a, HNN_DERIV1, 1, &r->geo_d1)) {
      diag_error(&S->diags, J->run->src, J->run->loc, "run %s: cannot build the geodesic coordinates of the metric",
                 J->flow->name);
      return 1;
    }
  }
  return 0;
}

int particles_run(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  sym *flow = J->flow;
  prun *r = J->priv;
  int N = r->N, n = r->n, status = HNN_OK;
  r->c.P = &r->P;
  r->c.ws = hnn_xcalloc(flow_problem_nwork(&r->P) + 1, sizeof *r->c.ws);
  r->c.row = hnn_xcalloc((size_t)n + 4, sizeof *r->c.row);
  r->c.steps_end = r->so.steps;
  r->fx = hnn_xcalloc((size_t)N, sizeof *r->fx);
  r->rho = hnn_xcalloc((size_t)N, sizeof *r->rho);
  r->x = hnn_xmalloc((size_t)N * n * sizeof *r->x);
  gsl_rng *g = rng_stream(S->seed, RNG_RUN, rng_name_index(flow->name) ^ 0x1a1f);
  char msg[512] = "", *err = NULL;
  flow_progress_start(&r->c, S, flow->name);
  law_sample(&r->L, N, g, r->x, r->rho);
  if (open_outputs(S, run, r, &err)) {
    diag_error(&S->diags, run->src, run->loc, "%s", err);
    free(err);
    err = NULL;
    status = HNN_ERR_RUNTIME;
  } else {
    int s;
    if (r->wasserstein) {
      geo_hcoord *hc = NULL;
      if (prox_geometry(r, flow_role_sym(S, flow, R_METRIC), &hc)) {
        snprintf(msg, sizeof msg, "cannot build the geodesic coordinates of the metric");
        s = -1;
      } else if (r->energy && pe_init(&r->pe, (size_t)N, msg, sizeof msg)) {
        s = -1;
      } else {
        s = wasserstein_loop(S, r, &r->P, &r->so, &r->po, r->x, msg, sizeof msg);
      }
      geo_hcoord_free(hc);
    } else {
      s = sde_run(&r->P, &r->so, N, r->x, emit_particles, r, msg, sizeof msg);
    }
    flow_progress_end(&r->c);
    if (r->md_failed) {
      diag_error(&S->diags, run->src, run->loc, "run %s: %s", flow->name, r->md.err);
      status = HNN_ERR_RUNTIME;
    } else if (s < 0 || s == SDE_STOPPED) {
      diag_error(&S->diags, run->src, run->loc, "run %s: %s", flow->name, msg[0] ? msg : "failed");
      status = HNN_ERR_RUNTIME;
    }
    if (close_outputs(r, status == HNN_OK, &err) && status == HNN_OK) {
      diag_error(&S->diags, run->src, run->loc, "%s", err);
      status = HNN_ERR_RUNTIME;
    }
    free(err);
  }
  gsl_rng_free(g);
  return status;
}

void particles_release(flow_job *J) {
  prun *r = J->priv;
  if (!r) return;
  free(r->x);
  free(r->fx);
  free(r->rho);
  free(r->mrow);
  free(r->c.ws);
  free(r->c.row);
  free(r->lo);
  free(r->hi);
  law_free(&r->L);
  mon_dist_free(&r->md);
  if (r->have_pe) pe_free(&r->pe);
  free(r);
  J->priv = NULL;
}

const flow_kind flow_kind_diffusion = {
  .name = "diffusion", .usage = "diffusion(f, G, T = temperature)", .nroles = 2, .roles = { R_OBJECTIVE, R_METRIC },
  .keywords = { "T", "divergence", NULL }, .options = particle_run_options, .siblings = { "_monitor" }, .variant = 0,
  .check_run = particles_check_run, .prepare = particles_prepare, .compile = particles_compile,
  .run = particles_run, .release = particles_release
};

/* wasserstein(E, G, eps = e) for an energy E: the same stages (variant 3; 2 is kind_mobility.c's);
** not in flows.c's table, wasserstein's declaration check picks it when the
** first argument is an energy. */
static const flow_kind wasserstein_energy = {
  .name = "wasserstein", .usage = "wasserstein(E, G, eps = regularization) for an energy E (its entropy "
  "coefficient is the temperature)", .nroles = 2, .roles = { R_ENERGY, R_METRIC }, .keywords = { "eps", NULL },
  .options = particle_run_options, .siblings = { "_monitor" }, .variant = 3, .check_run = particles_check_run,
  .prepare = particles_prepare, .compile = particles_compile, .run = particles_run, .release = particles_release
};

/* wasserstein(f, G, T, eps), or wasserstein(E, G, eps) when the first
** argument names an energy. */
static int wasserstein_check_decl(hnn_state *S, sym *s, const flow_kind *k) {
  ast *call = s->decl->kids[0];
  sym *first = call->nkids > 0 && call->kids[0]->kind == AST_NAME ? state_lookup(S, call->kids[0]->name) : NULL;
  if (!first || first->kind != SYM_ENERGY) return flow_check_roles(S, s, k);
  s->flow_kind = &wasserstein_energy;
  int errs = flow_check_roles(S, s, &wasserstein_energy);
  if (!errs) errs = pe_check(S, first, flow_role_sym(S, s, R_METRIC), call);
  return errs;
}

const flow_kind flow_kind_wasserstein = {
  .name = "wasserstein", .usage = "wasserstein(f, G, T = temperature, eps = regularization), or wasserstein(E, G, "
  "eps = regularization) for an energy E", .nroles = 2,
  .roles = { R_OBJECTIVE, R_METRIC }, .keywords = { "T", "eps", NULL }, .options = particle_run_options,
  .siblings = { "_monitor" }, .variant = 1, .check_decl = wasserstein_check_decl, .check_run = particles_check_run,
  .prepare = particles_prepare, .compile = particles_compile, .run = particles_run, .release = particles_release
};
