/*
** runout.h — where a run's rows go: a CSV file written atomically (to a
** temporary name, renamed into place on success), or standard output.  The
** header records the hnn version, the seed and every param in effect as
** '#' lines, then the column names as a '#' line, so numpy.loadtxt(f,
** delimiter=",") and gnuplot read the file as is, and numpy.genfromtxt(f,
** delimiter=",", names=True) picks up the names.
*/
#ifndef HNN_RUNOUT_H
#define HNN_RUNOUT_H

#include "state.h"

typedef struct run_out run_out;

/* path NULL: standard output.  A relative path goes under the output
** directory (-o).  Columns: t, step, x1..xn, f.  NULL on failure (*err). */
run_out *run_out_open(hnn_state *S, const char *path, int n, char **err);
int run_out_row(run_out *o, const double *v, int m);     /* 0 or nonzero */
int run_out_close(run_out *o, char **err);               /* renames into place */
void run_out_abort(run_out *o);                          /* removes the partial file */

#endif
