/*
** state.c — the interpreter state: opening and closing, loading units
** (parse, register, check, evaluate params, run prints), `use` modules,
** redefinition, -D overrides.
**
** A load is all or nothing: a unit with an error leaves the state as it was.
*/
#include <errno.h>
#include <gsl/gsl_errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtins.h"
#include "energy.h"
#include "flow.h"
#include "lower.h"
#include "parse.h"
#include "rng.h"
#include "runout.h"
#include "state.h"
#include "strbuf.h"

#ifndef HNN_STDLIB_DIR
#define HNN_STDLIB_DIR "/usr/local/share/hnn/stdlib"
#endif

static pthread_mutex_t gsl_lock = PTHREAD_MUTEX_INITIALIZER;
static int gsl_users;
static gsl_error_handler_t *gsl_saved;

hnn_state *state_new(const state_layers *layers) {
  hnn_state *S = hnn_xcalloc(1, sizeof *S);
  S->layers = layers;
  S->out = stdout;
  S->warn = stderr;
  S->epoch = 1;
  S->max_output = HNN_MAX_OUTPUT_DEFAULT;
  diag_init(&S->diags);
  S->errtext = hnn_xstrdup("");
  pthread_mutex_lock(&gsl_lock);
  if (gsl_users++ == 0) gsl_saved = gsl_set_error_handler_off();
  pthread_mutex_unlock(&gsl_lock);
  return S;
}

static void sym_free(sym *s) {
  if (!s) return;
  free(s->name);
  ast_free(s->decl);
  ast_free(s->override);
  free(s->data);
  free(s->origin);
  free(s->sig.formal);
  for (int g = 0; g < s->sig.ngen; g++) free(s->sig.gen_name[g]);
  free(s->sig.gen_name);
  free(s->sig.gen_min);
  free(s->mact);
  energy_decl_free(s->energy);
  free(s);
}

static void free_strings(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

void hnn_close(hnn_state *S) {
  if (!S) return;
  for (int i = 0; i < S->nsyms; i++) sym_free(S->syms[i]);
  free(S->syms);
  free(S->symindex);
  for (int i = 0; i < S->ngrave; i++) sym_free(S->graveyard[i]);
  free(S->graveyard);
  for (int i = 0; i < S->nrt_ctx; i++) free(S->rt_ctx[i]);
  free(S->rt_ctx);
  for (hnn_fn *f = S->fns, *next; f; f = next) {
    next = f->next;
    free(f->work);
    free(f->key);
    free(f);
  }
  state_batch_free(S);
  for (hnn_module_list *m = S->modules, *next; m; m = next) {
    next = m->next;
    jit_module_free(m->mod);
    free(m->source);
    free(m);
  }
  free_strings(S->def_name, S->ndefs);
  free_strings(S->def_value, S->ndefs);
  free(S->def_used);
  free_strings(S->paths, S->npaths);
  free_strings(S->used, S->nused);
  free(S->loading);
  free(S->outdir);
  diag_clear(&S->diags);
  free(S->errtext);
  free(S->err_file);
  free(S);
  pthread_mutex_lock(&gsl_lock);
  if (--gsl_users == 0) gsl_set_error_handler(gsl_saved);
  pthread_mutex_unlock(&gsl_lock);
}

/* ------------------------------------------------------------ errors */

/* Publish the collected diagnostics as the state's error text. */
int state_fail(hnn_state *S, int status) {
  S->err_incomplete = S->diags.incomplete && S->diags.nerrors == 1;
  free(S->errtext);
  S->errtext = hnn_xstrdup(S->diags.text.s ? S->diags.text.s : "error\n");
  S->err_line = S->diags.first_line;
  S->err_col = S->diags.first_col;
  free(S->err_file);
  S->err_file = S->diags.first_file ? hnn_xstrdup(S->diags.first_file) : NULL;
  diag_clear(&S->diags);
  return status;
}

void state_warn(hnn_state *S, const char *fmt, ...) {
  if (!S->warn) return;
  strbuf b = STRBUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&b, fmt, ap);
  va_end(ap);
  char *msg = diag_escape(b.s ? b.s : "");
  fprintf(S->warn, "hnn: warning: %s\n", msg);
  free(msg);
  sb_free(&b);
}

const char *hnn_error(const hnn_state *S) { return S->errtext; }
int hnn_error_incomplete(const hnn_state *S) { return S->err_incomplete; }
const char *hnn_error_file(const hnn_state *S) { return S->err_file; }
int hnn_error_line(const hnn_state *S) { return S->err_line; }
int hnn_error_col(const hnn_state *S) { return S->err_col; }
const char *hnn_version(void) { return HNN_VERSION; }

/* ---------------------------------------------------------- settings */

void hnn_set_output(hnn_state *S, FILE *out) { S->out = out; }
void hnn_set_warnings(hnn_state *S, FILE *err) { S->warn = err; }
void hnn_set_dry_run(hnn_state *S, int on) { S->dry_run = on; }
void hnn_set_dump_ast(hnn_state *S, int on) { S->dump_ast = on; }

int hnn_set_seed(hnn_state *S, uint64_t seed) {
  S->base_seed = seed;
  S->seed = S->seed_offset ? rng_split(seed, RNG_OFFSET, S->seed_offset) : seed;
  return HNN_OK;
}

int hnn_set_seed_offset(hnn_state *S, uint64_t offset) {
  S->seed_offset = offset;
  return hnn_set_seed(S, S->base_seed);
}

uint64_t hnn_seed(const hnn_state *S) { return S->seed; }

int hnn_set_max_output(hnn_state *S, double bytes) {
  if (!(bytes > 0)) {
    diag_plain(&S->diags, "the output limit must be a positive number of bytes");
    return state_fail(S, HNN_ERR_USAGE);
  }
  S->max_output = bytes;
  return HNN_OK;
}

int hnn_set_output_dir(hnn_state *S, const char *dir) {
  if (!dir || !*dir) {
    diag_plain(&S->diags, "empty output directory");
    return state_fail(S, HNN_ERR_USAGE);
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    diag_plain(&S->diags, "cannot create output directory '%s': %s", dir, strerror(errno));
    return state_fail(S, HNN_ERR_USAGE);
  }
  free(S->outdir);
  S->outdir = hnn_xstrdup(dir);
  return HNN_OK;
}

int hnn_add_path(hnn_state *S, const char *dir) {
  S->paths = hnn_xrealloc(S->paths, (size_t)(S->npaths + 1) * sizeof *S->paths);
  S->paths[S->npaths++] = hnn_xstrdup(dir);
  return HNN_OK;
}

static int valid_name(const char *s) {
  if (!*s || !(s[0] == '_' || ((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z'))) return 0;
  for (; *s; s++)
    if (!(*s == '_' || (*s >= '0' && *s <= '9') || ((*s | 32) >= 'a' && (*s | 32) <= 'z'))) return 0;
  return 1;
}

/* -------------------------------------------------------- symbol table */

/* Names are looked up by hash, so loading n declarations is O(n), not
** O(n^2) (a script of 50,000 params took a minute).  Names in S->syms are
** unique: a redefinition replaces its slot. */
static unsigned name_hash(const char *s) {
  unsigned h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* The slot of `name` in the index: where it is, or the empty slot ending its probe. */
static int index_slot(const hnn_state *S, const char *name) {
  unsigned mask = (unsigned)S->symindex_cap - 1, k = name_hash(name) & mask;
  while (S->symindex[k] && strcmp(S->syms[S->symindex[k] - 1]->name, name) != 0) k = (k + 1) & mask;
  return (int)k;
}

static void index_rebuild(hnn_state *S) {
  int cap = 64;
  while (cap < 2 * S->capsyms) cap *= 2;
  free(S->symindex);
  S->symindex = hnn_xcalloc((size_t)cap, sizeof *S->symindex);
  S->symindex_cap = cap;
  for (int i = 0; i < S->nsyms; i++) S->symindex[index_slot(S, S->syms[i]->name)] = i + 1;
}

int state_lookup_index(hnn_state *S, const char *name) {
  if (!S->symindex) return -1;
  int k = index_slot(S, name);
  return S->symindex[k] - 1;
}

sym *state_lookup(hnn_state *S, const char *name) {
  int i = state_lookup_index(S, name);
  return i < 0 ? NULL : S->syms[i];
}

const char *sym_kind_name(sym_kind k) {
  static const char *n[] = { "param", "activation", "objective", "function", "kernel", "metric", "flow", "mirror", "energy", "neuron" };
  return n[k];
}

static sym_kind kind_of(ast_kind k) {
  switch (k) {
  case AST_PARAM: return SYM_PARAM;
  case AST_ACTIVATION: return SYM_ACTIVATION;
  case AST_OBJECTIVE: return SYM_OBJECTIVE;
  case AST_KERNEL: return SYM_KERNEL;
  case AST_NEURON: return SYM_NEURON;
  case AST_METRIC: return SYM_METRIC;
  case AST_FLOW: return SYM_FLOW;
  case AST_MIRROR: return SYM_MIRROR;
  case AST_ENERGY: return SYM_ENERGY;
  default: return SYM_FUNCTION;
  }
}

/* Parse the text of a -D override as one expression. */
static ast *parse_define(hnn_state *S, int k) {
  strbuf b = STRBUF_INIT;
  sb_printf(&b, "<-D %s>", S->def_name[k]);
  hnn_src *src = src_new(b.s, S->def_value[k]);
  sb_free(&b);
  ast **stmts;
  int n, bad;
  int errs = hnn_parse(src, &S->diags, &stmts, &n, &bad);
  ast *e = NULL;
  if (!errs && n == 1 && stmts[0]->kind == AST_EXPR) {
    e = stmts[0]->kids[0];
    stmts[0]->kids[0] = NULL;
  } else if (!errs) {
    diag_plain(&S->diags, "-D %s=%s: the value must be one expression", S->def_name[k], S->def_value[k]);
  }
  for (int i = 0; i < n; i++) ast_free(stmts[i]);
  free(stmts);
  src_release(src);
  return e;
}

/* Replace a param's initializer by its -D override, if one was given. */
int params_apply_define(hnn_state *S, sym *p) {
  for (int k = S->ndefs - 1; k >= 0; k--) {
    if (strcmp(S->def_name[k], p->name) != 0) continue;
    ast *e = parse_define(S, k);
    if (!e) return 1;
    ast_free(p->override);
    p->override = e;
    free(p->origin);
    p->origin = hnn_xstrdup("-D");
    S->def_used[k] = 1;
    return 0;
  }
  return 0;
}

int hnn_define(hnn_state *S, const char *name, const char *value) {
  if (!valid_name(name)) {
    diag_plain(&S->diags, "-D %s: not a valid param name", name);
    return state_fail(S, HNN_ERR_USAGE);
  }
  S->def_name = hnn_xrealloc(S->def_name, (size_t)(S->ndefs + 1) * sizeof *S->def_name);
  S->def_value = hnn_xrealloc(S->def_value, (size_t)(S->ndefs + 1) * sizeof *S->def_value);
  S->def_used = hnn_xrealloc(S->def_used, (size_t)(S->ndefs + 1) * sizeof *S->def_used);
  S->def_name[S->ndefs] = hnn_xstrdup(name);
  S->def_value[S->ndefs] = hnn_xstrdup(value);
  S->def_used[S->ndefs] = 0;
  S->ndefs++;
  sym *p = state_lookup(S, name);
  if (p && p->kind == SYM_PARAM) {
    if (params_apply_define(S, p)) return state_fail(S, HNN_ERR_USAGE);
    p->evaluated = 0;
    S->epoch++;
    if (sema_check_sym(S, p)) return state_fail(S, HNN_ERR_SCRIPT);
  }
  return HNN_OK;
}

/* ------------------------------------------------------------ modules */

static char *find_module(hnn_state *S, const char *name, const char *from) {
  strbuf cand = STRBUF_INIT;
  const char *ext = strstr(name, ".hnn") ? "" : ".hnn";
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[len > 0 ? len : 0] = '\0';
  if (len > 0 && strrchr(exe, '/')) *strrchr(exe, '/') = '\0';
  const char *env_path = getenv("HNN_PATH"), *env_std = getenv("HNN_STDLIB");
  /* Candidate directories, in order. */
  strbuf dirs = STRBUF_INIT;
  if (from && strrchr(from, '/')) sb_putn(&dirs, from, (size_t)(strrchr(from, '/') - from)), sb_putc(&dirs, '\n');
  else sb_puts(&dirs, ".\n");
  for (int i = 0; i < S->npaths; i++) sb_printf(&dirs, "%s\n", S->paths[i]);
  if (env_path) {
    for (const char *p = env_path; *p;) {
      size_t n = strcspn(p, ":");
      sb_putn(&dirs, p, n);
      sb_putc(&dirs, '\n');
      p += n + (p[n] == ':');
    }
  }
  if (env_std) sb_printf(&dirs, "%s\n", env_std);
  if (len > 0) sb_printf(&dirs, "%s/stdlib\n%s/../stdlib\n", exe, exe);
  sb_printf(&dirs, "%s\n", HNN_STDLIB_DIR);
  char *found = NULL;
  for (char *d = dirs.s; d && *d && !found;) {
    char *nl = strchr(d, '\n');
    *nl = '\0';
    cand.len = 0;
    if (name[0] == '/') sb_printf(&cand, "%s%s", name, ext);
    else sb_printf(&cand, "%s/%s%s", d, name, ext);
    if (access(cand.s, R_OK) == 0) found = sb_take(&cand);
    d = nl + 1;
  }
  sb_free(&cand);
  sb_free(&dirs);
  return found;
}

static int load_unit(hnn_state *S, hnn_src *src);

/* The files being loaded, innermost last (the stack detects use cycles). */
static void state_push_loading(hnn_state *S, const char *path) {
  S->loading = hnn_xrealloc(S->loading, (size_t)(S->nloading + 1) * sizeof *S->loading);
  S->loading[S->nloading++] = path;
}

static int load_module(hnn_state *S, ast *use) {
  char *found = find_module(S, use->name, use->src->name);
  if (!found) {
    diag_error(&S->diags, use->src, use->name_loc,
               "module '%s' not found (searched the script's folder, HNN_PATH, the stdlib)", use->name);
    return 1;
  }
  char *path = realpath(found, NULL);
  if (!path) path = hnn_xstrdup(found);
  free(found);
  for (int i = 0; i < S->nused; i++)
    if (strcmp(S->used[i], path) == 0) {
      free(path);
      return 0;
    }
  for (int i = 0; i < S->nloading; i++)
    if (strcmp(S->loading[i], path) == 0) {
      diag_error(&S->diags, use->src, use->loc, "module '%s' uses itself, directly or through other modules",
                 use->name);
      free(path);
      return 1;
    }
  if (S->use_depth >= 16) {
    diag_error(&S->diags, use->src, use->loc, "modules nested more than 16 deep (a use cycle?)");
    free(path);
    return 1;
  }
  FILE *f = fopen(path, "r");
  strbuf text = STRBUF_INIT;
  char buf[4096];
  size_t n;
  while (f && (n = fread(buf, 1, sizeof buf, f)) > 0) sb_putn(&text, buf, n);
  if (f) fclose(f);
  if (!f) {
    diag_error(&S->diags, use->src, use->name_loc, "cannot read module '%s': %s", path, strerror(errno));
    free(path);
    return 1;
  }
  hnn_src *src = src_new(path, text.s ? text.s : "");
  sb_free(&text);
  S->use_depth++;
  state_push_loading(S, path);
  int r = load_unit(S, src);
  S->nloading--;
  S->use_depth--;
  src_release(src);
  if (r) {
    free(path);
    diag_note(&S->diags, use->src, use->loc, "in the module used here");
  } else {
    S->used = hnn_xrealloc(S->used, (size_t)(S->nused + 1) * sizeof *S->used);
    S->used[S->nused++] = path;
  }
  return r;
}

/* ------------------------------------------------------------ loading */

typedef struct undo {
  int index;             /* slot replaced, or -1 for an appended symbol */
  sym *old;
} undo;

static void run_statement(hnn_state *S, ast *st, int *status);

static int register_decls(hnn_state *S, ast **stmts, int n, undo **u, int *nu) {
  int errs = 0, first_serial = S->serial;
  for (int i = 0; i < n; i++) {
    ast *st = stmts[i];
    if (!ast_declares(st)) continue;
    const builtin *bi = builtin_find(st->name);
    if ((bi && !bi->shadowable) || strcmp(st->name, "pi") == 0 || strcmp(st->name, "e") == 0) {
      diag_error(&S->diags, st->src, st->name_loc, "'%s' is a builtin name and cannot be redefined", st->name);
      errs++;
      continue;
    }
    int slot = state_lookup_index(S, st->name);
    sym *dup = slot >= 0 && S->syms[slot]->serial > first_serial ? S->syms[slot] : NULL;
    if (dup) {   /* registered earlier in this unit */
      diag_error(&S->diags, st->src, st->name_loc, "'%s' is defined twice in this unit", st->name);
      diag_note(&S->diags, dup->decl->src, dup->decl->name_loc, "first defined here");
      errs++;
      continue;
    }
    sym *s = hnn_xcalloc(1, sizeof *s);
    s->name = hnn_xstrdup(st->name);
    s->kind = kind_of(st->kind);
    s->decl = ast_copy(st);
    s->serial = ++S->serial;
    char where[64];
    snprintf(where, sizeof where, ":%d", st->loc.line + st->src->line_offset);   /* REPL inputs: the session's line */
    s->origin = hnn_xmalloc(strlen(st->src->name) + sizeof where);
    strcpy(s->origin, st->src->name);
    strcat(s->origin, where);
    if (s->kind == SYM_PARAM && params_apply_define(S, s)) errs++;
    if ((*nu & (*nu - 1)) == 0)   /* at 0, 1, 2, 4, ...: double, so n decls cost O(n) */
      *u = hnn_xrealloc(*u, (size_t)(*nu ? 2 * *nu : 1) * sizeof **u);
    if (slot >= 0) {
      (*u)[*nu].index = slot;
      (*u)[*nu].old = S->syms[slot];
      S->syms[slot] = s;
    } else {
      if (S->nsyms == S->capsyms) {
        S->capsyms = S->capsyms ? 2 * S->capsyms : 32;
        S->syms = hnn_xrealloc(S->syms, (size_t)S->capsyms * sizeof *S->syms);
        index_rebuild(S);
      }
      (*u)[*nu].index = -1;
      (*u)[*nu].old = NULL;
      S->syms[S->nsyms++] = s;
      S->symindex[index_slot(S, s->name)] = S->nsyms;
    }
    (*nu)++;
  }
  return errs;
}

static void rollback(hnn_state *S, undo *u, int nu, int nsyms_before) {
  for (int k = nu - 1; k >= 0; k--)
    if (u[k].index >= 0) {
      sym_free(S->syms[u[k].index]);
      S->syms[u[k].index] = u[k].old;
    }
  for (int j = nsyms_before; j < S->nsyms; j++) sym_free(S->syms[j]);
  S->nsyms = nsyms_before;
  index_rebuild(S);
  S->epoch++;
}

static void commit(hnn_state *S, undo *u, int nu) {
  for (int k = 0; k < nu; k++)
    if (u[k].old) {
      S->graveyard = hnn_xrealloc(S->graveyard, (size_t)(S->ngrave + 1) * sizeof *S->graveyard);
      S->graveyard[S->ngrave++] = u[k].old;
    }
}

/* Does the statement compute or write anything when the unit runs? */
static int runs(const ast *st) {
  return st->kind == AST_RUN || st->kind == AST_PLOT || st->kind == AST_PRINT || st->kind == AST_EXPR;
}

static int load_unit(hnn_state *S, hnn_src *src) {
  ast **stmts = NULL;
  int n = 0, incomplete = 0;
  if (hnn_parse(src, &S->diags, &stmts, &n, &incomplete)) {
    S->diags.incomplete = incomplete;
    return HNN_ERR_SCRIPT;
  }
  if (S->dump_ast && S->out) {
    for (int i = 0; i < n; i++) {
      char *s = ast_to_string(stmts[i]);
      fprintf(S->out, "%s\n", s);
      free(s);
    }
  }
  int status = HNN_OK;
  for (int i = 0; i < n && status == HNN_OK; i++)
    if (stmts[i]->kind == AST_USE && load_module(S, stmts[i])) status = HNN_ERR_SCRIPT;
  undo *u = NULL;
  int nu = 0, before = S->nsyms;
  if (status == HNN_OK) {
    S->epoch++;
    if (register_decls(S, stmts, n, &u, &nu) || sema_check_unit(S, stmts, n)) status = HNN_ERR_SCRIPT;
    for (int i = 0; i < n && status == HNN_OK; i++)
      if ((stmts[i]->kind == AST_PRINT || stmts[i]->kind == AST_EXPR))
        for (int k = 0; k < stmts[i]->nkids; k++)
          if (sema_check_expr(S, stmts[i]->kids[k], NULL)) status = HNN_ERR_SCRIPT;
    for (int i = 0; i < n && status == HNN_OK; i++)
      if ((stmts[i]->kind == AST_RUN && S->layers->check_run(S, stmts[i])) ||
          (stmts[i]->kind == AST_PLOT && S->layers->check_plot(S, stmts[i])))
        status = HNN_ERR_SCRIPT;
    /* every output path before anything runs: a run must not compute for
    ** an hour and then find its file unwritable (not in a dry run, which
    ** writes nothing) */
    int bad_paths = 0;
    for (int i = 0; i < n && status == HNN_OK && !S->dry_run; i++)
      bad_paths += stmts[i]->kind == AST_RUN ? S->layers->check_run_outputs(S, stmts[i])
                   : stmts[i]->kind == AST_PLOT ? S->layers->check_plot_outputs(S, stmts[i]) : 0;
    if (bad_paths) status = HNN_ERR_SCRIPT;
    if (status != HNN_OK) rollback(S, u, nu, before);
    else commit(S, u, nu);
  }
  free(u);
  for (int i = 0; i < n; i++) {
    if (status == HNN_OK && !S->dry_run) {
      if (runs(stmts[i]) && flow_interrupted()) {
        /* a run stops at its next tick; statements after it do not start */
        diag_error(&S->diags, stmts[i]->src, stmts[i]->loc, "interrupted: this statement did not run");
        status = HNN_ERR_RUNTIME;
      } else {
        run_statement(S, stmts[i], &status);
      }
    }
    ast_free(stmts[i]);
  }
  free(stmts);
  return status;
}

static void warn_unused_defines(hnn_state *S) {
  for (int k = 0; k < S->ndefs; k++)
    if (!S->def_used[k] && !state_lookup(S, S->def_name[k])) {
      state_warn(S, "-D %s: no param '%s' is declared", S->def_name[k], S->def_name[k]);
      S->def_used[k] = 1;
    }
}

int hnn_load_string(hnn_state *S, const char *text, const char *name) {
  return hnn_load_string_at(S, text, name, 1);
}

int hnn_load_string_at(hnn_state *S, const char *text, const char *name, int first_line) {
  diag_clear(&S->diags);
  hnn_src *src = src_new(name ? name : "<string>", text ? text : "");
  src->line_offset = first_line > 1 ? first_line - 1 : 0;
  int r = load_unit(S, src);
  src_release(src);
  if (r == HNN_OK) warn_unused_defines(S);
  return r == HNN_OK ? r : state_fail(S, r);
}

int hnn_load_file(hnn_state *S, const char *path) {
  diag_clear(&S->diags);
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  if (!f) {
    diag_plain(&S->diags, "cannot open '%s': %s", path, strerror(errno));
    return state_fail(S, HNN_ERR_SCRIPT);
  }
  strbuf text = STRBUF_INIT;
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_putn(&text, buf, n);
  int bad = ferror(f);
  if (f != stdin) fclose(f);
  if (bad) {
    sb_free(&text);
    diag_plain(&S->diags, "cannot read '%s'", path);
    return state_fail(S, HNN_ERR_SCRIPT);
  }
  if (text.s && memchr(text.s, '\0', text.len)) {
    sb_free(&text);
    diag_plain(&S->diags, "'%s' is not a text file (it contains NUL bytes)", path);
    return state_fail(S, HNN_ERR_SCRIPT);
  }
  char *real = strcmp(path, "-") == 0 ? NULL : realpath(path, NULL);
  if (real) state_push_loading(S, real);
  int r = hnn_load_string(S, text.s ? text.s : "", strcmp(path, "-") == 0 ? "<stdin>" : path);
  if (real) S->nloading--;
  free(real);
  sb_free(&text);
  return r;
}

int hnn_check_string(hnn_state *S, const char *text, const char *name) {
  int dry = S->dry_run;
  S->dry_run = 1;
  int r = hnn_load_string(S, text, name);
  S->dry_run = dry;
  return r;
}

/* ------------------------------------------------------------ printing */

static void run_statement(hnn_state *S, ast *st, int *status) {
  if (st->kind == AST_RUN) {
    *status = S->layers->run(S, st);
    return;
  }
  if (st->kind == AST_PLOT) {
    *status = S->layers->plot(S, st);
    return;
  }
  if (st->kind != AST_PRINT && st->kind != AST_EXPR) return;
  strbuf line = STRBUF_INIT;
  for (int k = 0; k < st->nkids && *status == HNN_OK; k++) {
    double *val = NULL;
    ir_shape sh;
    int r = state_eval_ast(S, st->kids[k], &val, &sh);
    if (r != HNN_OK) {
      *status = r;
      break;
    }
    for (int i = 0; i < ir_shape_size(sh); i++)
      if (!isfinite(val[i])) {
        ast *e = st->kids[k];
        diag_error(&S->diags, e->src, e->loc, "the value is not finite (%s%s): a division by zero, an overflow or "
                   "a point outside a function's domain", isnan(val[i]) ? "nan" : val[i] > 0 ? "inf" : "-inf",
                   ir_shape_size(sh) > 1 ? " in some element" : "");
        *status = HNN_ERR_RUNTIME;
        break;
      }
    if (*status != HNN_OK) {
      free(val);
      break;
    }
    char *s = print_value(val, sh);
    if (k) sb_putc(&line, ' ');
    sb_puts(&line, s);
    free(s);
    free(val);
  }
  if (*status == HNN_OK && S->out) {
    fprintf(S->out, "%s\n", line.s ? line.s : "");
    fflush(S->out);
  }
  sb_free(&line);
}
