/*
** testenv.h — what the language-level unit tests share: an interpreter
** state writing into a temporary directory (print output to a temporary
** file), loading scripts that must succeed, and reading back the CSV files
** the runs wrote.
*/
#ifndef HNN_TESTENV_H
#define HNN_TESTENV_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hnn.h"

/* HNN_TEST_VERBOSE=1 prints the measured agreements. */
static inline void report(const char *fmt, ...) {
  if (!getenv("HNN_TEST_VERBOSE")) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

typedef struct {
  hnn_state *S;
  char dir[64];
  FILE *out;            /* print output and run summaries */
} env;

/* A state whose runs write under a new directory /tmp/hnn-NAME-XXXXXX. */
static inline void env_open(env *e, const char *name) {
  snprintf(e->dir, sizeof e->dir, "/tmp/hnn-%s-XXXXXX", name);
  ck_assert_ptr_nonnull(mkdtemp(e->dir));
  e->out = tmpfile();
  ck_assert_ptr_nonnull(e->out);
  e->S = hnn_open();
  ck_assert_ptr_nonnull(e->S);
  hnn_set_output(e->S, e->out);
  ck_assert_int_eq(hnn_set_output_dir(e->S, e->dir), HNN_OK);
}

static inline void env_close(env *e) {
  hnn_close(e->S);
  fclose(e->out);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", e->dir);
}

static inline void load_ok(env *e, const char *text) {
  int st = hnn_load_string(e->S, text, "t.hnn");
  ck_assert_msg(st == HNN_OK, "script failed (%d): %s", st, hnn_error(e->S));
}

/* A CSV file: '#' lines skipped, every row the same width. */
typedef struct {
  int rows, cols;
  double *d;
} csv;

static inline double at(const csv *c, int r, int j) { return c->d[(size_t)r * c->cols + j]; }

static inline csv read_csv_path(const char *path) {
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "no file %s", path);
  csv c = { 0, 0, NULL };
  size_t cap = 0, len = 0;
  static char line[65536];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    int cols = 0;
    for (char *p = line, *end;; p = end + 1) {
      double v = strtod(p, &end);
      ck_assert_msg(end != p, "%s: not a number in '%s'", path, line);
      if (len == cap) c.d = realloc(c.d, (cap = cap ? 2 * cap : 256) * sizeof *c.d);
      c.d[len++] = v;
      cols++;
      if (*end != ',') break;
    }
    if (c.rows == 0) c.cols = cols;
    ck_assert_int_eq(cols, c.cols);
    c.rows++;
  }
  fclose(f);
  ck_assert_int_gt(c.rows, 0);
  return c;
}

/* A file of e's run directory. */
static inline csv read_csv(env *e, const char *name) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", e->dir, name);
  return read_csv_path(path);
}

/* A file's bytes, NUL-terminated (the caller frees); its length in *len
** when len is not NULL.  For byte-for-byte comparisons of run files. */
static inline char *file_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "no file %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *s = calloc((size_t)n + 1, 1);
  ck_assert_int_eq((long)fread(s, 1, (size_t)n, f), n);
  fclose(f);
  if (len) *len = (size_t)n;
  return s;
}

/* The bytes of a file of e's run directory. */
static inline char *env_file_bytes(env *e, const char *name, size_t *len) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", e->dir, name);
  return file_bytes(path, len);
}

#endif
