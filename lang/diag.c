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

/* Control bytes of the input (an escape sequence in a name, a string or a
** data file) are shown as \xNN, never sent to the terminal raw. */
static int is_control(unsigned char c) { return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f; }

static void put_escaped(strbuf *b, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (is_control((unsigned char)p[i])) sb_printf(b, "\\x%02x", (unsigned char)p[i]);
    else sb_putc(b, p[i]);
  }
}

char *diag_escape(const char *text) {
  strbuf b = STRBUF_INIT;
  put_escaped(&b, text, strlen(text));
  return sb_take(&b);
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
  put_escaped(b, p, len);
  sb_printf(b, "\n      | %s", first > 1 ? "   " : "");
  for (int c = 1; c < col && (size_t)(c - 1) < len; c++) {
    char ch = p[c - 1];
    sb_puts(b, ch == '\t' ? "\t" : is_control((unsigned char)ch) ? "    " : " ");
  }
  sb_puts(b, (size_t)col <= len && is_control((unsigned char)p[col - 1]) ? "^~~~" : "^");
  for (int c = col + 1; c <= endcol && (size_t)(c - 1) < len; c++)
    sb_puts(b, is_control((unsigned char)p[c - 1]) ? "~~~~" : "~");
  sb_putc(b, '\n');
}

static void emit(diag_list *d, const hnn_src *src, hnn_loc loc, const char *kind,
                 const char *fmt, va_list ap) {
  const char *file = src ? src->name : "<input>";
  int off = src ? src->line_offset : 0;
  strbuf m = STRBUF_INIT;
  sb_printf(&m, "%s:%d:%d: %s: ", file, loc.line + off, loc.col, kind);
  sb_vprintf(&m, fmt, ap);
  put_escaped(&d->text, m.s, m.len);
  sb_free(&m);
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
  strbuf m = STRBUF_INIT;
  sb_puts(&m, "hnn: error: ");
  sb_vprintf(&m, fmt, ap);
  put_escaped(&d->text, m.s, m.len);
  sb_free(&m);
  sb_putc(&d->text, '\n');
  va_end(ap);
}
