/*
** cairo_lazy.c — fills the cairo function table (see cairo_lazy.h).
*/
#define HNN_CAIRO_LAZY_IMPL
#include "cairo_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

hnn_cairo_api hnn_cairo;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void) {
  /* cairo 1.x keeps this soname; the headers we compiled against are 1.x */
  void *h = dlopen("libcairo.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(load_error, sizeof load_error, "cannot load cairo for plotting: %s", dlerror());
    return;
  }
  hnn_cairo_api api;
#define X(f)                                                                                \
  if (!(*(void **)&api.f = dlsym(h, #f))) {                                                \
    snprintf(load_error, sizeof load_error, "cannot load cairo for plotting: no %s", #f);  \
    return;                                                                                 \
  }
  HNN_CAIRO_FUNCS(X)
#undef X
  hnn_cairo = api;
}

int cairo_lazy_load(char *err, size_t errlen) {
  pthread_once(&once, load);
  if (!load_error[0]) return 0;
  if (err && errlen) snprintf(err, errlen, "%s", load_error);
  return -1;
}
