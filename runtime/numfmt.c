/*
** numfmt.c — "%.17g" without printf (see numfmt.h).
** The 17 digits of v = m 2^e2 are round(v 10^(16 - E)), E = floor(log10 v),
** computed in 192-bit integer arithmetic from 10^(16 - E) truncated to 128
** bits (numfmt_pow10.h).  The truncation errs by less than 2^-64 of a unit
** in the 17th digit, so rounding is certain except within that distance of
** a tie; those values (exact ties such as 2^-25), zeros, infinities and NaN
** go to snprintf.  glibc's printf rounds exactly too, so the two agree byte
** for byte (tests/unit/check_geo.c compares them over every exponent).
*/
#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int by_printf(char *buf, double v) {
  int len = snprintf(buf, NUMFMT_G17_LEN, "%.17g", v);
  for (char *p = buf; *p; p++)
    if (*p == ',') *p = '.'; /* a decimal-comma locale set by an embedder */
  return len;
}

#if defined(__SIZEOF_INT128__)
#include "numfmt_pow10.h"

typedef unsigned __int128 u128;

/* bits p .. p+63 of the 192-bit number w[2]:w[1]:w[0], 0 <= p <= 128 */
static uint64_t bits64(const uint64_t w[3], int p) {
  int i = p / 64, r = p % 64;
  if (r == 0) return w[i];
  return (w[i] >> r) | (i < 2 ? w[i + 1] << (64 - r) : 0);
}

/* floor and fraction of m 2^e2 10^j: 0 with the rounded value in *d, or -1
** when the rounding is not certain or j is outside the table */
static int scale_round(uint64_t m, int e2, int j, uint64_t *floor_part, uint64_t *d) {
  if (j < NUMFMT_POW10_LO || j > NUMFMT_POW10_HI) return -1;
  const uint64_t chi = numfmt_pow10[j - NUMFMT_POW10_LO].hi;
  const uint64_t clo = numfmt_pow10[j - NUMFMT_POW10_LO].lo;
  int s = -(e2 + numfmt_pow10[j - NUMFMT_POW10_LO].exp2);
  u128 lo = (u128)m * clo, hi = (u128)m * chi;
  u128 mid = (lo >> 64) + (uint64_t)hi;
  uint64_t w[3] = {(uint64_t)lo, (uint64_t)mid, (uint64_t)(hi >> 64) + (uint64_t)(mid >> 64)};
  /* the integer part must be bits s .. s+63 with nothing above */
  if (s < 64 || s > 128 || (s < 128 && w[2] >> (s - 64) != 0)) return -1;
  uint64_t n = bits64(w, s), frac = bits64(w, s - 64);
  /* the exact fraction lies in [frac, frac + 2) 2^-64 */
  const uint64_t half = (uint64_t)1 << 63;
  if (frac == half - 1 || frac == half) return -1;
  *floor_part = n;
  *d = n + (frac > half);
  return 0;
}

/* the 17 significant digits of |v| (finite, nonzero) and its decimal
** exponent; -1 where by_printf must decide */
static int digits17(uint64_t bits, uint64_t *d, int *exp10) {
  const uint64_t p16 = 10000000000000000u, p17 = 100000000000000000u;
  int be = (int)(bits >> 52 & 0x7ff);
  uint64_t m = bits & (((uint64_t)1 << 52) - 1);
  int e2 = -1074;
  if (be) {
    m |= (uint64_t)1 << 52;
    e2 = be - 1075;
  }
  int log2v = e2 + 63 - __builtin_clzll(m);
  /* floor(log2v log10(2)) exactly for |log2v| <= 1100 (78913 / 2^18 is
  ** log10(2) to 8e-7; checked in exact arithmetic): floor(log10 v) or one less */
  int32_t x = log2v * 78913;
  int e = x >= 0 ? x >> 18 : -((-x + 262143) >> 18);
  for (int tries = 0; tries < 3; tries++) {
    uint64_t n;
    if (scale_round(m, e2, 16 - e, &n, d) != 0) return -1;
    if (n < p16) {
      e--;
    } else if (n >= p17) {
      e++;
    } else {
      if (*d == p17) {
        *d = p16;
        e++;
      }
      *exp10 = e;
      return 0;
    }
  }
  return -1;
}

int numfmt_g17(char *buf, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  uint64_t d;
  int e;
  if (!isfinite(v) || v == 0 || digits17(bits, &d, &e) != 0) return by_printf(buf, v);
  char dig[17];
  uint32_t lo8 = (uint32_t)(d % 100000000u), hi9 = (uint32_t)(d / 100000000u);
  for (int i = 16; i >= 9; i--) {
    dig[i] = (char)('0' + lo8 % 10);
    lo8 /= 10;
  }
  for (int i = 8; i >= 0; i--) {
    dig[i] = (char)('0' + hi9 % 10);
    hi9 /= 10;
  }
  int nd = 17; /* %g drops trailing zeros, and the point if nothing follows */
  while (nd > 1 && dig[nd - 1] == '0') nd--;
  char *p = buf;
  if (bits >> 63) *p++ = '-';
  if (e < -4 || e >= 17) {
    *p++ = dig[0];
    if (nd > 1) {
      *p++ = '.';
      memcpy(p, dig + 1, (size_t)nd - 1);
      p += nd - 1;
    }
    *p++ = 'e';
    *p++ = e < 0 ? '-' : '+';
    int a = e < 0 ? -e : e;
    if (a >= 100) *p++ = (char)('0' + a / 100);
    *p++ = (char)('0' + a / 10 % 10);
    *p++ = (char)('0' + a % 10);
  } else if (e >= 0) {
    memcpy(p, dig, (size_t)e + 1);
    p += e + 1;
    if (nd > e + 1) {
      *p++ = '.';
      memcpy(p, dig + e + 1, (size_t)(nd - e - 1));
      p += nd - e - 1;
    }
  } else {
    *p++ = '0';
    *p++ = '.';
    for (int i = 0; i < -e - 1; i++) *p++ = '0';
    memcpy(p, dig, (size_t)nd);
    p += nd;
  }
  *p = '\0';
  return (int)(p - buf);
}

#else /* no 128-bit integers: printf does it all */

int numfmt_g17(char *buf, double v) { return by_printf(buf, v); }

#endif
