/*
** plotstmt.c — the `plot` statement (see plotstmt.h).
*/
#include "plotstmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"
#include "gibbs.h"
#include "plot.h"
#include "plotcmd.h"
#include "runout.h"
#include "strbuf.h"

static const char *const plot_options[] = { "x", "y", "group", "color", "title", "logx", "logy", "last", "step",
                                            "scatter", NULL };
enum { GRID = 160 };

static int is_field(const ast *e, const char *name) {
  return ast_is_plain_call(e) && strcmp(e->name, name) == 0;
}

/* A box [a, b]^2 as written in the item. */
static int box_of(hnn_state *S, ast *e, double box[2]) {
  if (e->kind != AST_BINOP || e->op != '^' || e->nkids != 2 || e->kids[0]->kind != AST_VECTOR ||
      e->kids[0]->nkids != 2) {
    diag_error(&S->diags, e->src, e->loc, "a plotting box is written [a, b]^2");
    return 1;
  }
  double *v = NULL;
  ir_shape sh;
  ty t;
  if (sema_check_expr(S, e->kids[0], &t) || state_eval_ast(S, e->kids[0], &v, &sh) != HNN_OK) {
    free(v);
    return 1;
  }
  box[0] = v[0], box[1] = v[1];
  free(v);
  if (!(box[0] < box[1])) {
    diag_error(&S->diags, e->src, e->loc, "the box [a, b]^2 needs a < b");
    return 1;
  }
  return 0;
}

static sym *field_objective(hnn_state *S, ast *e) {
  ast *a = e->kids[0];
  sym *f = a->kind == AST_NAME ? state_lookup(S, a->name) : NULL;
  if (!f || (f->kind != SYM_OBJECTIVE && f->kind != SYM_FUNCTION) || sema_check_sym(S, f) ||
      f->sig.result.kind != TY_SCALAR || f->sig.nformals != 1 || f->sig.formal[0].kind != TY_VECTOR ||
      (f->sig.formal[0].r.val != 2 && f->sig.formal[0].r.val > 0)) {
    diag_error(&S->diags, a->src, a->loc, "%s needs an objective of one point in the plane, f(x[2])", e->name);
    return NULL;
  }
  return f;
}

int plotstmt_check(hnn_state *S, ast *st) {
  int errs = 0;
  ast *items = st->kids[0];
  for (int i = 0; i < items->nkids; i++) {
    ast *e = items->kids[i];
    if (e->kind == AST_STR) continue;
    int contour = is_field(e, "contour"), density = is_field(e, "density");
    if (!(contour && e->nkids == 2) && !(density && e->nkids == 3)) {
      diag_error(&S->diags, e->src, e->loc, "plot draws contour(f, [a, b]^2), density(f, T, [a, b]^2) or \"file.csv\"");
      errs++;
      continue;
    }
    if (!field_objective(S, e)) errs++;
    if (density) {
      ty t;
      if (sema_check_expr(S, e->kids[1], &t) || t.kind != TY_SCALAR) {
        if (S->diags.nerrors == 0) diag_error(&S->diags, e->kids[1]->src, e->kids[1]->loc, "T must be a number");
        errs++;
      }
    }
  }
  for (int i = 2; i < st->nkids; i++) {
    ast *o = st->kids[i];
    int ok = 0;
    for (int w = 0; plot_options[w]; w++) ok |= strcmp(plot_options[w], o->name) == 0;
    if (!ok) {
      diag_error(&S->diags, o->src, o->name_loc,
                 "plot has no option '%s' (options: x, y, group, color, title, logx, logy, last, step, scatter)", o->name);
      errs++;
    }
  }
  const char *out = st->kids[1]->name, *ext = strrchr(out, '.');
  if (!ext || (strcmp(ext, ".png") && strcmp(ext, ".svg") && strcmp(ext, ".pdf"))) {
    diag_error(&S->diags, st->kids[1]->src, st->kids[1]->loc, "a plot is written to a .png, .svg or .pdf file");
    errs++;
  }
  return errs;
}

int plotstmt_check_output(hnn_state *S, ast *st) { return run_out_check_path(S, st->kids[1], st->kids[1]->name); }

static ast *option(ast *st, const char *name) {
  for (int i = 2; i < st->nkids; i++)
    if (strcmp(st->kids[i]->name, name) == 0) return st->kids[i]->kids[0];
  return NULL;
}

static const char *word(ast *st, const char *name) {
  ast *e = option(st, name);
  return e && (e->kind == AST_NAME || e->kind == AST_STR) ? e->name : NULL;
}

static int flag(ast *st, const char *name) {
  ast *e = option(st, name);
  return e && e->kind == AST_NUM && e->num != 0;
}

/* A failure reported by the CSV reader or the plotter, with the statement's place. */
static int relocate(hnn_state *S, ast *st, int status) {
  char *msg = hnn_xstrdup(S->errtext);
  msg[strcspn(msg, "\n")] = '\0';
  diag_error(&S->diags, st->src, st->loc, "%s", strncmp(msg, "hnn: error: plot: ", 18) == 0 ? msg + 18 : msg);
  free(msg);
  return status;
}

static int draw_field(hnn_state *S, plot *p, ast *e, double box[2], int under_data) {
  sym *f = field_objective(S, e);
  if (!f || box_of(S, e->kids[e->nkids - 1], box)) return HNN_ERR_SCRIPT;
  hnn_fn *fn = state_get(S, f, HNN_VALUE, 2);
  if (!fn) return HNN_ERR_SCRIPT;
  double T = 1;
  if (e->nkids == 3) {
    double *v = NULL;
    ir_shape sh;
    if (state_eval_ast(S, e->kids[1], &v, &sh) != HNN_OK) return HNN_ERR_SCRIPT;
    T = v[0];
    free(v);
    if (!(T > 0)) {
      diag_error(&S->diags, e->kids[1]->src, e->kids[1]->loc, "T must be positive");
      return HNN_ERR_SCRIPT;
    }
  }
  double *z = hnn_xmalloc((size_t)GRID * GRID * sizeof *z), x[2], h = (box[1] - box[0]) / (GRID - 1), zmin = INFINITY;
  for (int j = 0; j < GRID; j++)
    for (int i = 0; i < GRID; i++) {
      x[0] = box[0] + i * h, x[1] = box[0] + j * h;
      if (hnn_call(fn, x, &z[j * GRID + i]) != HNN_OK) z[j * GRID + i] = NAN;
      zmin = fmin(zmin, z[j * GRID + i]);
    }
  /* under run output the contours are grey: the colour scale is the data's */
  int mode = PLOT_CONTOURS | PLOT_LOGLEVELS | (under_data ? PLOT_GREY : 0);
  if (e->nkids == 3) {
    /* Gibbs density: normalized by the grid's own trapezoid-free sum (a
    ** picture; gibbs() in expressions gives the accurate Z) */
    double sum = 0;
    for (int k = 0; k < GRID * GRID; k++) sum += z[k] = exp(-(z[k] - zmin) / T);
    double scale = 1 / (sum * h * h);
    for (int k = 0; k < GRID * GRID; k++) z[k] *= scale;
    mode = PLOT_HEATMAP;
    plot_colorbar_label(p, "Gibbs density");
  } else if (zmin <= 0) {
    for (int k = 0; k < GRID * GRID; k++) z[k] = z[k] - zmin + 1e-12 * (1 + fabs(zmin));
  }
  int r = plot_field(p, GRID, GRID, z, box[0], box[1], box[0], box[1], mode);
  free(z);
  return r ? HNN_ERR_RUNTIME : HNN_OK;
}

static int draw_csv(hnn_state *S, plot *p, ast *st, const char *path) {
  table t;
  memset(&t, 0, sizeof t);
  char *full = run_out_path(S, path);
  int status = plotcmd_read_table(S, full, &t);
  free(full);
  if (status != HNN_OK) return relocate(S, st, status);
  int x1 = plotcmd_column(&t, "x1"), x2 = plotcmd_column(&t, "x2"), pc = plotcmd_column(&t, "particle");
  int tc = plotcmd_column(&t, "t");
  const char *cname = word(st, "color");
  int cc = plotcmd_column(&t, cname ? cname : "rho");
  if (x1 < 0 || x2 < 0) {
    plotcmd_table_free(&t);
    diag_error(&S->diags, st->src, st->loc, "'%s' has no columns x1, x2 to draw in the plane", path);
    return HNN_ERR_SCRIPT;
  }
  /* particles: the rows of output step K (option step), else of the last */
  ast *se = option(st, "step");
  int sc = plotcmd_column(&t, "step");
  double want = NAN;
  if (se) {
    double *v = NULL;
    ir_shape sh;
    int bad = flow_eval_value(S, se, &v, &sh) != HNN_OK || sh.kind != IR_SCALAR;
    if (!bad) want = v[0];
    free(v);
    if (bad || sc < 0) {
      plotcmd_table_free(&t);
      if (!bad) diag_error(&S->diags, se->src, se->loc, "'%s' has no column step", path);
      else if (S->diags.nerrors == 0) diag_error(&S->diags, se->src, se->loc, "step must be a number");
      return HNN_ERR_SCRIPT;
    }
  }
  double *x = hnn_xmalloc(t.nrows * sizeof *x), *y = hnn_xmalloc(t.nrows * sizeof *y);
  double *c = hnn_xmalloc(t.nrows * sizeof *c);
  size_t n = 0;
  double tlast = tc >= 0 && t.nrows ? t.d[(t.nrows - 1) * t.ncols + tc] : 0;
  for (size_t r = 0; r < t.nrows; r++) {
    const double *row = t.d + r * t.ncols;
    if (se ? row[sc] != want : pc >= 0 && tc >= 0 && row[tc] != tlast) continue;
    x[n] = row[x1], y[n] = row[x2], c[n] = cc >= 0 ? row[cc] : 0;
    n++;
  }
  if (se && n == 0) {
    free(x), free(y), free(c);
    plotcmd_table_free(&t);
    diag_error(&S->diags, se->src, se->loc, "'%s' has no rows at step %g", path, want);
    return HNN_ERR_SCRIPT;
  }
  const char *base = strrchr(path, '/');
  int r = pc >= 0 ? plot_scatter_c(p, x, y, n, cc >= 0 ? c : NULL, 2.5, PLOT_AUTO, base ? base + 1 : path)
                  : plot_line(p, x, y, n, PLOT_AUTO, 2.0, base ? base + 1 : path);
  if (pc >= 0 && cc >= 0) plot_colorbar_label(p, t.names[cc]);
  free(x), free(y), free(c);
  plotcmd_table_free(&t);
  return r ? HNN_ERR_RUNTIME : HNN_OK;
}

int plotstmt_run(hnn_state *S, ast *st) {
  ast *items = st->kids[0];
  int fields = 0;
  for (int i = 0; i < items->nkids; i++) fields += items->kids[i]->kind != AST_STR;
  char *out = run_out_path(S, st->kids[1]->name);
  int status = HNN_OK;
  if (!fields) {
    /* CSV files alone: the `hnn plot` view, one file per statement */
    if (items->nkids != 1) {
      diag_error(&S->diags, st->src, st->loc, "plot one CSV file at a time (or draw files over contour/density)");
      free(out);
      return HNN_ERR_SCRIPT;
    }
    hnn_plot_options o;
    memset(&o, 0, sizeof o);
    o.x = word(st, "x"), o.y = word(st, "y"), o.group = word(st, "group"), o.color = word(st, "color");
    o.title = word(st, "title"), o.logx = flag(st, "logx"), o.logy = flag(st, "logy");
    o.last = flag(st, "last"), o.scatter = flag(st, "scatter");
    char *csv = run_out_path(S, items->kids[0]->name);
    status = hnn_plot_csv(S, csv, out, &o);
    free(csv);
    if (status != HNN_OK) relocate(S, st, status);
    free(out);
    return status;
  }
  plot *p = plot_new(800, 700);
  double box[2] = { 0, 1 };
  const char *title = word(st, "title");
  if (title) plot_title(p, title);
  plot_xlabel(p, "x1");
  plot_ylabel(p, "x2");
  for (int i = 0; i < items->nkids && status == HNN_OK; i++)
    if (items->kids[i]->kind != AST_STR) status = draw_field(S, p, items->kids[i], box, fields < items->nkids);
  plot_xlim(p, box[0], box[1]);
  plot_ylim(p, box[0], box[1]);
  for (int i = 0; i < items->nkids && status == HNN_OK; i++)
    if (items->kids[i]->kind == AST_STR) status = draw_csv(S, p, st, items->kids[i]->name);
  char err[512];
  if (status == HNN_OK && plot_save(p, out, err, sizeof err) != 0) {
    diag_error(&S->diags, st->src, st->loc, "%s", err);
    status = HNN_ERR_RUNTIME;
  }
  plot_free(p);
  free(out);
  return status;
}
