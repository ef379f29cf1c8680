/*
** csvw.c — atomic CSV writer for run output (see csvw.h).
** POSIX: mkstemp in the target's directory, fchmod to 0666 & ~umask, rename.
*/
#define _POSIX_C_SOURCE 200809L
#include "csvw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct csvw {
  FILE *f;
  char *path, *tmp;
  int n, failed;
};

static void put_comment(FILE *f, const char *s) {
  fputs("# ", f);
  for (; *s; s++) fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
  fputc('\n', f);
}

static void werr(char *err, size_t len, const char *what, const char *path) {
  if (err && len) snprintf(err, len, "%s '%s': %s", what, path, strerror(errno));
}

csvw *csvw_open(const char *path, int n, const char *const *comments, int ncomments,
                const char *const *names, char *err, size_t errlen) {
  csvw *w = calloc(1, sizeof *w);
  size_t len = strlen(path);
  if (!w || !(w->path = malloc(len + 1)) || !(w->tmp = malloc(len + 16))) {
    if (w) free(w->path);
    free(w);
    if (err && errlen) snprintf(err, errlen, "out of memory");
    return NULL;
  }
  memcpy(w->path, path, len + 1);
  snprintf(w->tmp, len + 16, "%s.tmp.XXXXXX", path);
  w->n = n;
  int fd = mkstemp(w->tmp);
  if (fd < 0) {
    werr(err, errlen, "cannot create a temporary file for", path);
    free(w->tmp);
    free(w->path);
    free(w);
    return NULL;
  }
  mode_t um = umask(0);
  umask(um);
  if (fchmod(fd, 0666 & ~um) || !(w->f = fdopen(fd, "w"))) {
    werr(err, errlen, "cannot write", w->tmp);
    close(fd);
    unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w);
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
  if (ferror(w->f)) w->failed = 1;
  return w;
}

int csvw_row(csvw *w, double t, long step, const double *x, int n) {
  if (w->failed) return 1;
  if (n != w->n) {
    w->failed = 1;
    errno = EINVAL;
    return 1;
  }
  fprintf(w->f, "%.17g,%ld", t, step);
  for (int i = 0; i < n; i++) fprintf(w->f, ",%.17g", x[i]);
  if (fputc('\n', w->f) == EOF || ferror(w->f)) w->failed = 1;
  return w->failed;
}

int csvw_emit(void *ctx, double t, long step, const double *x, int n) {
  return csvw_row(ctx, t, step, x, n);
}

static void release(csvw *w) {
  free(w->tmp);
  free(w->path);
  free(w);
}

int csvw_commit(csvw *w, char *err, size_t errlen) {
  int bad = w->failed;
  /* no fsync: the rename protects against failed runs (the goal), and an
  ** fsync would cost milliseconds per output file */
  if (!bad && fflush(w->f)) bad = 1;
  if (fclose(w->f) && !bad) bad = 1;
  if (bad) {
    werr(err, errlen, "write error on", w->tmp);
  } else if (rename(w->tmp, w->path)) {
    werr(err, errlen, "cannot rename the output into", w->path);
    bad = 1;
  }
  if (bad) unlink(w->tmp);
  release(w);
  return bad ? 3 : 0;
}

void csvw_abort(csvw *w) {
  if (!w) return;
  fclose(w->f);
  unlink(w->tmp);
  release(w);
}
