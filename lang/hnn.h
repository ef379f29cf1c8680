/*
** hnn.h — the embedding API of hnn, a language for gradient flows.
**
** A program opens a state, loads .hnn text into it (declarations accumulate;
** a later load may redefine a name), evaluates expressions, and looks up
** JIT-compiled callbacks: an objective, its gradient and Hessian, an
** activation and its derivatives and inverse, a metric, its inverse and the
** divergence of its inverse.  Every call returns a status; the text of the last
** error (with file:line:col, the source line and a caret) stays in the state.
**
** Threads: a state is used by one thread at a time.  Several states may live in
** one process and in different threads: libtcc keeps global state, so hnn
** serializes every compilation behind one process-wide mutex (compiles are
** ~1 ms).  Compiled callbacks may run concurrently if each thread passes its
** own workspace (hnn_call_ws).
**
** GSL: the first hnn_open turns GSL's abort-on-error handler off for the
** process (hnn checks every GSL status itself); the last hnn_close restores
** the previous handler.
*/
#ifndef HNN_H
#define HNN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HNN_VERSION "0.1.0"

/* Status codes, also the exit codes of the hnn program. */
enum {
  HNN_OK = 0,
  HNN_ERR_SCRIPT = 1,    /* syntax, names, dimensions, bad data files */
  HNN_ERR_USAGE = 2,     /* bad API/command-line use */
  HNN_ERR_RUNTIME = 3    /* numerical failure (NaN, no convergence), I/O at run time */
};

typedef struct hnn_state hnn_state;
typedef struct hnn_fn hnn_fn;

hnn_state *hnn_open(void);
void hnn_close(hnn_state *S);                   /* frees every hnn_fn taken from S */

/* Load and run .hnn text: declarations are checked as a whole (order-free,
** cycles rejected), then params are evaluated, then print statements run in
** order.  `name` is used in messages ("model.hnn:3:7: error: ..."). */
int hnn_load_string(hnn_state *S, const char *src, const char *name);
int hnn_load_file(hnn_state *S, const char *path);
/* The same, for text that starts at line first_line of `name` (REPL inputs). */
int hnn_load_string_at(hnn_state *S, const char *src, const char *name, int first_line);
/* Did the last load fail only because the text ended mid-statement? */
int hnn_error_incomplete(const hnn_state *S);
/* Parse and check only (no params evaluated, nothing printed or compiled). */
int hnn_check_string(hnn_state *S, const char *src, const char *name);

/* Last error: full text (possibly several diagnostics), and the first one's place. */
const char *hnn_error(const hnn_state *S);
const char *hnn_error_file(const hnn_state *S);
int hnn_error_line(const hnn_state *S);
int hnn_error_col(const hnn_state *S);

/* Output of print statements (default stdout) and warnings (default stderr). */
void hnn_set_output(hnn_state *S, FILE *out);
void hnn_set_warnings(hnn_state *S, FILE *err);

/* Settings that must precede the loads they affect. */
int hnn_set_seed(hnn_state *S, uint64_t seed);           /* default 0 */
int hnn_set_seed_offset(hnn_state *S, uint64_t offset);  /* job arrays: seed' = split(seed, offset) */
uint64_t hnn_seed(const hnn_state *S);                   /* the effective master seed */
/* Override a param: `value` is hnn expression text ("10", "[1, 2]").
** Applies to the next declaration of that name and to an existing one. */
int hnn_define(hnn_state *S, const char *name, const char *value);
/* Where run outputs go (default: the current directory). */
int hnn_set_output_dir(hnn_state *S, const char *dir);
/* The most a run may write, in bytes, over all of its files (default
** HNN_MAX_OUTPUT_DEFAULT, 4 GB): a run whose estimated output is larger is
** refused before it starts, with the estimate.  HUGE_VAL: no limit. */
#define HNN_MAX_OUTPUT_DEFAULT 4e9
int hnn_set_max_output(hnn_state *S, double bytes);
/* Dry run: load, check and evaluate params, but run no print or run statement. */
void hnn_set_dry_run(hnn_state *S, int on);
/* Print the syntax tree of every loaded unit to the output stream. */
void hnn_set_dump_ast(hnn_state *S, int on);
/* Directories searched by `use "module"` (before HNN_PATH and the stdlib). */
int hnn_add_path(hnn_state *S, const char *dir);

/* Evaluate an expression; the value (flattened, row-major) goes to out,
** which has room for cap doubles; rows/cols describe its shape
** (1 x 1 scalar, n x 1 vector, r x c matrix).  Either may be NULL. */
int hnn_eval(hnn_state *S, const char *expr, double *out, size_t cap,
             size_t *rows, size_t *cols);
/* Evaluate and format the value as hnn prints it (caller frees). */
char *hnn_eval_string(hnn_state *S, const char *expr);

/* Params: read and write values in place (compiled callbacks see writes). */
int hnn_param_get(hnn_state *S, const char *name, double *out, size_t cap, size_t *count);
int hnn_param_set(hnn_state *S, const char *name, const double *values, size_t count);
/* One line per param: name, shape, value, where it was set. */
char *hnn_list_params(hnn_state *S);

/* What a name is: "param", "activation", "objective", "function", "kernel",
** "metric" with its signature, e.g. "objective f(x[2]) -> scalar" (caller frees);
** NULL if unknown. */
char *hnn_describe(hnn_state *S, const char *name);
/* Every user-visible name, one per line, with its description (caller frees). */
char *hnn_list(hnn_state *S);

/* Compiled callbacks. */
typedef enum {
  HNN_VALUE,          /* f(x) of an objective, function, kernel; s(u) of an activation */
  HNN_GRADIENT,       /* grad f(x), all arguments concatenated */
  HNN_HESSIAN,        /* hessian f(x), row-major N x N */
  HNN_DERIV1,         /* s'(u), elementwise */
  HNN_DERIV2,         /* s''(u) */
  HNN_INVERSE,        /* s^-1(y) */
  HNN_METRIC,         /* G(x), row-major n x n */
  HNN_METRIC_INV,     /* G(x)^-1 */
  HNN_METRIC_DIV_INV  /* (div G^-1)_i = sum_j d/dx_j (G^-1)_ij */
} hnn_what;

/* Look up (compile on first use) a callback of `name`.  n fixes the size of a
** size-generic declaration (its one free size variable, e.g. n in f(x[n]));
** 0 when the declaration fixes every size.  Activations act elementwise on
** vectors of length n (0 means scalar). NULL on error (see hnn_error). */
hnn_fn *hnn_get(hnn_state *S, const char *name, hnn_what what, size_t n);
hnn_fn *hnn_function(hnn_state *S, const char *name);   /* hnn_get(S, name, HNN_VALUE, 0) */
hnn_fn *hnn_gradient(hnn_state *S, const char *name);   /* HNN_GRADIENT */

size_t hnn_fn_nin(const hnn_fn *fn);        /* doubles read from x */
size_t hnn_fn_nout(const hnn_fn *fn);       /* doubles written to out */
size_t hnn_fn_nwork(const hnn_fn *fn);      /* workspace doubles for hnn_call_ws */

/* Call: HNN_OK, or HNN_ERR_RUNTIME when the result is not finite or a numeric
** inverse failed (out is still written). hnn_call uses the fn's own workspace
** (not reentrant); hnn_call_ws takes the caller's (hnn_fn_nwork doubles). */
int hnn_call(hnn_fn *fn, const double *x, double *out);
int hnn_call_ws(const hnn_fn *fn, const double *x, double *out, double *work);

/* The raw compiled entry point and its context, for runtime components that
** drive callbacks in their own loops:
**   int f(const double *in, const double *dir, double *out, double *ws). */
typedef int (*hnn_raw_fn)(const double *in, const double *dir, double *out, double *ws);
hnn_raw_fn hnn_fn_raw(const hnn_fn *fn);

/* Generated C of every callback compiled so far in S (caller frees). */
char *hnn_dump_c(hnn_state *S);

/* Plot a CSV file written by a run (`hnn plot`) as PNG, SVG or PDF, chosen by
** out_path's extension; see docs/plotting.md.  NULL fields take defaults;
** opt may be NULL.  HNN_ERR_SCRIPT for a bad file, column or name,
** HNN_ERR_RUNTIME if the image cannot be written (no partial file is left). */
typedef struct hnn_plot_options {
  const char *x;        /* x column (default "t", else the first column) */
  const char *y;        /* comma-separated y columns (default: all but t, step, particle) */
  const char *group;    /* one line per distinct value (default "particle" if present) */
  const char *color;    /* colour points by this column (implies scatter) */
  const char *title;    /* default: the file's name */
  int logx, logy;       /* log-scale axes */
  int scatter;          /* points instead of lines */
  int last;             /* only the rows of the last t */
  int width, height;    /* pixels (points for SVG/PDF); 0: 800 x 600 */
} hnn_plot_options;
int hnn_plot_csv(hnn_state *S, const char *csv_path, const char *out_path,
                 const hnn_plot_options *opt);

/* Interrupts (Ctrl-C).  hnn_interrupt records a signal number and only
** stores it: call it from a SIGINT or SIGTERM handler.  A running run stops
** at its next check (every 4096 steps at most), removes its temporary
** files and fails with HNN_ERR_RUNTIME, "... interrupted at t = ..."; no
** further statement starts while the interrupt is pending.  It stays
** pending until hnn_interrupt_clear (a REPL clears it before the next
** input).  hnn_interrupted: the pending signal, or 0.  Process-wide. */
void hnn_interrupt(int signo);
int hnn_interrupted(void);
void hnn_interrupt_clear(void);

/* MPI (docs/mpi.md).  hnn_mpi_available: 1 when libhnn was built with MPI
** (configure --with-mpi), else 0.  By default no communicator is used: every
** run is computed in the calling process.  hnn_set_mpi_comm(&comm), with
** comm an MPI_Comm passed by address (so this header needs no mpi.h), makes
** the runs of every state split their work over comm's processes: each must
** load the same texts with the same settings, call hnn from the thread that
** initialized MPI (at least MPI_THREAD_FUNNELED), and only rank 0 writes
** files.  NULL: one process again.  Process-wide.  HNN_ERR_USAGE when built
** without MPI or before MPI_Init.
** hnn_mpi_start is what the hnn program does: MPI_Init with MPI_COMM_WORLD
** when launched by mpirun or srun, else nothing (HNN_ERR_RUNTIME if MPI_Init
** fails).  hnn_mpi_finish agrees on the outcome at the end of a program: it
** returns the status of the lowest failing rank (0 if none) and in *text the
** message to print for it (caller frees; NULL when all succeeded); every
** process must call it, after each load when the program goes on after a
** failure.  hnn_mpi_stop calls MPI_Finalize if hnn_mpi_start
** called MPI_Init.  Rank and size are 0 and 1 without a communicator. */
int hnn_mpi_available(void);
int hnn_set_mpi_comm(const void *comm);
int hnn_mpi_start(int *argc, char ***argv);
int hnn_mpi_rank(void);
int hnn_mpi_size(void);
int hnn_mpi_finish(int status, const char *msg, char **text);
void hnn_mpi_stop(void);

const char *hnn_version(void);

#ifdef __cplusplus
}
#endif
#endif
