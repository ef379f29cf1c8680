/*
** meanfield.c — energy, velocities and time steps of a two-layer network
** in mean-field scaling (see meanfield.h for the equations).
**
** Each pass runs over blocks of MF_BLOCK neurons on the pool's threads:
** the forward pass writes one partial sum per (block, data point), added
** in block order afterwards; the backward pass writes the velocities of
** its own neurons.  No result depends on the thread count.
**
** The fused kernels hold a block in structure-of-arrays form (c, b and the
** rows of w across the block), so the loops over the block's neurons are
** straight vector code; the pre-activations u = <w, x_k> + b of a block are
** recomputed in the backward pass rather than stored (n x m doubles would
** not fit in cache at the sizes that matter).  Sums over a block's neurons
** go through eight fixed lanes, so they vectorize without reassociating.
** ReLU and tanh units have kernels taking four data points at a time in
** registers (ReLU: 2x less CPU than the one-point loops at d = 10, tanh:
** 1.3x); the one-point loops remain for a unit's own activation.
*/
#include "meanfield.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastexp.h"
#include "pool.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(HNN_NO_CLONES)
#define MF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MF_CLONES
#endif

#define B MF_BLOCK

struct mf_ws {
  mf_problem P;
  long m, nblocks;
  int nt;
  size_t nwork;               /* callback workspace per thread */
  double *partial;            /* nblocks x n forward partial sums */
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

MF_CLONES static void unit_backward4(int th, int d, long n, const double *restrict x, const double *restrict r,
                                     const double *restrict W, const double *restrict b, const double *restrict c,
                                     double *restrict gc, double *restrict gW, double *restrict gb) {
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

/* The thread's scratch: W, gW (d x B each), then c, b, u, t, gc, gb, and
** the workspace of a unit's own activation. */
typedef struct soa {
  double *W, *gW, *c, *b, *u, *t, *gc, *gb, *cws;
} soa;

static soa soa_at(const mf_ws *w, int thread) {
  soa s;
  int d = w->P.d;
  double *base = w->scratch + (size_t)thread * w->scratch_len;
  s.W = base;
  s.gW = s.W + (size_t)d * B;
  s.c = s.gW + (size_t)d * B;
  s.b = s.c + B;
  s.u = s.b + B;
  s.t = s.u + B;
  s.gc = s.t + B;
  s.gb = s.gc + B;
  s.cws = s.gb + B;
  return s;
}

/* Neurons of a block into SoA form; missing neurons (past m) are zero, so
** they add c s(0) = 0 to every sum. */
static void gather(const mf_ws *w, long blk, soa *s) {
  const mf_unit *U = &w->P.unit;
  int p = w->P.p, d = w->P.d;
  long i0 = blk * B;
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
    double *out = w->partial + (size_t)blk * n;
    if (P->unit.act != MF_GENERIC) {
      soa s = soa_at(w, thread);
      gather(w, blk, &s);
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

static void backward_body(void *ctx, long lo, long hi, int thread) {
  mf_ws *w = ctx;
  const mf_problem *P = &w->P;
  const mf_unit *U = &P->unit;
  long n = P->n;
  int p = P->p, d = P->d;
  for (long blk = lo; blk < hi; blk++) {
    long i0 = blk * B, i1 = (blk + 1) * B < w->m ? (blk + 1) * B : w->m;
    for (long i = i0; i < i1; i++)
      for (int q = 0; q < p; q++) w->vel[(size_t)i * p + q] = -P->lambda * w->xi[(size_t)i * p + q];
    if (U->act != MF_GENERIC) {
      soa s = soa_at(w, thread);
      gather(w, blk, &s);
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
    double s2 = 0;
    for (long i = i0; i < i1; i++)
      for (int q = 0; q < p; q++) s2 += w->vel[(size_t)i * p + q] * w->vel[(size_t)i * p + q];
    w->blockv[blk] = s2;
  }
}

/* ------------------------------------------------------------ workspace */

static size_t scratch_len(const mf_problem *P) {
  size_t fused = (size_t)2 * P->d * B + 6 * B + P->act2.nwork + 1;
  size_t generic = (size_t)2 * (P->p + P->d) + P->phi.nwork + P->dphi.nwork + 1;
  return fused > generic ? fused : generic;
}

static int threads_of(const mf_problem *P) {
  return P->threads > 0 ? P->threads : pool_max_threads();
}

double mf_ws_bytes(const mf_problem *P, long m) {
  double nb = (double)((m + B - 1) / B);
  return 8.0 * (nb * (double)P->n + 2.0 * (double)P->n + nb) + 4.0 * nb +
         8.0 * (double)threads_of(P) * (double)scratch_len(P) + 1024;
}

mf_ws *mf_ws_alloc(const mf_problem *P, long m) {
  mf_ws *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->P = *P;
  w->m = m;
  w->nblocks = (m + B - 1) / B;
  /* automatic: a thread per 5 10^4 multiply-adds of a pass at least (the
  ** workers spin between back-to-back passes, so a pass of ~20 us a thread
  ** still gains: 004's Experiment 2 at width 1000 and 50 points, 0.35 s ->
  ** 0.22 s on the loaded machine); smaller passes run on one thread */
  double work = (double)m * (double)P->n * (P->d + 2);
  w->nt = threads_of(P);
  if (P->threads == 0 && work < 5e4 * w->nt) w->nt = work < 5e4 ? 1 : (int)(work / 5e4);
  w->scratch_len = scratch_len(P);
  w->partial = malloc((size_t)w->nblocks * (size_t)P->n * sizeof *w->partial);
  w->f = malloc((size_t)P->n * sizeof *w->f);
  w->r = malloc((size_t)P->n * sizeof *w->r);
  w->blockv = malloc((size_t)w->nblocks * sizeof *w->blockv);
  w->fail = calloc((size_t)w->nblocks, sizeof *w->fail);
  w->scratch = calloc((size_t)w->nt * w->scratch_len, sizeof *w->scratch);
  if (!w->partial || !w->f || !w->r || !w->blockv || !w->fail || !w->scratch) {
    mf_ws_free(w);
    return NULL;
  }
  return w;
}

void mf_ws_free(mf_ws *w) {
  if (!w) return;
  free(w->partial);
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

int mf_eval(mf_ws *w, const double *xi, double *vel, mf_stats *st, char *msg, size_t msglen) {
  const mf_problem *P = &w->P;
  long n = P->n, m = w->m;
  w->xi = xi;
  w->vel = vel;
  memset(w->fail, 0, (size_t)w->nblocks * sizeof *w->fail);
  pool_run(w->nt, w->nblocks, 0, forward_body, w);
  if (failed(w, "value", msg, msglen)) return -1;
  double risk = 0;
  for (long k = 0; k < n; k++) {
    double s = 0;
    for (long b = 0; b < w->nblocks; b++) s += w->partial[(size_t)b * n + k];
    w->f[k] = s / (double)m;
    double r = w->f[k] - P->y[k];
    risk += r * r;
    w->r[k] = r / (double)n;
  }
  risk /= 2.0 * (double)n;
  if (P->loss && loss_residuals(w, &risk, msg, msglen)) return -1;
  w->rsum = 0;
  for (long k = 0; k < n; k++) w->rsum += w->r[k];
  double v2 = 0;
  for (size_t q = 0; q < (size_t)m * P->p; q++) v2 += xi[q] * xi[q];
  st->risk = risk;
  st->energy = risk + 0.5 * P->lambda * v2 / (double)m;
  st->dissipation = NAN;
  if (vel) {
    pool_run(w->nt, w->nblocks, 0, backward_body, w);
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
