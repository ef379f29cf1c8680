/*
** cairo_lazy.c — fills the cairo function table (see cairo_lazy.h).
*/
#define HNN_CAIRO_LAZY_IMPL
#include "cairo_lazy.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dltable.h"

hnn_cairo_api hnn_cairo;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void) {
  static const char *const names[] = {
#define X(f) #f,
    HNN_CAIRO_FUNCS(X)
#undef X
  };
  enum { N = sizeof names / sizeof *names };
  void *slot[N];
  /* cairo 1.x keeps this soname; the headers we compiled against are 1.x */
  if (dltable_load("libcairo.so.2", "cairo for plotting", names, slot, N, load_error, sizeof load_error)) return;
  int k = 0;
#define X(f) memcpy(&hnn_cairo.f, &slot[k++], sizeof slot[0]);
  HNN_CAIRO_FUNCS(X)
#undef X
}

int cairo_lazy_load(char *err, size_t errlen) {
  pthread_once(&once, load);
  if (!load_error[0]) return 0;
  if (err && errlen) snprintf(err, errlen, "%s", load_error);
  return -1;
}
