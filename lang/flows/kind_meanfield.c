/*
** kind_meanfield.c — meanfield(phi, data, width = m, reg = lambda): a
** two-layer network f(z) = (1/m) sum_i phi(xi_i; z) trained on the square
** loss as the particle flow of its m neurons (runtime/meanfield.c; the
** equations are in runtime/meanfield.h and docs/meanfield.md).
**
** data is a param: a matrix whose last column is the target y and whose
** other columns are the input z, or, with target = g (a function of z),
** the inputs alone (a vector for scalar inputs).  A run starts the neurons
** from normal(mean, variances), uniform(lo, hi) (vectors of the neuron's
** parameter length) or csv("file") (width rows), and steps by gradient
** descent (method gd, lr eta: the Euler step h = eta/m of the flow) or by
** RK4 (method rk4, h).  It writes the neurons to PATH (t, step, particle,
** xi1..xip) at the snapshot steps, and t, step, risk, energy, dissipation
** to PATH_monitor.csv every `every` steps (with T > 0, the heat
** regularization of 003 eq. 4.2 as noisy neurons, the energy monitored is
** E without the entropy term); with `w2 LAW` also the W2
** distance of the neurons' coordinate `coordinate` (default 1) to LAW,
** normal(mean, variance) (1000 draws, as 004 Experiment 3) or csv("file")
** (its first column), exact by 1-D sorting (runtime/ot1d.c).
**
** Issue #18's additions (docs/meanfield.md): loss = logistic or a declared
** function L(f, y), whose exact derivative in f the JIT compiles
** (runtime/mf_loss.c); pm = tau with blob = b, the porous-medium term
** tau/2 int (K_b * mu)^2 in the energy and the velocities
** (runtime/mf_reg.c); with T > 0 the monitored energy includes T times the
** kernel estimate of the entropy (bandwidth blob, or Silverman's rule);
** the run option batch B: stochastic gradients on mini-batches drawn
** without replacement per epoch (runtime/mf_batch.c).
*/
#include <errno.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowkind.h"
#include "meanfield.h"
#include "mf_batch.h"
#include "mf_loss.h"
#include "mf_reg.h"
#include "neuron_unit.h"
#include "ot1d.h"
#include "rng.h"

static const char *const mf_run_options[] = { "method", "lr", "h", "steps", "every", "snapshots", "engine", "w2",
                                              "coordinate", "batch", NULL };
static const char *const mf_special[] = { "method", "snapshots", "engine", "w2", NULL };

/* ------------------------------------------------------------ checks */

static ast *positional(sym *flow, int k) {
  ast *call = flow->decl->kids[0];
  for (int i = 0; i < call->nkids; i++)
    if (call->kids[i]->kind != AST_KWARG && k-- == 0) return call->kids[i];
  return NULL;
}

static int is_name(const ast *e, const char *a, const char *b) {
  return e->kind == AST_NAME && (strcmp(e->name, a) == 0 || (b && strcmp(e->name, b) == 0));
}

/* loss = square, logistic, or a function L(f, y) of two numbers. */
static int check_loss(hnn_state *S, ast *v) {
  if (is_name(v, "square", "logistic")) return 0;
  sym *L = v->kind == AST_NAME ? state_lookup(S, v->name) : NULL;
  if (L && (L->kind == SYM_FUNCTION || L->kind == SYM_OBJECTIVE)) {
    if (sema_check_sym(S, L)) return 1;
    if (L->sig.nformals == 2 && L->sig.formal[0].kind == TY_SCALAR && L->sig.formal[1].kind == TY_SCALAR &&
        L->sig.result.kind == TY_SCALAR)
      return 0;
  }
  diag_error(&S->diags, v->src, v->loc, "loss is square, logistic, or a function L(f, y) of the prediction and the "
             "target: function L(f, y) = ...");
  return 1;
}

static int mf_check_decl(hnn_state *S, sym *flow, const flow_kind *k) {
  ast *call = flow->decl->kids[0];
  int errs = 0, npos = 0;
  for (int i = 0; i < call->nkids; i++) {
    ast *a = call->kids[i];
    if (a->kind == AST_KWARG) {
      ast *v = a->kids[0];
      if (strcmp(a->name, "width") == 0 || strcmp(a->name, "reg") == 0 || strcmp(a->name, "T") == 0 ||
          strcmp(a->name, "pm") == 0 || strcmp(a->name, "blob") == 0) {
        errs += flow_check_number(S, v, a->name);
      } else if (strcmp(a->name, "loss") == 0) {
        errs += check_loss(S, v);
      } else if (strcmp(a->name, "target") == 0) {
        sym *g = v->kind == AST_NAME ? state_lookup(S, v->name) : NULL;
        if (!g || (g->kind != SYM_FUNCTION && g->kind != SYM_OBJECTIVE)) {
          diag_error(&S->diags, v->src, v->loc, "target is a function of the input: function g(z) = ...");
          errs++;
        } else if (sema_check_sym(S, g)) {
          errs++;
        }
      } else {
        diag_error(&S->diags, a->src, a->name_loc, "%s takes no argument '%s' (usage: %s)", k->name, a->name, k->usage);
        errs++;
      }
      continue;
    }
    sym *d = a->kind == AST_NAME ? state_lookup(S, a->name) : NULL;
    if (npos == 0 && (!d || d->kind != SYM_NEURON)) {
      diag_error(&S->diags, a->src, a->loc, "meanfield expects a neuron here: neuron phi(xi[p]; z) = ...");
      errs++;
    } else if (npos == 1 && (!d || d->kind != SYM_PARAM)) {
      diag_error(&S->diags, a->src, a->loc, "meanfield expects the data here: a param (csv(\"file\") or values)");
      errs++;
    } else if (npos >= 2) {
      diag_error(&S->diags, a->src, a->loc, "usage: flow %s = %s", flow->name, k->usage);
      errs++;
    } else if (sema_check_sym(S, d)) {
      errs++;
    }
    npos++;
  }
  if (!errs && (npos != 2 || !flow_keyword(flow, "width"))) {
    diag_error(&S->diags, call->src, call->loc, "usage: flow %s = %s", flow->name, k->usage);
    errs++;
  }
  return errs;
}

static int mf_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  (void)flow;
  int errs = flow_check_options(S, run, k, mf_special);
  ast *m = flow_option(run, "method"), *kn = flow_option(run, "engine"), *sn = flow_option(run, "snapshots");
  if (m && !is_name(m, "gd", "rk4")) {
    diag_error(&S->diags, m->src, m->loc, "method is gd (gradient descent, lr) or rk4 (the flow, h)");
    errs++;
  }
  if (kn && !is_name(kn, "fused", "generic")) {
    diag_error(&S->diags, kn->src, kn->loc, "engine is fused (the default where the neuron is a known unit) or generic");
    errs++;
  }
  ast *w2 = flow_option(run, "w2");
  if (w2 && !(ast_is_plain_call(w2) && (strcmp(w2->name, "normal") == 0 || strcmp(w2->name, "csv") == 0))) {
    diag_error(&S->diags, w2->src, w2->loc, "w2 compares with normal(mean, variance) or csv(\"file\") (one column)");
    errs++;
  }
  if (sn) {
    ty t;
    if (sema_check_expr(S, sn, &t)) errs++;
    else if (t.kind != TY_VECTOR && t.kind != TY_SCALAR) {
      diag_error(&S->diags, sn->src, sn->loc, "snapshots is a list of steps: [0, 100, 300, 1000]");
      errs++;
    }
  }
  return errs;
}

/* ------------------------------------------------------------ runs */

typedef struct mfrun {
  run_ctx c;
  run_out *mon;
  sym *neuron, *target;
  mf_problem P;
  flow_fn target_fn;
  long m, steps, every, nsnap;
  long *snap;                  /* sorted steps written to the particle file */
  int rk4, nsize_target;
  double T;                    /* heat regularization: noise sqrt(2 T h) N(0, 1) per step */
  double blob;                 /* KDE bandwidth (0: Silverman's rule for the entropy monitor) */
  double tau;                  /* porous medium tau/2 int mu_b^2 (0: none) */
  mf_pm pm;
  int loss;                    /* 0 square, 1 logistic, 2 compiled */
  sym *lossfn;
  mf_loss_compiled lc;
  long batch;                  /* 0: full batch */
  gsl_rng *shuffle;
  mf_batch *mb;
  gsl_rng *noise;
  double h;
  double *x, *y, *xi, *vel, *k, *row;
  /* the W2 monitor */
  int w2, w2coord;
  long nw2;
  double *w2target, *w2col;
  ot1d_ws *ow;
  /* the start */
  int law;                     /* 0 normal, 1 uniform, 2 points */
  double *la, *lb;
} mfrun;

/* The sizes of the neuron: p parameters, input of d values. */
static int neuron_sizes(hnn_state *S, sym *phi, ast *at, int *p, int *d) {
  if (phi->sig.ngen) {
    diag_error(&S->diags, at->src, at->loc, "the sizes of neuron '%s' must be fixed (numbers or params)", phi->name);
    return 1;
  }
  *p = 0;
  for (int i = 0; i < phi->sig.nformals; i++) {
    ty t = phi->sig.formal[i];
    int size = t.kind == TY_SCALAR ? 1 : t.kind == TY_VECTOR ? t.r.val : -1;
    if (size < 1) {
      diag_error(&S->diags, at->src, at->loc, "a neuron's arguments are numbers or vectors");
      return 1;
    }
    if (i < phi->decl->nparams) *p += size;
    else *d = size;
  }
  return 0;
}

/* Inputs and targets from the data param (targets later, from target =). */
static int read_data(hnn_state *S, mfrun *r, sym *data, ast *at) {
  int d = r->P.d;
  ir_shape sh = data->shape;
  int rows = sh.kind == IR_MATRIX ? sh.rows : sh.kind == IR_VECTOR ? sh.rows : 1;
  int cols = sh.kind == IR_MATRIX ? sh.cols : 1;
  int want = r->target ? d : d + 1;
  if (cols != want) {
    diag_error(&S->diags, at->src, at->loc, r->target ? "the data '%s' has %d columns, but the neuron's input has %d values"
                                                      : "the data '%s' has %d columns; the neuron's input and y need %d",
               data->name, cols, want);
    return 1;
  }
  r->P.n = rows;
  r->x = hnn_xmalloc((size_t)rows * d * sizeof *r->x);
  r->y = hnn_xmalloc((size_t)rows * sizeof *r->y);
  for (int k = 0; k < rows; k++) {
    memcpy(r->x + (size_t)k * d, data->data + (size_t)k * cols, (size_t)d * sizeof *r->x);
    r->y[k] = r->target ? 0 : data->data[(size_t)k * cols + d];
  }
  return 0;
}

/* The start: normal(mean, var) or uniform(lo, hi) with vectors of length
** p (a scalar fills), or csv("file") of m rows of p values. */
static int read_start(hnn_state *S, mfrun *r, ast *e) {
  int p = r->P.p;
  const char *usage = "a meanfield run starts from normal(mean, variances), uniform(lo, hi) or csv(\"file\")";
  if (!ast_is_plain_call(e)) {
    diag_error(&S->diags, e->src, e->loc, "%s", usage);
    return 1;
  }
  if (strcmp(e->name, "csv") == 0 && e->nkids == 1 && e->kids[0]->kind == AST_STR) {
    int rows, cols;
    char **header = NULL, *err = NULL;
    if (csv_load(e->kids[0]->name, e->src->name, &r->la, &rows, &cols, &header, &err)) {
      diag_error(&S->diags, e->kids[0]->src, e->kids[0]->loc, "%s", err);
      free(err);
      return 1;
    }
    for (int j = 0; header && j < cols; j++) free(header[j]);
    free(header);
    if (rows != r->m || cols != p) {
      diag_error(&S->diags, e->src, e->loc, "the start has %d rows of %d values; the network has width %ld and %d "
                 "parameters per neuron", rows, cols, r->m, p);
      return 1;
    }
    r->law = 2;
    return 0;
  }
  if ((strcmp(e->name, "normal") && strcmp(e->name, "uniform")) || e->nkids != 2) {
    diag_error(&S->diags, e->src, e->loc, "%s", usage);
    return 1;
  }
  r->law = e->name[0] == 'u';
  double *v[2] = { NULL, NULL };
  for (int s = 0; s < 2; s++) {
    ir_shape sh;
    if (flow_eval_value(S, e->kids[s], &v[s], &sh)) {
      free(v[0]);
      return 1;
    }
    int len = ir_shape_size(sh);
    if (sh.kind == IR_MATRIX || (len != 1 && len != p)) {
      diag_error(&S->diags, e->kids[s]->src, e->kids[s]->loc, "a number or a vector of the neuron's %d parameters", p);
      free(v[0]);
      free(v[1]);
      return 1;
    }
    double *full = hnn_xmalloc((size_t)p * sizeof *full);
    for (int q = 0; q < p; q++) full[q] = v[s][len == 1 ? 0 : q];
    free(v[s]);
    v[s] = full;
  }
  r->la = v[0];
  r->lb = v[1];
  for (int q = 0; q < p; q++)
    if (r->law == 0 ? !(r->lb[q] >= 0) : !(r->la[q] < r->lb[q])) {
      diag_error(&S->diags, e->kids[1]->src, e->kids[1]->loc, "%s",
                 r->law == 0 ? "variances must be >= 0" : "every lower bound must be below the upper bound");
      return 1;
    }
  return 0;
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

static int read_snapshots(hnn_state *S, mfrun *r, ast *e) {
  double *v = NULL;
  ir_shape sh;
  if (flow_eval_value(S, e, &v, &sh)) return 1;
  int n = ir_shape_size(sh);
  r->snap = hnn_xmalloc((size_t)n * sizeof *r->snap);
  for (int i = 0; i < n; i++) {
    if (!(v[i] >= 0 && v[i] <= (double)r->steps && v[i] == floor(v[i]))) {
      diag_error(&S->diags, e->src, e->loc, "snapshot steps are whole numbers from 0 to steps (%ld)", r->steps);
      free(v);
      return 1;
    }
    r->snap[i] = (long)v[i];
  }
  free(v);
  qsort(r->snap, (size_t)n, sizeof *r->snap, cmp_long);
  r->nsnap = n;
  return 0;
}

/* The W2 monitor's target sample (normal: 1000 draws from the run's own
** stream, so the same seed gives the same target). */
static int read_w2(hnn_state *S, flow_job *J, mfrun *r) {
  ast *e = flow_option(J->run, "w2");
  long coord = 1;
  if (flow_opt_count(S, J->run, "coordinate", 1, r->P.p, &coord)) return 1;
  r->w2coord = (int)coord - 1;
  if (!e) return 0;
  r->w2 = 1;
  if (ast_is_plain_call(e) && strcmp(e->name, "csv") == 0 && e->nkids == 1 && e->kids[0]->kind == AST_STR) {
    int rows, cols;
    double *v = NULL;
    char **header = NULL, *err = NULL;
    if (csv_load(e->kids[0]->name, e->src->name, &v, &rows, &cols, &header, &err)) {
      diag_error(&S->diags, e->kids[0]->src, e->kids[0]->loc, "%s", err);
      free(err);
      return 1;
    }
    for (int j = 0; header && j < cols; j++) free(header[j]);
    free(header);
    r->nw2 = rows;
    r->w2target = hnn_xmalloc((size_t)rows * sizeof *r->w2target);
    for (int k = 0; k < rows; k++) r->w2target[k] = v[(size_t)k * cols];
    free(v);
    return 0;
  }
  double mv[2];
  if (!ast_is_plain_call(e) || strcmp(e->name, "normal") || e->nkids != 2 || flow_eval_number(S, e->kids[0], &mv[0]) ||
      flow_eval_number(S, e->kids[1], &mv[1]) || !(mv[1] >= 0) || !isfinite(mv[0]) || !isfinite(mv[1])) {
    if (S->diags.nerrors == 0)
      diag_error(&S->diags, e->src, e->loc, "w2 compares with normal(mean, variance) or csv(\"file\") (one column)");
    return 1;
  }
  r->nw2 = 1000;
  r->w2target = hnn_xmalloc(1000 * sizeof *r->w2target);
  gsl_rng *g = rng_stream(S->seed, RNG_RUN, rng_name_index(J->flow->name) ^ 0x77a2);
  for (int k = 0; k < 1000; k++) r->w2target[k] = mv[0] + gsl_ran_gaussian_ziggurat(g, sqrt(mv[1]));
  gsl_rng_free(g);
  return 0;
}

static int mf_prepare(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  sym *flow = J->flow;
  mfrun *r = hnn_xcalloc(1, sizeof *r);
  J->priv = r;
  r->neuron = state_lookup(S, positional(flow, 0)->name);
  sym *data = state_lookup(S, positional(flow, 1)->name);
  ast *tg = flow_keyword(flow, "target");
  r->target = tg ? state_lookup(S, tg->name) : NULL;
  double width = 0, lambda = 0;
  if (flow_kw_number(S, flow, "width", 1, 1, &width) || flow_kw_number(S, flow, "reg", 0, 1, &lambda) ||
      flow_kw_number(S, flow, "T", 0, 1, &r->T) || flow_kw_number(S, flow, "pm", 0, 1, &r->tau) ||
      flow_kw_number(S, flow, "blob", 0, 0, &r->blob))
    return HNN_ERR_SCRIPT;
  if (r->tau > 0 && !(r->blob > 0)) {
    ast *pe = flow_keyword(flow, "pm");
    diag_error(&S->diags, pe->src, pe->loc, "the porous-medium term needs the bandwidth of its density estimate: "
               "blob = b");
    return HNN_ERR_SCRIPT;
  }
  ast *be = flow_keyword(flow, "blob");
  if (be && !(r->tau > 0) && !(r->T > 0)) {
    diag_error(&S->diags, be->src, be->loc, "blob is the bandwidth of the density estimate of pm = tau or T > 0; "
               "this flow has neither");
    return HNN_ERR_SCRIPT;
  }
  ast *le = flow_keyword(flow, "loss");
  if (le) {
    r->loss = is_name(le, "square", NULL) ? 0 : is_name(le, "logistic", NULL) ? 1 : 2;
    if (r->loss == 2) r->lossfn = state_lookup(S, le->name);
  }
  if (width != floor(width) || width > 1e8) {
    ast *w = flow_keyword(flow, "width");
    diag_error(&S->diags, w->src, w->loc, "width must be a whole number from 1 to 10^8");
    return HNN_ERR_SCRIPT;
  }
  r->m = (long)width;
  r->P.lambda = lambda;
  if (neuron_sizes(S, r->neuron, positional(flow, 0), &r->P.p, &r->P.d) || read_data(S, r, data, positional(flow, 1)))
    return HNN_ERR_SCRIPT;
  if (r->target) {
    ty t = r->target->sig.result;
    int fixed = 0;
    for (int i = 0; i < r->target->sig.nformals; i++) {
      ty f = r->target->sig.formal[i];
      fixed += f.kind == TY_SCALAR ? 1 : f.r.val > 0 ? f.r.val : 0;
    }
    r->nsize_target = r->target->sig.ngen ? r->P.d : 0;
    if (t.kind != TY_SCALAR || r->target->sig.nformals != 1 || (!r->target->sig.ngen && fixed != r->P.d)) {
      diag_error(&S->diags, tg->src, tg->loc, "target must be a scalar function of the neuron's input (%d values)", r->P.d);
      return HNN_ERR_SCRIPT;
    }
  }
  ast *meth = flow_option(run, "method");
  r->rk4 = meth && strcmp(meth->name, "rk4") == 0;
  r->steps = 1000;
  double lr = 0;
  r->h = 0;
  if (flow_opt_count(S, run, "steps", 1, FLOW_COUNT_MAX, &r->steps) || flow_opt_positive(S, run, "lr", &lr) ||
      flow_opt_positive(S, run, "h", &r->h))
    return HNN_ERR_SCRIPT;
  ast *lro = flow_option(run, "lr"), *ho = flow_option(run, "h");
  if (lro && ho) {
    diag_error(&S->diags, lro->src, lro->loc, "give lr (gradient descent's step, h = lr/width) or h, not both");
    return HNN_ERR_SCRIPT;
  }
  if (r->rk4 && lro) {
    diag_error(&S->diags, lro->src, lro->loc, "method rk4 takes the time step h, not lr");
    return HNN_ERR_SCRIPT;
  }
  if (r->rk4 && r->T > 0) {
    ast *te = flow_keyword(flow, "T");
    diag_error(&S->diags, te->src, te->loc, "a flow with T > 0 (noisy neurons) runs by gradient descent (Euler-Maruyama), "
               "not rk4");
    return HNN_ERR_SCRIPT;
  }
  if (lro) r->h = lr / (double)r->m;
  if (!lro && !ho) r->h = r->rk4 ? 1e-2 : 1e-2 / (double)r->m;
  if (flow_opt_count(S, run, "batch", 1, FLOW_COUNT_MAX, &r->batch)) return HNN_ERR_SCRIPT;
  if (r->batch && r->rk4) {
    ast *be = flow_option(run, "batch");
    diag_error(&S->diags, be->src, be->loc, "mini-batches are steps of gradient descent (method gd, lr), not rk4");
    return HNN_ERR_SCRIPT;
  }
  if (r->batch >= r->P.n) r->batch = 0;   /* one batch of all the data: full-batch gradient descent */
  r->every = r->steps >= 100 ? r->steps / 100 : 1;
  if (flow_opt_count(S, run, "every", 1, FLOW_COUNT_MAX, &r->every)) return HNN_ERR_SCRIPT;
  ast *sn = flow_option(run, "snapshots");
  if (sn && read_snapshots(S, r, sn)) return HNN_ERR_SCRIPT;
  if (read_start(S, r, run->kids[0])) return HNN_ERR_SCRIPT;
  if (read_w2(S, J, r)) return HNN_ERR_SCRIPT;
  double monitor_rows = floor((double)r->steps / (double)r->every) + 2;
  double snaps = sn ? (double)r->nsnap : monitor_rows;
  double mp = (double)r->m * r->P.p;
  J->plan.rows = monitor_rows + (run->kids[1] ? snaps * (double)r->m : 0);
  J->plan.values = r->P.p + 3 > 5 ? r->P.p + 3 : 5;
  J->plan.memory = 8 * mp * (r->rk4 ? 6 : 2) + mf_ws_bytes(&r->P, r->m) + 16.0 * (double)r->P.n * r->P.d +
                   (r->batch ? mf_batch_bytes(&r->P, r->m, r->batch) : 0) + (r->tau > 0 || r->T > 0 ? 64.0 * mp : 0);
  return HNN_OK;
}

static int mf_compile(flow_job *J) {
  hnn_state *S = J->S;
  mfrun *r = J->priv;
  ast *kn = flow_option(J->run, "engine");
  int generic = kn && strcmp(kn->name, "generic") == 0;
  if (generic || !neuron_unit(S, r->neuron, &r->P.unit, &r->P.act2)) {
    r->P.unit.act = MF_GENERIC;
    if (flow_fn_of(S, r->neuron, HNN_VALUE, 0, &r->P.phi) || flow_fn_of(S, r->neuron, HNN_GRADIENT, 0, &r->P.dphi))
      return 1;
  }
  if (r->target && flow_fn_of(S, r->target, HNN_VALUE, r->nsize_target, &r->target_fn)) return 1;
  int sizes[2] = { 1, 1 };   /* L(f, y) -> [dL/df, L] */
  if (r->lossfn && flow_fn_grad1_value(S, r->lossfn, 2, sizes, &r->lc.fn)) return 1;
  return 0;
}

/* ------------------------------------------------------------ output */

static int open_outputs(hnn_state *S, ast *run, mfrun *r, char **err) {
  int p = r->P.p;
  const char *path = run->kids[1] ? run->kids[1]->name : NULL;
  if (path) {
    char **names = hnn_xcalloc((size_t)p + 2, sizeof *names);
    names[0] = hnn_xstrdup("particle");
    run_out_names(names + 1, "xi", p);
    r->c.out = run_out_open(S, path, p + 1, (const char *const *)names, err);
    for (int i = 0; i <= p; i++) free(names[i]);
    free(names);
    if (!r->c.out) return 1;
  }
  const char *mn[] = { "risk", "energy", "dissipation", "w2" };
  r->mon = run_out_open_sibling(S, path, "_monitor", 3 + r->w2, mn, err);
  return r->mon == NULL;
}

static int close_outputs(mfrun *r, int ok, char **err) { return run_out_finish(r->c.out, r->mon, ok, err); }

static int write_neurons(mfrun *r, double t, long step) {
  int p = r->P.p;
  for (long i = 0; i < r->m; i++) {
    r->row[0] = (double)(i + 1);
    memcpy(r->row + 1, r->xi + (size_t)i * p, (size_t)p * sizeof *r->row);
    if (run_out_row(r->c.out, t, step, r->row)) return 1;
  }
  return 0;
}

/* ------------------------------------------------------------ run */

static void draw_start(hnn_state *S, sym *flow, mfrun *r) {
  int p = r->P.p;
  if (r->law == 2) {
    memcpy(r->xi, r->la, (size_t)r->m * p * sizeof *r->xi);
    return;
  }
  gsl_rng *g = rng_stream(S->seed, RNG_RUN, rng_name_index(flow->name) ^ 0x3f1e);
  for (long i = 0; i < r->m; i++)
    for (int q = 0; q < p; q++)
      r->xi[(size_t)i * p + q] = r->law == 0 ? r->la[q] + gsl_ran_gaussian_ziggurat(g, sqrt(r->lb[q]))
                                             : gsl_ran_flat(g, r->la[q], r->lb[q]);
  gsl_rng_free(g);
}

static int targets(mfrun *r, char *msg, size_t msglen) {
  if (!r->target) return 0;
  double *ws = hnn_xcalloc(r->target_fn.nwork + 1, sizeof *ws);
  int bad = 0;
  for (long k = 0; k < r->P.n && !bad; k++)
    if (r->target_fn.fn(r->x + (size_t)k * r->P.d, NULL, &r->y[k], ws) || !isfinite(r->y[k])) {
      snprintf(msg, msglen, "the target is not finite at data point %ld", k + 1);
      bad = 1;
    }
  free(ws);
  return bad;
}

static int at_step(char *msg, size_t msglen, long k, double h) {
  size_t len = strlen(msg);
  snprintf(msg + len, msglen - len, " at step %ld (t = %g)", k, (double)k * h);
  return -1;
}

static int mf_loop(mfrun *r, mf_ws *w, char *msg, size_t msglen) {
  long snap_next = 0;
  for (long k = 0; k <= r->steps; k++) {
    mf_stats st;
    int mon = k % r->every == 0 || k == r->steps;
    if (flow_interrupted()) {
      snprintf(msg, msglen, "interrupted at step %ld", k);
      return -1;
    }
    /* with mini-batches the full problem is evaluated for the monitor only */
    if ((!r->mb || mon) && mf_eval(w, r->xi, r->vel, &st, msg, msglen)) return at_step(msg, msglen, k, r->h);
    double t = (double)k * r->h;
    int snap = r->snap ? snap_next < r->nsnap && r->snap[snap_next] == k : k % r->every == 0 || k == r->steps;
    while (r->snap && snap_next < r->nsnap && r->snap[snap_next] <= k) snap_next++;
    if (r->c.out && snap && write_neurons(r, t, k)) {
      snprintf(msg, msglen, "output failed at step %ld: %s", k, strerror(errno));
      return -1;
    }
    if (mon) {
      double v[4] = { st.risk, st.energy, st.dissipation, NAN };
      if (r->T > 0) {   /* + T int mu log mu, estimated (the noise carries this term: not in the velocity) */
        double ent;
        if (mf_entropy(r->m, r->P.p, r->xi, r->blob, r->P.threads, &ent, NULL, msg, msglen))
          return at_step(msg, msglen, k, r->h);
        v[1] += r->T * ent;
      }
      if (r->w2) {
        for (long i = 0; i < r->m; i++) r->w2col[i] = r->xi[(size_t)i * r->P.p + r->w2coord];
        int os = ot1d_wpp(r->ow, 2, (size_t)r->m, r->w2col, NULL, (size_t)r->nw2, r->w2target, NULL, r->P.threads, &v[3]);
        if (os != OT_OK) {
          snprintf(msg, msglen, "W2 at step %ld: %s", k, ot_strerror(os));
          return -1;
        }
        v[3] = sqrt(v[3]);
      }
      if (run_out_row(r->mon, t, k, v)) {
        snprintf(msg, msglen, "output failed at step %ld: %s", k, strerror(errno));
        return -1;
      }
      flow_progress(&r->c, t, k);
    }
    if (k == r->steps) break;
    if (r->mb && mf_batch_eval(r->mb, r->xi, r->vel, &st, NULL, msg, msglen)) return at_step(msg, msglen, k, r->h);
    if (!r->rk4) {
      mf_step_euler(w, r->xi, r->h, r->vel);
      if (r->T > 0) {   /* Euler-Maruyama: one stream, drawn in order, so any thread count gives the same */
        double sd = sqrt(2 * r->T * r->h);
        for (size_t q = 0; q < (size_t)r->m * r->P.p; q++) r->xi[q] += gsl_ran_gaussian_ziggurat(r->noise, sd);
      }
    }
    else if (mf_step_rk4(w, r->xi, r->h, r->vel, r->k, msg, msglen)) {
      size_t len = strlen(msg);
      snprintf(msg + len, msglen - len, " in the RK4 step from step %ld", k);
      return -1;
    }
  }
  return 0;
}

static int mf_run(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  mfrun *r = J->priv;
  size_t mp = (size_t)r->m * r->P.p;
  int status = HNN_OK;
  r->P.x = r->x;
  r->P.y = r->y;
  r->xi = hnn_xmalloc(mp * sizeof *r->xi);
  r->vel = hnn_xmalloc(mp * sizeof *r->vel);
  if (r->rk4) r->k = hnn_xmalloc(4 * mp * sizeof *r->k);
  r->row = hnn_xcalloc((size_t)r->P.p + 2, sizeof *r->row);
  if (r->w2) {
    r->w2col = hnn_xmalloc((size_t)r->m * sizeof *r->w2col);
    r->ow = ot1d_ws_alloc((size_t)r->m, (size_t)r->nw2);
  }
  r->c.steps_end = r->steps;
  char msg[512] = "", *err = NULL;
  draw_start(S, J->flow, r);
  if (r->T > 0) r->noise = rng_stream(S->seed, RNG_RUN, rng_name_index(J->flow->name) ^ 0x5eed);
  if (r->loss) {
    r->P.loss = r->loss == 1 ? mf_loss_logistic : mf_loss_call;
    r->P.loss_ctx = &r->lc;
    r->lc.ws = hnn_xcalloc(r->lc.fn.nwork + 1, sizeof *r->lc.ws);
  }
  if (r->tau > 0) {
    r->P.term = mf_pm_term;
    r->P.term_ctx = &r->pm;
  }
  /* the batches' own stream: the noise's draws do not move them */
  if (r->batch) r->shuffle = rng_stream(S->seed, RNG_RUN, rng_name_index(J->flow->name) ^ 0xba7c);
  mf_ws *w = NULL;
  if (targets(r, msg, sizeof msg)) {
    status = HNN_ERR_RUNTIME;
  } else if ((r->tau > 0 && mf_pm_init(&r->pm, r->tau, r->blob, r->m, r->P.p, r->P.threads)) ||
             (r->batch && !(r->mb = mf_batch_new(&r->P, r->m, r->batch, r->shuffle)))) {
    snprintf(msg, sizeof msg, "out of memory for the %s", r->batch ? "mini-batches" : "porous-medium term");
    status = HNN_ERR_RUNTIME;
  } else if (!(w = mf_ws_alloc(&r->P, r->m))) {
    snprintf(msg, sizeof msg, "out of memory for the network's workspace");
    status = HNN_ERR_RUNTIME;
  } else if (open_outputs(S, run, r, &err)) {
    diag_error(&S->diags, run->src, run->loc, "%s", err);
    free(err);
    err = NULL;
    mf_ws_free(w);
    return HNN_ERR_RUNTIME;
  } else {
    flow_progress_start(&r->c, S, J->flow->name);
    if (mf_loop(r, w, msg, sizeof msg)) status = HNN_ERR_RUNTIME;
    flow_progress_end(&r->c);
    if (close_outputs(r, status == HNN_OK, &err) && status == HNN_OK) {
      diag_error(&S->diags, run->src, run->loc, "%s", err);
      status = HNN_ERR_RUNTIME;
      msg[0] = 0;
    }
    free(err);
  }
  mf_ws_free(w);
  if (status != HNN_OK && msg[0]) diag_error(&S->diags, run->src, run->loc, "run %s: %s", J->flow->name, msg);
  return status;
}

static void mf_release(flow_job *J) {
  mfrun *r = J->priv;
  if (!r) return;
  free(r->x);
  free(r->y);
  free(r->xi);
  free(r->vel);
  free(r->k);
  free(r->row);
  free(r->snap);
  free(r->la);
  free(r->lb);
  if (r->noise) gsl_rng_free(r->noise);
  mf_batch_free(r->mb);
  if (r->shuffle) gsl_rng_free(r->shuffle);
  mf_pm_free(&r->pm);
  free(r->lc.ws);
  free(r->w2target);
  free(r->w2col);
  ot1d_ws_free(r->ow);
  free(r);
  J->priv = NULL;
}

const flow_kind flow_kind_meanfield = {
  .name = "meanfield",
  .usage = "meanfield(phi, data, width = m, reg = lambda, loss = square, target = g, T = temperature, pm = tau, blob = b)",
  .nroles = 0, .keywords = { "width", "reg", "loss", NULL }   /* and target, T, pm, blob: mf_check_decl */,
  .options = mf_run_options,
  .siblings = { "_monitor" }, .check_decl = mf_check_decl, .check_run = mf_check_run, .prepare = mf_prepare,
  .compile = mf_compile, .run = mf_run, .release = mf_release
};
