/*
** jit.h — in-memory compilation of generated C with libtcc.
**
** All libtcc calls live in jit.c.  libtcc keeps global state, so every call is
** serialized behind one process-wide mutex: several hnn states, in one thread
** or several, may compile concurrently.  Generated code is linked with
** -nostdlib and sees only the symbols registered here (libm functions, the
** hnn_rt_* runtime helpers, and the param arrays bound per module): a script
** cannot reach any other C function through the JIT.
*/
#ifndef HNN_JIT_H
#define HNN_JIT_H

#include <stddef.h>

typedef struct jit_module jit_module;

typedef int (*jit_fn)(const double *in, const double *dir, double *out, double *ws);

typedef struct jit_symbol { const char *name; const void *addr; } jit_symbol;

/* Compile `source`, binding the extra symbols (param arrays). Returns NULL on
** failure with the compiler's messages in err (a malloc'd string the caller
** frees). */
jit_module *jit_compile(const char *source, int nsym, const jit_symbol *syms, char **err);
jit_fn jit_lookup(jit_module *, const char *name);   /* NULL if absent */
void jit_module_free(jit_module *);                  /* NULL ok */

/* The table of math and runtime symbols registered into every module, and the
** C prototypes cgen emits for them. */
const char *jit_prelude(void);

#endif
