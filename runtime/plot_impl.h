/*
** plot_impl.h — what plot.c and plot_field.c share: the stored series, the
** axis mapping from data to pixels, and the field drawing functions.
** Internal to runtime/plot*.c.
*/
#ifndef HNN_PLOT_IMPL_H
#define HNN_PLOT_IMPL_H

#include "cairo_lazy.h"
#include <math.h>
#include <stddef.h>

typedef enum { S_LINE, S_SCATTER, S_FIELD } series_kind;

typedef struct series {
  series_kind kind;
  size_t n;
  double *x, *y, *v;        /* v: scatter values (or NULL), field z */
  double rgb[3], alpha, width;
  char *label;
  int nx, ny, mode, levels;
  double ext[4];            /* field: xmin, xmax, ymin, ymax */
} series;

typedef struct axis {
  double lo, hi;     /* data limits */
  int log;
  double a, b;       /* pixel = a + b * t(value) */
} axis;

static inline double tr(const axis *ax, double v) { return ax->log ? log10(v) : v; }
static inline double to_px(const axis *ax, double v) {
  double q = ax->a + ax->b * tr(ax, v);
  return q < -1e6 ? -1e6 : q > 1e6 ? 1e6 : q;   /* keep cairo's fixed point in range */
}
static inline int usable(double v, int log) { return isfinite(v) && (!log || v > 0); }

/* Colour-scale position of v in [lo, hi] (log10 scale if log). */
static inline double cnorm(double v, double lo, double hi, int log) {
  if (log) return v > 0 ? (log10(v) - log10(lo)) / (log10(hi) - log10(lo)) : 0;
  return (v - lo) / (hi - lo);
}

/* plot_field.c: a colormap image, and marching-squares contours. The colour
** scale is [clo, chi] (log if clog). */
/* Axis ticks: about target steps of 1, 2 or 5 x 10^k (linear); decades
** with minor ticks (log, two decades or more); labelled 1-2-5 steps, or
** every mantissa when those are fewer than three (log, less than two
** decades).  major: labelled. */
typedef struct ticks {
  double v[128];
  int n, major[128];
} ticks;
void plot_make_ticks(double lo, double hi, int log, int target, ticks *t);

void plot_draw_heatmap(cairo_t *cr, const series *s, const axis *X, const axis *Y,
                       double clo, double chi, int clog);
void plot_draw_contours(cairo_t *cr, const series *s, const axis *X, const axis *Y,
                        double clo, double chi, int clog);

#endif
