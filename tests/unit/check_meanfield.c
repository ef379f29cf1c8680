/*
** check_meanfield.c — the mean-field network engine (runtime/meanfield.c),
** the recognition of units (lang/flows/neuron_unit.c) and the meanfield
** flow kind through the language.
**
** Tolerances:
**  - fused vs generic: the same sums in another order (blocks of 8 lanes vs
**    one running sum) and, for tanh, the fused exp (absolute error < 1e-15
**    per value); a sum of N terms in two orders differs by <= 2 N u sum|terms|,
**    so 1e-12 relative to the size of the terms is ~50x that bound at N ~ 10^3.
**  - velocities vs central differences of the energy: the difference error is
**    delta^2/6 |E'''| + u |E| / delta ~ 1e-10 + 1e-11 at delta = 1e-5, against
**    velocities of order 1e-2 .. 1 scaled by 1/m: 1e-7 relative to the largest.
**  - closed form (constant neurons): classical RK4 at h = 0.01 over t = 1
**    has global error ~ h^4 ~ 1e-8 times the solution's derivatives (<= 1): 1e-8.
**  - dissipation: (E(t+h) - E(t-h))/(2h) = dE/dt + O(h^2) plus RK4's O(h^4)
**    per unit time; with h = 0.01 and smooth tanh units 1e-3 relative.
**  - gradient descent vs the flow: explicit Euler is first order, so the
**    error ratio at h and h/2 is 2 + O(h): the measured order lies in [0.9, 1.1].
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
#include "meanfield.h"
#include "neuron_unit.h"
#include "testenv.h"

static uint64_t rs = 0x2545F4914F6CDD1Dull;
static double unif(void) { /* xorshift64* */
  rs ^= rs >> 12, rs ^= rs << 25, rs ^= rs >> 27;
  return (double)((rs * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}
static double gauss(void) {
  double u = unif(), v = unif();
  return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* The generic path's callbacks for xi = [c, w (D), b (, e)]:
** CS c s(<w, z> + b) (+ ES e). */
static int D_, P_;
static int use_tanh;
static double CS = 1, ES = 0;
static int unit_phi(const double *in, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  const double *xi = in, *z = in + P_;
  double u = xi[D_ + 1];
  for (int l = 0; l < D_; l++) u += xi[1 + l] * z[l];
  out[0] = CS * xi[0] * (use_tanh ? tanh(u) : fmax(u, 0)) + (P_ > D_ + 2 ? ES * xi[D_ + 2] : 0);
  return 0;
}
static int unit_dphi(const double *in, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  const double *xi = in, *z = in + P_;
  double u = xi[D_ + 1];
  for (int l = 0; l < D_; l++) u += xi[1 + l] * z[l];
  double a = use_tanh ? tanh(u) : fmax(u, 0), ds = use_tanh ? 1 - a * a : (u > 0), c = CS * xi[0];
  out[0] = CS * a;
  for (int l = 0; l < D_; l++) out[1 + l] = c * ds * z[l], out[P_ + l] = c * ds * xi[1 + l];
  out[D_ + 1] = c * ds;
  if (P_ > D_ + 2) out[D_ + 2] = ES;
  return 0;
}

typedef struct net {
  mf_problem P;
  long m;
  double *x, *y, *xi;
} net;

static net make_net_e(int d, long n, long m, int tanh_, int fused, double lambda, int additive) {
  net N;
  memset(&N, 0, sizeof N);
  D_ = d;
  P_ = d + 2 + additive;
  use_tanh = tanh_;
  N.m = m;
  N.P.p = P_;
  N.P.d = d;
  N.P.n = n;
  N.P.lambda = lambda;
  N.x = malloc(sizeof(double) * n * d);
  N.y = malloc(sizeof(double) * n);
  N.xi = malloc(sizeof(double) * m * P_);
  for (long k = 0; k < n; k++) {
    double s = 0;
    for (int l = 0; l < d; l++) s += N.x[k * d + l] = 2 * unif() - 1;
    N.y[k] = sin(2 * s);
  }
  for (long i = 0; i < m * P_; i++) N.xi[i] = gauss();
  N.P.x = N.x;
  N.P.y = N.y;
  N.P.unit.act = !fused ? MF_GENERIC : tanh_ ? MF_TANH : MF_RELU;
  N.P.unit.c = 0, N.P.unit.w = 1, N.P.unit.b = d + 1, N.P.unit.e = additive ? d + 2 : -1;
  N.P.unit.cs = CS, N.P.unit.es = ES;
  N.P.phi.fn = unit_phi;
  N.P.dphi.fn = unit_dphi;
  N.P.threads = 2;
  return N;
}

static net make_net(int d, long n, long m, int tanh_, int fused, double lambda) {
  CS = 1, ES = 0;
  return make_net_e(d, n, m, tanh_, fused, lambda, 0);
}

static void free_net(net *N) {
  free(N->x), free(N->y), free(N->xi);
}

START_TEST(test_fused_matches_generic) {
  static const int dims[] = { 1, 3 };
  for (int act = 0; act < 4; act++)
    for (int di = 0; di < 2; di++) {
      int d = dims[di];
      long m = 150, n = 37;
      /* act 2, 3: scaled c and an additive term (004's parameterization) */
      CS = act < 2 ? 1 : 12.5, ES = act < 2 ? 0 : -3.5;
      rs = 77 + (uint64_t)di;
      net A = make_net_e(d, n, m, act & 1, 1, 0.01, act >= 2);
      rs = 77 + (uint64_t)di;
      net G = make_net_e(d, n, m, act & 1, 0, 0.01, act >= 2);
      mf_ws *wa = mf_ws_alloc(&A.P, m), *wg = mf_ws_alloc(&G.P, m);
      double *va = malloc(sizeof(double) * m * A.P.p), *vg = malloc(sizeof(double) * m * A.P.p);
      mf_stats sa, sg;
      char msg[256];
      ck_assert_int_eq(mf_eval(wa, A.xi, va, &sa, msg, sizeof msg), 0);
      ck_assert_int_eq(mf_eval(wg, G.xi, vg, &sg, msg, sizeof msg), 0);
      ck_assert_double_eq_tol(sa.energy, sg.energy, 1e-12 * sg.energy);
      ck_assert_double_eq_tol(sa.dissipation, sg.dissipation, 1e-12 * sg.dissipation);
      double vmax = 0, err = 0;
      for (long q = 0; q < m * A.P.p; q++) vmax = fmax(vmax, fabs(vg[q])), err = fmax(err, fabs(va[q] - vg[q]));
      ck_assert_msg(err <= 1e-12 * vmax, "act %d d %d: velocities differ by %g (max %g)", act, d, err, vmax);
      const double *fa = mf_predictions(wa), *fg = mf_predictions(wg);
      for (long k = 0; k < n; k++) ck_assert_double_eq_tol(fa[k], fg[k], 1e-12 * (1 + fabs(fg[k])));
      mf_ws_free(wa), mf_ws_free(wg);
      free(va), free(vg);
      free_net(&A), free_net(&G);
    }
}
END_TEST

/* v_i = -m dE/dxi_i, the Wasserstein gradient of the empirical measure. */
START_TEST(test_velocity_is_scaled_gradient) {
  for (int fused = 0; fused < 2; fused++) {
    rs = 5;
    long m = 70;
    net N = make_net(2, 25, m, 1, fused, 0.05);
    mf_ws *w = mf_ws_alloc(&N.P, m);
    size_t len = (size_t)m * N.P.p;
    double *v = malloc(sizeof(double) * len), vmax = 0, err = 0;
    mf_stats st, sp, sm;
    char msg[256];
    ck_assert_int_eq(mf_eval(w, N.xi, v, &st, msg, sizeof msg), 0);
    for (size_t q = 0; q < len; q++) vmax = fmax(vmax, fabs(v[q]));
    for (size_t q = 0; q < len; q += 7) {
      double keep = N.xi[q], delta = 1e-5;
      N.xi[q] = keep + delta;
      ck_assert_int_eq(mf_eval(w, N.xi, NULL, &sp, msg, sizeof msg), 0);
      N.xi[q] = keep - delta;
      ck_assert_int_eq(mf_eval(w, N.xi, NULL, &sm, msg, sizeof msg), 0);
      N.xi[q] = keep;
      double fd = -(double)m * (sp.energy - sm.energy) / (2 * delta);
      err = fmax(err, fabs(fd - v[q]));
    }
    ck_assert_msg(err <= 1e-7 * vmax, "fused %d: finite differences off by %g (max velocity %g)", fused, err, vmax);
    mf_ws_free(w);
    free(v);
    free_net(&N);
  }
}
END_TEST

/* Constant neurons phi(xi; z) = xi: f = mean of xi, and the mean solves
** xbar' = -(xbar - ybar) - lambda xbar, each neuron xi_i' = -(xbar - ybar) - lambda xi_i. */
static int const_phi(const double *in, const double *dir, double *out, double *ws) {
  (void)dir, (void)ws;
  out[0] = in[0];
  return 0;
}
static int const_dphi(const double *in, const double *dir, double *out, double *ws) {
  (void)in, (void)dir, (void)ws;
  out[0] = 1;
  out[1] = 0;
  return 0;
}

START_TEST(test_closed_form_constant_neurons) {
  double x[4] = { 0, 1, 2, 3 }, y[4] = { 1, 2, 0.5, 0.7 }, xi[3] = { 1.5, -0.5, 0.25 };
  double lambda = 0.3, ybar = (1 + 2 + 0.5 + 0.7) / 4, h = 0.01;
  mf_problem P = { .p = 1, .d = 1, .n = 4, .x = x, .y = y, .lambda = lambda, .unit = { MF_GENERIC, -1, -1, -1, -1, 1, 0 },
                   .phi = { const_phi, 0 }, .dphi = { const_dphi, 0 }, .threads = 1 };
  mf_ws *w = mf_ws_alloc(&P, 3);
  double v[3], k[12], x0[3];
  memcpy(x0, xi, sizeof x0);
  mf_stats st;
  char msg[256];
  for (int s = 0; s < 100; s++) {
    ck_assert_int_eq(mf_eval(w, xi, v, &st, msg, sizeof msg), 0);
    ck_assert_int_eq(mf_step_rk4(w, xi, h, v, k, msg, sizeof msg), 0);
  }
  double xbar0 = (x0[0] + x0[1] + x0[2]) / 3, star = ybar / (1 + lambda);
  double xbar = star + (xbar0 - star) * exp(-(1 + lambda));
  for (int i = 0; i < 3; i++) {
    /* xi_i - xbar decays at rate lambda */
    double exact = xbar + (x0[i] - xbar0) * exp(-lambda);
    ck_assert_double_eq_tol(xi[i], exact, 1e-8);
  }
  mf_ws_free(w);
}
END_TEST

/* The energy never increases along the flow, and dE/dt = -(1/m) sum |v|^2. */
START_TEST(test_energy_dissipation) {
  rs = 11;
  long m = 200;
  net N = make_net(2, 30, m, 1, 1, 0.01);
  mf_ws *w = mf_ws_alloc(&N.P, m);
  size_t len = (size_t)m * N.P.p;
  double *v = malloc(sizeof(double) * len), *k = malloc(sizeof(double) * 4 * len), h = 0.01;
  double E[101], Dis[101], worst = 0;
  char msg[256];
  for (int s = 0; s <= 100; s++) {
    mf_stats st;
    ck_assert_int_eq(mf_eval(w, N.xi, v, &st, msg, sizeof msg), 0);
    E[s] = st.energy, Dis[s] = st.dissipation;
    if (s > 0) ck_assert_msg(E[s] <= E[s - 1], "energy rose at step %d: %.17g -> %.17g", s, E[s - 1], E[s]);
    if (s < 100) ck_assert_int_eq(mf_step_rk4(w, N.xi, h, v, k, msg, sizeof msg), 0);
  }
  for (int s = 1; s < 100; s++) worst = fmax(worst, fabs((E[s + 1] - E[s - 1]) / (2 * h) + Dis[s]) / Dis[s]);
  ck_assert_msg(worst < 1e-3, "dissipation identity off by %g relative", worst);
  /* gradient descent (Euler) at a small step decreases the energy too */
  for (int s = 0; s < 100; s++) {
    mf_stats st, s2;
    ck_assert_int_eq(mf_eval(w, N.xi, v, &st, msg, sizeof msg), 0);
    mf_step_euler(w, N.xi, h, v);
    ck_assert_int_eq(mf_eval(w, N.xi, NULL, &s2, msg, sizeof msg), 0);
    ck_assert(s2.energy <= st.energy);
  }
  mf_ws_free(w);
  free(v), free(k);
  free_net(&N);
}
END_TEST

START_TEST(test_threads_bit_identical) {
  for (int act = 0; act < 3; act++) {
    long m = 333;
    double *ref = NULL;
    mf_stats s0;
    for (int nt = 1; nt <= 3; nt++) {
      rs = 99;
      net N = make_net(3, 41, m, act == 1, act < 2, 0.02);
      N.P.threads = nt;
      mf_ws *w = mf_ws_alloc(&N.P, m);
      size_t len = (size_t)m * N.P.p;
      double *v = malloc(sizeof(double) * len);
      mf_stats st;
      char msg[256];
      ck_assert_int_eq(mf_eval(w, N.xi, v, &st, msg, sizeof msg), 0);
      if (!ref) {
        ref = v, s0 = st;
      } else {
        ck_assert_int_eq(memcmp(ref, v, len * sizeof *v), 0);
        ck_assert_int_eq(memcmp(&s0, &st, sizeof st), 0);
        free(v);
      }
      mf_ws_free(w);
      free_net(&N);
    }
    free(ref);
  }
}
END_TEST

/* Euler steps of the flow (gradient descent with lr = m h) to t = 0.5 at h,
** h/2, h/4, against RK4 at h/16: first order. */
static double euler_error(double h, const double *ref, long m) {
  rs = 3;
  net N = make_net(1, 20, m, 1, 1, 0.01);
  mf_ws *w = mf_ws_alloc(&N.P, m);
  size_t len = (size_t)m * N.P.p;
  double *v = malloc(sizeof(double) * len), err = 0;
  mf_stats st;
  char msg[256];
  for (long s = 0; s < lround(0.5 / h); s++) {
    ck_assert_int_eq(mf_eval(w, N.xi, v, &st, msg, sizeof msg), 0);
    mf_step_euler(w, N.xi, h, v);
  }
  for (size_t q = 0; q < len; q++) err = fmax(err, fabs(N.xi[q] - ref[q]));
  mf_ws_free(w);
  free(v);
  free_net(&N);
  return err;
}

START_TEST(test_gradient_descent_first_order) {
  long m = 64;
  rs = 3;
  net R = make_net(1, 20, m, 1, 1, 0.01);
  mf_ws *w = mf_ws_alloc(&R.P, m);
  size_t len = (size_t)m * R.P.p;
  double *v = malloc(sizeof(double) * len), *k = malloc(sizeof(double) * 4 * len), hr = 0.05 / 16;
  mf_stats st;
  char msg[256];
  for (long s = 0; s < lround(0.5 / hr); s++) {
    ck_assert_int_eq(mf_eval(w, R.xi, v, &st, msg, sizeof msg), 0);
    ck_assert_int_eq(mf_step_rk4(w, R.xi, hr, v, k, msg, sizeof msg), 0);
  }
  double e1 = euler_error(0.05, R.xi, m), e2 = euler_error(0.025, R.xi, m), e3 = euler_error(0.0125, R.xi, m);
  double o1 = log2(e1 / e2), o2 = log2(e2 / e3);
  if (getenv("HNN_TEST_VERBOSE")) fprintf(stderr, "gd vs flow: errors %g %g %g, orders %.3f %.3f\n", e1, e2, e3, o1, o2);
  ck_assert_msg(o1 > 0.9 && o1 < 1.1 && o2 > 0.9 && o2 < 1.1, "orders %g %g", o1, o2);
  mf_ws_free(w);
  free(v), free(k);
  free_net(&R);
}
END_TEST

/* ---------------------------------------------------------- language level */

static hnn_state *load(const char *text) {
  hnn_state *S = hnn_open();
  ck_assert_ptr_nonnull(S);
  int st = hnn_load_string(S, text, "t.hnn");
  ck_assert_msg(st == HNN_OK, "script failed: %s", hnn_error(S));
  return S;
}

static mf_unit unit_of(hnn_state *S, const char *name) {
  sym *s = state_lookup(S, name);
  ck_assert_ptr_nonnull(s);
  ck_assert_int_eq(sema_check_sym(S, s), 0);
  mf_unit u;
  flow_fn act2 = { NULL, 0 };
  neuron_unit(S, s, &u, &act2);
  return u;
}

START_TEST(test_units_recognized) {
  hnn_state *S = load("neuron a(xi[3]; z) = xi[1]*max(xi[2]*z + xi[3], 0)\n"
                      "neuron b(c, w[4], bias; z[4]) = tanh(dot(z, w) + bias)*c\n"
                      "neuron c(w[2]; z[2]) = max(0, dot(w, z))\n"
                      "neuron d(xi[3]; z) = xi[1]*max(xi[2]*z + xi[3], 0.5)\n"
                      "neuron e2(xi[3]; z) = xi[1]*log(1 + exp(xi[2]*z + xi[3]))\n"
                      "neuron f(xi[3]; z) = xi[1]*max(xi[2]*z*z + xi[3], 0)\n"
                      "activation act(u) = max(u, 0)\n"
                      "neuron g(xi[3]; z) = xi[3]*act(z*xi[1] + xi[2])\n"
                      "param width = 100\n"
                      "neuron h(xi[4]; z) = width*xi[1]*max(xi[2]*z + xi[3], 0) + sqrt(width)*xi[4]\n"
                      "neuron h2(xi[4]; z) = width*xi[1]*max(xi[2]*z + xi[3], 0) + xi[4]*z\n");
  mf_unit u = unit_of(S, "a");
  ck_assert(u.act == MF_RELU && u.c == 0 && u.w == 1 && u.b == 2);
  u = unit_of(S, "b");
  ck_assert(u.act == MF_TANH && u.c == 0 && u.w == 1 && u.b == 5);
  u = unit_of(S, "c");
  ck_assert(u.act == MF_RELU && u.c == -1 && u.w == 0 && u.b == -1);
  /* another function of the pre-activation alone: the fused path with the
  ** compiled activation */
  u = unit_of(S, "d");
  ck_assert(u.act == MF_CUSTOM && u.c == 0 && u.w == 1 && u.b == 2);
  u = unit_of(S, "e2");
  ck_assert(u.act == MF_CUSTOM && u.c == 0 && u.w == 1 && u.b == 2);
  ck_assert(unit_of(S, "f").act == MF_GENERIC);
  u = unit_of(S, "g");
  ck_assert(u.act == MF_RELU && u.c == 2 && u.w == 0 && u.b == 1);
  u = unit_of(S, "h");
  ck_assert(u.act == MF_RELU && u.c == 0 && u.w == 1 && u.b == 2 && u.e == 3);
  ck_assert(u.cs == 100 && u.es == 10);
  ck_assert(unit_of(S, "h2").act == MF_GENERIC);
  hnn_close(S);
}
END_TEST

/* Through the language: the same seed gives the same bytes; the generic
** engine gives the fused engine's numbers; the monitor's energy never rises. */
START_TEST(test_script_runs) {
  char dir[] = "/tmp/hnn-mf-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  const char *text = "param xs[30] = uniform(-1, 1)\n"
                     "function sq(z) = z^2\n"
                     "neuron phi(xi[3]; z) = xi[1]*max(xi[2]*z + xi[3], 0)\n"
                     "flow net = meanfield(phi, xs, width = 100, reg = 1e-3, target = sq)\n"
                     "run net from normal([0, 0, 0], [4, 1, 1]) lr 2 steps 300 every 10 snapshots [0, 300] -> \"a.csv\"\n"
                     "run net from normal([0, 0, 0], [4, 1, 1]) lr 2 steps 300 every 10 snapshots [0, 300] -> \"b.csv\"\n"
                     "run net from normal([0, 0, 0], [4, 1, 1]) lr 2 steps 300 every 10 snapshots [0, 300] engine generic -> \"g.csv\"\n";
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_set_output_dir(S, dir), HNN_OK);
  ck_assert_msg(hnn_load_string(S, text, "t.hnn") == HNN_OK, "%s", hnn_error(S));
  hnn_close(S);
  char p[3][128];
  char *t[3];
  const char *names[3] = { "a_monitor.csv", "b_monitor.csv", "g_monitor.csv" };
  for (int i = 0; i < 3; i++) {
    snprintf(p[i], sizeof p[i], "%s/%s", dir, names[i]);
    t[i] = file_bytes(p[i], NULL);
  }
  ck_assert_str_eq(t[0], t[1]);
  snprintf(p[0], sizeof p[0], "%s/a.csv", dir);
  snprintf(p[1], sizeof p[1], "%s/b.csv", dir);
  char *pa = file_bytes(p[0], NULL), *pb = file_bytes(p[1], NULL);
  ck_assert_str_eq(pa, pb);
  int rows = 0;
  for (char *c = pa; *c; c++) rows += *c == '\n' && c[1] && c[1] != '#';
  ck_assert_int_eq(rows, 200);   /* two snapshots of 100 neurons */
  /* energies: fused vs generic, and monotone */
  double prev = INFINITY;
  char *la = t[0], *lg = t[2];
  int n = 0;
  while ((la = strchr(la, '\n')) && (lg = strchr(lg, '\n'))) {
    la++, lg++;
    if (*la == '#' || !*la) continue;
    double ta, sa, ra, ea, tg, sg, rg, eg;
    ck_assert_int_eq(sscanf(la, "%lf,%lf,%lf,%lf", &ta, &sa, &ra, &ea), 4);
    ck_assert_int_eq(sscanf(lg, "%lf,%lf,%lf,%lf", &tg, &sg, &rg, &eg), 4);
    ck_assert_double_eq_tol(ea, eg, 1e-12 * eg);
    ck_assert_msg(ea <= prev, "energy rose at step %g", sa);
    prev = ea;
    n++;
  }
  ck_assert_int_eq(n, 31);
  for (int i = 0; i < 3; i++) free(t[i]);
  free(pa), free(pb);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Heat regularization (003 eq. 4.2) as noisy neurons: constant neurons
** phi(xi; z) = xi with reg = lambda and T make each neuron an
** Ornstein-Uhlenbeck process around the mean, which goes to ybar/(1 + lambda).
** Euler-Maruyama's stationary variance is T/(lambda (1 - lambda h/2)); the
** sample variance of 2000 neurons has relative standard deviation
** sqrt(2/2000) = 3.2 %, the mean's noise is sqrt(T/(m (1 + lambda))) = 0.011:
** 4 standard deviations are allowed. */
START_TEST(test_heat_noise) {
  char dir[] = "/tmp/hnn-mfh-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_set_output_dir(S, dir), HNN_OK);
  ck_assert_msg(hnn_load_string(S, "param D[4, 2] = [[0, 1], [1, 2], [2, 0.5], [3, 0.7]]\n"
                                   "neuron one(xi[1]; z) = xi[1]\n"
                                   "flow heat = meanfield(one, D, width = 2000, reg = 1, T = 0.5)\n"
                                   "run heat from normal(0, 1) h 0.01 steps 1000 every 100 snapshots [1000] -> \"h.csv\"\n",
                                "t.hnn") == HNN_OK, "%s", hnn_error(S));
  hnn_close(S);
  char path[128];
  snprintf(path, sizeof path, "%s/h.csv", dir);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  char line[256];
  double s1 = 0, s2 = 0;
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    double t, st, i, x;
    if (line[0] == '#' || sscanf(line, "%lf,%lf,%lf,%lf", &t, &st, &i, &x) != 4) continue;
    s1 += x, s2 += x * x, n++;
  }
  fclose(f);
  ck_assert_int_eq(n, 2000);
  double mean = s1 / n, var = s2 / n - mean * mean, want = 0.5 / (1 - 0.005);
  if (getenv("HNN_TEST_VERBOSE")) fprintf(stderr, "heat: mean %g (0.525), variance %g (%g)\n", mean, var, want);
  ck_assert_double_eq_tol(mean, 0.525, 0.045);
  ck_assert_double_eq_tol(var / want, 1, 0.13);
  snprintf(path, sizeof path, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(path), 0);
}
END_TEST

/* A softplus unit runs the fused kernels with its compiled activation
** (MF_CUSTOM); the generic path (the whole neuron and its gradient per
** pair) gives the same energies and neurons up to the order of sums. */
START_TEST(test_custom_activation) {
  char dir[] = "/tmp/hnn-mfc-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  const char *text = "param X[40, 2] = uniform(-1, 1)\n"
                     "function g(z[2]) = sin(2*z[1])*z[2]\n"
                     "activation softplus(u) = log(1 + exp(u))\n"
                     "neuron sp(a, w[2], b; z[2]) = a*softplus(dot(w, z) + b)\n"
                     "flow net = meanfield(sp, X, width = 77, reg = 1e-2, target = g)\n"
                     "run net from normal(0, 1) method rk4 h 0.05 steps 40 every 10 snapshots [40] -> \"c.csv\"\n"
                     "run net from normal(0, 1) method rk4 h 0.05 steps 40 every 10 snapshots [40] engine generic -> \"g.csv\"\n";
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_set_output_dir(S, dir), HNN_OK);
  ck_assert_msg(hnn_load_string(S, text, "t.hnn") == HNN_OK, "%s", hnn_error(S));
  hnn_close(S);
  const char *files[2][2] = { { "c_monitor.csv", "g_monitor.csv" }, { "c.csv", "g.csv" } };
  for (int f = 0; f < 2; f++) {
    FILE *a, *b;
    static char la[65536], lb[65536];
    char pa[128], pb[128];
    snprintf(pa, sizeof pa, "%s/%s", dir, files[f][0]);
    snprintf(pb, sizeof pb, "%s/%s", dir, files[f][1]);
    ck_assert_ptr_nonnull(a = fopen(pa, "r"));
    ck_assert_ptr_nonnull(b = fopen(pb, "r"));
    int rows = 0;
    for (;;) {   /* the next data row of each file */
      int ga, gb;
      while ((ga = fgets(la, sizeof la, a) != NULL) && la[0] == '#') continue;
      while ((gb = fgets(lb, sizeof lb, b) != NULL) && lb[0] == '#') continue;
      ck_assert_int_eq(ga, gb);
      if (!ga) break;
      char *ea = la, *eb = lb;
      for (int col = 0;; col++) {
        char *pa0 = ea, *pb0 = eb;
        double va = strtod(ea, &ea), vb = strtod(eb, &eb);
        if (ea == pa0 || eb == pb0) break;
        ck_assert_msg(fabs(va - vb) <= 1e-11 * (1 + fabs(vb)), "%s row %d col %d: %.17g vs %.17g", files[f][0], rows,
                      col, va, vb);
        if (*ea != ',' || *eb != ',') break;
        ea++, eb++;
      }
      rows++;
    }
    ck_assert_int_eq(rows, f == 0 ? 5 : 77);
    fclose(a), fclose(b);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The last snapshot of a particle file: m rows of p values into xi. */
static void last_neurons(const char *dir, const char *name, int m, int p, double *xi) {
  char path[160];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  static char line[65536];
  int rows = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    char *e = line;
    for (int c = 0; c < 3; c++) strtod(e, &e), e++;   /* t, step, particle */
    for (int q = 0; q < p; q++) xi[(rows % m) * p + q] = strtod(e, &e), e++;
    rows++;
  }
  fclose(f);
  ck_assert_int_eq(rows % m, 0);
}

/* Gradient descent with lr = m h and the flow by RK4, from one script: to
** t = 0.5 at h = 0.05, 0.025, 0.0125 against RK4 at h = 0.003125 (its error
** ~1e-9, far below GD's): first order, the measured order in [0.9, 1.1]. */
START_TEST(test_gd_and_flow_one_script) {
  char dir[] = "/tmp/hnn-mfo-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  const char *text = "param X[30] = uniform(-1, 1)\n"
                     "function g(z) = z^2 - 0.3\n"
                     "neuron phi(xi[3]; z) = xi[1]*tanh(xi[2]*z + xi[3])\n"
                     "flow net = meanfield(phi, X, width = 50, reg = 1e-2, target = g)\n"
                     "run net from normal(0, 1) method rk4 h 0.003125 steps 160 snapshots [160] -> \"ref.csv\"\n"
                     "run net from normal(0, 1) lr 50*0.05 steps 10 snapshots [10] -> \"gd1.csv\"\n"
                     "run net from normal(0, 1) lr 50*0.025 steps 20 snapshots [20] -> \"gd2.csv\"\n"
                     "run net from normal(0, 1) lr 50*0.0125 steps 40 snapshots [40] -> \"gd3.csv\"\n";
  hnn_state *S = hnn_open();
  ck_assert_int_eq(hnn_set_output_dir(S, dir), HNN_OK);
  ck_assert_msg(hnn_load_string(S, text, "t.hnn") == HNN_OK, "%s", hnn_error(S));
  hnn_close(S);
  double ref[150], x[150], e[3];
  last_neurons(dir, "ref.csv", 50, 3, ref);
  const char *gd[3] = { "gd1.csv", "gd2.csv", "gd3.csv" };
  for (int k = 0; k < 3; k++) {
    last_neurons(dir, gd[k], 50, 3, x);
    e[k] = 0;
    for (int q = 0; q < 150; q++) e[k] = fmax(e[k], fabs(x[q] - ref[q]));
  }
  double o1 = log2(e[0] / e[1]), o2 = log2(e[1] / e[2]);
  if (getenv("HNN_TEST_VERBOSE"))
    fprintf(stderr, "script gd vs rk4: errors %g %g %g, orders %.3f %.3f\n", e[0], e[1], e[2], o1, o2);
  ck_assert_msg(o1 > 0.9 && o1 < 1.1 && o2 > 0.9 && o2 < 1.1, "orders %g %g (errors %g %g %g)", o1, o2, e[0], e[1], e[2]);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("meanfield");
  TCase *t = tcase_create("meanfield");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, test_fused_matches_generic);
  tcase_add_test(t, test_velocity_is_scaled_gradient);
  tcase_add_test(t, test_closed_form_constant_neurons);
  tcase_add_test(t, test_energy_dissipation);
  tcase_add_test(t, test_threads_bit_identical);
  tcase_add_test(t, test_gradient_descent_first_order);
  tcase_add_test(t, test_units_recognized);
  tcase_add_test(t, test_script_runs);
  tcase_add_test(t, test_heat_noise);
  tcase_add_test(t, test_custom_activation);
  tcase_add_test(t, test_gd_and_flow_one_script);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return check_run(suite()); }
