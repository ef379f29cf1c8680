/*
** dltable.h — a table of symbols from a shared library loaded on demand.
**
** hnn loads cairo (plots) and readline (the interactive REPL) only when it
** needs them: linking them costs every start ~1.4 ms for ~20 libraries.
*/
#ifndef HNN_DLTABLE_H
#define HNN_DLTABLE_H

#include <stddef.h>

/* dlopen soname and fill table, a struct of n pointer members (object or
** function pointers, each the size of void *) declared in the order of
** names, with dlsym(names[i]).  0, or -1 with "cannot load WHAT: reason"
** in err (errlen bytes) and the table not to be used. */
int dltable_load(const char *soname, const char *what, const char *const *names, int n, void *table, char *err,
                 size_t errlen);

/* The table and its names from one X-macro list LIST(X) of symbols, in the
** same order: struct { LIST(DLTABLE_SLOT) } and { LIST(DLTABLE_NAME) }. */
#define DLTABLE_SLOT(f) __typeof__(f) *f;
#define DLTABLE_NAME(f) #f,

#endif
