/*
** runout.c — CSV output of runs (see runout.h).
*/
#include "runout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strbuf.h"

struct run_out {
  FILE *f;
  char *path, *tmp;      /* NULL for standard output */
  strbuf line;
};

static void header(hnn_state *S, FILE *f, int n) {
  fprintf(f, "# hnn %s\n# seed %llu\n", HNN_VERSION, (unsigned long long)S->seed);
  char *params = hnn_list_params(S);
  for (char *p = params; *p;) {
    size_t len = strcspn(p, "\n");
    if (strncmp(p, "# seed", 6) != 0) fprintf(f, "# param %.*s\n", (int)len, p);
    p += len + (p[len] == '\n');
  }
  free(params);
  fputs("# t,step", f);
  for (int i = 1; i <= n; i++) fprintf(f, ",x%d", i);
  fputs(",f\n", f);
}

run_out *run_out_open(hnn_state *S, const char *path, int n, char **err) {
  run_out *o = hnn_xcalloc(1, sizeof *o);
  if (!path) {
    o->f = S->out ? S->out : stdout;
  } else {
    strbuf p = STRBUF_INIT;
    if (S->outdir && path[0] != '/') sb_printf(&p, "%s/", S->outdir);
    sb_puts(&p, path);
    o->path = sb_take(&p);
    sb_printf(&p, "%s.tmp%ld", o->path, (long)getpid());
    o->tmp = sb_take(&p);
    o->f = fopen(o->tmp, "w");
    if (!o->f) {
      strbuf e = STRBUF_INIT;
      sb_printf(&e, "cannot write '%s': %s", o->path, strerror(errno));
      *err = sb_take(&e);
      free(o->path);
      free(o->tmp);
      free(o);
      return NULL;
    }
  }
  header(S, o->f, n);
  return o;
}

int run_out_row(run_out *o, const double *v, int m) {
  o->line.len = 0;
  for (int i = 0; i < m; i++) {
    if (i) sb_putc(&o->line, ',');
    if (i == 1) sb_printf(&o->line, "%.0f", v[i]);
    else sb_double(&o->line, v[i]);
  }
  sb_putc(&o->line, '\n');
  return fwrite(o->line.s, 1, o->line.len, o->f) == o->line.len ? 0 : 1;
}

static void release(run_out *o) {
  sb_free(&o->line);
  free(o->path);
  free(o->tmp);
  free(o);
}

int run_out_close(run_out *o, char **err) {
  int bad = 0;
  if (!o->path) {
    bad = fflush(o->f) != 0;
  } else {
    bad = ferror(o->f) | (fclose(o->f) != 0);
    if (!bad && rename(o->tmp, o->path) != 0) bad = 1;
    if (bad) remove(o->tmp);
  }
  if (bad) {
    strbuf e = STRBUF_INIT;
    sb_printf(&e, "cannot write '%s': %s", o->path ? o->path : "standard output", strerror(errno));
    *err = sb_take(&e);
  }
  release(o);
  return bad;
}

void run_out_abort(run_out *o) {
  if (o->path) {
    fclose(o->f);
    remove(o->tmp);
  } else {
    fflush(o->f);
  }
  release(o);
}
