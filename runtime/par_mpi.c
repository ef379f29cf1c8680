/*
** par_mpi.c — par.h over MPI (Open MPI 4.1; configure --with-mpi).
**
** Every collective starts with the same small exchange, a header per rank
** (what the rank is doing, its status, the rows it gathers), so ranks that
** have taken different paths — one failed on its own, or stopped on an
** interrupt, while the others went on — still meet in matching calls: the
** failure is agreed there, its message is broadcast from the lowest failing
** rank, and every later collective fails without communicating ("poisoned").
** MPI is called only from the thread that initialized it (MPI_THREAD_FUNNELED).
*/
#define _GNU_SOURCE
#include "par.h"
#include "pool.h"

#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_GATHER = 1, OP_FINISH = 2, OP_SLICES = 3 };

static struct {
  int on;                  /* a communicator is in use */
  int started;             /* par_start called MPI_Init */
  MPI_Comm comm;
  int rank, size, node;
  pthread_t main;
  double bytes;
  double cpu0, cpu_x;      /* CPU seconds at the start, and spent in exchanges */
  int poisoned;            /* a failure was agreed */
  int pstatus, pfrom, pop; /* its status, rank and that rank's operation */
  char *pmsg;
} P = { .size = 1, .node = 1 };

int par_available(void) { return 1; }
int par_rank(void) { return P.on ? P.rank : 0; }
int par_size(void) { return P.on ? P.size : 1; }
int par_writes(void) { return par_rank() == 0; }
int par_node_ranks(void) { return P.on ? P.node : 1; }
double par_bytes(void) { return P.bytes; }

int par_active(void) {
  return P.on && P.size > 1 && !pool_inside() && pthread_equal(pthread_self(), P.main);
}

static void block_of(long n, int r, long *lo, long *hi) {
  *lo = (long)((__int128)n * r / P.size);
  *hi = (long)((__int128)n * (r + 1) / P.size);
}

void par_share(long n, long *lo, long *hi) {
  if (!par_active()) {
    *lo = 0, *hi = n;
    return;
  }
  block_of(n, P.rank, lo, hi);
}

static void copy_msg(char *err, size_t errlen, const char *m) {
  if (err && errlen) snprintf(err, errlen, "%s", m ? m : "");
}

/* The header exchange.  Returns 0 when every rank does `op` with status 0
** (and, for a gather, the same n); else agrees on the failure, poisons and
** returns 1.  msg: this rank's message if it failed; ns (may be NULL): every
** rank's n, on success. */
static int agree(int op, int status, long n, const char *msg, long *ns) {
  long mine[3] = { op, status, n }, *all = malloc(sizeof(long) * 3 * (size_t)P.size);
  if (!all) {   /* cannot take part: the job cannot go on */
    fprintf(stderr, "hnn: error: out of memory in an MPI exchange on rank %d\n", P.rank);
    MPI_Abort(P.comm, 3);
  }
  MPI_Allgather(mine, 3, MPI_LONG, all, 3, MPI_LONG, P.comm);
  int from = -1, same = 1;
  for (int r = 0; r < P.size; r++) {
    if (all[3 * r + 1] != 0 && from < 0) from = r;
    if (all[3 * r] != op || (op == OP_GATHER && all[3 * r + 2] != n)) same = 0;
  }
  if (from < 0 && same) {
    for (int r = 0; ns && r < P.size; r++) ns[r] = all[3 * r + 2];
    free(all);
    return 0;
  }
  P.poisoned = 1;
  free(P.pmsg);
  P.pmsg = NULL;
  if (from < 0) {   /* nobody failed, yet the ranks disagree on what comes next */
    P.pfrom = 0, P.pop = OP_FINISH, P.pstatus = 3;
    P.pmsg = strdup("hnn: error: the processes of the MPI job took different paths (internal error)");
  } else {
    P.pfrom = from, P.pop = (int)all[3 * from], P.pstatus = (int)all[3 * from + 1];
    int len = P.rank == from && msg ? (int)strlen(msg) : 0;
    MPI_Bcast(&len, 1, MPI_INT, from, P.comm);
    char *buf = malloc((size_t)len + 1);
    if (!buf) MPI_Abort(P.comm, 3);   /* the broadcast must happen on every rank */
    if (P.rank == from) memcpy(buf, msg, (size_t)len);
    MPI_Bcast(buf, len, MPI_CHAR, from, P.comm);
    buf[len] = '\0';
    P.pmsg = buf;
  }
  free(all);
  return 1;
}

/* Where task i starts in the buffer, in bytes (i = n: the end). */
typedef struct {
  size_t rowbytes, total;
  const size_t *off;
} layout;

static size_t start_of(const layout *L, long i) {
  if (L->off) return L->off[i];
  size_t b = (size_t)i * L->rowbytes;
  return b < L->total ? b : L->total;
}

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int gather_counted(void *buf, long n, const layout *L, int status, char *err, size_t errlen);

/* The CPU time of exchanges (waits spin) is counted apart, so bench/mpi can
** tell a process's own work from its waiting on a shared machine. */
static int gather(void *buf, long n, const layout *L, int status, char *err, size_t errlen) {
  if (!par_active()) return status;
  double c0 = cpu_now();
  int rc = gather_counted(buf, n, L, status, err, errlen);
  P.cpu_x += cpu_now() - c0;
  return rc;
}

static int gather_counted(void *buf, long n, const layout *L, int status, char *err, size_t errlen) {
  if (!P.poisoned && agree(OP_GATHER, status, n, err && status ? err : "", NULL) == 0) {
    /* counts in doubles when every block is whole doubles (2^31 of them per
    ** rank), else in bytes; the same on every rank, so all stop alike */
    int *cnt = malloc(sizeof(int) * 2 * (size_t)P.size), *dsp = cnt ? cnt + P.size : NULL;
    size_t unit = sizeof(double), mine = 0;
    for (int r = 0; r < P.size; r++) {
      long lo, hi;
      block_of(n, r, &lo, &hi);
      if (start_of(L, lo) % unit || start_of(L, hi) % unit) unit = 1;
    }
    int ok = cnt != NULL;
    for (int r = 0; ok && r < P.size; r++) {
      long lo, hi;
      block_of(n, r, &lo, &hi);
      size_t b0 = start_of(L, lo), b1 = start_of(L, hi);
      ok = b1 >= b0 && (b1 - b0) / unit <= INT_MAX && b0 / unit <= INT_MAX;
      if (ok) cnt[r] = (int)((b1 - b0) / unit), dsp[r] = (int)(b0 / unit);
      if (r == P.rank) mine = b1 - b0;
    }
    if (!ok) {
      free(cnt);
      copy_msg(err, errlen, "a block of the MPI exchange is too large");
      return PAR_EREMOTE;
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, dsp, unit == 1 ? MPI_BYTE : MPI_DOUBLE, P.comm);
    P.bytes += (double)(start_of(L, n) - start_of(L, 0) - mine);
    free(cnt);
    return 0;
  }
  copy_msg(err, errlen, P.pmsg);
  return P.pop == OP_GATHER ? P.pstatus : PAR_EREMOTE;
}

int par_gather_upto(void *buf, long n, size_t rowbytes, size_t total, int status, char *err, size_t errlen) {
  layout L = { rowbytes, total, NULL };
  return gather(buf, n, &L, status, err, errlen);
}

int par_gather_parts(void *buf, long n, const size_t *off, int status, char *err, size_t errlen) {
  layout L = { 0, 0, off };
  return gather(buf, n, &L, status, err, errlen);
}

int par_gather(void *buf, long n, size_t rowbytes, int status, char *err, size_t errlen) {
  return par_gather_upto(buf, n, rowbytes, (size_t)n * rowbytes, status, err, errlen);
}

/* Point to point: every (vector, destination) pair is one message straight
** from the vector, so nothing is packed; messages between two ranks with one
** tag arrive in the order sent, which orders the slices. */
static int slices_counted(double *const *v, int nv, size_t N, double *recv, int status, char *err, size_t errlen) {
  long *ns = malloc(sizeof(long) * (size_t)P.size);
  if (!ns) {   /* cannot take part: the job cannot go on */
    fprintf(stderr, "hnn: error: out of memory in an MPI exchange on rank %d\n", P.rank);
    MPI_Abort(P.comm, 3);
  }
  if (P.poisoned || agree(OP_SLICES, status, nv, err && status ? err : "", ns) != 0) {
    free(ns);
    copy_msg(err, errlen, P.pmsg);
    return P.pop == OP_SLICES || P.pop == OP_GATHER ? P.pstatus : PAR_EREMOTE;
  }
  long lo, hi, before = 0, total = 0;
  for (int r = 0; r < P.size; r++) total += ns[r], before += r < P.rank ? ns[r] : 0;
  block_of((long)N, P.rank, &lo, &hi);
  const size_t len = (size_t)(hi - lo);
  MPI_Request *rq = malloc(sizeof *rq * (size_t)(total - nv + (long)nv * (P.size - 1) + 1));
  if (!rq || N / (size_t)P.size + 1 > INT_MAX) {
    /* every rank takes this branch alike for the size; a failed malloc aborts */
    if (!rq && N / (size_t)P.size + 1 <= INT_MAX) {
      fprintf(stderr, "hnn: error: out of memory in an MPI exchange on rank %d\n", P.rank);
      MPI_Abort(P.comm, 3);
    }
    free(rq), free(ns);
    copy_msg(err, errlen, "a block of the MPI exchange is too large");
    return PAR_EREMOTE;
  }
  int k = 0;
  long at = 0;
  for (int r = 0; r < P.size; r++) {
    for (long i = 0; i < ns[r]; i++, at++)
      if (r != P.rank) MPI_Irecv(recv + (size_t)at * len, (int)len, MPI_DOUBLE, r, 17, P.comm, &rq[k++]);
  }
  for (int r = 0; r < P.size; r++) {
    long a, b;
    block_of((long)N, r, &a, &b);
    for (int i = 0; r != P.rank && i < nv; i++) MPI_Isend(v[i] + a, (int)(b - a), MPI_DOUBLE, r, 17, P.comm, &rq[k++]);
  }
  for (int i = 0; i < nv; i++) memcpy(recv + (size_t)(before + i) * len, v[i] + lo, len * sizeof(double));
  MPI_Waitall(k, rq, MPI_STATUSES_IGNORE);
  P.bytes += (double)(total - nv) * (double)len * sizeof(double);
  free(rq), free(ns);
  return 0;
}

int par_slices(double *const *v, int nv, size_t N, double *recv, int status, char *err, size_t errlen) {
  if (!par_active()) return status;
  double c0 = cpu_now();
  int rc = slices_counted(v, nv, N, recv, status, err, errlen);
  P.cpu_x += cpu_now() - c0;
  return rc;
}

int par_finish(int status, const char *msg, char **text) {
  *text = NULL;
  if (!P.on || P.size == 1) {
    if (status) *text = strdup(msg ? msg : "");
    return status;
  }
  if (!P.poisoned && agree(OP_FINISH, status, 0, msg, NULL) == 0) return 0;
  int st;
  if (P.pop == OP_GATHER && status) {
    /* a failure inside a gather is every rank's own error (it names the run
    ** and wraps the failing rank's message): each prints its own */
    *text = strdup(msg ? msg : "");
    st = status;
  } else {
    *text = strdup(P.pmsg ? P.pmsg : "");
    st = P.pop == OP_FINISH ? P.pstatus : 3;
  }
  /* every rank is past the failure here (all were poisoned by the same
  ** exchange), so all may start afresh: an embedding program goes on */
  P.poisoned = 0;
  return st;
}

static int launched(void) {
  static const char *vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE" };
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return 1;
  }
  return 0;
}

static void attach(MPI_Comm c) {
  P.comm = c;
  MPI_Comm_rank(c, &P.rank);
  MPI_Comm_size(c, &P.size);
  MPI_Comm node;
  MPI_Comm_split_type(c, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &P.node);
  MPI_Comm_free(&node);
  P.main = pthread_self();
  P.cpu0 = cpu_now();
  P.on = 1;
}

int par_start(int *argc, char ***argv, char *err, size_t errlen) {
  int inited = 0;
  MPI_Initialized(&inited);
  if (inited || !launched()) return 0;
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    copy_msg(err, errlen, "MPI_Init failed");
    return -1;
  }
  P.started = 1;
  attach(MPI_COMM_WORLD);
  return 0;
}

int par_use_comm(const void *comm) {
  if (!comm) {
    P.on = 0, P.size = 1, P.rank = 0, P.node = 1;
    return 0;
  }
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) return -1;
  attach(*(const MPI_Comm *)comm);
  return 0;
}

void par_stop(void) {
  int fin = 0;
  /* for bench/mpi: what each process moved and computed */
  const char *v = getenv("HNN_MPI_STATS");
  if (P.on && v && *v && *v != '0')
    fprintf(stderr, "hnn: mpi: rank %d of %d: received %.0f bytes, cpu %.3f s, of which %.3f s in exchanges\n", P.rank,
            P.size, P.bytes, cpu_now() - P.cpu0, P.cpu_x);
  if (P.started && (MPI_Finalized(&fin), !fin)) MPI_Finalize();
  P.on = 0;
  free(P.pmsg);
  P.pmsg = NULL;
}
