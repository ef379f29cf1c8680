/*
** dltable.c — fills a symbol table from a library opened on demand.
*/
#include "dltable.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int dltable_load(const char *soname, const char *what, const char *const *names, int n, void *table, char *err,
                 size_t errlen) {
  void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(err, errlen, "cannot load %s: %s", what, dlerror());
    return -1;
  }
  for (int i = 0; i < n; i++) {
    void *sym = dlsym(h, names[i]);
    if (!sym) {
      snprintf(err, errlen, "cannot load %s: %s has no %s", what, soname, names[i]);
      return -1;
    }
    /* object -> function pointer through memory, as dlsym users do */
    memcpy((char *)table + (size_t)i * sizeof sym, &sym, sizeof sym);
  }
  return 0;
}
