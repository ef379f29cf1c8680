/*
** kind_hidden.c — `hidden_hopfield(Lv, Lh, U = W, I = b, T = temp)`: the
** continuous Hopfield network with visible and hidden units (source 001,
** Def. 15, Thm 16) and Recall-and-Learn (Alg. 14), on runtime/hidden.c.
**
**   flow net = hidden_hopfield(Lv, Lh, U = W, I = 0, T = 0.1)
**   run net from [v0, h0] steps 1000 every 10 h 0.01 -> "traj.csv"
**   run net from patterns rounds 50 rate 0.02 samples 64 -> "rl.csv"
**
** Lv and Lh are objectives of one vector; their gradients are the
** activations g, f and their Hessians give K_v, K_h and div K (derived
** symbolically here, one JIT module per Lagrangian).  A run without
** `rounds` integrates (v, h) from a start of nv + nh values: rows t, step,
** v1..vnv, h1..hnh, E.  A run with `rounds` learns U from the rows of a
** patterns matrix (P x nv): rows t = step = round, free_energy,
** recall_rate, overlap, energy, norm_U; the learned U goes to NAME_U.csv.
*/
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "diff.h"
#include "flowkind.h"
#include "hidden.h"
#include "kind_hidden.h"
#include "lower.h"
#include "rng.h"

static const char *const hidden_run_options[] = { "rounds", "rate", "samples", "relax", "recall", "corrupt",
                                                  "h", "steps", "every", NULL };
static const char *const rl_only[] = { "rate", "samples", "relax", "recall", "corrupt", NULL };
static const char *const traj_only[] = { "steps", "every", NULL };

#define USAGE "hidden_hopfield(Lv, Lh, U = matrix, I = vector, T = temperature)"

/* ------------------------------------------------------- declaration */

static int check_lagrangian(hnn_state *S, ast *a, const char *which) {
  sym *d = a->kind == AST_NAME ? state_lookup(S, a->name) : NULL;
  if (!d || (d->kind != SYM_OBJECTIVE && d->kind != SYM_FUNCTION)) {
    diag_error(&S->diags, a->src, a->loc, "hidden_hopfield expects the Lagrangian %s here, an objective of one vector",
               which);
    return 1;
  }
  if (sema_check_sym(S, d)) return 1;
  if (d->sig.result.kind != TY_SCALAR || d->sig.nformals != 1 || d->sig.formal[0].kind != TY_VECTOR) {
    diag_error(&S->diags, a->src, a->loc, "the Lagrangian %s = '%s' must be a scalar objective of one vector, as %s(x[n])",
               which, d->name, d->name);
    return 1;
  }
  return 0;
}

/* A Lagrangian's fixed size (0: size-generic). */
static int lagr_size(hnn_state *S, ast *a) {
  sym *d = state_lookup(S, a->name);
  return d->sig.formal[0].r.val > 0 ? d->sig.formal[0].r.val : 0;
}

static int hidden_check_decl(hnn_state *S, sym *flow, const flow_kind *k) {
  (void)k;
  ast *call = flow->decl->kids[0], *pos[2] = { NULL, NULL }, *U = NULL, *T = NULL;
  int errs = 0, npos = 0;
  for (int i = 0; i < call->nkids; i++) {
    ast *a = call->kids[i];
    if (a->kind != AST_KWARG) {
      if (npos < 2) pos[npos] = a;
      else {
        diag_error(&S->diags, a->src, a->loc, "usage: flow %s = %s", flow->name, USAGE);
        errs++;
      }
      npos++;
      continue;
    }
    ty t;
    if (strcmp(a->name, "T") == 0) {
      T = a;
      errs += flow_check_number(S, a->kids[0], "the temperature T");
    } else if (strcmp(a->name, "U") == 0) {
      U = a;
      if (sema_check_expr(S, a->kids[0], &t)) errs++;
      else if (t.kind != TY_MATRIX) {
        diag_error(&S->diags, a->kids[0]->src, a->kids[0]->loc, "U must be a matrix of nv rows (visible) and nh columns (hidden)");
        errs++;
      }
    } else if (strcmp(a->name, "I") == 0) {
      if (sema_check_expr(S, a->kids[0], &t)) errs++;
      else if (t.kind != TY_SCALAR && t.kind != TY_VECTOR) {
        diag_error(&S->diags, a->kids[0]->src, a->kids[0]->loc, "I must be a number or a vector of nv values");
        errs++;
      }
    } else {
      diag_error(&S->diags, a->src, a->name_loc, "hidden_hopfield takes no argument '%s' (usage: %s)", a->name, USAGE);
      errs++;
    }
  }
  if (npos != 2) {
    diag_error(&S->diags, call->src, call->loc, "usage: flow %s = %s", flow->name, USAGE);
    return errs + 1;
  }
  errs += check_lagrangian(S, pos[0], "Lv") + check_lagrangian(S, pos[1], "Lh");
  if (!errs && (!T || !U)) {
    diag_error(&S->diags, call->src, call->loc, "hidden_hopfield needs %s = ... (usage: %s)", !U ? "U" : "T", USAGE);
    errs++;
  }
  if (errs) return errs;
  /* sizes known at check time: U must be nv x nh for the Lagrangians */
  ty t;
  sema_check_expr(S, U->kids[0], &t);
  int nv = lagr_size(S, pos[0]), nh = lagr_size(S, pos[1]);
  if ((nv && t.r.val > 0 && t.r.val != nv) || (nh && t.c.val > 0 && t.c.val != nh)) {
    char a[32] = "nv", b[32] = "nh";
    if (nv) snprintf(a, sizeof a, "%d", nv);
    if (nh) snprintf(b, sizeof b, "%d", nh);
    diag_error(&S->diags, U->kids[0]->src, U->kids[0]->loc, "U must be nv x nh = %s x %s (the sizes of Lv and Lh), not %d x %d",
               a, b, t.r.val, t.c.val);
    return 1;
  }
  return 0;
}

static int hidden_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  (void)flow;
  int errs = flow_check_options(S, run, k, NULL);
  ty t;
  if (sema_check_expr(S, run->kids[0], &t)) return errs + 1;
  int rl = flow_option(run, "rounds") != NULL;
  const char *const *wrong = rl ? traj_only : rl_only;
  for (int w = 0; wrong[w]; w++) {
    ast *o = flow_option(run, wrong[w]);
    if (o) {
      diag_error(&S->diags, o->src, o->loc, rl ? "option '%s' is for a trajectory run (without 'rounds')"
                                             : "option '%s' is for Recall-and-Learn (a run with 'rounds')", wrong[w]);
      errs++;
    }
  }
  if (!rl && t.kind != TY_VECTOR) {
    diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc,
               "a hidden_hopfield run starts from a vector (v, h) of nv + nh values, or learns from a patterns matrix with 'rounds'");
    errs++;
  } else if (rl && t.kind != TY_VECTOR && t.kind != TY_MATRIX) {
    diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "Recall-and-Learn needs patterns: a matrix of one pattern of nv values per row");
    errs++;
  }
  return errs;
}

/* --------------------------------------------------------- prepare */

typedef struct hrun {
  hid_net net;
  double *U, *I;
  double *start;         /* trajectory: nv + nh; RL: P x nv patterns */
  int P, rl;
  long steps, every;
  hid_rl_opts o;
  uint64_t seed;
} hrun;

static ast *kwarg(sym *flow, const char *name) { return flow_keyword(flow, name); }

static ast *positional(sym *flow, int i) {
  ast *call = flow->decl->kids[0];
  for (int k = 0, pos = 0; k < call->nkids; k++)
    if (call->kids[k]->kind != AST_KWARG && pos++ == i) return call->kids[k];
  return NULL;
}

static int hidden_prepare(flow_job *J) {
  hnn_state *S = J->S;
  ast *run = J->run;
  hrun *r = hnn_xcalloc(1, sizeof *r);
  J->priv = r;
  ir_shape su, si, sx;
  ast *Ue = kwarg(J->flow, "U"), *Ie = kwarg(J->flow, "I");
  int st = flow_eval_value(S, Ue, &r->U, &su);
  if (st) return st;
  int nv = su.rows, nh = su.cols;
  r->net.nv = nv, r->net.nh = nh;
  int fv = lagr_size(S, positional(J->flow, 0)), fh = lagr_size(S, positional(J->flow, 1));
  if ((fv && fv != nv) || (fh && fh != nh)) {
    diag_error(&S->diags, Ue->src, Ue->loc, "U is %d x %d but Lv takes %d values and Lh %d", nv, nh, fv ? fv : nv,
               fh ? fh : nh);
    return HNN_ERR_SCRIPT;
  }
  r->I = hnn_xcalloc((size_t)nv, sizeof *r->I);
  if (Ie) {
    double *iv = NULL;
    if ((st = flow_eval_value(S, Ie, &iv, &si))) return st;
    if (si.kind == IR_SCALAR) {
      for (int i = 0; i < nv; i++) r->I[i] = iv[0];
    } else if (si.rows != nv) {
      diag_error(&S->diags, Ie->src, Ie->loc, "I has %d values but U has nv = %d rows", si.rows, nv);
      free(iv);
      return HNN_ERR_SCRIPT;
    } else {
      memcpy(r->I, iv, sizeof(double) * (size_t)nv);
    }
    free(iv);
  }
  r->net.U = r->U;
  r->net.I = r->I;
  if (flow_kw_number(S, J->flow, "T", 0, 1, &r->net.T)) return HNN_ERR_SCRIPT;
  r->seed = rng_split(S->seed, RNG_RUN, rng_name_index(J->flow->name));
  if ((st = flow_eval_value(S, run->kids[0], &r->start, &sx))) return st;
  r->rl = flow_option(run, "rounds") != NULL;
  double dt = 0.01;
  if (flow_opt_positive(S, run, "h", &dt)) return HNN_ERR_SCRIPT;
  if (!r->rl) {
    if (sx.rows != nv + nh) {
      diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc,
                 "the start has %d values but (v, h) has nv + nh = %d + %d", sx.rows, nv, nh);
      return HNN_ERR_SCRIPT;
    }
    r->steps = 1000;
    if (flow_opt_count(S, run, "steps", 1, FLOW_COUNT_MAX, &r->steps)) return HNN_ERR_SCRIPT;
    r->every = r->steps >= 10 ? r->steps / 10 : 1;
    if (flow_opt_count(S, run, "every", 1, FLOW_COUNT_MAX, &r->every)) return HNN_ERR_SCRIPT;
    r->o.dt = dt;
    J->plan.rows = (double)(r->steps / r->every + 2);
    J->plan.values = nv + nh + 3;
    J->plan.memory = 8.0 * ((double)nv * nh + 4.0 * (nv + nh));
    return HNN_OK;
  }
  int cols = sx.kind == IR_MATRIX ? sx.cols : sx.rows;
  r->P = sx.kind == IR_MATRIX ? sx.rows : 1;
  if (cols != nv) {
    diag_error(&S->diags, run->kids[0]->src, run->kids[0]->loc, "a pattern has %d values but U has nv = %d rows", cols, nv);
    return HNN_ERR_SCRIPT;
  }
  hid_rl_opts *o = &r->o;
  hid_rl_opts_default(o);
  o->dt = dt;
  long samples = o->samples;
  if (flow_opt_count(S, run, "rounds", 0, FLOW_COUNT_MAX, &o->rounds) ||
      flow_opt_count(S, run, "samples", 1, 10000000, &samples) ||
      flow_opt_count(S, run, "relax", 0, FLOW_COUNT_MAX, &o->relax) ||
      flow_opt_count(S, run, "recall", 0, FLOW_COUNT_MAX, &o->recall))
    return HNN_ERR_SCRIPT;
  o->samples = (int)samples;
  ast *rate = flow_option(run, "rate"), *corrupt = flow_option(run, "corrupt");
  if (rate && (flow_eval_number(S, rate, &o->rate) || !(o->rate >= 0) || !isfinite(o->rate))) {
    if (!S->diags.nerrors) diag_error(&S->diags, rate->src, rate->loc, "the rate must be a finite number >= 0");
    return HNN_ERR_SCRIPT;
  }
  if (corrupt && (flow_eval_number(S, corrupt, &o->corrupt) || !(o->corrupt >= 0 && o->corrupt <= 1))) {
    if (!S->diags.nerrors) diag_error(&S->diags, corrupt->src, corrupt->loc, "corrupt is the fraction of flipped signs, from 0 to 1");
    return HNN_ERR_SCRIPT;
  }
  o->seed = r->seed;
  J->plan.rows = (double)o->rounds + 1 + nv;
  J->plan.values = nh + 2 > 7 ? nh + 2 : 7;
  J->plan.memory = 8.0 * ((double)r->P * o->samples * nh + (double)r->P * (3.0 * nv + 2.0 * nh) + 2.0 * nv * nh);
  return HNN_OK;
}

/* --------------------------------------------------------- compile */

/* A non-separable Lagrangian's K and div K are built from n forward sweeps
** through an n x n Cholesky inverse: O(n^3) IR nodes.  Past this size the
** compiler's memory, not the run, would be the limit. */
#define HIDDEN_MAX_FULL 64

/* The callbacks of one Lagrangian at size n: [L, grad L] and [K, div K],
** K = (hessian L)^-1 (a vector when grad L is elementwise in x). */
static int lagr_compile(hnn_state *S, sym *L, int n, hid_lagr *out, ast *at) {
  ir_ctx *ir = ir_ctx_new();
  ir_node *x = ir_var(ir, ir_vector_shape(n), "x");
  ir_node *body = lower_inline(S, ir, L, 1, &x);
  if (!body) {
    ir_ctx_free(ir);
    return 1;
  }
  ir_node *g = NULL;
  diff_grad(ir, body, 1, &x, &g);
  ir_node *lg[2] = { body, g }, *geo[2];
  out->n = n;
  out->diagonal = ir_elementwise_in(g, x);
  if (out->diagonal) {
    ir_node *w = diff_jacobian_diag(ir, g, x);
    geo[0] = ir_div(ir, ir_const(ir, 1.0), w);
    geo[1] = diff_jacobian_diag(ir, geo[0], x);   /* (div K)_i = d_i K_ii */
  } else if (n > HIDDEN_MAX_FULL) {
    diag_error(&S->diags, at->src, at->loc,
               "the Lagrangian '%s' is not separable and has %d variables; hidden_hopfield inverts a full Hessian "
               "symbolically up to %d (write it as a sum of functions of single units)", L->name, n, HIDDEN_MAX_FULL);
    ir_ctx_free(ir);
    return 1;
  } else {
    geo[0] = ir_spdinv(ir, diff_jacobian(ir, g, x));
    ir_node *div = ir_zeros(ir, x->shape);
    ir_node **el = hnn_xmalloc((size_t)n * sizeof *el);
    for (int j = 0; j < n; j++) {
      for (int i = 0; i < n; i++) el[i] = ir_const(ir, i == j ? 1.0 : 0.0);
      ir_node *e = ir_pack(ir, x->shape, el);
      div = ir_add(ir, div, ir_matvec(ir, diff_jvp(ir, geo[0], 1, &x, &e), e));   /* sum_j d_j K_ij */
    }
    free(el);
    geo[1] = div;
  }
  hnn_fn *f1 = state_compile(S, ir, 1, &x, 0, NULL, 2, lg, 0);
  hnn_fn *f2 = f1 ? state_compile(S, ir, 1, &x, 0, NULL, 2, geo, 0) : NULL;
  ir_ctx_free(ir);
  if (!f1 || !f2) return 1;
  state_fn_later(S, f1, &out->lg.fn);
  out->lg.nwork = f1->nwork;
  state_fn_later(S, f2, &out->geom.fn);
  out->geom.nwork = f2->nwork;
  return 0;
}

int hidden_compile_lagrangians(hnn_state *S, sym *flow, hid_net *net) {
  ast *lv = positional(flow, 0), *lh = positional(flow, 1);
  return lagr_compile(S, state_lookup(S, lv->name), net->nv, &net->Lv, lv) ||
         lagr_compile(S, state_lookup(S, lh->name), net->nh, &net->Lh, lh);
}

static int hidden_compile(flow_job *J) {
  hrun *r = J->priv;
  if (hidden_compile_lagrangians(J->S, J->flow, &r->net)) return 1;
  if (r->rl && r->net.T > 0 && !r->net.Lh.diagonal) {
    ast *lh = positional(J->flow, 1);
    diag_error(&J->S->diags, J->run->src, J->run->loc,
               "Recall-and-Learn at T > 0 needs the free energy -T ln Z(v), computed for a separable Lh (a sum of "
               "functions of single hidden units); '%s' is not", lh->name);
    return 1;
  }
  return 0;
}

static void hidden_release(flow_job *J) {
  hrun *r = J->priv;
  if (!r) return;
  free(r->U);
  free(r->I);
  free(r->start);
  free(r);
  J->priv = NULL;
}

/* ------------------------------------------------------------- run */

static int fail(flow_job *J, const char *fmt, const char *a, const char *b) {
  diag_error(&J->S->diags, J->run->src, J->run->loc, fmt, J->flow->name, a, b);
  return HNN_ERR_RUNTIME;
}

static run_out *open_out(flow_job *J, const char *path, int n, const char *prefix1, int n1, const char *prefix2,
                         const char *const *fixed, char **err) {
  char **names = hnn_xcalloc((size_t)n, sizeof *names);
  int k = 0;
  if (prefix1) {
    run_out_names(names, prefix1, n1);
    k = n1;
  }
  if (prefix2) {
    run_out_names(names + k, prefix2, n - k - (fixed ? 1 : 0));
    k = n - (fixed ? 1 : 0);
  }
  for (int i = 0; fixed && fixed[i]; i++) names[k++] = hnn_xstrdup(fixed[i]);
  run_out *o = run_out_open(J->S, path, n, (const char *const *)names, err);
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return o;
}

static int run_trajectory(flow_job *J, hrun *r) {
  hid_net *net = &r->net;
  int n = net->nv + net->nh, status = HNN_OK, s = HID_OK;
  char *err = NULL;
  const char *const last[] = { "E", NULL };
  run_out *out = open_out(J, J->run->kids[1] ? J->run->kids[1]->name : NULL, n + 1, "v", net->nv, "h", last, &err);
  if (!out) {
    status = fail(J, "run %s: %s%s", err ? err : "cannot open the output", "");
    free(err);
    return status;
  }
  hid_ws *w = hid_ws_alloc(net);
  gsl_rng *rng = rng_stream(r->seed, RNG_BLOCK, 0);
  double *row = hnn_xmalloc(sizeof(double) * ((size_t)n + 1));
  memcpy(row, r->start, sizeof(double) * (size_t)n);
  int bad = !w || !rng;
  long k = 0;
  char where[96] = "";
  run_ctx pc;
  memset(&pc, 0, sizeof pc);
  flow_progress_start(&pc, J->S, J->flow->name);
  pc.steps_end = r->steps;
  for (; !bad && !s; k++) {
    if (k % FLOW_TICK_STEPS == 0) flow_progress(&pc, k * r->o.dt, k);
    if (k % r->every == 0 || k == r->steps) {
      s = hid_energy(net, row, row + n, w);
      if (s) snprintf(where, sizeof where, " at step %ld", k);
      else if (run_out_row(out, k * r->o.dt, k, row)) bad = 1;
    }
    if (k == r->steps || s || bad) break;
    if (flow_interrupted()) {
      s = HID_EINTR;
      snprintf(where, sizeof where, " at step %ld", k);
      break;
    }
    s = hid_step(net, row, 0, r->o.dt, rng, w);
    if (s) snprintf(where, sizeof where, " at step %ld", k + 1);
  }
  flow_progress_end(&pc);
  if (s || bad) {
    run_out_abort(out);
    status = s ? fail(J, "run %s: %s%s", s == HID_EINTR ? "interrupted" : hid_strerror(s), where)
               : fail(J, "run %s: %s%s", "output failed", where);
  } else if (run_out_close(out, &err)) {
    status = fail(J, "run %s: %s%s", err ? err : "output failed", "");
  }
  free(err);
  free(row);
  if (rng) gsl_rng_free(rng);
  hid_ws_free(w);
  return status;
}

typedef struct rl_emit_ctx {
  run_out *out;
} rl_emit_ctx;

static int rl_emit(void *ctx, const hid_rl_row *row) {
  rl_emit_ctx *c = ctx;
  double v[5] = { row->free_energy, row->recall_rate, row->overlap, row->energy, row->norm_u };
  return run_out_row(c->out, (double)row->round, row->round, v);
}

static int run_rl(flow_job *J, hrun *r) {
  hid_net *net = &r->net;
  char *err = NULL, msg[400] = "";
  int status = HNN_OK;
  const char *path = J->run->kids[1] ? J->run->kids[1]->name : NULL;
  const char *const cols[] = { "free_energy", "recall_rate", "overlap", "energy", "norm_U", NULL };
  rl_emit_ctx c = { open_out(J, path, 5, NULL, 0, NULL, cols, &err) };
  if (!c.out) {
    status = fail(J, "run %s: %s%s", err ? err : "cannot open the output", "");
    free(err);
    return status;
  }
  run_ctx pc;
  memset(&pc, 0, sizeof pc);
  flow_progress_start(&pc, J->S, J->flow->name);
  pc.steps_end = r->o.rounds;
  int s = hid_rl_run(net, r->start, r->P, &r->o, rl_emit, &c, flow_progress_tick, &pc, msg, sizeof msg);
  flow_progress_end(&pc);
  if (s) {
    run_out_abort(c.out);
    return fail(J, "run %s: %s%s", msg, "");
  }
  /* the learned U beside the rows, NAME_U.csv (row i = visible unit i): the
  ** two files land together or not at all */
  run_out *uo = NULL;
  int bad = 0;
  if (path) {
    char *upath = run_out_sibling(path, "_U");
    uo = open_out(J, upath, net->nh, "u", net->nh, NULL, NULL, &err);
    free(upath);
    bad = !uo;
  }
  for (int i = 0; uo && i < net->nv && !bad; i++) bad = run_out_row(uo, i + 1, i + 1, net->U + (size_t)i * net->nh);
  if (bad) {
    run_out_finish(c.out, uo, 0, NULL);
    status = fail(J, "run %s: %s%s", err ? err : "cannot write the learned U", "");
  } else if (run_out_finish(c.out, uo, 1, &err)) {
    status = fail(J, "run %s: %s%s", err ? err : "output failed", "");
  }
  free(err);
  return status;
}

static int hidden_run(flow_job *J) {
  hrun *r = J->priv;
  return r->rl ? run_rl(J, r) : run_trajectory(J, r);
}

const flow_kind flow_kind_hidden_hopfield = {
  .name = "hidden_hopfield", .usage = USAGE, .nroles = 2, .roles = { R_OBJECTIVE, R_OBJECTIVE }, .keywords = { "T", "U", "I" },
  .options = hidden_run_options, .siblings = { "_U", NULL }, .check_decl = hidden_check_decl,
  .check_run = hidden_check_run, .prepare = hidden_prepare, .compile = hidden_compile, .run = hidden_run,
  .release = hidden_release
};
