/*
** check_kernsum.c — unit tests for runtime/kernsum*.c (the kernel-sum engine).
**
** Tolerances:
**  - ks_exp, ks_rsqrt: their stated relative error (4e-16) against expl and
**    1/sqrtl on dense samples.
**  - exact path vs a naive double loop in long double: each term is within
**    ~6 ulp of the true one (exp or rsqrt plus a few roundings) and a sum of
**    n terms adds <= n u sum|terms| (recursive summation, n <= N), so the
**    test allows (N + 16) 2^-52 sum_j |w_j k_ij| (and the same with |grad k|).
**  - grid path: the bound the call reports (ks_stats), against exact sums,
**    for several bandwidths, clouds, dimensions and tolerances.  A bound
**    that is 1000x too loose would pass too, so the test also checks that
**    the bound is used: the error of a looser tolerance must be larger.
**  - energy kernel, 1-D sorting: exact up to rounding, a few ulp of
**    sum_j |w_j| (|x - c| + |y_j - c|); the test allows 64 N 2^-52 of it.
**  - 2-D slicing: the stated bounds (kernsum.h).
**  - thread counts 1, 2, 3: bit-identical outputs on every path.
**  - ks_logsum (log weights, log sums) against a long-double log-sum-exp:
**    tol = 0 within the rounding of the exponents (|v| 2^-50 for the largest
**    |v| = |lw - r^2/2h^2| of the target) plus (N + 16) 2^-52 of the sum;
**    tol > 0 within tol for every target, with log weights spanning 1800
**    (far beyond the range of doubles) and targets far from every source.
*/
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "kernsum.h"
#include "kernsum_internal.h"

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static double unif(void) { /* xorshift64* */
  rs ^= rs >> 12, rs ^= rs << 25, rs ^= rs >> 27;
  return (double)((rs * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}
static double gauss(void) {
  double u = unif(), v = unif();
  return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* n points in [0,1]^d: uniform, or 5 tight clusters (clustered = 1) */
static double *cloud(size_t n, int d, int clustered) {
  double *x = malloc(sizeof(double) * n * (size_t)d), c[5][8]; /* d <= 8 */
  for (int k = 0; k < 5; k++)
    for (int a = 0; a < 8; a++) c[k][a] = 0.15 + 0.7 * unif();
  for (size_t i = 0; i < n; i++) {
    int k = (int)(unif() * 5);
    for (int a = 0; a < d; a++) {
      double v = clustered ? c[k][a] + 0.03 * gauss() : unif();
      x[i * (size_t)d + (size_t)a] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return x;
}

static double *weights(size_t n, int signed_w) {
  double *w = malloc(sizeof(double) * n);
  for (size_t j = 0; j < n; j++) w[j] = (signed_w ? unif() - 0.3 : unif()) / (double)n;
  return w;
}

/* naive long double sums; sk = sum |w k|, sg = sum |w| |grad k| (per component bound) */
static void naive(ks_kind kind, double h, int d, size_t M, const double *x, size_t N, const double *y,
                  const double *w, long double *pot, long double *grad, long double *sk, long double *sg) {
  for (size_t i = 0; i < M; i++) {
    long double p = 0, g[8] = { 0 }, ak = 0, ag = 0;
    for (size_t j = 0; j < N; j++) {
      long double r2 = 0, e[8];
      for (int a = 0; a < d; a++) {
        e[a] = (long double)y[j * d + a] - x[i * d + a];
        r2 += e[a] * e[a];
      }
      long double k, f; /* grad_x k = f (y - x) */
      if (kind == KS_GAUSS) k = expl(-r2 / (2.0L * h * h)), f = k / ((long double)h * h);
      else if (kind == KS_IMQ) {
        long double q = 1 + r2 / ((long double)h * h);
        k = 1 / sqrtl(q), f = k / q / ((long double)h * h);
      } else {
        long double r = sqrtl(r2);
        k = -r, f = r > 0 ? 1 / r : 0;
      }
      p += w[j] * k;
      ak += fabsl(w[j] * k);
      for (int a = 0; a < d; a++) g[a] += w[j] * f * e[a];
      ag += fabsl(w[j] * f) * sqrtl(r2);
    }
    pot[i] = p, sk[i] = ak, sg[i] = ag;
    for (int a = 0; a < d; a++) grad[i * d + a] = g[a];
  }
}

START_TEST(test_exp_rsqrt) {
  double worst = 0, worst_r = 0;
  for (int s = 0; s <= 400000; s++) {
    double x = -708.0 * s / 400000.0;
    long double t = expl((long double)x);
    double e = (double)fabsl((ks_exp(x) - t) / t);
    if (e > worst) worst = e;
  }
  ck_assert_double_eq(ks_exp(-708.5), 0.0);
  ck_assert_double_eq(ks_exp(-1e300), 0.0);
  ck_assert_double_eq(ks_exp(-INFINITY), 0.0);
  for (int s = 0; s <= 400000; s++) {
    double x = pow(10.0, -300.0 + 600.0 * s / 400000.0);
    long double t = 1.0L / sqrtl((long double)x);
    double e = (double)fabsl((ks_rsqrt(x) - t) / t);
    if (e > worst_r) worst_r = e;
  }
  printf("ks_exp max rel err %.3g, ks_rsqrt %.3g\n", worst, worst_r);
  ck_assert_msg(worst < 4e-16, "ks_exp: %g", worst);
  ck_assert_msg(worst_r < 4e-16, "ks_rsqrt: %g", worst_r);
}
END_TEST

static void check_exact(ks_kind kind, int d, size_t M, size_t N, int clustered) {
  double *x = cloud(M, d, clustered), *y = cloud(N, d, clustered), *w = weights(N, 1);
  double h = 0.2, *pot = malloc(sizeof(double) * M), *grad = malloc(sizeof(double) * M * d);
  long double *P = malloc(sizeof(long double) * M), *G = malloc(sizeof(long double) * M * d);
  long double *sk = malloc(sizeof(long double) * M), *sg = malloc(sizeof(long double) * M);
  ks_opts o;
  ks_opts_default(&o);
  o.method = KS_EXACT;
  ks_stats st;
  ck_assert_int_eq(ks_sum(kind, h, d, M, x, N, y, w, pot, grad, &o, &st), KS_OK);
  ck_assert_int_eq(st.method, KS_EXACT);
  naive(kind, h, d, M, x, N, y, w, P, G, sk, sg);
  double c = (double)(N + 16) * 0x1p-52;
  for (size_t i = 0; i < M; i++) {
    ck_assert_msg(fabsl(pot[i] - P[i]) <= c * sk[i], "kind %d d %d pot[%zu] %.17g vs %.17Lg", kind, d, i, pot[i], P[i]);
    for (int a = 0; a < d; a++)
      ck_assert_msg(fabsl(grad[i * d + a] - G[i * d + a]) <= c * sg[i] + 1e-300,
                    "kind %d d %d grad[%zu][%d] %.17g vs %.17Lg", kind, d, i, a, grad[i * d + a], G[i * d + a]);
  }
  free(x), free(y), free(w), free(pot), free(grad), free(P), free(G), free(sk), free(sg);
}

START_TEST(test_exact_vs_naive) {
  static const int dims[] = { 1, 2, 3, 5 };
  for (int kind = KS_GAUSS; kind <= KS_ENERGY; kind++)
    for (int k = 0; k < 4; k++) {
      check_exact(kind, dims[k], 37, 1500, 0);  /* N not a multiple of the blocks */
      check_exact(kind, dims[k], 70, 300, 1);
    }
}
END_TEST

/* Coincident points: the energy kernel's gradient is the subgradient 0. */
START_TEST(test_energy_coincident) {
  double x[4] = { 0.5, 0.5, 0.1, 0.2 }, pot[2], grad[4];
  ck_assert_int_eq(ks_sum(KS_ENERGY, 0, 2, 2, x, 2, x, NULL, pot, grad, NULL, NULL), KS_OK);
  double r = hypot(0.4, 0.3);
  ck_assert(fabs(pot[0] + r) < 1e-15 && fabs(pot[1] + r) < 1e-15);
  ck_assert(fabs(grad[0] + 0.4 / r) < 1e-15 && fabs(grad[1] + 0.3 / r) < 1e-15);
  ck_assert(fabs(grad[2] - 0.4 / r) < 1e-15 && fabs(grad[3] - 0.3 / r) < 1e-15);
}
END_TEST

/* Grid path: the error against exact sums stays within the reported bound. */
static double grid_case(int d, double h, double tol, int clustered, size_t N, int *p_out) {
  size_t Ms = 300;
  double *y = cloud(N, d, clustered), *w = weights(N, clustered);
  double *pot = malloc(sizeof(double) * N), *grad = malloc(sizeof(double) * N * d);
  double *pe = malloc(sizeof(double) * Ms), *ge = malloc(sizeof(double) * Ms * d);
  ks_opts o;
  ks_opts_default(&o);
  o.tol = tol, o.method = KS_GRID;
  ks_stats st;
  ck_assert_int_eq(ks_sum(KS_GAUSS, h, d, N, y, N, y, w, pot, grad, &o, &st), KS_OK);
  ck_assert_int_eq(st.method, KS_GRID);
  double wabs = 0;
  for (size_t j = 0; j < N; j++) wabs += fabs(w[j]);
  ck_assert(st.bound_pot <= tol * wabs * (1 + 1e-12) && st.bound_grad <= tol * wabs / h * (1 + 1e-12));
  o.tol = 0, o.method = KS_EXACT;
  ck_assert_int_eq(ks_sum(KS_GAUSS, h, d, Ms, y, N, y, w, pe, ge, &o, NULL), KS_OK);
  double ep = 0, eg = 0;
  for (size_t i = 0; i < Ms; i++) {
    ep = fmax(ep, fabs(pot[i] - pe[i]));
    for (int a = 0; a < d; a++) eg = fmax(eg, fabs(grad[i * d + a] - ge[i * d + a]));
  }
  ck_assert_msg(ep <= st.bound_pot, "d %d h %g tol %g: pot err %g > bound %g", d, h, tol, ep, st.bound_pot);
  ck_assert_msg(eg <= st.bound_grad, "d %d h %g tol %g: grad err %g > bound %g", d, h, tol, eg, st.bound_grad);
  if (p_out) *p_out = st.order;
  free(y), free(w), free(pot), free(grad), free(pe), free(ge);
  return fmax(ep / (tol * wabs), eg / (tol * wabs / h));
}

START_TEST(test_grid_bound) {
  static const double hs[] = { 0.01, 0.05, 0.3, 1.0 }, tols[] = { 1e-4, 1e-8, 1e-11 };
  for (int d = 1; d <= 3; d++)
    for (int k = 0; k < 4; k++)
      for (int t = 0; t < 3; t++)
        for (int cl = 0; cl <= 1; cl++) {
          if (d == 3 && (hs[k] < 0.05 || tols[t] < 1e-8)) continue; /* grid too large for a unit test */
          grid_case(d, hs[k], tols[t], cl, d == 3 ? 1500 : 3000, NULL);
        }
  /* the tolerance is used: a loose one gives a larger error than a tight one */
  double loose = grid_case(2, 0.05, 1e-4, 0, 3000, NULL) * 1e-4;
  double tight = grid_case(2, 0.05, 1e-10, 0, 3000, NULL) * 1e-10;
  ck_assert_msg(loose > 100 * tight, "loose %g tight %g", loose, tight);
}
END_TEST

/* The automatic choice: exact for tol = 0, the grid when it is cheaper. */
START_TEST(test_auto_choice) {
  size_t N = 20000;
  double *y = cloud(N, 2, 0), *pot = malloc(sizeof(double) * N);
  ks_opts o;
  ks_opts_default(&o);
  ks_stats st;
  ck_assert_int_eq(ks_sum(KS_GAUSS, 0.1, 2, 50, y, 50, y, NULL, pot, NULL, &o, &st), KS_OK);
  ck_assert_int_eq(st.method, KS_EXACT);
  o.tol = 1e-8;
  ck_assert_int_eq(ks_sum(KS_GAUSS, 0.1, 2, N, y, N, y, NULL, pot, NULL, &o, &st), KS_OK);
  ck_assert_int_eq(st.method, KS_GRID);
  ck_assert(st.bound_pot > 0 && st.bound_pot <= 1e-8 * N);
  free(y), free(pot);
}
END_TEST

START_TEST(test_energy_sort) {
  size_t M = 500, N = 3001;
  double *x = cloud(M, 1, 0), *y = cloud(N, 1, 1), *w = weights(N, 1);
  for (size_t i = 0; i < 50; i++) x[i] = y[7 * i]; /* ties with sources */
  double *pot = malloc(sizeof(double) * M), *grad = malloc(sizeof(double) * M);
  long double *P = malloc(sizeof(long double) * M), *G = malloc(sizeof(long double) * M);
  long double *sk = malloc(sizeof(long double) * M), *sg = malloc(sizeof(long double) * M);
  ks_stats st;
  ck_assert_int_eq(ks_sum(KS_ENERGY, 0, 1, M, x, N, y, w, pot, grad, NULL, &st), KS_OK);
  ck_assert_int_eq(st.method, KS_SORT);
  naive(KS_ENERGY, 0, 1, M, x, N, y, w, P, G, sk, sg);
  double wabs = 0;
  for (size_t j = 0; j < N; j++) wabs += fabs(w[j]);
  for (size_t i = 0; i < M; i++) {
    /* scale: sum |w| (|x - c| + |y - c|) <= 2 sum |w| on [0,1] */
    ck_assert_msg(fabsl(pot[i] - P[i]) <= 64.0 * N * 0x1p-52 * 2 * wabs, "pot[%zu] %.17g vs %.17Lg", i, pot[i], P[i]);
    ck_assert_msg(fabsl(grad[i] - G[i]) <= 64.0 * N * 0x1p-52 * wabs, "grad[%zu] %.17g vs %.17Lg", i, grad[i], G[i]);
  }
  free(x), free(y), free(w), free(pot), free(grad), free(P), free(G), free(sk), free(sg);
}
END_TEST

START_TEST(test_energy_slice) {
  size_t M = 200, N = 2000;
  double *x = cloud(M, 2, 0), *y = cloud(N, 2, 1), *w = weights(N, 1);
  double *pot = malloc(sizeof(double) * M), *grad = malloc(sizeof(double) * M * 2);
  long double *P = malloc(sizeof(long double) * M), *G = malloc(sizeof(long double) * M * 2);
  long double *sk = malloc(sizeof(long double) * M), *sg = malloc(sizeof(long double) * M);
  naive(KS_ENERGY, 0, 2, M, x, N, y, w, P, G, sk, sg);
  double wabs = 0;
  for (size_t j = 0; j < N; j++) wabs += fabs(w[j]);
  static const double tols[] = { 1e-1, 1e-2 };
  for (int t = 0; t < 2; t++) {
    ks_opts o;
    ks_opts_default(&o);
    o.tol = tols[t], o.method = KS_SLICE;
    ks_stats st;
    ck_assert_int_eq(ks_sum(KS_ENERGY, 0, 2, M, x, N, y, w, pot, grad, &o, &st), KS_OK);
    ck_assert_int_eq(st.method, KS_SLICE);
    ck_assert(st.bound_pot <= tols[t] && st.bound_grad <= tols[t] * wabs * (1 + 1e-12));
    double wp = 0, wg = 0;
    for (size_t i = 0; i < M; i++) {
      double ep = (double)fabsl(pot[i] - P[i]), bp = st.bound_pot * (double)sk[i] + 1e-13;
      ck_assert_msg(ep <= bp, "slice L=%d pot[%zu]: %g > %g", st.slices, i, ep, bp);
      wp = fmax(wp, ep / bp);
      for (int a = 0; a < 2; a++) {
        double eg = (double)fabsl(grad[2 * i + a] - G[2 * i + a]);
        ck_assert_msg(eg <= st.bound_grad, "slice L=%d grad[%zu][%d]: %g > %g", st.slices, i, a, eg, st.bound_grad);
        wg = fmax(wg, eg / st.bound_grad);
      }
    }
    printf("slice L=%d: worst error / bound: pot %.3f, grad %.3f\n", st.slices, wp, wg);
  }
  free(x), free(y), free(w), free(pot), free(grad), free(P), free(G), free(sk), free(sg);
}
END_TEST

/* Bit-identical outputs for 1, 2 and 3 threads on every path. */
START_TEST(test_threads_bitwise) {
  struct { ks_kind kind; int d; double h, tol; ks_method m; } cs[] = {
    { KS_GAUSS, 2, 0.1, 0, KS_EXACT }, { KS_IMQ, 3, 0.3, 0, KS_EXACT }, { KS_ENERGY, 2, 0, 0, KS_EXACT },
    { KS_GAUSS, 2, 0.05, 1e-9, KS_GRID }, { KS_GAUSS, 3, 0.2, 1e-6, KS_GRID },
    { KS_ENERGY, 1, 0, 0, KS_SORT }, { KS_ENERGY, 2, 0, 1e-2, KS_SLICE },
  };
  size_t M = 1000, N = 3000;
  for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    int d = cs[k].d;
    double *x = cloud(M, d, 0), *y = cloud(N, d, 1), *w = weights(N, 1);
    double *p[3], *g[3];
    for (int t = 0; t < 3; t++) {
      p[t] = malloc(sizeof(double) * M), g[t] = malloc(sizeof(double) * M * d);
      ks_opts o;
      ks_opts_default(&o);
      o.threads = t + 1, o.tol = cs[k].tol, o.method = cs[k].m;
      ck_assert_int_eq(ks_sum(cs[k].kind, cs[k].h, d, M, x, N, y, w, p[t], g[t], &o, NULL), KS_OK);
    }
    for (int t = 1; t < 3; t++) {
      ck_assert_msg(!memcmp(p[0], p[t], sizeof(double) * M), "case %zu: pot differs with %d threads", k, t + 1);
      ck_assert_msg(!memcmp(g[0], g[t], sizeof(double) * M * d), "case %zu: grad differs with %d threads", k, t + 1);
    }
    for (int t = 0; t < 3; t++) free(p[t]), free(g[t]);
    free(x), free(y), free(w);
  }
}
END_TEST

/* lpot_i = log sum_j exp(lw_j - |x_i - y_j|^2 / 2h^2) in long double; *scale:
** the largest |exponent|, which sets the rounding of the double version. */
static long double ref_logsum(int d, const double *xi, size_t N, const double *y, const double *lw, double h,
                              long double *scale) {
  long double mx = -INFINITY, s = 0, sc = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t j = 0; j < N; j++) {
      long double r2 = 0;
      for (int a = 0; a < d; a++) r2 += ((long double)y[j * d + a] - xi[a]) * ((long double)y[j * d + a] - xi[a]);
      long double v = lw[j] - r2 / (2.0L * h * h);
      if (pass == 0) mx = v > mx ? v : mx, sc = fabsl(v) > sc ? fabsl(v) : sc;
      else s += expl(v - mx);
    }
  *scale = sc;
  return mx + logl(s);
}

START_TEST(test_logsum) {
  const size_t M = 1500, N = 2500;
  struct { int d; double h, span, tol; ks_method m; } cs[] = {
    { 2, 0.05, 6, 0, KS_AUTO }, { 2, 0.05, 1800, 0, KS_AUTO }, { 2, 0.05, 6, 1e-6, KS_GRID },
    { 2, 0.05, 1800, 1e-3, KS_GRID }, { 1, 0.02, 1800, 1e-8, KS_GRID }, { 3, 0.1, 60, 1e-5, KS_GRID },
  };
  for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    int d = cs[k].d;
    double *x = cloud(M, d, 0), *y = cloud(N, d, 1), *lw = malloc(sizeof(double) * N), *lp = malloc(sizeof(double) * M);
    for (size_t j = 0; j < N; j++) lw[j] = cs[k].span * (unif() - 0.5);
    /* the last 20 targets outside the sources' square, 0.3 to 3.9 away: sums e^-18 to
    ** e^-3000 of the largest weight (below the range of doubles from 1.1 away) */
    for (size_t i = M - 20; i < M; i++) x[i * d] = 1.3 + 0.9 * (double)(i % 5);
    ks_opts o;
    ks_opts_default(&o);
    o.tol = cs[k].tol, o.method = cs[k].m;
    ks_stats st;
    ck_assert_int_eq(ks_logsum(cs[k].h, d, M, x, N, y, lw, lp, &o, &st), KS_OK);
    ck_assert_msg(cs[k].tol == 0 || st.method == KS_GRID, "case %zu: method %d", k, st.method);
    ck_assert_msg(st.recomputed > 0, "case %zu: the far targets must be recomputed", k);
    double worst = 0;
    for (size_t i = 0; i < M; i++) {
      long double sc, r = ref_logsum(d, x + i * d, N, y, lw, cs[k].h, &sc);
      double allow = cs[k].tol > 0 ? cs[k].tol : (double)(sc * 0x1p-50L) + (N + 16) * 0x1p-52;
      double e = fabs((double)(lp[i] - r));
      ck_assert_msg(isfinite(lp[i]) && e <= allow, "case %zu target %zu: %.17g vs %.17Lg (allowed %g)", k, i, lp[i], r,
                    allow);
      worst = e > worst ? e : worst;
    }
    ck_assert_msg(cs[k].tol == 0 || st.bound_pot == cs[k].tol, "case %zu: bound %g", k, st.bound_pot);
    /* bit-identical with 1, 2 and 3 threads */
    double *lq = malloc(sizeof(double) * M);
    for (int t = 1; t <= 3; t++) {
      o.threads = t;
      ck_assert_int_eq(ks_logsum(cs[k].h, d, M, x, N, y, lw, lq, &o, NULL), KS_OK);
      ck_assert_msg(!memcmp(lp, lq, sizeof(double) * M), "case %zu: differs with %d threads", k, t);
    }
    free(x), free(y), free(lw), free(lp), free(lq);
  }
  double x[4] = { 0, 0, 1, 1 }, lw[2] = { 0, INFINITY }, out[2];
  ck_assert_int_eq(ks_logsum(0.1, 2, 2, x, 0, x, lw, out, NULL, NULL), KS_EINVAL);
  ck_assert_int_eq(ks_logsum(0.0, 2, 2, x, 2, x, lw, out, NULL, NULL), KS_EINVAL);
  ck_assert_int_eq(ks_logsum(0.1, 2, 2, x, 2, x, lw, out, NULL, NULL), KS_ENONFINITE);
}
END_TEST

START_TEST(test_bad_input) {
  double x[4] = { 0, 0, 1, 1 }, w[2] = { 1, NAN }, pot[2];
  ks_opts o;
  ks_opts_default(&o);
  ck_assert_int_eq(ks_sum(KS_GAUSS, 0.0, 2, 2, x, 2, x, NULL, pot, NULL, &o, NULL), KS_EINVAL);
  ck_assert_int_eq(ks_sum(KS_GAUSS, 1.0, 0, 2, x, 2, x, NULL, pot, NULL, &o, NULL), KS_EINVAL);
  ck_assert_int_eq(ks_sum(KS_GAUSS, 1.0, 2, 2, x, 2, x, w, pot, NULL, &o, NULL), KS_ENONFINITE);
  o.method = KS_GRID, o.tol = 1e-6;
  ck_assert_int_eq(ks_sum(KS_IMQ, 1.0, 2, 2, x, 2, x, NULL, pot, NULL, &o, NULL), KS_EINVAL);
  o.method = KS_SORT;
  ck_assert_int_eq(ks_sum(KS_ENERGY, 0, 2, 2, x, 2, x, NULL, pot, NULL, &o, NULL), KS_EINVAL);
  o.method = KS_AUTO, o.tol = -1;
  ck_assert_int_eq(ks_sum(KS_GAUSS, 1.0, 2, 2, x, 2, x, NULL, pot, NULL, &o, NULL), KS_EINVAL);
  ck_assert_str_eq(ks_strerror(KS_ENONFINITE), "a point or weight is not finite");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("kernsum");
  TCase *t = tcase_create("kernsum");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, test_exp_rsqrt);
  tcase_add_test(t, test_exact_vs_naive);
  tcase_add_test(t, test_energy_coincident);
  tcase_add_test(t, test_grid_bound);
  tcase_add_test(t, test_auto_choice);
  tcase_add_test(t, test_energy_sort);
  tcase_add_test(t, test_energy_slice);
  tcase_add_test(t, test_threads_bitwise);
  tcase_add_test(t, test_logsum);
  tcase_add_test(t, test_bad_input);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return check_run(suite()); }
