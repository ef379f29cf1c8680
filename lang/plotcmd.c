/*
** plotcmd.c — hnn_plot_csv: draw a CSV file written by an hnn run
** (`hnn plot FILE.csv ...`) with runtime/plot.c.
**
** Input: lines starting with '#' are comments; the last comment before the
** first data row that is a comma-separated list of names ("# t,step,x1,x2,f")
** names the columns (else c1, c2, ...).  Data rows are numbers separated by
** commas.  Output: lines (default) or points against a chosen column, one
** line per distinct value of a group column, PNG/SVG/PDF by extension.
** Errors go to the state's error text: 1 for bad input, 3 if the image
** cannot be written.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* getline */
#endif
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "afile.h"
#include "hnn.h"
#include "plot.h"
#include "plotcmd.h"
#include "state.h"
#include "strbuf.h"


static int fail(hnn_state *S, int status, const char *fmt, ...) {
  strbuf b = STRBUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  sb_puts(&b, "hnn: error: plot: ");   /* plotstmt.c strips this prefix */
  sb_vprintf(&b, fmt, ap);
  va_end(ap);
  sb_putc(&b, '\n');
  free(S->errtext);
  S->errtext = sb_take(&b);
  free(S->err_file);
  S->err_file = NULL;
  S->err_line = S->err_col = 0;
  S->err_incomplete = 0;
  return status;
}

void plotcmd_table_free(table *t) {
  for (int j = 0; j < t->ncols; j++) free(t->names[j]);
  free(t->names);
  free(t->d);
}

/* Is `s` a list of names "a,b_1,c.d"?  Returns the count, or 0. */
static int name_list(const char *s) {
  int n = 0;
  while (*s) {
    if (!isalpha((unsigned char)*s) && *s != '_') return 0;
    while (isalnum((unsigned char)*s) || *s == '_' || *s == '.') s++;
    n++;
    if (*s == ',') s++;
    else if (*s) return 0;
  }
  return n;
}

static int count_fields(const char *s) {
  int n = 1;
  for (; *s; s++) n += *s == ',';
  return n;
}

int plotcmd_read_table(hnn_state *S, const char *path, table *t) {
  FILE *f = fopen(path, "r");
  if (!f) return fail(S, HNN_ERR_SCRIPT, "cannot open '%s': %s", path, strerror(errno));
  char *line = NULL, *names = NULL;
  size_t cap = 0;
  long lineno = 0;
  int st = HNN_OK;
  while (st == HNN_OK && getline(&line, &cap, f) > 0) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    char *s = line;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) continue;
    if (*s == '#') {
      for (s++; *s == ' ' || *s == '\t'; s++) {}
      if (!t->ncols && name_list(s)) free(names), names = hnn_xstrdup(s);
      continue;
    }
    if (!t->ncols) {   /* the first data row fixes the columns */
      t->ncols = count_fields(s);
      t->names = hnn_xcalloc((size_t)t->ncols, sizeof *t->names);
      if (names && name_list(names) != t->ncols) {
        st = fail(S, HNN_ERR_SCRIPT, "%s:%ld: the header '# %s' names %d columns, the data has %d",
                  path, lineno, names, name_list(names), t->ncols);
        break;
      }
      char *p = names;
      for (int j = 0; j < t->ncols; j++) {
        strbuf b = STRBUF_INIT;
        if (p) {
          size_t len = strcspn(p, ",");
          sb_putn(&b, p, len);
          p += len + (p[len] == ',');
        } else {
          sb_printf(&b, "c%d", j + 1);
        }
        t->names[j] = sb_take(&b);
      }
    }
    if (count_fields(s) != t->ncols) {
      st = fail(S, HNN_ERR_SCRIPT, "%s:%ld: row has %d fields, expected %d", path, lineno,
                count_fields(s), t->ncols);
      break;
    }
    if ((t->nrows + 1) * t->ncols > t->cap) {
      t->cap = t->cap ? 2 * t->cap : 1024 + (size_t)t->ncols;
      t->d = hnn_xrealloc(t->d, t->cap * sizeof *t->d);
    }
    double *row = t->d + t->nrows * t->ncols;
    for (int j = 0; j < t->ncols; j++) {
      char *end;
      while (*s == ' ') s++;
      row[j] = strtod(s, &end);
      while (*end == ' ' || *end == '\t') end++;
      if (end == s || (*end && *end != ',')) {
        st = fail(S, HNN_ERR_SCRIPT, "%s:%ld: field %d ('%.*s') is not a number", path, lineno,
                  j + 1, (int)strcspn(s, ","), s);
        break;
      }
      s = end + (*end == ',');
    }
    t->nrows++;
  }
  if (st == HNN_OK && ferror(f))
    st = fail(S, HNN_ERR_SCRIPT, "cannot read '%s': %s", path, strerror(errno));
  if (st == HNN_OK && t->nrows == 0) st = fail(S, HNN_ERR_SCRIPT, "%s: no data rows", path);
  fclose(f);
  free(line);
  free(names);
  return st;
}

int plotcmd_column(const table *t, const char *name) {
  for (int j = 0; j < t->ncols; j++)
    if (strcmp(t->names[j], name) == 0) return j;
  return -1;
}

/* The column `name` or an error listing the columns there are. */
static int need_column(hnn_state *S, const table *t, const char *path, const char *name, int *col) {
  if ((*col = plotcmd_column(t, name)) >= 0) return HNN_OK;
  strbuf b = STRBUF_INIT;
  for (int j = 0; j < t->ncols; j++) sb_printf(&b, "%s%s", j ? ", " : "", t->names[j]);
  int st = fail(S, HNN_ERR_SCRIPT, "%s has no column '%s' (columns: %s)", path, name, b.s);
  sb_free(&b);
  return st;
}

static int is_index_name(const char *s) {
  return !strcmp(s, "t") || !strcmp(s, "step") || !strcmp(s, "particle");
}

/* Everything hnn_plot_csv decided, for draw(). */
typedef struct job {
  const table *t;
  const hnn_plot_options *o;
  int xc, gc, cc;          /* x, group and colour columns (-1: none) */
  int scatter;
  int *yc, ny;
  unsigned char *keep;     /* rows in use (--last) */
  double *groups;          /* distinct group values in order of appearance */
  size_t ngroups;
} job;

static void find_groups(job *J) {
  const table *t = J->t;
  J->groups = hnn_xmalloc((t->nrows + 1) * sizeof *J->groups);
  J->ngroups = 0;
  if (J->gc < 0) {
    J->groups[J->ngroups++] = 0;
    return;
  }
  for (size_t r = 0; r < t->nrows; r++) {
    if (!J->keep[r]) continue;
    double g = t->d[r * t->ncols + J->gc];
    size_t k = J->ngroups;   /* runs are usually contiguous: look back first */
    while (k > 0 && J->groups[k - 1] != g) k--;
    if (k == 0) J->groups[J->ngroups++] = g;
  }
}

/* The rows of group gi (all rows when there is no group column). */
static size_t gather(const job *J, size_t gi, int yc, double *x, double *y, double *c) {
  const table *t = J->t;
  size_t n = 0;
  for (size_t r = 0; r < t->nrows; r++) {
    const double *row = t->d + r * t->ncols;
    if (!J->keep[r] || (J->gc >= 0 && row[J->gc] != J->groups[gi])) continue;
    x[n] = row[J->xc], y[n] = row[yc];
    if (c) c[n] = row[J->cc];
    n++;
  }
  return n;
}

/* Points that are not finite: the plot leaves them out, and the caller says
** how many.  Zeros on a log axis (a distance that reached 0) are left out
** without a word, as gnuplot does. */
static size_t not_finite(const double *x, const double *y, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += !isfinite(x[i]) || !isfinite(y[i]);
  return bad;
}

static int draw(plot *p, const job *J, size_t *drawn, size_t *dropped) {
  const table *t = J->t;
  size_t cap = t->nrows + 1;
  double *x = hnn_xmalloc(cap * sizeof *x), *y = hnn_xmalloc(cap * sizeof *y);
  double *c = J->cc >= 0 ? hnn_xmalloc(cap * sizeof *c) : NULL;
  int many = J->ngroups > 10;   /* Monte Carlo runs, particles: thin translucent lines */
  double alpha = !many ? 1 : J->ngroups > 200 ? 0.08 : J->ngroups > 50 ? 0.15 : 0.3;
  int st = 0;
  plot_alpha(p, alpha);
  for (int k = 0; k < J->ny && !st; k++) {
    for (size_t g = 0; g < J->ngroups && !st; g++) {
      size_t n = gather(J, g, J->yc[k], x, y, c);
      char label[96];
      const char *lab = NULL;
      plot_color col = (plot_color)k;
      if (J->gc >= 0 && !many && J->ny == 1) {
        snprintf(label, sizeof label, "%s = %g", t->names[J->gc], J->groups[g]);
        lab = label, col = (plot_color)g;
      } else if (g == 0 && (J->ny > 1 || J->gc >= 0)) {
        lab = t->names[J->yc[k]];
      }
      if (!n) continue;
      size_t bad = not_finite(x, y, n);
      *dropped += bad, *drawn += n - bad;
      if (J->scatter)
        st = plot_scatter_c(p, x, y, n, c, J->ngroups * J->ny > 1 || n > 2000 ? 2 : 3, col,
                            c ? NULL : lab);
      else
        st = plot_line(p, x, y, n, col, many ? 1 : 1.8, lab);
    }
  }
  free(x), free(y), free(c);
  return st;
}

int hnn_plot_csv(hnn_state *S, const char *csv_path, const char *out_path,
                 const hnn_plot_options *opt) {
  hnn_plot_options none;
  memset(&none, 0, sizeof none);
  const hnn_plot_options *o = opt ? opt : &none;
  int scatter = o->scatter || o->color;   /* --color implies --scatter */
  if (!csv_path || !out_path) return fail(S, HNN_ERR_USAGE, "needs a CSV file and an output name");
  /* 0 is the default size; plot_new draws from 16 to 20000 pixels a side */
  if ((o->width && (o->width < 16 || o->width > 20000)) || (o->height && (o->height < 16 || o->height > 20000)))
    return fail(S, HNN_ERR_USAGE, "the image size must be from 16 to 20000 pixels a side, got %dx%d", o->width,
                o->height);
  const char *ext = strrchr(out_path, '.');
  if (!ext || strchr(ext, '/') ||
      (strcasecmp(ext, ".png") && strcasecmp(ext, ".svg") && strcasecmp(ext, ".pdf")))
    return fail(S, HNN_ERR_SCRIPT, "cannot tell the image format of '%s': use a .png, .svg or .pdf name",
                out_path);
  char err[512];
  if (afile_check(out_path, err, sizeof err) != 0) return fail(S, HNN_ERR_RUNTIME, "%s", err);   /* before reading */
  table t;
  memset(&t, 0, sizeof t);
  job J;
  memset(&J, 0, sizeof J);
  J.t = &t, J.o = o, J.gc = J.cc = -1, J.scatter = scatter;
  int st = plotcmd_read_table(S, csv_path, &t);
  int tc = plotcmd_column(&t, "t");
  /* columns */
  if (st == HNN_OK) {
    if (o->x) st = need_column(S, &t, csv_path, o->x, &J.xc);
    else J.xc = tc >= 0 ? tc : 0;
  }
  if (st == HNN_OK && o->group) st = need_column(S, &t, csv_path, o->group, &J.gc);
  else if (st == HNN_OK && !scatter) J.gc = plotcmd_column(&t, "particle");
  if (st == HNN_OK && o->color) st = need_column(S, &t, csv_path, o->color, &J.cc);
  if (st == HNN_OK) J.yc = hnn_xmalloc(((size_t)t.ncols + 1) * sizeof *J.yc);
  if (st == HNN_OK && o->y) {
    for (const char *p = o->y; *p && st == HNN_OK;) {
      size_t len = strcspn(p, ",");
      char *name = strndup(p, len);
      if (!name) return plotcmd_table_free(&t), free(J.yc), HNN_ERR_RUNTIME;
      if (J.ny < t.ncols) st = need_column(S, &t, csv_path, name, &J.yc[J.ny++]);
      free(name);
      p += len + (p[len] == ',');
    }
  } else if (st == HNN_OK) {
    for (int j = 0; j < t.ncols; j++)
      if (j != J.xc && j != J.gc && j != J.cc && !is_index_name(t.names[j])) J.yc[J.ny++] = j;
  }
  if (st == HNN_OK && J.ny == 0)
    st = fail(S, HNN_ERR_SCRIPT, "%s: nothing to plot against '%s' (use --y NAME)", csv_path,
              t.names[J.xc]);
  /* rows */
  if (st == HNN_OK) {
    J.keep = hnn_xmalloc(t.nrows);
    memset(J.keep, 1, t.nrows);
    if (o->last) {
      if (tc < 0) st = fail(S, HNN_ERR_SCRIPT, "--last needs a column 't' in %s", csv_path);
      else
        for (size_t r = 0; r < t.nrows; r++)
          J.keep[r] = t.d[r * t.ncols + tc] == t.d[(t.nrows - 1) * t.ncols + tc];
    }
  }
  plot *p = NULL;
  if (st == HNN_OK) {
    find_groups(&J);
    p = plot_new(o->width > 0 ? o->width : 800, o->height > 0 ? o->height : 600);
    if (!p) st = fail(S, HNN_ERR_USAGE, "bad image size %dx%d", o->width, o->height);
  }
  if (st == HNN_OK) {
    const char *base = strrchr(csv_path, '/');
    char title[256];
    if (o->last && !o->title)
      snprintf(title, sizeof title, "%s, t = %g", base ? base + 1 : csv_path,
               t.d[(t.nrows - 1) * t.ncols + tc]);
    plot_title(p, o->title ? o->title : o->last ? title : base ? base + 1 : csv_path);
    plot_xlabel(p, t.names[J.xc]);
    if (J.ny == 1) plot_ylabel(p, t.names[J.yc[0]]);
    if (J.cc >= 0) plot_colorbar_label(p, t.names[J.cc]);
    plot_logx(p, o->logx), plot_logy(p, o->logy);
    size_t drawn = 0, dropped = 0;
    if (draw(p, &J, &drawn, &dropped) != 0) st = fail(S, HNN_ERR_RUNTIME, "out of memory");
    else if (dropped)
      state_warn(S, "plot %s: %zu of %zu points are not finite and left out", csv_path, dropped, drawn + dropped);
  }
  if (st == HNN_OK && plot_save(p, out_path, err, sizeof err) != 0)
    st = fail(S, HNN_ERR_RUNTIME, "%s", err);
  plot_free(p);
  plotcmd_table_free(&t);
  free(J.yc), free(J.keep), free(J.groups);
  return st;
}
