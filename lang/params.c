/*
** params.c — evaluation of param declarations, and the CSV reader.
**
** A param is evaluated once, when its unit loads, through the same
** lower -> IR -> JIT path as every other expression; random draws come from
** the param's own stream (master seed, name), so adding a param elsewhere in a
** script does not change the draws of the others.
*/
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lower.h"
#include "rng.h"
#include "state.h"
#include "strbuf.h"

static void fill_from(sym *p, const double *vals, size_t count) {
  size_t n = (size_t)ir_shape_size(p->shape);
  for (size_t i = 0; i < n; i++) p->data[i] = count == 1 ? vals[0] : vals[i];
}

int params_evaluate(hnn_state *S, sym *p) {
  ast *init = p->override ? p->override : p->decl->kids[p->decl->ndims];
  ir_ctx *ir = ir_ctx_new();
  gsl_rng *rng = rng_stream(S->seed, RNG_PARAM, rng_name_index(p->name));
  double **bufs = NULL;
  int nbufs = 0, status = 0;
  ir_node *r = rng ? lower_param(S, ir, p, rng, &bufs, &nbufs) : NULL;
  size_t n = (size_t)ir_shape_size(p->shape);
  free(p->data);
  p->data = hnn_xcalloc(n, sizeof *p->data);
  if (!r) {
    status = 1;
  } else {
    /* a failed numeric inverse leaves NaN, reported below as non-finite */
    size_t m = (size_t)ir_shape_size(r->shape);
    double *val = hnn_xcalloc(m, sizeof *val);
    if (state_eval_ir(S, r, val) < 0) status = 1;
    else fill_from(p, val, m);
    free(val);
  }
  for (size_t i = 0; status == 0 && i < n; i++)
    if (!isfinite(p->data[i])) {
      if (n == 1)
        diag_error(&S->diags, init->src, init->loc, "param '%s' evaluates to %g", p->name, p->data[i]);
      else
        diag_error(&S->diags, init->src, init->loc, "param '%s' has a non-finite element %zu (%g)", p->name, i + 1,
                   p->data[i]);
      status = 1;
    }
  for (int i = 0; i < nbufs; i++) free(bufs[i]);
  free(bufs);
  if (rng) gsl_rng_free(rng);
  ir_ctx_free(ir);
  p->evaluated = status == 0;
  return status;
}

/* ----------------------------------------------------------------- CSV */

static char *resolve(const char *path, const char *base) {
  FILE *f;
  if (path[0] == '/' || (f = fopen(path, "r")) != NULL || !base || !strchr(base, '/')) {
    if (path[0] != '/' && f) fclose(f);
    return hnn_xstrdup(path);
  }
  strbuf b = STRBUF_INIT;
  sb_putn(&b, base, (size_t)(strrchr(base, '/') - base + 1));
  sb_puts(&b, path);
  return sb_take(&b);
}

static int split(char *line, char **fields, int max) {
  int n = 0;
  char *p = line;
  int commas = strchr(line, ',') != NULL || strchr(line, ';') != NULL;
  while (*p) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) break;
    if (n == max) return -1;
    fields[n++] = p;
    if (commas) {
      p += strcspn(p, ",;");
      if (*p) *p++ = '\0';
    } else {
      p += strcspn(p, " \t");
      if (*p) *p++ = '\0';
    }
  }
  for (int i = 0; i < n; i++) {
    char *e = fields[i] + strlen(fields[i]);
    while (e > fields[i] && isspace((unsigned char)e[-1])) *--e = '\0';
  }
  return n;
}

/* 1 a number, 0 not a number, -1 a number too large for a double (an
** underflow reads as the nearest double, 0 or subnormal). */
static int numeric(const char *s, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  if (!*s || *end != '\0') return 0;
  return errno == ERANGE && fabs(*v) > 1 ? -1 : 1;
}

int csv_load(const char *path, const char *base_dir, double **data, int *rows, int *cols, char ***header,
             char **err) {
  enum { MAXF = 4096 };
  char *full = resolve(path, base_dir);
  FILE *f = fopen(full, "r");
  strbuf e = STRBUF_INIT;
  *data = NULL;
  *rows = *cols = 0;
  *header = NULL;
  struct stat st;
  if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    f = NULL;
    errno = EISDIR;
  }
  if (!f) {
    sb_printf(&e, "cannot open csv file '%s': %s", full, strerror(errno));
    free(full);
    *err = sb_take(&e);
    return 1;
  }
  char *line = NULL, **fields = hnn_xmalloc(MAXF * sizeof *fields);
  size_t cap = 0, ndata = 0, capdata = 0;
  double *d = NULL;
  int lineno = 0, status = 0;
  while (getline(&line, &cap, f) > 0) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    char *s = line;
    while (isspace((unsigned char)*s)) s++;
    if (!*s || *s == '#') continue;
    int n = split(s, fields, MAXF);
    if (n <= 0) {
      sb_printf(&e, "%s:%d: too many fields (at most %d)", full, lineno, MAXF);
      status = 1;
      break;
    }
    double v;
    if (*rows == 0 && !*header && numeric(fields[0], &v) == 0) {
      *header = hnn_xcalloc((size_t)n, sizeof **header);
      for (int j = 0; j < n; j++) (*header)[j] = hnn_xstrdup(fields[j]);
      *cols = n;
      continue;
    }
    if (*cols == 0) *cols = n;
    if (n != *cols) {
      sb_printf(&e, "%s:%d: row has %d field%s, expected %d", full, lineno, n, n == 1 ? "" : "s", *cols);
      status = 1;
      break;
    }
    for (int j = 0; j < n; j++) {
      int num = numeric(fields[j], &v);
      if (num <= 0 || !isfinite(v)) {
        sb_printf(&e, "%s:%d:%d: field %d ('%s') ", full, lineno, (int)(fields[j] - line) + 1, j + 1, fields[j]);
        sb_puts(&e, num < 0 ? "is out of the range of a double (about 1.8e308)" : "is not a finite number");
        status = 1;
        break;
      }
      if (ndata == capdata) {
        capdata = capdata ? 2 * capdata : 256;
        d = hnn_xrealloc(d, capdata * sizeof *d);
      }
      d[ndata++] = v;
    }
    if (status) break;
    (*rows)++;
  }
  if (!status && ferror(f)) {
    sb_printf(&e, "cannot read csv file '%s': %s", full, strerror(errno));
    status = 1;
  }
  if (!status && *rows == 0) {
    sb_printf(&e, "%s: no data rows", full);
    status = 1;
  }
  fclose(f);
  free(line);
  free(fields);
  free(full);
  if (status) {
    free(d);
    if (*header)
      for (int j = 0; j < *cols; j++) free((*header)[j]);
    free(*header);
    *header = NULL;
    *err = sb_take(&e);
    return 1;
  }
  *data = d;
  return 0;
}
