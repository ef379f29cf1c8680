/*
** kind_mobility.c — the Langevin dynamics of a general mobility K = S + A
** (source 001, Thm 6 and Thm 8 extended to antisymmetric parts; issue #17):
**
**   dx = [T div K(x) - K(x) grad E(x)] dt + sqrt(2T) chol(S(x)) dW,
**   S = (K + K')/2 (positive definite), A = (K - K')/2,
**
** declared as `flow m = mobility(E, K, T = 0.5)` with K a function of the
** point returning an n x n matrix.  (div K)_i = sum_j d/dx_j K_ij is derived
** symbolically and the drift compiled in one piece; the noise carries S only
** (the generator's second-order part is symmetric).  Its law relaxes to
** exp(-E/T)/Z with a probability flux that does not vanish when A != 0
** (docs/mobility.md derives both).  Runs are particle runs: same start laws,
** options and output as `diffusion` (kind_particles.c), except Milstein.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "flowkind.h"
#include "lower.h"

static const char *const mobility_run_options[] = { "particles", "h", "steps", "every", "boundary", "box", "scheme",
                                                    NULL };

/* E: an objective (or scalar function); K: a function of one vector
** returning a matrix; keywords T (required) and divergence. */
static int mobility_check_decl(hnn_state *S, sym *flow, const flow_kind *k) {
  ast *call = flow->decl->kids[0];
  int errs = 0, npos = 0, have_T = 0;
  for (int i = 0; i < call->nkids; i++) {
    ast *a = call->kids[i];
    if (a->kind == AST_KWARG) {
      if (strcmp(a->name, "T") && strcmp(a->name, "divergence")) {
        diag_error(&S->diags, a->src, a->name_loc, "%s takes no argument '%s' (usage: %s)", k->name, a->name, k->usage);
        errs++;
        continue;
      }
      have_T |= strcmp(a->name, "T") == 0;
      errs += flow_check_number(S, a->kids[0], a->name);
      continue;
    }
    if (npos >= 2 || a->kind != AST_NAME) {
      diag_error(&S->diags, a->src, a->loc, "usage: flow %s = %s", flow->name, k->usage);
      errs++;
      npos++;
      continue;
    }
    sym *d = state_lookup(S, a->name);
    if (npos++ == 0) {
      if (!d || (d->kind != SYM_OBJECTIVE && d->kind != SYM_FUNCTION)) {
        diag_error(&S->diags, a->src, a->loc, "mobility expects an objective here; '%s' is %s", a->name,
                   d ? sym_kind_name(d->kind) : "not defined");
        errs++;
      } else if (sema_check_sym(S, d)) {
        errs++;
      } else if (d->sig.result.kind != TY_SCALAR) {
        diag_error(&S->diags, a->src, a->loc, "the objective '%s' is not scalar-valued", a->name);
        errs++;
      }
    } else if (!d || d->kind != SYM_FUNCTION) {
      diag_error(&S->diags, a->src, a->loc, "mobility expects a function K(x[n]) returning an n x n matrix here; '%s' is %s",
                 a->name, d ? sym_kind_name(d->kind) : "not defined");
      errs++;
    } else if (sema_check_sym(S, d)) {
      errs++;
    } else if (d->sig.nformals != 1 || d->sig.formal[0].kind != TY_VECTOR || d->sig.result.kind != TY_MATRIX) {
      diag_error(&S->diags, a->src, a->loc, "the mobility '%s' must take one vector x[n] and return an n x n matrix",
                 a->name);
      errs++;
    }
  }
  if (!errs && npos != 2) {
    diag_error(&S->diags, call->src, call->loc, "usage: flow %s = %s", flow->name, k->usage);
    errs++;
  }
  if (!errs && !have_T) {
    diag_error(&S->diags, call->src, call->loc, "mobility needs T = ... (usage: %s)", k->usage);
    errs++;
  }
  return errs;
}

/* Milstein needs diagonal noise, which a mobility does not promise. */
static int mobility_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  int errs = particles_check_run(S, run, flow, k);
  ast *sch = flow_option(run, "scheme");
  if (!errs && sch && strcmp(sch->name, "em") != 0) {
    diag_error(&S->diags, sch->src, sch->loc, "a mobility run steps by Euler-Maruyama only (scheme em)");
    errs++;
  }
  return errs;
}

/* The mobility K declared by the flow (its second positional argument). */
static sym *mobility_sym(hnn_state *S, sym *flow) {
  ast *call = flow->decl->kids[0];
  for (int i = 0, pos = 0; i < call->nkids; i++)
    if (call->kids[i]->kind != AST_KWARG && pos++ == 1) return state_lookup(S, call->kids[i]->name);
  return NULL;
}

/* (div K)_i = sum_j d/dx_j K_ij: the j-th column of dK/dx_j, summed over j
** (one forward sweep per coordinate, as the divergence of a metric). */
static ir_node *column_divergence(ir_ctx *ir, ir_node *K, ir_node *x) {
  int n = x->shape.rows;
  ir_node *div = ir_zeros(ir, x->shape);
  ir_node **el = hnn_xmalloc((size_t)n * sizeof *el);
  for (int j = 0; j < n; j++) {
    for (int i = 0; i < n; i++) el[i] = ir_const(ir, i == j ? 1.0 : 0.0);
    ir_node *e = ir_pack(ir, x->shape, el);
    div = ir_add(ir, div, ir_matvec(ir, diff_jvp(ir, K, 1, &x, &e), e));
  }
  free(el);
  return div;
}

/* Drift T div K - K grad E and noise covariance S = (K + K')/2 at y, as
** two callbacks of one unit (cached per flow, size, T and switch). */
static int compile_mobility(hnn_state *S, ast *at, sym *flow, int nsize, int n, double T, int divergence,
                            flow_problem *P) {
  sym *E = flow_role_sym(S, flow, R_OBJECTIVE), *Ks = mobility_sym(S, flow);
  int kn = Ks->sig.formal[0].r.val;
  if (kn > 0 && kn != n) {
    diag_error(&S->diags, at->src, at->loc, "run %s: the mobility '%s' takes points of %d values, the particles have %d",
               flow->name, Ks->name, kn, n);
    return 1;
  }
  hnn_fn *fn[2];
  const char *part[2] = { "drift", "noise" };
  for (int w = 0; w < 2; w++) {
    char key[300];
    snprintf(key, sizeof key, "%s/mobility-%s/%d/%a/%d", flow->name, part[w], n, T, divergence);
    if ((fn[w] = state_cached(S, key))) continue;
    ir_ctx *ir = ir_ctx_new();
    ir_node *y = ir_var(ir, ir_vector_shape(n), "y");
    ir_node *K = lower_inline(S, ir, Ks, 1, &y), *out = NULL;
    if (K && !(K->shape.kind == IR_MATRIX && K->shape.rows == n && K->shape.cols == n)) {
      diag_error(&S->diags, at->src, at->loc, "run %s: the mobility '%s' must return a %d x %d matrix at a point of %d values",
                 flow->name, Ks->name, n, n, n);
      K = NULL;
    }
    if (K && w == 1) {
      out = ir_mul(ir, ir_bcast(ir, ir_const(ir, 0.5), K->shape), ir_add(ir, K, ir_transpose(ir, K)));
    } else if (K) {
      ir_node *mg = lower_flow_field(S, ir, E, nsize > 0 ? nsize : 0, NULL, NULL, y);   /* -grad E */
      if (mg) out = ir_matvec(ir, K, mg);
      if (out && divergence && T > 0) out = ir_add(ir, out, ir_mul(ir, ir_bcast(ir, ir_const(ir, T), y->shape),
                                                                  column_divergence(ir, K, y)));
    }
    fn[w] = out ? state_compile(S, ir, 1, &y, 0, NULL, 1, &out, 0) : NULL;
    ir_ctx_free(ir);
    if (!fn[w]) return 1;
    state_remember(fn[w], key);
  }
  state_fn_later(S, fn[0], &P->field.fn);
  P->field.nwork = fn[0]->nwork;
  state_fn_later(S, fn[1], &P->metric_inv.fn);
  P->metric_inv.nwork = fn[1]->nwork;
  P->metric_diagonal = 0;
  return 0;
}

static int mobility_compile(flow_job *J) {
  int n, nsize, divergence;
  double T;
  flow_problem *P = particles_problem(J, &n, &nsize, &T, &divergence);
  if (flow_compile_roles(J->S, J->flow, J->kind, nsize, n, 0, P) ||
      compile_mobility(J->S, J->run, J->flow, nsize, n, T, divergence, P)) {
    if (J->S->diags.nerrors == 0)
      diag_error(&J->S->diags, J->run->src, J->run->loc, "run %s: the mobility does not compile", J->flow->name);
    return 1;
  }
  return 0;
}

const flow_kind flow_kind_mobility = {
  .name = "mobility", .usage = "mobility(E, K, T = temperature)", .nroles = 1, .roles = { R_OBJECTIVE },
  .keywords = { "T", "divergence", NULL }, .options = mobility_run_options, .siblings = { "_monitor" }, .variant = 2,
  .check_decl = mobility_check_decl, .check_run = mobility_check_run, .prepare = particles_prepare,
  .compile = mobility_compile, .run = particles_run, .release = particles_release
};
