/*
** proxenergy.c — an energy's terms for the Wasserstein proximal recursion
** (proxenergy.h; docs/prox.md, "Energies").
*/
#include "proxenergy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "flowkind.h"
#include "lower.h"
#include "pool.h"
#include "prox.h"

/* ------------------------------------------------------------ checks */

int pe_check(hnn_state *S, sym *E, sym *G, ast *at) {
  const energy_decl *d = E->energy;
  int errs = 0, npower = 0, entropy = 0;
  for (int i = 0; i < d->nterms; i++) {
    const energy_term *t = &d->terms[i];
    const char *why = NULL;
    switch (t->piece) {
    case ENERGY_ENTROPY:
    case ENERGY_KL:
      entropy = 1;
      break;
    case ENERGY_SINKHORN:
    case ENERGY_W2:
      why = "the proximal step needs the term's first variation as a potential at the particles, and hnn has "
            "sinkhorn's and w2's only as velocities (wfield_disc.c); use particles(E) or langevin(E)";
      break;
    case ENERGY_POWER:
      if (++npower > 1)
        why = "the proximal step solves one power_entropy per point (a Lambert equation); write one term";
      /* fall through: power_entropy moves the particles too */
    case ENERGY_INTERACTION:
    case ENERGY_MMD:
    case ENERGY_DISTANCE:
      if (!why && G->mform != MET_EUCLIDEAN)
        why = "the nonlocal terms move the particles with their Euclidean velocity; under another metric the "
              "mobility G^-1 would have to act on it (not done): use a metric declared euclidean";
      break;
    default:
      break;
    }
    if (why) {
      diag_error(&S->diags, t->at->src, t->at->loc, "%s in wasserstein: %s", energy_piece_name(t->piece), why);
      errs++;
    }
  }
  if (!entropy) {
    diag_error(&S->diags, at->src, at->loc,
               "wasserstein(E, ...) needs an entropy or kl term in '%s': its coefficient is the temperature T of "
               "the noise and of the proximal step", E->name);
    errs++;
  }
  return errs;
}

/* ------------------------------------------------------------ compile */

static ir_node *at_point(hnn_state *S, ir_ctx *ir, sym *f, ir_node *x) {
  ir_node *a = f->sig.formal[0].kind == TY_SCALAR ? ir_index(ir, x, 0, 0) : x;
  return lower_inline(S, ir, f, 1, &a);
}

/* U = sum c V - sum c log beta: its value and gradient as two callbacks. */
static int compile_U(hnn_state *S, const energy_decl *d, int n, flow_problem *P) {
  ir_ctx *ir = ir_ctx_new();
  ir_node *x = ir_var(ir, ir_vector_shape(n), "x"), *U = ir_const(ir, 0);
  for (int i = 0; i < d->nterms && U; i++) {
    const energy_term *t = &d->terms[i];
    if (t->piece != ENERGY_POTENTIAL && t->piece != ENERGY_KL) continue;
    double c = 1;
    if (t->coef && flow_eval_number(S, t->coef, &c)) U = NULL;
    ir_node *v = U ? at_point(S, ir, t->fn, x) : NULL;
    if (!v) U = NULL;
    else if (t->piece == ENERGY_POTENTIAL) U = ir_add(ir, U, ir_mul(ir, ir_const(ir, c), v));
    else U = ir_sub(ir, U, ir_mul(ir, ir_const(ir, c), ir_fn(ir, IR_LOG, v)));
  }
  hnn_fn *fv = NULL, *fg = NULL;
  if (U) {
    ir_node *g = NULL;
    diff_grad(ir, U, 1, &x, &g);
    ir_node *val = ir_bcast(ir, U, ir_vector_shape(1));
    fv = state_compile(S, ir, 1, &x, 0, NULL, 1, &val, 0);
    fg = g ? state_compile(S, ir, 1, &x, 0, NULL, 1, &g, 0) : NULL;
  }
  ir_ctx_free(ir);
  if (!fv || !fg) return HNN_ERR_SCRIPT;
  state_fn_later(S, fv, &P->f.fn);
  P->f.nwork = fv->nwork;
  state_fn_later(S, fg, &P->grad.fn);
  P->grad.nwork = fg->nwork;
  return HNN_OK;
}

int pe_build(hnn_state *S, sym *E, int n, flow_problem *P, ast *at, pe_model *pm) {
  memset(pm, 0, sizeof *pm);
  pm->n = n;
  int r = energy_model_build(S, E, n, &pm->M);
  pm->have_M = 1;
  if (r != HNN_OK) return r;
  pm->T = pm->M.entropy;
  if (!(pm->T > 0)) {
    diag_error(&S->diags, at->src, at->loc,
               "wasserstein(E, ...) needs the entropy coefficient of '%s' (entropy + kl) > 0, the temperature; "
               "it is %g here", E->name, pm->T);
    return HNN_ERR_SCRIPT;
  }
  pm->Mnl = pm->M;
  pm->Mnl.has_local = 0;
  pm->Mnl.entropy = 0;
  for (int i = 0; i < pm->M.nterms; i++) {
    const em_term *t = &pm->M.terms[i];
    pm->drift = 1;   /* pe_check let only these through */
    if (t->piece == ENERGY_POWER) pm->power_coef = t->coef, pm->power_m = t->m;
    else pm->potential = 1;
  }
  /* one potential(V) with coefficient 1: V's own callbacks, as the
  ** objective form compiles them (the same bits) */
  const energy_decl *d = E->energy;
  sym *V = NULL;
  int nlocal = 0;
  for (int i = 0; i < d->nterms; i++)
    if (d->terms[i].piece == ENERGY_POTENTIAL || d->terms[i].piece == ENERGY_KL) {
      nlocal++;
      if (d->terms[i].piece == ENERGY_POTENTIAL && !d->terms[i].coef) V = d->terms[i].fn;
    }
  if (nlocal == 1 && V) {
    int nsize = flow_objective_size(S, V, n, at);
    if (!nsize) return HNN_ERR_SCRIPT;
    int gsize = nsize > 0 ? nsize : 0;
    if (flow_fn_of(S, V, HNN_VALUE, gsize, &P->f) || flow_fn_of(S, V, HNN_GRADIENT, gsize, &P->grad))
      return HNN_ERR_SCRIPT;
    return HNN_OK;
  }
  return compile_U(S, d, n, P);
}

/* ------------------------------------------------------------ run */

int pe_init(pe_model *pm, size_t N, char *err, size_t errlen) {
  pm->N = N;
  int n = pm->n;
  if (wp_model_init(&pm->W, &pm->Mnl, n, N, 0, 0, 0, err, errlen)) return -1;
  pm->have_W = 1;
  pm->parts = calloc((size_t)pm->W.nparts + 1, sizeof *pm->parts);
  pm->tmp = malloc(N * (size_t)n * sizeof *pm->tmp);
  pm->nws = 0;
  for (int i = 0; i < pm->M.nterms; i++)
    if (pm->M.terms[i].kernel.pair.nwork > pm->nws) pm->nws = pm->M.terms[i].kernel.pair.nwork;
  if (!pm->parts || !pm->tmp) {
    snprintf(err, errlen, "out of memory for %zu particles", N);
    return -1;
  }
  return 0;
}

void pe_free(pe_model *pm) {
  if (pm->have_W) wp_model_free(&pm->W);
  if (pm->have_M) energy_model_free(&pm->M);
  free(pm->parts);
  free(pm->tmp);
  memset(pm, 0, sizeof *pm);
}

int pe_drift(pe_model *pm, const double *x, double *v, char *err, size_t errlen) {
  return wp_velocity(&pm->W, x, 0, v, NULL, err, errlen);
}

/* Kernel sums through a compiled pair callback: pot_i = sum_j w_j k(x_i, y_j),
** one task per block of targets, each sum in source order (any thread
** count gives the same bits). */
typedef struct ksum_job {
  const flow_fn *pair;
  int n;
  const double *x, *y, *w;
  size_t N;
  double *pot;
  size_t nws;
  int bad;
} ksum_job;

static void ksum_rows(void *ctx, long lo, long hi, int thread) {
  ksum_job *J = ctx;
  int n = J->n;
  (void)thread;
  double *buf = malloc((3 * (size_t)n + J->nws + 2) * sizeof *buf);
  if (!buf) {
    __atomic_store_n(&J->bad, 1, __ATOMIC_RELAXED);
    return;
  }
  double *in = buf, *out = buf + 2 * n, *ws = out + n + 1;
  for (long i = lo; i < hi; i++) {
    double s = 0;
    memcpy(in, J->x + (size_t)i * n, (size_t)n * sizeof *in);
    for (size_t j = 0; j < J->N; j++) {
      memcpy(in + n, J->y + j * n, (size_t)n * sizeof *in);
      if (J->pair->fn(in, NULL, out, ws)) __atomic_store_n(&J->bad, 1, __ATOMIC_RELAXED);
      s += J->w[j] * out[n];
    }
    J->pot[i] = s;
  }
  free(buf);
}

/* pot (M) = sum_j w_j k(x_i, y_j) for the term's kernel k. */
static int kernel_sum(const pe_model *pm, const wf_kernel *k, size_t M, const double *x, size_t N, const double *y,
                      const double *w, double *pot) {
  if (k->recognized) {
    ks_opts o;
    ks_opts_default(&o);   /* exact sums: the potential enters every density value */
    int s = ks_sum(k->ks, k->h, pm->n, M, x, N, y, w, pot, NULL, &o, NULL);
    if (s) return s;
    for (size_t i = 0; i < M; i++) pot[i] *= k->scale;
    return 0;
  }
  ksum_job J = { &k->pair, pm->n, x, y, w, N, pot, pm->nws, 0 };
  pool_run(pool_max_threads(), (long)M, 0, ksum_rows, &J);
  return J.bad ? WF_ECALLBACK : 0;
}

int pe_potential(pe_model *pm, const double *y, double *phi, char *err, size_t errlen) {
  size_t N = pm->N;
  double *a = pm->tmp, *b = pm->tmp + N;   /* tmp has N x n >= 2N entries when n >= 2 */
  double *own = NULL;
  if (pm->n < 2) {
    own = malloc(N * sizeof *own);
    if (!own) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    b = own;
  }
  int rc = 0;
  for (int t = 0; t < pm->M.nterms && !rc; t++) {
    const em_term *m = &pm->M.terms[t];
    wf_kernel ke = { 1, KS_ENERGY, 1, 1, { NULL, 0 } };
    const wf_kernel *k = m->piece == ENERGY_DISTANCE ? &ke : &m->kernel;
    if (m->piece == ENERGY_POWER) continue;
    /* (k * rho)(y_j) with the particles as samples of rho: (1/N) sum_k k(y_j, y_k) */
    if ((rc = kernel_sum(pm, k, N, y, N, y, pm->W.w, a))) break;
    if (m->piece == ENERGY_INTERACTION) {
      for (size_t j = 0; j < N; j++) phi[j] += m->coef * a[j];
    } else {   /* mmd, energy_distance: 2 c (k * rho - k * target) */
      if ((rc = kernel_sum(pm, k, N, y, (size_t)m->ntarget, m->target, m->target_w, b))) break;
      for (size_t j = 0; j < N; j++) phi[j] += 2 * m->coef * (a[j] - b[j]);
    }
    if (rc) break;
  }
  free(own);
  if (rc) {
    snprintf(err, errlen, "the first variation of the energy's nonlocal terms: %s", wf_strerror(rc));
    return -1;
  }
  for (size_t j = 0; j < N; j++)
    if (!isfinite(phi[j])) {
      snprintf(err, errlen, "the first variation of the energy is not finite at particle %zu", j + 1);
      return -1;
    }
  return 0;
}

double pe_free_energy(pe_model *pm, const double *x, const double *f, const double *rho, char *err, size_t errlen) {
  size_t N = pm->N;
  /* the local part and the entropy as the objective form sums them (its bits) */
  double F = prox_free_energy(N, f, rho, NULL, pm->T);
  if (pm->power_coef > 0) {
    /* int rho^m/(m-1) = E_rho[rho^(m-1)]/(m-1): the density values, as the entropy uses them */
    double k = pm->power_m - 1, P = 0;
    for (size_t i = 0; i < N; i++) P += pow(rho[i], k);
    F += pm->power_coef / k * P / (double)N;
  }
  if (!pm->potential) return F;
  /* the nonlocal terms of the empirical measure, as particles(E) reports them */
  if (wp_velocity(&pm->W, x, 0, pm->tmp, pm->parts, err, errlen)) return NAN;
  for (int t = 0; t < pm->M.nterms; t++)
    if (pm->M.terms[t].piece != ENERGY_POWER) F += pm->parts[t];
  return F;
}
