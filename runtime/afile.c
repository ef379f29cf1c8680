/*
** afile.c — output files written through a temporary sibling, or straight
** through for FIFOs and devices (see afile.h).  POSIX: lstat/readlink to
** follow links, mkstemp in the target's directory, fchmod to 0666 & ~umask,
** rename.  Replacing /dev/stdout or a named pipe by a regular file (what a
** rename over it does, and as root it can) is the mistake this avoids.
*/
#define _XOPEN_SOURCE 700   /* realpath */
#include "afile.h"
#include "par.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flow.h"

#define TMP_SUFFIX ".tmp.XXXXXX"   /* mkstemp's template, after the target's name */
#define MAX_LINKS 40               /* Linux's limit on links followed in one lookup */

/* How a path is written (resolve). */
typedef enum { AF_TEMP, AF_THROUGH, AF_REFUSE } af_how;
typedef struct {
  af_how how;
  char *file;     /* AF_TEMP: the file to create or replace; AF_THROUGH: what to open */
  int flags;      /* AF_THROUGH: open flags beyond O_WRONLY */
  mode_t mode;    /* the file type found (0: none) */
} af_plan;

/* Is the link p one of /proc's links to a process's open files
** (/proc/self/fd/1, what /dev/stdout and /dev/fd/N lead to)?  Their text
** is no path ("pipe:[123]"), and the file behind them may be a file the
** shell opened for this process: write to it, never rename over it. */
static int proc_link(const char *p) {
  const char *slash = strrchr(p, '/');
  char *dir = slash ? strndup(p, slash == p ? 1 : (size_t)(slash - p)) : strdup(".");
  char *real = dir ? realpath(dir, NULL) : NULL;
  int yes = real && strncmp(real, "/proc/", 6) == 0;
  free(real);
  free(dir);
  return yes;
}

/* Follow the symbolic links of path's last component (a link to a missing
** file leads to that file) and decide how to write it.  0, or -1 with errno
** set (ELOOP, ENOMEM, a failing lstat or stat). */
static int resolve(const char *path, af_plan *pl) {
  memset(pl, 0, sizeof *pl);
  struct stat st;
  char *p = strdup(path);
  int hops = 0, proc = 0;
  while (p) {
    if (lstat(p, &st) != 0) {
      if (errno != ENOENT) break;
      pl->how = AF_TEMP, pl->file = p;
      return 0;
    }
    if (!S_ISLNK(st.st_mode)) break;
    if ((proc = proc_link(p))) break;
    if (hops++ == MAX_LINKS) {
      errno = ELOOP;
      break;
    }
    size_t cap = (size_t)st.st_size + 2 > 256 ? (size_t)st.st_size + 2 : 256;
    char *link = malloc(cap);
    ssize_t n = link ? readlink(p, link, cap - 1) : -1;
    if (n < 0 || (size_t)n >= cap - 1) {
      if (n >= 0) errno = ENAMETOOLONG;
      free(link);
      break;
    }
    link[n] = '\0';
    /* a relative link is relative to the link's own directory */
    const char *slash = strrchr(p, '/');
    size_t dl = link[0] == '/' || !slash ? 0 : (size_t)(slash - p) + 1;
    char *q = malloc(dl + (size_t)n + 1);
    if (q) {
      memcpy(q, p, dl);
      memcpy(q + dl, link, (size_t)n + 1);
    }
    free(link);
    free(p);
    p = q;
  }
  if (!p) {
    errno = ENOMEM;
    return -1;
  }
  if (S_ISLNK(st.st_mode) && !proc) {   /* lstat or readlink failed, or too many links */
    int e = errno;
    free(p);
    errno = e;
    return -1;
  }
  if (proc && stat(p, &st) != 0) {
    int e = errno;
    free(p);
    errno = e;
    return -1;
  }
  pl->file = p;
  pl->mode = st.st_mode;
  if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
    pl->how = AF_THROUGH;
  } else if (S_ISREG(st.st_mode)) {
    /* behind a /proc link: append, as the shell's >> would, so earlier
    ** output to that descriptor stays */
    pl->how = proc ? AF_THROUGH : AF_TEMP;
    pl->flags = proc ? O_APPEND : 0;
  } else {
    pl->how = AF_REFUSE;
  }
  return 0;
}

static const char *refused(mode_t m) {
  return S_ISDIR(m)    ? "is a directory"
         : S_ISBLK(m)  ? "is a block device"
         : S_ISSOCK(m) ? "is a socket"
                       : "is not a regular file, a FIFO or a character device";
}

int afile_check(const char *path, char *err, size_t errlen) {
  af_plan pl;
  if (resolve(path, &pl) != 0) {
    snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return -1;
  }
  int bad = 1;
  if (pl.how == AF_REFUSE) {
    snprintf(err, errlen, "'%s' %s", path, refused(pl.mode));
  } else if (pl.how == AF_THROUGH) {
    if ((bad = access(pl.file, W_OK) != 0)) snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
  } else {
    /* a new or replaced file: its directory must let us create files */
    char *slash = strrchr(pl.file, '/');
    const char *dir = ".";
    if (slash == pl.file) dir = "/";
    else if (slash) *slash = '\0', dir = pl.file;
    struct stat ds;
    if (stat(dir, &ds) != 0) {
      if (errno == ENOENT) snprintf(err, errlen, "cannot write '%s': the directory '%s' does not exist", path, dir);
      else snprintf(err, errlen, "cannot write '%s': %s: %s", path, dir, strerror(errno));
    } else if (!S_ISDIR(ds.st_mode)) {
      snprintf(err, errlen, "cannot write '%s': '%s' is not a directory", path, dir);
    } else if (access(dir, W_OK | X_OK) != 0) {
      snprintf(err, errlen, "cannot write '%s': cannot create files in '%s': %s", path, dir, strerror(errno));
    } else {
      bad = 0;
    }
  }
  free(pl.file);
  return bad ? -1 : 0;
}

/* Open a FIFO or a device for writing.  A FIFO without a reader blocks a
** plain open until one comes; a signal that arrived just before that open
** would be missed (its handler only sets a flag), so a FIFO is opened
** without blocking and retried every 20 ms until a reader comes or the
** run is interrupted. */
static int open_through(const char *file, int flags, mode_t mode) {
  if (!S_ISFIFO(mode)) return open(file, O_WRONLY | O_CLOEXEC | flags);
  for (;;) {
    int fd = open(file, O_WRONLY | O_CLOEXEC | O_NONBLOCK | flags);
    if (fd >= 0) {
      int fl = fcntl(fd, F_GETFL);
      if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
      }
      return fd;
    }
    if (errno != ENXIO && errno != EINTR) return -1;
    if (flow_interrupted()) {
      errno = EINTR;
      return -1;
    }
    struct timespec pause = { 0, 20000000 };
    nanosleep(&pause, NULL);
  }
}

FILE *afile_open(const char *path, const char *mode, char **tmp, int *opened) {
  *opened = 0;
  *tmp = NULL;
  /* in an MPI job one process writes each file; the others compute the
  ** same rows into nothing (par.h) */
  if (!par_writes()) path = "/dev/null";
  af_plan pl;
  if (resolve(path, &pl) != 0) return NULL;
  if (pl.how == AF_REFUSE) {
    free(pl.file);
    errno = S_ISDIR(pl.mode) ? EISDIR : ENOTSUP;
    return NULL;
  }
  if (pl.how == AF_THROUGH) {
    /* no O_TRUNC: a FIFO or a device has nothing to truncate, and a file
    ** behind a /proc link is the shell's to truncate */
    int fd = open_through(pl.file, pl.flags, pl.mode);
    FILE *f = fd < 0 ? NULL : fdopen(fd, mode);
    int e = errno;
    if (!f && fd >= 0) close(fd);
    free(pl.file);
    errno = e;
    return f;
  }
  size_t len = strlen(pl.file) + sizeof TMP_SUFFIX;
  *tmp = malloc(len);
  if (*tmp) snprintf(*tmp, len, "%s" TMP_SUFFIX, pl.file);
  free(pl.file);
  int fd = *tmp ? mkstemp(*tmp) : -1;
  if (fd < 0) {
    int e = *tmp ? errno : ENOMEM;
    free(*tmp);
    *tmp = NULL;
    errno = e;
    return NULL;
  }
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
  (void)path;   /* the target is tmp's name without its suffix: the link's target, when path is a link */
  /* no fsync: the rename protects against failed runs (the goal), and an
  ** fsync would cost milliseconds per output file */
  int bad = ferror(f) || fflush(f) != 0;
  int e = errno;
  if (fclose(f) != 0 && !bad) bad = 1, e = errno;
  int rc = bad ? 1 : 0;
  if (!tmp) {
    errno = e;
    return rc;
  }
  if (keep && !bad) {
    size_t n = strlen(tmp) - (sizeof TMP_SUFFIX - 1);
    char *target = malloc(n + 1);
    if (!target) {
      rc = 2, e = ENOMEM;
    } else {
      memcpy(target, tmp, n);
      target[n] = '\0';
      if (rename(tmp, target) != 0) rc = 2, e = errno;
      free(target);
    }
  }
  if (!keep || rc) unlink(tmp);
  errno = e;
  return rc;
}
