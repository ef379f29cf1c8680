/*
** plot_field.c — drawing of plot_field series (see plot.h): a viridis image
** of the grid values with bilinear smoothing, and iso-lines by marching
** squares (saddles resolved by the cell's mean), on linear or log levels.
** Used by plot.c's renderer; depends on cairo.
*/
#include <math.h>
#include <stdint.h>

#include "plot.h"
#include "plot_impl.h"

void plot_draw_heatmap(cairo_t *cr, const series *s, const axis *X, const axis *Y,
                         double clo, double chi, int clog) {
  cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, s->nx, s->ny);
  if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(img);
    return;
  }
  cairo_surface_flush(img);
  unsigned char *data = cairo_image_surface_get_data(img);
  int stride = cairo_image_surface_get_stride(img);
  for (int j = 0; j < s->ny; j++) {
    uint32_t *row = (uint32_t *)(data + (size_t)(s->ny - 1 - j) * stride);
    for (int i = 0; i < s->nx; i++) {
      double z = s->v[(size_t)j * s->nx + i], c[3];
      if (!usable(z, clog)) {
        row[i] = 0;
        continue;
      }
      plot_viridis(cnorm(z, clo, chi, clog), c);
      row[i] = 0xFF000000u | (uint32_t)lround(c[0] * 255) << 16 |
               (uint32_t)lround(c[1] * 255) << 8 | (uint32_t)lround(c[2] * 255);
    }
  }
  cairo_surface_mark_dirty(img);
  double dx = (s->ext[1] - s->ext[0]) / (s->nx - 1), dy = (s->ext[3] - s->ext[2]) / (s->ny - 1);
  double x0 = to_px(X, s->ext[0] - dx / 2), x1 = to_px(X, s->ext[1] + dx / 2);
  double y0 = to_px(Y, s->ext[3] + dy / 2), y1 = to_px(Y, s->ext[2] - dy / 2);
  cairo_save(cr);
  cairo_translate(cr, x0, y0);
  cairo_scale(cr, (x1 - x0) / s->nx, (y1 - y0) / s->ny);
  cairo_set_source_surface(cr, img, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BILINEAR);
  cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
  cairo_rectangle(cr, 0, 0, s->nx, s->ny);
  cairo_fill(cr);
  cairo_restore(cr);
  cairo_surface_destroy(img);
}

/* Marching squares: one stroke per level. */
void plot_draw_contours(cairo_t *cr, const series *s, const axis *X, const axis *Y,
                          double clo, double chi, int clog) {
  int k = s->levels, log = (s->mode & PLOT_LOGLEVELS) != 0;
  double zlo = INFINITY, zhi = -INFINITY;
  for (size_t q = 0; q < (size_t)s->nx * s->ny; q++)
    if (usable(s->v[q], log)) zlo = fmin(zlo, s->v[q]), zhi = fmax(zhi, s->v[q]);
  if (!(zlo < zhi)) return;
  if (log && zlo < zhi * 1e-8) zlo = zhi * 1e-8;
  double dx = (s->ext[1] - s->ext[0]) / (s->nx - 1), dy = (s->ext[3] - s->ext[2]) / (s->ny - 1);
  cairo_save(cr);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_width(cr, s->mode & PLOT_HEATMAP ? 0.8 : 1.2);
  for (int l = 0; l < k; l++) {
    double f = (l + 1.0) / (k + 1.0);
    double L = log ? zlo * pow(zhi / zlo, f) : zlo + f * (zhi - zlo);
    for (int j = 0; j + 1 < s->ny; j++)
      for (int i = 0; i + 1 < s->nx; i++) {
        const double *z0 = s->v + (size_t)j * s->nx + i, *z1 = z0 + s->nx;
        double c[4] = {z0[0], z0[1], z1[1], z1[0]};   /* counter-clockwise from (i, j) */
        double cx[4] = {0, 1, 1, 0}, cy[4] = {0, 0, 1, 1};
        if (!isfinite(c[0] + c[1] + c[2] + c[3])) continue;
        int idx = (c[0] >= L) | (c[1] >= L) << 1 | (c[2] >= L) << 2 | (c[3] >= L) << 3;
        if (idx == 0 || idx == 15) continue;
        double px[4], py[4];
        int cut[4];
        for (int e = 0; e < 4; e++) {
          int a = e, b = (e + 1) % 4;
          cut[e] = (c[a] >= L) != (c[b] >= L);
          if (!cut[e]) continue;
          double t = (L - c[a]) / (c[b] - c[a]);
          px[e] = to_px(X, s->ext[0] + (i + cx[a] + t * (cx[b] - cx[a])) * dx);
          py[e] = to_px(Y, s->ext[2] + (j + cy[a] + t * (cy[b] - cy[a])) * dy);
        }
        int pairs[2][2], np = 0;
        if (cut[0] && cut[1] && cut[2] && cut[3]) {   /* saddle: decide by the centre */
          int joined = ((c[0] + c[1] + c[2] + c[3]) / 4 >= L) == (c[0] >= L);
          if (joined) pairs[0][0] = 0, pairs[0][1] = 1, pairs[1][0] = 2, pairs[1][1] = 3;
          else pairs[0][0] = 3, pairs[0][1] = 0, pairs[1][0] = 1, pairs[1][1] = 2;
          np = 2;
        } else {
          int e0 = -1, e1 = -1;
          for (int e = 0; e < 4; e++)
            if (cut[e]) {
              if (e0 < 0) e0 = e;
              else e1 = e;
            }
          if (e1 >= 0) pairs[0][0] = e0, pairs[0][1] = e1, np = 1;
        }
        for (int q = 0; q < np; q++) {
          cairo_move_to(cr, px[pairs[q][0]], py[pairs[q][0]]);
          cairo_line_to(cr, px[pairs[q][1]], py[pairs[q][1]]);
        }
      }
    double rgb[3];
    if (s->mode & PLOT_HEATMAP) rgb[0] = rgb[1] = rgb[2] = 1;
    else if (s->mode & PLOT_GREY) rgb[0] = rgb[1] = rgb[2] = 0.6;
    else plot_viridis(cnorm(L, clo, chi, clog) * 0.9, rgb);   /* the palest yellow is hard to see */
    cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], s->mode & PLOT_HEATMAP ? 0.7 : 1);
    cairo_stroke(cr);
  }
  cairo_restore(cr);
}

