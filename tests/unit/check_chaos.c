/*
** check_chaos.c — propagation of chaos for a McKean-Vlasov interaction,
** with the grid solution as its limit (issue 13, "three views").
**
** One energy, E = potential(V) + interaction(W) + T entropy with the double
** well V = x^4/4 - x^2/2 and the attractive Gaussian W = -a exp(-(x-y)^2/2),
** runs twice from one start: `fokker_planck(E)` on a fine 1-D grid (the law
** of the limit, nonlinear: no closed form) and `langevin(E)`, N interacting
** particles dX_i = -V'(X_i) dt - (1/N) sum_j W'(X_i - X_j) dt + sqrt(2T) dW_i.
** At t = 1 the exact 1-D W2 between each cloud and the grid density falls as
** N^(-1/2) (Sznitman's propagation of chaos plus the sampling error of N
** points) until the two schemes' own errors show; with the interaction
** dropped from the grid run the limit is wrong and W2 stalls.
*/
#include <math.h>

#include "check_run.h"
#include "testenv.h"

static const char *const chaos_energy =
  "param T = 0.25\n"
  "param a = 1\n"
  "objective V(x) = x^4/4 - x^2/2\n"
  "kernel W(x, y) = -a*exp(-(x - y)^2/2)\n"
  "energy E = potential(V) + interaction(W) + T*entropy\n";

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* W2 between the empirical law of the sorted x[0..N-1] and the density that
** is rho[k] on the cell [lo + k dx, lo + (k+1) dx], k < M (mass 1).  Exact:
** on every piece of [0, 1] between the breakpoints i/N and the cells'
** cumulative masses, F^-1 is the constant x_i and G^-1 is linear, so the
** integral of (F^-1 - G^-1)^2 is a cubic in the piece's length. */
static double w2_cloud_cells(const double *x, int N, double lo, double dx, const double *rho, int M) {
  double s = 0, acc = 0, S = 0;   /* s: where we are; S: mass below cell k */
  int i = 0, k = 0;
  while (i < N && k < M) {
    double m = rho[k] * dx;
    if (!(m > 0)) {
      k++;
      continue;
    }
    double s1 = fmin((i + 1.0) / N, S + m);
    double B = 1.0 / rho[k];                       /* dG^-1/ds in cell k */
    double A = x[i] - (lo + k * dx + (s - S) * B); /* F^-1 - G^-1 at s */
    double L = s1 - s;
    acc += A * A * L - A * B * L * L + B * B * L * L * L / 3.0;
    s = s1;
    if (s >= (i + 1.0) / N) i++;
    if (s >= S + m) S += m, k++;
  }
  return sqrt(fmax(acc, 0.0));
}

typedef struct {
  double lo, dx, *rho;
  int M;
} grid_law;

/* The grid density at t = 1 of fokker_planck(E) with or without the
** interaction (cells of width 0.01 on [-3, 3], dt = 1e-3). */
static grid_law grid_limit(int with_interaction) {
  env e;
  env_open(&e, "chaos");
  char src[1024];
  snprintf(src, sizeof src,
           "%s"
           "energy E0 = potential(V) + T*entropy\n"
           "flow gp = fokker_planck(%s)\n"
           "run gp from normal([0.5], [0.1]) grid [-3, 3] cells 600 dt 0.001 until 1 every 1 -> \"g.csv\"\n",
           chaos_energy, with_interaction ? "E" : "E0");
  load_ok(&e, src);
  csv c = read_csv(&e, "g.csv");
  grid_law g = { .M = 600, .lo = -3.0, .dx = 0.01 };
  g.rho = malloc(sizeof *g.rho * 600);
  int k = 0;
  double mass = 0;
  for (int r = 0; r < c.rows; r++)
    if (at(&c, r, 0) == 1.0) {
      ck_assert_int_lt(k, 600);
      g.rho[k] = at(&c, r, 3);
      mass += g.rho[k++] * g.dx;
    }
  ck_assert_int_eq(k, 600);
  ck_assert_msg(fabs(mass - 1) < 1e-12, "grid mass %.17g", mass);
  free(c.d);
  env_close(&e);
  return g;
}

/* The particles of langevin(E) at t = 1 (h = 0.002), N of them, seed s. */
static double *cloud(int N, int seed) {
  env e;
  env_open(&e, "chaos");
  ck_assert_int_eq(hnn_set_seed(e.S, (uint64_t)seed), HNN_OK);
  char src[1024];
  snprintf(src, sizeof src,
           "%s"
           "flow lp = langevin(E)\n"
           "run lp from normal([0.5], [0.1]) particles %d h 0.002 steps 500 every 500 -> \"p.csv\"\n",
           chaos_energy, N);
  load_ok(&e, src);
  csv c = read_csv(&e, "p.csv");
  double *x = malloc(sizeof *x * (size_t)N);
  int k = 0;
  for (int r = 0; r < c.rows; r++)
    if (at(&c, r, 1) == 500) x[k++] = at(&c, r, 3);
  ck_assert_int_eq(k, N);
  qsort(x, (size_t)N, sizeof *x, cmp_double);
  free(c.d);
  env_close(&e);
  return x;
}

START_TEST(test_w2_to_grid_limit) {
  /* The W2 routine on a case with a closed form: one point at c against
  ** the uniform density on [0, 1]: W2^2 = c^2 - c + 1/3. */
  double one = 0.3, u[4] = { 1, 1, 1, 1 };
  double w = w2_cloud_cells(&one, 1, 0.0, 0.25, u, 4);
  ck_assert_msg(fabs(w * w - (0.09 - 0.3 + 1.0 / 3.0)) < 1e-15, "W2^2 = %.17g", w * w);

  grid_law g = grid_limit(1), g0 = grid_limit(0);
  const int Ns[3] = { 25, 100, 400 }, R = 8;
  double rms[3], rms0 = 0;
  for (int a = 0; a < 3; a++) {
    double s2 = 0;
    for (int r = 0; r < R; r++) {
      double *x = cloud(Ns[a], 1 + r);
      double w2 = w2_cloud_cells(x, Ns[a], g.lo, g.dx, g.rho, g.M);
      s2 += w2 * w2;
      if (a == 2) {
        double w0 = w2_cloud_cells(x, Ns[a], g0.lo, g0.dx, g0.rho, g0.M);
        rms0 += w0 * w0;
      }
      free(x);
    }
    rms[a] = sqrt(s2 / R);
    report("chaos: N = %d, RMS W2 to the grid limit %.4f", Ns[a], rms[a]);
  }
  rms0 = sqrt(rms0 / R);
  double slope = log(rms[2] / rms[0]) / log((double)Ns[2] / Ns[0]);
  report("chaos: slope %.3f; N = 400 against the grid law without interaction: %.4f", slope, rms0);
  /* N^(-1/2) with R = 8 repetitions: each RMS has a relative spread of
  ** about 1/sqrt(2R) = 25%, so over a factor 16 in N the slope is -0.5
  ** within +-0.2 (log(1.25^2)/log 16 = 0.16); the schemes' own errors
  ** (grid: second order in dx = 0.01; Euler-Maruyama: weak order 1 in h
  ** = 0.002) are below 0.01, a fifth of W2 at N = 400. */
  ck_assert_msg(slope > -0.7 && slope < -0.3, "slope %.3f", slope);
  /* The wrong limit (no interaction) is far outside the N = 400 spread. */
  ck_assert_msg(rms0 > 2 * rms[2], "without interaction %.4f, with %.4f", rms0, rms[2]);
  free(g.rho), free(g0.rho);
}
END_TEST

int main(void) {
  Suite *s = suite_create("chaos");
  TCase *tc = tcase_create("limit");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_w2_to_grid_limit);
  suite_add_tcase(s, tc);
  return check_run(s);
}
