/*
** dltable.c — fills a symbol table from a library opened on demand.
*/
#include "dltable.h"

#include <dlfcn.h>
#include <stdio.h>

int dltable_load(const char *soname, const char *what, const char *const *names, void **slots, int n, char *err,
                 size_t errlen) {
  void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(err, errlen, "cannot load %s: %s", what, dlerror());
    return -1;
  }
  for (int i = 0; i < n; i++)
    if (!(slots[i] = dlsym(h, names[i]))) {
      snprintf(err, errlen, "cannot load %s: %s has no %s", what, soname, names[i]);
      return -1;
    }
  return 0;
}
