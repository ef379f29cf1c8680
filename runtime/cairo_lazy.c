/*
** cairo_lazy.c — fills the cairo function table (see cairo_lazy.h).
*/
#define HNN_CAIRO_LAZY_IMPL
#include "cairo_lazy.h"

#include <pthread.h>
#include <stdio.h>

#include "dltable.h"

hnn_cairo_api hnn_cairo;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void) {
  static const char *const names[] = { HNN_CAIRO_FUNCS(DLTABLE_NAME) };
  enum { N = sizeof names / sizeof *names };
  _Static_assert(sizeof hnn_cairo == N * sizeof(void *), "hnn_cairo is one pointer per name");
  /* cairo 1.x keeps this soname; the headers we compiled against are 1.x */
  dltable_load("libcairo.so.2", "cairo for plotting", names, N, &hnn_cairo, load_error, sizeof load_error);
}

int cairo_lazy_load(char *err, size_t errlen) {
  pthread_once(&once, load);
  if (!load_error[0]) return 0;
  if (err && errlen) snprintf(err, errlen, "%s", load_error);
  return -1;
}
