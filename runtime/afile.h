/*
** afile.h — a file written under a temporary name in its own directory
** and renamed into place when complete: a failed write never replaces a
** good file.  Run output (csvw.c) and plots (plot.c) are written this way.
*/
#ifndef HNN_AFILE_H
#define HNN_AFILE_H

#include <stdio.h>

/* Create path's temporary sibling (mode 0666 & ~umask) and open it with
** fopen mode `mode`.  *tmp gets its name (malloc'd, the caller frees it;
** NULL only when out of memory).  The stream, or NULL with errno set and
** *opened = 0 when no temporary file could be created, 1 when it was
** created but could not be opened (it is removed again). */
FILE *afile_open(const char *path, const char *mode, char **tmp, int *opened);

/* Close f; when keep and every write succeeded, rename tmp onto path,
** otherwise remove tmp.  0; 1 when a write or the close failed; 2 when the
** rename failed (errno set in both cases). */
int afile_close(FILE *f, const char *tmp, const char *path, int keep);

#endif
