/*
** fastexp.h — one branch-free exp for the vectorized loops of the runtime
** (sinkhorn.c's log-sum-exps, kernsum.c's kernel sums, prox_kernel.c's Gibbs
** kernel), so that they vectorize (glibc's exp is a scalar call).
**
** hnn_fexp(x) for x in [-708, 709]: x = k ln2 + r with |r| <= ln2/2 (k by
** the round-to-nearest of adding 1.5 * 2^52), exp(r) by its Taylor
** polynomial of degree 12 (truncation < 2e-16 relative on |r| <= ln2/2),
** then scaled by 2^k built in the exponent bits.  Relative error < 5e-16
** against glibc's exp (measured 4.7e-16, the Horner rounding at |r| near
** ln2/2; tested in tests/unit/check_ot.c over [-708, 709]).  Above 709 it
** saturates at exp(709).  Below -708 it returns 0: callers subtract the
** largest exponent of a sum first, so such terms are < 1e-307 of it.  NaN
** gives 0 (callers never pass it).  Needs round-to-nearest (the default).
** hnn_fexp13 adds the degree-13 term (the proximal kernel's, kept so its
** results keep their bits): c13 * r + 1/12! is exactly 1/12! when c13 = 0.
*/
#ifndef HNN_FASTEXP_H
#define HNN_FASTEXP_H

#include <stdint.h>

static inline double hnn_fexp_poly(double x, double c13) {
  const double magic = 6755399441055744.0;           /* 1.5 * 2^52 */
  const int64_t mbits = INT64_C(0x4338000000000000);  /* its bits */
  double xc = x > -708.0 ? x : -708.0;
  xc = xc < 709.0 ? xc : 709.0;
  double t = xc * 1.4426950408889634 + magic;         /* k in the low bits */
  double kd = t - magic;
  /* ln2 split so that kd * LN2_HI is exact for |k| < 2^11 */
  double r = (xc - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
  double p = c13 * r + 1.0 / 479001600.0;            /* 1/12! */
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  union { double d; int64_t i; } ut = { .d = t }, us;
  int64_t keep = -(int64_t)(x >= -708.0);             /* all ones, or 0 */
  us.i = ((ut.i - mbits + 1023) << 52) & keep;
  return p * us.d;
}

static inline double hnn_fexp(double x) { return hnn_fexp_poly(x, 0.0); }
static inline double hnn_fexp13(double x) { return hnn_fexp_poly(x, 1.0 / 6227020800.0); }

#endif
