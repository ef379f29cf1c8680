/*
** check_wparticles.c — the particle flows of energies (kind_wparticles.c,
** wpstep.c, runtime/wfield.c, kernelform.c) against closed forms:
** kernel recognition against the compiled callbacks, the dissipation
** identity and its order, Langevin and score particles against the
** Ornstein-Uhlenbeck law, the steady states of interaction energies
** (exact discrete ones), and propagation of chaos for a linear
** McKean-Vlasov system.  Every tolerance says where it comes from.
*/
#include <check.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "energymodel.h"
#include "hnn.h"
#include "kernelform.h"
#include "rng.h"
#include "state.h"
#include "wpstep.h"

static hnn_state *load(const char *src) {
  hnn_state *S = hnn_open();
  ck_assert_ptr_nonnull(S);
  int r = hnn_load_string(S, src, "wp.hnn");
  ck_assert_msg(r == HNN_OK, "%s", hnn_error(S));
  return S;
}

static void build(hnn_state *S, const char *name, int n, energy_model *M) {
  sym *E = state_lookup(S, name);
  ck_assert_ptr_nonnull(E);
  ck_assert_int_eq(sema_check_sym(S, E), 0);
  state_batch_begin(S);
  int r = energy_model_build(S, E, n, M);
  if (state_batch_end(S)) r = HNN_ERR_SCRIPT;
  ck_assert_msg(r == HNN_OK, "%s", S->diags.text.s ? S->diags.text.s : "");
}

/* A cloud of N points of N(mu, s^2 I) in dimension n from stream `seed`. */
static double *cloud(int n, size_t N, double mu, double s, uint64_t seed) {
  double *x = malloc(N * (size_t)n * sizeof *x);
  gsl_rng *g = rng_stream(seed, RNG_RUN, 99);
  for (size_t i = 0; i < N * (size_t)n; i++) x[i] = mu + s * gsl_ran_gaussian_ziggurat(g, 1.0);
  gsl_rng_free(g);
  return x;
}

static void init_model(wp_model *W, const energy_model *M, int n, size_t N, double bw, int threads) {
  char err[256];
  ck_assert_msg(wp_model_init(W, M, n, N, bw, 0, threads, err, sizeof err) == 0, "%s", err);
}

/* ------------------------------------------------------------ recognition */

/* Each form of kernelform.h recognized with its h and scale, and the sum
** through ks_sum equal to the compiled callback's (the same kernel summed
** two ways: rounding only, 1e-12 relative). */
START_TEST(test_recognize) {
  static const struct {
    const char *body;
    int recognized;
    ks_kind kind;
    double h, scale;
  } cases[] = {
    { "exp(-norm2(x - y)/(2*s^2))", 1, KS_GAUSS, 0.3, 1 },
    { "2*exp(-norm2(y - x)/(2*s^2))/3", 1, KS_GAUSS, 0.3, 2.0 / 3 },
    { "-exp(-0.5*norm2(x - y))", 1, KS_GAUSS, 1, -1 },
    { "(1 + norm2(x - y)/s^2)^(-0.5)", 1, KS_IMQ, 0.3, 1 },
    { "1/sqrt(4 + norm2(x - y))", 1, KS_IMQ, 2, 0.5 },
    { "-norm(x - y)", 1, KS_ENERGY, 1, 1 },
    { "3*sqrt(norm2(x - y))", 1, KS_ENERGY, 1, -3 },
    { "exp(-norm2(x - y)/(2*s^2)) + 1", 0, KS_GAUSS, 0, 0 },
    { "exp(-norm2(x + y))", 0, KS_GAUSS, 0, 0 },
    { "exp(norm2(x - y))", 0, KS_GAUSS, 0, 0 },
    { "norm2(x - y)/2 - log(norm(x - y))", 0, KS_GAUSS, 0, 0 },
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char src[512];
    snprintf(src, sizeof src, "param s = 0.3\nkernel k(x[2], y[2]) = %s\nenergy E = interaction(k)\n", cases[c].body);
    hnn_state *S = load(src);
    energy_model M;
    build(S, "E", 2, &M);
    const wf_kernel *K = &M.terms[0].kernel;
    ck_assert_msg(K->recognized == cases[c].recognized, "%s", cases[c].body);
    if (K->recognized) {
      ck_assert_int_eq(K->ks, cases[c].kind);
      if (K->ks != KS_ENERGY) ck_assert_double_eq_tol(K->h, cases[c].h, 1e-14);
      ck_assert_double_eq_tol(K->scale, cases[c].scale, 1e-14);
      /* the same velocity through ks_sum and through the callback */
      size_t N = 300;
      double *x = cloud(2, N, 0, 1, 7 + c), *w = malloc(N * sizeof *w);
      double *v1 = calloc(2 * N, sizeof *v1), *v2 = calloc(2 * N, sizeof *v2), e1, e2;
      for (size_t i = 0; i < N; i++) w[i] = 1.0 / N;
      wf_kernel cb = *K;
      cb.recognized = 0;
      wf_opts o = { 0, 0, 0, 0 };
      ck_assert_int_eq(wf_interaction(K, 1.5, 2, N, x, w, v1, &e1, &o), 0);
      ck_assert_int_eq(wf_interaction(&cb, 1.5, 2, N, x, w, v2, &e2, &o), 0);
      double vmax = 0;
      for (size_t i = 0; i < 2 * N; i++) vmax = fmax(vmax, fabs(v2[i]));
      for (size_t i = 0; i < 2 * N; i++) ck_assert_double_eq_tol(v1[i], v2[i], 1e-12 * vmax + 1e-300);
      ck_assert_double_eq_tol(e1, e2, 1e-12 * fabs(e2));
      free(x), free(w), free(v1), free(v2);
    }
    energy_model_free(&M);
    hnn_close(S);
  }
}
END_TEST

/* 1-D scalar formals: (x - y)^2 and abs(x - y). */
START_TEST(test_recognize_scalar) {
  hnn_state *S = load("kernel g(x, y) = exp(-(x - y)^2/8)\nkernel d(x, y) = -2*abs(y - x)\n"
                      "energy E = interaction(g) + interaction(d)\n");
  energy_model M;
  build(S, "E", 1, &M);
  ck_assert(M.terms[0].kernel.recognized && M.terms[0].kernel.ks == KS_GAUSS);
  ck_assert_double_eq_tol(M.terms[0].kernel.h, 2, 1e-15);
  ck_assert(M.terms[1].kernel.recognized && M.terms[1].kernel.ks == KS_ENERGY);
  ck_assert_double_eq_tol(M.terms[1].kernel.scale, 2, 1e-15);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* ---------------------------------------------- energy and its dissipation */

/* Heun's method for dx/dt = v(x) = -grad_x E_N: along the exact flow
** E(T) - E(0) = -int_0^T D dt with D = sum_i w_i |v_i|^2.  The residual
** r(h) = E(T) - E(0) + trapezoid(D) is O(h^2): Heun's global error and the
** trapezoid rule's are both second order.  Halving h must divide it by
** about 4 (order in [1.7, 2.3]); the energy decreases at every step. */
static double dissipation_residual(const energy_model *M, double h, double Tend, int *monotone, double bw) {
  size_t N = 60;
  int n = 2;
  wp_model W;
  init_model(&W, M, n, N, bw, 1);
  W.blob = bw > 0;
  double *x = cloud(n, N, 0.2, 0.7, 3), *v = malloc(N * n * sizeof *v), *xt = malloc(N * n * sizeof *xt);
  double parts[8], E0 = 0, E = 0, Dprev = 0, integral = 0, Eprev = INFINITY;
  char err[256];
  long steps = lround(Tend / h);
  *monotone = 1;
  for (long k = 0; k <= steps; k++) {
    ck_assert_msg(wp_velocity(&W, x, 1, v, parts, err, sizeof err) == 0, "%s", err);
    E = 0;
    for (int p = 0; p < W.nparts; p++) E += parts[p];
    double D = 0;
    for (size_t i = 0; i < N * n; i++) D += v[i] * v[i] / N;
    if (k == 0) E0 = E;
    else integral += 0.5 * h * (D + Dprev);
    if (E > Eprev) *monotone = 0;
    Eprev = E, Dprev = D;
    if (k < steps) ck_assert_msg(wp_heun_step(&W, x, v, h, xt, err, sizeof err) == 0, "%s", err);
  }
  free(x), free(v), free(xt);
  wp_model_free(&W);
  return E - E0 + integral;
}

START_TEST(test_dissipation_order) {
  /* a potential, a recognized repulsive kernel and a callback attractive one */
  hnn_state *S = load("objective V(x[2]) = norm2(x)/2 + 0.1*x[1]^4\n"
                      "kernel g(x[2], y[2]) = exp(-norm2(x - y)/(2*0.4^2))\n"
                      "kernel a(x[2], y[2]) = 0.3*log(1 + norm2(x - y))\n"
                      "energy E = potential(V) + interaction(g) + interaction(a)\n");
  energy_model M;
  build(S, "E", 2, &M);
  ck_assert(M.terms[0].kernel.recognized && !M.terms[1].kernel.recognized);
  int mono[3];
  double r1 = dissipation_residual(&M, 0.04, 1, &mono[0], 0);
  double r2 = dissipation_residual(&M, 0.02, 1, &mono[1], 0);
  double r3 = dissipation_residual(&M, 0.01, 1, &mono[2], 0);
  double o1 = log2(fabs(r1 / r2)), o2 = log2(fabs(r2 / r3));
  fprintf(stderr, "dissipation residual h=0.04 %.3e, 0.02 %.3e, 0.01 %.3e; orders %.3f %.3f\n", r1, r2, r3, o1, o2);
  ck_assert(mono[0] && mono[1] && mono[2]);
  ck_assert_msg(o1 > 1.7 && o1 < 2.3 && o2 > 1.7 && o2 < 2.3, "orders %g %g", o1, o2);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* The same identity with the blob velocities of the entropy and power
** terms (score blob, a fixed bandwidth): they are the exact gradient of
** the energy estimate, so the identity holds to Heun's order too. */
START_TEST(test_dissipation_order_blob) {
  hnn_state *S = load("objective V(x[2]) = norm2(x)/2\n"
                      "energy E = potential(V) + 0.3*entropy + 0.5*power_entropy(2)\n");
  energy_model M;
  build(S, "E", 2, &M);
  int mono[3];
  double r1 = dissipation_residual(&M, 0.04, 1, &mono[0], 0.3);
  double r2 = dissipation_residual(&M, 0.02, 1, &mono[1], 0.3);
  double r3 = dissipation_residual(&M, 0.01, 1, &mono[2], 0.3);
  double o1 = log2(fabs(r1 / r2)), o2 = log2(fabs(r2 / r3));
  fprintf(stderr, "blob dissipation residual h=0.04 %.3e, 0.02 %.3e, 0.01 %.3e; orders %.3f %.3f\n", r1, r2, r3, o1, o2);
  ck_assert(mono[0] && mono[1] && mono[2]);
  ck_assert_msg(o1 > 1.7 && o1 < 2.3 && o2 > 1.7 && o2 < 2.3, "orders %g %g", o1, o2);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* ------------------------------------------------------------ OU laws */

/* Moments per coordinate of a cloud (divisor N). */
static void moments(int n, size_t N, const double *x, double *mean, double *var) {
  for (int a = 0; a < n; a++) {
    double m = 0, s = 0;
    for (size_t i = 0; i < N; i++) m += x[i * n + a] / N;
    for (size_t i = 0; i < N; i++) s += (x[i * n + a] - m) * (x[i * n + a] - m) / N;
    mean[a] = m, var[a] = s;
  }
}

/* Langevin for V = |x|^2/2 at temperature T from N(m0, s0^2 I): the
** Euler-Maruyama recursion is exactly Gaussian with mean (1 - h)^k m0 and
** variance s_{k+1} = (1 - h)^2 s_k + 2 T h; the OU law (m0 e^-t,
** T + (s0^2 - T) e^-2t) differs from it by O(h) (checked with its own
** tolerance).  Statistical tolerance: 5 standard errors of the mean
** (sqrt(s/N)) and of the variance (s sqrt(2/N)).  Two thread counts give
** the same bits. */
START_TEST(test_langevin_ou) {
  hnn_state *S = load("objective V(x[2]) = norm2(x)/2\nparam T = 0.5\nenergy E = potential(V) + T*entropy\n");
  energy_model M;
  build(S, "E", 2, &M);
  ck_assert_double_eq(M.entropy, 0.5);
  size_t N = 20000;
  int n = 2;
  double h = 0.01, T = 0.5, m0 = 1, s0 = 0.25;
  long steps = 100;
  double *xs[2];
  for (int run = 0; run < 2; run++) {
    wp_model W;
    init_model(&W, &M, n, N, 0, run + 1);
    ck_assert_int_eq(wp_noise_init(&W, 11), 0);
    double *x = cloud(n, N, m0, 0.5, 5), *v = malloc(N * n * sizeof *v);
    char err[256];
    for (long k = 0; k < steps; k++) {
      ck_assert_msg(wp_velocity(&W, x, 0, v, NULL, err, sizeof err) == 0, "%s", err);
      wp_langevin_step(&W, x, v, h, T);
    }
    xs[run] = x;
    free(v);
    wp_model_free(&W);
  }
  ck_assert_int_eq(memcmp(xs[0], xs[1], N * n * sizeof(double)), 0);
  double mean[2], var[2];
  moments(n, N, xs[0], mean, var);
  double mk = m0 * pow(1 - h, steps), sk = s0;
  for (long k = 0; k < steps; k++) sk = (1 - h) * (1 - h) * sk + 2 * T * h;
  double t = h * steps, mt = m0 * exp(-t), st = T + (s0 - T) * exp(-2 * t);
  for (int a = 0; a < n; a++) {
    ck_assert_double_eq_tol(mean[a], mk, 5 * sqrt(sk / N));
    ck_assert_double_eq_tol(var[a], sk, 5 * sk * sqrt(2.0 / N));
    /* EM's weak error: |mk - mt| ~ t h m0 e^-t / 2, |sk - st| ~ h (both
    ** below 0.01 here), plus the statistics */
    ck_assert_double_eq_tol(mean[a], mt, 0.01 + 5 * sqrt(sk / N));
    ck_assert_double_eq_tol(var[a], st, 0.01 + 5 * sk * sqrt(2.0 / N));
  }
  free(xs[0]), free(xs[1]);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* Score particles for the same energy with a fixed bandwidth b: for a
** Gaussian cloud N(m, s I) the KDE is N(m, (s + b^2) I), so the velocity
** -x + T (x - m)/(s + b^2) keeps it Gaussian with m' = -m and
**     s' = 2 s (T / (s + b^2) - 1)                  (the KDE ODE)
** whose rest point is s = T - b^2: the bandwidth's bias, against OU's T.
** The particles follow the KDE ODE up to the finite-N error of the KDE
** estimate (the particles fall short of the ODE's variance by 0.021,
** 0.010, 0.0047 at N = 500, 1500, 4000: ~N^-0.7; tolerance 0.02 at
** N = 1500) and miss the OU variance by ~ b^2 (between 0.6 and 1.4 b^2 at
** t = 2, where the e^-2t transient is below 0.01). */
START_TEST(test_score_particles_ou) {
  hnn_state *S = load("objective V(x[2]) = norm2(x)/2\nparam T = 0.5\nenergy E = potential(V) + T*entropy\n");
  energy_model M;
  build(S, "E", 2, &M);
  size_t N = 1500;
  int n = 2;
  double h = 0.05, T = 0.5, b = 0.25, s0 = 0.25;
  long steps = 40;
  wp_model W;
  init_model(&W, &M, n, N, b, 0);
  double *x = cloud(n, N, 0.5, sqrt(s0), 21), *v = malloc(N * n * sizeof *v), *xt = malloc(N * n * sizeof *xt);
  double mean[2], var[2];
  moments(n, N, x, mean, var);
  double s = 0.5 * (var[0] + var[1]);   /* start the ODE from the sample's variance */
  char err[256];
  for (long k = 0; k < steps; k++) {
    ck_assert_msg(wp_velocity(&W, x, 1, v, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(wp_heun_step(&W, x, v, h, xt, err, sizeof err) == 0, "%s", err);
  }
  /* the KDE ODE by RK4 with 100 substeps per step (error ~1e-10) */
  for (long k = 0; k < steps * 100; k++) {
    double dt = h / 100;
#define F(s) (2 * (s) * (T / ((s) + b * b) - 1))
    double k1 = F(s), k2 = F(s + dt / 2 * k1), k3 = F(s + dt / 2 * k2), k4 = F(s + dt * k3);
#undef F
    s += dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
  }
  moments(n, N, x, mean, var);
  double t = h * steps, ou = T + (s0 - T) * exp(-2 * t);
  fprintf(stderr, "score particles at t=%g: variance %.4f %.4f, KDE ODE %.4f, OU %.4f (b^2 = %.4f)\n", t, var[0], var[1],
          s, ou, b * b);
  for (int a = 0; a < n; a++) {
    ck_assert_double_eq_tol(var[a], s, 0.02);
    double bias = ou - var[a];
    ck_assert_msg(bias > 0.6 * b * b && bias < 1.4 * b * b, "bias %g vs b^2 %g", bias, b * b);
  }
  free(x), free(v), free(xt);
  wp_model_free(&W);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* ------------------------------------------------------ interaction states */

static void flow_to(wp_model *W, double *x, double h, long steps) {
  size_t m = W->N * (size_t)W->n;
  double *v = malloc(m * sizeof *v), *xt = malloc(m * sizeof *xt);
  char err[256];
  for (long k = 0; k < steps; k++) {
    ck_assert_msg(wp_velocity(W, x, 1, v, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(wp_heun_step(W, x, v, h, xt, err, sizeof err) == 0, "%s", err);
  }
  free(v), free(xt);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* 1-D, W(z) = z^2/2 - |z|: v_i = -(x_i - m) + (1/N) sum_j sign(x_i - x_j),
** zero exactly when the sorted particles are x_(r) = m + (2r - N + 1)/N:
** equally spaced on [m - 1 + 1/N, m + 1 - 1/N], the particle version of the
** uniform density on [m - 1, m + 1] (length 2 under our 1/2 convention,
** docs/energies.md).  The linear part contracts at rate 1: after t = 25 the
** distance is ~e^-25, so 1e-8. */
START_TEST(test_attraction_repulsion_1d) {
  hnn_state *S = load("kernel w(x, y) = (x - y)^2/2 - abs(x - y)\nenergy E = interaction(w)\n");
  energy_model M;
  build(S, "E", 1, &M);
  ck_assert(!M.terms[0].kernel.recognized);
  size_t N = 80;
  wp_model W;
  init_model(&W, &M, 1, N, 0, 0);
  double *x = cloud(1, N, 0.3, 0.2, 4), m = 0;
  for (size_t i = 0; i < N; i++) m += x[i] / N;
  flow_to(&W, x, 0.05, 500);
  qsort(x, N, sizeof *x, cmp_double);
  for (size_t r = 0; r < N; r++) ck_assert_double_eq_tol(x[r], m + (2.0 * r - N + 1) / N, 1e-8);
  free(x);
  wp_model_free(&W);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* 2-D, W(z) = |z|^2/2 - log|z|: the steady density is 1/pi on the unit
** disk (Delta log|z| = 2 pi delta).  For N particles at rest, dotting the
** rest condition with x_i - m and summing gives the exact virial identity
**     (1/N) sum_i |x_i - m|^2 = (N - 1) / (2N)
** (the continuum's 1/2 = R^2/2 for R = 1); tolerance 1e-6 after t = 15
** (contraction e^-15).  Half the particles lie within radius 1/sqrt 2
** (boundary layer O(N^-1/2): +-0.06) and none beyond 1 + 0.05.  With the
** Newtonian normalization, W = |z|^2/2 - log|z|/(2 pi), the same steps give
** density 2 on the disk of radius 1/sqrt(2 pi), virial (N - 1)/(4 pi N). */
START_TEST(test_attraction_repulsion_2d) {
  /* c = 1: the unit disk; c = 1/(2 pi) (the Newtonian normalization): the
  ** density 2 on the disk of radius R = 1/sqrt(2 pi), virial (N - 1) c/(2N) */
  hnn_state *S = load("param c = 1\nkernel w(x[2], y[2]) = norm2(x - y)/2 - c*log(norm(x - y))\nenergy E = interaction(w)\n"
                      "kernel wn(x[2], y[2]) = norm2(x - y)/2 - log(norm(x - y))/(2*pi)\nenergy En = interaction(wn)\n");
  for (int q = 0; q < 2; q++) {
    double c = q ? 1 / (2 * M_PI) : 1, R = sqrt(c);   /* density 1/(pi c) on pi R^2 = pi c */
    energy_model M;
    build(S, q ? "En" : "E", 2, &M);
    size_t N = 200;
    wp_model W;
    init_model(&W, &M, 2, N, 0, 0);
    double *x = cloud(2, N, 0.1, 0.5 * R, 8), mean[2], var[2];
    moments(2, N, x, mean, var);
    double m0[2] = { mean[0], mean[1] };
    flow_to(&W, x, 0.05, 300);
    moments(2, N, x, mean, var);
    ck_assert_double_eq_tol(mean[0], m0[0], 1e-12);
    ck_assert_double_eq_tol(mean[1], m0[1], 1e-12);
    ck_assert_double_eq_tol(var[0] + var[1], c * (N - 1.0) / (2.0 * N), 1e-6 * c);
    int inside = 0;
    double rmax = 0;
    for (size_t i = 0; i < N; i++) {
      double r = hypot(x[2 * i] - mean[0], x[2 * i + 1] - mean[1]);
      inside += r < R / sqrt(2.0);
      rmax = fmax(rmax, r);
    }
    ck_assert_double_eq_tol((double)inside / N, 0.5, 0.06);
    ck_assert(rmax < 1.05 * R);
    free(x);
    wp_model_free(&W);
    energy_model_free(&M);
  }
  hnn_close(S);
}
END_TEST

/* Repulsive Gaussian: the cloud spreads (second moment about the mean
** increasing), the energy decreasing; attractive: it collapses to the
** center of mass, which the flow keeps (the pair forces cancel). */
START_TEST(test_repulsive_attractive) {
  hnn_state *S = load("kernel g(x[2], y[2]) = exp(-norm2(x - y)/2)\nkernel a(x[2], y[2]) = -exp(-norm2(x - y)/2)\n"
                      "energy R = interaction(g)\nenergy A = interaction(a)\n");
  for (int attract = 0; attract < 2; attract++) {
    energy_model M;
    build(S, attract ? "A" : "R", 2, &M);
    size_t N = 300;
    wp_model W;
    init_model(&W, &M, 2, N, 0, 0);
    double *x = cloud(2, N, 0.5, 0.5, 9), mean[2], var[2], v[600], parts[1];
    moments(2, N, x, mean, var);
    double m0[2] = { mean[0], mean[1] }, spread = var[0] + var[1], E0;
    char err[256];
    ck_assert_int_eq(wp_velocity(&W, x, 1, v, parts, err, sizeof err), 0);
    E0 = parts[0];
    for (int k = 0; k < 5; k++) {
      flow_to(&W, x, 0.05, 20);
      moments(2, N, x, mean, var);
      ck_assert_int_eq(wp_velocity(&W, x, 1, v, parts, err, sizeof err), 0);
      ck_assert(parts[0] < E0);
      E0 = parts[0];
      ck_assert(attract ? var[0] + var[1] < spread : var[0] + var[1] > spread);
      spread = var[0] + var[1];
      ck_assert_double_eq_tol(mean[0], m0[0], 1e-12);
      ck_assert_double_eq_tol(mean[1], m0[1], 1e-12);
    }
    /* collapse: near the center k ~ -(1 - |z|^2/2), a contraction at rate 1
    ** in each coordinate, so the spread falls by ~e^-10 over t = 5 */
    if (attract) ck_assert(spread < 1e-3);
    free(x);
    wp_model_free(&W);
    energy_model_free(&M);
  }
  hnn_close(S);
}
END_TEST

/* ------------------------------------------------- propagation of chaos */

/* dX = -a X dt - b (X - E X) dt + sqrt(2T) dW (V = a x^2/2, W = b z^2/2).
** The limit law under Euler-Maruyama is Gaussian with mean (1 - a h)^k m0
** and variance s_{k+1} = (1 - (a + b) h)^2 s_k + 2 T h (b acts on the
** deviation from the mean only), so the only error left is N's.  Over
** R = 24 independent systems per N, the RMS errors of the empirical mean
** and variance and the W2 distance to the limit law decay like N^-1/2
** (W2: up to a log factor): the fitted slopes over N = 12 .. 768
** must lie in [-0.75, -0.3] (24 repeats: ~15% error per RMS, ~0.06 on a
** slope over 1.8 decades). */
START_TEST(test_propagation_of_chaos) {
  hnn_state *S = load("objective V(x) = 0.5*x^2\nkernel w(x, y) = 2*(x - y)^2/2\nparam T = 0.5\n"
                      "energy E = potential(V) + interaction(w) + T*entropy\n");
  energy_model M;
  build(S, "E", 1, &M);
  double a = 1, b = 2, T = 0.5, h = 0.02, m0 = 1, s0 = 0.04;
  long steps = 25;
  double mk = m0 * pow(1 - a * h, steps), sk = s0;
  for (long k = 0; k < steps; k++) sk = (1 - (a + b) * h) * (1 - (a + b) * h) * sk + 2 * T * h;
  size_t Ns[4] = { 12, 48, 192, 768 };
  double lmean[4], lvar[4], lN[4], lw2[4];
  int R = 24;
  for (int q = 0; q < 4; q++) {
    size_t N = Ns[q];
    double em = 0, ev = 0, ew = 0;
    for (int rep = 0; rep < R; rep++) {
      wp_model W;
      init_model(&W, &M, 1, N, 0, 0);
      ck_assert_int_eq(wp_noise_init(&W, 1000 + 31 * rep + q), 0);
      double *x = cloud(1, N, m0, sqrt(s0), 500 + 31 * rep + q), *v = malloc(N * sizeof *v), mean, var;
      char err[256];
      for (long k = 0; k < steps; k++) {
        ck_assert_msg(wp_velocity(&W, x, 0, v, NULL, err, sizeof err) == 0, "%s", err);
        wp_langevin_step(&W, x, v, h, T);
      }
      moments(1, N, x, &mean, &var);
      /* W2 to the limit law: sorted particles against its quantiles at
      ** (i + 1/2)/N (the quantile coupling, exact for 1-D laws up to the
      ** O(1/N) of the midpoint rule) */
      qsort(x, N, sizeof *x, cmp_double);
      double w2 = 0;
      for (size_t i = 0; i < N; i++) {
        double q = mk + sqrt(sk) * gsl_cdf_ugaussian_Pinv((i + 0.5) / N);
        w2 += (x[i] - q) * (x[i] - q) / N;
      }
      ew += w2 / R;
      em += (mean - mk) * (mean - mk) / R;
      ev += (var - sk) * (var - sk) / R;
      free(x), free(v);
      wp_model_free(&W);
    }
    lN[q] = log((double)N), lmean[q] = 0.5 * log(em), lvar[q] = 0.5 * log(ev), lw2[q] = 0.5 * log(ew);
    fprintf(stderr, "chaos N=%zu: rms mean error %.4g, rms variance error %.4g, rms W2 %.4g\n", N, sqrt(em), sqrt(ev),
            sqrt(ew));
  }
  /* least-squares slopes */
  double sx = 0, sy1 = 0, sy2 = 0, sy3 = 0, sxx = 0, sxy1 = 0, sxy2 = 0, sxy3 = 0;
  for (int q = 0; q < 4; q++) {
    sx += lN[q], sy1 += lmean[q], sy2 += lvar[q], sy3 += lw2[q], sxx += lN[q] * lN[q];
    sxy1 += lN[q] * lmean[q], sxy2 += lN[q] * lvar[q], sxy3 += lN[q] * lw2[q];
  }
  double den = 4 * sxx - sx * sx, p1 = (4 * sxy1 - sx * sy1) / den, p2 = (4 * sxy2 - sx * sy2) / den;
  double p3 = (4 * sxy3 - sx * sy3) / den;
  fprintf(stderr, "chaos slopes: mean %.3f, variance %.3f, W2 %.3f\n", p1, p2, p3);
  ck_assert_msg(p3 > -0.75 && p3 < -0.3, "W2 slope %g", p3);
  ck_assert_msg(p1 > -0.75 && p1 < -0.3, "mean slope %g", p1);
  ck_assert_msg(p2 > -0.75 && p2 < -0.3, "variance slope %g", p2);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* ------------------------------------------------------------ KDE terms */

/* The KDE of a single particle is the Gaussian itself: entropy estimate
** log((2 pi b^2)^(-n/2)), no velocity; for two particles at distance d
** the entropy velocity pushes them apart along their difference with
** speed (d / b^2) e / (1 + e), e = exp(-d^2 / 2b^2); the power term's
** energy is (1/(m-1)) mean rho^(m-1). */
START_TEST(test_kde_terms) {
  double b = 0.5, x[4] = { 0, 0, 0.3, 0 }, w[2] = { 0.5, 0.5 }, v[4] = { 0 }, e;
  wf_opts o = { 1, 0, b, 0 };
  double one = 1;
  ck_assert_int_eq(wf_entropy_kde(1, 2, 1, x, &one, v, &e, &o), 0);
  ck_assert_double_eq_tol(e, log(1 / (2 * M_PI * b * b)), 1e-14);
  ck_assert_double_eq_tol(v[0], 0, 1e-15);
  double d = 0.3, ex = exp(-d * d / (2 * b * b)), c = 1 / (2 * M_PI * b * b), rho = 0.5 * c * (1 + ex);
  ck_assert_int_eq(wf_entropy_kde(2, 2, 2, x, w, v, &e, &o), 0);
  ck_assert_double_eq_tol(e, 2 * log(rho), 1e-13);
  double speed = 2 * (d / (b * b)) * ex / (1 + ex);
  ck_assert_double_eq_tol(v[0], -speed, 1e-13);
  ck_assert_double_eq_tol(v[2], speed, 1e-13);
  ck_assert_double_eq_tol(v[1], 0, 1e-15);
  memset(v, 0, sizeof v);
  ck_assert_int_eq(wf_power_kde(1, 3, 2, 2, x, w, v, &e, &o), 0);
  ck_assert_double_eq_tol(e, rho * rho / 2, 1e-13);
  /* v = -m rho^(m-2) grad rho, grad rho at x_1 = 0.5 c ex d / b^2 (towards x_2) */
  ck_assert_double_eq_tol(v[0], -3 * rho * 0.5 * c * ex * d / (b * b), 1e-12);
  o.bandwidth = 0;
  ck_assert_int_eq(wf_entropy_kde(1, 2, 2, x, w, v, &e, &o), WF_EBANDWIDTH);
  ck_assert_int_eq(wf_power_kde(1, 1, 2, 2, x, w, v, &e, &o), WF_EINVAL);
  /* Silverman in 1-D for N points of variance 1: (4/(3N))^(1/5) */
  double y[4] = { -1, 1, -1, 1 }, wy[4] = { 0.25, 0.25, 0.25, 0.25 };
  ck_assert_double_eq_tol(wf_silverman(1, 4, y, wy), pow(4.0 / 12, 0.2), 1e-15);
}
END_TEST

/* ------------------------------------------------------------ the kinds */

/* Numbers of a CSV file without its '#' lines: *rows x *cols. */
static double *read_csv(const char *path, int *rows, int *cols) {
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  char line[4096];
  double *d = NULL;
  int n = 0, cap = 0;
  *rows = 0, *cols = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    int c = 0;
    for (char *p = line, *end; *p && *p != '\n'; p = *end == ',' ? end + 1 : end, c++) {
      double v = strtod(p, &end);
      if (end == p) break;
      if (n == cap) d = realloc(d, (cap = cap ? 2 * cap : 256) * sizeof *d);
      d[n++] = v;
    }
    *cols = c;
    (*rows)++;
  }
  fclose(f);
  return d;
}

/* A run through the language: the monitor's columns (potential = half the
** second moment for V = |x|^2/2, the total the sum of the parts), the
** energy decreasing, its change matching the integrated dissipation (the
** trapezoid over h = 0.02: O(h^2) ~ 1e-3 of the change), the mean moved
** by the potential alone, and one row per particle and written step. */
START_TEST(test_run_monitor) {
  char dir[] = "/tmp/hnn-wp-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  hnn_state *S = hnn_open();
  hnn_set_output_dir(S, dir);
  int r = hnn_load_string(S,
                          "objective V(x[2]) = norm2(x)/2\n"
                          "kernel k(x[2], y[2]) = -0.5*exp(-norm2(x - y)/2)\n"
                          "energy E = potential(V) + interaction(k)\n"
                          "flow p = particles(E)\n"
                          "run p from normal([0.5, 0], [1, 1]) particles 40 h 0.02 steps 50 every 1 -> \"p.csv\"\n",
                          "run.hnn");
  ck_assert_msg(r == HNN_OK, "%s", hnn_error(S));
  hnn_close(S);
  char path[256];
  int rows, cols;
  snprintf(path, sizeof path, "%s/p_monitor.csv", dir);
  double *m = read_csv(path, &rows, &cols);
  /* t, step, potential, interaction, energy, dissipation, mean1, mean2, second_moment */
  ck_assert_int_eq(rows, 51);
  ck_assert_int_eq(cols, 9);
  double change = m[4] - m[50 * 9 + 4], integral = 0;
  for (int k = 0; k < rows; k++) {
    const double *row = m + k * 9;
    ck_assert_double_eq_tol(row[2], row[8] / 2, 1e-12);
    ck_assert_double_eq_tol(row[4], row[2] + row[3], 1e-12);
    /* the pair forces cancel: the mean follows Heun on dm/dt = -m exactly */
    ck_assert_double_eq_tol(row[6], m[6] * pow(1 - 0.02 + 0.0002, k), 1e-12);
    if (k) {
      ck_assert(row[4] < row[4 - 9]);
      integral += 0.01 * (row[5] + row[5 - 9]);
    }
  }
  ck_assert_double_eq_tol(change, integral, 1e-3 * change);
  free(m);
  snprintf(path, sizeof path, "%s/p.csv", dir);
  double *x = read_csv(path, &rows, &cols);
  ck_assert_int_eq(rows, 51 * 40);
  ck_assert_int_eq(cols, 5);
  free(x);
  snprintf(path, sizeof path, "%s/p.csv", dir);
  remove(path);
  snprintf(path, sizeof path, "%s/p_monitor.csv", dir);
  remove(path);
  /* langevin through the language: OU with T = 0.5 from N(1, 0.1 I); at
  ** t = 3 the second moment is 2 (T + (0.1 - T) e^-6) + 2 e^-6 (EM: O(h)
  ** = 0.01) within 5 standard errors (E|x|^2 has variance ~ 2 (2T)^2 / N) */
  S = hnn_open();
  hnn_set_output_dir(S, dir);
  r = hnn_load_string(S,
                      "objective V(x[2]) = norm2(x)/2\n"
                      "energy E = potential(V) + 0.5*entropy\n"
                      "flow q = langevin(E)\n"
                      "run q from normal([1, 1], [0.1, 0.1]) particles 4000 h 0.01 steps 300 every 100 -> \"q.csv\"\n",
                      "run.hnn");
  ck_assert_msg(r == HNN_OK, "%s", hnn_error(S));
  hnn_close(S);
  snprintf(path, sizeof path, "%s/q_monitor.csv", dir);
  m = read_csv(path, &rows, &cols);
  /* t, step, potential, entropy, energy, dissipation, mean1, mean2, second_moment, bandwidth */
  ck_assert_int_eq(rows, 4);
  ck_assert_int_eq(cols, 10);
  double e6 = exp(-6), want = 2 * (0.5 + (0.1 - 0.5) * e6) + 2 * e6;
  ck_assert_double_eq_tol(m[3 * 10 + 8], want, 0.01 + 5 * sqrt(2.0 / 4000));
  ck_assert_double_eq_tol(m[3 * 10 + 2], m[3 * 10 + 8] / 2, 1e-12);
  ck_assert(m[3 * 10 + 9] > 0);
  free(m);
  remove(path);
  snprintf(path, sizeof path, "%s/q.csv", dir);
  remove(path);
  rmdir(dir);
}
END_TEST

/* Porous medium: power_entropy(2) gives d rho/dt = Laplacian rho^2 (the
** velocity -2 grad rho_h), whose Barenblatt solution in 1-D is
**     rho(t, x) = t^(-1/3) (C - x^2 / (12 t^(2/3)))_+,  a = sqrt(12 C) = 9^(1/3)
** (mass 1), with second moment M2(t) = a^2/5 t^(2/3).  Particles drawn from
** it at t = 1 (quantiles of its distribution function, so no sampling noise)
** follow M2 to t = 3 up to the KDE's smoothing, O(b^2): measured -0.0177
** at b = 0.2 and -0.0046 at b = 0.1 (M2 = 1.8), a ratio of 3.9; the test
** asks for 2% and a ratio between 2.5 and 6 (b^2: 4). */
START_TEST(test_porous_medium_barenblatt) {
  hnn_state *S = load("energy E = power_entropy(2)\n");
  energy_model M;
  build(S, "E", 1, &M);
  size_t N = 1000;
  double a = cbrt(9.0), C = 3 / (4 * a);
  double *x = malloc(N * sizeof *x);
  /* F(y) = 1/2 + (C y - y^3/36) on [-a, a]: invert by bisection at (i + 1/2)/N */
  for (size_t i = 0; i < N; i++) {
    double u = (i + 0.5) / N, lo = -a, hi = a;
    for (int it = 0; it < 100; it++) {
      double mid = 0.5 * (lo + hi), F = 0.5 + C * mid - mid * mid * mid / 36;
      if (F < u) lo = mid;
      else hi = mid;
    }
    x[i] = 0.5 * (lo + hi);
  }
  double errs[2], bws[2] = { 0.2, 0.1 };
  for (int q = 0; q < 2; q++) {
    double *y = malloc(N * sizeof *y);
    memcpy(y, x, N * sizeof *y);
    wp_model W;
    init_model(&W, &M, 1, N, bws[q], 0);
    flow_to(&W, y, 0.02, 100);
    double m2 = 0, mean = 0;
    for (size_t i = 0; i < N; i++) mean += y[i] / N;
    for (size_t i = 0; i < N; i++) m2 += (y[i] - mean) * (y[i] - mean) / N;
    double want = a * a / 5 * pow(3.0, 2.0 / 3);
    errs[q] = m2 - want;
    fprintf(stderr, "Barenblatt m=2, b=%g: M2(3) = %.5f, exact %.5f\n", bws[q], m2, want);
    ck_assert_double_eq_tol(m2, want, 0.02 * want);
    free(y);
    wp_model_free(&W);
  }
  /* the smoothing's error shrinks like b^2 */
  ck_assert_msg(errs[0] / errs[1] > 2.5 && errs[0] / errs[1] < 6, "ratio %g", errs[0] / errs[1]);
  free(x);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* The same bits for 1 and 3 threads: every term (a recognized kernel, a
** callback kernel, the KDE entropy and power terms) sums in an order fixed
** by N. */
START_TEST(test_threads_bits) {
  hnn_state *S = load("objective V(x[2]) = norm2(x)/2\n"
                      "kernel g(x[2], y[2]) = exp(-norm2(x - y)/2)\n"
                      "kernel a(x[2], y[2]) = 0.3*log(1 + norm2(x - y))\n"
                      "energy E = potential(V) + interaction(g) + interaction(a) + 0.5*entropy + power_entropy(3)\n");
  energy_model M;
  build(S, "E", 2, &M);
  size_t N = 700;
  double *xs[2];
  for (int q = 0; q < 2; q++) {
    wp_model W;
    init_model(&W, &M, 2, N, 0, q ? 3 : 1);
    xs[q] = cloud(2, N, 0, 1, 77);
    flow_to(&W, xs[q], 0.01, 3);
    wp_model_free(&W);
  }
  ck_assert_int_eq(memcmp(xs[0], xs[1], N * 2 * sizeof(double)), 0);
  free(xs[0]), free(xs[1]);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

/* tol > 0: the kernel sums take kernsum.h's grid path for the Gaussian;
** for the interaction (coef 1, scale 1, h = 0.5, sum w = 1) each velocity
** component is within tol / h of the exact one (kernsum.h's bound). */
START_TEST(test_tolerance_path) {
  hnn_state *S = load("kernel g(x[2], y[2]) = exp(-norm2(x - y)/(2*0.5^2))\nenergy E = interaction(g)\n");
  energy_model M;
  build(S, "E", 2, &M);
  size_t N = 3000;
  double *x = cloud(2, N, 0, 1, 12), *v0 = malloc(2 * N * sizeof *v0), *v1 = malloc(2 * N * sizeof *v1);
  char err[256];
  wp_model W0, W1;
  init_model(&W0, &M, 2, N, 0, 0);
  ck_assert_int_eq(wp_model_init(&W1, &M, 2, N, 0, 1e-8, 0, err, sizeof err), 0);
  ck_assert_int_eq(wp_velocity(&W0, x, 1, v0, NULL, err, sizeof err), 0);
  ck_assert_int_eq(wp_velocity(&W1, x, 1, v1, NULL, err, sizeof err), 0);
  double worst = 0, vmax = 0;
  for (size_t i = 0; i < 2 * N; i++) worst = fmax(worst, fabs(v0[i] - v1[i])), vmax = fmax(vmax, fabs(v0[i]));
  ck_assert_msg(worst <= 1e-8 / 0.5, "worst %g", worst);
  ck_assert(worst > 0 || vmax == 0);   /* the grid path ran, not the exact one */
  free(x), free(v0), free(v1);
  wp_model_free(&W0);
  wp_model_free(&W1);
  energy_model_free(&M);
  hnn_close(S);
}
END_TEST

Suite *wparticles_suite(void) {
  Suite *s = suite_create("wparticles");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_recognize);
  tcase_add_test(tc, test_recognize_scalar);
  tcase_add_test(tc, test_kde_terms);
  tcase_add_test(tc, test_dissipation_order);
  tcase_add_test(tc, test_dissipation_order_blob);
  tcase_add_test(tc, test_langevin_ou);
  tcase_add_test(tc, test_score_particles_ou);
  tcase_add_test(tc, test_attraction_repulsion_1d);
  tcase_add_test(tc, test_attraction_repulsion_2d);
  tcase_add_test(tc, test_repulsive_attractive);
  tcase_add_test(tc, test_propagation_of_chaos);
  tcase_add_test(tc, test_run_monitor);
  tcase_add_test(tc, test_threads_bits);
  tcase_add_test(tc, test_tolerance_path);
  tcase_add_test(tc, test_porous_medium_barenblatt);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return check_run(wparticles_suite()); }
