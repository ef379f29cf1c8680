/*
** diag.c — rendering of diagnostics with source line and caret.
*/
#include "diag.h"

#include <stdlib.h>
#include <string.h>

void diag_init(diag_list *d) { memset(d, 0, sizeof *d); }

void diag_clear(diag_list *d) {
  sb_free(&d->text);
  free(d->first_file);
  diag_init(d);
}

/* Append the line `line` of text and a caret line under columns [col, endcol]. */
static void show_line(strbuf *b, const char *text, int line, int off, int col, int endcol) {
  const char *p = text;
  for (int l = 1; l < line && p; l++) {
    p = strchr(p, '\n');
    if (p) p++;
  }
  if (!p || !*p) return;
  size_t len = strcspn(p, "\n");
  /* Show at most 160 characters, in a window that holds the caret. */
  int first = col > 120 ? col - 80 : 1;
  if ((size_t)(first - 1) > len) first = 1;
  p += first - 1;
  len -= (size_t)(first - 1);
  if (len > 160) len = 160;
  col -= first - 1;
  endcol -= first - 1;
  sb_printf(b, "%5d | %s", line + off, first > 1 ? "..." : "");
  sb_putn(b, p, len);
  sb_printf(b, "\n      | %s", first > 1 ? "   " : "");
  for (int c = 1; c < col && (size_t)(c - 1) < len; c++) sb_putc(b, p[c - 1] == '\t' ? '\t' : ' ');
  sb_putc(b, '^');
  for (int c = col + 1; c <= endcol && (size_t)(c - 1) < len; c++) sb_putc(b, '~');
  sb_putc(b, '\n');
}

static void emit(diag_list *d, const hnn_src *src, hnn_loc loc, const char *kind,
                 const char *fmt, va_list ap) {
  const char *file = src ? src->name : "<input>";
  int off = src ? src->line_offset : 0;
  sb_printf(&d->text, "%s:%d:%d: %s: ", file, loc.line + off, loc.col, kind);
  sb_vprintf(&d->text, fmt, ap);
  sb_putc(&d->text, '\n');
  if (src && loc.line > 0) {
    int endcol = loc.end_line == loc.line ? loc.end_col : loc.col;
    show_line(&d->text, src->text, loc.line, off, loc.col, endcol);
  }
}

void diag_verror(diag_list *d, const hnn_src *src, hnn_loc loc, const char *fmt, va_list ap) {
  if (d->nerrors++ == 0) {
    free(d->first_file);
    d->first_file = hnn_xstrdup(src ? src->name : "<input>");
    d->first_line = loc.line + (src ? src->line_offset : 0);
    d->first_col = loc.col;
  }
  emit(d, src, loc, "error", fmt, ap);
}

void diag_error(diag_list *d, const hnn_src *src, hnn_loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(d, src, loc, fmt, ap);
  va_end(ap);
}

void diag_note(diag_list *d, const hnn_src *src, hnn_loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(d, src, loc, "note", fmt, ap);
  va_end(ap);
}

void diag_plain(diag_list *d, const char *fmt, ...) {
  if (d->nerrors++ == 0) {
    free(d->first_file);
    d->first_file = NULL;
    d->first_line = d->first_col = 0;
  }
  va_list ap;
  va_start(ap, fmt);
  sb_puts(&d->text, "hnn: error: ");
  sb_vprintf(&d->text, fmt, ap);
  sb_putc(&d->text, '\n');
  va_end(ap);
}
