/*
** state.h — the interpreter state behind hnn.h: the symbol table, types and
** signatures shared by the checker (sema.c), the lowering to IR (lower.c),
** param evaluation (params.c) and the API (state.c).
*/
#ifndef HNN_STATE_H
#define HNN_STATE_H

#include <stdint.h>
#include <stdio.h>

#include "ast.h"
#include "diag.h"
#include "hnn.h"
#include "ir.h"
#include "jit.h"

/* A dimension: a known size (val > 0), or a size variable (val == 0, var >= 0). */
typedef struct tdim {
  int val, var;
} tdim;

typedef enum { TY_ERROR, TY_SCALAR, TY_VECTOR, TY_MATRIX, TY_STRING } ty_kind;

typedef struct ty {
  ty_kind kind;
  tdim r, c;            /* vector: r; matrix: r x c */
} ty;

/* A checked signature.  Dims are known sizes or generic indexes (var) into
** gen_*: the free size variables of a size-generic declaration. */
typedef struct sig {
  int nformals;
  ty *formal;
  int ngen;
  int *gen_min;          /* smallest size the body allows (constant indexing) */
  char **gen_name;
  ty result;
} sig;

typedef enum {
  SYM_PARAM, SYM_ACTIVATION, SYM_OBJECTIVE, SYM_FUNCTION, SYM_KERNEL, SYM_METRIC, SYM_FLOW, SYM_MIRROR, SYM_ENERGY, SYM_NEURON
} sym_kind;
typedef enum { MET_EUCLIDEAN, MET_HOPFIELD, MET_EXPLICIT } metric_form;

typedef struct sym sym;
struct sym {
  char *name;
  sym_kind kind;
  ast *decl;             /* owned */
  int serial;            /* unique in the state: mangled C names, load order */
  /* params */
  ir_shape shape;
  double *data;          /* owned; the storage compiled code reads */
  char *origin;          /* "model.hnn:3", "-D", "hnn_param_set" */
  ast *override;         /* a -D value replacing the initializer, or NULL */
  int evaluated, evaluating;
  /* callables */
  sig sig;
  int epoch, checking, failed;
  metric_form mform;
  char *mact;            /* MET_HOPFIELD: the activation's name */
  const struct flow_kind *flow_kind;  /* SYM_FLOW: its kind, set when checked (lang/flows/) */
  struct energy_decl *energy;         /* SYM_ENERGY: its terms, set when checked (energy.h) */
};

typedef struct hnn_module_list {
  jit_module *mod;
  char *source;
  struct hnn_module_list *next;
} hnn_module_list;

struct hnn_fn {
  hnn_state *S;
  char *key;             /* "name/what/n" for the lookup cache, or NULL */
  int epoch;             /* S->epoch when compiled: stale after a redefinition */
  jit_fn fn;
  size_t nin, nout, nwork;
  double *work;
  struct hnn_fn *next;
};

/* The layers above the core: the flow glue (lang/flows/) and the plot
** statements (plotstmt.c).  The core reaches them only through this table,
** which hnn_open (open.c) installs, so it depends on none of them. */
typedef struct state_layers {
  int (*check_flow_decl)(hnn_state *S, sym *s);   /* `flow` and `mirror` declarations */
  int (*check_run)(hnn_state *S, ast *run);
  int (*run)(hnn_state *S, ast *run);
  int (*check_plot)(hnn_state *S, ast *plot);
  int (*plot)(hnn_state *S, ast *plot);
  /* every file a run or plot statement would write, checked before the
  ** unit's first statement runs; the number of bad paths */
  int (*check_run_outputs)(hnn_state *S, ast *run);
  int (*check_plot_outputs)(hnn_state *S, ast *plot);
} state_layers;

/* A new state with the layers given (hnn_open: the flows and plots). */
hnn_state *state_new(const state_layers *layers);

struct hnn_state {
  const state_layers *layers;
  sym **syms;
  int nsyms, capsyms;
  int *symindex;         /* open hash of syms by name: index + 1, 0 empty */
  int symindex_cap;      /* a power of two, at least twice nsyms */
  int serial;
  int epoch;
  diag_list diags;
  char *errtext, *err_file;
  int err_line, err_col, err_incomplete;
  FILE *out, *warn;
  uint64_t seed, base_seed, seed_offset;
  int dry_run, dump_ast;
  double max_output;     /* bytes a run may write (hnn_set_max_output) */
  char *outdir;
  /* -D overrides: name -> expression text */
  char **def_name, **def_value;
  int *def_used;
  int ndefs;
  char **paths;
  int npaths;
  char **used;           /* modules already loaded by `use` (real paths) */
  int nused;
  const char **loading;  /* files being loaded, innermost last */
  int nloading;
  int use_depth;
  hnn_module_list *modules;
  hnn_fn *fns;
  struct hnn_batch *batch;   /* functions waiting for one compile (api.c) */
  sym **graveyard;       /* replaced syms: compiled code may still point at their data */
  int ngrave;
  void **rt_ctx;         /* contexts compiled code passes to run-time engines (special.c) */
  int nrt_ctx;
};

/* Symbol table */
sym *state_lookup(hnn_state *S, const char *name);
int state_lookup_index(hnn_state *S, const char *name);   /* index in S->syms, or -1 */
const char *sym_kind_name(sym_kind k);

/* Type helpers (sema.c) */
int ty_is_numeric(ty t);
char *ty_to_string(ty t, char **gen_names);   /* "scalar", "vector[3]", "matrix[n,n]" */
char *sig_to_string(const sym *s);            /* "f(x[n], y[n]) -> scalar" */

/* The checker: give each callable of the table its signature (in dependency
** order, rejecting cycles) and check every print expression of `stmts`.
** Params are evaluated on the way (sizes depend on their values). Errors go
** to S->diags; returns their number. */
int sema_check_unit(hnn_state *S, ast **stmts, int nstmts);
/* Make sure a symbol is checked (lazily, after redefinitions). */
int sema_check_sym(hnn_state *S, sym *s);
/* Check a free-standing expression (print, hnn_eval); its type in *t. */
int sema_check_expr(hnn_state *S, ast *e, ty *t);
/* Is this name a builtin function (exp, dot, ...)? */
int sema_is_builtin(const char *name);

/* Param evaluation (params.c) */
int params_evaluate(hnn_state *S, sym *p);
int params_apply_define(hnn_state *S, sym *p);  /* -D override, if any */
int csv_load(const char *path, const char *base_dir, double **data, int *rows, int *cols,
             char ***header, char **err);

/* Callbacks beyond the public hnn_what, for the flows: the diagonal of a
** diagonal metric, of its inverse, and the Jacobian of that diagonal. */
enum { HNN_METRIC_DIAG = 100, HNN_METRIC_INV_DIAG, HNN_METRIC_JAC_DIAG };
/* hnn_get for a checked symbol, without touching the error state. */
hnn_fn *state_get(hnn_state *S, sym *s, int what, int n);
/* The lookup cache: the callback compiled under key in this epoch, or NULL;
** and remember f under key ("name/what/n" for state_get). */
hnn_fn *state_cached(hnn_state *S, const char *key);
void state_remember(hnn_fn *f, const char *key);

/* Compile and run (api.c).  state_compile generates one function; inside
** state_batch_begin/state_batch_end the functions are compiled together at
** the end (one libtcc state), and their hnn_fn's fn is NULL until then.
** state_batch_end returns nonzero (error in S->diags) when the batch did
** not compile; its functions are then dropped from the lookup cache. */
typedef struct hnn_batch hnn_batch;
void state_batch_begin(hnn_state *S);
int state_batch_end(hnn_state *S);
void state_batch_free(hnn_state *S);   /* hnn_close */
/* *dst = f's entry point, now or (inside a batch) when the batch compiles. */
void state_fn_later(hnn_state *S, hnn_fn *f, jit_fn *dst);
hnn_fn *state_compile(hnn_state *S, ir_ctx *ctx, int nvars, ir_node **vars, int ndirs, ir_node **dirs,
                      int nouts, ir_node **outs, int jacobian_n);
/* The values of a closed IR expression (no free variables) into v
** (ir_shape_size values): constants and a param's values are copied,
** anything else is compiled at once, outside any open batch, and run.  0; 1 when a numeric
** inverse failed (v still written); -1 when it did not compile (error in
** S->diags). */
int state_eval_ir(hnn_state *S, ir_node *r, double *v);
/* Evaluate a checked expression: value to a malloc'd buffer. */
int state_eval_ast(hnn_state *S, ast *e, double **val, ir_shape *shape);
/* Publish S->diags as the error text; returns status. */
int state_fail(hnn_state *S, int status);
void state_warn(hnn_state *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formatting of values as hnn prints them (print.c). */
char *print_value(const double *v, ir_shape s);

#endif
