/*
** strbuf.c — growable strings and checked allocation.
*/
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

static void out_of_memory(size_t n) {
  fprintf(stderr, "hnn: error: out of memory (asked for %zu bytes)\n", n);
  exit(3);
}

void *hnn_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) out_of_memory(n);
  return p;
}

void *hnn_xcalloc(size_t n, size_t m) {
  void *p = calloc(n ? n : 1, m ? m : 1);
  if (!p) out_of_memory(n * m);
  return p;
}

void *hnn_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) out_of_memory(n);
  return q;
}

char *hnn_xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = hnn_xmalloc(n);
  memcpy(p, s, n);
  return p;
}

static void reserve(strbuf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) cap *= 2;
  b->s = hnn_xrealloc(b->s, cap);
  b->cap = cap;
}

void sb_putn(strbuf *b, const char *s, size_t n) {
  reserve(b, n);
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void sb_putc(strbuf *b, char c) { sb_putn(b, &c, 1); }
void sb_puts(strbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

void sb_vprintf(strbuf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return;
  reserve(b, (size_t)n);
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void sb_printf(strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(b, fmt, ap);
  va_end(ap);
}

void sb_double(strbuf *b, double v) {
  char tmp[40];
  int prec = 1;
  for (; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  /* %g switches to an exponent when the precision is below the number of
  ** integer digits (620 -> "6.2e+02"): give plain integers their digits. */
  double a = fabs(v);
  if (a >= 1 && a < 1e16 && strchr(tmp, 'e')) {
    int digits = (int)floor(log10(a)) + 1;
    snprintf(tmp, sizeof tmp, "%.*g", digits > prec ? digits : prec, v);
  }
  sb_puts(b, tmp);
}

char *sb_take(strbuf *b) {
  char *s = b->s ? b->s : hnn_xstrdup("");
  b->s = NULL;
  b->len = b->cap = 0;
  return s;
}

void sb_free(strbuf *b) {
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}
