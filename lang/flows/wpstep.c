/*
** wpstep.c — the particle velocity of an energy and the Heun and
** Euler-Maruyama steps of its particle flows (wpstep.h).
*/
#include "wpstep.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "rng.h"
#include "strbuf.h"

int wp_model_init(wp_model *W, const energy_model *M, int n, size_t N, double bandwidth, double tol, int threads,
                  char *err, size_t errlen) {
  memset(W, 0, sizeof *W);
  W->M = M;
  W->n = n;
  W->N = N;
  W->bandwidth = bandwidth;
  W->o.threads = threads;
  W->o.tol = tol;
  W->w = malloc((N ? N : 1) * sizeof *W->w);
  W->tmp = malloc((N ? N : 1) * (size_t)n * sizeof *W->tmp);
  W->ws = calloc(M->local.nwork + 1, sizeof *W->ws);
  W->out = calloc((size_t)n + 1, sizeof *W->out);
  W->part_name = calloc((size_t)M->nterms + 3, sizeof *W->part_name);
  if (!W->w || !W->tmp || !W->ws || !W->out || !W->part_name) {
    snprintf(err, errlen, "out of memory for %zu particles", N);
    return -1;
  }
  for (size_t i = 0; i < N; i++) W->w[i] = 1.0 / (double)N;
  if (M->has_local) W->part_name[W->nparts++] = hnn_xstrdup("potential");
  if (M->entropy > 0) W->part_name[W->nparts++] = hnn_xstrdup("entropy");
  for (int t = 0; t < M->nterms; t++) {
    /* interaction, or interaction_2 for the second one */
    int same = 0;
    for (int u = 0; u < t; u++) same += M->terms[u].piece == M->terms[t].piece;
    strbuf b = STRBUF_INIT;
    sb_printf(&b, "%s", energy_piece_name(M->terms[t].piece));
    if (same) sb_printf(&b, "_%d", same + 1);
    W->part_name[W->nparts++] = sb_take(&b);
  }
  return 0;
}

void wp_model_free(wp_model *W) {
  for (int i = 0; W->part_name && i < W->nparts; i++) free(W->part_name[i]);
  free(W->part_name);
  for (int b = 0; W->rng && b < W->nblocks; b++) gsl_rng_free(W->rng[b]);
  free(W->rng);
  free(W->w);
  free(W->tmp);
  free(W->ws);
  free(W->out);
  memset(W, 0, sizeof *W);
}

static int fail(char *err, size_t errlen, const char *what, int status) {
  snprintf(err, errlen, "%s: %s", what, wf_strerror(status));
  return -1;
}

/* One nonlocal term's velocity added to v. */
static int term_velocity(wp_model *W, const em_term *t, const double *x, double *v, double *e) {
  int n = W->n;
  size_t N = W->N;
  wf_opts o = W->o;
  o.bandwidth = W->last_bandwidth;
  switch (t->piece) {
  case ENERGY_INTERACTION: return wf_interaction(&t->kernel, t->coef, n, N, x, W->w, v, e, &o);
  case ENERGY_POWER:
    return W->blob ? wf_power_blob(t->coef, t->m, n, N, x, W->w, v, e, &o)
                   : wf_power_kde(t->coef, t->m, n, N, x, W->w, v, e, &o);
  case ENERGY_MMD:
    return wf_mmd(&t->kernel, t->coef, n, N, x, W->w, (size_t)t->ntarget, t->target, t->target_w, v, e, &o);
  case ENERGY_DISTANCE: {
    wf_kernel k = { 1, KS_ENERGY, 1, 1, { NULL, 0 } };
    return wf_mmd(&k, t->coef, n, N, x, W->w, (size_t)t->ntarget, t->target, t->target_w, v, e, &o);
  }
  case ENERGY_SINKHORN:
    o.eps = t->eps;
    return wf_sinkhorn(t->coef, n, N, x, W->w, (size_t)t->ntarget, t->target, t->target_w, v, e, &o);
  case ENERGY_W2: return wf_w2(t->coef, n, N, x, W->w, (size_t)t->ntarget, t->target, t->target_w, v, e, &o);
  default: return WF_EINVAL;
  }
}

int wp_velocity(wp_model *W, const double *x, int with_entropy, double *v, double *parts, char *err, size_t errlen) {
  const energy_model *M = W->M;
  int n = W->n, k = 0;
  size_t N = W->N;
  memset(v, 0, N * (size_t)n * sizeof *v);
  W->last_bandwidth = 0;
  int kde = M->entropy > 0;
  for (int t = 0; t < M->nterms; t++) kde |= M->terms[t].piece == ENERGY_POWER;
  if (kde) {
    W->last_bandwidth = W->bandwidth > 0 ? W->bandwidth : wf_silverman(n, N, x, W->w);
    if (!(W->last_bandwidth > 0) || !isfinite(W->last_bandwidth)) {
      snprintf(err, errlen, "Silverman's bandwidth is %g (the particles coincide, or fewer than 2): give the run a bandwidth",
               W->last_bandwidth);
      return -1;
    }
  }
  if (M->has_local) {
    double U = 0;
    for (size_t i = 0; i < N; i++) {
      if (M->local.fn(x + i * n, NULL, W->out, W->ws) || !isfinite(W->out[n])) {
        snprintf(err, errlen, "the potential is not finite at particle %zu", i + 1);
        return -1;
      }
      for (int a = 0; a < n; a++) v[i * n + a] = -W->out[a];
      U += W->w[i] * W->out[n];
    }
    if (parts) parts[k] = U;
    k++;
  }
  if (M->entropy > 0) {
    double e = 0;
    wf_opts o = W->o;
    o.bandwidth = W->last_bandwidth;
    /* without the velocity (Langevin), the estimate of the energy only */
    double *vv = with_entropy ? v : W->tmp;
    if (parts || with_entropy) {
      int s = W->blob && with_entropy ? wf_entropy_blob(M->entropy, n, N, x, W->w, vv, &e, &o)
                                      : wf_entropy_kde(M->entropy, n, N, x, W->w, vv, &e, &o);
      if (s) return fail(err, errlen, "entropy", s);
    }
    if (parts) parts[k] = e;
    k++;
  }
  for (int t = 0; t < M->nterms; t++, k++) {
    double e = 0;
    int s = term_velocity(W, &M->terms[t], x, v, &e);
    if (s) return fail(err, errlen, W->part_name[k], s);
    if (parts) parts[k] = e;
  }
  for (size_t i = 0; i < N * (size_t)n; i++)
    if (!isfinite(v[i])) {
      snprintf(err, errlen, "the velocity is not finite at particle %zu", i / (size_t)n + 1);
      return -1;
    }
  return 0;
}

int wp_heun_step(wp_model *W, double *x, const double *v, double h, double *xt, char *err, size_t errlen) {
  size_t m = W->N * (size_t)W->n;
  for (size_t i = 0; i < m; i++) xt[i] = x[i] + h * v[i];
  double *v2 = W->tmp;   /* free: wp_velocity uses it only without entropy */
  int s = wp_velocity(W, xt, 1, v2, NULL, err, errlen);
  if (s == 0)
    for (size_t i = 0; i < m; i++) x[i] += 0.5 * h * (v[i] + v2[i]);
  return s;
}

int wp_noise_init(wp_model *W, uint64_t seed) {
  W->nblocks = (int)((W->N + WP_BLOCK - 1) / WP_BLOCK);
  W->rng = calloc((size_t)W->nblocks + 1, sizeof *W->rng);
  if (!W->rng) return -1;
  for (int b = 0; b < W->nblocks; b++)
    if (!(W->rng[b] = rng_stream(seed, RNG_BLOCK, (uint64_t)b))) return -1;
  return 0;
}

typedef struct noise_job {
  wp_model *W;
  double *x;
  const double *v;
  double h, s;
} noise_job;

static void noise_task(void *ctx, long lo, long hi, int thread) {
  noise_job *J = ctx;
  const int n = J->W->n;
  (void)thread;
  for (long b = lo; b < hi; b++) {
    size_t i0 = (size_t)b * WP_BLOCK, i1 = i0 + WP_BLOCK < J->W->N ? i0 + WP_BLOCK : J->W->N;
    gsl_rng *r = J->W->rng[b];
    for (size_t i = i0 * n; i < i1 * n; i++) J->x[i] += J->h * J->v[i] + J->s * gsl_ran_gaussian_ziggurat(r, 1.0);
  }
}

void wp_langevin_step(wp_model *W, double *x, const double *v, double h, double T) {
  noise_job J = { W, x, v, h, sqrt(2 * T * h) };
  int nt = W->o.threads > 0 ? W->o.threads : pool_max_threads();
  pool_run(nt, W->nblocks, 0, noise_task, &J);
}
