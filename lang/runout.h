/*
** runout.h — where a run's rows go: a CSV file (runtime/csvw.c writes it
** atomically: a failed run never replaces a good file) or standard output.
** Both start with the column names as a '#' line ('# t,step,x1,...'), then
** '#' lines with the hnn version, the seed and every param in effect, so
** numpy.loadtxt(f, delimiter=",") reads the output as is,
** numpy.genfromtxt(f, delimiter=",", names=True) takes the names from the
** first line, and gnuplot reads it after `set datafile separator ","`
** (tests/run-readers.sh runs all three).
*/
#ifndef HNN_RUNOUT_H
#define HNN_RUNOUT_H

#include "state.h"

typedef struct run_out run_out;

/* Rows are t, step, then ncols values named names[0..ncols-1].  path NULL:
** standard output; a relative path goes under the output directory (-o).
** NULL on failure, with a message in *err (caller frees). */
run_out *run_out_open(hnn_state *S, const char *path, int ncols, const char *const *names, char **err);
int run_out_row(run_out *o, double t, long step, const double *v);   /* 0 or nonzero */
int run_out_close(run_out *o, char **err);                           /* renames into place */
void run_out_abort(run_out *o);                                      /* removes the partial file */
/* Where `path` is written: relative paths under the output directory (-o,
** hnn_set_output_dir).  malloc'd. */
char *run_out_path(hnn_state *S, const char *path);
/* run_out_open of the file beside `path` named by suffix ("_monitor"):
** PATH minus .csv plus suffix; standard output when path is NULL. */
run_out *run_out_open_sibling(hnn_state *S, const char *path, const char *suffix, int ncols, const char *const *names,
                              char **err);
/* Close a run's main file and its sibling (either may be NULL): both into
** place when ok, else both removed.  Nonzero when a close failed (*err). */
int run_out_finish(run_out *main_out, run_out *sibling, int ok, char **err);
/* "dir/eld.csv" + "_zstar" -> "dir/eld_zstar.csv" (malloc'd; NULL path: NULL) */
char *run_out_sibling(const char *path, const char *suffix);

/* Before a unit runs: can `path` (relative: under the output directory) be
** written?  A failure is reported at node `at`; 1 then, else 0.
** (runtime/afile.h: the directory must exist and be writable, the target
** must not be a directory.)  flows_check_outputs checks a run's files. */
int run_out_check_path(hnn_state *S, ast *at, const char *path);

/* Column names prefix1..prefixn into names[0..n-1] (caller frees each). */
void run_out_names(char **names, const char *prefix, int n);

#endif
