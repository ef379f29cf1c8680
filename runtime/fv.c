/*
** fv.c — the implicit finite-volume engine for densities on grids (see
** fv.h for the scheme and the properties it keeps).
**
** Layout: the tables that do not change in time (V at cell centres, W at
** every cell offset, the mobility at every interior face) are evaluated
** once.  A sweep along direction d solves the implicit system
**   R(rho) = rho - rho* + (dt/h) (F_{k+1/2} - F_{k-1/2}) = 0
** by damped Newton; lines of direction d are independent given xi, so a
** Newton iteration is one pass over the lines.  The lines go 8 at a time
** through one kernel (block_kernel8: the lanes of its SIMD loops), which
** makes the trial point, xi, the residual, the Jacobian and the Thomas
** solve of its lines in one pass over them; the sweep keeps its arrays in
** block order ([block][cell][lane]) so that a block's values are
** contiguous and stay in the cache.  Threads take whole blocks, every line
** writes only its own cells and its own partial sums, and the sums are
** added in line order, so no result depends on the thread count (nor on
** the SIMD width: no FMA, no sum across lanes).
*/
/* FP operations may not trap, so the selects of the block kernel
** if-convert and its loops vectorize (the results are the same: nothing
** here reads the FP exception flags). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "fv.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fv_fftconv.h"
#include "fv_tridiag.h"
#include "pool.h"

/* lines solved together, the lanes of block_kernel; FV_SCRATCH lines of
** FV_B lanes per thread (its temporaries) */
#define FV_B 8
#define FV_SCRATCH 4
/* grids of fewer cells run their passes on the calling thread: waking the
** pool costs more than the pass (the bits do not depend on it) */
#define FV_MIN_THREADED 4096

typedef struct fv_lres fv_lres;

struct fv_solver {
  fv_problem p;
  fv_options o;
  int N, nt;
  double h[2], vol;
  double *rho, *conv, *save, *before;   /* save: scratch in cell order; before: a step's start */
  double *bx, *bt, *bd, *bd2, *bs, *bc;  /* a sweep's arrays in block order (NB values): the
                             ** iterate, the trial point, their Newton steps, the start, W * the point */
  size_t NB;                 /* the larger block order of the directions */
  double *Vt;                /* V at cell centres */
  double *Wt;                /* W at offsets: ((dj + n1-1) (2 n0 - 1) + di + n0-1) */
  fv_fftconv *fft;           /* 2-D: W * rho by FFT */
  double *Vb[2];             /* per direction: V in block order, [block][k][lane] */
  double *gfb[2];            /* per direction: the mobility at interior faces in block order; NULL: 1 */
  double *ones;              /* FV_B maxn ones, the faces of a block when there is no mobility */
  fv_lres *lres;             /* per-line results of a pass */
  double *scratch;           /* per thread: FV_SCRATCH x maxn x FV_B */
  int maxn;
  double t;
  long parity;
  fv_stats st;
};

double fv_width(const fv_grid *g, int d) { return (g->hi[d] - g->lo[d]) / g->n[d]; }
double fv_center(const fv_grid *g, int d, int i) { return g->lo[d] + (i + 0.5) * fv_width(g, d); }

/* ---- geometry of a sweep: direction d has nlines lines of nk cells; cell
** k of line l is l * lstep + k * stride (in the array the sweep works on:
** the density itself, or along x in 2-D its transpose, see sweep). */
typedef struct sweep_geom {
  int d, nk, nlines, stride, lstep;
  int L;                     /* lines per block: FV_B, or 1 when there are fewer lines */
} sweep_geom;

static sweep_geom geom(const fv_solver *s, int d) {
  int nl = s->N / s->p.grid.n[d];
  sweep_geom g = { d, s->p.grid.n[d], nl, d == 0 ? 1 : s->p.grid.n[0], d == 0 ? s->p.grid.n[0] : 1, nl < FV_B ? 1 : FV_B };
  return g;
}
static size_t line_base(const sweep_geom *g, int l) { return (size_t)l * g->lstep; }

/* ---- callbacks at setup */
static int eval_cb(const flow_fn *f, const double *x, double *out, double *ws) {
  return f->fn(x, NULL, out, ws);
}

/* A table of values per line and cell (or face) k, src[l ls + k ks], in
** the block order of a sweep: [block][k][lane], lanes past the last line
** repeating the block's first (see gather). */
static double *block_table(const sweep_geom *g, const double *src, size_t ls, size_t ks, int nk) {
  size_t L = g->L, nbl = (g->nlines + L - 1) / L;
  double *t = malloc(sizeof(double) * nbl * nk * L);
  if (!t) return NULL;
  for (size_t bl = 0; bl < nbl; bl++)
    for (int k = 0; k < nk; k++)
      for (size_t q = 0; q < L; q++) {
        size_t l = bl * L + q;
        if (l >= (size_t)g->nlines) l = bl * L;
        t[(bl * nk + k) * L + q] = src[l * ls + k * ks];
      }
  return t;
}

static int build_tables(fv_solver *s, char *msg, size_t len) {
  const fv_grid *g = &s->p.grid;
  int n0 = g->n[0], n1 = g->n[1], dim = g->dim;
  size_t nw = 0;
  const flow_fn *fs[3] = { &s->p.V, &s->p.W, &s->p.mob };
  for (int k = 0; k < 3; k++)
    if (fs[k]->fn && fs[k]->nwork > nw) nw = fs[k]->nwork;
  double *ws = malloc(sizeof(double) * (nw + 1));
  if (!ws) { flow_msg(msg, len, "fv: out of memory"); return 3; }
  double x[2], out[2];
  int rc = 0;
  for (int j = 0; j < n1 && !rc; j++)
    for (int i = 0; i < n0 && !rc; i++) {
      double v = 0;
      if (s->p.V.fn) {
        x[0] = fv_center(g, 0, i);
        x[1] = dim == 2 ? fv_center(g, 1, j) : 0;
        if (eval_cb(&s->p.V, x, out, ws) || !isfinite(out[0])) {
          flow_msg(msg, len, "fv: V is not finite at cell %d (x = %g, %g)", j * n0 + i, x[0], x[1]);
          rc = 3;
          break;
        }
        v = out[0];
      }
      s->Vt[j * n0 + i] = v;
    }
  if (!rc && s->p.W.fn) {
    int w0 = 2 * n0 - 1, w1 = dim == 2 ? 2 * n1 - 1 : 1;
    for (int b = 0; b < w1 && !rc; b++)
      for (int a = 0; a < w0; a++) {
        x[0] = (a - (n0 - 1)) * s->h[0];
        x[1] = dim == 2 ? (b - (n1 - 1)) * s->h[1] : 0;
        if (eval_cb(&s->p.W, x, out, ws) || !isfinite(out[0])) {
          flow_msg(msg, len, "fv: W is not finite at z = (%g, %g)", x[0], x[1]);
          rc = 3;
          break;
        }
        s->Wt[b * w0 + a] = out[0];
      }
  }
  /* the tables a sweep reads, in its block order (line_body) */
  for (int d = 0; d < dim && !rc; d++) {
    sweep_geom sg = geom(s, d);
    double *gf = NULL;
    if (s->p.mob.fn && !(gf = malloc(sizeof(double) * sg.nlines * (sg.nk - 1)))) {
      flow_msg(msg, len, "fv: out of memory");
      rc = 3;
      break;
    }
    for (int l = 0; l < sg.nlines && gf && !rc; l++)
      for (int k = 0; k + 1 < sg.nk; k++) {
        int i = d == 0 ? k : l, j = d == 0 ? l : k;
        x[0] = d == 0 ? g->lo[0] + (i + 1) * s->h[0] : fv_center(g, 0, i);
        x[1] = dim == 2 ? (d == 1 ? g->lo[1] + (j + 1) * s->h[1] : fv_center(g, 1, j)) : 0;
        if (eval_cb(&s->p.mob, x, out, ws) || !isfinite(out[d]) || out[d] < 0) {
          flow_msg(msg, len, "fv: the mobility G^-1 is %s at the face x = (%g, %g)",
                   isfinite(out[d]) ? "negative" : "not finite", x[0], x[1]);
          rc = 3;
          break;
        }
        gf[(size_t)l * (sg.nk - 1) + k] = out[d];
      }
    if (!rc && (!(s->Vb[d] = block_table(&sg, s->Vt, d == 0 ? n0 : 1, sg.stride, sg.nk)) ||
                (gf && !(s->gfb[d] = block_table(&sg, gf, sg.nk - 1, 1, sg.nk - 1))))) {
      flow_msg(msg, len, "fv: out of memory");
      rc = 3;
    }
    free(gf);
  }
  free(ws);
  return rc;
}

/* ---- xi = V + W*rho + T log rho + nu m/(m-1) rho^(m-1) */
typedef struct conv_job {
  fv_solver *s;
  const double *rho;
} conv_job;

static void conv_body(void *ctx, long lo, long hi, int thread) {
  (void)thread;
  conv_job *J = ctx;
  fv_solver *s = J->s;
  int n0 = s->p.grid.n[0], n1 = s->p.grid.n[1], w0 = 2 * n0 - 1;
  for (long c = lo; c < hi; c++) {
    int i = (int)(c % n0), j = (int)(c / n0);
    double acc = 0;
    for (int b = 0; b < n1; b++) {
      const double *wrow = s->Wt + (size_t)(j - b + n1 - 1) * w0 + (i + n0 - 1);
      const double *r = J->rho + (size_t)b * n0;
      for (int a = 0; a < n0; a++) acc += wrow[-a] * r[a];
    }
    s->conv[c] = acc * s->vol;
  }
}

/* s->conv = vol W * rho: by FFT on 2-D grids (fv_fftconv.h), else the
** direct sum over the offset table (O(n^2) in 1-D) */
static void convolve(fv_solver *s, const double *rho) {
  if (s->fft) {
    fv_fftconv_apply(s->fft, rho, s->conv);
    for (int c = 0; c < s->N; c++) s->conv[c] *= s->vol;
    return;
  }
  conv_job J = { s, rho };
  pool_run(s->nt, s->N, 0, conv_body, &J);
}

/* ---- one Newton pass over the lines of a sweep, FV_B lines at a time.
** A block's lines are the lanes of one kernel (block_kernel): every lane
** does the arithmetic of one line alone (no sum across lanes, no FMA:
** the clones below enable AVX2 but not FMA), so a line's numbers do not
** depend on its block, its lane or the SIMD width, and the threads take
** whole blocks: the same bits for every thread count and machine width.
** Per lane the kernel fuses the trial point, xi, the residual, the
** Jacobian and Thomas's forward elimination into one pass over the line
** (the elimination of row k needs only the faces k - 1 and k), then the
** back substitution: a block's working set stays in the L1/L2 cache. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(HNN_NO_CLONES)
#define FV_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FV_CLONES
#endif
#define LANES _Pragma("omp simd") for (int q = 0; q < L; q++)

enum { FV_EVAL, FV_TRIAL, FV_MAKE };   /* at rho; at the trial rho + alpha dl, made here; the trial only */

typedef struct line_job {
  fv_solver *s;
  sweep_geom g;
  int mode, jac;             /* jac: also solve J delta = -R */
  double lam, alpha, floor;
  const double *rho, *dl;    /* the point (FV_EVAL) or the iterate and its Newton step */
  double *trial, *delta;     /* where the trial point and the Newton step go */
  int fail;                  /* set by a line whose solve failed (any line may) */
  /* the sweep's arrays, in block order: the iterate, the trial point, the
  ** Newton steps at them, the start (rho*), W * the point */
  double *x, *xt, *dx, *dx2, *rstar, *conv;
} line_job;

/* A block's values, in the sweep's block order: lane q's k-th cell at
** [k S + q], S the lanes per block; gf: its faces. */
typedef struct fv_blk {
  const double *rho, *dl, *rstar, *conv, *V, *gf;
  double *t, *dout;
  size_t S;
} fv_blk;

/* Second order (fv_options.order 2): the face values of CCH's piecewise-
** linear reconstruction, rho_k +- s_k/2 with the minmod slope
** s_k = minmod(2 (rho_k - rho_{k-1}), (rho_{k+1} - rho_{k-1})/2, 2 (rho_{k+1} - rho_k))
** (0 in the end cells).  With theta = 2 a face value lies between the
** cell's and its neighbour's, so it is >= 0 when they are, F has the sign
** of u and u F >= 0: mass and the energy inequality hold as for the
** first-order flux.  The Jacobian keeps the face value's dependence on
** the two cells of the face (tridiagonal), not on the next ones, so Newton
** converges linearly; positivity is no longer an M-matrix property but is
** kept by the trial points (block_kernel). */
/* minmod of a, b, c, and which one it is (0, 1, 2; -1 for 0) */
static double minmod3(double a, double b, double c, int *which) {
  double v[3] = { a, b, c };
  *which = -1;
  if (!((a > 0 && b > 0 && c > 0) || (a < 0 && b < 0 && c < 0))) return 0;
  int w = 0;
  for (int q = 1; q < 3; q++)
    if (fabs(v[q]) < fabs(v[w])) w = q;
  *which = w;
  return v[w];
}

/* The upwind face value between cells k and k + 1 of a line whose cell j
** is rho[j S] (upwind cell k when right, else k + 1), and its derivatives
** e0, e1 with respect to rho_k and rho_{k+1} (the dependence on rho_{k-1}
** or rho_{k+2} is left out of the tridiagonal Jacobian). */
static double face_value(const double *rho, size_t S, int nk, int k, int right, double *e0, double *e1) {
  int c = right ? k : k + 1, w;
  *e0 = right, *e1 = !right;
  double rc = rho[c * S];
  if (c == 0 || c == nk - 1) return rc;
  double dl = rc - rho[(c - 1) * S], dr = rho[(c + 1) * S] - rc;
  double sl = minmod3(2 * dl, 0.5 * (dl + dr), 2 * dr, &w);
  /* value rho_c +- sl/2; d(sl/2)/d rho_{c-1}, rho_c, rho_{c+1} by branch */
  static const double ds[3][3] = { { -1, 1, 0 }, { -0.25, 0, 0.25 }, { 0, -1, 1 } };
  if (w < 0) return rc;
  if (right) {   /* c = k: rho_k + sl/2 */
    *e0 = 1 + ds[w][1];
    *e1 = ds[w][2];
    return rc + 0.5 * sl;
  }
  /* c = k + 1: rho_{k+1} - sl/2 */
  *e0 = -ds[w][0];
  *e1 = 1 - ds[w][1];
  return rc - 0.5 * sl;
}

/* What a line hands back (summed or maxed over lines in line order). */
typedef struct fv_lres {
  double nrm, scale;         /* ||R||_1 and its rounding scale */
  double off;                /* the trial's departure from the additive step */
  double max, sum;           /* max and sum of the point's values */
  double dmax;               /* max |Newton step| */
} fv_lres;

/* The block kernel: nk cells of L lanes (b; L = FV_B, or 1 for a sweep of
** fewer lines, e.g. 1-D), tmp 4 nk L doubles; per-lane results into res,
** bad[q] = 1 when lane q's solve failed.  Inlined with L constant. */
static inline __attribute__((always_inline)) void kernel(const fv_solver *s, const line_job *J, int nk,
                                                         const fv_blk *b, double *tmp, fv_lres *res, double *bad,
                                                         const int L) {
  const size_t S = b->S;
  const int B = L;
  const double T = s->p.T, nu = s->p.nu, m = s->p.m, cm = nu > 0 ? nu * m / (m - 1) : 0;
  const double lam = J->lam, alpha = J->alpha, ih = 1 / s->h[J->g.d], floor = J->floor;
  const int hasW = s->p.W.fn != NULL, jac = J->jac, make = J->mode != FV_EVAL, order2 = s->o.order == 2;
  const int pw = nu > 0 && m != 2;
  double *xi = tmp, *dd = xi + nk * B, *wv = dd + nk * B, *D = wv + nk * B;
  const double *tv = make ? b->t : b->rho;   /* the point evaluated */
  double off[FV_B], tmax[FV_B], tsum[FV_B], lg[FV_B], pv[FV_B], ep[FV_B];
  LANES off[q] = 0, tmax[q] = 0, tsum[q] = 0, lg[q] = pv[q] = ep[q] = 0;

  /* pass 1: the trial point rho + alpha dl, kept positive (T > 0: a
  ** decrease of more than half is taken multiplicatively, rho exp(alpha
  ** dl / rho)) or nonnegative (T = 0: clipped at 0); off sums its departure
  ** from the plain additive step, whose increments sum to minus the
  ** residuals (so the mass it changes by is what the trial departs from
  ** it).  Then xi = V + W*rho + T log rho + nu m/(m-1) rho^(m-1) and its
  ** local derivative d xi/d rho (with T = 0 and m < 2 infinite at 0: a
  ** floor keeps the then inexact Jacobian finite). */
  for (int k = 0; k < nk; k++) {
    const double *tk = tv + k * S;
    if (make) {
      const double *rk = b->rho + k * S, *dk = b->dl + k * S;
      double *o = b->t + k * S;
      LANES {
        double v = rk[q] + alpha * dk[q];
        o[q] = T <= 0 && v < 0 ? 0 : v;
      }
      int any = 0;
      if (T > 0) {
        _Pragma("omp simd reduction(|:any)") for (int q = 0; q < L; q++) any |= alpha * dk[q] < -0.5 * rk[q];
      }
      if (any)
        for (int q = 0; q < L; q++) {
          double r = rk[q], d = alpha * dk[q];
          if (d < -0.5 * r) o[q] = r * exp(fmax(d / r, -700.0));
        }
      LANES off[q] += fabs(o[q] - (rk[q] + alpha * dk[q]));
    }
    LANES {
      double v = tk[q];
      tmax[q] = v > tmax[q] ? v : tmax[q];
      tsum[q] += v;
    }
    if (J->mode == FV_MAKE) continue;
    if (T > 0)
      for (int q = 0; q < L; q++) lg[q] = log(tk[q]);
    /* the power entropy's terms: pv in xi, ep in d xi/d rho (the adds of
    ** zeros below leave a term that is absent out exactly) */
    if (pw)
      for (int q = 0; q < L; q++) {
        double r = tk[q], rr = (m < 2 && r < floor) ? floor : r;
        pv[q] = pow(r, m - 1);
        if (jac) ep[q] = nu * m * pow(rr, m - 2);
      }
    else if (nu > 0)
      LANES pv[q] = tk[q], ep[q] = 2 * nu;
    const double *Vk = b->V + k * B;
    double *xk = xi + k * B, *ek = dd + k * B;
    if (hasW) {
      const double *ck = b->conv + k * S;
      LANES xk[q] = Vk[q] + ck[q] + T * lg[q] + cm * pv[q];
    } else
      LANES xk[q] = Vk[q] + T * lg[q] + cm * pv[q];
    if (jac) {
      if (T > 0)
        LANES ek[q] = T / tk[q] + ep[q];
      else
        LANES ek[q] = ep[q];
    }
  }
  if (J->mode == FV_MAKE) {
    for (int q = 0; q < L; q++) {
      res[q].nrm = res[q].scale = res[q].dmax = bad[q] = 0;
      res[q].off = off[q], res[q].max = tmax[q], res[q].sum = tsum[q];
    }
    return;
  }

  /* pass 2: R(rho) = rho - rho* + lam (F_{k+1/2} - F_{k-1/2}) with
  ** u = -g (xi_{k+1} - xi_k)/h and the upwind flux F = u up; row k of R
  ** and of the Jacobian is complete after face k, so Thomas's forward
  ** elimination of J delta = -R follows it at once.  Carried per lane:
  ** row k's residual r, diagonal bb, sub-diagonal aa; the pivot and c of
  ** row k - 1. */
  double r[FV_B], bb[FV_B], aa[FV_B], cp[FV_B], piv[FV_B], nrm[FV_B], sF[FV_B], sC[FV_B];
  double rn[FV_B], an[FV_B], bn[FV_B], cc[FV_B];   /* row k + 1's start, row k's c */
  LANES r[q] = tv[q] - b->rstar[q], bb[q] = 1, aa[q] = cp[q] = piv[q] = 0, nrm[q] = sF[q] = sC[q] = 0, bad[q] = 0;
  LANES rn[q] = an[q] = bn[q] = cc[q] = 0;
  for (int k = 0; k < nk; k++) {
    const double *t0 = tv + k * S, *rs0 = b->rstar + k * S;
    if (k + 1 < nk) {
      const double *t1 = t0 + S, *rs1 = rs0 + S, *x0 = xi + k * B, *x1 = x0 + B, *g = b->gf + k * B;
      const double *e0p = dd + k * B, *e1p = e0p + B;
      double u[FV_B], up[FV_B], e0[FV_B], e1[FV_B];
      LANES {
        double a = t0[q], c = t1[q];   /* loaded before the select, so it vectorizes */
        u[q] = -g[q] * (x1[q] - x0[q]) * ih;
        up[q] = u[q] >= 0 ? a : c;
        e0[q] = u[q] > 0, e1[q] = u[q] < 0;
      }
      if (order2)
        for (int q = 0; q < L; q++) {
          up[q] = face_value(tv + q, S, nk, k, u[q] >= 0, &e0[q], &e1[q]);
          if (u[q] == 0) e0[q] = e1[q] = 0;
        }
      LANES {
        double F = u[q] * up[q];
        r[q] += lam * F;
        rn[q] = (t1[q] - rs1[q]) - lam * F;
        /* rounding of F: u is a difference of xi's, each with a few ulps
        ** of |xi| (T log rho, V: |xi| can be far above xi's differences
        ** near a steady state), so the floor counts lam g (|xi_k| +
        ** |xi_k+1|)/h |up| at ~10 ulps (1e-13 scale, sweep) besides |F| */
        sF[q] += 2 * lam * fabs(F) + 1e-2 * lam * g[q] * (fabs(x0[q]) + fabs(x1[q])) * ih * fabs(up[q]);
        /* dF/drho_k = [u > 0] u + up du/drho_k, du/drho_k = g xi'(rho_k)/h (u already carries g) */
        double j0 = g[q] * up[q] * e0p[q] * ih, j1 = g[q] * up[q] * e1p[q] * ih;
        double d0 = u[q] * e0[q] + (up[q] > 0 ? j0 : 0);
        double d1 = u[q] * e1[q] - (up[q] > 0 ? j1 : 0);
        bb[q] += lam * d0;
        cc[q] = 0 + lam * d1;
        an[q] = 0 - lam * d0;
        bn[q] = 1 - lam * d1;
      }
    }
    LANES nrm[q] += fabs(r[q]), sC[q] += fabs(t0[q]) + fabs(rs0[q]);
    if (jac) {
      double *Dk = D + k * B, *wk = wv + k * B;
      if (k == 0)
        LANES {
          double p = bb[q];
          bad[q] = ((p != 0) & (fabs(p) <= DBL_MAX)) ? bad[q] : 1;
          Dk[q] = -r[q] / p;
          piv[q] = p;
        }
      else
        LANES {
          double w = cp[q] / piv[q], p = bb[q] - aa[q] * w;
          bad[q] = ((p != 0) & (fabs(p) <= DBL_MAX)) ? bad[q] : 1;
          Dk[q] = (-r[q] - aa[q] * Dk[q - B]) / p;
          wk[q] = w;
          piv[q] = p;
        }
    }
    if (k + 1 < nk) LANES cp[q] = cc[q], r[q] = rn[q], aa[q] = an[q], bb[q] = bn[q];
  }
  double dm[FV_B];
  LANES dm[q] = 0;
  if (jac) {
    double *o = b->dout;
    LANES {
      double v = D[(size_t)(nk - 1) * B + q];
      o[(size_t)(nk - 1) * S + q] = v;
      dm[q] = fabs(v) > dm[q] ? fabs(v) : dm[q];
    }
    for (int k = nk - 2; k >= 0; k--) {
      double *Dk = D + k * B, *ok = o + k * S;
      const double *w1 = wv + (k + 1) * B;
      LANES {
        double v = Dk[q] - w1[q] * Dk[q + B];
        Dk[q] = v;
        ok[q] = v;
        dm[q] = fabs(v) > dm[q] ? fabs(v) : dm[q];
      }
    }
  }
  for (int q = 0; q < L; q++) {
    res[q].nrm = nrm[q], res[q].scale = sF[q] + sC[q], res[q].dmax = dm[q];
    res[q].max = tmax[q], res[q].sum = tsum[q], res[q].off = make ? off[q] : 0;
  }
}

FV_CLONES static void block_kernel8(const fv_solver *s, const line_job *J, int nk, const fv_blk *b, double *tmp,
                                    fv_lres *res, double *bad) {
  kernel(s, J, nk, b, tmp, res, bad, FV_B);
}
static void block_kernel1(const fv_solver *s, const line_job *J, int nk, const fv_blk *b, double *tmp, fv_lres *res,
                          double *bad) {
  kernel(s, J, nk, b, tmp, res, bad, 1);
}

/* A density in cell order to the block order of a sweep ([block][k][lane]:
** each block's values contiguous, so a block stays in the cache), lanes
** past the last line repeating the block's first: they compute what a
** real line does, so they cannot fail alone; and back.  Over the pool by
** blocks (plain copies). */
typedef struct order_job {
  const fv_solver *s;
  sweep_geom g;
  const double *a;
  double *b;
  int back;
} order_job;

static void order_body(void *ctx, long lo, long hi, int thread) {
  (void)thread;
  const order_job *o = ctx;
  const sweep_geom *g = &o->g;
  size_t st = (size_t)g->stride, base[FV_B];
  int L = g->L;
  for (long bl = lo; bl < hi; bl++) {
    int l0 = (int)bl * L, nb = g->nlines - l0 < L ? g->nlines - l0 : L;
    for (int q = 0; q < L; q++) base[q] = line_base(g, l0 + (q < nb ? q : 0));
    size_t off = (size_t)bl * g->nk * L;
    /* k outer: along y a block's lanes are adjacent in a row */
    if (!o->back)
      for (int k = 0; k < g->nk; k++)
        for (int q = 0; q < L; q++) o->b[off + (size_t)k * L + q] = o->a[base[q] + k * st];
    else
      for (int k = 0; k < g->nk; k++)
        for (int q = 0; q < nb; q++) o->b[base[q] + k * st] = o->a[off + (size_t)k * L + q];
  }
}

static void reorder(const fv_solver *s, const sweep_geom *g, const double *a, double *b, int back) {
  order_job o = { s, *g, a, b, back };
  pool_run(s->N >= FV_MIN_THREADED ? s->nt : 1, (g->nlines + g->L - 1) / g->L, 0, order_body, &o);
}

/* Blocks lo..hi - 1 of a sweep, on its arrays in block order. */
static void line_body(void *ctx, long lo, long hi, int thread) {
  line_job *J = ctx;
  fv_solver *s = J->s;
  const sweep_geom *g = &J->g;
  int nk = g->nk, d = g->d, L = g->L;
  double *tmp = s->scratch + (size_t)thread * FV_SCRATCH * s->maxn * FV_B;
  for (long bl = lo; bl < hi; bl++) {
    int l0 = (int)bl * L, nb = g->nlines - l0 < L ? g->nlines - l0 : L;
    size_t o = (size_t)bl * nk * L;
    fv_blk b;
    b.V = s->Vb[d] + o;
    b.gf = s->gfb[d] ? s->gfb[d] + (size_t)bl * (nk - 1) * L : s->ones;
    b.S = L;
    b.rho = J->rho + o, b.dl = J->dl + o, b.rstar = J->rstar + o, b.conv = s->p.W.fn ? J->conv + o : NULL;
    b.t = J->trial + o, b.dout = J->delta + o;
    fv_lres res[FV_B];
    double bad[FV_B];
    if (L == FV_B)
      block_kernel8(s, J, nk, &b, tmp, res, bad);
    else
      block_kernel1(s, J, nk, &b, tmp, res, bad);
    for (int q = 0; q < nb; q++) {
      s->lres[l0 + q] = res[q];
      if (J->mode != FV_MAKE && J->jac && bad[q]) __atomic_store_n(&J->fail, 1, __ATOMIC_RELAXED);
    }
  }
}

/* The sums of a pass, over lines in line order (so the same for every
** thread count); nrm is -1 when not finite. */
typedef struct fv_sums {
  double nrm, scale, off, max, sum, dmax;
  int fail;
} fv_sums;

static fv_sums run_lines(fv_solver *s, line_job *J) {
  J->fail = 0;
  pool_run(s->N >= FV_MIN_THREADED ? s->nt : 1, (J->g.nlines + J->g.L - 1) / J->g.L, 1, line_body, J);
  fv_sums r = { 0, 0, 0, 0, 0, 0, J->fail };
  for (int l = 0; l < J->g.nlines; l++) {
    const fv_lres *x = &s->lres[l];
    r.nrm += x->nrm, r.scale += x->scale, r.off += x->off, r.sum += x->sum;
    r.max = x->max > r.max ? x->max : r.max;
    r.dmax = x->dmax > r.dmax ? x->dmax : r.dmax;
  }
  if (!isfinite(r.nrm)) r.nrm = -1;
  return r;
}

/* W * the point (in block order) into J->conv: the convolution takes the
** point in cell order (s->save is free scratch during a sweep). */
static void conv_at(fv_solver *s, const line_job *J, const double *pt) {
  reorder(s, &J->g, pt, s->save, 1);
  convolve(s, s->save);
  reorder(s, &J->g, s->conv, J->conv, 0);
}

/* Evaluate R (and, if jac, the Newton step into delta) at the point pt
** (FV_EVAL) or at the trial point J->x + alpha J->dx, made into J->xt
** (FV_TRIAL).  With W the convolution needs the whole trial point first:
** it is made in a pass of its own. */
static fv_sums evaluate(fv_solver *s, line_job *J, int mode, const double *pt, double alpha, int jac,
                        double *delta) {
  J->rho = pt, J->dl = J->dx, J->trial = J->xt, J->alpha = alpha, J->jac = jac, J->delta = delta;
  if (s->p.W.fn && mode == FV_TRIAL) {
    J->mode = FV_MAKE;
    fv_sums a = run_lines(s, J);
    conv_at(s, J, J->xt);
    J->mode = FV_EVAL, J->rho = J->xt;
    fv_sums e = run_lines(s, J);
    e.off = a.off;
    return e;
  }
  if (s->p.W.fn) conv_at(s, J, pt);
  J->mode = mode;
  return run_lines(s, J);
}

static void swap(double **a, double **b) {
  double *t = *a;
  *a = *b;
  *b = t;
}

/* Newton's iterations of a sweep on J's arrays.  0: converged, 1: failed. */
static int newton(fv_solver *s, line_job *J) {
  /* The residual of an accepted trial point is the next iteration's, so the
  ** trials are evaluated with their Newton step (into dx2, swapped in on
  ** acceptance): one evaluation per iteration when the full step is taken.
  ** A full step that would end the sweep (its size is below tol) is
  ** evaluated without the Newton step, which would not be used; if the mass
  ** test then keeps the sweep going, the accepted point is evaluated again
  ** with it (the same numbers). */
  fv_sums e = evaluate(s, J, FV_EVAL, J->x, 0, 1, J->dx);
  double rmax = e.max, rsum = e.sum, nrm = e.fail ? -1 : e.nrm, dmax = e.dmax;
  for (int it = 0; it < s->o.max_newton; it++) {
    s->st.newton++;
    if (nrm < 0) return 1;
    double alpha = 1;
    int ok = 0, jac = 1;
    fv_sums t;
    for (int ls = 0; ls < 40; ls++, alpha *= 0.5) {
      jac = !(alpha == 1 && dmax <= s->o.tol * rmax);
      t = evaluate(s, J, FV_TRIAL, J->x, alpha, jac, J->dx2);
      /* rounding floor of ||R||_1: the residual's terms are ~ scale */
      if (t.nrm >= 0 && (t.nrm < nrm || t.nrm <= 1e-13 * t.scale)) {
        ok = 1;
        break;
      }
    }
    if (!ok) return 1;
    swap(&J->x, &J->xt);
    /* done after a full, (all but 1e-15 of the mass) additive step that
    ** moved no cell by more than tol * max rho */
    if (alpha == 1 && t.off <= 1e-15 * rsum && dmax <= s->o.tol * rmax) return 0;
    rmax = t.max;
    if (!jac) t = evaluate(s, J, FV_EVAL, J->x, 0, 1, J->dx2);
    swap(&J->dx, &J->dx2);
    nrm = t.fail ? -1 : t.nrm;
    dmax = t.dmax;
  }
  return 1;
}

/* One implicit sweep of size dt along d from s->rho.  0: converged (s->rho
** updated), 1: Newton failed (s->rho untouched).  The sweep works on
** copies of its arrays in block order (reorder). */
static int sweep(fv_solver *s, int d, double dt) {
  line_job J;
  memset(&J, 0, sizeof J);
  J.s = s, J.g = geom(s, d), J.lam = dt / s->h[d];
  if (s->p.nu > 0 && s->p.m < 2) {
    double mx = 0;
    for (int c = 0; c < s->N; c++) mx = s->rho[c] > mx ? s->rho[c] : mx;
    J.floor = 1e-12 * mx;
  }
  s->st.sweeps++;
  J.x = s->bx, J.xt = s->bt, J.dx = s->bd, J.dx2 = s->bd2, J.rstar = s->bs, J.conv = s->bc;
  reorder(s, &J.g, s->rho, J.rstar, 0);
  memcpy(J.x, J.rstar, sizeof(double) * s->NB);
  int rc = newton(s, &J);
  /* the buffers were swapped around: hand them back */
  s->bx = J.x, s->bt = J.xt, s->bd = J.dx, s->bd2 = J.dx2;
  if (!rc) reorder(s, &J.g, J.x, s->rho, 1);
  return rc;
}

/* A sweep of dt, split into halves (recursively) when Newton fails. */
static int sweep_split(fv_solver *s, int d, double dt, int depth) {
  if (!sweep(s, d, dt)) return 0;
  if (depth >= s->o.max_halvings) return 1;
  s->st.halvings++;
  if (sweep_split(s, d, 0.5 * dt, depth + 1)) return 1;
  return sweep_split(s, d, 0.5 * dt, depth + 1);
}

int fv_step(fv_solver *s, double dt, char *msg, size_t len) {
  if (!(dt > 0) || !isfinite(dt)) {
    flow_msg(msg, len, "fv: the time step must be positive and finite (got %g)", dt);
    return 2;
  }
  double *before = s->before;
  memcpy(before, s->rho, sizeof(double) * s->N);
  int dim = s->p.grid.dim;
  for (int q = 0; q < dim; q++) {
    int d = (s->parity & 1) ? dim - 1 - q : q;
    if (sweep_split(s, d, dt, 0)) {
      memcpy(s->rho, before, sizeof(double) * s->N);
      flow_msg(msg, len, "fv: the implicit step from t = %.17g (dt = %g, direction %d) did not converge after %d halvings",
               s->t, dt, d, s->o.max_halvings);
      return 3;
    }
  }
  for (int c = 0; c < s->N; c++)
    if (!isfinite(s->rho[c]) || s->rho[c] < 0) {
      flow_msg(msg, len, "fv: the density is %s at cell %d after the step from t = %.17g",
               isfinite(s->rho[c]) ? "negative" : "not finite", c, s->t);
      memcpy(s->rho, before, sizeof(double) * s->N);
      return 3;
    }
  s->t += dt;
  s->parity++;
  s->st.steps++;
  return 0;
}

/* ---- construction */
fv_solver *fv_new(const fv_problem *p, const fv_options *o, const double *rho0, char *msg, size_t len) {
  const fv_grid *g = &p->grid;
  if (g->dim != 1 && g->dim != 2) {
    flow_msg(msg, len, "fv: the grid dimension must be 1 or 2 (got %d)", g->dim);
    return NULL;
  }
  for (int d = 0; d < g->dim; d++)
    if (g->n[d] < 2 || g->n[d] > (1 << 24) || !(g->hi[d] > g->lo[d]) || !isfinite(g->hi[d] - g->lo[d])) {
      flow_msg(msg, len, "fv: dimension %d needs at least 2 cells on an interval lo < hi", d);
      return NULL;
    }
  if (g->dim == 2 && (double)g->n[0] * g->n[1] > 1e8) {
    flow_msg(msg, len, "fv: %d x %d cells is too many", g->n[0], g->n[1]);
    return NULL;
  }
  if (!(p->T >= 0) || !isfinite(p->T) || !(p->nu >= 0) || !isfinite(p->nu) || (p->nu > 0 && !(p->m > 1 && isfinite(p->m)))) {
    flow_msg(msg, len, "fv: need T >= 0, nu >= 0 and m > 1 when nu > 0 (got T = %g, nu = %g, m = %g)", p->T, p->nu, p->m);
    return NULL;
  }
  fv_solver *s = calloc(1, sizeof *s);
  if (!s) {
    flow_msg(msg, len, "fv: out of memory");
    return NULL;
  }
  s->p = *p;
  if (g->dim == 1) {
    s->p.grid.n[1] = 1;
    s->p.grid.lo[1] = 0;
    s->p.grid.hi[1] = 1;
  }
  fv_options def = { 60, 1e-12, 24, 0, 1 };
  s->o = o ? *o : def;
  if (s->o.max_newton <= 0) s->o.max_newton = def.max_newton;
  if (!(s->o.tol > 0)) s->o.tol = def.tol;
  if (s->o.max_halvings <= 0) s->o.max_halvings = def.max_halvings;
  s->nt = s->o.threads > 0 ? s->o.threads : pool_max_threads();
  int n0 = s->p.grid.n[0], n1 = s->p.grid.n[1];
  s->N = n0 * n1;
  s->h[0] = fv_width(&s->p.grid, 0);
  s->h[1] = g->dim == 2 ? fv_width(&s->p.grid, 1) : 1;
  s->vol = s->h[0] * s->h[1];
  s->maxn = n0 > n1 ? n0 : n1;
  size_t N = (size_t)s->N;
  double **arrs[] = { &s->rho, &s->conv, &s->save, &s->before, &s->Vt };
  int bad = 0;
  for (size_t k = 0; k < sizeof arrs / sizeof *arrs; k++) bad |= !(*arrs[k] = calloc(N, sizeof(double)));
  if (p->W.fn) bad |= !(s->Wt = malloc(sizeof(double) * (2 * n0 - 1) * (size_t)(2 * n1 - 1)));
  for (int d = 0; d < g->dim; d++) {
    sweep_geom sg = geom(s, d);
    size_t nbl = (size_t)(sg.nlines + sg.L - 1) / sg.L, nb = nbl * sg.L * sg.nk;
    if (nb > s->NB) s->NB = nb;
  }
  double **barrs[] = { &s->bx, &s->bt, &s->bd, &s->bd2, &s->bs, &s->bc };
  for (size_t k = 0; k < sizeof barrs / sizeof *barrs - !p->W.fn; k++) bad |= !(*barrs[k] = calloc(s->NB, sizeof(double)));
  int nl = n0 > n1 ? n0 : n1;   /* lines of a sweep: at most the larger side (n1 = 1 in 1-D) */
  bad |= !(s->lres = malloc(sizeof(fv_lres) * nl));
  bad |= !(s->scratch = malloc(sizeof(double) * FV_SCRATCH * FV_B * (size_t)s->maxn * s->nt));
  if ((s->ones = malloc(sizeof(double) * FV_B * (size_t)s->maxn)))
    for (size_t k = 0; k < (size_t)FV_B * s->maxn; k++) s->ones[k] = 1;
  bad |= !s->ones;
  if (bad) {
    flow_msg(msg, len, "fv: out of memory for %zu cells", N);
    fv_free(s);
    return NULL;
  }
  for (size_t c = 0; c < N; c++) {
    double r = rho0[c];
    if (!isfinite(r) || r < 0 || (p->T > 0 && !(r > 0))) {
      flow_msg(msg, len, "fv: the start density at cell %zu is %g: it must be finite and %s", c, r,
               p->T > 0 ? "positive (T > 0 takes its logarithm)" : "nonnegative");
      fv_free(s);
      return NULL;
    }
    s->rho[c] = r;
  }
  if (build_tables(s, msg, len)) {
    fv_free(s);
    return NULL;
  }
  if (s->p.W.fn && g->dim == 2 && !(s->fft = fv_fftconv_new(g->n[0], g->n[1], s->Wt))) {
    flow_msg(msg, len, "fv: out of memory for the FFT of W (%d x %d cells)", g->n[0], g->n[1]);
    fv_free(s);
    return NULL;
  }
  return s;
}

void fv_free(fv_solver *s) {
  if (!s) return;
  double *arrs[] = { s->rho, s->conv, s->save, s->before, s->Vt, s->Wt, s->Vb[0], s->Vb[1], s->gfb[0], s->gfb[1],
                     s->ones, s->scratch, s->bx, s->bt, s->bd, s->bd2, s->bs, s->bc };
  free(s->lres);
  for (size_t k = 0; k < sizeof arrs / sizeof *arrs; k++) free(arrs[k]);
  fv_fftconv_free(s->fft);
  free(s);
}

const double *fv_density(const fv_solver *s) { return s->rho; }
double fv_time(const fv_solver *s) { return s->t; }
const fv_grid *fv_grid_of(const fv_solver *s) { return &s->p.grid; }
const fv_stats *fv_stats_of(const fv_solver *s) { return &s->st; }

/* ---- monitors */
void fv_monitor_of(const fv_solver *s, const double *rho, fv_monitors *m) {
  fv_solver *w = (fv_solver *)s;   /* conv is scratch; the density is untouched */
  memset(m, 0, sizeof *m);
  if (s->p.W.fn) convolve(w, rho);
  const fv_grid *g = &s->p.grid;
  int n0 = g->n[0];
  double mass = 0, pot = 0, inter = 0, ent = 0, pw = 0, mx = 0, my = 0, m2 = 0, mn = INFINITY;
  for (int c = 0; c < s->N; c++) {
    double r = rho[c], x = fv_center(g, 0, c % n0), y = g->dim == 2 ? fv_center(g, 1, c / n0) : 0;
    mass += r;
    pot += s->Vt[c] * r;
    if (s->p.W.fn) inter += s->conv[c] * r;
    if (r > 0) ent += r * log(r);
    if (s->p.nu > 0) pw += pow(r, s->p.m) / (s->p.m - 1);
    mx += x * r;
    my += y * r;
    m2 += (x * x + y * y) * r;
    mn = fmin(mn, r);
  }
  double v = s->vol;
  m->mass = mass * v;
  m->potential = pot * v;
  m->interaction = 0.5 * inter * v;
  m->entropy = ent * v;
  m->power = s->p.nu > 0 ? pw * v : 0;
  m->energy = m->potential + m->interaction + s->p.T * m->entropy + s->p.nu * m->power;
  m->mean[0] = mass > 0 ? mx / mass : NAN;
  m->mean[1] = g->dim == 2 && mass > 0 ? my / mass : 0;
  m->second_moment = m2 * v;
  m->min = mn;
}

void fv_monitor(const fv_solver *s, fv_monitors *m) { fv_monitor_of(s, s->rho, m); }

/* ---- driver */
int fv_run(fv_solver *s, double t_end, double dt, double out_dt, fv_emit emit, void *ctx, flow_tick tick,
           void *tick_ctx, char *msg, size_t len) {
  if (!(dt > 0) || !isfinite(dt) || !isfinite(t_end) || !(t_end >= s->t)) {
    flow_msg(msg, len, "fv: need dt > 0 and t_end >= t (got dt = %g, t_end = %g, t = %g)", dt, t_end, s->t);
    return 2;
  }
  fv_monitors m;
  long step = 0;
  double t0 = s->t, next_out = out_dt > 0 ? t0 + out_dt : INFINITY;
  if (emit) {
    fv_monitor(s, &m);
    if (emit(ctx, s->t, 0, s->rho, &m)) {
      flow_msg(msg, len, "fv: the output callback failed at t = %g", s->t);
      return 3;
    }
  }
  /* steps counted from t0 so the times do not drift by repeated addition */
  long nsteps = (long)ceil((t_end - t0) / dt * (1 - 4 * DBL_EPSILON));
  for (long k = 1; k <= nsteps; k++) {
    double tk = k == nsteps ? t_end : t0 + k * dt;
    int rc = fv_step(s, tk - s->t, msg, len);
    if (rc) return rc;
    s->t = tk;
    step = k;
    if (tick && k % FLOW_TICK_STEPS == 0) tick(tick_ctx, s->t, k);
    int last = k == nsteps;
    if (emit && (last || s->t >= next_out * (1 - 8 * DBL_EPSILON))) {
      while (next_out <= s->t * (1 + 8 * DBL_EPSILON)) next_out += out_dt;
      fv_monitor(s, &m);
      if (emit(ctx, s->t, step, s->rho, &m)) {
        flow_msg(msg, len, "fv: the output callback failed at t = %g", s->t);
        return 3;
      }
    }
  }
  return 0;
}

/* ---- W2 in 1-D through quantile functions */
static int cdf(int n, const double *r, double *S) {
  S[0] = 0;
  for (int i = 0; i < n; i++) {
    if (!isfinite(r[i]) || r[i] < 0) return -1;
    S[i + 1] = S[i] + r[i];
  }
  double tot = S[n];
  if (!(tot > 0) || !isfinite(tot)) return -1;
  for (int i = 1; i <= n; i++) S[i] /= tot;
  S[n] = 1;
  return 0;
}

/* Q(s) inside cell i (S[i] <= s <= S[i+1], S[i+1] > S[i]) */
static double qcell(const double *S, int i, double lo, double h, double s) {
  double f = (s - S[i]) / (S[i + 1] - S[i]);
  return lo + (i + fmin(fmax(f, 0), 1)) * h;
}

double fv_w2_1d(int na, double la, double ha, const double *ra, int nb, double lb, double hb, const double *rb) {
  if (na < 1 || nb < 1) return NAN;
  double *Sa = malloc(sizeof(double) * (na + 1)), *Sb = malloc(sizeof(double) * (nb + 1));
  double res = NAN;
  if (!Sa || !Sb || cdf(na, ra, Sa) || cdf(nb, rb, Sb)) goto out;
  double wa = (ha - la) / na, wb = (hb - lb) / nb, acc = 0, s = 0;
  int i = 0, j = 0;
  while (i < na && Sa[i + 1] <= Sa[i]) i++;
  while (j < nb && Sb[j + 1] <= Sb[j]) j++;
  while (i < na && j < nb) {
    double e = fmin(Sa[i + 1], Sb[j + 1]);
    if (e > s) {
      double d0 = qcell(Sa, i, la, wa, s) - qcell(Sb, j, lb, wb, s);
      double d1 = qcell(Sa, i, la, wa, e) - qcell(Sb, j, lb, wb, e);
      acc += (e - s) * (d0 * d0 + d0 * d1 + d1 * d1) / 3;
      s = e;
    }
    if (Sa[i + 1] <= e) do i++; while (i < na && Sa[i + 1] <= Sa[i]);
    if (Sb[j + 1] <= e) do j++; while (j < nb && Sb[j + 1] <= Sb[j]);
  }
  res = sqrt(acc);
out:
  free(Sa);
  free(Sb);
  return res;
}
