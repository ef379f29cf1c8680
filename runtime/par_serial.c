/*
** par_serial.c — par.h for the build without MPI: one process does every
** task, so a share is the whole list and a gather has nothing to move.
*/
#include "par.h"

#include <stdlib.h>
#include <string.h>

int par_rank(void) { return 0; }
int par_size(void) { return 1; }
int par_writes(void) { return 1; }
int par_node_ranks(void) { return 1; }
int par_active(void) { return 0; }
int par_available(void) { return 0; }
double par_bytes(void) { return 0; }

void par_share(long n, long *lo, long *hi) {
  *lo = 0;
  *hi = n;
}

int par_gather(void *buf, long n, size_t rowbytes, int status, char *err, size_t errlen) {
  (void)buf, (void)n, (void)rowbytes, (void)err, (void)errlen;
  return status;
}

int par_finish(int status, const char *msg, char **text) {
  *text = status && msg ? strdup(msg) : NULL;
  return status;
}

int par_start(int *argc, char ***argv, char *err, size_t errlen) {
  (void)argc, (void)argv, (void)err, (void)errlen;
  return 0;
}

int par_use_comm(const void *comm) { return comm ? -1 : 0; }
void par_stop(void) {}

int par_gather_upto(void *buf, long n, size_t rowbytes, size_t total, int status, char *err, size_t errlen) {
  (void)total;
  return par_gather(buf, n, rowbytes, status, err, errlen);
}

int par_gather_parts(void *buf, long n, const size_t *off, int status, char *err, size_t errlen) {
  (void)buf, (void)n, (void)off, (void)err, (void)errlen;
  return status;
}

int par_slices(double *const *v, int nv, size_t N, double *recv, int status, char *err, size_t errlen) {
  (void)v, (void)nv, (void)N, (void)recv, (void)err, (void)errlen;
  return status;
}
