/*
** protocol_driver.c — the failure protocol of runtime/par_mpi.c, run by
** tests/run-mpi.sh under mpirun.  Every rank prints one line; the script
** checks them.  usage: protocol_driver CASE
**   finish   the last rank fails alone at the end: every rank gets its
**            status (3) and message
**   gather   the last rank fails inside a gather: every rank gets its
**            status and message, and a later gather fails without
**            communicating
**   stray    rank 0 stops on its own (as after a failed write) while the
**            others gather: they get its message at that gather
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"

int main(int argc, char **argv) {
  char err[256] = "";
  if (par_start(&argc, &argv, err, sizeof err) || argc < 2) return 2;
  int r = par_rank(), K = par_size(), last = r == K - 1, st = 0;
  double v[64];
  for (int i = 0; i < 64; i++) v[i] = -1;
  long lo, hi;
  par_share(64, &lo, &hi);
  for (long i = lo; i < hi; i++) v[i] = (double)i;
  char *text = NULL;
  if (strcmp(argv[1], "finish") == 0) {
    st = par_gather(v, 64, sizeof(double), 0, err, sizeof err);
    int ok = st == 0 && v[0] == 0 && v[63] == 63;
    st = par_finish(last ? 3 : 0, last ? "boom on the last rank" : "", &text);
    printf("rank %d: gathered %s, finish %d '%s'\n", r, ok ? "ok" : "BAD", st, text ? text : "");
  } else if (strcmp(argv[1], "gather") == 0) {
    if (last) snprintf(err, sizeof err, "block failed on the last rank");
    st = par_gather(v, 64, sizeof(double), last ? -5 : 0, err, sizeof err);
    int again = par_gather(v, 64, sizeof(double), 0, NULL, 0);
    int fin = par_finish(3, "wrapped", &text);
    printf("rank %d: gather %d '%s', again %d, finish %d '%s'\n", r, st, err, again, fin, text ? text : "");
  } else if (strcmp(argv[1], "stray") == 0) {
    if (r == 0) {
      st = par_finish(3, "rank 0 could not write", &text);
      printf("rank %d: finish %d '%s'\n", r, st, text ? text : "");
    } else {
      st = par_gather(v, 64, sizeof(double), 0, err, sizeof err);
      int fin = par_finish(st ? 3 : 0, err, &text);
      printf("rank %d: gather %d '%s', finish %d '%s'\n", r, st, err, fin, text ? text : "");
    }
  } else {
    return 2;
  }
  free(text);
  par_stop();
  return 0;
}
