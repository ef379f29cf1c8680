/*
** mpi_api.c — the MPI part of the embedding API (hnn.h) over runtime/par.h,
** which is par_mpi.c or, without MPI, par_serial.c.
*/
#include <stdio.h>

#include "hnn.h"
#include "par.h"

int hnn_mpi_available(void) { return par_available(); }

int hnn_set_mpi_comm(const void *comm) { return par_use_comm(comm) == 0 ? HNN_OK : HNN_ERR_USAGE; }

int hnn_mpi_start(int *argc, char ***argv) {
  char err[256];
  if (par_start(argc, argv, err, sizeof err) == 0) return HNN_OK;
  fprintf(stderr, "hnn: error: %s\n", err);
  return HNN_ERR_RUNTIME;
}

int hnn_mpi_rank(void) { return par_rank(); }
int hnn_mpi_size(void) { return par_size(); }

int hnn_mpi_finish(int status, const char *msg, char **text) { return par_finish(status, msg, text); }

void hnn_mpi_stop(void) { par_stop(); }
