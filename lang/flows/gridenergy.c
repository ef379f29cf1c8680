/*
** gridenergy.c — the callbacks of an energy for the grid engines
** (gridenergy.h).
*/
#include "gridenergy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"
#include "diff.h"
#include "lower.h"

int gridenergy_check(hnn_state *S, sym *E, int engine) {
  const energy_decl *d = E->energy;
  int errs = 0;
  for (int i = 0; i < d->nterms; i++) {
    const energy_term *t = &d->terms[i];
    const char *why = NULL;
    switch (t->piece) {
    case ENERGY_MMD:
    case ENERGY_DISTANCE:
      if (engine == GRID_JKO)
        why = "it is an interaction (2 k * rho) plus a potential (-2 k * target), and the exact 1-D JKO cannot carry "
              "interaction (not convex in quantile coordinates); use fokker_planck";
      else if (engine == GRID_ENTROPIC)
        why = "it is an interaction (2 k * rho) plus a potential (-2 k * target), and the entropic JKO's proximal map "
              "is pointwise only for local energies; use fokker_planck";
      break;
    case ENERGY_SINKHORN:
      why = "its first variation f_{rho,t} - f_{rho,rho} is the solution of two entropic transport problems in rho, "
            "not a potential, a kernel or a function of rho at a point, so no grid engine can carry it (their steps "
            "need those pieces); run it with a particle flow";
      break;
    case ENERGY_W2:
      if (engine != GRID_JKO)
        why = "its first variation is the Kantorovich potential of rho to the target, which moves with rho and is "
              "not a potential, a kernel or a function of rho at a point; in 1-D the exact JKO (jko) carries it in "
              "quantiles, else run it with a particle flow";
      break;
    case ENERGY_INTERACTION:
      if (engine == GRID_JKO)
        why = "the exact 1-D JKO cannot carry interaction: it is not convex in quantile coordinates, so the step "
              "is no longer one convex problem; use fokker_planck";
      else if (engine == GRID_ENTROPIC)
        why = "the entropic JKO cannot carry interaction: its proximal map is pointwise only for local energies; "
              "use fokker_planck";
      break;
    default:
      break;
    }
    if (why) {
      diag_error(&S->diags, t->at->src, t->at->loc, "%s: %s", energy_piece_name(t->piece), why);
      errs++;
    }
  }
  return errs;
}

/* f applied to the point x, whose formals may be scalars (dim 1). */
static ir_node *at_point(hnn_state *S, ir_ctx *ir, sym *f, int nargs, ir_node **x) {
  ir_node *args[2];
  for (int i = 0; i < nargs; i++) args[i] = f->sig.formal[i].kind == TY_SCALAR ? ir_index(ir, x[i], 0, 0) : x[i];
  return lower_inline(S, ir, f, nargs, args);
}

static int compile1(hnn_state *S, ir_ctx *ir, ir_node *x, ir_node *out, flow_fn *dst) {
  hnn_fn *f = out ? state_compile(S, ir, 1, &x, 0, NULL, 1, &out, 0) : NULL;
  if (!f) return 1;
  state_fn_later(S, f, &dst->fn);
  dst->nwork = f->nwork;
  return 0;
}

/* U = sum c V - sum c log beta over the potential and kl terms, as a
** scalar of x; NULL when there is none (*none set) or on error. */
static ir_node *local_part(hnn_state *S, ir_ctx *ir, const energy_decl *d, ir_node *x, int *none) {
  ir_node *U = ir_const(ir, 0);
  *none = 1;
  for (int i = 0; i < d->nterms && U; i++) {
    const energy_term *t = &d->terms[i];
    if (t->piece != ENERGY_POTENTIAL && t->piece != ENERGY_KL) continue;
    double c = 1;
    if (t->coef && flow_eval_number(S, t->coef, &c)) return NULL;
    *none = 0;
    ir_node *v = at_point(S, ir, t->fn, 1, &x);
    if (!v) return NULL;
    if (t->piece == ENERGY_POTENTIAL) U = ir_add(ir, U, ir_mul(ir, ir_const(ir, c), v));
    else U = ir_sub(ir, U, ir_mul(ir, ir_const(ir, c), ir_fn(ir, IR_LOG, v)));
  }
  return U;
}

/* k(x, y) of an mmd term, or -|x - y| of an energy_distance term. */
static ir_node *target_kernel(hnn_state *S, ir_ctx *ir, const em_term *t, ir_node *x, ir_node *y) {
  if (t->piece == ENERGY_MMD) {
    ir_node *xy[2] = { x, y };
    return at_point(S, ir, t->k, 2, xy);
  }
  ir_node *d = ir_sub(ir, x, y);
  return ir_neg(ir, ir_fn(ir, IR_SQRT, ir_sum(ir, ir_mul(ir, d, d))));
}

/* The potential half of every mmd and energy_distance term:
**   c MMD_k(rho, t)^2 = c int int k rho rho - 2c int (k * t) rho + c int int k t t
** is interaction(2c k) + potential(-2c k * t) + a constant (docs/energies.md),
** with k * t = sum_j w_j k(x, t_j) over the target's points, which are
** the ones a particle flow of the energy uses (energymodel.h).  Added to U. */
static ir_node *target_part(hnn_state *S, ir_ctx *ir, const energy_model *M, ir_node *x, ir_node *U, int *none) {
  for (int i = 0; i < M->nterms && U; i++) {
    const em_term *t = &M->terms[i];
    if (t->piece != ENERGY_MMD && t->piece != ENERGY_DISTANCE) continue;
    *none = 0;
    ir_node *y = ir_var(ir, ir_vector_shape(M->n), "y"), *k = target_kernel(S, ir, t, x, y), *sum = NULL;
    if (!k) return NULL;
    ir_node *c[2];
    for (int j = 0; j < t->ntarget; j++) {
      for (int d = 0; d < M->n; d++) c[d] = ir_const(ir, t->target[(size_t)j * M->n + d]);
      ir_node *yj = ir_pack(ir, ir_vector_shape(M->n), c);
      ir_node *v = ir_mul(ir, ir_const(ir, t->target_w[j]), ir_subst(ir, k, 1, &y, &yj));
      sum = sum ? ir_add(ir, sum, v) : v;
    }
    if (sum) U = ir_sub(ir, U, ir_mul(ir, ir_const(ir, 2 * t->coef), sum));
  }
  return U;
}

static int build_local(hnn_state *S, sym *E, int dim, int derivs, grid_energy *G) {
  ir_ctx *ir = ir_ctx_new();
  ir_node *x = ir_var(ir, ir_vector_shape(dim), "x");
  int none = 1, bad = 0;
  ir_node *U = local_part(S, ir, E->energy, x, &none);
  if (U) U = target_part(S, ir, &G->M, x, U, &none);
  if (!U) bad = 1;
  else if (!none) {
    bad = compile1(S, ir, x, ir_bcast(ir, U, ir_vector_shape(1)), &G->U);
    if (!bad && derivs) {
      ir_node *g = NULL, *h = NULL;
      diff_grad(ir, U, 1, &x, &g);
      ir_node *g0 = g ? ir_index(ir, g, 0, 0) : NULL;
      if (g0) diff_grad(ir, g0, 1, &x, &h);
      bad = !g0 || !h || compile1(S, ir, x, g, &G->dU) || compile1(S, ir, x, h, &G->d2U);
    }
  }
  ir_ctx_free(ir);
  return bad;
}

/* The factor of a term's kernel in W: c for interaction (1/2 int int W
** rho rho), 2c for mmd and energy_distance (c int int k rho rho); 0 for
** the other terms. */
static double w_factor(const em_term *t) {
  return t->piece == ENERGY_INTERACTION ? t->coef : t->piece == ENERGY_MMD || t->piece == ENERGY_DISTANCE ? 2 * t->coef : 0;
}

/* W(z) = sum f_k k_k(z, 0) over the interaction, mmd and energy_distance
** terms of M (f_k = w_factor). */
static int build_interaction(hnn_state *S, int dim, grid_energy *G) {
  ir_ctx *ir = ir_ctx_new();
  ir_node *z = ir_var(ir, ir_vector_shape(dim), "z"), *W = NULL;
  int bad = 0;
  for (int i = 0; i < G->M.nterms && !bad; i++) {
    const em_term *t = &G->M.terms[i];
    if (t->piece != ENERGY_INTERACTION && t->piece != ENERGY_MMD && t->piece != ENERGY_DISTANCE) continue;
    ir_node *v = t->piece == ENERGY_INTERACTION ? at_point(S, ir, t->k, 2, (ir_node *[]){ z, ir_zeros(ir, ir_vector_shape(dim)) })
                                                : target_kernel(S, ir, t, z, ir_zeros(ir, ir_vector_shape(dim)));
    if (!v) bad = 1;
    else {
      v = ir_mul(ir, ir_const(ir, w_factor(t)), v);
      W = W ? ir_add(ir, W, v) : v;
    }
  }
  if (!bad && W) bad = compile1(S, ir, z, ir_bcast(ir, W, ir_vector_shape(1)), &G->W);
  ir_ctx_free(ir);
  return bad;
}

int gridenergy_build(hnn_state *S, sym *E, int dim, int derivs, sym *metric, ast *at, grid_energy *G) {
  memset(G, 0, sizeof *G);
  G->dim = dim;
  int r = energy_model_build(S, E, dim, &G->M);
  if (r != HNN_OK) return r;
  G->T = G->M.entropy;
  for (int i = 0; i < G->M.nterms; i++) {
    const em_term *t = &G->M.terms[i];
    if (t->piece != ENERGY_POWER) continue;
    if (G->nu > 0 && t->m != G->m) {
      diag_error(&S->diags, t->decl->at->src, t->decl->at->loc,
                 "the grid engines carry one power_entropy exponent; this one is %g, an earlier one %g", t->m, G->m);
      return HNN_ERR_SCRIPT;
    }
    G->nu += t->coef;
    G->m = t->m;
  }
  for (int i = 0; i < G->M.nterms; i++) {
    const em_term *t = &G->M.terms[i];
    if (t->piece != ENERGY_W2) continue;
    const char *why = G->w2 ? "the exact 1-D JKO carries one w2 term" : t->coef < 0 ? "w2 with a negative coefficient is "
                      "not convex in quantiles (the step would not be one convex problem)" : NULL;
    if (why) {
      diag_error(&S->diags, t->decl->at->src, t->decl->at->loc, "%s", why);
      return HNN_ERR_SCRIPT;
    }
    G->w2 = t;
    G->w2c = t->coef;
  }
  if (G->T == 0 && G->nu == 0 && derivs) {
    diag_error(&S->diags, at->src, at->loc, "the exact 1-D JKO needs entropy or power_entropy in the energy (they keep "
               "the quantiles increasing)");
    return HNN_ERR_SCRIPT;
  }
  for (int i = 0; i < G->M.nterms; i++) {
    const em_term *t = &G->M.terms[i];
    if ((t->piece == ENERGY_MMD || t->piece == ENERGY_DISTANCE) && t->ntarget > GRID_TARGET_MAX) {
      diag_error(&S->diags, t->decl->at->src, t->decl->at->loc, "%s: a grid flow compiles k * target as one sum over "
                 "the target's points, and its compile time grows faster than their number (10^4 points: 3 s); "
                 "%d points is above %d: draw fewer (samples = ...) or run a particle flow",
                 energy_piece_name(t->piece), t->ntarget, GRID_TARGET_MAX);
      return HNN_ERR_SCRIPT;
    }
  }
  if (build_local(S, E, dim, derivs, G) || build_interaction(S, dim, G)) return HNN_ERR_SCRIPT;
  if (metric) {
    if (!lower_metric_is_diagonal(S, metric, dim)) {
      diag_error(&S->diags, at->src, at->loc, "the mobility of a grid flow is the diagonal of G^-1: the metric '%s' "
                 "is not diagonal", metric->name);
      return HNN_ERR_SCRIPT;
    }
    ir_ctx *ir = ir_ctx_new();
    ir_node *x = ir_var(ir, ir_vector_shape(dim), "x");
    ir_node *g = lower_metric(S, ir, metric, x, METRIC_INV_DIAG);
    int bad = compile1(S, ir, x, g, &G->mob);
    ir_ctx_free(ir);
    if (bad) return HNN_ERR_SCRIPT;
  }
  return HNN_OK;
}

int gridenergy_check_kernels(hnn_state *S, const grid_energy *G, int npts, const double *x, const double *y, ast *at) {
  if (!G->W.fn) return 0;
  int dim = G->dim, bad = 0;
  size_t nw = G->W.nwork;
  for (int i = 0; i < G->M.nterms; i++)
    if (G->M.terms[i].kernel.pair.nwork > nw) nw = G->M.terms[i].kernel.pair.nwork;
  double *ws = calloc(nw + 1, sizeof *ws), in[4], out[3], z[2];
  for (int p = 0; p < npts && !bad; p++) {
    double sum = 0, scale = 0, w = NAN;
    memcpy(in, x + (size_t)p * dim, (size_t)dim * sizeof *in);
    memcpy(in + dim, y + (size_t)p * dim, (size_t)dim * sizeof *in);
    for (int i = 0; i < G->M.nterms; i++) {
      const em_term *t = &G->M.terms[i];
      double f = w_factor(t), k = 0;
      if (f == 0) continue;
      if (t->piece == ENERGY_DISTANCE) {
        for (int j = 0; j < dim; j++) k += (in[j] - in[dim + j]) * (in[j] - in[dim + j]);
        k = -sqrt(k);
      } else {
        t->kernel.pair.fn(in, NULL, out, ws);
        k = out[dim];
      }
      sum += f * k;
      scale += fabs(f * k);
    }
    for (int j = 0; j < dim; j++) z[j] = in[j] - in[dim + j];
    G->W.fn(z, NULL, &w, ws);
    /* equal up to the rounding of x - y inside the kernel: a few ulps of the terms */
    bad = !(fabs(sum - w) <= 1e-10 * (scale + fabs(w)) + 1e-300);
  }
  free(ws);
  if (bad)
    diag_error(&S->diags, at->src, at->loc, "the grid flows convolve: an interaction kernel must be a function of "
               "x - y (k(x, y) = W(x - y)), and this one is not");
  return bad;
}

double gridenergy_constant(const grid_energy *G) {
  double total = 0;
  size_t nw = 0;
  for (int i = 0; i < G->M.nterms; i++)
    if (G->M.terms[i].kernel.pair.nwork > nw) nw = G->M.terms[i].kernel.pair.nwork;
  double *ws = calloc(nw + 1, sizeof *ws), in[4], out[3];
  for (int i = 0; i < G->M.nterms; i++) {
    const em_term *t = &G->M.terms[i];
    if (t->piece != ENERGY_MMD && t->piece != ENERGY_DISTANCE) continue;
    int n = G->M.n;
    double s = 0;
    for (int a = 0; a < t->ntarget; a++) {
      double row = 0;
      for (int b = 0; b < t->ntarget; b++) {
        const double *x = t->target + (size_t)a * n, *y = t->target + (size_t)b * n;
        double k = 0;
        if (t->piece == ENERGY_DISTANCE) {
          for (int j = 0; j < n; j++) k += (x[j] - y[j]) * (x[j] - y[j]);
          k = -sqrt(k);
        } else {
          memcpy(in, x, (size_t)n * sizeof *in);
          memcpy(in + n, y, (size_t)n * sizeof *in);
          t->kernel.pair.fn(in, NULL, out, ws);
          k = out[n];
        }
        row += t->target_w[b] * k;
      }
      s += t->target_w[a] * row;
    }
    total += t->coef * s;
  }
  free(ws);
  return total;
}

void gridenergy_free(grid_energy *G) { energy_model_free(&G->M); }
