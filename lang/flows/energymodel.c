/*
** energymodel.c — an energy's terms evaluated and compiled for an engine
** (energymodel.h).
*/
#include "energymodel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"
#include "diff.h"
#include "kernelform.h"
#include "law.h"
#include "lower.h"
#include "rng.h"

int energy_model_dim(const sym *E) { return E->energy ? E->energy->n : 0; }

static int number(hnn_state *S, ast *e, double *v) {
  double *val = NULL;
  ir_shape sh;
  int r = flow_eval_value(S, e, &val, &sh);
  if (r == HNN_OK && sh.kind != IR_SCALAR) {
    diag_error(&S->diags, e->src, e->loc, "a number is needed here");
    r = HNN_ERR_SCRIPT;
  }
  if (r == HNN_OK && !isfinite(val[0])) {
    diag_error(&S->diags, e->src, e->loc, "this is not a finite number");
    r = HNN_ERR_SCRIPT;
  }
  if (r == HNN_OK) *v = val[0];
  free(val);
  return r;
}

/* f applied to the point x, whose formal may be a scalar (n = 1). */
static ir_node *at_point(hnn_state *S, ir_ctx *ir, sym *f, int nargs, ir_node **x) {
  ir_node *args[2];
  for (int i = 0; i < nargs; i++) args[i] = f->sig.formal[i].kind == TY_SCALAR ? ir_index(ir, x[i], 0, 0) : x[i];
  return lower_inline(S, ir, f, nargs, args);
}

/* grad then value of U at x, one callback. */
static int compile_local(hnn_state *S, const energy_decl *d, const double *coef, int n, flow_fn *out) {
  ir_ctx *ir = ir_ctx_new();
  ir_node *x = ir_var(ir, ir_vector_shape(n), "x"), *U = ir_const(ir, 0);
  for (int i = 0; i < d->nterms && U; i++) {
    const energy_term *t = &d->terms[i];
    if (t->piece != ENERGY_POTENTIAL && t->piece != ENERGY_KL) continue;
    ir_node *v = at_point(S, ir, t->fn, 1, &x);
    if (!v) U = NULL;
    else if (t->piece == ENERGY_POTENTIAL) U = ir_add(ir, U, ir_mul(ir, ir_const(ir, coef[i]), v));
    else U = ir_sub(ir, U, ir_mul(ir, ir_const(ir, coef[i]), ir_fn(ir, IR_LOG, v)));
  }
  hnn_fn *f = NULL;
  if (U) {
    ir_node *g = NULL;
    diff_grad(ir, U, 1, &x, &g);
    ir_node *parts[2] = { g, ir_bcast(ir, U, ir_vector_shape(1)) };
    ir_node *all = g ? ir_concat(ir, 2, parts) : NULL;
    f = all ? state_compile(S, ir, 1, &x, 0, NULL, 1, &all, 0) : NULL;
  }
  ir_ctx_free(ir);
  if (!f) return HNN_ERR_SCRIPT;
  state_fn_later(S, f, &out->fn);
  out->nwork = f->nwork;
  return HNN_OK;
}

int energy_model_kernel(hnn_state *S, sym *k, int n, flow_fn *out) {
  int sizes[2] = { n, n };
  return flow_fn_grad1_value(S, k, 2, sizes, out) ? HNN_ERR_SCRIPT : HNN_OK;
}

/* The target's points: a point set as is (equal weights), another law drawn
** `samples` times (default 1000) from the term's own stream. */
static int read_target(hnn_state *S, sym *E, int index, const energy_term *t, int n, em_term *m) {
  flow_law L;
  int r = law_read(S, t->target, "a target is", &L);
  if (r == HNN_OK && L.n != n) {
    diag_error(&S->diags, t->target->src, t->target->loc, "the target is in dimension %d, the flow in dimension %d", L.n, n);
    r = HNN_ERR_SCRIPT;
  }
  double samples = 1000;
  if (r == HNN_OK && t->samples) {
    r = number(S, t->samples, &samples);
    if (r == HNN_OK && !(samples >= 1 && samples <= 1e8 && samples == floor(samples))) {
      diag_error(&S->diags, t->samples->src, t->samples->loc, "samples must be a whole number from 1 to 1e8");
      r = HNN_ERR_SCRIPT;
    }
    if (r == HNN_OK && L.kind == LAW_POINTS) {
      diag_error(&S->diags, t->samples->src, t->samples->loc, "a point set is used as it is: samples is for laws that are drawn");
      r = HNN_ERR_SCRIPT;
    }
  }
  if (r == HNN_OK) {
    int N = L.kind == LAW_POINTS ? L.npoints : (int)samples;
    m->ntarget = N;
    m->target = hnn_xmalloc((size_t)N * n * sizeof *m->target);
    m->target_w = hnn_xmalloc((size_t)N * sizeof *m->target_w);
    gsl_rng *g = rng_stream(S->seed, RNG_RUN, rng_name_index(E->name) ^ (0x7a11ull + (uint64_t)index));
    law_sample(&L, N, g, m->target, NULL);
    gsl_rng_free(g);
    for (int i = 0; i < N; i++) m->target_w[i] = 1.0 / N;
  }
  law_free(&L);
  return r;
}

int energy_model_build(hnn_state *S, sym *E, int n, energy_model *M) {
  memset(M, 0, sizeof *M);
  const energy_decl *d = E->energy;
  M->n = n;
  double *coef = hnn_xcalloc((size_t)d->nterms + 1, sizeof *coef);
  int r = HNN_OK;
  M->terms = hnn_xcalloc((size_t)d->nterms + 1, sizeof *M->terms);
  for (int i = 0; i < d->nterms && r == HNN_OK; i++) {
    const energy_term *t = &d->terms[i];
    coef[i] = 1;
    if (t->coef) r = number(S, t->coef, &coef[i]);
    if (r != HNN_OK) break;
    switch (t->piece) {
    case ENERGY_POTENTIAL:
      M->has_local = 1;
      break;
    case ENERGY_KL:
    case ENERGY_ENTROPY:
      if (coef[i] < 0) {
        diag_error(&S->diags, t->at->src, t->at->loc, "%s with a negative coefficient is not a gradient flow (it would concentrate without bound)",
                   energy_piece_name(t->piece));
        r = HNN_ERR_SCRIPT;
      }
      M->entropy += coef[i];
      M->has_local |= t->piece == ENERGY_KL;
      break;
    default: {
      em_term *m = &M->terms[M->nterms++];
      m->piece = t->piece;
      m->coef = coef[i];
      m->decl = t;
      if (t->piece == ENERGY_POWER) {
        r = number(S, t->exponent, &m->m);
        if (r == HNN_OK && !(m->m > 1)) {
          diag_error(&S->diags, t->exponent->src, t->exponent->loc, "the exponent of power_entropy must be > 1 (m = 1 is entropy)");
          r = HNN_ERR_SCRIPT;
        }
        if (r == HNN_OK && coef[i] < 0) {
          diag_error(&S->diags, t->at->src, t->at->loc, "power_entropy with a negative coefficient is not a gradient flow");
          r = HNN_ERR_SCRIPT;
        }
      }
      if (r == HNN_OK && t->piece == ENERGY_SINKHORN) {
        m->eps = 0.01;
        if (t->eps) r = number(S, t->eps, &m->eps);
        if (r == HNN_OK && !(m->eps > 0)) {
          diag_error(&S->diags, t->eps->src, t->eps->loc, "eps must be > 0");
          r = HNN_ERR_SCRIPT;
        }
      }
      if (r == HNN_OK && t->fn) {
        m->k = t->fn;
        int sizes[2] = { n, n };
        if (flow_fn_grad1_value(S, t->fn, 2, sizes, &m->kernel.pair)) r = HNN_ERR_SCRIPT;
        /* the callback stays compiled: the reference, and what runs when
        ** the form is not recognized (kernelform.h lists the forms) */
        if (r == HNN_OK) kernel_recognize(S, t->fn, &m->kernel);
      }
      if (t->piece == ENERGY_DISTANCE) {   /* -|x - y|: kernsum.h's energy kernel (wf_mmd) */
        m->kernel.recognized = 1;
        m->kernel.ks = KS_ENERGY;
        m->kernel.scale = 1;
      }
      if (r == HNN_OK && t->target) r = read_target(S, E, i, t, n, m);
      break;
    }
    }
  }
  if (r == HNN_OK && M->has_local) r = compile_local(S, d, coef, n, &M->local);
  free(coef);
  return r;
}

void energy_model_free(energy_model *M) {
  for (int i = 0; i < M->nterms; i++) {
    free(M->terms[i].target);
    free(M->terms[i].target_w);
  }
  free(M->terms);
  memset(M, 0, sizeof *M);
}
