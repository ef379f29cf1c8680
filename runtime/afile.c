/*
** afile.c — write to a temporary sibling, rename into place (see afile.h).
** POSIX: mkstemp in the target's directory, fchmod to 0666 & ~umask.
*/
#define _POSIX_C_SOURCE 200809L
#include "afile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *afile_open(const char *path, const char *mode, char **tmp, int *opened) {
  size_t len = strlen(path) + 16;
  *opened = 0;
  if (!(*tmp = malloc(len))) {
    errno = ENOMEM;
    return NULL;
  }
  snprintf(*tmp, len, "%s.tmp.XXXXXX", path);   /* mkstemp's template */
  int fd = mkstemp(*tmp);
  if (fd < 0) return NULL;
  *opened = 1;
  mode_t um = umask(0);
  umask(um);
  FILE *f = fchmod(fd, 0666 & ~um) ? NULL : fdopen(fd, mode);
  if (!f) {
    int e = errno;
    close(fd);
    unlink(*tmp);
    errno = e;
  }
  return f;
}

int afile_close(FILE *f, const char *tmp, const char *path, int keep) {
  /* no fsync: the rename protects against failed runs (the goal), and an
  ** fsync would cost milliseconds per output file */
  int bad = ferror(f) || fflush(f) != 0;
  int e = errno;
  if (fclose(f) != 0 && !bad) bad = 1, e = errno;
  int rc = bad ? 1 : 0;
  if (keep && !bad && rename(tmp, path) != 0) rc = 2, e = errno;
  if (!keep || rc) unlink(tmp);
  errno = e;
  return rc;
}
