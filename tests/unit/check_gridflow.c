/*
** check_gridflow.c — the grid flow kinds (lang/flows/kind_grid.c) through
** the language: every test writes an hnn script with an `energy` and a
** fokker_planck / jko / entropic_jko flow, runs it through the public API
** and reads back the density and monitor files, against closed forms:
**
**   - heat flow: variance var0 + 2t, for finite volumes and for the JKO
**     iterates, with the first-order rate under refinement, and the
**     second-order rate of `order 2` (with the OU solution);
**   - Ornstein-Uhlenbeck (V = x^2/2, T = 1): the Gaussian solution value by
**     value, and the stationary density exp(-V/T)/Z (with and without a
**     mobility G^-1; the diffusion machine's equation, 000 eq. 49, in 2-D);
**   - porous medium m = 2 and 3: the L1 error to the Barenblatt solution at
**     t = 1 and its rate;
**   - a quadratic interaction: the variance T + (v0 - T) e^(-2t);
**   - entropic JKO of the heat flow: the Gaussian recursion of its steps;
**   - the monitor's distance columns (reference / w2_to / sinkhorn_to) in
**     1-D and 2-D: the Gelbrich bound and the h^2 lattice gap of W2, S_eps
**     between Gaussians in closed form, along OU flows at rate 2;
**   - the target terms: mmd and energy_distance against their hand-written
**     interaction + potential rewrites, w2 in jko (the implicit-Euler mean);
**   - in every run: mass to 1e-12, no negative density, free energy never
**     increasing;
**   - the same bits for 1 and 2 threads (2-D finite volumes).
** The engines' own tests are in check_grid.c.
*/
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "hnn.h"
#include "testenv.h"


/* Monitor columns: t, step, mass, energy, entropy, second_moment, mean (1-D),
** min_rho, iterations, w2_start (, w2_ref). */
enum { M_T, M_STEP, M_MASS, M_ENERGY, M_ENTROPY, M_M2, M_MEAN, M_MIN };

/* What every run must keep: mass 1 to 1e-12 (the schemes are conservative:
** rounding over a few hundred steps), rho >= 0, the energy never
** increasing (to rounding of its size). */
static void invariants(const csv *m, int energy_monotone) {
  for (int r = 0; r < m->rows; r++) {
    ck_assert_msg(fabs(at(m, r, M_MASS) - 1) <= 1e-12, "mass %.17g at row %d", at(m, r, M_MASS), r);
    ck_assert_msg(at(m, r, M_MIN) >= 0, "negative density %g at row %d", at(m, r, M_MIN), r);
    if (energy_monotone && r > 0)
      ck_assert_msg(at(m, r, M_ENERGY) <= at(m, r - 1, M_ENERGY) + 1e-12 * (1 + fabs(at(m, r - 1, M_ENERGY))),
                    "energy rose from %.17g to %.17g at row %d", at(m, r - 1, M_ENERGY), at(m, r, M_ENERGY), r);
  }
}

static double last(const csv *c, int j) { return at(c, c->rows - 1, j); }

/* ------------------------------------------------------------ heat */

/* Variance at t = 1 of the heat flow from N(0, 0.25) on [-8, 8] (order 1
** or 2 in space). */
static double heat_fv_error_order(int cells, double dt, int order) {
  env e;
  env_open(&e, "gridflow");
  char src[512];
  snprintf(src, sizeof src,
           "energy H = entropy\nflow h = fokker_planck(H)\n"
           "run h from normal([0], [0.25]) grid [-8, 8] cells %d dt %g until 1 every 0.1 order %d -> \"h.csv\"\n", cells,
           dt, order);
  load_ok(&e, src);
  csv m = read_csv(&e, "h_monitor.csv");
  ck_assert_int_eq(m.rows, 11);
  invariants(&m, 1);
  double var = last(&m, M_M2) - last(&m, M_MEAN) * last(&m, M_MEAN);
  /* the start's variance on the grid: the centre values of N(0, 0.25) */
  double var0 = at(&m, 0, M_M2) - at(&m, 0, M_MEAN) * at(&m, 0, M_MEAN);
  free(m.d);
  env_close(&e);
  return fabs(var - (var0 + 2));
}

static double heat_fv_error(int cells, double dt) { return heat_fv_error_order(cells, dt, 1); }

START_TEST(test_heat_fv) {
  /* Implicit Euler keeps d var/dt = 2 exactly for the linear flux; the
  ** upwind flux's numerical diffusion adds about 1.55 h (docs/grid.md), so
  ** the error is first order: below 2h at h = 0.04 and halving with h. */
  double e1 = heat_fv_error(200, 0.02), e2 = heat_fv_error(400, 0.01);
  double rate = log2(e1 / e2);
  report("heat fv: error %.4g (200 cells), %.4g (400 cells), rate %.3f", e1, e2, rate);
  ck_assert_double_lt(e2, 2 * 0.04);
  ck_assert_double_gt(rate, 0.85);
  ck_assert_double_lt(rate, 1.15);
}
END_TEST

/* Second order in space (order 2: CCH's minmod reconstruction).  The
** variance of the heat flow is exact in time for implicit Euler (linear
** flux), so its error is the spatial one: O(h^2) (measured 3.7e-3, 9.0e-4,
** 2.2e-4 at 200, 400, 800 cells).  The OU solution value by value with
** dt ~ h^2 (time error O(dt) = O(h^2)): 6.3e-3, 1.5e-3 at 100, 200 cells;
** minmod clips the slope at the peak, so the max-norm rate is a little
** under 2 as h shrinks (1.8 at 400). */
static double ou_order2_error(int cells, double dt) {
  env e;
  env_open(&e, "gridflow");
  char src[512];
  snprintf(src, sizeof src,
           "param T = 1\nobjective V(x[1]) = x[1]^2/2\nenergy E = potential(V) + T*entropy\nflow ou = fokker_planck(E)\n"
           "run ou from normal([1], [0.25]) grid [-6, 6] cells %d dt %g until 1 every 1 order 2 -> \"ou.csv\"\n", cells, dt);
  load_ok(&e, src);
  csv m = read_csv(&e, "ou_monitor.csv"), d = read_csv(&e, "ou.csv");
  invariants(&m, 1);
  double mu = exp(-1), var = 1 - 0.75 * exp(-2), peak = 1 / sqrt(2 * M_PI * var), err = 0;
  for (int r = cells; r < d.rows; r++) {
    double x = at(&d, r, 2), exact = peak * exp(-(x - mu) * (x - mu) / (2 * var));
    err = fmax(err, fabs(at(&d, r, 3) - exact) / peak);
  }
  free(m.d);
  free(d.d);
  env_close(&e);
  return err;
}

START_TEST(test_second_order) {
  double e1 = heat_fv_error_order(200, 0.02, 2), e2 = heat_fv_error_order(400, 0.02, 2);
  report("heat fv order 2: error %.4g (200 cells), %.4g (400 cells), rate %.3f", e1, e2, log2(e1 / e2));
  ck_assert_double_gt(log2(e1 / e2), 1.8);
  ck_assert_double_lt(log2(e1 / e2), 2.3);
  ck_assert_double_lt(e2, 1.5e-3);
  double o1 = ou_order2_error(100, 0.04), o2 = ou_order2_error(200, 0.01);
  report("ou order 2: error %.4g (100 cells), %.4g (200 cells), rate %.3f", o1, o2, log2(o1 / o2));
  ck_assert_double_gt(log2(o1 / o2), 1.8);
  ck_assert_double_lt(o2, 2.5e-3);
}
END_TEST

/* The JKO iterates' second moment (mean 0): M2_k - M2_0 = 2t - sum W2^2,
** and sum W2^2 ~ tau int I(rho) dt (Fisher information 1/var): first order
** in tau, about 1.1 tau here. */
static double heat_jko_error(double tau) {
  env e;
  env_open(&e, "gridflow");
  char src[512];
  snprintf(src, sizeof src,
           "energy H = entropy\nflow j = jko(H)\n"
           "run j from normal([0], [0.25]) grid [-4, 4] cells 400 points 2000 dt %g until 1 every 0.5 -> \"j.csv\"\n",
           tau);
  load_ok(&e, src);
  csv m = read_csv(&e, "j_monitor.csv");
  ck_assert_int_eq(m.rows, 3);
  /* the grid output holds the part of the unit mass inside the grid: the
  ** energy and moments are the quantiles' own */
  for (int r = 1; r < m.rows; r++) ck_assert_double_le(at(&m, r, M_ENERGY), at(&m, r - 1, M_ENERGY));
  for (int r = 0; r < m.rows; r++) ck_assert(fabs(at(&m, r, M_MEAN)) <= 1e-12);
  double err = fabs(last(&m, M_M2) - at(&m, 0, M_M2) - 2);
  csv q = read_csv(&e, "j_quantiles.csv");
  ck_assert_int_eq(q.rows, 3 * 2001);
  for (int r = 1; r < q.rows; r++)
    if (at(&q, r, 0) == at(&q, r - 1, 0)) ck_assert(at(&q, r, 3) > at(&q, r - 1, 3));   /* Q increasing */
  free(q.d);
  free(m.d);
  env_close(&e);
  return err;
}

START_TEST(test_heat_jko) {
  double e1 = heat_jko_error(0.02), e2 = heat_jko_error(0.01);
  double rate = log2(e1 / e2);
  report("heat jko: error %.4g (tau 0.02), %.4g (tau 0.01), rate %.3f", e1, e2, rate);
  ck_assert_double_lt(e2, 2 * 1.1 * 0.01);
  ck_assert_double_gt(rate, 0.85);
  ck_assert_double_lt(rate, 1.15);
}
END_TEST

/* ------------------------------------------------------------ Ornstein-Uhlenbeck */

START_TEST(test_ou_gaussian) {
  env e;
  env_open(&e, "gridflow");
  load_ok(&e, "param T = 1\nobjective V(x[1]) = x[1]^2/2\nenergy E = potential(V) + T*entropy\n"
              "flow ou = fokker_planck(E)\n"
              "run ou from normal([1], [0.25]) grid [-6, 6] cells 400 dt 0.01 until 1 every 0.25 -> \"ou.csv\"\n");
  csv m = read_csv(&e, "ou_monitor.csv"), d = read_csv(&e, "ou.csv");
  invariants(&m, 1);
  ck_assert_int_eq(d.rows, 5 * 400);
  /* exact: N(e^-t, 1 - 0.75 e^-2t) at t = 1, value by value at the cell
  ** centres.  First order in h and dt together: the measured error is
  ** 0.53e-2 at h = 0.03 (docs/grid.md's refinement study halves it with h);
  ** the bound is twice that. */
  double mu = exp(-1), var = 1 - 0.75 * exp(-2), peak = 1 / sqrt(2 * M_PI * var), err = 0;
  for (int r = 4 * 400; r < d.rows; r++) {
    ck_assert_double_eq(at(&d, r, 0), 1);
    double x = at(&d, r, 2), exact = peak * exp(-(x - mu) * (x - mu) / (2 * var));
    err = fmax(err, fabs(at(&d, r, 3) - exact) / peak);
  }
  report("ou: max |rho - exact| / peak = %.4g", err);
  ck_assert_double_lt(err, 1.1e-2);
  free(m.d);
  free(d.d);
  env_close(&e);
}
END_TEST

/* The discrete steady state is exact: u = 0 on every face exactly when
** V + T log rho is constant, so rho_i = exp(-V_i/T)/Z_h; implicit Euler
** with dt = 10 contracts the error by 1/(1 + lambda dt) per step (lambda
** the spectral gap, ~0.3 for this double well at T = 0.5), so 30 steps
** leave < 1e-15, and Newton's tolerance is 1e-12 of the peak.  (This test
** found a Jacobian that multiplied the upwind term by the mobility twice:
** with the mobility 1 + x^2, Newton then crawled and the far tail took
** until t ~ 500 to come back.)  A mobility does not change the steady state. */
static void stationary(const char *metric_decl, const char *flowargs) {
  env e;
  env_open(&e, "gridflow");
  char src[1024];
  snprintf(src, sizeof src,
           "param T = 0.5\nobjective V(x[1]) = (x[1]^2 - 1)^2/4 + x[1]/5\nenergy E = potential(V) + T*entropy\n%s\n"
           "flow s = fokker_planck(%s)\n"
           "run s from normal([1], [0.1]) grid [-3, 3] cells 120 dt 10 until 300 every 300 -> \"s.csv\"\n",
           metric_decl, flowargs);
  load_ok(&e, src);
  csv m = read_csv(&e, "s_monitor.csv"), d = read_csv(&e, "s.csv");
  invariants(&m, 1);
  double Z = 0, h = 6.0 / 120, err = 0, peak = 0;
  for (int r = 120; r < 240; r++) {
    double x = at(&d, r, 2);
    Z += exp(-((x * x - 1) * (x * x - 1) / 4 + x / 5) / 0.5) * h;
  }
  for (int r = 120; r < 240; r++) {
    double x = at(&d, r, 2), g = exp(-((x * x - 1) * (x * x - 1) / 4 + x / 5) / 0.5) / Z;
    err = fmax(err, fabs(at(&d, r, 3) - g));
    peak = fmax(peak, g);
  }
  err /= peak;
  /* Newton stops when no cell moves by more than 1e-12 of the peak (fv.h),
  ** so the error is measured relative to the peak */
  report("stationary %s: max |rho - exp(-V/T)/Z| / peak %.3g", flowargs, err);
  ck_assert_double_lt(err, 1e-9);
  /* at the steady state a step is one Newton iteration: the residual's
  ** rounding floor counts the rounding of xi (it once did not, and with
  ** dt / h = 200 the line search failed on rounding noise and split steps) */
  ck_assert_double_le(last(&m, 8), 1);
  free(m.d);
  free(d.d);
  env_close(&e);
}

/* The diffusion machine's Fokker-Planck equation (000 eq. 49) in 2-D: the
** mobility G^-1 = diag(s'(s^-1(x))) = diag(x (1 - x)) of hopfield(logistic)
** on [0, 1]^2, which vanishes on the boundary; the steady state is still
** exp(-f/T)/Z at the cell centres.  Measured contraction ~0.25 per step of
** dt = 10 (error 4.9e-7 at t = 100, 3.7e-13 at 200), so t = 300 leaves
** rounding. */
static void stationary_machine(void) {
  env e;
  env_open(&e, "gridflow");
  load_ok(&e, "param T = 0.2\nactivation logistic(u) = 1/(1 + exp(-u))\n"
              "objective f(x[2]) = (x[1] - 0.3)^2 + 2*(x[2] - 0.6)^2 + x[1]*x[2]\n"
              "energy E = potential(f) + T*entropy\nmetric G = hopfield(logistic)\nflow dm = fokker_planck(E, G)\n"
              "run dm from normal([0.5, 0.5], [0.05, 0.05]) grid [0, 1] cells 40 dt 10 until 300 every 300 -> \"dm.csv\"\n");
  csv d = read_csv(&e, "dm.csv");
  ck_assert_int_eq(d.rows, 2 * 1600);
  double Z = 0, peak = 0, err = 0, h2 = 1.0 / 1600;
  for (int pass = 0; pass < 2; pass++)
    for (int r = 1600; r < 3200; r++) {
      double a = at(&d, r, 2), b = at(&d, r, 3);
      double g = exp(-((a - 0.3) * (a - 0.3) + 2 * (b - 0.6) * (b - 0.6) + a * b) / 0.2);
      if (pass == 0) Z += g * h2;
      else {
        err = fmax(err, fabs(at(&d, r, 4) - g / Z));
        peak = fmax(peak, g / Z);
      }
    }
  report("stationary diffusion machine (000 eq. 49, 2-D): max |rho - exp(-f/T)/Z| / peak %.3g", err / peak);
  ck_assert_double_lt(err / peak, 1e-10);
  free(d.d);
  env_close(&e);
}

START_TEST(test_stationary) {
  stationary("", "E");
  stationary("metric M(x[1]) = diag(1/(1 + x^2))", "E, M");
  stationary_machine();
}
END_TEST

/* The reference option and a start from points: the OU flow from the
** points of a csv file (binned) to N(0, 1); W2 to the reference falls to
** the size of the grid's error (first order: ~h) and the start's binned
** mass is 1. */
START_TEST(test_reference_points) {
  env e;
  env_open(&e, "gridflow");
  char path[256];
  snprintf(path, sizeof path, "%s/pts.csv", e.dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f, "# x\n");
  for (int i = 0; i < 200; i++) fprintf(f, "%.6f\n", 1.5 + 0.5 * ((i + 0.5) / 200.0 - 0.5));   /* uniform on [1.25, 1.75] */
  fclose(f);
  char src[1024];
  snprintf(src, sizeof src,
           "param T = 1\nobjective V(x[1]) = x[1]^2/2\nenergy E = potential(V) + T*entropy\nflow ou = fokker_planck(E)\n"
           "run ou from csv(\"%s\") grid [-6, 6] cells 240 dt 0.05 until 6 every 2 reference normal([0], [1]) -> \"r.csv\"\n",
           path);
  load_ok(&e, src);
  csv m = read_csv(&e, "r_monitor.csv");
  invariants(&m, 1);
  ck_assert_int_eq(m.cols, 11);
  /* at t = 0 the binned start sits at 1.5 +- 0.25: W2 to N(0, 1) is about
  ** sqrt(1.5^2 + (1 - 0.144)^2) ~ 1.7; by t = 6 (e^-6 of the mean left) it
  ** is the h = 0.05 discretization error */
  report("reference: w2_ref %.4g -> %.4g", at(&m, 0, 10), last(&m, 10));
  ck_assert_double_gt(at(&m, 0, 10), 1.5);
  ck_assert_double_lt(last(&m, 10), 0.05);
  for (int r = 1; r < m.rows; r++) ck_assert_double_lt(at(&m, r, 10), at(&m, r - 1, 10));
  /* w2_start grows from 0 to about W2(start, N(0, 1)) */
  ck_assert_double_lt(at(&m, 0, 9), 1e-12);   /* the start vs itself (after the 1e-100 floor of empty cells) */
  ck_assert_double_gt(last(&m, 9), 1.5);
  free(m.d);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------------------ porous medium */

/* The Barenblatt solution of rho_t = (rho^m)_xx of mass 1:
** B(x, t) = t^-a (C - k x^2 t^-2a)_+^(1/(m-1)), a = 1/(m+1), k = a(m-1)/(2m),
** mass C^(1/(m-1) + 1/2) k^(-1/2) int (1 - y^2)_+^(1/(m-1)) dy = 1 gives
** C = (3 sqrt(k)/4)^(2/3) for m = 2 and C = 2 sqrt(k)/pi for m = 3. */
static double barenblatt(double m, double x, double t) {
  double a = 1 / (m + 1), k = a * (m - 1) / (2 * m);
  double C = m == 2 ? pow(3 * sqrt(k) / 4, 2.0 / 3) : 2 * sqrt(k) / M_PI;
  double v = C - k * x * x * pow(t, -2 * a);
  return v > 0 ? pow(t, -a) * pow(v, 1 / (m - 1)) : 0;
}

static double barenblatt_error(const char *flow, int m, int cells, double dt) {
  env e;
  env_open(&e, "gridflow");
  char src[1024];
  snprintf(src, sizeof src,
           "param m = %d\nparam t0 = 0.01\nparam a = 1/(m + 1)\nparam k = a*(m - 1)/(2*m)\nparam C = %s\n"
           "function B0(x[1]) = max(C - k*x[1]^2/t0^(2*a), 0)^(1/(m - 1))\n"
           "energy P = power_entropy(m)\nflow pm = %s(P)\n"
           "run pm from B0 grid [-3, 3] cells %d dt %g until 1 every 1 -> \"pm.csv\"\n", m,
           m == 2 ? "(3*sqrt(k)/4)^(2/3)" : "2*sqrt(k)/pi", flow, cells, dt);
  load_ok(&e, src);
  csv mon = read_csv(&e, "pm_monitor.csv"), d = read_csv(&e, "pm.csv");
  invariants(&mon, 1);
  double h = 6.0 / cells, err = 0;
  for (int r = cells; r < 2 * cells; r++) err += fabs(at(&d, r, 3) - barenblatt(m, at(&d, r, 2), 1.01)) * h;
  free(mon.d);
  free(d.d);
  env_close(&e);
  return err;
}

START_TEST(test_barenblatt) {
  /* From the Barenblatt profile at t0 = 0.01 (its centre values,
  ** normalized), the L1 error at t = 1 is first order in h and dt together
  ** away from the front, where the profile is only Holder continuous, so the
  ** observed rate is a little under 1 at these resolutions (docs/grid.md:
  ** 0.87-0.94 for m = 2, 0.79-0.89 for m = 3): we ask for > 0.7 and for the
  ** finest error below 1.5 times the documented error at that resolution. */
  for (int m = 2; m <= 3; m++) {
    double e1 = barenblatt_error("fokker_planck", m, 100, 0.02), e2 = barenblatt_error("fokker_planck", m, 200, 0.01);
    double e3 = barenblatt_error("fokker_planck", m, 400, 0.005);
    report("barenblatt fv m = %d: L1 %.4g %.4g %.4g, rates %.3f %.3f", m, e1, e2, e3, log2(e1 / e2), log2(e2 / e3));
    ck_assert_double_gt(log2(e2 / e3), 0.7);
    ck_assert_double_lt(e3, 1.5 * (m == 2 ? 4.020e-3 : 3.602e-3));
  }
  double j1 = barenblatt_error("jko", 2, 200, 0.02), j2 = barenblatt_error("jko", 2, 400, 0.01);
  report("barenblatt jko m = 2: L1 %.4g %.4g, rate %.3f", j1, j2, log2(j1 / j2));
  ck_assert_double_gt(log2(j1 / j2), 0.7);
  ck_assert_double_lt(j2, 1.5 * 1.144e-2);
}
END_TEST

/* ------------------------------------------------------------ interaction */

/* W(z) = z^2/2: W * rho = ((x - mean)^2 + var)/2, the velocity -(x - mean)
** - T rho'/rho, so the mean stays and var' = 2T - 2 var:
** var(t) = T + (var0 - T) e^(-2t). */
START_TEST(test_interaction) {
  env e;
  env_open(&e, "gridflow");
  load_ok(&e, "param T = 0.2\nkernel k(x[1], y[1]) = norm2(x - y)/2\nenergy E = interaction(k) + T*entropy\n"
              "flow a = fokker_planck(E)\n"
              "run a from normal([0.5], [1]) grid [-5, 6] cells 440 dt 0.01 until 1 every 0.5 -> \"a.csv\"\n");
  csv m = read_csv(&e, "a_monitor.csv");
  /* on perturbations d of mass 0, <W * d, d> = -(int x d)^2 <= 0: W is not
  ** positive semi-definite, so fv.h bounds an energy rise only by O(dt^2)
  ** per step; mass and positivity are held here */
  invariants(&m, 0);
  double var0 = at(&m, 0, M_M2) - at(&m, 0, M_MEAN) * at(&m, 0, M_MEAN);
  double var = last(&m, M_M2) - last(&m, M_MEAN) * last(&m, M_MEAN);
  double exact = 0.2 + (var0 - 0.2) * exp(-2);
  report("interaction: var %.6g exact %.6g, mean %.6g -> %.6g", var, exact, at(&m, 0, M_MEAN), last(&m, M_MEAN));
  /* the mean is kept to rounding (the velocity is odd about it); the
  ** variance is first order: numerical diffusion ~1.55 h T-weighted plus
  ** O(dt); h = 0.025 */
  ck_assert_double_lt(fabs(last(&m, M_MEAN) - at(&m, 0, M_MEAN)), 1e-10);
  ck_assert_double_lt(fabs(var - exact), 0.025);
  free(m.d);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------------------ entropic JKO */

START_TEST(test_entropic) {
  env e;
  env_open(&e, "gridflow");
  load_ok(&e, "param T = 1\nobjective V(x[1]) = x[1]^2/2\nenergy E = potential(V) + T*entropy\n"
              "flow je = entropic_jko(E, eps = 0.01)\n"
              "run je from normal([1], [0.25]) grid [-4, 4] cells 100 dt 0.1 until 1 every 0.5 -> \"je.csv\"\n");
  csv m = read_csv(&e, "je_monitor.csv");
  invariants(&m, 1);
  /* the mean follows implicit Euler of x' = -x up to the entropic blur,
  ** O(eps) and O(h): 1/(1 + tau)^10 */
  report("entropic: mean %.6g vs %.6g", last(&m, M_MEAN), pow(1 / 1.1, 10));
  ck_assert_double_lt(fabs(last(&m, M_MEAN) - pow(1 / 1.1, 10)), 0.02);
  free(m.d);
  env_close(&e);
}
END_TEST

/* The entropic JKO of the heat flow from a Gaussian stays Gaussian: over
** couplings with covariance [[s2, c], [c, v]] the step minimizes
** s2 + v - 2c - (eps/2) log(s2 v - c^2) - tau T log v (the grid adds
** constants), so 2 c^2 + eps c - 2 s2 v = 0 and
** 1 - (eps/2) s2/(s2 v - c^2) - tau T/v = 0 (check_grid.c derives it).  The
** midpoint rule is spectrally accurate for Gaussians and the marginal
** tolerance is 1e-11, so the variances agree to 1e-9 (check_grid measured
** 6e-11). */
static double ent_next(double s2, double eps, double tau, double T) {
  double lo = 1e-12, hi = 100;
  for (int it = 0; it < 200; it++) {
    double v = 0.5 * (lo + hi), c = (-eps + sqrt(eps * eps + 16 * s2 * v)) / 4, D = s2 * v - c * c;
    if (1 - (eps / 2) * s2 / D - tau * T / v > 0) hi = v;
    else lo = v;
  }
  return 0.5 * (lo + hi);
}

START_TEST(test_entropic_gaussian) {
  env e;
  env_open(&e, "gridflow");
  load_ok(&e, "energy H = entropy\nflow je = entropic_jko(H, eps = 0.05)\n"
              "run je from normal([0], [0.5]) grid [-8, 8] cells 320 dt 0.1 until 0.4 every 0.1 tol 1e-11 -> \"g.csv\"\n");
  csv m = read_csv(&e, "g_monitor.csv");
  ck_assert_int_eq(m.rows, 5);
  invariants(&m, 1);
  double v = at(&m, 0, M_M2) - at(&m, 0, M_MEAN) * at(&m, 0, M_MEAN), worst = 0;
  for (int r = 1; r < m.rows; r++) {
    v = ent_next(v, 0.05, 0.1, 1);
    double var = at(&m, r, M_M2) - at(&m, r, M_MEAN) * at(&m, r, M_MEAN);
    worst = fmax(worst, fabs(var / v - 1));
  }
  report("entropic Gaussian recursion: worst relative variance error %.3g", worst);
  ck_assert_double_lt(worst, 1e-9);
  free(m.d);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------------------ 2-D, threads */

static char *run_2d(const char *threads) {
  setenv("HNN_THREADS", threads, 1);
  env e;
  env_open(&e, "gridflow");
  load_ok(&e, "function beta(x[2]) = exp(-norm2(x - [1, 0])/0.5) + exp(-norm2(x + [1, 0])/0.5)\n"
              "energy K = kl(beta)\nflow f = fokker_planck(K)\n"
              "run f from normal([0, 0], [1, 1]) grid [-3, 3] cells [48, 40] dt 0.05 until 0.5 every 0.25 -> \"f.csv\"\n");
  csv m = read_csv(&e, "f_monitor.csv"), d = read_csv(&e, "f.csv");
  ck_assert_int_eq(d.rows, 3 * 48 * 40);
  ck_assert_int_eq(d.cols, 5);
  /* x fastest: numpy reshapes rho to (40, 48) */
  ck_assert_double_eq(at(&d, 1, 3), at(&d, 0, 3));
  ck_assert_double_gt(at(&d, 1, 2), at(&d, 0, 2));
  for (int r = 0; r < m.rows; r++) {
    ck_assert(fabs(at(&m, r, M_MASS) - 1) <= 1e-12);
    ck_assert(at(&m, r, 8) >= 0);   /* min_rho after mean1, mean2 */
    if (r) ck_assert(at(&m, r, M_ENERGY) <= at(&m, r - 1, M_ENERGY));
  }
  char *s = env_file_bytes(&e, "f.csv", NULL);
  free(m.d);
  free(d.d);
  env_close(&e);
  unsetenv("HNN_THREADS");
  return s;
}

START_TEST(test_2d_threads) {
  char *a = run_2d("1"), *b = run_2d("2");
  ck_assert_str_eq(a, b);
  free(a);
  free(b);
}
END_TEST


/* ------------------------------------------------------------ distances in 2-D */

/* 2 x 2 symmetric matrices as (a, b, c) = [[a, b], [b, c]]. */
static void sym_sqrt(const double M[3], double R[3]) {
  double s = sqrt(M[0] * M[2] - M[1] * M[1]), t = sqrt(M[0] + M[2] + 2 * s);
  R[0] = (M[0] + s) / t, R[1] = M[1] / t, R[2] = (M[2] + s) / t;
}

/* A^(1/2) B A^(1/2), symmetric. */
static void sandwich(const double A[3], const double B[3], double C[3]) {
  double h[3], P[4];
  sym_sqrt(A, h);
  P[0] = h[0] * B[0] + h[1] * B[1], P[1] = h[0] * B[1] + h[1] * B[2];
  P[2] = h[1] * B[0] + h[2] * B[1], P[3] = h[1] * B[1] + h[2] * B[2];
  C[0] = P[0] * h[0] + P[1] * h[1];
  C[1] = P[0] * h[1] + P[1] * h[2];
  C[2] = P[2] * h[1] + P[3] * h[2];
}

/* W2^2 between N(m1, A) and N(m2, B): |m1 - m2|^2 + tr(A + B - 2 (A^1/2 B A^1/2)^1/2).
** For any two laws with these means and covariances it is a lower bound
** (Gelbrich): so it bounds the W2 of two grid densities from below, with
** their own discrete moments. */
static double gauss_w2sq(const double m1[2], const double A[3], const double m2[2], const double B[3]) {
  double C[3], R[3];
  sandwich(A, B, C);
  sym_sqrt(C, R);
  double dm = (m1[0] - m2[0]) * (m1[0] - m2[0]) + (m1[1] - m2[1]) * (m1[1] - m2[1]);
  return dm + A[0] + A[2] + B[0] + B[2] - 2 * (R[0] + R[2]);
}

/* OT_eps between N(m1, A) and N(m2, B) for the cost |x - y|^2 and eps KL(P | a x b)
** (Janati et al. 2020, Thm. 1, with sigma^2 = eps/2), without the term
** d sigma^2 (1 - log 2 sigma^2), which cancels in the divergence. */
static double gauss_ot_eps(const double m1[2], const double A[3], const double m2[2], const double B[3], double eps) {
  double s2 = eps / 2, C[3], D[3];
  sandwich(A, B, C);
  double M[3] = { 4 * C[0] + s2 * s2, 4 * C[1], 4 * C[2] + s2 * s2 };
  sym_sqrt(M, D);
  double det = (D[0] + s2) * (D[2] + s2) - D[1] * D[1];
  double dm = (m1[0] - m2[0]) * (m1[0] - m2[0]) + (m1[1] - m2[1]) * (m1[1] - m2[1]);
  return dm + A[0] + A[2] + B[0] + B[2] - D[0] - D[2] + s2 * log(det);
}

static double gauss_sinkhorn(const double m1[2], const double A[3], const double m2[2], const double B[3], double eps) {
  return gauss_ot_eps(m1, A, m2, B, eps) - gauss_ot_eps(m1, A, m1, A, eps) / 2 - gauss_ot_eps(m2, B, m2, B, eps) / 2;
}

/* Mean and covariance of the 2-D density rows [r0, r0 + n) of d (t, step, x1, x2, rho). */
static void grid_moments(const csv *d, int r0, int n, double m[2], double C[3]) {
  double W = 0, s1 = 0, s2 = 0, s11 = 0, s12 = 0, s22 = 0;
  for (int r = r0; r < r0 + n; r++) {
    double x = at(d, r, 2), y = at(d, r, 3), w = at(d, r, 4);
    W += w, s1 += w * x, s2 += w * y, s11 += w * x * x, s12 += w * x * y, s22 += w * y * y;
  }
  m[0] = s1 / W, m[1] = s2 / W;
  C[0] = s11 / W - m[0] * m[0], C[1] = s12 / W - m[0] * m[1], C[2] = s22 / W - m[1] * m[1];
}

/* The same moments of N(0, I) put on the grid of rows [r0, r0 + n). */
static void normal_grid_moments(const csv *d, int r0, int n, double m[2], double C[3]) {
  csv g = { n, 5, malloc((size_t)n * 5 * sizeof(double)) };
  for (int r = 0; r < n; r++) {
    double x = at(d, r0 + r, 2), y = at(d, r0 + r, 3);
    g.d[r * 5 + 2] = x, g.d[r * 5 + 3] = y, g.d[r * 5 + 4] = exp(-(x * x + y * y) / 2);
  }
  grid_moments(&g, 0, n, m, C);
  free(g.d);
}

/* The OU run of the 2-D distance tests: start N(m0, S0), reference N(0, I). */
#define OU2_START "normal([1, -0.5], [[0.5, 0.2], [0.2, 0.3]])"
static const double ou2_m0[2] = { 1, -0.5 }, ou2_S0[3] = { 0.5, 0.2, 0.3 };

/* w2_ref and sinkhorn_to at the start on an n x n grid of [-5, 5]^2: the
** W2 squared minus the Gelbrich bound of the two grid densities' own
** moments (divided by h^2) and the Sinkhorn divergence's error. */
static void w2_start_2d(int n, double *gap, double *sk_err) {
  /* gap NULL: only the Sinkhorn column (the exact W2 at 32 x 32 cells costs
  ** ~0.6 s of CPU a row) */
  env e;
  env_open(&e, "gridflow");
  char src[1024];
  snprintf(src, sizeof src,
           "param T = 1\nobjective V(x[2]) = norm2(x)/2\nenergy E = potential(V) + T*entropy\nflow ou = fokker_planck(E)\n"
           "run ou from " OU2_START " grid [-5, 5] cells %d dt 0.01 until 0.01 every 1%s%s -> \"g.csv\"\n", n,
           gap ? " reference normal([0, 0], [1, 1])" : "", sk_err ? " sinkhorn_to normal([0, 0], [1, 1]) monitor_eps 0.1" : "");
  load_ok(&e, src);
  csv m = read_csv(&e, "g_monitor.csv"), d = read_csv(&e, "g.csv");
  ck_assert_int_eq(m.cols, 10 + !!gap + !!sk_err);   /* no w2_start in 2-D: w2_ref, sinkhorn_to from column 10 */
  if (gap) {
    double m1[2], A[3], m2[2], B[3], h = 10.0 / n, w2 = at(&m, 0, 10);
    grid_moments(&d, 0, n * n, m1, A);
    normal_grid_moments(&d, 0, n * n, m2, B);
    double G = gauss_w2sq(m1, A, m2, B);
    /* Gelbrich: no coupling of these two point sets costs less than G (the
    ** solver's integer weights move the value by ~1e-15 of it) */
    ck_assert_msg(w2 * w2 >= G * (1 - 1e-12), "W2^2 %.17g below the Gelbrich bound %.17g", w2 * w2, G);
    *gap = (w2 * w2 - G) / (h * h);
    report("2-D w2_ref at %d cells: %.10g, Gelbrich %.10g, closed form %.10g, (W2^2 - G)/h^2 = %.4f", n, w2, sqrt(G),
           sqrt(gauss_w2sq(ou2_m0, ou2_S0, (double[2]){ 0, 0 }, (double[3]){ 1, 0, 1 })), *gap);
  }
  if (sk_err) {
    double exact = gauss_sinkhorn(ou2_m0, ou2_S0, (double[2]){ 0, 0 }, (double[3]){ 1, 0, 1 }, 0.1);
    *sk_err = fabs(at(&m, 0, 10 + !!gap) - exact);
    report("2-D sinkhorn_to at %d cells: %.10g, closed form %.10g", n, at(&m, 0, 10 + !!gap), exact);
  }
  free(m.d);
  free(d.d);
  env_close(&e);
}

/* W2 and the Sinkhorn divergence to a reference law in 2-D, at the start,
** where both densities are Gaussians put on the grid: against the closed
** forms of W2 and of S_eps between Gaussians. */
START_TEST(test_w2_2d) {
  /* The grid densities are point masses at the cell centres.  Each has the
  ** mean and covariance of its own Gaussian up to the tails beyond the box,
  ** but quantizing a law to a lattice adds the rounding inside a cell,
  ** variance h^2/12 per coordinate, to the cost of a map that does not send
  ** lattice to lattice: W2^2 - G ~ 2 d h^2/12 = h^2/3 (d = 2), second
  ** order.  Measured 0.36 h^2, 0.35 h^2 and 0.35 h^2 at h = 0.625, 0.417
  ** and 0.3125; we ask for [0, h^2/2] at 16 and 24 cells and the ratio of
  ** the gaps in W2^2 to be (24/16)^2 = 2.25 +- 0.7 (second order; first
  ** order would give 1.5). */
  double g1, g2, sk;
  w2_start_2d(16, &g1, NULL);
  w2_start_2d(24, &g2, NULL);
  w2_start_2d(32, NULL, &sk);
  double h1 = 10.0 / 16, h2 = 10.0 / 24;
  ck_assert_double_le(g1, 0.5);
  ck_assert_double_le(g2, 0.5);
  ck_assert_double_gt(g1 * h1 * h1 / (g2 * h2 * h2), 1.55);
  ck_assert_double_lt(g1 * h1 * h1 / (g2 * h2 * h2), 2.95);
  /* S_eps at eps = 0.1: the entropic plan smooths at the scale sqrt(eps) =
  ** 0.32 ~ h, so the lattice sums are spectrally accurate (2.0e-3 at h =
  ** 0.42, 1.6e-5 at 0.31) down to the tails cut by the box: the second
  ** moment of N(0, 1) beyond |x| = 5 is 2 (5 phi(5) + Phi(-5)) = 1.6e-5
  ** a coordinate.  We ask 1e-4. */
  ck_assert_double_lt(sk, 1e-4);
}
END_TEST

/* Along the OU flow in 2-D (a density that is no longer exactly a grid
** Gaussian): w2_ref stays between the Gelbrich bound of the density's own
** moments and that bound plus h^2/2, w2_to of the same law is the same
** number, and it falls to the lattice's floor as rho -> the reference (the
** grid steady state is exp(-V)/Z at the centres, the reference on the
** grid, exactly). */
START_TEST(test_w2_2d_flow) {
  int n = 20;
  env e;
  env_open(&e, "gridflow");
  char src[1024];
  snprintf(src, sizeof src,
           "param T = 1\nobjective V(x[2]) = norm2(x)/2\nenergy E = potential(V) + T*entropy\nflow ou = fokker_planck(E)\n"
           "run ou from " OU2_START " grid [-5, 5] cells %d dt 0.05 until 8 every 2 reference normal([0, 0], [1, 1])"
           " w2_to normal([0, 0], [1, 1]) -> \"g.csv\"\n", n);
  load_ok(&e, src);
  csv m = read_csv(&e, "g_monitor.csv"), d = read_csv(&e, "g.csv");
  ck_assert_int_eq(m.rows, 5);
  ck_assert_int_eq(m.cols, 12);
  for (int r = 0; r < m.rows; r++) {   /* invariants() has the 1-D columns */
    ck_assert(fabs(at(&m, r, M_MASS) - 1) <= 1e-12);
    ck_assert(at(&m, r, 8) >= 0);
    if (r) ck_assert(at(&m, r, M_ENERGY) <= at(&m, r - 1, M_ENERGY));
  }
  double h = 10.0 / n;
  for (int r = 0; r < m.rows; r++) {
    double m1[2], A[3], m2[2], B[3], w2 = at(&m, r, 10);
    grid_moments(&d, r * n * n, n * n, m1, A);
    normal_grid_moments(&d, r * n * n, n * n, m2, B);
    double G = gauss_w2sq(m1, A, m2, B);
    report("2-D flow t = %g: w2_ref %.6g, Gelbrich %.6g", at(&m, r, 0), w2, sqrt(fmax(G, 0)));
    ck_assert_double_eq(at(&m, r, 11), w2);
    ck_assert(w2 * w2 >= G - 1e-12);
    ck_assert(w2 * w2 <= G + h * h / 2);
    if (r) ck_assert_double_lt(w2, at(&m, r - 1, 10));
  }
  /* near the reference the lattice W2 is ~h sqrt(mass moved) (moving
  ** mass delta by a cell costs delta h^2): it falls like e^(-t/2), not
  ** e^(-t); measured 0.023 at t = 8 */
  ck_assert_double_lt(last(&m, 10), 0.05);
  free(m.d);
  free(d.d);
  env_close(&e);
}
END_TEST

/* The distance columns along OU flows, whose solutions are Gaussian:
** N(m0 e^-t, I + (S0 - I) e^-2t), so W2 and S_eps to the stationary N(0, I)
** are known in closed form at every t.  With `order 2` and dt ~ h^2 the
** density is second order (test_second_order); the columns' own error at
** the start is far smaller (1-D W2 6.7e-5 at 200 cells, S_eps 4e-8; 2-D
** S_0.25 1e-5 at 24 and 32 cells), so the error at t = 1 is the flow's and
** must fall like h^2.  Measured: 1-D W2 6.45e-3, 1.60e-3 (rate 2.0), S_0.1
** 4.84e-3, 1.19e-3 (2.0); 2-D S_0.25 3.97e-3, 2.36e-3 at 24, 32 cells (rate
** 1.81: (4/3)^1.81 = 1.68). */
static void ou_distance_errors(int dim, int cells, double dt, double *e0, double *e1, double *f0, double *f1) {
  env e;
  env_open(&e, "gridflow");
  char src[1024];
  if (dim == 1)
    snprintf(src, sizeof src,
             "param T = 1\nobjective V(x[1]) = x[1]^2/2\nenergy E = potential(V) + T*entropy\nflow ou = fokker_planck(E)\n"
             "run ou from normal([1], [0.25]) grid [-6, 6] cells %d dt %g until 1 every 1 order 2 w2_to normal([0], [1])"
             " sinkhorn_to normal([0], [1]) monitor_eps 0.1 -> \"o.csv\"\n", cells, dt);
  else
    snprintf(src, sizeof src,
             "param T = 1\nobjective V(x[2]) = norm2(x)/2\nenergy E = potential(V) + T*entropy\nflow ou = fokker_planck(E)\n"
             "run ou from " OU2_START " grid [-5, 5] cells %d dt %g until 1 every 1 order 2 sinkhorn_to normal([0, 0], [1, 1])"
             " monitor_eps 0.25 -> \"o.csv\"\n", cells, dt);
  load_ok(&e, src);
  csv m = read_csv(&e, "o_monitor.csv");
  ck_assert_int_eq(m.rows, 2);
  for (int r = 0; r < 2; r++) {
    double t = at(&m, r, 0), a = exp(-t), b = exp(-2 * t), err_w2 = 0, err_sk;
    if (dim == 1) {
      double v = 1 - 0.75 * b, w2 = sqrt(a * a + (sqrt(v) - 1) * (sqrt(v) - 1));
      double m1[2] = { a, 0 }, A[3] = { v, 0, 1 }, m2[2] = { 0, 0 }, B[3] = { 1, 0, 1 };
      /* a product with a common unit coordinate: the 2-D formula gives the 1-D S_eps */
      err_w2 = fabs(at(&m, r, 10) - w2);
      err_sk = fabs(at(&m, r, 11) - gauss_sinkhorn(m1, A, m2, B, 0.1));
    } else {
      double m1[2] = { ou2_m0[0] * a, ou2_m0[1] * a }, A[3] = { 1 + (ou2_S0[0] - 1) * b, ou2_S0[1] * b, 1 + (ou2_S0[2] - 1) * b };
      err_sk = fabs(at(&m, r, 10) - gauss_sinkhorn(m1, A, (double[2]){ 0, 0 }, (double[3]){ 1, 0, 1 }, 0.25));
    }
    if (r == 0) *e0 = err_w2, *f0 = err_sk;
    else *e1 = err_w2, *f1 = err_sk;
  }
  free(m.d);
  env_close(&e);
}

START_TEST(test_ou_distances) {
  double a0, a1, b0, b1, c0, c1, d0, d1;
  ou_distance_errors(1, 100, 0.04, &a0, &a1, &b0, &b1);
  ou_distance_errors(1, 200, 0.01, &c0, &c1, &d0, &d1);
  report("1-D OU order 2, t = 1: W2 error %.3g, %.3g (rate %.2f), S_0.1 error %.3g, %.3g (rate %.2f); at t = 0 %.2g, %.2g",
         a1, c1, log2(a1 / c1), b1, d1, log2(b1 / d1), c0, d0);
  ck_assert_double_lt(c0, 1e-4);
  ck_assert_double_lt(d0, 1e-6);
  ck_assert_double_gt(log2(a1 / c1), 1.7);
  ck_assert_double_gt(log2(b1 / d1), 1.7);
  ck_assert_double_lt(c1, 2.5e-3);
  ck_assert_double_lt(d1, 2.5e-3);
  double x0, x1, y0, y1, z0, z1;
  ou_distance_errors(2, 24, 0.04 * (16.0 / 24) * (16.0 / 24), &x0, &x1, &y0, &y1);
  ou_distance_errors(2, 32, 0.01, &x0, &x1, &z0, &z1);
  report("2-D OU order 2, t = 1: S_0.25 error %.3g, %.3g (rate %.2f); at t = 0 %.2g, %.2g", y1, z1,
         log(y1 / z1) / log(32.0 / 24), y0, z0);
  ck_assert_double_lt(fmax(y0, z0), 1e-4);
  ck_assert_double_gt(log(y1 / z1) / log(32.0 / 24), 1.5);
  ck_assert_double_lt(z1, 4e-3);
}
END_TEST

/* Targets given as points are taken as they are, and the cloud's weights are
** the cell masses: the uniform density (stationary for entropy alone) against
** the csv file of the cell centres is at distance 0 (W2 exactly, up to
** the solver's rounding; S_eps to its marginal tolerance 1e-6 times the
** squared diameter); and the 1-D sinkhorn_to against S_eps between two
** Gaussians in closed form (the piecewise-constant W2 in 1-D is O(h^2)). */
START_TEST(test_distance_targets) {
  env e;
  env_open(&e, "gridflow");
  char path[256];
  snprintf(path, sizeof path, "%s/c.csv", e.dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  for (int j = 0; j < 8; j++)
    for (int i = 0; i < 8; i++) fprintf(f, "%.17g,%.17g\n", -1 + (i + 0.5) / 4, -1 + (j + 0.5) / 4);
  fclose(f);
  char src[2048];
  snprintf(src, sizeof src,
           "energy H = entropy\nflow h = fokker_planck(H)\n"
           "run h from uniform([-1, -1], [1, 1]) grid [-1, 1] cells 8 dt 0.1 until 0.2 every 0.1 w2_to csv(\"%s\")"
           " sinkhorn_to csv(\"%s\") -> \"u.csv\"\n"
           "param T = 1\nobjective V(x[1]) = x[1]^2/2\nenergy E = potential(V) + T*entropy\nflow ou = fokker_planck(E)\n"
           "run ou from normal([1], [0.5]) grid [-7, 7] cells 200 dt 0.01 until 0.01 every 1 w2_to normal([0], [1])"
           " sinkhorn_to normal([0], [1]) monitor_eps 0.1 -> \"o.csv\"\n", path, path);
  load_ok(&e, src);
  csv m = read_csv(&e, "u_monitor.csv");
  ck_assert_int_eq(m.cols, 12);
  for (int r = 0; r < m.rows; r++) {
    report("uniform vs its centres: w2_to %.3g, sinkhorn_to %.3g", at(&m, r, 10), at(&m, r, 11));
    ck_assert_double_lt(at(&m, r, 10), 1e-6);
    ck_assert_double_lt(fabs(at(&m, r, 11)), 1e-5);
  }
  free(m.d);
  csv o = read_csv(&e, "o_monitor.csv");
  ck_assert_int_eq(o.cols, 12);   /* ..., w2_start, w2_to, sinkhorn_to */
  double w2 = sqrt(1 + 0.5 + 1 - 2 * sqrt(0.5));
  /* gauss_ot_eps in 1-D (sigma^2 = eps/2 = 0.05): D = (4AB + sigma^4)^(1/2) */
  double s2 = 0.05, D = sqrt(4 * 0.5 * 1 + s2 * s2), Da = sqrt(4 * 0.25 + s2 * s2), Db = sqrt(4 + s2 * s2);
  double ot = 1 + 1.5 - D + s2 * log(D + s2), oa = 1 - Da + s2 * log(Da + s2), ob = 2 - Db + s2 * log(Db + s2);
  double sk = ot - oa / 2 - ob / 2;
  report("1-D: w2_to %.12g (exact %.12g), sinkhorn_to %.12g (exact %.12g)", at(&o, 0, 10), w2, at(&o, 0, 11), sk);
  /* W2 of piecewise-constant densities: quantiles linear in each cell,
  ** error O(h^2) (measured 2.4e-5 at h = 0.07, 6e-6 at 0.035); S_eps:
  ** spectrally accurate at h = 0.07 (4e-11), we ask 1e-8 */
  ck_assert_double_lt(fabs(at(&o, 0, 10) - w2), 1e-4);
  ck_assert_double_lt(fabs(at(&o, 0, 11) - sk), 1e-8);
  free(o.d);
  env_close(&e);
}
END_TEST


/* The distance columns do not depend on the thread count (the Sinkhorn
** rows run on the pool, each summed in a fixed order; the network simplex
** is serial). */
static char *run_2d_distances(const char *threads) {
  setenv("HNN_THREADS", threads, 1);
  env e;
  env_open(&e, "gridflow");
  load_ok(&e, "param T = 1\nobjective V(x[2]) = norm2(x)/2\nenergy E = potential(V) + T*entropy\nflow ou = fokker_planck(E)\n"
              "run ou from " OU2_START " grid [-5, 5] cells 16 dt 0.1 until 0.5 every 0.25 reference normal([0, 0], [1, 1])"
              " sinkhorn_to normal([0, 0], [1, 1]) monitor_eps 0.25 -> \"o.csv\"\n");
  char *s = env_file_bytes(&e, "o_monitor.csv", NULL);
  env_close(&e);
  unsetenv("HNN_THREADS");
  return s;
}

START_TEST(test_distance_threads) {
  char *a = run_2d_distances("1"), *b = run_2d_distances("2");
  ck_assert_str_eq(a, b);
  free(a);
  free(b);
}
END_TEST

/* ------------------------------------------------------------ target terms */

/* c mmd(k, t) is interaction(2c k) + potential(-2c k * t) + c int int k t t,
** and c energy_distance(t) the same with k = -|x - y| (docs/energies.md):
** runs of the terms and of their rewrites by hand give the same density
** (to rounding) and energies apart by the constant; the energy column is
** c MMD^2 of the grid density itself, summed here from the density file;
** and the energy never increases (the Gaussian kernel is positive
** definite, -|x - y| conditionally so on the zero-mass steps). */
START_TEST(test_target_terms) {
  static const char *const src =
      "param P = [[0.5], [1.25], [2]]\nparam c = 0.7\n"
      "kernel k(x[1], y[1]) = exp(-norm2(x - y)/2)\nkernel k2(x[1], y[1]) = 2*c*exp(-norm2(x - y)/2)\n"
      "objective Vt(x[1]) = -2*c*(k(x, [0.5]) + k(x, [1.25]) + k(x, [2]))/3\n"
      "kernel kd(x[1], y[1]) = -2*c*norm(x - y)\n"
      "objective Vd(x[1]) = 2*c*(norm(x - [0.5]) + norm(x - [1.25]) + norm(x - [2]))/3\n"
      "energy E1 = 0.05*entropy + c*mmd(k, P)\nenergy E2 = 0.05*entropy + interaction(k2) + potential(Vt)\n"
      "energy D1 = 0.05*entropy + c*energy_distance(P)\nenergy D2 = 0.05*entropy + interaction(kd) + potential(Vd)\n"
      "flow f1 = fokker_planck(E1)\nflow f2 = fokker_planck(E2)\nflow g1 = fokker_planck(D1)\nflow g2 = fokker_planck(D2)\n"
      "run f1 from normal([-1], [0.5]) grid [-4, 5] cells 180 dt 0.05 until 2 every 1 -> \"f1.csv\"\n"
      "run f2 from normal([-1], [0.5]) grid [-4, 5] cells 180 dt 0.05 until 2 every 1 -> \"f2.csv\"\n"
      "run g1 from normal([-1], [0.5]) grid [-4, 5] cells 180 dt 0.05 until 2 every 1 -> \"g1.csv\"\n"
      "run g2 from normal([-1], [0.5]) grid [-4, 5] cells 180 dt 0.05 until 2 every 1 -> \"g2.csv\"\n"
      "energy M2 = 0.1*entropy + mmd(k2d, normal([1, 0], [0.3, 0.3]), samples = 200) + energy_distance(P2)\n"
      "kernel k2d(x[2], y[2]) = exp(-norm2(x - y))\nparam P2 = [[0, 1], [1, 0]]\nflow m2 = fokker_planck(M2)\n"
      "run m2 from normal([-1, 0], [0.5, 0.5]) grid [-3, 3] cells 24 dt 0.1 until 1 every 0.25 -> \"m2.csv\"\n";
  env e;
  env_open(&e, "gridflow");
  load_ok(&e, src);
  const double t[3] = { 0.5, 1.25, 2 }, c = 0.7;
  double kk = 0, dd = 0;
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++) {
      kk += exp(-(t[a] - t[b]) * (t[a] - t[b]) / 2) / 9;
      dd -= fabs(t[a] - t[b]) / 9;
    }
  const char *pairs[2][2] = { { "f1", "f2" }, { "g1", "g2" } };
  for (int p = 0; p < 2; p++) {
    char n1[32], n2[32];
    snprintf(n1, sizeof n1, "%s_monitor.csv", pairs[p][0]);
    snprintf(n2, sizeof n2, "%s_monitor.csv", pairs[p][1]);
    csv m1 = read_csv(&e, n1), m2 = read_csv(&e, n2);
    snprintf(n1, sizeof n1, "%s.csv", pairs[p][0]);
    snprintf(n2, sizeof n2, "%s.csv", pairs[p][1]);
    csv d1 = read_csv(&e, n1), d2 = read_csv(&e, n2);
    invariants(&m1, 1);
    ck_assert_int_eq(d1.rows, d2.rows);
    double peak = 0, diff = 0;
    for (int r = 0; r < d1.rows; r++) {
      peak = fmax(peak, at(&d1, r, 3));
      diff = fmax(diff, fabs(at(&d1, r, 3) - at(&d2, r, 3)));
    }
    /* the same sums in another order (the potential is one callback
    ** either way, summed in the script's order): a few ulps a step */
    ck_assert_msg(diff <= 1e-12 * peak, "%s: density differs by %g", pairs[p][0], diff);
    for (int r = 0; r < m1.rows; r++)
      ck_assert_double_lt(fabs(at(&m1, r, M_ENERGY) - at(&m2, r, M_ENERGY) - c * (p ? dd : kk)), 1e-12);
    /* the energy column at t = 0 against c MMD^2 of the grid density */
    double h = 9.0 / 180, rr = 0, rt = 0;
    for (int i = 0; i < 180; i++) {
      double xi = at(&d1, i, 2), ri = at(&d1, i, 3);
      for (int j = 0; j < 180; j++) {
        double xj = at(&d1, j, 2);
        rr += ri * at(&d1, j, 3) * h * h * (p ? -fabs(xi - xj) : exp(-(xi - xj) * (xi - xj) / 2));
      }
      for (int j = 0; j < 3; j++) rt += ri * h * (p ? -fabs(xi - t[j]) : exp(-(xi - t[j]) * (xi - t[j]) / 2)) / 3;
    }
    double mmd2 = rr - 2 * rt + (p ? dd : kk), E0 = at(&m1, 0, M_ENERGY) - 0.05 * at(&m1, 0, M_ENTROPY);
    report("%s: c MMD^2 %.15g, energy column - T entropy %.15g; density vs rewrite %.3g of the peak", pairs[p][0],
           c * mmd2, E0, diff / peak);
    ck_assert_double_lt(fabs(E0 - c * mmd2), 1e-12);
    free(m1.d), free(m2.d), free(d1.d), free(d2.d);
  }
  /* 2-D (W * rho by FFT): mass, positivity, energy never increasing */
  csv m = read_csv(&e, "m2_monitor.csv");
  ck_assert_int_eq(m.rows, 5);
  for (int r = 0; r < m.rows; r++) {
    ck_assert(fabs(at(&m, r, M_MASS) - 1) <= 1e-12);
    ck_assert(at(&m, r, 8) >= 0);
    if (r) ck_assert(at(&m, r, M_ENERGY) <= at(&m, r - 1, M_ENERGY));
  }
  /* and the mass moves toward the targets (the means at (1, 0), (0.5, 0.5)) */
  ck_assert_double_gt(last(&m, 6), at(&m, 0, 6) + 0.3);
  free(m.d);
  env_close(&e);
}
END_TEST


/* w2(t) in the exact 1-D JKO: c/2 int (Q - Q_t)^2 ds with Q_t the target's
** quantiles.  Summing the step's conditions (the entropy's gap terms
** telescope) gives the mean of implicit Euler towards the target's
** trapezoid mean m_t, exactly: m_k = m_t + (m_0 - m_t)/(1 + tau c)^k.
** For the 4 points a + (-1.5, -0.5, 0.5, 1.5) and N a multiple of 4, the
** left-continuous quantile at s_j = j/N has trapezoid mean
** a + (x_1 - x_4)/(2N) = a - 3/(2N). */
START_TEST(test_jko_w2) {
  env e;
  env_open(&e, "gridflow");
  load_ok(&e, "param P = [[-0.5], [0.5], [1.5], [2.5]]\nenergy E = 0.5*entropy + 2*w2(P)\nflow j = jko(E)\n"
              "run j from normal([-1], [0.25]) grid [-6, 7] cells 260 points 2000 dt 0.1 until 2 every 0.5 -> \"j.csv\"\n");
  csv m = read_csv(&e, "j_monitor.csv");
  ck_assert_int_eq(m.rows, 5);
  double mt = 1 - 3.0 / (2 * 2000), m0 = at(&m, 0, M_MEAN);
  for (int r = 0; r < m.rows; r++) {
    double k = at(&m, r, M_STEP), exact = mt + (m0 - mt) / pow(1 + 0.1 * 2, k);
    report("jko w2: step %g mean %.15g, implicit Euler %.15g", k, at(&m, r, M_MEAN), exact);
    /* Newton stops at 1e-13 of the span on each Q_j: the mean to ~1e-12 */
    ck_assert_double_lt(fabs(at(&m, r, M_MEAN) - exact), 1e-10);
    if (r) ck_assert_double_le(at(&m, r, M_ENERGY), at(&m, r - 1, M_ENERGY));
  }
  free(m.d);
  env_close(&e);
}
END_TEST

/* ------------------------------------------------------------ errors */

static void load_fails(const char *src, int status, const char *needle) {
  env e;
  env_open(&e, "gridflow");
  int st = hnn_load_string(e.S, src, "t.hnn");
  ck_assert_int_eq(st, status);
  ck_assert_msg(strstr(hnn_error(e.S), needle), "message '%s' lacks '%s'", hnn_error(e.S), needle);
  env_close(&e);
}

START_TEST(test_errors) {
  /* a kernel that is not a function of x - y cannot be convolved */
  load_fails("kernel k(x[1], y[1]) = exp(-norm2(x + y))\nenergy E = interaction(k) + entropy\n"
             "flow f = fokker_planck(E)\nrun f from normal([0], [1]) grid [-3, 3] cells 50\n",
             HNN_ERR_SCRIPT, "function of x - y");
  /* a negative start density */
  load_fails("function g(x[1]) = x[1]\nenergy E = entropy\nflow f = fokker_planck(E)\n"
             "run f from g grid [-3, 3] cells 50\n", HNN_ERR_RUNTIME, "not a finite value >= 0");
  /* a non-diagonal metric as mobility */
  load_fails("metric M(x[2]) = [[2, 1], [1, 2]]\nenergy E = entropy\nflow f = fokker_planck(E, M)\n"
             "run f from normal([0, 0], [1, 1]) grid [-3, 3] cells 20\n", HNN_ERR_SCRIPT, "not diagonal");
  /* the exact W2 on 100 x 100 cells against the law on the grid: 1e8 pairs,
  ** refused before the run with the estimate, pointing to sinkhorn_to */
  load_fails("energy E = entropy\nflow f = fokker_planck(E)\n"
             "run f from normal([0, 0], [1, 1]) grid [-3, 3] w2_to normal([0, 0], [1, 1])\n", HNN_ERR_SCRIPT,
             "use sinkhorn_to");
  load_fails("energy E = entropy\nflow f = fokker_planck(E)\n"
             "run f from normal([0], [1]) grid [-3, 3] w2_to normal([0], [1]) monitor_samples 10\n", HNN_ERR_SCRIPT,
             "monitor_samples is for particle runs");
  load_fails("energy E = entropy\nflow f = fokker_planck(E)\n"
             "run f from normal([0], [1]) grid [-3, 3] w2_to normal([0, 0], [1, 1])\n", HNN_ERR_SCRIPT,
             "this law is in dimension 2, the grid in dimension 1");
  /* w2(t) runs in quantiles only */
  load_fails("energy E = entropy + w2(normal([0], [1]), samples = 10)\nflow f = fokker_planck(E)\n"
             "run f from normal([0], [1]) grid [-3, 3]\n", HNN_ERR_SCRIPT, "the exact JKO (jko) carries it");
}
END_TEST

int main(void) {
  Suite *s = suite_create("gridflow");
  TCase *tc = tcase_create("gridflow");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_heat_fv);
  tcase_add_test(tc, test_second_order);
  tcase_add_test(tc, test_heat_jko);
  tcase_add_test(tc, test_ou_gaussian);
  tcase_add_test(tc, test_stationary);
  tcase_add_test(tc, test_reference_points);
  tcase_add_test(tc, test_barenblatt);
  tcase_add_test(tc, test_interaction);
  tcase_add_test(tc, test_entropic);
  tcase_add_test(tc, test_entropic_gaussian);
  tcase_add_test(tc, test_2d_threads);
  tcase_add_test(tc, test_w2_2d);
  tcase_add_test(tc, test_w2_2d_flow);
  tcase_add_test(tc, test_distance_targets);
  tcase_add_test(tc, test_ou_distances);
  tcase_add_test(tc, test_distance_threads);
  tcase_add_test(tc, test_target_terms);
  tcase_add_test(tc, test_jko_w2);
  tcase_add_test(tc, test_errors);
  suite_add_tcase(s, tc);
  return check_run(s);
}
