/*
** runout.c — CSV output of runs (see runout.h): the header comes from the
** state, the file itself from runtime/csvw.c.
*/
#include "runout.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "csvw.h"
#include "strbuf.h"

struct run_out {
  csvw *w;               /* file output, or NULL for standard output */
  FILE *f;
  int ncols;
  double room;           /* rows left under the output limit */
};

void run_out_names(char **names, const char *prefix, int n) {
  for (int i = 0; i < n; i++) {
    strbuf b = STRBUF_INIT;
    sb_printf(&b, "%s%d", prefix, i + 1);
    names[i] = sb_take(&b);
  }
}

/* The '#' lines: version, seed, params in effect. */
static char **header_lines(hnn_state *S, int *count) {
  char *params = hnn_list_params(S);
  int cap = 4, n = 0;
  char **lines = hnn_xmalloc((size_t)cap * sizeof *lines);
  strbuf b = STRBUF_INIT;
  sb_printf(&b, "hnn %s", HNN_VERSION);
  lines[n++] = sb_take(&b);
  sb_printf(&b, "seed %llu", (unsigned long long)S->seed);
  lines[n++] = sb_take(&b);
  for (char *p = params; *p;) {
    size_t len = strcspn(p, "\n");
    if (strncmp(p, "# seed", 6) != 0) {
      if (n == cap) lines = hnn_xrealloc(lines, (size_t)(cap *= 2) * sizeof *lines);
      sb_printf(&b, "param %.*s", (int)len, p);
      lines[n++] = sb_take(&b);
    }
    p += len + (p[len] == '\n');
  }
  free(params);
  *count = n;
  return lines;
}

/* path under the output directory (-o) unless absolute */
static void full_path(hnn_state *S, strbuf *p, const char *path) {
  if (S->outdir && path[0] != '/') sb_printf(p, "%s/", S->outdir);
  sb_puts(p, path);
}

char *run_out_path(hnn_state *S, const char *path) {
  strbuf b = STRBUF_INIT;
  full_path(S, &b, path);
  return sb_take(&b);
}

run_out *run_out_open(hnn_state *S, const char *path, int ncols, const char *const *names, char **err) {
  run_out *o = hnn_xcalloc(1, sizeof *o);
  o->ncols = ncols;
  o->room = floor(S->max_output / (25.0 * (ncols + 2)));
  int nlines;
  char **lines = header_lines(S, &nlines);
  if (path) {
    strbuf p = STRBUF_INIT;
    full_path(S, &p, path);
    char msg[512];
    o->w = csvw_open(p.s, ncols, (const char *const *)lines, nlines, names, msg, sizeof msg);
    sb_free(&p);
    if (!o->w) {
      *err = hnn_xstrdup(msg);
      free(o);
      o = NULL;
    }
  } else {
    /* the layout of a file (csvw.h): the names line first, where
    ** numpy.genfromtxt(names=True) looks for it, then the '#' lines */
    o->f = S->out ? S->out : stdout;
    fputs("# t,step", o->f);
    for (int i = 0; i < ncols; i++) fprintf(o->f, ",%s", names[i]);
    fputc('\n', o->f);
    for (int i = 0; i < nlines; i++) fprintf(o->f, "# %s\n", lines[i]);
  }
  for (int i = 0; i < nlines; i++) free(lines[i]);
  free(lines);
  return o;
}

int run_out_row(run_out *o, double t, long step, const double *v) {
  /* runs whose size prepare could not bound (an adaptive ODE written every
  ** k steps) stop at the output limit: EFBIG is the reason they report */
  if (--o->room < 0) {
    if (o->w) csvw_fail(o->w, EFBIG);
    errno = EFBIG;
    return 1;
  }
  if (o->w) return csvw_row(o->w, t, step, v, o->ncols);
  return csvw_put_row(o->f, t, step, v, o->ncols) != 0;
}

int run_out_close(run_out *o, char **err) {
  int bad = 0;
  if (o->w) {
    char msg[512];
    bad = csvw_commit(o->w, msg, sizeof msg) != 0;
    if (bad) *err = hnn_xstrdup(msg);
  } else if (fflush(o->f) != 0) {
    *err = hnn_xstrdup("cannot write standard output");
    bad = 1;
  }
  free(o);
  return bad;
}

void run_out_abort(run_out *o) {
  if (o->w) csvw_abort(o->w);
  else fflush(o->f);
  free(o);
}

char *run_out_sibling(const char *path, const char *suffix) {
  if (!path) return NULL;
  strbuf b = STRBUF_INIT;
  const char *dot = strrchr(path, '.');
  if (dot && !strchr(dot, '/')) sb_putn(&b, path, (size_t)(dot - path));
  else sb_puts(&b, path);
  sb_puts(&b, suffix);
  sb_puts(&b, ".csv");
  return sb_take(&b);
}

int run_out_check_path(hnn_state *S, ast *at, const char *path) {
  strbuf p = STRBUF_INIT;
  full_path(S, &p, path);
  char msg[1024];
  int bad = afile_check(p.s, msg, sizeof msg) != 0;
  if (bad) diag_error(&S->diags, at->src, at->loc, "%s", msg);
  sb_free(&p);
  return bad;
}

run_out *run_out_open_sibling(hnn_state *S, const char *path, const char *suffix, int ncols, const char *const *names,
                              char **err) {
  char *spath = run_out_sibling(path, suffix);
  run_out *o = run_out_open(S, spath, ncols, names, err);
  free(spath);
  return o;
}

int run_out_finish(run_out *main_out, run_out *sibling, int ok, char **err) {
  int bad = 0;
  if (main_out) {
    if (ok) bad |= run_out_close(main_out, err);
    else run_out_abort(main_out);
  }
  if (sibling) {
    if (ok && !bad) bad |= run_out_close(sibling, err);
    else run_out_abort(sibling);
  }
  return bad;
}
