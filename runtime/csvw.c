/*
** csvw.c — atomic CSV writer for run output (see csvw.h), on afile.h.
*/
#define _POSIX_C_SOURCE 200809L
#include "csvw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "numfmt.h"

struct csvw {
  FILE *f;
  char *path, *tmp;      /* tmp NULL: written straight through (afile.h) */
  int n, failed;
  int err;               /* errno of the first failed write */
};

static void put_comment(FILE *f, const char *s) {
  fputs("# ", f);
  for (; *s; s++) fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
  fputc('\n', f);
}

static void werr(char *err, size_t len, const char *what, const char *path, int e) {
  if (err && len) snprintf(err, len, "%s '%s': %s", what, path, strerror(e));
}

/* Remember the first failure's errno: later calls (a flush at close) may
** see another one, and the first says why (ENOSPC, EDQUOT, EIO). */
static void note_failure(csvw *w) {
  if (!w->failed) w->failed = 1, w->err = errno;
}

static void release(csvw *w) {
  free(w->tmp);
  free(w->path);
  free(w);
}

csvw *csvw_open(const char *path, int n, const char *const *comments, int ncomments,
                const char *const *names, char *err, size_t errlen) {
  csvw *w = calloc(1, sizeof *w);
  if (!w || !(w->path = strdup(path))) {
    free(w);
    if (err && errlen) snprintf(err, errlen, "out of memory");
    return NULL;
  }
  w->n = n;
  int opened;
  if (!(w->f = afile_open(path, "w", &w->tmp, &opened))) {
    werr(err, errlen, "cannot write", path, errno);
    release(w);
    return NULL;
  }
  /* the column names first: numpy.genfromtxt(names=True) reads them from
  ** the first line; loadtxt and gnuplot skip every '#' line */
  fputs("# t,step", w->f);
  for (int i = 0; i < n; i++) {
    if (names) {
      fputc(',', w->f);
      for (const char *s = names[i]; *s; s++) fputc(*s == '\n' || *s == ',' ? '_' : *s, w->f);
    } else {
      fprintf(w->f, ",x%d", i + 1);
    }
  }
  fputc('\n', w->f);
  for (int i = 0; i < ncomments; i++) put_comment(w->f, comments[i]);
  if (ferror(w->f)) note_failure(w);
  return w;
}

/* the decimal digits of step, with its sign */
static int put_long(char *p, long step) {
  char tmp[24];
  int len = 0, neg = step < 0;
  unsigned long u = neg ? 0ul - (unsigned long)step : (unsigned long)step;
  do tmp[len++] = (char)('0' + u % 10);
  while (u /= 10);
  char *q = p;
  if (neg) *q++ = '-';
  while (len) *q++ = tmp[--len];
  return (int)(q - p);
}

int csvw_put_row(FILE *f, double t, long step, const double *x, int n) {
  char line[4096];
  int len = numfmt_g17(line, t);
  line[len++] = ',';
  len += put_long(line + len, step);
  for (int i = 0; i < n; i++) {
    if (len > (int)sizeof line - NUMFMT_G17_LEN - 2) {
      if (fwrite(line, 1, (size_t)len, f) != (size_t)len) return EOF;
      len = 0;
    }
    line[len++] = ',';
    len += numfmt_g17(line + len, x[i]);
  }
  line[len++] = '\n';
  return fwrite(line, 1, (size_t)len, f) == (size_t)len ? 0 : EOF;
}

void csvw_fail(csvw *w, int err) {
  errno = err;
  note_failure(w);
}

int csvw_row(csvw *w, double t, long step, const double *x, int n) {
  if (!w->failed && n != w->n) errno = EINVAL, note_failure(w);
  if (!w->failed && (csvw_put_row(w->f, t, step, x, n) != 0 || ferror(w->f))) note_failure(w);
  if (w->failed) errno = w->err;   /* the caller's message can say why */
  return w->failed;
}

int csvw_emit(void *ctx, double t, long step, const double *x, int n) {
  return csvw_row(ctx, t, step, x, n);
}

int csvw_commit(csvw *w, char *err, size_t errlen) {
  int rc = afile_close(w->f, w->tmp, w->path, !w->failed);
  if (w->failed || rc == 1) werr(err, errlen, "cannot write", w->path, w->failed ? w->err : errno);
  else if (rc == 2) werr(err, errlen, "cannot rename the output into", w->path, errno);
  int bad = w->failed || rc;
  release(w);
  return bad ? 3 : 0;
}

void csvw_abort(csvw *w) {
  if (!w) return;
  afile_close(w->f, w->tmp, w->path, 0);
  release(w);
}
