/*
** wfield.c — the particle velocities of the interaction, entropy and
** power-entropy terms (wfield.h; the discrepancy terms are wfield_disc.c's).
**
** Interaction: the sum over the other particles, j != i.  The self term
** W(x_i, x_i) is a constant for a translation-invariant kernel and has no
** gradient for a symmetric one, and singular kernels (-log|x - y|) are
** undefined there, so the energy is 1/2 sum_{i != j} w_i w_j W(x_i, x_j).
** Recognized kernels go to ks_sum (which includes j = i: its value k(0) is
** subtracted, its gradient is 0); the others call the compiled pair
** callback in blocks of targets on the pool, each target's sum in j order.
**
** Entropy and power entropy use the Gaussian kernel density estimate
**     rho_h(x) = sum_j w_j (2 pi h^2)^(-n/2) exp(-|x - x_j|^2 / (2 h^2)),
** one ks_sum for rho_h and grad rho_h at every particle:
**     entropy  v_i -= coef grad log rho_h(x_i),        E = coef sum_i w_i log rho_h(x_i)
**     power    v_i -= coef m rho_h^(m-2) grad rho_h,   E = coef sum_i w_i rho_h(x_i)^(m-1)/(m-1)
** (Monte Carlo estimates of int rho log rho and int rho^m/(m-1) at the
** particles).  The smoothing biases both by O(h^2): docs/particles.md.
** These velocities are not the gradients of those estimates; the blob
** versions (Carrillo, Craig and Patacchini 2019) are: for
** E = coef sum_i w_i F(rho_h(x_i)), F = log or s^(m-1)/(m-1),
**     v_k = -(1/w_k) dE/dx_k
**         = -coef (F'(rho_k) grad rho_h(x_k) + sum_i w_i F'(rho_i) grad G_h(x_k - x_i)),
** one more ks_sum with the weights w_i F'(rho_i).
*/
#include "wfield.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

static void ks_options(const wf_opts *o, ks_opts *ko) {
  ks_opts_default(ko);
  if (o) {
    ko->threads = o->threads;
    ko->tol = o->tol;
  }
}

static int all_finite(const double *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

/* k(0) of a kernsum.h kernel: the self term ks_sum adds. */
static double ks_at_zero(ks_kind k) { return k == KS_ENERGY ? 0.0 : 1.0; }

/* ---------------------------------------------------- interaction, callback */

#define WF_BLOCK 64   /* targets per task: the tasks, not the threads, fix the sums */

typedef struct pair_job {
  const wf_kernel *k;
  int n;
  size_t N;
  const double *x, *w;
  double *grad, *pot;   /* N x n, N */
  double **ws;          /* one workspace per thread */
  double **buf;         /* one [x, y, out] buffer per thread */
  int *failed;          /* per task */
} pair_job;

static void pair_task(void *ctx, long lo, long hi, int thread) {
  pair_job *J = ctx;
  const int n = J->n;
  double *in = J->buf[thread], *out = in + 2 * n, *ws = J->ws[thread];
  for (long task = lo; task < hi; task++) {
    size_t i0 = (size_t)task * WF_BLOCK, i1 = i0 + WF_BLOCK < J->N ? i0 + WF_BLOCK : J->N;
    for (size_t i = i0; i < i1; i++) {
      double *g = J->grad + i * n, p = 0;
      memset(g, 0, (size_t)n * sizeof *g);
      memcpy(in, J->x + i * n, (size_t)n * sizeof *in);
      for (size_t j = 0; j < J->N; j++) {
        if (j == i) continue;
        memcpy(in + n, J->x + j * n, (size_t)n * sizeof *in);
        if (J->k->pair.fn(in, NULL, out, ws)) {
          J->failed[task] = 1;
          return;
        }
        double wj = J->w[j];
        for (int a = 0; a < n; a++) g[a] += wj * out[a];
        p += wj * out[n];
      }
      J->pot[i] = p;
    }
  }
}

static int pair_sums(const wf_kernel *k, int n, size_t N, const double *x, const double *w, double *pot, double *grad,
                     const wf_opts *o) {
  int nt = o && o->threads > 0 ? o->threads : pool_max_threads();
  long ntasks = (long)((N + WF_BLOCK - 1) / WF_BLOCK);
  pair_job J = { k, n, N, x, w, grad, pot, NULL, NULL, NULL };
  J.ws = calloc((size_t)nt, sizeof *J.ws);
  J.buf = calloc((size_t)nt, sizeof *J.buf);
  J.failed = calloc((size_t)ntasks + 1, sizeof *J.failed);
  int status = J.ws && J.buf && J.failed ? WF_OK : WF_ENOMEM;
  for (int t = 0; t < nt && status == WF_OK; t++) {
    J.ws[t] = calloc(k->pair.nwork + 1, sizeof **J.ws);
    J.buf[t] = calloc((size_t)3 * n + 1, sizeof **J.buf);
    if (!J.ws[t] || !J.buf[t]) status = WF_ENOMEM;
  }
  if (status == WF_OK) {
    pool_run(nt, ntasks, 1, pair_task, &J);
    for (long t = 0; t < ntasks; t++)
      if (J.failed[t]) status = WF_ECALLBACK;
  }
  for (int t = 0; J.ws && J.buf && t < nt; t++) {
    free(J.ws[t]);
    free(J.buf[t]);
  }
  free(J.ws);
  free(J.buf);
  free(J.failed);
  return status;
}

int wf_interaction(const wf_kernel *k, double coef, int n, size_t N, const double *x, const double *w, double *v,
                   double *energy, const wf_opts *o) {
  if (!k || n < 1 || !x || !w || !v || (!k->recognized && !k->pair.fn)) return WF_EINVAL;
  if (N == 0) {
    if (energy) *energy = 0;
    return WF_OK;
  }
  double *pot = malloc(N * sizeof *pot), *grad = malloc(N * (size_t)n * sizeof *grad);
  int status = pot && grad ? WF_OK : WF_ENOMEM;
  double scale = 1;
  if (status == WF_OK && k->recognized) {
    ks_opts ko;
    ks_options(o, &ko);
    scale = k->scale;
    status = ks_sum(k->ks, k->h, n, N, x, N, x, w, pot, grad, &ko, NULL);
    for (size_t i = 0; status == WF_OK && i < N; i++) pot[i] -= w[i] * ks_at_zero(k->ks);
  } else if (status == WF_OK) {
    status = pair_sums(k, n, N, x, w, pot, grad, o);
  }
  if (status == WF_OK && !(all_finite(pot, N) && all_finite(grad, N * (size_t)n))) status = WF_EKERNEL;
  if (status == WF_OK) {
    double e = 0, c = coef * scale;
    for (size_t i = 0; i < N; i++) {
      e += w[i] * pot[i];
      for (int a = 0; a < n; a++) v[i * n + a] -= c * grad[i * n + a];
    }
    if (energy) *energy = 0.5 * c * e;
  }
  free(pot);
  free(grad);
  return status;
}

/* ------------------------------------------------------------- KDE terms */

/* rho_h and grad rho_h at the particles; 0 or an error. */
static int kde(int n, size_t N, const double *x, const double *w, double *rho, double *grad, const wf_opts *o) {
  if (!o || !(o->bandwidth > 0) || !isfinite(o->bandwidth)) return WF_EBANDWIDTH;
  ks_opts ko;
  ks_options(o, &ko);
  double h = o->bandwidth;
  int s = ks_sum(KS_GAUSS, h, n, N, x, N, x, w, rho, grad, &ko, NULL);
  if (s) return s;
  double c = pow(2 * M_PI * h * h, -0.5 * n);
  for (size_t i = 0; i < N; i++) {
    rho[i] *= c;
    for (int a = 0; a < n; a++) grad[i * n + a] *= c;
  }
  /* a particle's own term keeps rho_h > 0 unless it underflows (h far
  ** below the spacing in many dimensions) */
  for (size_t i = 0; i < N; i++)
    if (!(rho[i] > 0) || !isfinite(rho[i])) return WF_EDENSITY;
  return WF_OK;
}

/* F'(rho) of the per-particle energy density: entropy 1/rho, power rho^(m-2). */
static double dF(int power, double m, double rho) { return power ? pow(rho, m - 2) : 1 / rho; }

static int kde_term(int power, int blob, double coef, double m, int n, size_t N, const double *x, const double *w,
                    double *v, double *energy, const wf_opts *o) {
  if (n < 1 || !x || !w || !v) return WF_EINVAL;
  if (N == 0) {
    if (energy) *energy = 0;
    return WF_OK;
  }
  double *rho = malloc(N * sizeof *rho), *grad = malloc(N * (size_t)n * sizeof *grad);
  double *u = blob ? malloc(N * sizeof *u) : NULL, *g2 = blob ? malloc(N * (size_t)n * sizeof *g2) : NULL;
  int status = rho && grad && (!blob || (u && g2)) ? kde(n, N, x, w, rho, grad, o) : WF_ENOMEM;
  if (status == WF_OK && blob) {
    /* the second sum of the blob velocity: sum_i w_i F'(rho_i) grad G(x_k - x_i) */
    ks_opts ko;
    ks_options(o, &ko);
    for (size_t i = 0; i < N; i++) u[i] = w[i] * dF(power, m, rho[i]);
    status = ks_sum(KS_GAUSS, o->bandwidth, n, N, x, N, x, u, NULL, g2, &ko, NULL);
    double c = pow(2 * M_PI * o->bandwidth * o->bandwidth, -0.5 * n);
    for (size_t i = 0; status == WF_OK && i < N * (size_t)n; i++) g2[i] *= c;
  }
  if (status == WF_OK) {
    double e = 0;
    for (size_t i = 0; i < N; i++) {
      /* KDE score: entropy grad log rho_h = grad rho_h / rho_h, power m rho_h^(m-2) grad rho_h;
      ** blob: F'(rho_i) grad rho_i plus the second sum */
      double f = blob ? dF(power, m, rho[i]) : power ? m * pow(rho[i], m - 2) : 1 / rho[i];
      e += w[i] * (power ? pow(rho[i], m - 1) / (m - 1) : log(rho[i]));
      for (int a = 0; a < n; a++) v[i * n + a] -= coef * (f * grad[i * n + a] + (blob ? g2[i * n + a] : 0));
    }
    if (energy) *energy = coef * e;
  }
  free(rho);
  free(grad);
  free(u);
  free(g2);
  return status;
}

int wf_entropy_kde(double coef, int n, size_t N, const double *x, const double *w, double *v, double *energy,
                   const wf_opts *o) {
  return kde_term(0, 0, coef, 1, n, N, x, w, v, energy, o);
}

int wf_power_kde(double coef, double m, int n, size_t N, const double *x, const double *w, double *v, double *energy,
                 const wf_opts *o) {
  if (!(m > 1) || !isfinite(m)) return WF_EINVAL;
  return kde_term(1, 0, coef, m, n, N, x, w, v, energy, o);
}

int wf_entropy_blob(double coef, int n, size_t N, const double *x, const double *w, double *v, double *energy,
                    const wf_opts *o) {
  return kde_term(0, 1, coef, 1, n, N, x, w, v, energy, o);
}

int wf_power_blob(double coef, double m, int n, size_t N, const double *x, const double *w, double *v, double *energy,
                  const wf_opts *o) {
  if (!(m > 1) || !isfinite(m)) return WF_EINVAL;
  return kde_term(1, 1, coef, m, n, N, x, w, v, energy, o);
}

double wf_silverman(int n, size_t N, const double *x, const double *w) {
  if (N < 2 || n < 1) return NAN;
  /* sigma^2: the mean over coordinates of the weighted variances */
  double var = 0;
  for (int a = 0; a < n; a++) {
    double mean = 0, sq = 0;
    for (size_t i = 0; i < N; i++) mean += w[i] * x[i * n + a];
    for (size_t i = 0; i < N; i++) sq += w[i] * (x[i * n + a] - mean) * (x[i * n + a] - mean);
    var += sq / n;
  }
  return sqrt(var) * pow(4.0 / ((n + 2.0) * (double)N), 1.0 / (n + 4.0));
}

const char *wf_strerror(int status) {
  switch (status) {
  case WF_ECALLBACK: return "the kernel's compiled callback failed";
  case WF_EBANDWIDTH: return "the kernel density estimate needs a bandwidth > 0";
  case WF_EDENSITY: return "the kernel density estimate is 0 or not finite at a particle (bandwidth too small?)";
  case WF_ENOTARGET: return "the term has no target points";
  case WF_EKERNEL: return "the kernel sum is not finite (a singular kernel at coincident particles?)";
  case WF_EMAXITER: return "a Sinkhorn problem reached its iteration cap before the marginal tolerance";
  case WF_ESOLVER: return "the exact optimal transport solver failed";
  case WF_ETOOBIG: return "exact W2 in n-D is limited to 4e6 pairs of points: use a sinkhorn term";
  default: return ks_strerror(status);
  }
}
