/*
** par.h — one run split over the processes of an MPI job.
**
** Two implementations of one small interface: par_mpi.c (configure
** --with-mpi) and par_serial.c (one process, the plain build).  Engines ask
** for their share of a fixed task list (par_share: contiguous blocks in rank
** order), compute it, and par_gather puts every share into every process's
** copy, so each process holds the whole state after each step and results
** never depend on the number of processes: the tasks (particle blocks,
** ensemble members, kernel row parts, target rows) and their random streams
** are fixed by the problem, never by the rank.
**
** Failure: a gather first exchanges every process's status, so a failure on
** one process fails the step on all of them, with the message of the lowest
** failing rank; later gathers then fail at once, without communicating,
** until par_finish (every process calls it at the end of a program or a
** load) clears the failure.  A process that stops outside a gather (its own error, an interrupt) meets
** the others at their next gather or at par_finish, which does the same
** exchange; so no process waits forever for one that has stopped.
**
** Every process runs the same program on the same data, so all make the
** same calls in the same order; a gather that some processes skip is
** detected at the next exchange (the headers differ) and fails the job.
** Work is split only on the thread that started MPI and outside pool tasks
** (pool.h): a kernel sum inside an ensemble member runs in that member's
** process.  Only rank 0 writes files (afile.c opens /dev/null elsewhere),
** prints and draws the progress line.
*/
#ifndef HNN_PAR_H
#define HNN_PAR_H

#include <stddef.h>

/* Returned by par_gather when another process failed outside a gather. */
#define PAR_EREMOTE (-100)

int par_rank(void);         /* 0 in one process */
int par_size(void);         /* 1 in one process */
int par_writes(void);       /* 1 on the process that writes files and prints */
int par_node_ranks(void);   /* processes of this job on this machine (1) */
int par_active(void);       /* split work here and now? (size > 1, main thread, not in a pool task) */

/* This process's block [lo, hi) of tasks 0..n-1: [n r / K, n (r+1) / K)
** when par_active, else [0, n). */
void par_share(long n, long *lo, long *hi);

/* buf holds n rows of rowbytes bytes; this process computed the rows of
** par_share(n).  Exchanges the statuses (0: ok); when all are 0, copies every
** process's rows into every buf and returns 0.  Else returns the status of
** the lowest failing rank (PAR_EREMOTE if it failed outside a gather) and
** copies its message into err (errlen bytes, may be NULL).  Without
** par_active: returns status and does nothing else. */
int par_gather(void *buf, long n, size_t rowbytes, int status, char *err, size_t errlen);
/* The same when buf holds only total bytes (<= n rowbytes): the last row is
** cut short (the last block of SDE_BLOCK particles). */
int par_gather_upto(void *buf, long n, size_t rowbytes, size_t total, int status, char *err, size_t errlen);
/* The same for tasks of unequal sizes: task i is bytes [off[i], off[i+1]). */
int par_gather_parts(void *buf, long n, const size_t *off, int status, char *err, size_t errlen);

/* Column slices: this process has nv vectors of N doubles, and process q
** owns the columns par_share(N) gives q.  Each process receives, from every
** process in rank order, that process's vectors cut to its own columns:
** slice i of the concatenation at recv + i c, c its column count.  The
** statuses first, as in par_gather.  Without par_active: returns status
** and does nothing else. */
int par_slices(double *const *v, int nv, size_t N, double *recv, int status, char *err, size_t errlen);

/* Bytes this process received in gathers since the start (benchmarks). */
double par_bytes(void);

/* The end of a program: agree on one outcome.  status is this process's
** hnn status, msg its error text ("" if none).  Returns the status of the
** lowest failing rank (0 if none) and in *text the message to print for it
** (malloc'd; msg itself when that rank is this one or when every process
** failed in the same gather), or NULL when all succeeded. */
int par_finish(int status, const char *msg, char **text);

/* Start: MPI_Init when the program was launched by an MPI launcher (mpirun,
** srun), with MPI_COMM_WORLD; else nothing.  0, or -1 with a message. */
int par_start(int *argc, char ***argv, char *err, size_t errlen);
/* Use the communicator *comm (an MPI_Comm) that the caller initialized;
** NULL: one process again.  0, or -1 when built without MPI. */
int par_use_comm(const void *comm);
/* MPI_Finalize when par_start called MPI_Init. */
void par_stop(void);
int par_available(void);    /* 1 when built with MPI */

#endif
