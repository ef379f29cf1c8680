/*
** api.c — compiled callbacks and evaluation: hnn_get, hnn_call, hnn_eval,
** param access, and the descriptions behind :list, :type and --list-params.
**
** Every evaluation goes one way: checked AST -> IR (lower.c) -> C (cgen.c)
** -> machine code (jit.c) -> call.  Compiled modules stay alive until
** hnn_close, so pointers handed out remain valid.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "diff.h"
#include "flow.h"
#include "geocoord.h"
#include "lower.h"
#include "parse.h"
#include "state.h"
#include "strbuf.h"

/* ------------------------------------------------------------ compile */

/* The functions generated since state_batch_begin, compiled together by
** state_batch_end: one libtcc state per batch instead of one per function
** (setting a state up costs more than compiling a small function).  A
** function's hnn_fn has no entry point until its batch is compiled; the
** callers that copy entry points ask for them with state_fn_later. */
struct hnn_batch {
  cg_unit *u;
  hnn_fn **fns;
  char **entries;
  int n, depth, failed;
  hnn_fn **later;        /* *later_dst = later->fn once compiled */
  jit_fn **later_dst;
  int nlater;
};

static void batch_clear(hnn_batch *b) {
  for (int k = 0; k < b->n; k++) free(b->entries[k]);
  free(b->fns);
  free(b->entries);
  free(b->later);
  free(b->later_dst);
  cg_unit_free(b->u);
  int depth = b->depth;
  memset(b, 0, sizeof *b);
  b->depth = depth;
}

/* Compile b's functions as one module; 0, or 1 with an error in S->diags
** (the functions are then never handed out again). */
static int batch_compile(hnn_state *S, hnn_batch *b) {
  int failed = b->failed;
  if (!failed && b->n > 0) {
    char *err = NULL;
    const char *src = cg_unit_source(b->u);
    jit_module *mod = jit_compile(src, 0, NULL, &err);   /* params are addressed by cgen */
    for (int k = 0; mod && k < b->n; k++)
      if (!(b->fns[k]->fn = jit_lookup(mod, b->entries[k]))) {
        jit_module_free(mod);
        mod = NULL;
      }
    if (!mod) {
      diag_plain(&S->diags, "internal error: the generated C did not compile (please report this with the "
                 "script):\n%s\n--- generated C ---\n%s", err ? err : "symbol not found", src);
      failed = 1;
    } else {
      hnn_module_list *m = hnn_xcalloc(1, sizeof *m);
      m->mod = mod;
      m->source = hnn_xstrdup(src);
      m->next = S->modules;
      S->modules = m;
    }
    free(err);
  }
  for (int k = 0; failed && k < b->n; k++) {
    b->fns[k]->fn = NULL;
    b->fns[k]->epoch = -1;
  }
  for (int k = 0; k < b->nlater; k++) *b->later_dst[k] = b->later[k]->fn;
  batch_clear(b);
  return failed;
}

void state_batch_begin(hnn_state *S) {
  if (!S->batch) S->batch = hnn_xcalloc(1, sizeof *S->batch);
  if (S->batch->depth++ == 0) S->batch->u = cg_unit_new();
}

int state_batch_end(hnn_state *S) {
  hnn_batch *b = S->batch;
  if (--b->depth > 0) return b->failed;
  return batch_compile(S, b);
}

void state_batch_free(hnn_state *S) {
  if (S->batch) batch_clear(S->batch);
  free(S->batch);
}

void state_fn_later(hnn_state *S, hnn_fn *f, jit_fn *dst) {
  hnn_batch *b = S->batch;
  *dst = f->fn;
  if (f->fn || !b || b->depth == 0) return;
  b->later = hnn_xrealloc(b->later, (size_t)(b->nlater + 1) * sizeof *b->later);
  b->later_dst = hnn_xrealloc(b->later_dst, (size_t)(b->nlater + 1) * sizeof *b->later_dst);
  b->later[b->nlater] = f;
  b->later_dst[b->nlater++] = dst;
}

/* Generate one function into b; its hnn_fn (entry point still NULL), or
** NULL with b->failed set. */
static hnn_fn *batch_add(hnn_state *S, hnn_batch *b, int nvars, ir_node **vars, int ndirs, ir_node **dirs,
                         int nouts, ir_node **outs, int jacobian_n) {
  static int counter;
  cg_unit *u = b->u;
  char fname[48], jname[48];
  int id = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
  snprintf(fname, sizeof fname, "hnn_f%d", id);
  snprintf(jname, sizeof jname, "hnn_j%d", id);
  size_t nin = 0, nout = 0;
  int ok = cg_func_begin(u, fname) == 0;
  for (int i = 0; i < nvars; i++) {
    cg_func_bind(u, vars[i], CG_IN, (int)nin);
    nin += (size_t)ir_shape_size(vars[i]->shape);
  }
  size_t doff = 0;
  for (int i = 0; i < ndirs; i++) {
    cg_func_bind(u, dirs[i], CG_DIR, (int)doff);
    doff += (size_t)ir_shape_size(dirs[i]->shape);
  }
  for (int i = 0; i < nouts; i++) {
    cg_func_output(u, outs[i], (int)nout);
    nout += (size_t)ir_shape_size(outs[i]->shape);
  }
  ok = ok && cg_func_end(u) == 0;
  const char *entry = fname;
  size_t nwork = ok ? cg_func_workspace(u, fname) : 0;
  if (ok && jacobian_n > 0) {
    ok = cg_jacobian_loop(u, jname, fname, jacobian_n, (int)nout) == 0;
    entry = jname;
    nwork = cg_func_workspace(u, jname);
    nout = (size_t)jacobian_n * nout;
  }
  if (!ok) {
    diag_plain(&S->diags, "internal error: code generation failed");
    b->failed = 1;
    return NULL;
  }
  hnn_fn *f = hnn_xcalloc(1, sizeof *f);
  f->S = S;
  f->nin = nin;
  f->nout = nout;
  f->nwork = nwork;
  f->work = hnn_xcalloc(nwork + 1, sizeof *f->work);
  f->epoch = S->epoch;
  f->next = S->fns;
  S->fns = f;
  b->fns = hnn_xrealloc(b->fns, (size_t)(b->n + 1) * sizeof *b->fns);
  b->entries = hnn_xrealloc(b->entries, (size_t)(b->n + 1) * sizeof *b->entries);
  b->fns[b->n] = f;
  b->entries[b->n++] = hnn_xstrdup(entry);
  return f;
}

/* The closed expression r compiled at once, whatever batch is open: its
** caller runs it straight away. */
static hnn_fn *compile_now(hnn_state *S, ir_node *r) {
  hnn_batch b;
  memset(&b, 0, sizeof b);
  b.u = cg_unit_new();
  hnn_fn *f = batch_add(S, &b, 0, NULL, 0, NULL, 1, &r, 0);
  return batch_compile(S, &b) ? NULL : f;
}

hnn_fn *state_compile(hnn_state *S, ir_ctx *ir, int nvars, ir_node **vars, int ndirs, ir_node **dirs,
                      int nouts, ir_node **outs, int jacobian_n) {
  (void)ir;  /* the nodes carry their ctx; kept for symmetry with lowering */
  state_batch_begin(S);
  hnn_fn *f = batch_add(S, S->batch, nvars, vars, ndirs, dirs, nouts, outs, jacobian_n);
  return state_batch_end(S) ? NULL : f;
}

int state_eval_ir(hnn_state *S, ir_node *r, double *v) {
  /* constants (folded by the IR) and a param's values need no compiled module */
  if (r->op == IR_PARAM) {
    if (!r->data) return -1;   /* a param that failed: reported where it is declared */
    memcpy(v, r->data, (size_t)ir_shape_size(r->shape) * sizeof *v);
    return 0;
  }
  if (ir_const_values(r, v)) return 0;
  hnn_fn *f = compile_now(S, r);
  if (!f) return -1;
  return f->fn(NULL, NULL, v, f->work) != 0;
}

int state_eval_ast(hnn_state *S, ast *e, double **val, ir_shape *shape) {
  ir_ctx *ir = ir_ctx_new();
  ir_node *r = lower_expr(S, ir, e);
  if (!r) {
    ir_ctx_free(ir);
    return HNN_ERR_SCRIPT;
  }
  *shape = r->shape;
  *val = hnn_xcalloc((size_t)ir_shape_size(r->shape), sizeof **val);
  hnn_rt_error_clear();
  int rc = state_eval_ir(S, r, *val);
  ir_ctx_free(ir);
  if (rc < 0) {
    free(*val);
    *val = NULL;
    return HNN_ERR_SCRIPT;
  }
  if (rc) {
    /* a run-time helper (quadrature, shooting) says why; else an inverse */
    const char *why = hnn_rt_error();
    if (why) diag_error(&S->diags, e->src, e->loc, "%s", why);
    else diag_error(&S->diags, e->src, e->loc, "a numeric inverse failed: the value is outside the activation's range");
    free(*val);   /* callers drop the value on error */
    *val = NULL;
    return HNN_ERR_RUNTIME;
  }
  return HNN_OK;
}

/* Parse `text` as one expression and check it. */
static ast *parse_expression(hnn_state *S, const char *text) {
  hnn_src *src = src_new("<eval>", text);
  ast **stmts;
  int n, inc;
  ast *e = NULL;
  if (hnn_parse(src, &S->diags, &stmts, &n, &inc) == 0) {
    if (n == 1 && stmts[0]->kind == AST_EXPR) {
      e = stmts[0]->kids[0];
      stmts[0]->kids[0] = NULL;
    } else {
      diag_plain(&S->diags, "hnn_eval takes one expression");
    }
    for (int i = 0; i < n; i++) ast_free(stmts[i]);
    free(stmts);
  }
  src_release(src);
  if (e && sema_check_expr(S, e, NULL)) {
    ast_free(e);
    e = NULL;
  }
  return e;
}

int hnn_eval(hnn_state *S, const char *expr, double *out, size_t cap, size_t *rows, size_t *cols) {
  diag_clear(&S->diags);
  ast *e = parse_expression(S, expr);
  if (!e) return state_fail(S, HNN_ERR_SCRIPT);
  double *val = NULL;
  ir_shape sh;
  int r = state_eval_ast(S, e, &val, &sh);
  ast_free(e);
  if (r != HNN_OK) return state_fail(S, r);
  size_t n = (size_t)ir_shape_size(sh);
  if (out) memcpy(out, val, (n < cap ? n : cap) * sizeof *out);
  if (rows) *rows = (size_t)sh.rows;
  if (cols) *cols = (size_t)sh.cols;
  free(val);
  if (out && n > cap) {
    diag_plain(&S->diags, "hnn_eval: the value has %zu elements, the buffer %zu", n, cap);
    return state_fail(S, HNN_ERR_USAGE);
  }
  return HNN_OK;
}

char *hnn_eval_string(hnn_state *S, const char *expr) {
  diag_clear(&S->diags);
  ast *e = parse_expression(S, expr);
  if (!e) {
    state_fail(S, HNN_ERR_SCRIPT);
    return NULL;
  }
  double *val = NULL;
  ir_shape sh;
  int r = state_eval_ast(S, e, &val, &sh);
  ast_free(e);
  if (r != HNN_OK) {
    state_fail(S, r);
    return NULL;
  }
  char *s = print_value(val, sh);
  free(val);
  return s;
}

/* ------------------------------------------------------------- hnn_get */

static const char *what_name(hnn_what w) {
  static const char *n[] = { "value", "gradient", "hessian", "derivative", "second derivative", "inverse",
                             "metric", "inverse metric", "divergence of the inverse metric" };
  return (unsigned)w < sizeof n / sizeof *n ? n[w] : "?";
}

static hnn_fn *compile_callable(hnn_state *S, ir_ctx *ir, sym *f, hnn_what what, int n) {
  ir_node **vars = NULL, *body = NULL;
  int nv = 0;
  hnn_fn *fn = NULL;
  if (lower_callable(S, ir, f, n, &vars, &nv, &body)) {
    free(vars);
    return NULL;
  }
  if (what == HNN_VALUE) {
    fn = state_compile(S, ir, nv, vars, 0, NULL, 1, &body, 0);
  } else if (f->sig.result.kind != TY_SCALAR) {
    diag_plain(&S->diags, "'%s' is not scalar-valued: it has no %s", f->name, what_name(what));
  } else if (diff_opaque(body, nv, vars)) {
    diag_plain(&S->diags, "'%s' has no %s: %s", f->name, what_name(what), DIFF_OPAQUE_WHY);
  } else {
    ir_node **g = hnn_xcalloc((size_t)nv + 1, sizeof *g);
    diff_grad(ir, body, nv, vars, g);
    if (what == HNN_GRADIENT) {
      fn = state_compile(S, ir, nv, vars, 0, NULL, nv, g, 0);
    } else {
      ir_node **dirs = hnn_xcalloc((size_t)nv + 1, sizeof *dirs);
      ir_node **hv = hnn_xcalloc((size_t)nv + 1, sizeof *hv);
      int total = 0;
      for (int i = 0; i < nv; i++) {
        dirs[i] = ir_var(ir, vars[i]->shape, "v");
        total += ir_shape_size(vars[i]->shape);
      }
      for (int i = 0; i < nv; i++) hv[i] = diff_jvp(ir, g[i], nv, vars, dirs);
      fn = state_compile(S, ir, nv, vars, nv, dirs, nv, hv, total);
      free(dirs);
      free(hv);
    }
    free(g);
  }
  free(vars);
  return fn;
}

static hnn_fn *compile_lookup(hnn_state *S, sym *f, hnn_what what, int n) {
  ir_ctx *ir = ir_ctx_new();
  hnn_fn *fn = NULL;
  switch (f->kind) {
  case SYM_OBJECTIVE: case SYM_FUNCTION: case SYM_KERNEL: case SYM_NEURON:
    if (what > HNN_HESSIAN) diag_plain(&S->diags, "%s '%s' has no %s", sym_kind_name(f->kind), f->name, what_name(what));
    else fn = compile_callable(S, ir, f, what, n);
    break;
  case SYM_ACTIVATION: {
    int deriv = what == HNN_VALUE ? 0 : what == HNN_DERIV1 ? 1 : what == HNN_DERIV2 ? 2 : what == HNN_INVERSE ? -1 : 9;
    if (deriv == 9) {
      diag_plain(&S->diags, "activation '%s' has no %s (use HNN_VALUE, HNN_DERIV1, HNN_DERIV2 or HNN_INVERSE)",
                 f->name, what_name(what));
      break;
    }
    ir_node *x = ir_var(ir, n > 0 ? ir_vector_shape(n) : ir_scalar_shape(), "u");
    ir_node *r = lower_activation(S, ir, f, x, deriv);
    if (r) fn = state_compile(S, ir, 1, &x, 0, NULL, 1, &r, 0);
    break;
  }
  case SYM_METRIC: {
    if ((int)what < HNN_METRIC) {
      diag_plain(&S->diags, "metric '%s' has no %s (use HNN_METRIC, HNN_METRIC_INV or HNN_METRIC_DIV_INV)", f->name,
                 what_name(what));
      break;
    }
    int size = n;
    if (f->mform == MET_EXPLICIT && f->sig.formal[0].r.val > 0) size = f->sig.formal[0].r.val;
    if (size <= 0 || (n > 0 && size != n)) {
      diag_plain(&S->diags, n > 0 ? "metric '%s' is defined on vectors of another length" :
                 "metric '%s' needs the dimension n", f->name);
      break;
    }
    ir_node *x = ir_var(ir, ir_vector_shape(size), "x");
    metric_part part;
    switch ((int)what) {
    case HNN_METRIC: part = METRIC_G; break;
    case HNN_METRIC_INV: part = METRIC_GINV; break;
    case HNN_METRIC_DIV_INV: part = METRIC_DIVGINV; break;
    case HNN_METRIC_INV_DIAG: part = METRIC_INV_DIAG; break;
    default: part = METRIC_DIAG; break;
    }
    ir_node *r = lower_metric(S, ir, f, x, part);
    if (r && (int)what == HNN_METRIC_JAC_DIAG) {
      /* d g_k / d x_j, one forward sweep per column */
      ir_node *v = ir_var(ir, x->shape, "v");
      ir_node *jv = diff_jvp(ir, r, 1, &x, &v);
      fn = state_compile(S, ir, 1, &x, 1, &v, 1, &jv, size);
    } else if (r) {
      fn = state_compile(S, ir, 1, &x, 0, NULL, 1, &r, 0);
    }
    break;
  }
  default:
    diag_plain(&S->diags, "'%s' is a param: read it with hnn_param_get", f->name);
  }
  ir_ctx_free(ir);
  return fn;
}

hnn_fn *hnn_get(hnn_state *S, const char *name, hnn_what what, size_t n) {
  diag_clear(&S->diags);
  if (n > 100000000) {
    diag_plain(&S->diags, "size %zu is too large", n);
    state_fail(S, HNN_ERR_USAGE);
    return NULL;
  }
  sym *s = state_lookup(S, name);
  if (!s) {
    diag_plain(&S->diags, "unknown name '%s'", name);
    state_fail(S, HNN_ERR_USAGE);
    return NULL;
  }
  if (sema_check_sym(S, s)) {
    state_fail(S, HNN_ERR_SCRIPT);
    return NULL;
  }
  hnn_fn *f = state_get(S, s, what, (int)n);
  if (!f) state_fail(S, HNN_ERR_USAGE);
  return f;
}

hnn_fn *state_cached(hnn_state *S, const char *key) {
  for (hnn_fn *f = S->fns; f; f = f->next)
    if (f->key && f->epoch == S->epoch && strcmp(f->key, key) == 0) return f;
  return NULL;
}

void state_remember(hnn_fn *f, const char *key) {
  free(f->key);
  f->key = hnn_xstrdup(key);
}

hnn_fn *state_get(hnn_state *S, sym *s, int what, int n) {
  char key[300];
  snprintf(key, sizeof key, "%s/%d/%d", s->name, what, n);
  hnn_fn *f = state_cached(S, key);
  if (f) return f;
  f = compile_lookup(S, s, (hnn_what)what, n);
  if (f) state_remember(f, key);
  return f;
}

hnn_fn *hnn_function(hnn_state *S, const char *name) { return hnn_get(S, name, HNN_VALUE, 0); }
hnn_fn *hnn_gradient(hnn_state *S, const char *name) { return hnn_get(S, name, HNN_GRADIENT, 0); }
size_t hnn_fn_nin(const hnn_fn *fn) { return fn->nin; }
size_t hnn_fn_nout(const hnn_fn *fn) { return fn->nout; }
size_t hnn_fn_nwork(const hnn_fn *fn) { return fn->nwork; }
hnn_raw_fn hnn_fn_raw(const hnn_fn *fn) { return fn->fn; }

int hnn_call_ws(const hnn_fn *fn, const double *x, double *out, double *work) {
  int rc = fn->fn(x, NULL, out, work);
  if (rc != 0) return HNN_ERR_RUNTIME;
  for (size_t i = 0; i < fn->nout; i++)
    if (!isfinite(out[i])) return HNN_ERR_RUNTIME;
  return HNN_OK;
}

int hnn_call(hnn_fn *fn, const double *x, double *out) { return hnn_call_ws(fn, x, out, fn->work); }

char *hnn_dump_c(hnn_state *S) {
  strbuf b = STRBUF_INIT;
  /* Oldest first: the list is newest first. */
  int n = 0;
  for (hnn_module_list *m = S->modules; m; m = m->next) n++;
  hnn_module_list **v = hnn_xcalloc((size_t)n + 1, sizeof *v);
  int i = n;
  for (hnn_module_list *m = S->modules; m; m = m->next) v[--i] = m;
  for (i = 0; i < n; i++) sb_printf(&b, "/* ---- module %d ---- */\n%s\n", i + 1, v[i]->source);
  free(v);
  return sb_take(&b);
}

/* -------------------------------------------------------------- params */

/* the param called name, or NULL with the message in S's diagnostics */
static sym *param_named(hnn_state *S, const char *name) {
  diag_clear(&S->diags);
  sym *p = state_lookup(S, name);
  if (p && p->kind == SYM_PARAM) return p;
  diag_plain(&S->diags, "no param named '%s'", name);
  return NULL;
}

int hnn_param_get(hnn_state *S, const char *name, double *out, size_t cap, size_t *count) {
  sym *p = param_named(S, name);
  if (!p) return state_fail(S, HNN_ERR_USAGE);
  size_t n = (size_t)ir_shape_size(p->shape);
  if (count) *count = n;
  if (out) memcpy(out, p->data, (n < cap ? n : cap) * sizeof *out);
  return HNN_OK;
}

int hnn_param_set(hnn_state *S, const char *name, const double *values, size_t count) {
  sym *p = param_named(S, name);
  if (!p) return state_fail(S, HNN_ERR_USAGE);
  size_t n = (size_t)ir_shape_size(p->shape);
  if (count != n) {
    diag_plain(&S->diags, "param '%s' holds %zu value%s, %zu given", name, n, n == 1 ? "" : "s", count);
    return state_fail(S, HNN_ERR_USAGE);
  }
  for (size_t i = 0; i < n; i++)
    if (!isfinite(values[i])) {
      diag_plain(&S->diags, "param '%s': value %zu is not finite", name, i + 1);
      return state_fail(S, HNN_ERR_USAGE);
    }
  memcpy(p->data, values, n * sizeof *values);
  free(p->origin);
  p->origin = hnn_xstrdup("hnn_param_set");
  return HNN_OK;
}

static void param_value(strbuf *b, const sym *p) {
  size_t n = (size_t)ir_shape_size(p->shape);
  if (n <= 100) {
    char *v = print_value(p->data, p->shape);
    sb_puts(b, v);
    free(v);
    return;
  }
  double lo = p->data[0], hi = p->data[0], sum = 0;
  for (size_t i = 0; i < n; i++) {
    lo = fmin(lo, p->data[i]);
    hi = fmax(hi, p->data[i]);
    sum += p->data[i];
  }
  sb_printf(b, "(%zu values: min %.6g, mean %.6g, max %.6g)", n, lo, sum / (double)n, hi);
}

char *hnn_list_params(hnn_state *S) {
  strbuf b = STRBUF_INIT;
  for (int i = 0; i < S->nsyms; i++) {
    sym *p = S->syms[i];
    if (p->kind != SYM_PARAM || !p->evaluated) continue;
    char *d = sig_to_string(p);
    sb_printf(&b, "%s = ", d + strlen("param "));
    free(d);
    param_value(&b, p);
    sb_printf(&b, "    # %s\n", p->origin);
  }
  sb_printf(&b, "# seed = %llu\n", (unsigned long long)S->seed);
  return sb_take(&b);
}

char *hnn_describe(hnn_state *S, const char *name) {
  sym *s = state_lookup(S, name);
  if (!s) return NULL;
  diag_clear(&S->diags);
  if (sema_check_sym(S, s)) {
    state_fail(S, HNN_ERR_SCRIPT);
    return NULL;
  }
  char *d = sig_to_string(s);
  strbuf b = STRBUF_INIT;
  sb_puts(&b, d);
  free(d);
  if (s->kind == SYM_PARAM) {
    sb_puts(&b, " = ");
    param_value(&b, s);
  }
  return sb_take(&b);
}

char *hnn_list(hnn_state *S) {
  strbuf b = STRBUF_INIT;
  for (int i = 0; i < S->nsyms; i++) {
    char *d = hnn_describe(S, S->syms[i]->name);
    if (d) sb_printf(&b, "%s\n", d);
    free(d);
  }
  return sb_take(&b);
}

/* The flag the engines test lives with them (runtime/flow.c). */
void hnn_interrupt(int signo) { flow_interrupt(signo); }
int hnn_interrupted(void) { return flow_interrupted(); }
void hnn_interrupt_clear(void) { flow_interrupt_clear(); }
