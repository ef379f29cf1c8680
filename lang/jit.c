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

typedef double (*d1)(double);
typedef double (*d2)(double, double);

/* Wrappers give each libm entry one address of a known type, whether libm
** implements it as a function or the compiler as a builtin. */
#define W1(f) static double w_##f(double x) { return f(x); }
#define W2(f) static double w_##f(double x, double y) { return f(x, y); }
W1(exp) W1(log) W1(log1p) W1(expm1) W1(sqrt) W1(sin) W1(cos) W1(tan) W1(asin) W1(acos)
W1(atan) W1(sinh) W1(cosh) W1(tanh) W1(asinh) W1(acosh) W1(atanh) W1(erf) W1(fabs)
W1(floor) W1(ceil) W1(log2) W1(log10) W1(cbrt) W1(erfc)
W2(pow) W2(fmin) W2(fmax) W2(atan2) W2(hypot) W2(fmod)
#undef W1
#undef W2

static void *w_memset(void *d, int c, size_t n) { return memset(d, c, n); }
static void *w_memcpy(void *d, const void *s, size_t n) { return memcpy(d, s, n); }
static void *w_memmove(void *d, const void *s, size_t n) { return memmove(d, s, n); }

static const struct { const char *name; const void *addr; } builtins[] = {
#define E(f) {#f, (const void *)w_##f}
  E(exp), E(log), E(log1p), E(expm1), E(sqrt), E(sin), E(cos), E(tan), E(asin), E(acos),
  E(atan), E(sinh), E(cosh), E(tanh), E(asinh), E(acosh), E(atanh), E(erf), E(fabs),
  E(floor), E(ceil), E(log2), E(log10), E(cbrt), E(erfc),
  E(pow), E(fmin), E(fmax), E(atan2), E(hypot), E(fmod),
  E(memset), E(memcpy), E(memmove),
#undef E
  {"hnn_rt_spd_inverse", (const void *)hnn_rt_spd_inverse},
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
         "int hnn_rt_spd_inverse(const double *a, double *ainv, int n);\n";
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
