/*
** prox_kernel.c — the N x N Gibbs kernel of the proximal step: stored (single
** or double precision) or built on the fly row by row; one fused pass per
** iteration for the row and the column sums, plain-domain with an exact
** log-sum-exp fallback per sum; a vectorizable exp.
**
** Entries are K_rs = exp(a_r + b_s - C_rs/(2 eps)) with absorbed log
** potentials a (old points), b (new points).  Every sum is computed in an
** order fixed by N alone (the column sums over a fixed tree of row parts),
** so results do not depend on the thread count or the MPI process count.
** Internal to prox.c (prox_internal.h).
*/
/* FP comparisons may not trap here, so that clamps if-convert and the exp
** loops vectorize; nothing in this file reads the FP exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <string.h>
#include "fastexp.h"
#include "pool.h"
#include "par.h"
#include "prox_internal.h"

#define BLK 256          /* columns per block: the block stays in L1 */
#define SUM_LO 1e-250    /* plain sums outside [SUM_LO, SUM_HI] are redone */
#define SUM_HI 1e250     /* exactly in the log domain */

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(HNN_NO_CLONES)
#define PROX_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PROX_CLONES
#endif

/* tmp[s - s0] = base + py[s] (+ lw[s]) - C(r, s) / (2 eps) for s in [s0, s1).
** tr = 0: r indexes old points, s new points; tr = 1: the reverse. */
PROX_CLONES
static void expo_block(const prox_ker *k, int tr, size_t r, size_t s0, size_t s1, double base,
                       const double *py, const double *lw, double *tmp) {
  size_t m = s1 - s0, N = k->N;
  const double ie = k->inv2eps;
  if (lw) {
#pragma omp simd
    for (size_t s = 0; s < m; s++) tmp[s] = base + py[s0 + s] + lw[s0 + s];
  } else {
#pragma omp simd
    for (size_t s = 0; s < m; s++) tmp[s] = base + py[s0 + s];
  }
  if (k->cost) {
    if (!tr) {
      const double *c = k->cost + r * N + s0;
#pragma omp simd
      for (size_t s = 0; s < m; s++) tmp[s] -= c[s] * ie;
    } else {
      for (size_t s = 0; s < m; s++) tmp[s] -= k->cost[(s0 + s) * N + r] * ie;
    }
    return;
  }
  const double *X = tr ? k->cnew : k->cold, *Y = tr ? k->cold : k->cnew;
  for (int d = 0; d < k->n; d++) {
    const double xr = X[(size_t)d * N + r];
    const double *y = Y + (size_t)d * N + s0;
#pragma omp simd
    for (size_t s = 0; s < m; s++) {
      double e = xr - y[s];
      tmp[s] -= e * e * ie;
    }
  }
}

PROX_CLONES
static double sum_exp(const double *tmp, size_t m, double shift) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (size_t s = 0; s < m; s++) acc += hnn_fexp13(tmp[s] - shift);
  return acc;
}

/* log sum_s exp(px[r] + py[s] + lw[s] - C_rs/2eps), one pass with a
** running maximum (rescaled per block). */
static double lse_entry(const prox_ker *k, int tr, size_t r, const double *px, const double *py,
                        const double *lw) {
  double tmp[BLK], mx = -INFINITY, acc = 0.0;
  for (size_t s0 = 0; s0 < k->N; s0 += BLK) {
    size_t s1 = s0 + BLK < k->N ? s0 + BLK : k->N;
    expo_block(k, tr, r, s0, s1, px[r], py, lw, tmp);
    double bm = -INFINITY;
    for (size_t s = 0; s < s1 - s0; s++)
      if (tmp[s] > bm) bm = tmp[s];
    if (!(bm > -INFINITY)) continue;
    if (bm > mx) {
      acc = mx > -INFINITY ? acc * exp(mx - bm) : 0.0;
      mx = bm;
    }
    acc += sum_exp(tmp, s1 - s0, mx);
  }
  if (!(mx > -INFINITY)) return mx; /* all -inf */
  return mx + log(acc);
}

PROX_CLONES
static void build_row(const prox_ker *k, size_t r, double *row) {
  for (size_t s0 = 0; s0 < k->N; s0 += BLK) {
    size_t s1 = s0 + BLK < k->N ? s0 + BLK : k->N;
    expo_block(k, 0, r, s0, s1, k->a[r], k->b, NULL, row + s0);
#pragma omp simd
    for (size_t s = 0; s < s1 - s0; s++) row[s0 + s] = hnn_fexp13(row[s0 + s]);
  }
}

PROX_CLONES
static void build_rows_f(prox_ker *k, long r) {
  double tmp[BLK];
  float *row = k->Kf + (size_t)r * k->N;
  for (size_t s0 = 0; s0 < k->N; s0 += BLK) {
    size_t s1 = s0 + BLK < k->N ? s0 + BLK : k->N;
    expo_block(k, 0, (size_t)r, s0, s1, k->a[r], k->b, NULL, tmp);
#pragma omp simd
    for (size_t s = 0; s < s1 - s0; s++) row[s0 + s] = (float)hnn_fexp13(tmp[s]);
  }
}

static void build_range(void *ctx, long lo, long hi, int thread) {
  prox_ker *k = ctx;
  (void)thread;
  for (long r = lo; r < hi; r++) {
    if (k->Kf) build_rows_f(k, r);
    else build_row(k, (size_t)r, k->K + (size_t)r * k->N);
  }
}

long prox_ker_parts(size_t N) {
  long q = 1;
  while (q * 2 <= PROX_PARTS_MAX && (size_t)q * 2 * PROX_PART_ROWS <= N) q *= 2;
  return q;
}

/* In an MPI job each process builds and sweeps the rows of its parts only. */
static int distributed(const prox_ker *k) { return k->par && par_active(); }

static size_t part_row(size_t N, long np, long p) { return N * (size_t)p / (size_t)np; }

static void my_rows(const prox_ker *k, size_t *r0, size_t *r1) {
  long np = prox_ker_parts(k->N), p0 = 0, p1 = np;
  if (distributed(k)) par_share(np, &p0, &p1);
  *r0 = part_row(k->N, np, p0), *r1 = part_row(k->N, np, p1);
}

typedef struct {
  prox_ker *k;
  size_t r0;             /* the first row of this process */
} build_job;

static void build_mine(void *ctx, long lo, long hi, int thread) {
  build_job *B = ctx;
  build_range(B->k, lo + (long)B->r0, hi + (long)B->r0, thread);
}

void prox_ker_build(prox_ker *k) {
  size_t r1;
  build_job B = { k, 0 };
  my_rows(k, &B.r0, &r1);   /* here: inside a pool task nothing is split */
  if (k->Kf || k->K) pool_run(k->par ? k->threads : 1, (long)(r1 - B.r0), 0, build_mine, &B);
}

PROX_CLONES
static double dot_row(const double *row, const double *v, size_t N) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (size_t s = 0; s < N; s++) acc += row[s] * v[s];
  return acc;
}

PROX_CLONES
static double dot_row_f(const float *row, const double *v, size_t N) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (size_t s = 0; s < N; s++) acc += (double)row[s] * v[s];
  return acc;
}

PROX_CLONES
static void axpy_block_f(double *acc, const float *row, double u, size_t m) {
#pragma omp simd
  for (size_t s = 0; s < m; s++) acc[s] += (double)row[s] * u;
}

PROX_CLONES
static void axpy_block(double *acc, const double *row, double u, size_t m) {
#pragma omp simd
  for (size_t s = 0; s < m; s++) acc[s] += row[s] * u;
}

PROX_CLONES
static void add_into(double *a, const double *b, size_t m) {
#pragma omp simd
  for (size_t s = 0; s < m; s++) a[s] += b[s];
}

/*
** The column sums over the parts.  Part p's rows add into its own vector in
** row order; the parts' vectors are then added over the perfect binary tree
** on the np = 2^L parts: node (lev, idx) covers parts [idx 2^lev,
** (idx + 1) 2^lev) and its sum is left child + right child, always.  Any
** worker with a contiguous range of parts pushes them in order on a stack
** that adds the top two whenever they are siblings; the stack then holds the
** canonical nodes of the range (its largest whole subtrees), and pushing
** those of the next range merges into the canonical nodes of the union.  So
** threads, then processes, then the owners of column slices combine what
** their predecessors left, and every sum is the same tree's: the same bits
** for any split.  A range of m parts leaves at most 2 log2 m nodes; the
** stack holds one more while it merges.
*/
typedef struct {
  int lev;
  long idx;
  double *v;             /* its column sums (or a slice of them); NULL: only counted */
} tnode;

#define TREE_DEPTH 28    /* > 2 log2(PROX_PARTS_MAX) + 1 */
#define PLAN_TASKS 64    /* contiguous ranges of parts, one per thread */

/* Push x; siblings on top merge into the left one's vector (m doubles). */
static int tree_push(tnode *st, int top, tnode x, size_t m) {
  st[top++] = x;
  while (top >= 2 && st[top - 2].lev == st[top - 1].lev && !(st[top - 2].idx & 1) &&
         st[top - 2].idx + 1 == st[top - 1].idx) {
    if (st[top - 2].v) add_into(st[top - 2].v, st[top - 1].v, m);
    st[top - 2].lev++, st[top - 2].idx >>= 1;
    top--;
  }
  return top;
}

/* Parts q0..q1-1 pushed one by one: the deepest stack (vectors to hold),
** and the canonical nodes left (into out, if given). */
static int tree_walk(long q0, long q1, tnode *out, int *nout) {
  tnode st[TREE_DEPTH];
  int top = 0, deep = 0;
  for (long p = q0; p < q1; p++) {
    if (top + 1 > deep) deep = top + 1;
    top = tree_push(st, top, (tnode){ 0, p, NULL }, 0);
  }
  if (out) memcpy(out, st, (size_t)top * sizeof *st);
  if (nout) *nout = top;
  return deep;
}

/* How this process sweeps: its parts, split into tasks, and the layout of
** the workspace `part` (doubles): task t's stack vectors (and, on the fly,
** its row buffer) from off[t]; in an MPI job then the received column
** slices and one fallback count per process. */
typedef struct {
  long np, p0, p1;       /* parts; this process's [p0, p1) */
  int nt, fly, dist;
  long q[PLAN_TASKS + 1];  /* task t: parts [q[t], q[t+1]) */
  size_t off[PLAN_TASKS + 1];
  long c0, c1, nrecv;    /* dist: my columns, the slices I receive */
  size_t recv, cnt, total;
} plan;

static void plan_make(const prox_ker *k, plan *pl) {
  const size_t N = k->N;
  memset(pl, 0, sizeof *pl);
  pl->np = prox_ker_parts(N);
  pl->p1 = pl->np;
  pl->dist = distributed(k);
  if (pl->dist) par_share(pl->np, &pl->p0, &pl->p1);
  pl->fly = !k->K && !k->Kf;
  long m = pl->p1 - pl->p0;
  int nt = k->par && !pool_inside() ? k->threads : 1;
  if (nt > PLAN_TASKS) nt = PLAN_TASKS;
  pl->nt = m < nt ? (int)m : nt;
  for (int t = 0; t <= pl->nt; t++) pl->q[t] = pl->p0 + m * t / (pl->nt ? pl->nt : 1);
  for (int t = 0; t < pl->nt; t++)
    pl->off[t + 1] = pl->off[t] + (size_t)(tree_walk(pl->q[t], pl->q[t + 1], NULL, NULL) + pl->fly) * N;
  pl->recv = pl->cnt = pl->total = pl->off[pl->nt];
  if (!pl->dist) return;
  par_share((long)N, &pl->c0, &pl->c1);
  int P = par_size();
  for (int r = 0; r < P; r++) {
    int c;
    tree_walk(pl->np * r / P, pl->np * (r + 1) / P, NULL, &c);
    pl->nrecv += c;
  }
  pl->cnt = pl->recv + (size_t)pl->nrecv * (size_t)(pl->c1 - pl->c0);
  pl->total = pl->cnt + (size_t)P;
}

size_t prox_ker_work(const prox_ker *k) {
  plan pl;
  plan_make(k, &pl);
  return pl.total ? pl.total : 1;
}

/* One sweep's arrays (prox_ker_sweep's arguments), its plan, the nodes each
** task leaves and the fallback counts. */
typedef struct {
  const prox_ker *k;
  const plan *pl;
  const double *lwz, *wz, *lro;
  double *ls, *lwy, *wy, *lt, *part;
  int rfb, cfb;          /* fallback counts (atomic adds: order-free) */
  size_t c0;             /* the column pass: columns c0.., their sums in col */
  const double *col;
  int top[PLAN_TASKS];
  tnode st[PLAN_TASKS][TREE_DEPTH];
  double prfb[PROX_PARTS_MAX]; /* row fallbacks per part (doubles: one gather type) */
} sweep_job;

/* Part p: row sums, weights, and its column sums into acc (buf: the row,
** built on the fly).  Returns the part's row fallbacks. */
static int sweep_part(sweep_job *J, long p, double *acc, double *buf) {
  const prox_ker *k = J->k;
  const size_t N = k->N;
  int rfb = 0;
  size_t r0 = part_row(N, J->pl->np, p), r1 = part_row(N, J->pl->np, p + 1);
  memset(acc, 0, N * sizeof *acc);
  for (size_t r = r0; r < r1; r++) {
    const float *rf = k->Kf ? k->Kf + r * N : NULL;
    const double *rd = k->K ? k->K + r * N : buf;
    if (!rf && !k->K) build_row(k, r, buf);
    double s = rf ? dot_row_f(rf, J->wz, N) : dot_row(rd, J->wz, N);
    int plain = s >= SUM_LO && s <= SUM_HI;
    J->ls[r] = plain ? log(s) : lse_entry(k, 0, r, k->a, k->b, J->lwz);
    J->lwy[r] = J->lro[r] - J->ls[r];
    J->wy[r] = exp(J->lwy[r]);
    if (!plain) rfb++;
    else if (rf) axpy_block_f(acc, rf, J->wy[r], N);
    else axpy_block(acc, rd, J->wy[r], N);
  }
  J->prfb[p] = rfb;
  return rfb;
}

/* Task t: its parts in order, each pushed on the task's stack. */
static void sweep_tasks(void *ctx, long lo, long hi, int thread) {
  sweep_job *J = ctx;
  const size_t N = J->k->N;
  int rfb = 0;
  (void)thread;
  for (long t = lo; t < hi; t++) {
    double *mem = J->part + J->pl->off[t];
    int top = 0;
    /* the vector of stack slot i is mem + i N: a merge frees the top slot */
    int deep = (int)((J->pl->off[t + 1] - J->pl->off[t]) / N) - J->pl->fly;
    double *buf = J->pl->fly ? mem + (size_t)deep * N : NULL;
    for (long p = J->pl->q[t]; p < J->pl->q[t + 1]; p++) {
      double *acc = mem + (size_t)top * N;
      rfb += sweep_part(J, p, acc, buf);
      top = tree_push(J->st[t], top, (tnode){ 0, p, acc }, N);
    }
    J->top[t] = top;
  }
  if (rfb) __atomic_add_fetch(&J->rfb, rfb, __ATOMIC_RELAXED);
}

/* Columns c0 + lo..hi-1 from their sums in col. */
static void sweep_columns(void *ctx, long lo, long hi, int thread) {
  sweep_job *J = ctx;
  const prox_ker *k = J->k;
  int cfb = 0;
  (void)thread;
  for (long c = lo; c < hi; c++) {
    size_t j = J->c0 + (size_t)c;
    double s = J->col[c];
    if (!J->rfb && s >= SUM_LO && s <= SUM_HI) {
      J->lt[j] = log(s);
    } else {
      J->lt[j] = lse_entry(k, 1, j, k->b, k->a, J->lwy);
      cfb++;
    }
  }
  if (cfb) __atomic_add_fetch(&J->cfb, cfb, __ATOMIC_RELAXED);
}

/*
** In an MPI job: every process's row results into every process (log row
** sums; the weights follow from them as on the process that computed
** them), and each process's canonical nodes cut into column slices, slice
** q to process q, which adds them over the tree for its columns
** (par_slices), computes those columns, and gathers them into every
** process with the fallback counts.  Nonzero when another process failed.
*/
static int sweep_dist(sweep_job *J, tnode *mine, int nmine, int nt) {
  const prox_ker *k = J->k;
  const plan *pl = J->pl;
  const size_t N = k->N;
  const long np = pl->np;
  size_t off[PROX_PARTS_MAX + 1], r0 = part_row(N, np, pl->p0), r1 = part_row(N, np, pl->p1);
  for (long p = 0; p <= np; p++) off[p] = part_row(N, np, p) * sizeof(double);
  if (par_gather_parts(J->ls, np, off, 0, NULL, 0) || par_gather(J->prfb, np, sizeof(double), 0, NULL, 0)) return 1;
  J->rfb = 0;
  for (long p = 0; p < np; p++) J->rfb += (int)J->prfb[p];
  for (size_t r = 0; r < N; r++)
    if (r < r0 || r >= r1) {
      J->lwy[r] = J->lro[r] - J->ls[r];
      J->wy[r] = exp(J->lwy[r]);
    }
  double *v[TREE_DEPTH];
  for (int i = 0; i < nmine; i++) v[i] = mine[i].v;
  double *recv = J->part + pl->recv, *cnt = J->part + pl->cnt;
  if (par_slices(v, nmine, N, recv, 0, NULL, 0)) return 1;
  /* the slices arrive in rank order, each rank's canonical nodes in order */
  const size_t len = (size_t)(pl->c1 - pl->c0);
  const int P = par_size();
  tnode st[TREE_DEPTH], c[TREE_DEPTH];
  int top = 0;
  long got = 0;
  for (int r = 0; r < P; r++) {
    int nc;
    tree_walk(np * r / P, np * (r + 1) / P, c, &nc);
    for (int i = 0; i < nc; i++, got++) top = tree_push(st, top, (tnode){ c[i].lev, c[i].idx, recv + (size_t)got * len }, len);
  }
  J->col = st[0].v, J->c0 = (size_t)pl->c0;
  pool_run(nt, (long)len, 0, sweep_columns, J);
  cnt[par_rank()] = J->cfb;
  if (par_gather(J->lt, (long)N, sizeof(double), 0, NULL, 0) || par_gather(cnt, P, sizeof(double), 0, NULL, 0))
    return 1;
  J->cfb = 0;
  for (int r = 0; r < P; r++) J->cfb += (int)cnt[r];
  return 0;
}

/*
** One pass over the kernel for both sums of an iteration.  Row r
** gives ls_r = log sum_s K_rs wz_s; then y_r = exp(lro_r - ls_r) weights the
** same row, still in cache, into the column sums lt (= log sum_r K_rs y_r).
** This halves the kernel traffic of separate row and column passes (and the
** exps of a kernel built on the fly, row by row).  Column sums are added
** part by part over the fixed tree above, so no result depends on the
** thread or process count.  A sum outside [SUM_LO, SUM_HI] is redone
** exactly; after such a row, whose weight the plain column sums lack,
** every column is (rare: the caller then absorbs the potentials).  part
** holds prox_ker_work(k) doubles.  Returns the number of exact
** recomputations, -1 when another process failed.
*/
int prox_ker_sweep(const prox_ker *k, const double *lwz, const double *wz, const double *lro, double *ls,
                   double *lwy, double *wy, double *lt, double *part) {
  plan pl;
  plan_make(k, &pl);
  sweep_job J = { .k = k, .pl = &pl, .lwz = lwz, .wz = wz, .lro = lro, .ls = ls, .lwy = lwy, .wy = wy, .lt = lt,
                  .part = part };
  int nt = k->par ? k->threads : 1;
  pool_run(nt, pl.nt, 1, sweep_tasks, &J);
  /* the tasks' nodes, in order: this process's canonical nodes */
  tnode st[TREE_DEPTH];
  int top = 0;
  for (int t = 0; t < pl.nt; t++)
    for (int i = 0; i < J.top[t]; i++) top = tree_push(st, top, J.st[t][i], k->N);
  if (pl.dist) return sweep_dist(&J, st, top, nt) ? -1 : J.cfb;
  J.col = st[0].v; /* the root: all parts */
  pool_run(nt, (long)k->N, 0, sweep_columns, &J);
  return J.cfb;
}
