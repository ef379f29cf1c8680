/*
** prox_bench.c — benchmark of one Wasserstein proximal step (runtime/prox.c)
** on the paper's Himmelblau example (n = 2, T = 25, beta = 1/4, h = 1e-4,
** eps = 0.1, uniform start on [0,1]^2), against a hand-written C reference
** (plain-domain kernel precomputed once, matrix-vector sweeps, one thread).
** Usage: prox_bench N [dumpfile|-] [kernel_mem] [sums|fast]   prints one line
** per solver; writes the inputs (x_old, x_new, f_new as doubles) for
** prox_ref.py when a dumpfile is given; kernel_mem 0 builds the kernel on the
** fly.  "sums" adds the kernel-sum engine (exact and kernel_tol 1e-6, 1e-9)
** against the direct kernel; "fast" runs only kernel_tol 1e-6 and 1e-9 (N =
** 1e5: the direct step would take minutes), compared with each other.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include "prox.h"

static const double T = 25.0, BETA = 0.25, H = 1e-4, EPS = 0.1, TOL = 1e-9;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
static double cpu(void) { /* user + system seconds of the process (all threads) */
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
static double maxlogdiff(size_t N, const double *a, const double *b) {
  double m = 0;
  for (size_t i = 0; i < N; i++) {
    double e = fabs(log(a[i]) - log(b[i]));
    if (!(e <= m)) m = e;
  }
  return m;
}
static uint64_t st = 88172645463325252ull;
static double unif(void) { /* xorshift64* */
  st ^= st >> 12, st ^= st << 25, st ^= st >> 27;
  return ((st * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}
static double gauss(void) {
  double u = unif(), v = unif();
  return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}
static double himmel(const double *x) {
  double a = (10 * x[0] - 5) * (10 * x[0] - 5) + 10 * x[1] - 16;
  double b = 10 * x[0] - 12 + (10 * x[1] - 5) * (10 * x[1] - 5);
  return a * a + b * b;
}
static void himmel_grad(const double *x, double *g) {
  double a = (10 * x[0] - 5) * (10 * x[0] - 5) + 10 * x[1] - 16;
  double b = 10 * x[0] - 12 + (10 * x[1] - 5) * (10 * x[1] - 5);
  g[0] = 2 * a * 20 * (10 * x[0] - 5) + 2 * b * 10;
  g[1] = 2 * a * 10 + 2 * b * 20 * (10 * x[1] - 5);
}
static int geo(const double *x, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  for (int d = 0; d < 2; d++) out[d] = sqrt(2.0 / BETA) * asin(sqrt(x[d]));
  return 0;
}

/* The hand-written reference: plain domain, kernel stored, libm exp. */
static int ref_step(size_t N, const double *xo, const double *xn, const double *rho, const double *f,
                    double *out) {
  double *K = malloc(N * N * sizeof(double)), *co = malloc(2 * N * 8), *cn = malloc(2 * N * 8);
  double *y = malloc(N * 8), *z = malloc(N * 8), *s = malloc(N * 8), *t = malloc(N * 8), *xi = malloc(N * 8);
  double p = 1.0 / (1.0 + EPS / (T * H)), mass = 0;
  for (size_t i = 0; i < N; i++) {
    geo(xo + 2 * i, NULL, co + 2 * i, NULL);
    geo(xn + 2 * i, NULL, cn + 2 * i, NULL);
    xi[i] = exp(-f[i] / T - 1);
    z[i] = 1;
    mass += rho[i];
  }
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j < N; j++) {
      double d0 = co[2 * i] - cn[2 * j], d1 = co[2 * i + 1] - cn[2 * j + 1];
      K[i * N + j] = exp(-(d0 * d0 + d1 * d1) / (2 * EPS));
    }
  int it = 0;
  for (;; it++) {
    for (size_t i = 0; i < N; i++) {
      double a = 0;
      for (size_t j = 0; j < N; j++) a += K[i * N + j] * z[j];
      s[i] = a;
    }
    double err = 0;
    for (size_t i = 0; i < N; i++) err += fabs(y[i] * s[i] - rho[i]);
    for (size_t i = 0; i < N; i++) y[i] = rho[i] / s[i];
    if ((it > 0 && err / mass < TOL) || it >= 500) break;
    memset(t, 0, N * 8);
    for (size_t i = 0; i < N; i++)
      for (size_t j = 0; j < N; j++) t[j] += K[i * N + j] * y[i];
    for (size_t j = 0; j < N; j++) z[j] = pow(xi[j] / t[j], p);
  }
  memset(t, 0, N * 8);
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j < N; j++) t[j] += K[i * N + j] * y[i];
  for (size_t j = 0; j < N; j++) out[j] = z[j] * t[j];
  free(K), free(co), free(cn), free(y), free(z), free(s), free(t), free(xi);
  return it;
}

int main(int argc, char **argv) {
  size_t N = argc > 1 ? (size_t)atol(argv[1]) : 500;
  int reps = N <= 2000 ? 5 : 1;
  double *xo = malloc(2 * N * 8), *xn = malloc(2 * N * 8), *rho = malloc(N * 8), *f = malloc(N * 8);
  double *r1 = malloc(N * 8), *r2 = malloc(N * 8), *r0 = malloc(N * 8);
  for (size_t i = 0; i < N; i++) {
    double g[2];
    for (int d = 0; d < 2; d++) xo[2 * i + d] = 0.01 + 0.98 * unif();
    himmel_grad(xo + 2 * i, g);
    for (int d = 0; d < 2; d++) { /* Euler-Maruyama of (64), reflected into (0,1) */
      double x = xo[2 * i + d], gi = 2 * BETA * x * (1 - x);
      double v = x + H * (-gi * g[d] + 2 * BETA * T * (1 - 2 * x)) + sqrt(2 * T * gi * H) * gauss();
      while (v <= 0 || v >= 1) v = v <= 0 ? -v + 1e-12 : 2 - v - 1e-12;
      xn[2 * i + d] = v;
    }
    f[i] = himmel(xn + 2 * i);
    rho[i] = 1.0;
  }
  if (argc > 2 && strcmp(argv[2], "-") != 0) {
    FILE *fp = fopen(argv[2], "wb");
    fwrite(xo, 8, 2 * N, fp), fwrite(xn, 8, 2 * N, fp), fwrite(f, 8, N, fp);
    fclose(fp);
  }
  flow_problem p;
  memset(&p, 0, sizeof p);
  p.n = 2;
  p.geo_coord.fn = geo;
  prox_opts o;
  prox_opts_default(&o);
  o.eps = EPS, o.T = T, o.h = H, o.tol = TOL, o.norm = PROX_NORM_NONE;
  if (argc > 3) o.kernel_mem = (size_t)atol(argv[3]); /* 0: on the fly */
  o.kernel = PROX_KERNEL_DIRECT;
  const char *mode = argc > 4 ? argv[4] : "";
  int fast_only = strcmp(mode, "fast") == 0, sums = fast_only || strcmp(mode, "sums") == 0;
  prox_ws *w = prox_ws_alloc(2, N);
  prox_stats s;
  /* best[prec][threads]; r1/r2 keep the double-precision results */
  double best[2][3] = { { 1e9, 1e9, 1e9 }, { 1e9, 1e9, 1e9 } }, cref = 1e9;
  double *rs = malloc(N * sizeof *rs);
  for (int prec = fast_only ? 2 : N > 2000; prec < 2; prec++) { /* N^2 doubles do not fit kernel_mem */
    o.kernel_prec = prec ? PROX_SINGLE : PROX_DOUBLE;
    for (int th = 1; th <= 2; th++) {
      if (N > 2000 && th == 1) continue;
      o.threads = th;
      double *out = prec ? rs : th == 1 ? r1 : r2;
      for (int r = 0; r < reps; r++) {
        double t0 = now();
        int rc = prox_step(w, &p, &o, N, xo, xn, rho, f, out, &s);
        double t1 = now() - t0;
        if (rc < 0) return fprintf(stderr, "prox_step: %s\n", prox_strerror(rc)), 1;
        if (t1 < best[prec][th]) best[prec][th] = t1;
      }
      printf("hnn      N=%zu kernel=%s threads=%d time=%.4f s iters=%d err=%.2e stored=%d fallbacks=%d\n", N,
             s.stored == 0 ? "fly" : prec ? "single" : "double", th, best[prec][th], s.iterations, s.marginal_err, s.stored, s.fallbacks);
    }
  }
  if (N <= 2000 || (sums && !fast_only && N <= 10000)) {
    int it = 0;
    for (int r = 0; r < reps; r++) {
      double t0 = now();
      it = ref_step(N, xo, xn, rho, f, r0);
      double t1 = now() - t0;
      if (t1 < cref) cref = t1;
    }
    double num = 0, nums = 0, den = 0;
    for (size_t i = 0; i < N; i++) {
      num += (r1[i] - r0[i]) * (r1[i] - r0[i]), den += r0[i] * r0[i];
      nums += (rs[i] - r0[i]) * (rs[i] - r0[i]);
    }
    if (N <= 2000) {
      printf("C-ref    N=%zu threads=1 time=%.4f s iters=%d  rel.diff: double %.1e single %.1e\n", N, cref, it,
             sqrt(num / den), sqrt(nums / den));
      printf("ratio    N=%zu C/hnn: double 1t %.2f 2t %.2f, single 1t %.2f 2t %.2f\n", N, cref / best[0][1],
             cref / best[0][2], cref / best[1][1], cref / best[1][2]);
    } else {
      printf("C-ref    N=%zu threads=1 time=%.4f s iters=%d  rel.diff: single %.1e\n", N, cref, it, sqrt(nums / den));
    }
  }
  if (sums) {
    /* the kernel-sum engine: exact sums (N <= 1e4), then the grid path */
    double *rk = malloc(N * sizeof *rk), *r6 = malloc(N * sizeof *r6);
    const double ktols[3] = { 0, 1e-6, 1e-9 };
    o.kernel = PROX_KERNEL_SUMS;
    for (int q = fast_only || N > 10000 ? 1 : 0; q < 3; q++) {
      o.kernel_tol = ktols[q];
      for (int th = 1; th <= 2; th++) {
        double *out = q == 0 ? rk : q == 1 ? r6 : r1;
        double bw = 1e9, bc = 1e9;
        for (int r = 0; r < (N <= 20000 ? 3 : 2); r++) {
          o.threads = th;
          double t0 = now(), c0 = cpu();
          int rc = prox_step(w, &p, &o, N, xo, xn, rho, f, out, &s);
          double t1 = now() - t0, c1 = cpu() - c0;
          if (rc < 0) return fprintf(stderr, "prox_step: %s\n", prox_strerror(rc)), 1;
          if (t1 < bw) bw = t1, bc = c1;
        }
        printf("sums     N=%zu kernel_tol=%g threads=%d time=%.4f s cpu=%.4f s iters=%d err=%.2e engine=%d "
               "recomputed=%d", N, ktols[q], th, bw, bc, s.iterations, s.marginal_err, s.kernel_engine, s.fallbacks);
        if (cref < 1e9) printf(" C-ref/this %.1f", cref / bw);
        if (best[1][2] < 1e9) printf(" direct(single,2t)/this %.1f", best[1][2] / bw);
        if (!fast_only) printf(" maxlog(vs direct)=%.2e", maxlogdiff(N, out, rs));
        if (q == 2) printf(" maxlog(vs tol 1e-6)=%.2e", maxlogdiff(N, out, r6));
        printf("\n");
      }
    }
    free(rk), free(r6);
  }
  free(rs);
  prox_ws_free(w);
  return 0;
}
