/*
** plot.h — figures in data coordinates, written as PNG, SVG or PDF by cairo.
**
** A figure is a grid of panels (one by default); each call adds to the
** current panel.  Series are copied when added and drawn only by plot_save,
** so limits, ticks, legend and colorbar see every series.  Text uses cairo's
** toy text API with the "sans-serif" face; no X server is involved.
** Errors: plot_save returns 0 or -1 with a message in err; the adding calls
** return 0 or -1 (out of memory or bad arguments) and never abort.
*/
#ifndef HNN_PLOT_H
#define HNN_PLOT_H

#include <stddef.h>
#include <stdint.h>

typedef struct plot plot;

/* Colours: a small integer is an index into a 10-colour palette (cycled);
** PLOT_RGB/PLOT_HEX give an opaque colour; PLOT_AUTO takes the panel's next
** palette colour.  Transparency is set with plot_alpha. */
typedef uint32_t plot_color;
#define PLOT_HEX(h) ((plot_color)(0x01000000u | ((uint32_t)(h) & 0xFFFFFFu)))
#define PLOT_RGB(r, g, b) PLOT_HEX(((uint32_t)(r) << 16) | ((uint32_t)(g) << 8) | (uint32_t)(b))
#define PLOT_AUTO ((plot_color)0x00FFFFFFu)

/* plot_field modes (bits). */
enum {
  PLOT_HEATMAP = 1,     /* colormap image with a colorbar */
  PLOT_CONTOURS = 2,    /* iso-lines by marching squares */
  PLOT_LOGLEVELS = 4,   /* log-spaced levels and colour scale (values > 0) */
  PLOT_GREY = 8         /* contours in grey, outside the colour scale (other series own it) */
};

/* A figure of width x height pixels (points for SVG/PDF); NULL if out of memory. */
plot *plot_new(int width_px, int height_px);
void plot_free(plot *p);                       /* accepts NULL */

/* Split the figure into rows x cols panels and make panel `index`
** (1-based, row by row) current.  Fails if the grid changes size after
** series were added, or index is out of range. */
int plot_subplot(plot *p, int rows, int cols, int index);

/* Settings of the current panel.  Texts are copied; NULL clears. */
int plot_title(plot *p, const char *text);
int plot_xlabel(plot *p, const char *text);
int plot_ylabel(plot *p, const char *text);
void plot_logx(plot *p, int on);               /* non-positive values are skipped */
void plot_logy(plot *p, int on);
void plot_xlim(plot *p, double lo, double hi); /* lo == hi (e.g. 0, 0): automatic */
void plot_ylim(plot *p, double lo, double hi);
void plot_alpha(plot *p, double alpha);        /* opacity of the following series, 0..1 */
void plot_levels(plot *p, int k);              /* contour levels of the next fields (default 12) */
/* Caption of the panel's colorbar (default: none). */
int plot_colorbar_label(plot *p, const char *text);

/* A polyline through (x[i], y[i]); non-finite points break it.  A label
** adds a legend entry.  width is in pixels (<= 0: 1.5). */
int plot_line(plot *p, const double *x, const double *y, size_t n, plot_color color,
              double width, const char *label);

/* Discs of the given radius (<= 0: 3 pixels).  With values, each point is
** coloured by viridis over the values' range, and a colorbar is drawn;
** without, by `color` (the panel's next palette colour for PLOT_AUTO). */
int plot_scatter_c(plot *p, const double *x, const double *y, size_t n, const double *values,
                   double radius, plot_color color, const char *label);
#define plot_scatter(p, x, y, n, values, radius) \
  plot_scatter_c((p), (x), (y), (n), (values), (radius), PLOT_AUTO, NULL)

/* A scalar field on a regular nx x ny grid: z[j*nx + i] is the value at
** x = xmin + i*(xmax-xmin)/(nx-1), y = ymin + j*(ymax-ymin)/(ny-1).
** mode: PLOT_HEATMAP and/or PLOT_CONTOURS, optionally | PLOT_LOGLEVELS.
** Fields are meant for linear axes. */
int plot_field(plot *p, int nx, int ny, const double *z, double xmin, double xmax,
               double ymin, double ymax, int mode);

/* Render and write; the format follows the extension (.png, .svg, .pdf,
** any case).  The file is written to a temporary name in the same
** directory and renamed into place, so a failure never leaves a partial
** image.  Returns 0, or -1 with a message in err. */
int plot_save(plot *p, const char *path, char *err, size_t errlen);

/* Viridis at t in [0, 1] (clamped): rgb in [0, 1]. */
void plot_viridis(double t, double rgb[3]);

#endif
