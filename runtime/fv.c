/*
** fv.c — the implicit finite-volume engine for densities on grids (see
** fv.h for the scheme and the properties it keeps).
**
** Layout: the tables that do not change in time (V at cell centres, W at
** every cell offset, the mobility at every interior face) are evaluated
** once.  A sweep along direction d solves the implicit system
**   R(rho) = rho - rho* + (dt/h) (F_{k+1/2} - F_{k-1/2}) = 0
** by damped Newton; lines of direction d are independent given xi, so the
** Jacobian solve runs line by line on the worker pool, every line writing
** only its own cells and its own partial norm (so no result depends on the
** thread count).
*/
#include "fv.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fv_fftconv.h"
#include "fv_tridiag.h"
#include "pool.h"

/* y-sweep lines gathered together (line_body) */
#define FV_BLOCK 8

struct fv_solver {
  fv_problem p;
  fv_options o;
  int N, nt;
  double h[2], vol;
  double *rho, *rstar, *xi, *conv, *R, *delta, *delta2, *trial, *save;   /* delta2: the trial's Newton step */
  double *Vt;                /* V at cell centres */
  double *Wt;                /* W at offsets: ((dj + n1-1) (2 n0 - 1) + di + n0-1) */
  fv_fftconv *fft;           /* 2-D: W * rho by FFT */
  double *gface[2];          /* mobility at interior faces, line-major per direction */
  double *lnorm, *lscale;    /* per-line partial sums */
  double *scratch;           /* per thread: 5 lines, and 5 per line of a block of FV_BLOCK */
  int maxn;
  double t;
  long parity;
  fv_stats st;
};

double fv_width(const fv_grid *g, int d) { return (g->hi[d] - g->lo[d]) / g->n[d]; }
double fv_center(const fv_grid *g, int d, int i) { return g->lo[d] + (i + 0.5) * fv_width(g, d); }

/* ---- geometry of a sweep: direction d has nlines lines of nk cells; cell
** k of line l is base + k * stride. */
typedef struct sweep_geom {
  int d, nk, nlines, stride;
} sweep_geom;

static sweep_geom geom(const fv_solver *s, int d) {
  sweep_geom g = { d, s->p.grid.n[d], s->N / s->p.grid.n[d], d == 0 ? 1 : s->p.grid.n[0] };
  return g;
}
static int line_base(const fv_solver *s, const sweep_geom *g, int l) { return g->d == 0 ? l * s->p.grid.n[0] : l; }

/* ---- callbacks at setup */
static int eval_cb(const flow_fn *f, const double *x, double *out, double *ws) {
  return f->fn(x, NULL, out, ws);
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
  for (int d = 0; d < dim && !rc; d++) {
    sweep_geom sg = geom(s, d);
    for (int l = 0; l < sg.nlines && !rc; l++)
      for (int k = 0; k + 1 < sg.nk; k++) {
        double gv = 1;
        if (s->p.mob.fn) {
          int i = d == 0 ? k : l, j = d == 0 ? l : k;
          x[0] = d == 0 ? g->lo[0] + (i + 1) * s->h[0] : fv_center(g, 0, i);
          x[1] = dim == 2 ? (d == 1 ? g->lo[1] + (j + 1) * s->h[1] : fv_center(g, 1, j)) : 0;
          if (eval_cb(&s->p.mob, x, out, ws) || !isfinite(out[d]) || out[d] < 0) {
            flow_msg(msg, len, "fv: the mobility G^-1 is %s at the face x = (%g, %g)",
                     isfinite(out[d]) ? "negative" : "not finite", x[0], x[1]);
            rc = 3;
            break;
          }
          gv = out[d];
        }
        s->gface[d][l * (sg.nk - 1) + k] = gv;
      }
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

static void compute_xi(fv_solver *s, const double *rho) {
  if (s->p.W.fn) convolve(s, rho);
  double T = s->p.T, nu = s->p.nu, m = s->p.m, cm = nu > 0 ? nu * m / (m - 1) : 0;
  for (int c = 0; c < s->N; c++) {
    double v = s->Vt[c] + (s->p.W.fn ? s->conv[c] : 0);
    if (T > 0) v += T * log(rho[c]);
    if (nu > 0) v += cm * (m == 2 ? rho[c] : pow(rho[c], m - 1));
    s->xi[c] = v;
  }
}

/* d xi / d rho (local part).  With T = 0 and m < 2 it is infinite at 0: a
** floor keeps the (then inexact) Jacobian finite. */
static double dxi(const fv_solver *s, double r, double floor) {
  double T = s->p.T, nu = s->p.nu, m = s->p.m, v = 0;
  if (T > 0) v += T / r;
  if (nu > 0) {
    if (m == 2) v += 2 * nu;
    else {
      double rr = (m < 2 && r < floor) ? floor : r;
      v += nu * m * pow(rr, m - 2);
    }
  }
  return v;
}

/* ---- one Newton pass over the lines of a sweep */
typedef struct line_job {
  fv_solver *s;
  sweep_geom g;
  double lam;
  const double *rho;
  int jac;                   /* 1: also solve J delta = -R */
  double *delta;             /* where the Newton step goes */
  int fail;                  /* set by a line whose solve failed (any line may) */
  double floor;
} line_job;

/* Second order (fv_options.order 2): the face values of CCH's piecewise-
** linear reconstruction, rho_k +- s_k/2 with the minmod slope
** s_k = minmod(2 (rho_k - rho_{k-1}), (rho_{k+1} - rho_{k-1})/2, 2 (rho_{k+1} - rho_k))
** (0 in the end cells).  With theta = 2 a face value lies between the
** cell's and its neighbour's, so it is >= 0 when they are, F has the sign
** of u and u F >= 0: mass and the energy inequality hold as for the
** first-order flux.  The Jacobian keeps the face value's dependence on
** the two cells of the face (tridiagonal), not on the next ones, so Newton
** converges linearly; positivity is no longer an M-matrix property but is
** kept by the trial points (make_trial). */
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

/* The upwind face value between cells k and k + 1 of a line (upwind cell
** k when right, else k + 1), and its derivatives e0, e1 with respect to
** rho_k and rho_{k+1} (the dependence on rho_{k-1} or rho_{k+2} is left
** out of the tridiagonal Jacobian). */
static double face_value(const double *rho, int nk, int k, int right, double *e0, double *e1) {
  int c = right ? k : k + 1, w;
  *e0 = right, *e1 = !right;
  if (c == 0 || c == nk - 1) return rho[c];
  double dl = rho[c] - rho[c - 1], dr = rho[c + 1] - rho[c];
  double sl = minmod3(2 * dl, 0.5 * (dl + dr), 2 * dr, &w);
  /* value rho_c +- sl/2; d(sl/2)/d rho_{c-1}, rho_c, rho_{c+1} by branch */
  static const double ds[3][3] = { { -1, 1, 0 }, { -0.25, 0, 0.25 }, { 0, -1, 1 } };
  if (w < 0) return rho[c];
  if (right) {   /* c = k: rho_k + sl/2 */
    *e0 = 1 + ds[w][1];
    *e1 = ds[w][2];
    return rho[c] + 0.5 * sl;
  }
  /* c = k + 1: rho_{k+1} - sl/2 */
  *e0 = -ds[w][0];
  *e1 = 1 - ds[w][1];
  return rho[c] - 0.5 * sl;
}

/* One line on contiguous values rho, rstar, xi (nk cells, gf its nk - 1
** face mobilities): the residual into R and, with jac, the Newton step into
** D; tri holds 5 lines of scratch.  *nrm, *scale: the line's sums.  0, or 1
** when the tridiagonal solve failed. */
static int line_solve(const fv_solver *s, const line_job *J, int nk, const double *gf, const double *rho,
                      const double *rstar, const double *xi, double *R, double *D, double *tri, double *nrm_out,
                      double *scale_out) {
  int n = s->maxn;
  double *a = tri, *b = a + n, *c = b + n, *r = c + n, *w = r + n;
  double ih = 1 / s->h[J->g.d], lam = J->lam;
  for (int k = 0; k < nk; k++) {
    r[k] = rho[k] - rstar[k];
    a[k] = c[k] = 0;
    b[k] = 1;
  }
  double scale = 0;
  for (int k = 0; k + 1 < nk; k++) {
    double u = -gf[k] * (xi[k + 1] - xi[k]) * ih;
    double e0 = u > 0, e1 = u < 0;
    double up = s->o.order == 2 ? face_value(rho, nk, k, u >= 0, &e0, &e1) : u >= 0 ? rho[k] : rho[k + 1];
    if (u == 0) e0 = e1 = 0;
    double F = u * up;
    r[k] += lam * F;
    r[k + 1] -= lam * F;
    /* rounding of F: u is a difference of xi's, each with a few ulps of
    ** |xi| (T log rho, V: |xi| can be far above xi's differences near a
    ** steady state), so the floor counts lam g (|xi_k| + |xi_k+1|)/h |up| at
    ** ~10 ulps (1e-13 scale, below) besides |F| */
    scale += 2 * lam * fabs(F) + 1e-2 * lam * gf[k] * (fabs(xi[k]) + fabs(xi[k + 1])) * ih * fabs(up);
    if (J->jac) {
      /* dF/drho_k = [u > 0] u + up du/drho_k, du/drho_k = g xi'(rho_k)/h (u already carries g) */
      double d0 = u * e0 + (up > 0 ? gf[k] * up * dxi(s, rho[k], J->floor) * ih : 0);
      double d1 = u * e1 - (up > 0 ? gf[k] * up * dxi(s, rho[k + 1], J->floor) * ih : 0);
      b[k] += lam * d0;
      c[k] += lam * d1;
      a[k + 1] -= lam * d0;
      b[k + 1] -= lam * d1;
    }
  }
  double nrm = 0;
  for (int k = 0; k < nk; k++) {
    R[k] = r[k];
    nrm += fabs(r[k]);
    scale += fabs(rho[k]) + fabs(rstar[k]);
  }
  *nrm_out = nrm;
  *scale_out = scale;
  if (!J->jac) return 0;
  for (int k = 0; k < nk; k++) r[k] = -r[k];
  if (fv_tridiag_solve(nk, a, b, c, r, w)) return 1;
  memcpy(D, r, sizeof(double) * nk);
  return 0;
}

/* Lines of a sweep.  Along x a line is contiguous and is solved in place;
** along y its cells are n0 apart, so FV_BLOCK neighbouring lines are
** gathered together (each cache line read once for all of them), solved
** as contiguous lines, and scattered back: the same arithmetic, so the
** same bits. */
static void line_body(void *ctx, long lo, long hi, int thread) {
  line_job *J = ctx;
  fv_solver *s = J->s;
  const sweep_geom *g = &J->g;
  int nk = g->nk, st = g->stride, n = s->maxn;
  double *tri = s->scratch + (size_t)thread * (5 + 5 * FV_BLOCK) * n, *gat = tri + 5 * n;
  const double *rho = J->rho;
  for (long l0 = lo; l0 < hi; l0 += FV_BLOCK) {
    int nb = hi - l0 < FV_BLOCK ? (int)(hi - l0) : FV_BLOCK;
    if (st == 1) {
      for (int q = 0; q < nb; q++) {
        long l = l0 + q;
        int base = line_base(s, g, (int)l);
        if (line_solve(s, J, nk, s->gface[g->d] + (size_t)l * (nk - 1), rho + base, s->rstar + base, s->xi + base,
                       s->R + base, J->delta + base, tri, &s->lnorm[l], &s->lscale[l]))
          __atomic_store_n(&J->fail, 1, __ATOMIC_RELAXED);
      }
      continue;
    }
    /* gathered lines q: rho, rstar, xi, R, delta at gat + (5 q + 0..4) n */
    for (int k = 0; k < nk; k++)
      for (int q = 0; q < nb; q++) {
        size_t ck = (size_t)line_base(s, g, (int)(l0 + q)) + (size_t)k * st;
        double *G = gat + (size_t)5 * q * n;
        G[k] = rho[ck];
        G[n + k] = s->rstar[ck];
        G[2 * n + k] = s->xi[ck];
      }
    int failed[FV_BLOCK];
    for (int q = 0; q < nb; q++) {
      long l = l0 + q;
      double *G = gat + (size_t)5 * q * n;
      failed[q] = line_solve(s, J, nk, s->gface[g->d] + (size_t)l * (nk - 1), G, G + n, G + 2 * n, G + 3 * n,
                             G + 4 * n, tri, &s->lnorm[l], &s->lscale[l]);
      if (failed[q]) __atomic_store_n(&J->fail, 1, __ATOMIC_RELAXED);
    }
    for (int k = 0; k < nk; k++)
      for (int q = 0; q < nb; q++) {
        size_t ck = (size_t)line_base(s, g, (int)(l0 + q)) + (size_t)k * st;
        const double *G = gat + (size_t)5 * q * n;
        s->R[ck] = G[3 * n + k];
        if (J->jac && !failed[q]) J->delta[ck] = G[4 * n + k];
      }
  }
}

/* Residual (and, if jac, the Newton step into delta) at rho; returns
** ||R||_1 (-1 if not finite) and the rounding scale in *scale; *jac_failed:
** a line's Jacobian was singular (the step is then undefined). */
static double residual(fv_solver *s, const sweep_geom *g, double lam, const double *rho, int jac, double *delta,
                       double *scale, double floor, int *jac_failed) {
  compute_xi(s, rho);
  line_job J = { s, *g, lam, rho, jac, delta, 0, floor };
  pool_run(s->nt, g->nlines, 0, line_body, &J);
  double n = 0, sc = 0;
  for (int l = 0; l < g->nlines; l++) n += s->lnorm[l], sc += s->lscale[l];
  *scale = sc;
  *jac_failed = J.fail;
  return isfinite(n) ? n : -1;
}

/* The trial point rho + alpha delta, kept positive (T > 0: a decrease of
** more than half is taken multiplicatively, rho exp(alpha delta / rho)) or
** nonnegative (T = 0: clipped at 0).  Returns the total departure from the
** plain additive step, whose increments sum to minus the residuals (so the
** mass it changes by is what the trial departs from it). */
static double make_trial(fv_solver *s, double alpha) {
  double off = 0;
  for (int c = 0; c < s->N; c++) {
    double r = s->rho[c], d = alpha * s->delta[c], v = r + d;
    if (s->p.T > 0) {
      if (d < -0.5 * r) v = r * exp(fmax(d / r, -700.0));
    } else if (v < 0)
      v = 0;
    off += fabs(v - (r + d));
    s->trial[c] = v;
  }
  return off;
}

/* One implicit sweep of size dt along d from s->rho.  0: converged, 1: Newton
** failed (rho undefined, caller restores). */
static int sweep(fv_solver *s, int d, double dt) {
  sweep_geom g = geom(s, d);
  double lam = dt / s->h[d];
  memcpy(s->rstar, s->rho, sizeof(double) * s->N);
  double rmax = 0, rsum = 0;
  for (int c = 0; c < s->N; c++) rmax = fmax(rmax, s->rho[c]), rsum += s->rho[c];
  double floor = 1e-12 * rmax;
  s->st.sweeps++;
  /* The residual of an accepted trial point is the next iteration's, so the
  ** trials are evaluated with their Newton step (into delta2, swapped in on
  ** acceptance): one residual evaluation per iteration when the full step is
  ** taken, and the same numbers as evaluating it again. */
  double scale;
  int jfail;
  double nrm = residual(s, &g, lam, s->rho, 1, s->delta, &scale, floor, &jfail);
  if (jfail) nrm = -1;
  for (int it = 0; it < s->o.max_newton; it++) {
    s->st.newton++;
    if (nrm < 0) return 1;
    double dmax = 0;
    for (int c = 0; c < s->N; c++) dmax = fmax(dmax, fabs(s->delta[c]));
    double alpha = 1, tn = -1, off = 0;
    int ok = 0, tfail = 0;
    for (int ls = 0; ls < 40; ls++, alpha *= 0.5) {
      off = make_trial(s, alpha);
      double tscale;
      tn = residual(s, &g, lam, s->trial, 1, s->delta2, &tscale, floor, &tfail);
      /* rounding floor of ||R||_1: the residual's terms are ~ scale */
      if (tn >= 0 && (tn < nrm || tn <= 1e-13 * tscale)) {
        ok = 1;
        break;
      }
    }
    if (!ok) return 1;
    double *tmp = s->rho;
    s->rho = s->trial;
    s->trial = tmp;
    tmp = s->delta;
    s->delta = s->delta2;
    s->delta2 = tmp;
    /* done after a full, (all but 1e-15 of the mass) additive step that
    ** moved no cell by more than tol * max rho */
    if (alpha == 1 && off <= 1e-15 * rsum && dmax <= s->o.tol * rmax) return 0;
    rmax = 0;
    for (int c = 0; c < s->N; c++) rmax = fmax(rmax, s->rho[c]);
    nrm = tfail ? -1 : tn;
  }
  return 1;
}

/* A sweep of dt, split into halves (recursively) when Newton fails. */
static int sweep_split(fv_solver *s, int d, double dt, int depth) {
  memcpy(s->save, s->rho, sizeof(double) * s->N);
  if (!sweep(s, d, dt)) return 0;
  memcpy(s->rho, s->save, sizeof(double) * s->N);
  if (depth >= s->o.max_halvings) return 1;
  s->st.halvings++;
  /* save is reused by the recursion: the halves restart from rho */
  if (sweep_split(s, d, 0.5 * dt, depth + 1)) return 1;
  return sweep_split(s, d, 0.5 * dt, depth + 1);
}

int fv_step(fv_solver *s, double dt, char *msg, size_t len) {
  if (!(dt > 0) || !isfinite(dt)) {
    flow_msg(msg, len, "fv: the time step must be positive and finite (got %g)", dt);
    return 2;
  }
  double *before = malloc(sizeof(double) * s->N);
  if (!before) {
    flow_msg(msg, len, "fv: out of memory");
    return 3;
  }
  memcpy(before, s->rho, sizeof(double) * s->N);
  int dim = s->p.grid.dim;
  for (int q = 0; q < dim; q++) {
    int d = (s->parity & 1) ? dim - 1 - q : q;
    if (sweep_split(s, d, dt, 0)) {
      memcpy(s->rho, before, sizeof(double) * s->N);
      free(before);
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
      free(before);
      return 3;
    }
  free(before);
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
  double **arrs[] = { &s->rho, &s->rstar, &s->xi, &s->conv, &s->R, &s->delta, &s->delta2, &s->trial, &s->save, &s->Vt };
  int bad = 0;
  for (size_t k = 0; k < sizeof arrs / sizeof *arrs; k++) bad |= !(*arrs[k] = calloc(N, sizeof(double)));
  if (p->W.fn) bad |= !(s->Wt = malloc(sizeof(double) * (2 * n0 - 1) * (size_t)(2 * n1 - 1)));
  for (int d = 0; d < g->dim; d++) bad |= !(s->gface[d] = malloc(sizeof(double) * (N / s->p.grid.n[d]) * (s->p.grid.n[d] - 1)));
  bad |= !(s->lnorm = malloc(sizeof(double) * N)) | !(s->lscale = malloc(sizeof(double) * N));
  bad |= !(s->scratch = malloc(sizeof(double) * (5 + 5 * FV_BLOCK) * (size_t)s->maxn * s->nt));
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
  double *arrs[] = { s->rho, s->rstar, s->xi, s->conv, s->R, s->delta, s->delta2, s->trial, s->save, s->Vt, s->Wt,
                     s->gface[0], s->gface[1], s->lnorm, s->lscale, s->scratch };
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
