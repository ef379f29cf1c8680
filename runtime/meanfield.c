/*
** meanfield.c — energy, velocities and time steps of a two-layer network
** in mean-field scaling (see meanfield.h for the equations).
**
** Each pass runs over blocks of MF_BLOCK neurons on the pool's threads:
** the forward pass writes one partial sum per (block, data point), added
** in block order afterwards; the backward pass writes the velocities of
** its own neurons.  No result depends on the thread count.  In an MPI job
** (par.h) each process runs its share of the blocks and the passes' outputs
** (partial sums, velocities, per-block sums and failure flags) are gathered,
** so every process adds the same numbers in the same order.
**
** The fused kernels hold a block in structure-of-arrays form (c, b and the
** rows of w across the block), so the loops over the block's neurons are
** straight vector code; the pre-activations u = <w, x_k> + b of a block are
** recomputed in the backward pass rather than stored (n x m doubles would
** not fit in cache at the sizes that matter).  Sums over a block's neurons
** go through eight fixed lanes, so they vectorize without reassociating.
** ReLU and tanh units have kernels taking four data points at a time in
** registers (ReLU: 2x less CPU than the one-point loops at d = 10, tanh:
** 1.3x); the one-point loops remain for a unit's own activation.  The ReLU
** forward pass instead puts eight data points in the lanes and adds the
** block's neurons in the same tree order (relu_forward8).  A block is
** gathered into SoA form once per evaluation, by the forward pass.
**
** Bits: the kernels are compiled once per instruction set (target_clones)
** and GCC contracts a * b + c into an FMA there, so every change to them
** is checked against the previous build's bytes (mf_bench prints a hash of
** the weights; the 004 example's files); the code outside the clones is
** baseline x86-64, without FMA.
*/
#include "meanfield.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastexp.h"
#include "par.h"
#include "pool.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(HNN_NO_CLONES)
#define MF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MF_CLONES
#endif

#define B MF_BLOCK

/* The fused ReLU kernels do ~2 10^4 multiply-adds a microsecond on one
** core (width 1000, 50 points, d = 1: a pass of ~8 us), and handing a
** pass to a second thread costs its wake-up and a barrier (~1-2 us on an
** idle machine; on a loaded one a worker that is not running costs a
** time slice, and spinning workers take CPU from the other processes).
** So a pass gets a second thread only from ~20 us of work a thread:
** 004's width-1000 network (1.5 10^5 a pass) runs on one. */
#define MF_WORK_PER_THREAD 4e5

struct mf_ws {
  mf_problem P;
  long m, nblocks;
  int nt;
  size_t nwork;               /* callback workspace per thread */
  long n8;                    /* n rounded up to whole groups of 8 points */
  double *partial;            /* nblocks x n8 forward partial sums */
  double *xt;                 /* ReLU: the inputs by groups of 8 points, coordinate-major within a group */
  double *blocks;             /* fused: every block in SoA form (W: d x B, b, c), gathered once per mf_eval */
  double *f, *r;              /* predictions; residuals / n */
  double rsum;                /* sum of r */
  double *blockv;             /* per block: sum |v_i|^2 */
  int *fail;                  /* per block: 0, 1 + the failing neuron's index, or -1 (fused: the block) */
  double *scratch;            /* per thread: the block in SoA form and its sums */
  size_t scratch_len;
  const double *xi;           /* the pass's arguments */
  double *vel;
};

/* tanh through the vectorized exp: (1 - e)/(1 + e) with e = exp(-2|u|) in
** [0, 1], so no overflow; absolute error below 1e-15 (the exp's 5e-16
** relative error and three roundings). */
static inline double mf_tanh(double u) {
  double e = hnn_fexp(-2 * fabs(u));
  double t = (1 - e) / (1 + e);
  return copysign(t, u);
}

/* ------------------------------------------------------------ fused kernels */

/* u[j] = b[j] + sum_l W[l][j] x[l] over the block. */
static inline void preact(int d, const double *restrict xk, const double *restrict W, const double *restrict b,
                          double *restrict u) {
#pragma omp simd
  for (int j = 0; j < B; j++) u[j] = b[j];
  for (int l = 0; l < d; l++) {
    double xl = xk[l];
    const double *restrict Wl = W + (size_t)l * B;
#pragma omp simd
    for (int j = 0; j < B; j++) u[j] += Wl[j] * xl;
  }
}

static inline double lanes8(const double *a) {
  return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* ReLU and tanh blocks, four data points at a time: a block of 8 neurons
** is one vector of GCC's generic type (one AVX-512 register, two AVX2
** ones), the four pre-activation sums and the block's gradient sums stay
** in registers, every weight load serves four multiply-adds and every
** gradient row is loaded and stored once per four points. */
typedef double v8d __attribute__((vector_size(64), aligned(8)));
typedef long long v8l __attribute__((vector_size(64), aligned(8)));
#define V8(a) ((v8d){ a, a, a, a, a, a, a, a })
#define LD(p) (*(const v8d *)(p))
#define ST(p, v) (*(v8d *)(p) = (v))
#define RELU(u) ((v8d)((v8l)(u) & ((u) > V8(0.0))))
#define MASK(v, u) ((v8d)((v8l)(v) & ((u) > V8(0.0))))
/* two lanes: the width of the baseline code outside the clones */
typedef double v2d __attribute__((vector_size(16), aligned(8)));
#define LD2(p) (*(const v2d *)(p))
#define ST2(p, v) (*(v2d *)(p) = (v))

/* by address: a vector argument would change the ABI between the clones */
static inline __attribute__((always_inline)) double hsum8(const v8d *v) {
  const v8d a = *v;
  return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* a = tanh(u) lane by lane (the runtime's exp: no libm call) */
static inline __attribute__((always_inline)) void vtanh(const v8d *u, v8d *a) {
  double t[8];
  for (int q = 0; q < 8; q++) t[q] = mf_tanh((*u)[q]);
  *a = LD(t);
}
/* the unit's activation and, given it, r c s'(u) */
#define ACT(a, u) (th ? vtanh(&(u), &(a)) : (void)((a) = RELU(u)))
#define TDS(r, a, u) (th ? (r) * cc * (V8(1.0) - (a) * (a)) : MASK((r) * cc, u))

MF_CLONES static void unit_forward4(int th, int d, long n, const double *restrict x, const double *restrict W,
                                    const double *restrict b, const double *restrict c, double *restrict out) {
  v8d bb = LD(b), cc = LD(c);
  long k = 0;
  for (; k + 4 <= n; k += 4) {
    const double *x0 = x + (size_t)k * d;
    v8d u0 = bb, u1 = bb, u2 = bb, u3 = bb, a0, a1, a2, a3;
    for (int l = 0; l < d; l++) {
      v8d w = LD(W + (size_t)l * B);
      u0 += w * V8(x0[l]), u1 += w * V8(x0[d + l]), u2 += w * V8(x0[2 * d + l]), u3 += w * V8(x0[3 * d + l]);
    }
    ACT(a0, u0), ACT(a1, u1), ACT(a2, u2), ACT(a3, u3);
    v8d p0 = cc * a0, p1 = cc * a1, p2 = cc * a2, p3 = cc * a3;
    out[k] = hsum8(&p0), out[k + 1] = hsum8(&p1), out[k + 2] = hsum8(&p2), out[k + 3] = hsum8(&p3);
  }
  for (; k < n; k++) {
    const double *x0 = x + (size_t)k * d;
    v8d u0 = bb, a0;
    for (int l = 0; l < d; l++) u0 += LD(W + (size_t)l * B) * V8(x0[l]);
    ACT(a0, u0);
    v8d p0 = cc * a0;
    out[k] = hsum8(&p0);
  }
}

/* ReLU forward with the data points in the lanes: for each group of 8
** points, the block's 8 neurons one after the other (weights broadcast),
** and the tree ((P0 + P4) + (P1 + P5)) + ((P2 + P6) + (P3 + P7)) over
** neurons, the order hsum8 adds a block's lanes in, so the bits are
** unit_forward4's.  A product enters the tree only through the ReLU mask,
** so it is never contracted with an add into an FMA that would round
** differently (c relu(u) and (c u) & [u > 0] differ at most in the sign of
** a zero, which the sum over blocks from +0 removes).  No horizontal sums:
** 2x fewer instructions than unit_forward4 at d = 1.  add: the block's
** additive term, added last as forward_body did. */
static inline __attribute__((always_inline)) void
relu_forward8_body(int d, long ngroups, const double *restrict xt, const double *restrict W, const double *restrict b,
                   const double *restrict c, int has_add, double add, double *restrict out) {
  for (long g = 0; g < ngroups; g++) {
    const double *xg = xt + (size_t)g * d * B;
    v8d P[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
      v8d u = V8(b[j]);
      for (int l = 0; l < d; l++) u += V8(W[(size_t)l * B + j]) * LD(xg + (size_t)l * B);
      P[j] = MASK(V8(c[j]) * u, u);
    }
    v8d s = ((P[0] + P[4]) + (P[1] + P[5])) + ((P[2] + P[6]) + (P[3] + P[7]));
    if (has_add) s += V8(add);
    ST(out + (size_t)g * B, s);
  }
}

MF_CLONES static void relu_forward8(int d, long ngroups, const double *restrict xt, const double *restrict W,
                                    const double *restrict b, const double *restrict c, int has_add, double add,
                                    double *restrict out) {
  if (d == 1) relu_forward8_body(1, ngroups, xt, W, b, c, has_add, add, out);
  else relu_forward8_body(d, ngroups, xt, W, b, c, has_add, add, out);
}

static inline __attribute__((always_inline)) void
backward4_body(int th, int d, long n, const double *restrict x, const double *restrict r, const double *restrict W,
               const double *restrict b, const double *restrict c, double *restrict gc, double *restrict gW,
               double *restrict gb) {
  v8d bb = LD(b), cc = LD(c), sc = V8(0.0), sb = V8(0.0);
  for (int j = 0; j < B * d; j++) gW[j] = 0;
  long k = 0;
  for (; k + 4 <= n; k += 4) {
    const double *x0 = x + (size_t)k * d;
    v8d u0 = bb, u1 = bb, u2 = bb, u3 = bb, a0, a1, a2, a3;
    for (int l = 0; l < d; l++) {
      v8d w = LD(W + (size_t)l * B);
      u0 += w * V8(x0[l]), u1 += w * V8(x0[d + l]), u2 += w * V8(x0[2 * d + l]), u3 += w * V8(x0[3 * d + l]);
    }
    ACT(a0, u0), ACT(a1, u1), ACT(a2, u2), ACT(a3, u3);
    v8d r0 = V8(r[k]), r1 = V8(r[k + 1]), r2 = V8(r[k + 2]), r3 = V8(r[k + 3]);
    v8d t0 = TDS(r0, a0, u0), t1 = TDS(r1, a1, u1), t2 = TDS(r2, a2, u2), t3 = TDS(r3, a3, u3);
    sc += (r0 * a0 + r1 * a1) + (r2 * a2 + r3 * a3);
    sb += (t0 + t1) + (t2 + t3);
    for (int l = 0; l < d; l++) {
      double *g = gW + (size_t)l * B;
      ST(g, LD(g) + ((t0 * V8(x0[l]) + t1 * V8(x0[d + l])) + (t2 * V8(x0[2 * d + l]) + t3 * V8(x0[3 * d + l]))));
    }
  }
  for (; k < n; k++) {
    const double *x0 = x + (size_t)k * d;
    v8d u0 = bb, a0;
    for (int l = 0; l < d; l++) u0 += LD(W + (size_t)l * B) * V8(x0[l]);
    ACT(a0, u0);
    v8d r0 = V8(r[k]), t0 = TDS(r0, a0, u0);
    sc += r0 * a0;
    sb += t0;
    for (int l = 0; l < d; l++) {
      double *g = gW + (size_t)l * B;
      ST(g, LD(g) + t0 * V8(x0[l]));
    }
  }
  ST(gc, sc);
  ST(gb, sb);
}

/* The body with the activation and, at d = 1 (004's scalar inputs), the
** input size as constants: the gradient row then stays in a register. */
MF_CLONES static void unit_backward4(int th, int d, long n, const double *restrict x, const double *restrict r,
                                     const double *restrict W, const double *restrict b, const double *restrict c,
                                     double *restrict gc, double *restrict gW, double *restrict gb) {
  if (th) backward4_body(1, d, n, x, r, W, b, c, gc, gW, gb);
  else if (d == 1) backward4_body(0, 1, n, x, r, W, b, c, gc, gW, gb);
  else backward4_body(0, d, n, x, r, W, b, c, gc, gW, gb);
}

/* out[k] = sum_j c[j] s(u_kj) for every data point. */
MF_CLONES static void fused_forward(int relu, int d, long n, const double *restrict x, const double *restrict W,
                                    const double *restrict b, const double *restrict c, double *restrict u,
                                    double *restrict out, const flow_fn *act2, double *cws, int *bad) {
  for (long k = 0; k < n; k++) {
    preact(d, x + (size_t)k * d, W, b, u);
    double acc[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    if (act2) {
      double sd[2];
      for (int j = 0; j < B; j++) {
        *bad |= act2->fn(u + j, NULL, sd, cws) != 0;
        acc[j % 8] += c[j] * sd[0];
      }
    } else if (relu) {
      for (int j = 0; j < B; j += 8)
        for (int q = 0; q < 8; q++) acc[q] += c[j + q] * (u[j + q] > 0 ? u[j + q] : 0);
    } else {
      for (int j = 0; j < B; j += 8)
        for (int q = 0; q < 8; q++) acc[q] += c[j + q] * mf_tanh(u[j + q]);
    }
    out[k] = lanes8(acc);
  }
}

/* The block's sums over data points of r_k times the derivatives of
** c s(<w, x_k> + b) in c, w and b (gc, gW as d rows across the block, gb). */
MF_CLONES static void fused_backward(int relu, int d, long n, const double *restrict x, const double *restrict r,
                                     const double *restrict W, const double *restrict b, const double *restrict c,
                                     double *restrict u, double *restrict t, double *restrict gc,
                                     double *restrict gW, double *restrict gb, const flow_fn *act2, double *cws,
                                     int *bad) {
  for (int j = 0; j < B; j++) gc[j] = gb[j] = 0;
  for (int j = 0; j < B * d; j++) gW[j] = 0;
  for (long k = 0; k < n; k++) {
    const double *xk = x + (size_t)k * d;
    double rk = r[k];
    preact(d, xk, W, b, u);
    if (act2) {
      double sd[2];
      for (int j = 0; j < B; j++) {
        *bad |= act2->fn(u + j, NULL, sd, cws) != 0;
        gc[j] += rk * sd[0];
        t[j] = rk * c[j] * sd[1];
        gb[j] += t[j];
      }
    } else if (relu) {
#pragma omp simd
      for (int j = 0; j < B; j++) {
        double a = u[j] > 0 ? u[j] : 0, on = u[j] > 0 ? 1.0 : 0.0;
        gc[j] += rk * a;
        t[j] = on * (rk * c[j]);
        gb[j] += t[j];
      }
    } else {
#pragma omp simd
      for (int j = 0; j < B; j++) {
        double a = mf_tanh(u[j]);
        gc[j] += rk * a;
        t[j] = rk * c[j] * (1 - a * a);
        gb[j] += t[j];
      }
    }
    for (int l = 0; l < d; l++) {
      double xl = xk[l];
      double *restrict g = gW + (size_t)l * B;
#pragma omp simd
      for (int j = 0; j < B; j++) g[j] += t[j] * xl;
    }
  }
}

/* A block's neurons in SoA form (W, b, c: its slot of w->blocks) and the
** thread's scratch: gW (d x B), u, t, gc, gb, and the workspace of a unit's
** own activation. */
typedef struct soa {
  double *W, *gW, *c, *b, *u, *t, *gc, *gb, *cws;
} soa;

static soa soa_at(const mf_ws *w, int thread) {
  soa s;
  int d = w->P.d;
  double *base = w->scratch + (size_t)thread * w->scratch_len;
  s.W = s.b = s.c = NULL;
  s.gW = base;
  s.u = s.gW + (size_t)d * B;
  s.t = s.u + B;
  s.gc = s.t + B;
  s.gb = s.gc + B;
  s.cws = s.gb + B;
  return s;
}

static void soa_block(const mf_ws *w, long blk, soa *s) {
  int d = w->P.d;
  s->W = w->blocks + (size_t)blk * (d + 2) * B;
  s->b = s->W + (size_t)d * B;
  s->c = s->b + B;
}

/* Neurons of a block into SoA form; missing neurons (past m) are zero, so
** they add c s(0) = 0 to every sum. */
static void gather(const mf_ws *w, long blk, soa *s) {
  const mf_unit *U = &w->P.unit;
  int p = w->P.p, d = w->P.d;
  long i0 = blk * B;
  const double *x0 = w->xi + (size_t)i0 * p;
  if (i0 + B <= w->m) {   /* a whole block: the common case, without the tests per neuron */
    if (U->c >= 0)
      for (int j = 0; j < B; j++) s->c[j] = U->cs * x0[(size_t)j * p + U->c];
    else
      for (int j = 0; j < B; j++) s->c[j] = U->cs;
    if (U->b >= 0)
      for (int j = 0; j < B; j++) s->b[j] = x0[(size_t)j * p + U->b];
    else
      for (int j = 0; j < B; j++) s->b[j] = 0;
    for (int l = 0; l < d; l++)
      for (int j = 0; j < B; j++) s->W[(size_t)l * B + j] = x0[(size_t)j * p + U->w + l];
    return;
  }
  for (int j = 0; j < B; j++) {
    long i = i0 + j;
    const double *xi = i < w->m ? w->xi + (size_t)i * p : NULL;
    s->c[j] = !xi ? 0 : U->c >= 0 ? U->cs * xi[U->c] : U->cs;
    s->b[j] = !xi || U->b < 0 ? 0 : xi[U->b];
    for (int l = 0; l < d; l++) s->W[(size_t)l * B + j] = xi ? xi[U->w + l] : 0;
  }
}

/* ------------------------------------------------------------ passes */

static void forward_body(void *ctx, long lo, long hi, int thread) {
  mf_ws *w = ctx;
  const mf_problem *P = &w->P;
  long n = P->n;
  int p = P->p, d = P->d;
  for (long blk = lo; blk < hi; blk++) {
    double *out = w->partial + (size_t)blk * w->n8;
    if (P->unit.act != MF_GENERIC) {
      soa s = soa_at(w, thread);
      soa_block(w, blk, &s);
      gather(w, blk, &s);
      if (P->unit.act == MF_RELU) {   /* mf_eval checks the sums (and finds a bad block) */
        /* c s(u) with c not finite is not finite at any point (inf 0 = NaN),
        ** but the masked product of relu_forward8 is 0 where u <= 0 */
        int badc = 0;
        for (int j = 0; j < B; j++) badc |= !isfinite(s.c[j]);
        if (badc) w->fail[blk] = -1;
        double add = 0;
        if (P->unit.e >= 0) {
          long i1 = (blk + 1) * B < w->m ? (blk + 1) * B : w->m;
          for (long i = blk * B; i < i1; i++) add += P->unit.es * w->xi[(size_t)i * p + P->unit.e];
        }
        relu_forward8(d, w->n8 / B, w->xt, s.W, s.b, s.c, P->unit.e >= 0, add, out);
        continue;
      }
      int bad = 0;
      if (P->unit.act != MF_CUSTOM) unit_forward4(P->unit.act == MF_TANH, d, n, P->x, s.W, s.b, s.c, out);
      else fused_forward(P->unit.act == MF_RELU, d, n, P->x, s.W, s.b, s.c, s.u, out,
                    P->unit.act == MF_CUSTOM ? &P->act2 : NULL, s.cws, &bad);
      for (long k = 0; k < n && !bad; k++) bad = !isfinite(out[k]);
      if (bad) w->fail[blk] = -1;
      if (P->unit.e >= 0) {   /* the additive term does not depend on z */
        double add = 0;
        long i1 = (blk + 1) * B < w->m ? (blk + 1) * B : w->m;
        for (long i = blk * B; i < i1; i++) add += P->unit.es * w->xi[(size_t)i * p + P->unit.e];
        for (long k = 0; k < n; k++) out[k] += add;
      }
      continue;
    }
    double *in = w->scratch + (size_t)thread * w->scratch_len;
    double *cws = in + p + d + p + d;
    memset(out, 0, (size_t)n * sizeof *out);
    long i1 = (blk + 1) * B < w->m ? (blk + 1) * B : w->m;
    for (long i = blk * B; i < i1 && !w->fail[blk]; i++) {
      memcpy(in, w->xi + (size_t)i * p, (size_t)p * sizeof *in);
      for (long k = 0; k < n; k++) {
        double v = NAN;
        memcpy(in + p, P->x + (size_t)k * d, (size_t)d * sizeof *in);
        if (P->phi.fn(in, NULL, &v, cws) || !isfinite(v)) {
          w->fail[blk] = (int)(1 + i - blk * B);
          break;
        }
        out[k] += v;
      }
    }
  }
}

/* blockv[blk] = sum |v_i|^2 over the block's neurons, in memory order (one
** rounding chain per block, so the bits do not depend on the threads);
** eight blocks at a time, whose chains are independent, so the adds
** overlap instead of waiting for each other. */
static void block_squares(mf_ws *w, long lo, long hi) {
  int p = w->P.p;
  size_t L = (size_t)B * p;
  long blk = lo;
  for (; blk + 8 <= hi && (blk + 8) * B <= w->m; blk += 8) {
    const double *v = w->vel + (size_t)blk * L;
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;   /* registers, not an array */
    for (size_t q = 0; q < L; q++) {
      double x0 = v[q], x1 = v[L + q], x2 = v[2 * L + q], x3 = v[3 * L + q];
      double x4 = v[4 * L + q], x5 = v[5 * L + q], x6 = v[6 * L + q], x7 = v[7 * L + q];
      a0 += x0 * x0, a1 += x1 * x1, a2 += x2 * x2, a3 += x3 * x3;
      a4 += x4 * x4, a5 += x5 * x5, a6 += x6 * x6, a7 += x7 * x7;
    }
    double *bv = w->blockv + blk;
    bv[0] = a0, bv[1] = a1, bv[2] = a2, bv[3] = a3, bv[4] = a4, bv[5] = a5, bv[6] = a6, bv[7] = a7;
  }
  for (; blk < hi; blk++) {
    long i1 = (blk + 1) * B < w->m ? (blk + 1) * B : w->m;
    const double *v = w->vel + (size_t)blk * L, *end = w->vel + (size_t)i1 * p;
    double s2 = 0;
    for (; v < end; v++) s2 += *v * *v;
    w->blockv[blk] = s2;
  }
}

static void backward_body(void *ctx, long lo, long hi, int thread) {
  mf_ws *w = ctx;
  const mf_problem *P = &w->P;
  const mf_unit *U = &P->unit;
  long n = P->n;
  int p = P->p, d = P->d;
  for (long blk = lo; blk < hi; blk++) {
    long i0 = blk * B, i1 = (blk + 1) * B < w->m ? (blk + 1) * B : w->m;
    double *restrict vb = w->vel + (size_t)i0 * p, ml = -P->lambda;
    const double *restrict xb = w->xi + (size_t)i0 * p;
#pragma omp simd
    for (long q = 0; q < (i1 - i0) * p; q++) vb[q] = ml * xb[q];
    if (U->act != MF_GENERIC) {
      soa s = soa_at(w, thread);
      soa_block(w, blk, &s);   /* gathered by the forward pass */
      int bad = 0;
      if (U->act != MF_CUSTOM) unit_backward4(U->act == MF_TANH, d, n, P->x, w->r, s.W, s.b, s.c, s.gc, s.gW, s.gb);
      else fused_backward(U->act == MF_RELU, d, n, P->x, w->r, s.W, s.b, s.c, s.u, s.t, s.gc, s.gW, s.gb,
                     U->act == MF_CUSTOM ? &P->act2 : NULL, s.cws, &bad);
      if (bad) w->fail[blk] = -1;
      for (long i = i0; i < i1; i++) {
        int j = (int)(i - i0);
        double *v = w->vel + (size_t)i * p;
        if (U->c >= 0) v[U->c] -= U->cs * s.gc[j];
        if (U->e >= 0) v[U->e] -= U->es * w->rsum;
        if (U->b >= 0) v[U->b] -= s.gb[j];
        for (int l = 0; l < d; l++) v[U->w + l] -= s.gW[(size_t)l * B + j];
      }
    } else {
      double *in = w->scratch + (size_t)thread * w->scratch_len;
      double *g = in + p + d, *cws = g + p + d;
      for (long i = i0; i < i1 && !w->fail[blk]; i++) {
        double *v = w->vel + (size_t)i * p;
        memcpy(in, w->xi + (size_t)i * p, (size_t)p * sizeof *in);
        for (long k = 0; k < n; k++) {
          memcpy(in + p, P->x + (size_t)k * d, (size_t)d * sizeof *in);
          if (P->dphi.fn(in, NULL, g, cws)) {
            w->fail[blk] = (int)(1 + i - i0);
            break;
          }
          for (int q = 0; q < p; q++) v[q] -= w->r[k] * g[q];
        }
      }
    }
  }
  block_squares(w, lo, hi);
}

/* ------------------------------------------------------------ workspace */

static size_t scratch_len(const mf_problem *P) {
  size_t fused = (size_t)P->d * B + 4 * B + P->act2.nwork + 1;
  size_t generic = (size_t)2 * (P->p + P->d) + P->phi.nwork + P->dphi.nwork + 1;
  return fused > generic ? fused : generic;
}

static int threads_of(const mf_problem *P) {
  return P->threads > 0 ? P->threads : pool_max_threads();
}

double mf_ws_bytes(const mf_problem *P, long m) {
  double nb = (double)((m + B - 1) / B), n8 = (double)((P->n + B - 1) / B * B);
  return 8.0 * (nb * n8 + 2.0 * (double)P->n + nb + n8 * P->d + nb * (P->d + 2) * B) + 4.0 * nb +
         8.0 * (double)threads_of(P) * (double)scratch_len(P) + 1024;
}

mf_ws *mf_ws_alloc(const mf_problem *P, long m) {
  mf_ws *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->P = *P;
  w->m = m;
  w->nblocks = (m + B - 1) / B;
  /* automatic: a thread per MF_WORK_PER_THREAD multiply-adds of a pass at
  ** least; smaller passes run on one thread (the split into blocks, so
  ** the result, is the same) */
  double work = (double)m * (double)P->n * (P->d + 2);
  w->nt = threads_of(P);
  if (P->threads == 0 && work < MF_WORK_PER_THREAD * w->nt)
    w->nt = work < MF_WORK_PER_THREAD ? 1 : (int)(work / MF_WORK_PER_THREAD);
  w->scratch_len = scratch_len(P);
  w->n8 = (P->n + B - 1) / B * B;
  w->partial = calloc((size_t)w->nblocks * (size_t)w->n8, sizeof *w->partial);   /* the padding points stay 0 on the paths that skip them */
  w->xt = calloc((size_t)w->n8 * P->d, sizeof *w->xt);
  w->blocks = malloc((size_t)w->nblocks * (P->d + 2) * B * sizeof *w->blocks);
  w->f = malloc((size_t)w->n8 * sizeof *w->f);
  w->r = malloc((size_t)P->n * sizeof *w->r);
  w->blockv = malloc((size_t)w->nblocks * sizeof *w->blockv);
  w->fail = calloc((size_t)w->nblocks, sizeof *w->fail);
  w->scratch = calloc((size_t)w->nt * w->scratch_len, sizeof *w->scratch);
  if (!w->partial || !w->xt || !w->blocks || !w->f || !w->r || !w->blockv || !w->fail || !w->scratch) {
    mf_ws_free(w);
    return NULL;
  }
  return w;
}

void mf_ws_free(mf_ws *w) {
  if (!w) return;
  free(w->partial);
  free(w->xt);
  free(w->blocks);
  free(w->f);
  free(w->r);
  free(w->blockv);
  free(w->fail);
  free(w->scratch);
  free(w);
}

const double *mf_predictions(const mf_ws *w) {
  return w->f;
}

/* The first failed block's message. */
static int failed(const mf_ws *w, const char *what, char *msg, size_t msglen) {
  for (long b = 0; b < w->nblocks; b++)
    if (w->fail[b] < 0) {   /* a fused block: its activation or a sum */
      snprintf(msg, msglen, "the neuron's %s failed or is not finite in neurons %ld to %ld", what, b * B + 1,
               (b + 1) * B < w->m ? (b + 1) * B : w->m);
      return 1;
    } else if (w->fail[b]) {
      snprintf(msg, msglen, "the neuron's %s failed or is not finite at neuron %ld", what, b * B + w->fail[b]);
      return 1;
    }
  return 0;
}

/* Another loss than the square: the residuals r_k = l'(f_k, y_k)/n and
** the risk (1/n) sum_k l (the square's loop ran first; its r are replaced). */
static int loss_residuals(mf_ws *w, double *risk, char *msg, size_t msglen) {
  const mf_problem *P = &w->P;
  double sum = 0;
  if (P->loss(P->loss_ctx, P->n, w->f, P->y, w->r, &sum, msg, msglen)) return -1;
  for (long k = 0; k < P->n; k++) w->r[k] /= (double)P->n;
  *risk = sum / (double)P->n;
  return 0;
}

/* An extra energy term; the dissipation is summed again over the new
** velocities, per block and in block order as backward_body does. */
static int add_term(mf_ws *w, const double *xi, double *vel, mf_stats *st, char *msg, size_t msglen) {
  const mf_problem *P = &w->P;
  if (P->term(P->term_ctx, w->m, P->p, xi, vel, &st->energy, msg, msglen)) return -1;
  if (!vel) return 0;
  double s = 0;
  for (long b = 0; b < w->nblocks; b++) {
    double s2 = 0;
    long i1 = (b + 1) * B < w->m ? (b + 1) * B : w->m;
    for (size_t q = (size_t)b * B * P->p; q < (size_t)i1 * P->p; q++) s2 += vel[q] * vel[q];
    s += s2;
  }
  st->dissipation = s / (double)w->m;
  return 0;
}

/* Blocks [lo, hi) of a pass on the pool (tasks counted from lo). */
typedef struct {
  mf_ws *w;
  pool_body body;
  long lo;
} block_range;

static void range_body(void *ctx, long lo, long hi, int thread) {
  const block_range *r = ctx;
  r->body(r->w, r->lo + lo, r->lo + hi, thread);
}

static void run_blocks(mf_ws *w, pool_body body, long lo, long hi) {
  block_range r = { w, body, lo };
  if (hi > lo) pool_run(w->nt, hi - lo, 0, range_body, &r);
}

/* Every process's blocks into every process (the failure flags too). */
static int gather_blocks(mf_ws *w, double *rows, size_t rowlen, size_t total, char *msg, size_t msglen) {
  int rc = par_gather_upto(rows, w->nblocks, rowlen * sizeof *rows, total * sizeof *rows, 0, NULL, 0);
  if (!rc) rc = par_gather(w->fail, w->nblocks, sizeof *w->fail, 0, NULL, 0);
  if (rc) snprintf(msg, msglen, "another process of the MPI job failed");
  return rc;
}

int mf_eval(mf_ws *w, const double *xi, double *vel, mf_stats *st, char *msg, size_t msglen) {
  const mf_problem *P = &w->P;
  long n = P->n, m = w->m;
  w->xi = xi;
  w->vel = vel;
  memset(w->fail, 0, (size_t)w->nblocks * sizeof *w->fail);
  if (P->unit.act == MF_RELU) {   /* the inputs as relu_forward8 reads them (padding points: 0) */
    int d = P->d;
    for (long k = 0; k < n; k++)
      for (int l = 0; l < d; l++) w->xt[((size_t)(k / B) * d + l) * B + k % B] = P->x[(size_t)k * d + l];
  }
  long lo = 0, hi = w->nblocks;
  int split = par_active();
  if (split) par_share(w->nblocks, &lo, &hi);
  run_blocks(w, forward_body, lo, hi);
  if (split && gather_blocks(w, w->partial, (size_t)w->n8, (size_t)w->nblocks * w->n8, msg, msglen)) return -1;
  if (P->unit.act != MF_RELU && failed(w, "value", msg, msglen)) return -1;
  /* the sum over blocks in block order, point by point (vector code:
  ** the loop over points is the inner one) */
  double *f = w->f, notfinite = 0;
  for (long k0 = 0; k0 < w->n8; k0 += B) {   /* 8 points' sums in registers (f has n8 entries) */
    v2d a0 = { 0, 0 }, a1 = a0, a2 = a0, a3 = a0;
    const double *pb = w->partial + k0;
    for (long b = 0; b < w->nblocks; b++, pb += w->n8)
      a0 += LD2(pb), a1 += LD2(pb + 2), a2 += LD2(pb + 4), a3 += LD2(pb + 6);
    ST2(f + k0, a0), ST2(f + k0 + 2, a1), ST2(f + k0 + 4, a2), ST2(f + k0 + 6, a3);
  }
  if (P->unit.act == MF_RELU) {
    /* a sum that is not finite has a block that is not (or overflowed);
    ** the first bad block, as the per-block check of the other paths finds */
#pragma omp simd reduction(+ : notfinite)
    for (long k = 0; k < n; k++) notfinite += f[k] - f[k];
    int flagged = 0;
    for (long b = 0; b < w->nblocks; b++) flagged |= w->fail[b];
    if (notfinite != 0 || flagged)   /* notfinite: NaN */
      for (long b = 0; b < w->nblocks; b++) {
        int bad = w->fail[b] != 0;
        for (long k = 0; k < n && !bad; k++) bad = !isfinite(w->partial[(size_t)b * w->n8 + k]);
        if (bad) {
          memset(w->fail, 0, (size_t)w->nblocks * sizeof *w->fail);
          w->fail[b] = -1;
          failed(w, "value", msg, msglen);
          return -1;
        }
      }
  }
  double risk = 0;
  for (long k = 0; k < n; k++) {
    f[k] = f[k] / (double)m;
    double r = w->f[k] - P->y[k];
    risk += r * r;
    w->r[k] = r / (double)n;
  }
  risk /= 2.0 * (double)n;
  if (P->loss && loss_residuals(w, &risk, msg, msglen)) return -1;
  w->rsum = 0;
  for (long k = 0; k < n; k++) w->rsum += w->r[k];
  /* sum |xi|^2: one rounding chain, latency-bound; with lambda = 0 only
  ** whether it is finite matters (0 lambda v2 = 0 then, bit for bit) */
  double v2 = 0;
  if (P->lambda != 0) {
    for (size_t q = 0; q < (size_t)m * P->p; q++) v2 += xi[q] * xi[q];
  } else {
#pragma omp simd reduction(+ : v2)
    for (size_t q = 0; q < (size_t)m * P->p; q++) v2 += xi[q] - xi[q];   /* 0, or NaN */
  }
  st->risk = risk;
  st->energy = risk + 0.5 * P->lambda * v2 / (double)m;
  st->dissipation = NAN;
  if (vel) {
    run_blocks(w, backward_body, lo, hi);
    if (split) {
      if (gather_blocks(w, vel, (size_t)B * P->p, (size_t)m * P->p, msg, msglen)) return -1;
      if (par_gather(w->blockv, w->nblocks, sizeof *w->blockv, 0, NULL, 0)) {
        snprintf(msg, msglen, "another process of the MPI job failed");
        return -1;
      }
    }
    if (failed(w, "gradient", msg, msglen)) return -1;
    double s = 0;
    for (long b = 0; b < w->nblocks; b++) s += w->blockv[b];
    st->dissipation = s / (double)m;
  }
  if (P->term && add_term(w, xi, vel, st, msg, msglen)) return -1;
  if (!isfinite(st->energy) || (vel && !isfinite(st->dissipation))) {
    snprintf(msg, msglen, "the energy or its dissipation is not finite");
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ steppers */

void mf_step_euler(mf_ws *w, double *xi, double h, const double *vel) {
  size_t N = (size_t)w->m * w->P.p;
#pragma omp simd
  for (size_t q = 0; q < N; q++) xi[q] += h * vel[q];
}

int mf_step_rk4(mf_ws *w, double *xi, double h, const double *vel, double *k, char *msg, size_t msglen) {
  size_t N = (size_t)w->m * w->P.p;
  double *k2 = k, *k3 = k + N, *k4 = k + 2 * N, *xt = k + 3 * N;
  mf_stats s;
  for (size_t q = 0; q < N; q++) xt[q] = xi[q] + 0.5 * h * vel[q];
  if (mf_eval(w, xt, k2, &s, msg, msglen)) return -1;
  for (size_t q = 0; q < N; q++) xt[q] = xi[q] + 0.5 * h * k2[q];
  if (mf_eval(w, xt, k3, &s, msg, msglen)) return -1;
  for (size_t q = 0; q < N; q++) xt[q] = xi[q] + h * k3[q];
  if (mf_eval(w, xt, k4, &s, msg, msglen)) return -1;
  for (size_t q = 0; q < N; q++) xi[q] += h / 6 * (vel[q] + 2 * k2[q] + 2 * k3[q] + k4[q]);
  return 0;
}
