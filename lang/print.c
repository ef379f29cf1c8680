/*
** print.c — values as hnn prints them: numbers in the shortest form that
** reads back exactly, vectors and matrices as nested lists, which Python and
** numpy read back as is (numpy.array([[1, 2], [3, 4]])).
*/
#include <math.h>

#include "state.h"
#include "strbuf.h"

static void number(strbuf *b, double v) {
  if (isnan(v)) sb_puts(b, "nan");
  else if (isinf(v)) sb_puts(b, v > 0 ? "inf" : "-inf");
  else if (v == 0) sb_putc(b, '0');     /* no "-0" */
  else sb_double(b, v);
}

char *print_value(const double *v, ir_shape s) {
  strbuf b = STRBUF_INIT;
  if (s.kind == IR_SCALAR) {
    number(&b, v[0]);
  } else if (s.kind == IR_VECTOR) {
    sb_putc(&b, '[');
    for (int i = 0; i < s.rows; i++) {
      if (i) sb_puts(&b, ", ");
      number(&b, v[i]);
    }
    sb_putc(&b, ']');
  } else {
    sb_putc(&b, '[');
    for (int i = 0; i < s.rows; i++) {
      sb_puts(&b, i ? ", [" : "[");
      for (int j = 0; j < s.cols; j++) {
        if (j) sb_puts(&b, ", ");
        number(&b, v[(size_t)i * s.cols + j]);
      }
      sb_putc(&b, ']');
    }
    sb_putc(&b, ']');
  }
  return sb_take(&b);
}
