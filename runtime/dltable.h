/*
** dltable.h — a table of symbols from a shared library loaded on demand.
**
** hnn loads cairo (plots) and readline (the interactive REPL) only when it
** needs them: linking them costs every start ~1.4 ms for ~20 libraries.
*/
#ifndef HNN_DLTABLE_H
#define HNN_DLTABLE_H

#include <stddef.h>

/* dlopen soname and set slots[i] = dlsym(names[i]) for i < n.  0, or -1
** with "cannot load WHAT: reason" in err (errlen bytes). */
int dltable_load(const char *soname, const char *what, const char *const *names, void **slots, int n, char *err,
                 size_t errlen);

#endif
