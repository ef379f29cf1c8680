/*
** sinkhorn.c — log-domain Sinkhorn with eps-scaling and the debiased
** Sinkhorn divergence (sinkhorn.h).
**
** Every update is a soft c-transform, out_i = -eps log sum_j exp(h_j -
** |x_i - y_j|^2 / eps) with h_j = g_j / eps + log b_j, computed by
** lse_row: columns in blocks that stay in L1, each block's maximum
** subtracted before the (vectorized, fastexp.h) exp, the block sums combined
** online.  That is the one inner loop; a shared kernel-sum engine can take
** its place later without touching the iteration logic.
**
** The stopping rule costs nothing extra: the row sums of the plan of (f, g)
** are a_i exp((f_i - T(g)_i) / eps) and its column sums b_j exp((g_j -
** T(f)_j) / eps), so the next f-update and the last g-update give the L1
** error of the current plan before it is accepted.
*/
/* FP comparisons may not trap, so the max reductions if-convert and the
** loops vectorize; nothing here reads the FP exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fastexp.h"
#include "par.h"
#include "pool.h"
#include "sinkhorn.h"

#define BLK 256            /* columns per block: the block stays in L1 */
#define RB 16              /* rows per pool task */

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(HNN_NO_CLONES)
#define OT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define OT_CLONES
#endif

struct ot_sinkhorn_ws {
  int d;
  size_t cap;
  double *xs, *ys;         /* coordinate-major copies: xs[k * cap + i] */
  double *la, *lb;         /* log weights (mass 1), -inf for zero weights */
  double *f, *g, *fn, *gn; /* potentials and their next c-transforms */
  double *h;               /* the column terms of a pass */
  double *row;             /* per-row partial sums */
};

void ot_sinkhorn_opts_default(ot_sinkhorn_opts *o) {
  o->eps = 0.05;
  o->tol = 1e-6;
  o->max_iter = 10000;
  o->scaling = 0.5;
  o->threads = 0;
}

ot_sinkhorn_ws *ot_sinkhorn_ws_alloc(int d, size_t nmax, size_t mmax) {
  if (d < 1) return NULL;
  ot_sinkhorn_ws *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  size_t cap = nmax > mmax ? nmax : mmax;
  if (cap == 0) cap = 1;
  w->d = d;
  w->cap = cap;
  w->xs = malloc((size_t)d * cap * sizeof *w->xs);
  w->ys = malloc((size_t)d * cap * sizeof *w->ys);
  double **v[] = { &w->la, &w->lb, &w->f, &w->g, &w->fn, &w->gn, &w->h, &w->row };
  int ok = w->xs && w->ys;
  for (size_t k = 0; k < sizeof v / sizeof *v; k++) ok &= (*v[k] = malloc(cap * sizeof **v[k])) != NULL;
  if (!ok) {
    ot_sinkhorn_ws_free(w);
    return NULL;
  }
  return w;
}

void ot_sinkhorn_ws_free(ot_sinkhorn_ws *w) {
  if (!w) return;
  free(w->xs), free(w->ys), free(w->la), free(w->lb);
  free(w->f), free(w->g), free(w->fn), free(w->gn), free(w->h), free(w->row);
  free(w);
}

/* c[j] = |xi - y_j|^2 for the nb columns of one block. */
static inline void block_cost(int d, const double *xi, size_t nb, const double *y, size_t ldy,
                              double *c) {
  double x0 = xi[0];
#pragma omp simd
  for (size_t j = 0; j < nb; j++) {
    double u = x0 - y[j];
    c[j] = u * u;
  }
  for (int k = 1; k < d; k++) {
    double xk = xi[k];
    const double *yk = y + (size_t)k * ldy;
#pragma omp simd
    for (size_t j = 0; j < nb; j++) {
      double u = xk - yk[j];
      c[j] += u * u;
    }
  }
}

/*
** log sum_j exp(h_j - ie |xi - y_j|^2) over the m columns y (coordinate-
** major, leading dimension ldy).  At least one h_j must be finite.  The
** result is exact up to hnn_fexp's 5e-16 and the roundings of the sums.
*/
OT_CLONES
static double lse_row(int d, const double *xi, size_t m, const double *y, size_t ldy,
                      const double *h, double ie) {
  _Alignas(64) double t[BLK];
  double M = -INFINITY, s = 0.0;
  for (size_t j0 = 0; j0 < m; j0 += BLK) {
    size_t nb = m - j0 < BLK ? m - j0 : BLK;
    double mb = -INFINITY;
    if (d == 2) { /* one sweep for the common planar case */
      const double x0 = xi[0], x1 = xi[1], *y0 = y + j0, *y1 = y + ldy + j0;
#pragma omp simd reduction(max : mb)
      for (size_t j = 0; j < nb; j++) {
        double u0 = x0 - y0[j], u1 = x1 - y1[j];
        t[j] = h[j0 + j] - ie * (u0 * u0 + u1 * u1);
        mb = t[j] > mb ? t[j] : mb;
      }
    } else {
      block_cost(d, xi, nb, y + j0, ldy, t);
#pragma omp simd reduction(max : mb)
      for (size_t j = 0; j < nb; j++) {
        t[j] = h[j0 + j] - ie * t[j];
        mb = t[j] > mb ? t[j] : mb;
      }
    }
    if (mb == -INFINITY) continue;          /* only zero weights here */
    double sb = 0.0;
#pragma omp simd reduction(+ : sb)
    for (size_t j = 0; j < nb; j++) sb += hnn_fexp(t[j] - mb);
    if (mb > M) {
      s = s * exp(M - mb) + sb;
      M = mb;
    } else
      s += sb * exp(mb - M);
  }
  return M + log(s);                         /* s >= 1: the maximum's term */
}

/* sum_j exp(base + h_j - ie |xi - y_j|^2) |xi - y_j|^2: one row of <P, C>.
** base + h_j - ie C_ij = log P_ij <= 0 near convergence, so exp is safe. */
OT_CLONES
static double cost_row(int d, const double *xi, size_t m, const double *y, size_t ldy,
                       const double *h, double ie, double base) {
  _Alignas(64) double t[BLK];
  double s = 0.0;
  for (size_t j0 = 0; j0 < m; j0 += BLK) {
    size_t nb = m - j0 < BLK ? m - j0 : BLK;
    block_cost(d, xi, nb, y + j0, ldy, t);
    double sb = 0.0;
#pragma omp simd reduction(+ : sb)
    for (size_t j = 0; j < nb; j++) sb += hnn_fexp(base + h[j0 + j] - ie * t[j]) * t[j];
    s += sb;
  }
  return s;
}

/* The barycentric map of one row: g[k] = 2 sum_j P_ij (xi_k - y_jk), with
** P_ij = exp(base + h_j - ie |xi - y_j|^2) (log P_ij <= 0 near convergence),
** d <= GRAD_DMAX. */
#define GRAD_DMAX 16
OT_CLONES
static void grad_row(int d, const double *xi, size_t m, const double *y, size_t ldy,
                     const double *h, double ie, double base, double *gout) {
  _Alignas(64) double t[BLK];
  double s0 = 0.0, sk[GRAD_DMAX] = { 0 };
  for (size_t j0 = 0; j0 < m; j0 += BLK) {
    size_t nb = m - j0 < BLK ? m - j0 : BLK;
    block_cost(d, xi, nb, y + j0, ldy, t);
    double sb = 0.0;
#pragma omp simd reduction(+ : sb)
    for (size_t j = 0; j < nb; j++) {
      t[j] = hnn_fexp(base + h[j0 + j] - ie * t[j]);
      sb += t[j];
    }
    s0 += sb;
    for (int k = 0; k < d; k++) {
      const double *yk = y + (size_t)k * ldy + j0;
      double sy = 0.0;
#pragma omp simd reduction(+ : sy)
      for (size_t j = 0; j < nb; j++) sy += t[j] * yk[j];
      sk[k] += sy;
    }
  }
  for (int k = 0; k < d; k++) gout[k] = 2.0 * (s0 * xi[k] - sk[k]);
}

/* One pass over rows: out[i] = -eps lse_row(x_i) (mode 0),
** out[i] = cost_row(x_i, base_i) (mode 1), or out[i d .. i d + d) =
** grad_row(x_i, base_i) (mode 2).  x row-major (the caller's). */
typedef struct {
  int d, mode;
  size_t n, m, ldy;
  const double *x, *y, *h, *base;
  double ie, eps;
  double *out;
} pass_ctx;

static void pass_body(void *vc, long lo, long hi, int thread) {
  (void)thread;
  const pass_ctx *c = vc;
  for (long t = lo; t < hi; t++) {
    size_t i1 = ((size_t)t + 1) * RB < c->n ? ((size_t)t + 1) * RB : c->n;
    for (size_t i = (size_t)t * RB; i < i1; i++) {
      const double *xi = c->x + i * (size_t)c->d;
      if (c->mode == 0)
        c->out[i] = -c->eps * lse_row(c->d, xi, c->m, c->y, c->ldy, c->h, c->ie);
      else if (c->mode == 1)
        c->out[i] = cost_row(c->d, xi, c->m, c->y, c->ldy, c->h, c->ie, c->base[i]);
      else
        grad_row(c->d, xi, c->m, c->y, c->ldy, c->h, c->ie, c->base[i], c->out + i * (size_t)c->d);
    }
  }
}

/* A pass over the rows of p on nt threads.  In an MPI job (par.h) each
** process computes its block of rows and the blocks are gathered: a row's
** value depends on that row alone, so every process ends with the bits of
** one process.  0, or OT_EREMOTE when another process failed. */
static int run_pass(int nt, const pass_ctx *p) {
  if (!par_active()) {
    pool_run(nt, (long)((p->n + RB - 1) / RB), 1, pass_body, (void *)p);
    return OT_OK;
  }
  size_t width = p->mode == 2 ? (size_t)p->d : 1;
  long lo, hi;
  par_share((long)p->n, &lo, &hi);
  pass_ctx mine = *p;
  mine.n = (size_t)(hi - lo);
  mine.x = p->x + (size_t)lo * (size_t)p->d;
  mine.base = p->base ? p->base + lo : NULL;
  mine.out = p->out + (size_t)lo * width;
  if (mine.n) pool_run(nt, (long)((mine.n + RB - 1) / RB), 1, pass_body, &mine);
  return par_gather(p->out, (long)p->n, width * sizeof(double), 0, NULL, 0) ? OT_EREMOTE : OT_OK;
}

/* One side of a problem: points row-major (caller's) and coordinate-major
** (workspace), log weights. */
typedef struct {
  size_t n;
  const double *x, *xs, *lw;
} side;

/* out = T_eps(pot): out_i = -eps log sum_j exp(pot_j / eps + lw_j - C_ij / eps)
** for the rows of r, the columns of c. */
static int ctransform(ot_sinkhorn_ws *w, int nt, int d, const side *r, const side *c,
                      const double *pot, double eps, double *out) {
  double ie = 1.0 / eps;
  for (size_t j = 0; j < c->n; j++) w->h[j] = pot[j] * ie + c->lw[j];
  pass_ctx p = { .d = d, .mode = 0, .n = r->n, .m = c->n, .ldy = w->cap, .x = r->x,
                 .y = c->xs, .h = w->h, .ie = ie, .eps = eps, .out = out };
  return run_pass(nt, &p);
}

/* L1 marginal error sum_i a_i |exp((f_i - Tf_i) / eps) - 1| of one side of
** the plan (f_i - Tf_i: the potential minus its c-transform from the other
** side's), and that side's mass sum_i a_i exp(...), both in index order. */
static double marginal_err(size_t n, const double *lw, const double *f, const double *tf,
                           double eps, double *mass) {
  double e = 0.0, s = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (lw[i] == -INFINITY) continue;
    double q = (f[i] - tf[i]) / eps;
    q = q < 700.0 ? q : 700.0;
    double a = exp(lw[i]);
    e += a * fabs(expm1(q));
    s += a * exp(q);
  }
  *mass = s;
  return e;
}

static double dot_w(size_t n, const double *lw, const double *f) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    if (lw[i] > -INFINITY) s += exp(lw[i]) * f[i];
  return s;
}

/* Squared diameter of the joint bounding box: the largest cost. */
static double diam2(int d, const side *u, const side *v, size_t cap) {
  double s = 0.0;
  for (int k = 0; k < d; k++) {
    double lo = INFINITY, hi = -INFINITY;
    const side *sd[2] = { u, v };
    for (int t = 0; t < 2; t++)
      for (size_t i = 0; i < sd[t]->n; i++) {
        double z = sd[t]->xs[(size_t)k * cap + i];
        lo = z < lo ? z : lo;
        hi = z > hi ? z : hi;
      }
    s += (hi - lo) * (hi - lo);
  }
  return s;
}

/*
** Over-relaxation at the target eps.  Sinkhorn's alternating updates are a
** nonlinear block Gauss-Seidel on a 2-cyclic system, so SOR applies (Thibault,
** Chizat, Dossal, Papadakis 2017): f <- (1 - w) f + w T(g), the same for g,
** with w from the observed rate of the error (sor_update).  Near-degenerate
** problems needed ~10^4 plain iterations at tol 1e-9 (40 x 30 points, eps
** 3e-3); the error is checked every iteration either way.
*/
#define LEVEL_TOL 1e-1     /* L1 marginal error at which an eps level ends */
#define SOR_PROBE 5        /* iterations per rate probe */
#define SOR_MAX 1.999      /* the largest w */

typedef struct {
  double om, cap;          /* the current w and its bound */
  double peak, last;       /* the largest error in this window, in the last */
  double low;              /* the smallest window peak seen */
  double prev_l;           /* the rate of the last window (0: none) */
} sor_state;

/*
** Called every iteration with the error; every SOR_PROBE iterations w may
** change, from the rate l of the envelope of the error (the largest error
** of a window over that of the window before; the error oscillates under
** SOR).  SOR theory for 2-cyclic systems: the rate l at w and the plain
** (Jacobi) rate mu satisfy (l + w - 1)^2 = l w^2 mu^2, and the best w is
** 2 / (1 + sqrt(1 - mu^2)).  An estimate at w > w* gives w back, so w only
** grows, up to cap; it grows only when two windows in a row gave rates
** within 5% of each other (1 - l), the linear regime where the theory
** holds (early estimates overshot to w = 1.999 and stalled).  The slow
** modes of near-degenerate plans (plain rate 1 - 4e-6 per iteration at
** eps 1e-3) need w near 2, and w near w* grows the error 10x for a while
** before it falls.  A blow-up (a window peak 1000x the lowest) sends
** w back to 1 and lowers cap to the w that blew up.
*/
static void sor_update(sor_state *s, double err, int k) {
  s->peak = err > s->peak ? err : s->peak;
  if ((k + 1) % SOR_PROBE) return;
  if (s->peak > 1e3 * s->low) {
    s->cap = 1.0 + 0.5 * (s->om - 1.0);
    s->om = 1.0;
    s->low = s->peak;
    s->prev_l = 0.0;
  } else if (s->last > 0.0 && s->peak < s->last) {
    double l = pow(s->peak / s->last, 1.0 / SOR_PROBE);
    if (s->prev_l > 0.0 && fabs((1.0 - l) - (1.0 - s->prev_l)) <= 0.05 * (1.0 - l)) {
      double mu2 = (l + s->om - 1.0) * (l + s->om - 1.0) / (l * s->om * s->om);
      if (mu2 < 1.0) {
        double w = 2.0 / (1.0 + sqrt(1.0 - mu2));
        s->om = w > s->om ? (w < s->cap ? w : s->cap) : s->om;
      }
      s->prev_l = 0.0;      /* the next estimate is at the new w */
    } else
      s->prev_l = l;
  } else
    s->prev_l = 0.0;
  s->low = s->peak < s->low ? s->peak : s->low;
  s->last = s->peak;
  s->peak = 0.0;
}

/* One problem being solved: the sides, symmetric or not, the potentials. */
typedef struct {
  ot_sinkhorn_ws *w;
  int nt, d, sym;
  const side *u, *v;
  double *f, *g, *fn, *gn;
  int it;                  /* iterations so far, over all levels */
} prob;

/*
** Iterates at eps e from the current f until the L1 marginal error is <=
** tol or max_it iterations are spent in all (status OT_EMAXITER); SOR when
** sor is set.  The error is that of the plan of the current potentials:
** the row error from fn = T(g), the column error from gn = T(f) (zero while
** g = gn, as without relaxation).  Symmetric: f <- (f + T(f)) / 2.
*/
static int iterate(prob *p, double e, double tol, int max_it, int sor_on, double *err,
                   double *mass) {
  ot_sinkhorn_ws *w = p->w;
  const side *u = p->u, *v = p->v;
  double *f = p->f, *g = p->g, *fn = p->fn, *gn = p->gn;
  sor_state sor = { .om = 1.0, .cap = SOR_MAX, .low = INFINITY };
  if (!p->sym) {
    if (ctransform(w, p->nt, p->d, v, u, f, e, gn)) return OT_EREMOTE;
    memcpy(g, gn, v->n * sizeof *g);
  }
  for (int k = 0;; k++) {
    if (ctransform(w, p->nt, p->d, u, p->sym ? u : v, g, e, fn)) return OT_EREMOTE;
    *err = marginal_err(u->n, u->lw, f, fn, e, mass);
    if (!p->sym) {
      double mv;
      *err += marginal_err(v->n, v->lw, g, gn, e, &mv);
    }
    if (!(*err > tol)) return OT_OK;         /* also stops on a NaN error */
    if (p->it >= max_it) return OT_EMAXITER;
    if (p->sym) {
      for (size_t i = 0; i < u->n; i++) f[i] = 0.5 * (f[i] + fn[i]);
    } else {
      if (sor_on) sor_update(&sor, *err, k);
      double om = sor.om;
      for (size_t i = 0; i < u->n; i++) f[i] = (1.0 - om) * f[i] + om * fn[i];
      if (ctransform(w, p->nt, p->d, v, u, f, e, gn)) return OT_EREMOTE;
      for (size_t j = 0; j < v->n; j++) g[j] = (1.0 - om) * g[j] + om * gn[j];
    }
    p->it++;
  }
}

/*
** OT_eps between the sides u and v (v == u: the symmetric problem).
** eps-scaling: from the squared diameter down by the factor o->scaling,
** each level solved to the L1 error LEVEL_TOL (a plan far from a level's
** optimum is not repaired at a smaller eps: with one iteration per level,
** 12 points at scale 100 stalled at error 1/6 for eps <= 1e-2; 1e-2 per
** level cost more iterations in all and once left the last level in a slow
** mode), then eps to o->tol with over-relaxation.  Over 60 random problems
** (eps 1e-3 to 1, tol 1e-9) SOR took 4191 iterations in all, at most 428
** (5164 and 592 with windows of 10 iterations); plain Sinkhorn 31923, at
** most 10429.  The value is the dual objective
** <a, f> + <b, g> - eps (mass - 1) of the returned potentials (a lower
** bound of OT_eps).  The potentials end in w->f (u) and w->g (v).
*/
static int solve(ot_sinkhorn_ws *w, const ot_sinkhorn_opts *o, int nt, int d, const side *u,
                 const side *v, double *value, double *cost, double *grad,
                 ot_sinkhorn_stats *st) {
  prob p = { .w = w, .nt = nt, .d = d, .sym = u == v, .u = u, .v = v, .f = w->f,
             .g = u == v ? w->f : w->g, .fn = w->fn, .gn = w->gn };
  int sym = p.sym;
  double *f = p.f, *g = p.g, *fn = p.fn;
  double eps = o->eps, e = o->scaling > 0.0 ? diam2(d, u, v, w->cap) : 0.0;
  double err, mass, ltol = LEVEL_TOL;
  int levels = 0, status = OT_OK;
  memset(f, 0, u->n * sizeof *f);
  for (; e > eps && status == OT_OK; e *= o->scaling, levels++)
    status = iterate(&p, e, ltol > o->tol ? ltol : o->tol, o->max_iter, 0, &err, &mass);
  if (status == OT_OK)
    status = iterate(&p, eps, o->tol, o->max_iter, 1, &err, &mass);
  else if (status > 0) /* the cap was hit above eps: the error and value at eps, no more iterations */
    status = iterate(&p, eps, o->tol, p.it, 1, &err, &mass);
  if (status < 0) return status;
  double val;
  if (sym)
    val = 2.0 * dot_w(u->n, u->lw, f) - eps * (mass - 1.0);
  else
    val = dot_w(u->n, u->lw, f) + dot_w(v->n, v->lw, g) - eps * (mass - 1.0);
  if (!isfinite(err) || !isfinite(val)) return OT_ENONFINITE;   /* e.g. costs overflow */
  if (cost && !sym) {
    /* log P_ij = (la_i + f_i / eps) + (lb_j + g_j / eps) - C_ij / eps */
    double ie = 1.0 / eps;
    for (size_t j = 0; j < v->n; j++) w->h[j] = g[j] * ie + v->lw[j];
    for (size_t i = 0; i < u->n; i++) fn[i] = f[i] * ie + u->lw[i];
    pass_ctx pc = { .d = d, .mode = 1, .n = u->n, .m = v->n, .ldy = w->cap, .x = u->x,
                    .y = v->xs, .h = w->h, .base = fn, .ie = ie, .eps = eps, .out = w->row };
    if (run_pass(nt, &pc)) return OT_EREMOTE;
    double s = 0.0;
    for (size_t i = 0; i < u->n; i++) s += w->row[i];
    if (!isfinite(s)) return OT_ENONFINITE;
    *cost = s;
  }
  if (grad) {
    /* grad_i = 2 sum_j P_ij (x_i - y_j), the envelope theorem (f, g fixed) */
    double ie = 1.0 / eps;
    for (size_t j = 0; j < v->n; j++) w->h[j] = g[j] * ie + v->lw[j];
    for (size_t i = 0; i < u->n; i++) fn[i] = f[i] * ie + u->lw[i];
    pass_ctx pc = { .d = d, .mode = 2, .n = u->n, .m = v->n, .ldy = w->cap, .x = u->x,
                    .y = v->xs, .h = w->h, .base = fn, .ie = ie, .eps = eps, .out = grad };
    if (run_pass(nt, &pc)) return OT_EREMOTE;
    for (size_t k = 0; k < u->n * (size_t)d; k++)
      if (!isfinite(grad[k])) return OT_ENONFINITE;
  }
  *value = val;
  if (st) {
    st->levels = levels;
    st->iterations = p.it;
    st->marginal_err = err;
  }
  return status;
}

static int check_opts(const ot_sinkhorn_opts *o) {
  if (!o || !(o->eps > 0.0) || !isfinite(o->eps) || !(o->tol > 0.0) || o->max_iter < 0 ||
      !(o->scaling >= 0.0 && o->scaling < 1.0))
    return OT_EINVAL;
  return OT_OK;
}

/* Copies a cloud into the workspace (coordinate-major, log weights). */
static int load_side(ot_sinkhorn_ws *w, int which, int d, size_t n, const double *x,
                     const double *a, side *s) {
  double tot;
  int st;
  if ((st = ot_check_points(n, d, x)) || (st = ot_check_weights(n, a, &tot))) return st;
  double *xs = which ? w->ys : w->xs, *lw = which ? w->lb : w->la;
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < d; k++) xs[(size_t)k * w->cap + i] = x[i * (size_t)d + k];
  double lt = log(tot), ln = log((double)n);
  for (size_t i = 0; i < n; i++) lw[i] = a ? (a[i] > 0.0 ? log(a[i]) - lt : -INFINITY) : -ln;
  s->n = n, s->x = x, s->xs = xs, s->lw = lw;
  return OT_OK;
}

int ot_sinkhorn(ot_sinkhorn_ws *w, const ot_sinkhorn_opts *o, int d, size_t n,
                const double *x, const double *a, size_t m, const double *y,
                const double *b, double *value, double *cost, double *f, double *g,
                ot_sinkhorn_stats *st) {
  int s;
  if ((s = check_opts(o)) || !value || n == 0 || m == 0 || d < 1) return s ? s : OT_EINVAL;
  ot_sinkhorn_ws *own = NULL;
  if (!w && !(w = own = ot_sinkhorn_ws_alloc(d, n, m))) return OT_ENOMEM;
  side u, v;
  if (w->d != d || n > w->cap || m > w->cap)
    s = OT_EINVAL;
  else if (!(s = load_side(w, 0, d, n, x, a, &u)) && !(s = load_side(w, 1, d, m, y, b, &v))) {
    int nt = o->threads > 0 ? o->threads : pool_max_threads();
    s = solve(w, o, nt, d, &u, &v, value, cost, NULL, st);
    if (s >= 0) {
      if (f) memcpy(f, w->f, n * sizeof *f);
      if (g) memcpy(g, w->g, m * sizeof *g);
    }
  }
  ot_sinkhorn_ws_free(own);
  return s;
}

int ot_sinkhorn_self(ot_sinkhorn_ws *w, const ot_sinkhorn_opts *o, int d, size_t n, const double *x,
                     const double *a, double *value, double *f, ot_sinkhorn_stats *st) {
  int s;
  if ((s = check_opts(o)) || !value || n == 0 || d < 1) return s ? s : OT_EINVAL;
  ot_sinkhorn_ws *own = NULL;
  if (!w && !(w = own = ot_sinkhorn_ws_alloc(d, n, n))) return OT_ENOMEM;
  side u;
  if (w->d != d || n > w->cap)
    s = OT_EINVAL;
  else if (!(s = load_side(w, 0, d, n, x, a, &u))) {
    int nt = o->threads > 0 ? o->threads : pool_max_threads();
    s = solve(w, o, nt, d, &u, &u, value, NULL, NULL, st);
    if (s >= 0 && f) memcpy(f, w->f, n * sizeof *f);
  }
  ot_sinkhorn_ws_free(own);
  return s;
}

static int worse(int s, int t) {
  if (s < 0) return s;
  if (t < 0) return t;
  return s ? s : t;
}

int ot_sinkhorn_divergence(ot_sinkhorn_ws *w, const ot_sinkhorn_opts *o, int d, size_t n,
                           const double *x, const double *a, size_t m, const double *y,
                           const double *b, double *div, ot_sinkhorn_stats st[3]) {
  return ot_sinkhorn_divergence_grad(w, o, d, n, x, a, m, y, b, div, NULL, st);
}

int ot_sinkhorn_divergence_grad(ot_sinkhorn_ws *w, const ot_sinkhorn_opts *o, int d, size_t n,
                                const double *x, const double *a, size_t m, const double *y,
                                const double *b, double *div, double *grad,
                                ot_sinkhorn_stats st[3]) {
  int s;
  if ((s = check_opts(o)) || !div || n == 0 || m == 0 || d < 1) return s ? s : OT_EINVAL;
  if (grad && d > GRAD_DMAX) return OT_EINVAL;
  ot_sinkhorn_ws *own = NULL;
  if (!w && !(w = own = ot_sinkhorn_ws_alloc(d, n, m))) return OT_ENOMEM;
  double *gaa = NULL;
  if (grad && !(gaa = malloc(n * (size_t)d * sizeof *gaa))) {
    ot_sinkhorn_ws_free(own);
    return OT_ENOMEM;
  }
  side u, v;
  double vab = 0, vaa = 0, vbb = 0;
  if (w->d != d || n > w->cap || m > w->cap)
    s = OT_EINVAL;
  else if (!(s = load_side(w, 0, d, n, x, a, &u)) && !(s = load_side(w, 1, d, m, y, b, &v))) {
    int nt = o->threads > 0 ? o->threads : pool_max_threads();
    s = solve(w, o, nt, d, &u, &v, &vab, NULL, grad, st ? &st[0] : NULL);
    if (s >= 0) s = worse(s, solve(w, o, nt, d, &u, &u, &vaa, NULL, gaa, st ? &st[1] : NULL));
    if (s >= 0) s = worse(s, solve(w, o, nt, d, &v, &v, &vbb, NULL, NULL, st ? &st[2] : NULL));
    if (s >= 0) {
      *div = vab - 0.5 * (vaa + vbb);
      /* OT_eps(a, a) moves with x in both arguments: its gradient is twice
      ** the one-sided one, and S takes half of it */
      if (grad)
        for (size_t k = 0; k < n * (size_t)d; k++) grad[k] -= gaa[k];
    }
  }
  free(gaa);
  ot_sinkhorn_ws_free(own);
  return s;
}
