/*
** numfmt.h — numbers as run output writes them: printf's "%.17g" (17
** significant digits, correctly rounded, so strtod gives the double back),
** about ten times faster than printf, always with '.' as decimal point.
*/
#ifndef HNN_NUMFMT_H
#define HNN_NUMFMT_H

#include <stddef.h>

/* Room for any numfmt_g17 result and its terminating NUL. */
#define NUMFMT_G17_LEN 32

/* Write v into buf (NUMFMT_G17_LEN bytes) as snprintf(buf, len, "%.17g", v)
** does in the C locale; returns the length. */
int numfmt_g17(char *buf, double v);

#endif
