/*
** pool.c — a process-wide pool of worker threads (see pool.h).
**
** One job at a time (concurrent callers queue on job_lock).  A job is
** published under mu with a new generation number; workers that see it
** run their share and count themselves out; the last one wakes the caller.
** Both sides spin on the atomics for a short while before sleeping on a
** condition variable.
*/
#define _GNU_SOURCE
#include "pool.h"
#include "par.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 256
#define SPIN_NS 20000

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static int nworkers;
static unsigned long gen;          /* job number, read by spinning workers */
static int pending;                /* workers still in the job */
static struct {
  pool_body body;
  void *ctx;
  long ntasks, next;               /* next: the dynamic schedule's counter */
  int nt, dynamic;
} job;
static _Thread_local int in_pool;

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return 1e9 * (double)t.tv_sec + (double)t.tv_nsec;
}

/* Spin until *v != old (1) or for SPIN_NS (0). */
static int spin_while_ul(const unsigned long *v, unsigned long old) {
  double t0 = now_ns();
  for (int k = 1;; k++) {
    if (__atomic_load_n(v, __ATOMIC_ACQUIRE) != old) return 1;
    if ((k & 63) == 0 && now_ns() - t0 > SPIN_NS) return 0;
  }
}

/* Spin until *v == 0 (1) or for SPIN_NS (0). */
static int spin_until_zero(const int *v) {
  double t0 = now_ns();
  for (int k = 1;; k++) {
    if (__atomic_load_n(v, __ATOMIC_ACQUIRE) == 0) return 1;
    if ((k & 63) == 0 && now_ns() - t0 > SPIN_NS) return 0;
  }
}

static void share(int t) {
  if (t >= job.nt) return;
  if (job.dynamic) {
    for (long k; (k = __atomic_fetch_add(&job.next, 1, __ATOMIC_RELAXED)) < job.ntasks;)
      job.body(job.ctx, k, k + 1, t);
  } else {
    long lo = job.ntasks * t / job.nt, hi = job.ntasks * (t + 1) / job.nt;
    if (lo < hi) job.body(job.ctx, lo, hi, t);
  }
}

static unsigned long start_gen[POOL_MAX];   /* the job number when each worker started */

static void *worker(void *arg) {
  int t = (int)(long)arg;
  in_pool = 1;
  unsigned long seen = start_gen[t];   /* the next job is the first one it runs */
  for (;;) {
    if (!spin_while_ul(&gen, seen)) {
      pthread_mutex_lock(&mu);
      while (__atomic_load_n(&gen, __ATOMIC_ACQUIRE) == seen) pthread_cond_wait(&go, &mu);
      pthread_mutex_unlock(&mu);
    }
    seen = __atomic_load_n(&gen, __ATOMIC_ACQUIRE);
    share(t);
    pthread_mutex_lock(&mu);
    if (__atomic_sub_fetch(&pending, 1, __ATOMIC_ACQ_REL) == 0) pthread_cond_signal(&done);
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

int pool_max_threads(void) {
  const char *e = getenv("HNN_THREADS");
  if (!e || !*e) e = getenv("OMP_NUM_THREADS");
  if (e && *e) {
    long v = strtol(e, NULL, 10);
    if (v >= 1) return v < POOL_MAX ? (int)v : POOL_MAX;
  }
  cpu_set_t set;
  int online = (int)sysconf(_SC_NPROCESSORS_ONLN);
  int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : online;
  /* MPI processes on one machine share its CPUs, unless the launcher bound
  ** each to its own (then the affinity set is already the share) */
  int k = par_node_ranks();
  if (k > 1 && n >= online) n /= k;
  return n < 1 ? 1 : n < POOL_MAX ? n : POOL_MAX;
}

/* Start workers 1..want-1 (under job_lock); returns how many threads run. */
static int grow(int want) {
  while (nworkers + 1 < want) {
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    start_gen[nworkers + 1] = gen;
    int rc = pthread_create(&th, &a, worker, (void *)(long)(nworkers + 1));
    pthread_attr_destroy(&a);
    if (rc) break;
    nworkers++;
  }
  return nworkers + 1 < want ? nworkers + 1 : want;
}

int pool_inside(void) { return in_pool; }

void pool_run(int nt, long ntasks, int dynamic, pool_body body, void *ctx) {
  if (ntasks <= 0) return;
  if (nt > POOL_MAX) nt = POOL_MAX;
  if (nt > ntasks) nt = (int)ntasks;
  if (nt <= 1 || in_pool) {
    int outer = in_pool;
    in_pool = 1;
    if (dynamic)
      for (long k = 0; k < ntasks; k++) body(ctx, k, k + 1, 0);
    else
      body(ctx, 0, ntasks, 0);
    in_pool = outer;
    return;
  }
  pthread_mutex_lock(&job_lock);
  nt = grow(nt);
  pthread_mutex_lock(&mu);
  job.body = body;
  job.ctx = ctx;
  job.ntasks = ntasks;
  job.next = 0;
  job.nt = nt;
  job.dynamic = dynamic;
  __atomic_store_n(&pending, nworkers, __ATOMIC_RELEASE);
  __atomic_add_fetch(&gen, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&go);
  pthread_mutex_unlock(&mu);
  in_pool = 1;
  share(0);
  in_pool = 0;
  if (!spin_until_zero(&pending)) {
    pthread_mutex_lock(&mu);
    while (__atomic_load_n(&pending, __ATOMIC_ACQUIRE) != 0) pthread_cond_wait(&done, &mu);
    pthread_mutex_unlock(&mu);
  }
  pthread_mutex_unlock(&job_lock);
}
