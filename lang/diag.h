/*
** diag.h — diagnostics: "file:line:col: error: message", the source line and
** a caret under the span.  Every error of the front end, the checker and the
** loader goes through here, so they all look the same.
*/
#ifndef HNN_DIAG_H
#define HNN_DIAG_H

#include <stdarg.h>

#include "ast.h"
#include "strbuf.h"

typedef struct diag_list {
  strbuf text;          /* all messages, rendered */
  int nerrors;
  char *first_file;     /* place of the first error */
  int first_line, first_col;
  int incomplete;        /* the (only) error is at the end of the input */
} diag_list;

void diag_init(diag_list *d);
void diag_clear(diag_list *d);
void diag_error(diag_list *d, const hnn_src *src, hnn_loc loc, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
void diag_verror(diag_list *d, const hnn_src *src, hnn_loc loc, const char *fmt, va_list ap);
/* A follow-up note ("note: first defined here") that does not count as an error. */
void diag_note(diag_list *d, const hnn_src *src, hnn_loc loc, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
/* An error without a source place: "hnn: error: cannot open 'x.hnn': ...". */
void diag_plain(diag_list *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A copy of text with its control bytes (but tab and newline) written \xNN,
** so that bad input cannot drive the terminal (caller frees). */
char *diag_escape(const char *text);

#endif
