/*
** csvw.h — CSV writer for run output, readable as is by
** numpy.loadtxt(f, delimiter=","), numpy.genfromtxt(f, delimiter=",",
** names=True) and gnuplot (set datafile separator ",").
**
** Layout: '# t,step,x1,...,xn' (or the caller's column names), then the
** '# '-comment lines given by the caller (hnn version, seed, params in
** effect), then one row per point, numbers as printf's %.17g writes them
** (exact round trip; numfmt.h).
** A regular file is written to a temporary file in the same directory and
** renamed into place by csvw_commit: a failed run never replaces a good
** file.  A FIFO or a device is written straight through (runtime/afile.h).
*/
#ifndef HNN_CSVW_H
#define HNN_CSVW_H

#include <stddef.h>
#include <stdio.h>

typedef struct csvw csvw;

/* Open a writer for n state columns.  comments: ncomments strings (newlines
** inside are written as spaces); names: n column names or NULL (x1..xn).
** NULL on failure, with a message in err (errlen bytes). */
csvw *csvw_open(const char *path, int n, const char *const *comments, int ncomments,
                const char *const *names, char *err, size_t errlen);

/* One row: t, step, x[0..n-1].  Returns 0, or nonzero with errno set to
** the first write error's (the writer remembers it and csvw_commit fails). */
int csvw_row(csvw *w, double t, long step, const double *x, int n);
/* Fail the writer with error `err` (as a failed write would): csvw_commit
** then removes the temporary and reports strerror(err). */
void csvw_fail(csvw *w, int err);

/* The row alone, to any stream (standard output, say): 0, or EOF on a
** write error. */
int csvw_put_row(FILE *f, double t, long step, const double *x, int n);

/* The same with the ode_emit signature (ctx is the csvw). */
int csvw_emit(void *ctx, double t, long step, const double *x, int n);

/* Flush, close and rename into place; frees w.  Returns 0, or 3 (the
** temporary file is removed; err explains: "cannot write 'x.csv': No space
** left on device"). */
int csvw_commit(csvw *w, char *err, size_t errlen);

/* Close and remove the temporary file, leaving any existing file alone; frees w. */
void csvw_abort(csvw *w);

#endif
