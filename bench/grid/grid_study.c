/*
** grid_study.c — the refinement study, timings and figures of docs/grid.md
** for runtime/fv.c, runtime/jko1d.c and runtime/jko_entropic.c.
** Usage: grid_study refine | time | figs DIR      (built by run.sh)
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fv.h"
#include "jko1d.h"
#include "jko_entropic.h"
#include "plot.h"

/* CPU time of the process: the machine is shared, so wall time measures
** the neighbours; the engines here run on one thread unless said. */
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
static double gauss(double x, double m, double v) { return exp(-(x - m) * (x - m) / (2 * v)) / sqrt(2 * M_PI * v); }
static int cb_quad(const double *x, const double *d, double *o, double *w) {
  (void)d, (void)w;
  o[0] = 0.5 * x[0] * x[0];
  return 0;
}
static void die(const char *m) {
  fprintf(stderr, "grid_study: %s\n", m);
  exit(3);
}
static fv_solver *mk(fv_problem *p, const double *r) {
  char msg[256];
  fv_solver *s = fv_new(p, NULL, r, msg, sizeof msg);
  if (!s) die(msg);
  return s;
}
static void steps(fv_solver *s, double dt, int K) {
  char msg[256];
  for (int k = 0; k < K; k++)
    if (fv_step(s, dt, msg, sizeof msg)) die(msg);
}

/* Barenblatt of u_t = (u^m)_xx, mass 1 (derivation in check_grid.c) */
static double bm, ba, bk, bC;
static void baren_set(double m) {
  bm = m, ba = 1 / (m + 1), bk = ba * (m - 1) / (2 * m);
  double e = 1 / (m - 1) + 0.5, B = tgamma(0.5) * tgamma(1 / (m - 1) + 1) / tgamma(1 / (m - 1) + 1.5);
  bC = pow(sqrt(bk) / B, 1 / e);
}
static double baren(double t, double x) {
  double v = bC - bk * x * x * pow(t, -2 * ba);
  return v > 0 ? pow(t, -ba) * pow(v, 1 / (bm - 1)) : 0;
}
static double baren_avg(double t, double a, double b) {
  double s = 0;
  for (int q = 0; q < 400; q++) s += baren(t, a + (q + 0.5) * (b - a) / 400);
  return s / 400;
}

static double fv_case(int which, int n, double dt) {
  fv_problem p;
  memset(&p, 0, sizeof p);
  p.grid.dim = 1, p.grid.n[0] = n;
  double *r = malloc(sizeof(double) * n), res = 0;
  if (which <= 1) {   /* 0 heat variance, 1 OU max error */
    p.grid.lo[0] = -8, p.grid.hi[0] = 8, p.T = 1;
    if (which == 1) p.V.fn = cb_quad;
    double m0 = which == 1 ? 1 : 0;
    for (int i = 0; i < n; i++) r[i] = gauss(fv_center(&p.grid, 0, i), m0, 0.25);
    fv_solver *s = mk(&p, r);
    steps(s, dt, (int)lround(1 / dt));
    fv_monitors m;
    fv_monitor(s, &m);
    if (which == 0) res = fabs(m.second_moment / m.mass - m.mean[0] * m.mean[0] - 2.25);
    else {
      double me = exp(-1.0), ve = 1 - 0.75 * exp(-2.0), pk = gauss(0, 0, ve);
      for (int i = 0; i < n; i++)
        res = fmax(res, fabs(fv_density(s)[i] - gauss(fv_center(&p.grid, 0, i), me, ve)) / pk);
    }
    fv_free(s);
  } else {            /* 2, 3: porous medium m = which, L1 at t = 1.01 */
    baren_set(which);
    double L = 2.5, h = 2 * L / n;
    p.grid.lo[0] = -L, p.grid.hi[0] = L, p.nu = 1, p.m = which;
    for (int i = 0; i < n; i++) r[i] = baren_avg(0.01, -L + i * h, -L + (i + 1) * h);
    fv_solver *s = mk(&p, r);
    steps(s, dt, (int)lround(1 / dt));
    for (int i = 0; i < n; i++) res += fabs(fv_density(s)[i] - baren_avg(1.01, -L + i * h, -L + (i + 1) * h)) * h;
    fv_free(s);
  }
  free(r);
  return res;
}

static double jko_pme(long N, double tau) {
  baren_set(2);
  int n = 500;
  double L = 2.5, h = 2 * L / n, *r = malloc(sizeof(double) * n), *Q = malloc(sizeof(double) * (N + 1)), l1 = 0;
  for (int i = 0; i < n; i++) r[i] = baren_avg(0.01, -L + i * h, -L + (i + 1) * h);
  jko1d_from_density(n, -L, L, r, N, Q);
  jko1d_problem p;
  memset(&p, 0, sizeof p);
  p.nu = 1, p.m = 2;
  char msg[256];
  for (int k = 0; k < (int)lround(1 / tau); k++)
    if (jko1d_step(&p, N, Q, tau, Q, NULL, msg, sizeof msg)) die(msg);
  jko1d_to_grid(N, Q, n, -L, L, r);
  for (int i = 0; i < n; i++) l1 += fabs(r[i] - baren_avg(1.01, -L + i * h, -L + (i + 1) * h)) * h;
  free(r), free(Q);
  return l1;
}

static void refine(void) {
  const char *names[] = { "FV heat: |var - (var0 + 2t)| at t = 1", "FV OU: max |rho - exact| / peak at t = 1",
                          "FV porous m = 2: L1 at t = 1.01", "FV porous m = 3: L1 at t = 1.01" };
  int n0[] = { 100, 100, 100, 100 };
  double dt0[] = { 0.04, 0.04, 0.02, 0.02 };
  for (int c = 0; c < 4; c++) {
    printf("\n%s\n| cells | dt | error | rate |\n|---|---|---|---|\n", names[c]);
    double prev = 0;
    for (int l = 0; l < 4; l++) {
      int n = n0[c] << l;
      double dt = dt0[c] / (1 << l), e = fv_case(c, n, dt);
      if (l) printf("| %d | %g | %.3e | %.2f |\n", n, dt, e, log2(prev / e));
      else printf("| %d | %g | %.3e | |\n", n, dt, e);
      prev = e;
    }
    fflush(stdout);
  }
  printf("\nJKO (quantiles) porous m = 2: L1 at t = 1.01\n| N | tau | error | rate |\n|---|---|---|---|\n");
  double prev = 0;
  for (int l = 0; l < 4; l++) {
    long N = 200L << l;
    double tau = 0.04 / (1 << l), e = jko_pme(N, tau);
    if (l) printf("| %ld | %g | %.3e | %.2f |\n", N, tau, e, log2(prev / e));
    else printf("| %ld | %g | %.3e | |\n", N, tau, e);
    prev = e;
  }
}

static void timing(void) {
  /* exact 1-D JKO heat step, N = 10^6 */
  long N = 1000000;
  double *Q = malloc(sizeof(double) * (N + 1));
  for (long j = 0; j <= N; j++) Q[j] = -1 + 2.0 * j / N;
  jko1d_problem p;
  memset(&p, 0, sizeof p);
  p.T = 1;
  char msg[256];
  jko1d_info info;
  for (int k = 0; k < 3; k++) {
    double t0 = now();
    if (jko1d_step(&p, N, Q, 0.01, Q, &info, msg, sizeof msg)) die(msg);
    printf("jko1d heat step, N = 1e6: %.3f s CPU, %d Newton iterations\n", now() - t0, info.newton);
  }
  free(Q);
  /* implicit FV heat step, 512 x 512 */
  fv_problem fp;
  memset(&fp, 0, sizeof fp);
  fp.grid.dim = 2, fp.grid.n[0] = fp.grid.n[1] = 512;
  fp.grid.lo[0] = fp.grid.lo[1] = -4, fp.grid.hi[0] = fp.grid.hi[1] = 4, fp.T = 1;
  fp.V.fn = cb_quad;
  double *r = malloc(sizeof(double) * 512 * 512);
  for (int c = 0; c < 512 * 512; c++)
    r[c] = gauss(fv_center(&fp.grid, 0, c % 512), 1, 0.3) * gauss(fv_center(&fp.grid, 1, c / 512), 0, 0.5);
  fv_options o = { 0, 0, 0, 1 };
  char m2[256];
  fv_solver *s = fv_new(&fp, &o, r, m2, sizeof m2);
  if (!s) die(m2);
  for (int k = 0; k < 3; k++) {
    long nw = fv_stats_of(s)->newton;
    double t0 = now();
    steps(s, 0.01, 1);
    printf("fv 2-D implicit step 512 x 512 (OU, dt = 0.01, 1 thread): %.3f s CPU, %ld Newton iterations (2 sweeps)\n", now() - t0,
           fv_stats_of(s)->newton - nw);
  }
  fv_free(s);
  free(r);
  /* entropic JKO, heat, 1-D n = 256 on [0, 1]: iterations against eps */
  for (int e = 0; e < 3; e++) {
    double eps = e == 0 ? 1e-2 : e == 1 ? 3e-3 : 1e-3;
    jko_ent_problem ep;
    memset(&ep, 0, sizeof ep);
    ep.grid.dim = 1, ep.grid.n[0] = 256, ep.grid.hi[0] = 1, ep.T = 0.01, ep.eps = eps, ep.tol = 1e-6;
    jko_ent *J = jko_ent_new(&ep, msg, sizeof msg);
    if (!J) die(msg);
    double pm[256], tot = 0;
    for (int i = 0; i < 256; i++) tot += pm[i] = gauss(fv_center(&ep.grid, 0, i), 0.5, 0.01);
    for (int i = 0; i < 256; i++) pm[i] /= tot;
    jko_ent_info inf;
    double t0 = now();
    if (jko_ent_step(J, pm, 0.01, pm, &inf, msg, sizeof msg)) die(msg);
    printf("entropic JKO 1-D n = 256, eps = %g, tau = 0.01, T = 0.01, tol 1e-6: %ld iterations, %.3f s CPU\n", eps,
           inf.iterations, now() - t0);
    jko_ent_free(J);
  }
}

/* ---- figures */
static plot_color redblue(double t) { return PLOT_RGB((int)(220 * (1 - t)), 40, (int)(220 * t)); }

static void fig_jko(const char *dir) {
  /* 002: JKO heat steps from a two-bump start, densities and quantile paths */
  long N = 2000;
  int n = 400, K = 8;
  double L = 4, tau = 0.05, *r = malloc(sizeof(double) * n), *x = malloc(sizeof(double) * n);
  for (int i = 0; i < n; i++) {
    double y = -L + (i + 0.5) * 2 * L / n;
    x[i] = y;
    r[i] = fmax(0, 1 - 16 * (y + 1) * (y + 1)) + 0.6 * fmax(0, 1 - 4 * (y - 1) * (y - 1));
  }
  double *Q = malloc(sizeof(double) * (N + 1)), *path = malloc(sizeof(double) * 9 * (K + 1)), ts[16];
  jko1d_from_density(n, -L, L, r, N, Q);
  jko1d_problem p;
  memset(&p, 0, sizeof p);
  p.T = 1;
  plot *P = plot_new(1100, 450);
  plot_subplot(P, 1, 2, 1);
  plot_title(P, "JKO steps of the heat flow (tau = 0.05)");
  plot_xlabel(P, "x");
  plot_ylabel(P, "density");
  char msg[256];
  for (int k = 0; k <= K; k++) {
    if (k) {
      if (jko1d_step(&p, N, Q, tau, Q, NULL, msg, sizeof msg)) die(msg);
    }
    jko1d_to_grid(N, Q, n, -L, L, r);
    plot_line(P, x, r, n, redblue((double)k / K), 2, NULL);
    ts[k] = k * tau;
    for (int q = 0; q < 9; q++) path[q * (K + 1) + k] = Q[(q + 1) * N / 10];
  }
  plot_subplot(P, 1, 2, 2);
  plot_title(P, "quantile paths Q_t(s), s = 0.1 ... 0.9");
  plot_xlabel(P, "t");
  plot_ylabel(P, "Q_t(s)");
  for (int q = 0; q < 9; q++) plot_line(P, ts, path + q * (K + 1), K + 1, redblue(q / 8.0), 2, NULL);
  char path_s[1024], err[256];
  snprintf(path_s, sizeof path_s, "%s/grid_jko_heat.png", dir);
  if (plot_save(P, path_s, err, sizeof err)) die(err);
  plot_free(P);
  free(r), free(x), free(Q), free(path);
}

static void fig_heat_pme(const char *dir) {
  /* 002: heat against porous medium m = 2 and m = 6 from one compact start */
  int n = 400;
  double L = 3, times[] = { 0, 0.05, 0.2, 0.5, 1 };
  double *x = malloc(sizeof(double) * n), *r0 = malloc(sizeof(double) * n);
  fv_problem p;
  memset(&p, 0, sizeof p);
  p.grid.dim = 1, p.grid.n[0] = n, p.grid.lo[0] = -L, p.grid.hi[0] = L;
  for (int i = 0; i < n; i++) {
    x[i] = fv_center(&p.grid, 0, i);
    r0[i] = fabs(x[i]) < 0.5 ? 1 : 0;
  }
  plot *P = plot_new(1500, 420);
  const char *ttl[] = { "heat (T = 1), t = 0 .. 1 red to blue", "porous medium m = 2", "porous medium m = 6" };
  for (int c = 0; c < 3; c++) {
    plot_subplot(P, 1, 3, c + 1);
    plot_title(P, ttl[c]);
    plot_xlabel(P, "x");
    p.T = p.nu = p.m = 0;
    double *r = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) r[i] = c == 0 ? r0[i] + 1e-12 : r0[i];
    if (c == 0) p.T = 1;
    else p.nu = 1, p.m = c == 1 ? 2 : 6;
    fv_solver *s = mk(&p, r);
    for (int k = 0; k < 5; k++) {
      if (k) steps(s, 0.005, (int)lround((times[k] - times[k - 1]) / 0.005));
      plot_line(P, x, fv_density(s), n, redblue(k / 4.0), 2, NULL);
    }
    fv_free(s);
    free(r);
  }
  char path_s[1024], err[256];
  snprintf(path_s, sizeof path_s, "%s/grid_heat_pme.png", dir);
  if (plot_save(P, path_s, err, sizeof err)) die(err);
  plot_free(P);
  free(x), free(r0);
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "refine")) refine();
  else if (argc >= 2 && !strcmp(argv[1], "time")) timing();
  else if (argc >= 3 && !strcmp(argv[1], "figs")) fig_jko(argv[2]), fig_heat_pme(argv[2]);
  else {
    fprintf(stderr, "usage: grid_study refine | time | figs DIR\n");
    return 2;
  }
  return 0;
}
