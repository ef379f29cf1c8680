/*
** otexact.c — exact OT by min-cost flow (otexact.h): checks the input,
** builds the cost matrix, turns the weights into integer supplies that sum
** exactly (LEMON's network simplex reports INFEASIBLE for double supplies
** of 1/n, whose sums round), and reads the plan back.
*/
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "otexact.h"
#include "otexact_lemon.h"

#define SCALE_BITS 50             /* S ~ 2^50: supplies and flows fit in int64 */

ot_plan *ot_plan_alloc(size_t cap) {
  ot_plan *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  size_t c = cap ? cap : 1;
  p->cap = cap;
  p->i = malloc(c * sizeof *p->i);
  p->j = malloc(c * sizeof *p->j);
  p->mass = malloc(c * sizeof *p->mass);
  if (!p->i || !p->j || !p->mass) {
    ot_plan_free(p);
    return NULL;
  }
  return p;
}

void ot_plan_free(ot_plan *p) {
  if (!p) return;
  free(p->i), free(p->j), free(p->mass);
  free(p);
}

typedef struct {
  double frac;
  size_t k;
} rem_item;

static int rem_cmp(const void *u, const void *v) {
  const rem_item *a = u, *b = v;
  if (a->frac != b->frac) return a->frac > b->frac ? -1 : 1;
  return a->k < b->k ? -1 : a->k > b->k; /* ties by index: deterministic */
}

/* q[i] = w_i / W * S rounded so that sum q = S exactly (largest remainders);
** w NULL: S / n each (S is a multiple of n then). */
static int to_supplies(size_t n, const double *w, double W, long long S, long long *q) {
  if (!w) {
    for (size_t i = 0; i < n; i++) q[i] = S / (long long)n;
    return OT_OK;
  }
  rem_item *r = malloc(n * sizeof *r);
  if (!r) return OT_ENOMEM;
  long long sum = 0;
  for (size_t i = 0; i < n; i++) {
    double t = w[i] / W * (double)S;
    double f = floor(t);
    q[i] = (long long)f;
    sum += q[i];
    r[i].frac = t - f;
    r[i].k = i;
  }
  long long left = S - sum;      /* in [0, n] up to the rounding of t */
  if (left < 0 || left > (long long)n) {
    free(r);
    return OT_EINVAL;
  }
  qsort(r, n, sizeof *r, rem_cmp);
  for (long long k = 0; k < left; k++) q[r[k].k]++;
  free(r);
  return OT_OK;
}

static long long gcd_ll(long long u, long long v) {
  while (v) {
    long long t = u % v;
    u = v, v = t;
  }
  return u;
}

int ot_exact_cost(size_t n, size_t m, const double *C, const double *a, const double *b,
                  double *value, ot_plan *plan) {
  if (!value || !C || n == 0 || m == 0) return OT_EINVAL;
  if (n > INT_MAX || m > INT_MAX || (double)n * (double)m > (double)(INT_MAX - 2) - n - m)
    return OT_EINVAL;
  if (plan && plan->cap < n + m) return OT_EINVAL;
  double A, B;
  int st;
  if ((st = ot_check_weights(n, a, &A)) || (st = ot_check_weights(m, b, &B))) return st;
  for (size_t k = 0; k < n * m; k++)
    if (!isfinite(C[k])) return OT_ENONFINITE;

  long long S;
  if (!a && !b) {
    long long g = gcd_ll((long long)n, (long long)m);
    S = (long long)n / g * (long long)m;   /* lcm: sup m/g, dem n/g */
  } else {
    S = (long long)1 << SCALE_BITS;
    if (!a) S -= S % (long long)n;         /* the uniform side stays exact */
    if (!b) S -= S % (long long)m;
  }
  size_t cap = n + m;
  long long *sup = malloc(n * sizeof *sup), *dem = malloc(m * sizeof *dem);
  long long *pf = malloc(cap * sizeof *pf);
  int *pi = malloc(cap * sizeof *pi), *pj = malloc(cap * sizeof *pj);
  if (!sup || !dem || !pf || !pi || !pj) {
    st = OT_ENOMEM;
    goto done;
  }
  if ((st = to_supplies(n, a, A, S, sup)) || (st = to_supplies(m, b, B, S, dem))) goto done;
  size_t nnz;
  int r = otexact_lemon_solve((int)n, (int)m, sup, dem, C, cap, pi, pj, pf, &nnz);
  if (r == -2) st = OT_ENOMEM;
  else if (r == -1) st = OT_EINVAL;
  else if (r != 0) st = OT_ESOLVER;
  if (st) goto done;
  double v = 0.0;
  for (size_t k = 0; k < nnz; k++) v += (double)pf[k] * C[(size_t)pi[k] * m + (size_t)pj[k]];
  *value = v / (double)S;
  if (plan) {
    for (size_t k = 0; k < nnz; k++) {
      plan->i[k] = (size_t)pi[k];
      plan->j[k] = (size_t)pj[k];
      plan->mass[k] = (double)pf[k] / (double)S;
    }
    plan->nnz = nnz;
  }
done:
  free(sup), free(dem), free(pf), free(pi), free(pj);
  return st;
}

int ot_exact(size_t n, size_t m, int d, const double *x, const double *a,
             const double *y, const double *b, double p, double *value, ot_plan *plan) {
  if (!(p >= 1.0) || !isfinite(p) || !value) return OT_EINVAL;
  int st;
  if ((st = ot_check_points(n, d, x)) || (st = ot_check_points(m, d, y))) return st;
  if ((double)n * (double)m > (double)INT_MAX) return OT_EINVAL;
  double *C = malloc(n * m * sizeof *C);
  if (!C) return OT_ENOMEM;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < m; j++) {
      double s = 0.0;
      for (int k = 0; k < d; k++) {
        double t = x[i * d + k] - y[j * d + k];
        s += t * t;
      }
      C[i * m + j] = p == 2.0 ? s : pow(sqrt(s), p);
    }
  st = ot_exact_cost(n, m, C, a, b, value, plan);
  free(C);
  return st;
}
