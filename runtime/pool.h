/*
** pool.h — the worker threads of the particle and ensemble engines.
**
** pool_run(nt, ntasks, dynamic, body, ctx) splits tasks 0..ntasks-1 over nt
** threads (the caller is thread 0) and returns when all are done:
**   static:  thread t calls body once on [ntasks*t/nt, ntasks*(t+1)/nt);
**   dynamic: threads take one task at a time, body(ctx, k, k + 1, t).
** Callers give every task its own output, so no result depends on nt.
**
** Why not OpenMP: libgomp's idle threads spin for a long while by default,
** and its wait policy is read from the environment before main, so a
** program cannot choose it.  Two particle runs sharing two cores took 45 s
** each instead of 6 s.  Here idle workers spin for at most ~20 us (enough
** for back-to-back passes of one solver), then sleep.
*/
#ifndef HNN_POOL_H
#define HNN_POOL_H

typedef void (*pool_body)(void *ctx, long lo, long hi, int thread);

/* Threads to use by default: HNN_THREADS, else OMP_NUM_THREADS, else the
** CPUs this process may run on; in an MPI job whose processes are not bound
** to CPUs, those divided by the job's processes on this machine (par.h). */
int pool_max_threads(void);

/* Run body over ntasks tasks on nt threads (nt <= 1, or a call from inside
** a body: serially on the calling thread). */
void pool_run(int nt, long ntasks, int dynamic, pool_body body, void *ctx);

/* 1 inside a pool task (on any thread, also a serial one), else 0. */
int pool_inside(void);

#endif
