/*
** ot1d.c — W_p^p on the line by sorting and merging quantile functions
** (ot1d.h).
**
** Why a radix sort: the sort is the whole cost (the merge is one linear
** pass), and an LSD radix sort of the order-preserving 64-bit keys of the
** doubles makes at most six linear passes, skipping the digits where every
** key agrees (the top bits, for samples of one scale); 10^6 doubles sort
** several times faster than with a comparison sort.  The keys carry the
** original index only when there are weights to permute.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ot1d.h"
#include "pool.h"

#define RBITS 11
#define RSIZE (1u << RBITS)
#define RPASS 6                     /* 6 * 11 = 66 >= 64 bits */
#define SIGN UINT64_C(0x8000000000000000)

struct ot1d_side {
  size_t cap;
  uint64_t *k, *kt;                 /* keys and the radix buffer */
  uint32_t *ix, *ixt;               /* original indices (weighted case) */
  double *v;                        /* the sorted values */
  double *cum;                      /* normalized cumulative weights */
  uint32_t (*cnt)[RSIZE];           /* RPASS digit histograms */
};

struct ot1d_ws {
  struct ot1d_side s[2];
};

static int side_alloc(struct ot1d_side *s, size_t cap) {
  size_t c = cap ? cap : 1;
  s->cap = cap;
  s->k = malloc(c * sizeof *s->k);
  s->kt = malloc(c * sizeof *s->kt);
  s->ix = malloc(c * sizeof *s->ix);
  s->ixt = malloc(c * sizeof *s->ixt);
  s->cum = malloc(c * sizeof *s->cum);
  s->v = malloc(c * sizeof *s->v);
  s->cnt = malloc(RPASS * sizeof *s->cnt);
  return s->k && s->kt && s->ix && s->ixt && s->cum && s->cnt && s->v;
}

static void side_free(struct ot1d_side *s) {
  free(s->k), free(s->kt), free(s->ix), free(s->ixt), free(s->cum), free(s->cnt), free(s->v);
}

ot1d_ws *ot1d_ws_alloc(size_t nmax, size_t mmax) {
  if (nmax >= UINT32_MAX || mmax >= UINT32_MAX) return NULL;
  ot1d_ws *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  if (!side_alloc(&w->s[0], nmax) || !side_alloc(&w->s[1], mmax)) {
    ot1d_ws_free(w);
    return NULL;
  }
  return w;
}

void ot1d_ws_free(ot1d_ws *w) {
  if (!w) return;
  side_free(&w->s[0]);
  side_free(&w->s[1]);
  free(w);
}

/* The unsigned key whose order is the order of the doubles (-0 < +0). */
static inline uint64_t key_of(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return u ^ ((uint64_t)-(int64_t)(u >> 63) | SIGN);
}

static inline double val_of(uint64_t k) {
  uint64_t u = (k & SIGN) ? k ^ SIGN : ~k;
  double v;
  memcpy(&v, &u, sizeof v);
  return v;
}

/* Stable LSD radix sort of k[0..n) (with ix alongside when ix != NULL).
** The sorted data end in s->k / s->ix (swapped with the buffers as needed). */
static void radix_sort(struct ot1d_side *s, size_t n, int with_ix) {
  const int npass = RPASS;
  uint32_t (*cnt)[RSIZE] = s->cnt;
  uint64_t *k = s->k, *kt = s->kt;
  uint32_t *ix = s->ix, *ixt = s->ixt;
  memset(cnt, 0, RPASS * sizeof *cnt);
  for (size_t i = 0; i < n; i++) {
    uint64_t v = k[i];
    for (int p = 0; p < npass; p++) cnt[p][(v >> (p * RBITS)) & (RSIZE - 1)]++;
  }
  for (int p = 0; p < npass; p++) {
    int sh = p * RBITS;
    if (cnt[p][(k[0] >> sh) & (RSIZE - 1)] == n) continue; /* one bucket: no-op pass */
    uint32_t pos = 0;
    for (unsigned d = 0; d < RSIZE; d++) {
      uint32_t c = cnt[p][d];
      cnt[p][d] = pos;
      pos += c;
    }
    if (with_ix) {
      for (size_t i = 0; i < n; i++) {
        uint32_t t = cnt[p][(k[i] >> sh) & (RSIZE - 1)]++;
        kt[t] = k[i];
        ixt[t] = ix[i];
      }
      uint32_t *q = ix; ix = ixt; ixt = q;
    } else {
      for (size_t i = 0; i < n; i++) kt[cnt[p][(k[i] >> sh) & (RSIZE - 1)]++] = k[i];
    }
    uint64_t *q = k; k = kt; kt = q;
  }
  s->k = k, s->kt = kt, s->ix = ix, s->ixt = ixt;
}

int ot1d_sort(ot1d_ws *w, size_t n, double *x) {
  if (!w || n > w->s[0].cap || (n && !x)) return OT_EINVAL;
  struct ot1d_side *s = &w->s[0];
  for (size_t i = 0; i < n; i++) {
    if (isnan(x[i])) return OT_ENONFINITE;
    s->k[i] = key_of(x[i]);
  }
  radix_sort(s, n, 0);
  for (size_t i = 0; i < n; i++) x[i] = val_of(s->k[i]);
  return OT_OK;
}

/* One side of a distance: sort, and for weights the normalized cumulative
** weights in sorted order (the last one exactly 1). */
typedef struct {
  ot1d_ws *w;
  size_t n[2];
  const double *x[2], *a[2];
  double tot[2];
} prep_ctx;

static void prep_side(void *vctx, long lo, long hi, int thread) {
  (void)thread;
  prep_ctx *c = vctx;
  for (long t = lo; t < hi; t++) {
    struct ot1d_side *s = &c->w->s[t];
    size_t n = c->n[t];
    const double *x = c->x[t], *a = c->a[t];
    for (size_t i = 0; i < n; i++) s->k[i] = key_of(x[i]);
    if (a)
      for (size_t i = 0; i < n; i++) s->ix[i] = (uint32_t)i;
    radix_sort(s, n, a != NULL);
    if (a) {
      double acc = 0.0, inv = 1.0 / c->tot[t];
      for (size_t i = 0; i < n; i++) {
        acc += a[s->ix[i]];
        s->cum[i] = acc * inv;
      }
      s->cum[n - 1] = 1.0;
    }
    for (size_t i = 0; i < n; i++) s->v[i] = val_of(s->k[i]);
  }
}

static inline double cost_p(double u, double v, double p) {
  double d = fabs(u - v);
  if (p == 2.0) return d * d;
  if (p == 1.0) return d;
  return pow(d, p);
}

/* Uniform weights: steps at i/n and j/m merged on the integer grid of
** 1/(n m); lengths are exact integers. */
static double merge_uniform(size_t n, const double *x, size_t m, const double *y, double p) {
  uint64_t xe = m, ye = n, cur = 0;
  size_t i = 0, j = 0;
  double total = 0.0, part = 0.0;
  int cnt = 0;
  while (i < n && j < m) {
    uint64_t e = xe < ye ? xe : ye;
    part += (double)(e - cur) * cost_p(x[i], y[j], p);
    if (++cnt == 256) total += part, part = 0.0, cnt = 0; /* blocked sum */
    cur = e;
    if (xe == e) i++, xe += m;
    if (ye == e) j++, ye += n;
  }
  return (total + part) / ((double)n * (double)m);
}

/* General weights: the merged steps of the cumulative weights A and B. */
static double merge_weighted(size_t n, const double *x, const double *A, size_t m,
                             const double *y, const double *B, double p) {
  size_t i = 0, j = 0;
  double cur = 0.0, total = 0.0, part = 0.0;
  int cnt = 0;
  while (i < n && j < m) {
    double e = A[i] < B[j] ? A[i] : B[j];
    part += (e - cur) * cost_p(x[i], y[j], p);
    if (++cnt == 256) total += part, part = 0.0, cnt = 0;
    cur = e;
    int ai = A[i] == e, bj = B[j] == e;
    i += ai, j += bj;
  }
  return total + part;
}

int ot1d_wpp(ot1d_ws *w, double p, size_t n, const double *x, const double *a,
             size_t m, const double *y, const double *b, int threads, double *out) {
  if (!out || !(p >= 1.0) || !isfinite(p) || n == 0 || m == 0 || !x || !y) return OT_EINVAL;
  int st;
  prep_ctx c = { .n = { n, m }, .x = { x, y }, .a = { a, b } };
  if ((st = ot_check_points(n, 1, x)) || (st = ot_check_points(m, 1, y)) ||
      (st = ot_check_weights(n, a, &c.tot[0])) || (st = ot_check_weights(m, b, &c.tot[1])))
    return st;
  ot1d_ws *own = NULL;
  if (!w) {
    if (n >= UINT32_MAX || m >= UINT32_MAX) return OT_EINVAL;
    if (!(w = own = ot1d_ws_alloc(n, m))) return OT_ENOMEM;
  }
  if (n > w->s[0].cap || m > w->s[1].cap) {
    ot1d_ws_free(own);
    return OT_EINVAL;
  }
  c.w = w;
  if (threads <= 0) threads = pool_max_threads();
  pool_run(threads < 2 ? threads : 2, 2, 1, prep_side, &c);
  const double *xs = w->s[0].v, *ys = w->s[1].v;
  double v;
  if (!a && !b)
    v = merge_uniform(n, xs, m, ys, p);
  else {
    /* a uniform side gets its cumulative weights (i+1)/n */
    for (int t = 0; t < 2; t++)
      if (!c.a[t]) {
        size_t k = c.n[t];
        for (size_t i = 0; i < k; i++) w->s[t].cum[i] = (double)(i + 1) / (double)k;
      }
    v = merge_weighted(n, xs, w->s[0].cum, m, ys, w->s[1].cum, p);
  }
  ot1d_ws_free(own);
  if (!isfinite(v)) return OT_ENONFINITE;   /* |x - y|^p overflowed */
  *out = v;
  return OT_OK;
}
