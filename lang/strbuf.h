/*
** strbuf.h — growable NUL-terminated strings, for generated code and messages.
*/
#ifndef HNN_STRBUF_H
#define HNN_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct strbuf {
  char *s;        /* always NUL-terminated once anything was added */
  size_t len, cap;
} strbuf;

#define STRBUF_INIT { NULL, 0, 0 }

void sb_putc(strbuf *b, char c);
void sb_puts(strbuf *b, const char *s);
void sb_putn(strbuf *b, const char *s, size_t n);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(strbuf *b, const char *fmt, va_list ap);
/* Shortest "%.*g" that reads back to exactly v (1 .. 17 digits). */
void sb_double(strbuf *b, double v);
char *sb_take(strbuf *b);          /* hand over the string (never NULL), reset b */
void sb_free(strbuf *b);

/* Memory: abort-free wrappers; on exhaustion they print one line and exit(3),
** the documented runtime-error status (the only place libhnn exits). */
void *hnn_xmalloc(size_t n);
void *hnn_xcalloc(size_t n, size_t m);
void *hnn_xrealloc(void *p, size_t n);
char *hnn_xstrdup(const char *s);

#endif
