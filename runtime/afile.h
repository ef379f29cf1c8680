/*
** afile.h — output files that never leave a half-written or wrong file.
** Run output (csvw.c) and plots (plot.c) are written this way.
**
** What PATH is decides how it is written:
**   a regular file or a new path  under a temporary name in its directory,
**                                 renamed into place when complete: a failed
**                                 or interrupted write never replaces a good file
**   a symbolic link               followed: the file it names is written as
**                                 above (the link stays a link)
**   a FIFO or a character device  written straight through (/dev/null, a
**                                 terminal, a named pipe)
**   /dev/stdout, /dev/fd/N        (links to this process's open files, on
**                                 Linux through /proc) written straight
**                                 through, appending to a regular file
**   a directory, a block device   refused
**   or a socket
*/
#ifndef HNN_AFILE_H
#define HNN_AFILE_H

#include <stddef.h>
#include <stdio.h>

/* Can path be written as afile_open would write it?  For a new or regular
** file its directory must exist and be writable; a FIFO or a character
** device must be writable; anything else is refused.  Opens nothing (a FIFO
** would block).  0, or -1 with the reason in err (errlen bytes), e.g.
** "'/tmp' is a directory" or "the directory 'out' does not exist". */
int afile_check(const char *path, char *err, size_t errlen);

/* Open path for writing with fopen mode `mode` (see above).  *tmp gets the
** temporary file's name (malloc'd, the caller frees it), or NULL when path
** is written straight through.  The stream, or NULL with errno set (EISDIR
** for a directory, ENOTSUP for a block device or socket); *opened is 1 when
** a temporary file was created but could not be opened (it is removed
** again), else 0.  A temporary file is created with mode 0666 & ~umask. */
FILE *afile_open(const char *path, const char *mode, char **tmp, int *opened);

/* Close f.  With a temporary file (tmp not NULL): when keep and every write
** succeeded, rename it onto the file afile_open resolved (path, or the file
** its link names), otherwise remove it.  Written straight through: close
** only.  0; 1 when a write or the close failed; 2 when the rename failed
** (errno set in both cases). */
int afile_close(FILE *f, const char *tmp, const char *path, int keep);

#endif
