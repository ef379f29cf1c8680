/*
** kernsum.c — the kernel-sum engine's entry (checks, choice of path) and its
** exact path (see kernsum.h).
**
** Exact path: sources are copied coordinate-major and padded to a multiple
** of KS_SB; targets are split into tasks of KS_TB rows (pool.h, dynamic:
** each task writes its own rows).  A task walks the source blocks, each of
** which stays in L1 while its targets sweep it with one vectorized loop per
** target (#pragma omp simd; the exp is ks_exp, branch-free).  Per target the
** block sums are added in block order, so every result depends on N only,
** never on the thread count.
*/
/* FP comparisons may not trap, so that clamps if-convert and the loops
** vectorize; nothing here reads the FP exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fastexp.h"
#include "kernsum_internal.h"
#include "pool.h"
#include "par.h"

#define KS_SB 1024  /* sources per block (d = 2: 24 KB with the weights) */
#define KS_TB 32    /* targets per task */

double ks_exp(double x) { return hnn_fexp(x); }

/*
** 1/sqrt(x) for x in [1e-300, 1e300] (callers clamp): a first guess from the
** exponent bits (relative error < 0.035), then four Newton steps (error
** squares each step: < 2e-21 before rounding); measured < 4e-16 relative.
** sqrt itself does not vectorize here: gcc keeps its errno branch, and
** #pragma GCC optimize("no-math-errno") does not remove it.
*/
static inline double frsqrt(double x) {
  union { double d; int64_t i; } u = { .d = x };
  u.i = INT64_C(0x5FE6EB50C7B537A9) - (u.i >> 1);
  double y = u.d, hx = 0.5 * x;
  y = y * (1.5 - hx * y * y);
  y = y * (1.5 - hx * y * y);
  y = y * (1.5 - hx * y * y);
  y = y * (1.5 - hx * y * y);
  return y;
}

double ks_rsqrt(double x) { return frsqrt(x); }

/* ------------------------------------------------------------ exact path */

typedef struct {
  const ks_call *c;
  double *ys, *wp;  /* sources coordinate-major (d x Np), weights, padded with 0 */
  size_t Np;
  double kc;        /* Gaussian: -1/(2h^2); IMQ: 1/h^2 */
} ex_job;

/* k = kernel at r2, *g = the factor of (y - x) in grad_x k before ex_task's
** scale: Gaussian g = k (grad_x k = (y - x) k / h^2); IMQ with q = 1 + r2/h^2,
** k = q^-1/2, g = q^-3/2 (grad_x k = (y - x) q^-3/2 / h^2); energy k = -r,
** g = 1/r, 0 at r = 0 (grad_x k = (y - x)/r). */
static inline __attribute__((always_inline)) double ker(int kind, double r2, double kc, double *g) {
  if (kind == KS_GAUSS) {
    double k = hnn_fexp(r2 * kc);
    *g = k;
    return k;
  }
  if (kind == KS_IMQ) {
    double q = 1.0 + r2 * kc;
    double k = frsqrt(q < 1e300 ? q : 1e300); /* beyond: k < 1e-150, not 0 */
    *g = k * k * k;
    return k;
  }
  /* r2 = 0 (coincident points) gives k = 0, g = 0: the subgradient 0 */
  double rc = r2 > 1e-300 ? r2 : 1e-300;
  rc = rc < 1e300 ? rc : 1e300;
  double ir = frsqrt(rc);
  *g = r2 > 0 ? ir : 0.0;
  return -(r2 * ir);
}

/* One target xi against sources [j0, j1): adds to s[0] (pot) and s[1..d]
** (the sums of w_j g_j (y_j - x)).  D = 1..3 is d; D = 4 stands for any d. */
static inline __attribute__((always_inline)) void ex_block(const ex_job *J, int kind, int D, int d,
                                                           const double *xi, size_t j0, size_t j1,
                                                           double *s) {
  const size_t Np = J->Np;
  const double *w = J->wp, kc = J->kc;
  double sp = 0;
  if (D == 1) {
    const double *y0 = J->ys, x0 = xi[0];
    double s0 = 0;
#pragma omp simd reduction(+ : sp, s0)
    for (size_t j = j0; j < j1; j++) {
      double e0 = y0[j] - x0, g, k = ker(kind, e0 * e0, kc, &g);
      sp += w[j] * k;
      s0 += w[j] * g * e0;
    }
    s[0] += sp, s[1] += s0;
  } else if (D == 2) {
    const double *y0 = J->ys, *y1 = J->ys + Np, x0 = xi[0], x1 = xi[1];
    double s0 = 0, s1 = 0;
#pragma omp simd reduction(+ : sp, s0, s1)
    for (size_t j = j0; j < j1; j++) {
      double e0 = y0[j] - x0, e1 = y1[j] - x1, g, k = ker(kind, e0 * e0 + e1 * e1, kc, &g);
      double wg = w[j] * g;
      sp += w[j] * k;
      s0 += wg * e0;
      s1 += wg * e1;
    }
    s[0] += sp, s[1] += s0, s[2] += s1;
  } else if (D == 3) {
    const double *y0 = J->ys, *y1 = J->ys + Np, *y2 = J->ys + 2 * Np;
    const double x0 = xi[0], x1 = xi[1], x2 = xi[2];
    double s0 = 0, s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : sp, s0, s1, s2)
    for (size_t j = j0; j < j1; j++) {
      double e0 = y0[j] - x0, e1 = y1[j] - x1, e2 = y2[j] - x2, g;
      double k = ker(kind, e0 * e0 + e1 * e1 + e2 * e2, kc, &g), wg = w[j] * g;
      sp += w[j] * k;
      s0 += wg * e0;
      s1 += wg * e1;
      s2 += wg * e2;
    }
    s[0] += sp, s[1] += s0, s[2] += s1, s[3] += s2;
  } else {
    double r2b[KS_SB], gb[KS_SB];
    size_t m = j1 - j0;
    memset(r2b, 0, m * sizeof *r2b);
    for (int a = 0; a < d; a++) {
      const double *ya = J->ys + (size_t)a * Np + j0, xa = xi[a];
#pragma omp simd
      for (size_t j = 0; j < m; j++) r2b[j] += (ya[j] - xa) * (ya[j] - xa);
    }
#pragma omp simd reduction(+ : sp)
    for (size_t j = 0; j < m; j++) {
      double g, k = ker(kind, r2b[j], kc, &g);
      sp += w[j0 + j] * k;
      gb[j] = w[j0 + j] * g;
    }
    s[0] += sp;
    for (int a = 0; a < d; a++) {
      const double *ya = J->ys + (size_t)a * Np + j0, xa = xi[a];
      double sa = 0;
#pragma omp simd reduction(+ : sa)
      for (size_t j = 0; j < m; j++) sa += gb[j] * (ya[j] - xa);
      s[1 + a] += sa;
    }
  }
}

/* Targets [t0, t1) against every source block; s: (1 + d) sums per target. */
static inline __attribute__((always_inline)) void ex_rows(const ex_job *J, int kind, int D, size_t t0,
                                                          size_t t1, double *s) {
  const int d = J->c->d;
  for (size_t j0 = 0; j0 < J->Np; j0 += KS_SB) {
    size_t j1 = j0 + KS_SB < J->Np ? j0 + KS_SB : J->Np;
    for (size_t i = t0; i < t1; i++)
      ex_block(J, kind, D, d, J->c->x + i * (size_t)d, j0, j1, s + (i - t0) * (size_t)(1 + d));
  }
}

#define EX_ROWS(KIND, D)                                                                   \
  KS_CLONES static void ex_rows_##KIND##_##D(const ex_job *J, size_t t0, size_t t1, double *s) { \
    ex_rows(J, KIND, D, t0, t1, s);                                                        \
  }
EX_ROWS(KS_GAUSS, 1) EX_ROWS(KS_GAUSS, 2) EX_ROWS(KS_GAUSS, 3) EX_ROWS(KS_GAUSS, 4)
EX_ROWS(KS_IMQ, 1) EX_ROWS(KS_IMQ, 2) EX_ROWS(KS_IMQ, 3) EX_ROWS(KS_IMQ, 4)
EX_ROWS(KS_ENERGY, 1) EX_ROWS(KS_ENERGY, 2) EX_ROWS(KS_ENERGY, 3) EX_ROWS(KS_ENERGY, 4)

typedef void (*ex_rows_fn)(const ex_job *, size_t, size_t, double *);
static const ex_rows_fn ex_table[3][4] = {
  { ex_rows_KS_GAUSS_1, ex_rows_KS_GAUSS_2, ex_rows_KS_GAUSS_3, ex_rows_KS_GAUSS_4 },
  { ex_rows_KS_IMQ_1, ex_rows_KS_IMQ_2, ex_rows_KS_IMQ_3, ex_rows_KS_IMQ_4 },
  { ex_rows_KS_ENERGY_1, ex_rows_KS_ENERGY_2, ex_rows_KS_ENERGY_3, ex_rows_KS_ENERGY_4 },
};

static void ex_task(void *ctx, long lo, long hi, int thread) {
  const ex_job *J = ctx;
  const ks_call *c = J->c;
  const int d = c->d;
  double s[KS_TB * 65];   /* (1 + d) sums per target; d <= 64 here, larger d below */
  double *sb = d <= 64 ? s : malloc(sizeof(double) * KS_TB * (size_t)(1 + d));
  (void)thread;
  /* the scale of the gradient sums: Gaussian and IMQ 1/h^2, energy 1 */
  double gs = c->kind == KS_ENERGY ? 1.0 : 1.0 / (c->h * c->h);
  ex_rows_fn f = ex_table[c->kind][d < 4 ? d - 1 : 3];
  for (long task = lo; task < hi; task++) {
    size_t t0 = (size_t)task * KS_TB, t1 = t0 + KS_TB < c->M ? t0 + KS_TB : c->M;
    if (!sb) return; /* ks_exact checked the allocation for large d */
    memset(sb, 0, sizeof(double) * (t1 - t0) * (size_t)(1 + d));
    f(J, t0, t1, sb);
    for (size_t i = t0; i < t1; i++) {
      const double *si = sb + (i - t0) * (size_t)(1 + d);
      if (c->pot) c->pot[i] = si[0];
      if (c->grad)
        for (int a = 0; a < d; a++) c->grad[i * (size_t)d + (size_t)a] = gs * si[1 + a];
    }
  }
  if (sb != s) free(sb);
}

int ks_exact(const ks_call *c) {
  const int d = c->d;
  ex_job J = { .c = c };
  J.Np = (c->N + KS_SB - 1) / KS_SB * KS_SB;
  if (d > 64) { /* the per-task sums come from the heap: check once here */
    void *t = malloc(sizeof(double) * KS_TB * (size_t)(1 + d));
    if (!t) return KS_ENOMEM;
    free(t);
  }
  J.ys = malloc(sizeof(double) * J.Np * (size_t)d);
  J.wp = malloc(sizeof(double) * J.Np);
  if (!J.ys || !J.wp) {
    free(J.ys), free(J.wp);
    return KS_ENOMEM;
  }
  for (int a = 0; a < d; a++) {
    double *ya = J.ys + (size_t)a * J.Np;
    for (size_t j = 0; j < c->N; j++) ya[j] = c->y[j * (size_t)d + (size_t)a];
    /* padding: a copy of y_0 with weight 0 adds exactly +0 */
    for (size_t j = c->N; j < J.Np; j++) ya[j] = c->y[a];
  }
  for (size_t j = 0; j < c->N; j++) J.wp[j] = c->w ? c->w[j] : 1.0;
  memset(J.wp + c->N, 0, (J.Np - c->N) * sizeof(double));
  J.kc = c->kind == KS_GAUSS ? -0.5 / (c->h * c->h) : 1.0 / (c->h * c->h);
  long ntasks = (long)((c->M + KS_TB - 1) / KS_TB);
  pool_run(c->threads, ntasks, 1, ex_task, &J);
  free(J.ys), free(J.wp);
  return KS_OK;
}

/* ----------------------------------------------------------------- entry */

void ks_opts_default(ks_opts *o) {
  o->threads = 0;
  o->tol = 0.0;
  o->method = KS_AUTO;
}

const char *ks_strerror(int status) {
  switch (status) {
  case KS_OK: return "success";
  case KS_EINVAL: return "invalid sizes, kernel parameter or options";
  case KS_ENOMEM: return "out of memory";
  case KS_ENONFINITE: return "a point or weight is not finite";
  case KS_EREMOTE: return "another process of the MPI job failed";
  default: return "unknown kernel-sum status";
  }
}

static int all_finite(const double *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

/* Exact cost in pair evaluations, weighted by the cost of one pair. */
static double exact_cost(const ks_call *c) {
  double per = c->kind == KS_GAUSS ? 30.0 : 20.0;
  return per * (double)c->M * (double)c->N * (1.0 + 0.1 * c->d);
}

/* Slices for tol: the value needs (pi/2L)^2/3 <= tol, the gradient
** u (1 + u) <= tol with u = pi/2L. */
static int slices_for(double tol) {
  double Lp = ceil(M_PI / sqrt(12.0 * tol)), u = 0.5 * (sqrt(1.0 + 4.0 * tol) - 1.0);
  double Lg = ceil(M_PI / (2.0 * u)), L = Lp > Lg ? Lp : Lg;
  return L > 1e7 ? 10000000 : (int)L;
}

/* The exact sums of this process's block of targets, then every block into
** every process (par.h). */
static int exact_rows_split(const ks_call *c) {
  long lo, hi;
  par_share((long)c->M, &lo, &hi);
  ks_call mine = *c;
  size_t d = (size_t)c->d;
  mine.M = (size_t)(hi - lo);
  mine.x = c->x + (size_t)lo * d;
  mine.pot = c->pot ? c->pot + lo : NULL;
  mine.grad = c->grad ? c->grad + (size_t)lo * d : NULL;
  int rc = mine.M ? ks_exact(&mine) : KS_OK;
  /* a failure agreed in the first gather is every process's: all skip the second */
  int agreed = 0;
  if (c->pot) rc = par_gather(c->pot, (long)c->M, sizeof(double), rc, NULL, 0), agreed = 1;
  if (c->grad && !(agreed && rc)) rc = par_gather(c->grad, (long)c->M, d * sizeof(double), rc, NULL, 0);
  return rc == PAR_EREMOTE ? KS_EREMOTE : rc;
}

int ks_sum(ks_kind kind, double h, int d, size_t M, const double *x, size_t N, const double *y,
           const double *w, double *pot, double *grad, const ks_opts *o, ks_stats *st) {
  ks_opts od;
  if (!o) {
    ks_opts_default(&od);
    o = &od;
  }
  if (st) memset(st, 0, sizeof *st);
  if (d < 1 || (unsigned)kind > KS_ENERGY || (M && !x) || (N && !y) || !(o->tol >= 0) || o->threads < 0)
    return KS_EINVAL;
  if (kind != KS_ENERGY && !(h > 0 && isfinite(h))) return KS_EINVAL;
  if (!all_finite(x, M * (size_t)d) || !all_finite(y, N * (size_t)d) || (w && !all_finite(w, N)))
    return KS_ENONFINITE;
  ks_call c = { kind, h, d, o->threads ? o->threads : pool_max_threads(), M, N, x, y, w, pot, grad, 0.0 };
  if (!pot && !grad) return KS_OK;
  if (N == 0) {
    if (pot) memset(pot, 0, M * sizeof *pot);
    if (grad) memset(grad, 0, M * (size_t)d * sizeof *grad);
    return KS_OK;
  }
  if (M == 0) return KS_OK;
  for (size_t j = 0; j < N; j++) c.wabs += w ? fabs(w[j]) : 1.0;

  ks_method m = o->method;
  ks_grid_plan g;
  int L = 0;
  if (m == KS_AUTO) {
    m = KS_EXACT;
    double best = exact_cost(&c);
    if (kind == KS_ENERGY && d == 1) m = KS_SORT;
    else if (o->tol > 0 && kind == KS_GAUSS && d <= 3 && ks_grid_plan_make(&c, o->tol, &g) == 0 && g.cost < best)
      m = KS_GRID;
    else if (o->tol > 0 && kind == KS_ENERGY && d == 2) {
      L = slices_for(o->tol);
      double lg = log2((double)N + 2) + 4;
      if (L * ((double)N * lg + (double)M * lg) * 4 < best) m = KS_SLICE;
    }
  } else if (m == KS_GRID) {
    if (kind != KS_GAUSS || d > 3 || !(o->tol > 0) || ks_grid_plan_make(&c, o->tol, &g) != 0) return KS_EINVAL;
  } else if (m == KS_SORT) {
    if (kind != KS_ENERGY || d != 1) return KS_EINVAL;
  } else if (m == KS_SLICE) {
    if (kind != KS_ENERGY || d != 2 || !(o->tol > 0)) return KS_EINVAL;
    L = slices_for(o->tol);
  } else if (m != KS_EXACT) {
    return KS_EINVAL;
  }
  if (st) st->method = m;
  switch (m) {
  case KS_GRID:
    if (st) {
      st->bound_pot = g.bound_pot * c.wabs;
      st->bound_grad = g.bound_grad * c.wabs / h;
      st->order = g.p;
      st->spacing = g.dx;
      st->grid_points = g.n[0] * (d > 1 ? g.n[1] : 1) * (d > 2 ? g.n[2] : 1);
    }
    return ks_grid_run(&c, &g);
  case KS_SORT:
    return ks_energy_sort(&c);
  case KS_SLICE:
    if (st) {
      double u = M_PI / (2.0 * L);
      st->slices = L;
      st->bound_pot = u * u / 3.0; /* relative to sum_j |w_j||x_i - y_j| */
      st->bound_grad = u * (1 + u) * c.wabs;
    }
    return ks_energy_slice(&c, L);
  default:
    return par_active() ? exact_rows_split(&c) : ks_exact(&c);
  }
}
