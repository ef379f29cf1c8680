/*
** jit.c — the only file that talks to libtcc.
**
** jit_compile turns generated C into callable code in memory.  The Debian
** libtcc (2020-08-14 snapshot) keeps global state, relocates without its own
** lock and, with -nostdlib, resolves nothing from the host process: so one
** process-wide mutex guards every libtcc call (tcc_delete included), every
** function the generated code may call is registered here explicitly (this
** table is also the sandbox), and every return value is checked.  Only fixed
** options are passed, because an unknown option makes this libtcc exit().
*/
#include "jit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libtcc.h>

#include "geocoord.h"
#include "geodesic.h"
#include "spd.h"
#include "strbuf.h"

/* libtcc after 2024 dropped tcc_relocate's second argument; the build
** defines HNN_TCC_RELOCATE_1ARG when configure finds that signature. */
#ifdef HNN_TCC_RELOCATE_1ARG
#define RELOCATE(s) tcc_relocate(s)
#else
#define RELOCATE(s) tcc_relocate(s, TCC_RELOCATE_AUTO)
#endif

#ifndef HNN_TCC_LIBDIR
#define HNN_TCC_LIBDIR "/usr/lib/x86_64-linux-gnu/tcc"
#endif

struct jit_module {
  TCCState *s;
};

static pthread_mutex_t jit_lock = PTHREAD_MUTEX_INITIALIZER;

/* The generated code calls libm directly (its addresses are registered
** below); memset/memcpy/memmove go through wrappers because the compiler
** may treat them as builtins with no address of their own. */
static void *w_memset(void *d, int c, size_t n) { return memset(d, c, n); }
static void *w_memcpy(void *d, const void *s, size_t n) { return memcpy(d, s, n); }
static void *w_memmove(void *d, const void *s, size_t n) { return memmove(d, s, n); }

typedef double (*d1)(double);
typedef double (*d2)(double, double);

static const struct { const char *name; const void *addr; } builtins[] = {
#define F1(f) {#f, (const void *)(d1)f}
#define F2(f) {#f, (const void *)(d2)f}
  F1(exp), F1(log), F1(log1p), F1(expm1), F1(sqrt), F1(sin), F1(cos), F1(tan), F1(asin), F1(acos),
  F1(atan), F1(sinh), F1(cosh), F1(tanh), F1(asinh), F1(acosh), F1(atanh), F1(erf), F1(fabs),
  F1(floor), F1(ceil), F1(log2), F1(log10), F1(cbrt), F1(erfc),
  F2(pow), F2(fmin), F2(fmax), F2(atan2), F2(hypot), F2(fmod),
#undef F1
#undef F2
  {"memset", (const void *)w_memset}, {"memcpy", (const void *)w_memcpy}, {"memmove", (const void *)w_memmove},
  {"hnn_rt_spd_inverse", (const void *)hnn_rt_spd_inverse},
  {"hnn_rt_quad", (const void *)hnn_rt_quad},
  {"hnn_rt_geodesic", (const void *)hnn_rt_geodesic},
};

const char *jit_prelude(void) {
  return "typedef unsigned long size_t;\n"
         "double exp(double); double log(double); double log1p(double); double expm1(double);\n"
         "double sqrt(double); double sin(double); double cos(double); double tan(double);\n"
         "double asin(double); double acos(double); double atan(double); double sinh(double);\n"
         "double cosh(double); double tanh(double); double asinh(double); double acosh(double);\n"
         "double atanh(double); double erf(double); double fabs(double); double floor(double);\n"
         "double ceil(double); double log2(double); double log10(double); double cbrt(double);\n"
         "double erfc(double); double pow(double, double); double fmin(double, double);\n"
         "double fmax(double, double); double atan2(double, double); double hypot(double, double);\n"
         "double fmod(double, double);\n"
         "void *memset(void *, int, size_t); void *memcpy(void *, const void *, size_t);\n"
         "void *memmove(void *, const void *, size_t);\n"
         "int hnn_rt_spd_inverse(const double *a, double *ainv, int n);\n"
         "double hnn_rt_quad(double (*f)(double, double), double lo, double hi, double p, int *st);\n"
         "double hnn_rt_geodesic(void *ctx, const double *x, const double *y, int *st);\n";
}

static void on_error(void *opaque, const char *msg) {
  strbuf *b = opaque;
  sb_puts(b, msg);
  sb_putc(b, '\n');
}

jit_module *jit_compile(const char *source, int nsym, const jit_symbol *syms, char **err) {
  strbuf msgs = STRBUF_INIT;
  jit_module *m = NULL;
  const char *libdir = getenv("HNN_TCC_LIBDIR");
  if (!libdir || !*libdir) libdir = HNN_TCC_LIBDIR;
  if (err) *err = NULL;
  pthread_mutex_lock(&jit_lock);
  TCCState *s = tcc_new();
  if (!s) {
    sb_puts(&msgs, "tcc_new failed\n");
    goto done;
  }
  tcc_set_error_func(s, &msgs, on_error);
  tcc_set_lib_path(s, libdir);
  tcc_set_options(s, "-nostdlib");
  if (tcc_set_output_type(s, TCC_OUTPUT_MEMORY) < 0) goto fail;
  if (tcc_compile_string(s, source) < 0) goto fail;
  for (size_t k = 0; k < sizeof builtins / sizeof builtins[0]; k++)
    if (tcc_add_symbol(s, builtins[k].name, builtins[k].addr) < 0) goto fail;
  for (int k = 0; k < nsym; k++)
    if (tcc_add_symbol(s, syms[k].name, syms[k].addr) < 0) goto fail;
  if (RELOCATE(s) < 0) goto fail;
  m = hnn_xmalloc(sizeof *m);
  m->s = s;
  goto done;
fail:
  if (!msgs.len) sb_puts(&msgs, "compilation failed\n");
  tcc_delete(s);
done:
  pthread_mutex_unlock(&jit_lock);
  if (m) sb_free(&msgs);
  else if (err) *err = sb_take(&msgs);
  else sb_free(&msgs);
  return m;
}

jit_fn jit_lookup(jit_module *m, const char *name) {
  if (!m) return NULL;
  pthread_mutex_lock(&jit_lock);
  void *p = tcc_get_symbol(m->s, name);
  pthread_mutex_unlock(&jit_lock);
  jit_fn f;
  memcpy(&f, &p, sizeof f);   /* object -> function pointer, as dlsym users do */
  return p ? f : NULL;
}

void jit_module_free(jit_module *m) {
  if (!m) return;
  pthread_mutex_lock(&jit_lock);
  tcc_delete(m->s);
  pthread_mutex_unlock(&jit_lock);
  free(m);
}
