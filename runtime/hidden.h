/*
** hidden.h — the continuous Hopfield network with visible and hidden units
** (source 001, Sec. 5, Def. 15) and its Recall-and-Learn algorithm (Alg. 14).
**
** Two convex Lagrangians L_v(v), L_h(h) give the activations g = grad L_v,
** f = grad L_h; U (nv x nh) couples them and I (nv) is the input.  Energy
**
**   E(v, h) = (v - I).g(v) - L_v(v) + h.f(h) - L_h(h) - g(v)' U f(h),
**
** grad_v E = H_v (v - I - U f(h)), grad_h E = H_h (h - U' g(v)), with H the
** Hessians.  So K = blockdiag(H_v^-1, H_h^-1) turns the deterministic
** dynamics of Def. 15 into the gradient form -K grad E:
**
**   v' = U f(h) - v + I,   h' = U' g(v) - h.
**
** The stochastic version (Thm 8 with this K; Thm 16 when f, g are linear) is
**
**   dx = (-K grad E + T div K) dt + sqrt(2T) K^1/2 dW,
**   div K = -K grad log det H      (d_b K = -K (d_b H) K, H a Hessian),
**
** whose stationary law is exp(-E/T)/Z.  We write -K grad E in the network's
** own form above, which is exact for any L and does not multiply a huge K
** (cosh^2 v for tanh units) by a tiny gradient.  Thm 16 as printed in the
** seed puts K in front of the bracket; that is the mangled part: K H = 1.
**
** Recall-and-Learn: recall relaxes N samples of q_E(h|v) for each pattern v
** (v clamped: dh = (U'g(v) - h + T div K_h) dt + noise); learn is a gradient
** step on the mean conditional free energy F(v) = -T ln Z_E(v) (Def. 10,
** Lemma 11), whose gradient is <dE/dU> = -<g(v) f(h)'> over q_E(h|v)
** (Lemma 13): U += rate * mean_v <g(v) f(h)'>, the Hebbian rule (Remark 17).
** F is computed exactly when L_h is separable: E(v, .) is then a sum of
** one-dimensional terms and ln Z_E(v) a sum of 1-D integrals (GSL QAGI).
**
** Random streams: one per pattern (or per trajectory), split from the seed
** (rng.h); patterns run in parallel (pool.h) and every reduction is in
** pattern order, so the output does not depend on the thread count.
** Depends on flow.h, rng.h, pool.h, GSL.
*/
#ifndef HNN_HIDDEN_H
#define HNN_HIDDEN_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "flow.h"

/* One Lagrangian L of an n-vector, as two compiled callbacks. */
typedef struct hid_lagr {
  int n;
  int diagonal;          /* H diagonal (L separable): K and its factor are n-vectors */
  flow_fn lg;            /* x -> [L(x), grad L(x) (n)] */
  flow_fn geom;          /* x -> [K = H^-1 (n, or n x n row-major), div K (n)] */
} hid_lagr;

typedef struct hid_net {
  int nv, nh;
  hid_lagr Lv, Lh;
  double *U;             /* nv x nh row-major: the caller's, updated by hid_learn */
  const double *I;       /* nv */
  double T;              /* temperature >= 0 (0: deterministic) */
} hid_net;

enum {
  HID_OK = 0,
  HID_STOPPED = 1,       /* the emit callback asked to stop */
  HID_ECALLBACK = -1,    /* a callback failed or gave a non-finite value */
  HID_ENONFINITE = -2,   /* a state or a weight became non-finite */
  HID_EHESSIAN = -3,     /* a Hessian is not positive definite at a state */
  HID_EQUAD = -4,        /* a free-energy integral did not converge */
  HID_ENOMEM = -5,
  HID_EINTR = -6,        /* flow_interrupted() */
  HID_EINVAL = -7,
  HID_EFAR = -8          /* the relaxed samples are far from the mode of q_E(h|v) */
};

/* Scratch of one thread. */
typedef struct hid_ws hid_ws;
hid_ws *hid_ws_alloc(const hid_net *net);
void hid_ws_free(hid_ws *w);

/* E(v, h) at x = (v, h). */
int hid_energy(const hid_net *net, const double *x, double *E, hid_ws *w);
/* The deterministic field (Def. 15) at x = (v, h) into dx (nv + nh). */
int hid_field(const hid_net *net, const double *x, double *dx, hid_ws *w);
/* The SDE drift -K grad E + T div K at x into drift (nv + nh); clamp_v: v
** is held (only the h part is written, into drift + nv). */
int hid_drift(const hid_net *net, const double *x, int clamp_v, double *drift, hid_ws *w);
/* One Euler-Maruyama step of length dt of x = (v, h) in place (clamp_v:
** only h moves).  T = 0: explicit Euler on the field. */
int hid_step(const hid_net *net, double *x, int clamp_v, double dt, gsl_rng *r, hid_ws *w);

/* The conditional free energy -T ln Z_E(v) (Def. 10), for separable L_h and
** T > 0; center (nh): where to split the 1-D integrals (near the mode of
** q_E(h|v), e.g. the mean of relaxed samples). */
int hid_free_energy(const hid_net *net, const double *v, const double *center, double *F, hid_ws *w);

/* ------------------------------------------------------ Recall-and-Learn */

typedef struct hid_rl_opts {
  long rounds;           /* learning steps (rows written: rounds + 1) */
  double rate;           /* learning rate */
  int samples;           /* samples of q_E(h|v) per pattern */
  long relax;            /* EM steps of the relaxation per round */
  double dt;             /* step of the relaxation and of the recall dynamics */
  long recall;           /* steps of the deterministic recall from a cue */
  double corrupt;        /* fraction of each cue's visible signs flipped */
  uint64_t seed;
  int threads;           /* 0: pool_max_threads() */
} hid_rl_opts;

/* One output row of a round. */
typedef struct hid_rl_row {
  long round;
  double free_energy;    /* mean over patterns of -T ln Z_E(v) */
  double recall_rate;    /* fraction of patterns recalled sign for sign */
  double overlap;        /* mean overlap (1/nv) sum sign(v_i) sign(xi_i) after recall */
  double energy;         /* mean <E(v, h)> over patterns and samples */
  double norm_u;         /* Frobenius norm of U */
} hid_rl_row;

typedef int (*hid_rl_emit)(void *ctx, const hid_rl_row *row);

void hid_rl_opts_default(hid_rl_opts *o);
/* Recall-and-Learn on P patterns (P x nv, row-major), updating net->U.
** emit is called after each round's recall (round 0: the initial U).
** err receives a message on failure. */
int hid_rl_run(hid_net *net, const double *patterns, int P, const hid_rl_opts *o, hid_rl_emit emit, void *ctx,
               flow_tick tick, void *tick_ctx, char *err, size_t errlen);

const char *hid_strerror(int status);

#endif
