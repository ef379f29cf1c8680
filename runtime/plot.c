/*
** plot.c — figures in data coordinates drawn with cairo (see plot.h).
**
** Adding a series copies its data into the current panel; plot_save lays
** out every panel (limits, nice ticks, grid, legend, colorbar), draws on a
** cairo image, SVG or PDF surface that writes to a temporary file through a
** stream callback, and renames that file into place.  Contours are marching
** squares (plot_field.c); colours come from an embedded viridis table.
** Depends on cairo only (no X server, no fontconfig setup beyond cairo's).
*/
#include "plot.h"
#include "plot_impl.h"
#include "afile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct panel {
  char *title, *xlabel, *ylabel, *cblabel;
  int logx, logy, levels, next_color;
  double xlim[2], ylim[2], alpha;
  series *s;
  int ns, cap;
} panel;

struct plot {
  int w, h, rows, cols, cur;
  panel *pan;
};

/* ============================================================ colours */

/* matplotlib's viridis (CC0, van der Walt & Smith): entries 0, 8, ..., 248, 255. */
static const float viridis[33][3] = {
  {.267004f, .004874f, .329415f}, {.277018f, .050344f, .375715f}, {.282327f, .094955f, .417331f},
  {.282884f, .135920f, .453427f}, {.278826f, .175490f, .483397f}, {.270595f, .214069f, .507052f},
  {.258965f, .251537f, .524736f}, {.244972f, .287675f, .537260f}, {.229739f, .322361f, .545706f},
  {.214298f, .355619f, .551184f}, {.199430f, .387607f, .554642f}, {.185556f, .418570f, .556753f},
  {.172719f, .448791f, .557885f}, {.160665f, .478540f, .558115f}, {.149039f, .508051f, .557250f},
  {.136408f, .541173f, .554483f}, {.127568f, .566949f, .550556f}, {.120565f, .596422f, .543611f},
  {.120638f, .625828f, .533488f}, {.134692f, .658636f, .517649f}, {.157851f, .683765f, .501686f},
  {.196571f, .711827f, .479221f}, {.246070f, .738910f, .452024f}, {.304148f, .764704f, .419943f},
  {.369214f, .788888f, .382914f}, {.440137f, .811138f, .340967f}, {.515992f, .831158f, .294279f},
  {.595839f, .848717f, .243329f}, {.678489f, .863742f, .189503f}, {.762373f, .876424f, .137064f},
  {.845561f, .887322f, .099702f}, {.926106f, .897330f, .104071f}, {.993248f, .906157f, .143936f}};

void plot_viridis(double t, double rgb[3]) {
  if (!(t > 0)) t = 0;   /* also NaN */
  if (t > 1) t = 1;
  double pos = t * 255;
  int k = (int)(pos / 8);
  if (k > 31) k = 31;
  double f = (pos - 8 * k) / (k == 31 ? 7 : 8);
  for (int c = 0; c < 3; c++) rgb[c] = viridis[k][c] + f * (viridis[k + 1][c] - viridis[k][c]);
}

static const uint32_t palette[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                     0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};

static void resolve_color(panel *pa, plot_color c, double rgb[3]) {
  uint32_t h;
  if (c == PLOT_AUTO) h = palette[pa->next_color++ % 10];
  else if (c & 0x01000000u) h = c & 0xFFFFFFu;
  else h = palette[c % 10];
  rgb[0] = ((h >> 16) & 255) / 255.0, rgb[1] = ((h >> 8) & 255) / 255.0, rgb[2] = (h & 255) / 255.0;
}

/* ============================================================ building */

static void panel_clear(panel *pa) {
  for (int i = 0; i < pa->ns; i++) {
    series *s = &pa->s[i];
    free(s->x), free(s->y), free(s->v), free(s->label);
  }
  free(pa->s), free(pa->title), free(pa->xlabel), free(pa->ylabel), free(pa->cblabel);
  memset(pa, 0, sizeof *pa);
  pa->alpha = 1, pa->levels = 12;
}

static panel *new_panels(int n) {
  panel *pa = calloc((size_t)n, sizeof *pa);
  for (int i = 0; pa && i < n; i++) pa[i].alpha = 1, pa[i].levels = 12;
  return pa;
}

plot *plot_new(int width_px, int height_px) {
  if (width_px < 16 || height_px < 16 || width_px > 20000 || height_px > 20000) return NULL;
  plot *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->w = width_px, p->h = height_px, p->rows = p->cols = 1;
  if (!(p->pan = new_panels(1))) return free(p), NULL;
  return p;
}

void plot_free(plot *p) {
  if (!p) return;
  for (int i = 0; i < p->rows * p->cols; i++) panel_clear(&p->pan[i]);
  free(p->pan);
  free(p);
}

int plot_subplot(plot *p, int rows, int cols, int index) {
  if (rows < 1 || cols < 1 || rows * cols > 256 || index < 1 || index > rows * cols) return -1;
  if (rows != p->rows || cols != p->cols) {
    int n = p->rows * p->cols;
    for (int i = 0; i < n; i++)
      if (p->pan[i].ns) return -1;   /* the grid is fixed once data was added */
    panel *np = new_panels(rows * cols);
    if (!np) return -1;
    for (int i = 0; i < n; i++) panel_clear(&p->pan[i]);
    free(p->pan);
    p->pan = np, p->rows = rows, p->cols = cols;
  }
  p->cur = index - 1;
  return 0;
}

#define CUR(p) (&(p)->pan[(p)->cur])

static int set_text(char **dst, const char *text) {
  char *t = text ? strdup(text) : NULL;
  if (text && !t) return -1;
  free(*dst);
  *dst = t;
  return 0;
}
int plot_title(plot *p, const char *t) { return set_text(&CUR(p)->title, t); }
int plot_xlabel(plot *p, const char *t) { return set_text(&CUR(p)->xlabel, t); }
int plot_ylabel(plot *p, const char *t) { return set_text(&CUR(p)->ylabel, t); }
int plot_colorbar_label(plot *p, const char *t) { return set_text(&CUR(p)->cblabel, t); }
void plot_logx(plot *p, int on) { CUR(p)->logx = !!on; }
void plot_logy(plot *p, int on) { CUR(p)->logy = !!on; }
void plot_xlim(plot *p, double lo, double hi) { CUR(p)->xlim[0] = lo, CUR(p)->xlim[1] = hi; }
void plot_ylim(plot *p, double lo, double hi) { CUR(p)->ylim[0] = lo, CUR(p)->ylim[1] = hi; }
void plot_alpha(plot *p, double a) { CUR(p)->alpha = a >= 0 && a <= 1 ? a : 1; }
void plot_levels(plot *p, int k) { CUR(p)->levels = k > 0 && k <= 200 ? k : 12; }

static double *dup_doubles(const double *a, size_t n) {
  double *d = malloc((n ? n : 1) * sizeof *d);
  if (d && n) memcpy(d, a, n * sizeof *d);
  return d;
}

static series *add_series(plot *p, series_kind kind, const char *label) {
  panel *pa = CUR(p);
  if (pa->ns == pa->cap) {
    int cap = pa->cap ? 2 * pa->cap : 8;
    series *ns = realloc(pa->s, (size_t)cap * sizeof *ns);
    if (!ns) return NULL;
    pa->s = ns, pa->cap = cap;
  }
  series *s = &pa->s[pa->ns];
  memset(s, 0, sizeof *s);
  s->kind = kind, s->alpha = pa->alpha;
  if (label && !(s->label = strdup(label))) return NULL;
  return s;
}

int plot_line(plot *p, const double *x, const double *y, size_t n, plot_color color,
              double width, const char *label) {
  if (!p || (n && (!x || !y))) return -1;
  series *s = add_series(p, S_LINE, label);
  if (!s) return -1;
  s->n = n, s->width = width > 0 ? width : 1.5;
  if (!(s->x = dup_doubles(x, n)) || !(s->y = dup_doubles(y, n)))
    return free(s->x), free(s->y), free(s->label), -1;
  resolve_color(CUR(p), color, s->rgb);
  CUR(p)->ns++;
  return 0;
}

int plot_scatter_c(plot *p, const double *x, const double *y, size_t n, const double *values,
                   double radius, plot_color color, const char *label) {
  if (!p || (n && (!x || !y))) return -1;
  series *s = add_series(p, S_SCATTER, label);
  if (!s) return -1;
  s->n = n, s->width = radius > 0 ? radius : 3;
  if (!(s->x = dup_doubles(x, n)) || !(s->y = dup_doubles(y, n)) ||
      (values && !(s->v = dup_doubles(values, n))))
    return free(s->x), free(s->y), free(s->v), free(s->label), -1;
  if (!values) resolve_color(CUR(p), color, s->rgb);
  CUR(p)->ns++;
  return 0;
}

int plot_field(plot *p, int nx, int ny, const double *z, double xmin, double xmax,
               double ymin, double ymax, int mode) {
  if (!p || nx < 2 || ny < 2 || !z || !(xmax > xmin) || !(ymax > ymin) ||
      !(mode & (PLOT_HEATMAP | PLOT_CONTOURS)) || (size_t)nx * (size_t)ny > 50000000)
    return -1;
  series *s = add_series(p, S_FIELD, NULL);
  if (!s) return -1;
  s->nx = nx, s->ny = ny, s->mode = mode, s->levels = CUR(p)->levels;
  s->ext[0] = xmin, s->ext[1] = xmax, s->ext[2] = ymin, s->ext[3] = ymax;
  if (!(s->v = dup_doubles(z, (size_t)nx * (size_t)ny))) return -1;
  CUR(p)->ns++;
  return 0;
}

/* ============================================================ scales */

static void axis_map(axis *ax, double p0, double p1) {
  double t0 = tr(ax, ax->lo), t1 = tr(ax, ax->hi);
  ax->b = (p1 - p0) / (t1 - t0);
  ax->a = p0 - ax->b * t0;
}

/* Limits of one axis (0: x, 1: y) from the panel's data unless set. */
static void autoscale(const panel *pa, int which, axis *ax) {
  const double *lim = which ? pa->ylim : pa->xlim;
  ax->log = which ? pa->logy : pa->logx;
  if (lim[0] < lim[1] && (!ax->log || lim[0] > 0)) {
    ax->lo = lim[0], ax->hi = lim[1];
    return;
  }
  double lo = INFINITY, hi = -INFINITY;
  int field = 0;
  for (int i = 0; i < pa->ns; i++) {
    const series *s = &pa->s[i];
    if (s->kind == S_FIELD) {
      double a = s->ext[2 * which], b = s->ext[2 * which + 1];
      if (usable(a, ax->log) && a < lo) lo = a;
      if (usable(b, ax->log) && b > hi) hi = b;
      field = 1;
      continue;
    }
    const double *v = which ? s->y : s->x;
    for (size_t k = 0; k < s->n; k++)
      if (usable(v[k], ax->log)) {
        if (v[k] < lo) lo = v[k];
        if (v[k] > hi) hi = v[k];
      }
  }
  if (lo > hi) lo = ax->log ? 1 : 0, hi = ax->log ? 10 : 1;
  double tlo = tr(ax, lo), thi = tr(ax, hi);
  if (thi - tlo < 1e-12 * (fabs(tlo) + fabs(thi)) || thi == tlo) {
    double d = ax->log ? 0.5 : (tlo != 0 ? fabs(tlo) * 0.1 : 1);
    tlo -= d, thi += d;
  } else if (!field) {
    double pad = 0.04 * (thi - tlo);
    tlo -= pad, thi += pad;
  }
  ax->lo = ax->log ? pow(10, tlo) : tlo;
  ax->hi = ax->log ? pow(10, thi) : thi;
}

static double nice_step(double range, int target) {
  double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

void plot_make_ticks(double lo, double hi, int log, int target, ticks *t) {
  t->n = 0;
  if (log) {
    int d0 = (int)ceil(log10(lo) - 1e-9), d1 = (int)floor(log10(hi) + 1e-9);
    if (d1 - d0 >= 1) {
      int stride = (d1 - d0 + target) / (target + 1);
      if (stride < 1) stride = 1;
      for (int k = (int)floor(log10(lo)); k <= d1 && t->n < 126; k++)
        for (int m = 1; m <= 9; m++) {
          double v = m * pow(10, k);
          int major = m == 1 && (k - d0) % stride == 0;
          if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9) || (m > 1 && stride > 1)) continue;
          if (t->n < 126) t->v[t->n] = v, t->major[t->n++] = major;
        }
      return;
    }
    /* less than two decades: labelled 1-2-5 steps (every mantissa when
    ** that gives fewer than three), so a 250..8000 axis reads 500 ... 5000 */
    static const int m125[] = { 1, 2, 5 }, m19[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    for (int pass = 0; pass < 2 && t->n < 3; pass++) {
      const int *ms = pass ? m19 : m125;
      int nm = pass ? 9 : 3;
      t->n = 0;
      for (int k = (int)floor(log10(lo)); k <= (int)ceil(log10(hi)); k++)
        for (int i = 0; i < nm; i++) {
          double v = ms[i] * pow(10, k);
          if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) && t->n < 126) t->v[t->n] = v, t->major[t->n++] = 1;
        }
    }
    if (t->n >= 2) return;
    t->n = 0;
  }
  double step = nice_step(hi - lo, target);
  for (double k = ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step && t->n < 126; k++) {
    double v = k * step;
    if (fabs(v) < 1e-9 * step) v = 0;
    t->v[t->n] = v, t->major[t->n++] = 1;
  }
}

/* ============================================================ drawing */

static void set_rgb(cairo_t *cr, const double c[3], double a) {
  cairo_set_source_rgba(cr, c[0], c[1], c[2], a);
}

/* Text anchored at (x, y): ha 0 left, .5 centre, 1 right; va 0 top,
** .5 middle, 1 bottom.  angle in radians. */
static void text_at(cairo_t *cr, double x, double y, const char *s, double ha, double va,
                    double angle) {
  cairo_text_extents_t te;
  cairo_font_extents_t fe;
  cairo_text_extents(cr, s, &te);
  cairo_font_extents(cr, &fe);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, -te.x_advance * ha, fe.ascent - (fe.ascent + fe.descent) * va);
  cairo_show_text(cr, s);
  cairo_restore(cr);
}

static double text_w(cairo_t *cr, const char *s) {
  cairo_text_extents_t te;
  cairo_text_extents(cr, s, &te);
  return te.x_advance;
}

static void fmt_tick(char *buf, size_t len, double v) { snprintf(buf, len, "%g", v); }

/* Does a label of extent h centred at q keep clear of the last one kept
** (*lq, *lh)?  Ticks come in order, so one comparison suffices. */
static int label_fits(double q, double h, double gap, double *lq, double *lh) {
  if (fabs(q - *lq) < (h + *lh) / 2 + gap) return 0;
  *lq = q, *lh = h;
  return 1;
}

/* The panel's colour range over scatter values and fields; 0 if none. */
static int color_range(const panel *pa, double *lo, double *hi, int *log) {
  *lo = INFINITY, *hi = -INFINITY, *log = 0;
  int any = 0;
  for (int i = 0; i < pa->ns; i++)
    if (pa->s[i].kind == S_FIELD && (pa->s[i].mode & PLOT_LOGLEVELS) && !(pa->s[i].mode & PLOT_GREY)) *log = 1;
  for (int i = 0; i < pa->ns; i++) {
    const series *s = &pa->s[i];
    if (s->kind == S_FIELD && (s->mode & PLOT_GREY)) continue;
    size_t n = s->kind == S_FIELD ? (size_t)s->nx * s->ny : s->v ? s->n : 0;
    for (size_t k = 0; k < n; k++)
      if (usable(s->v[k], *log)) {
        if (s->v[k] < *lo) *lo = s->v[k];
        if (s->v[k] > *hi) *hi = s->v[k];
        any = 1;
      }
  }
  if (!any) return 0;
  if (*log && *lo < *hi * 1e-8) *lo = *hi * 1e-8;  /* keep the scale readable */
  if (*hi <= *lo) *hi = *log ? *lo * 10 : *lo + 1;
  return 1;
}

static void draw_series(cairo_t *cr, const series *s, const axis *X, const axis *Y,
                        double clo, double chi, int clog) {
  if (s->kind == S_FIELD) {
    if (s->mode & PLOT_HEATMAP) plot_draw_heatmap(cr, s, X, Y, clo, chi, clog);
    if (s->mode & PLOT_CONTOURS) plot_draw_contours(cr, s, X, Y, clo, chi, clog);
    return;
  }
  if (s->kind == S_LINE) {
    int pen = 0;   /* points in the current piece; a lone point becomes a dot */
    double qx = 0, qy = 0;
    for (size_t k = 0; k <= s->n; k++) {
      if (k == s->n || !usable(s->x[k], X->log) || !usable(s->y[k], Y->log)) {
        if (pen == 1) cairo_line_to(cr, qx, qy);
        pen = 0;
        continue;
      }
      qx = to_px(X, s->x[k]), qy = to_px(Y, s->y[k]);
      (pen++ ? cairo_line_to : cairo_move_to)(cr, qx, qy);
    }
    cairo_set_line_width(cr, s->width);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    set_rgb(cr, s->rgb, s->alpha);
    cairo_stroke(cr);
    return;
  }
  set_rgb(cr, s->rgb, s->alpha);
  for (size_t k = 0; k < s->n; k++) {
    if (!usable(s->x[k], X->log) || !usable(s->y[k], Y->log)) continue;
    if (s->v) {
      double c[3];
      if (!usable(s->v[k], clog)) continue;
      plot_viridis(cnorm(s->v[k], clo, chi, clog), c);
      set_rgb(cr, c, s->alpha);
    }
    cairo_new_sub_path(cr);
    cairo_arc(cr, to_px(X, s->x[k]), to_px(Y, s->y[k]), s->width, 0, 2 * M_PI);
    if (s->v) cairo_fill(cr);
  }
  if (!s->v) cairo_fill(cr);
}

static void draw_legend(cairo_t *cr, const panel *pa, double px, double py, double pw, double fs) {
  double wmax = 0;
  int n = 0;
  for (int i = 0; i < pa->ns; i++)
    if (pa->s[i].label) wmax = fmax(wmax, text_w(cr, pa->s[i].label)), n++;
  if (!n) return;
  if (n > 30) n = 30;
  double row = fs * 1.35, bw = wmax + fs * 3.2, bh = n * row + fs * 0.6;
  double x0 = px + pw - bw - fs * 0.6, y0 = py + fs * 0.6;
  cairo_rectangle(cr, x0, y0, bw, bh);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
  cairo_set_line_width(cr, 0.8);
  cairo_stroke(cr);
  int r = 0;
  for (int i = 0; i < pa->ns && r < n; i++) {
    const series *s = &pa->s[i];
    if (!s->label) continue;
    double y = y0 + fs * 0.3 + (r++ + 0.5) * row, x = x0 + fs * 0.5;
    double c[3];
    if (s->kind == S_SCATTER && s->v) plot_viridis(0.5, c);
    else memcpy(c, s->rgb, sizeof c);
    set_rgb(cr, c, s->alpha < 0.5 ? 0.8 : s->alpha);
    if (s->kind == S_LINE) {
      cairo_set_line_width(cr, fmax(s->width, 1.5));
      cairo_move_to(cr, x, y), cairo_line_to(cr, x + fs * 1.6, y), cairo_stroke(cr);
    } else {
      cairo_arc(cr, x + fs * 0.8, y, fmin(s->width, fs * 0.4), 0, 2 * M_PI), cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text_at(cr, x + fs * 2.1, y, s->label, 0, 0.5, 0);
  }
}

static void draw_colorbar(cairo_t *cr, const panel *pa, double x, double y, double w, double h,
                          double lo, double hi, int log, double fs) {
  int steps = (int)h;
  for (int k = 0; k < steps; k++) {
    double c[3];
    plot_viridis((k + 0.5) / steps, c);
    set_rgb(cr, c, 1);
    cairo_rectangle(cr, x, y + h - (k + 1) * h / steps, w, h / steps + 0.6);
    cairo_fill(cr);
  }
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 0.8);
  cairo_rectangle(cr, x, y, w, h);
  cairo_stroke(cr);
  axis ax = {lo, hi, log, 0, 0};
  axis_map(&ax, y + h, y);
  ticks t;
  plot_make_ticks(lo, hi, log, 6, &t);
  double lq = -1e9, lh = 0;
  for (int i = 0; i < t.n; i++) {
    if (!t.major[i]) continue;
    double ty = to_px(&ax, t.v[i]);
    char buf[32];
    cairo_move_to(cr, x + w, ty), cairo_line_to(cr, x + w + fs * 0.3, ty), cairo_stroke(cr);
    fmt_tick(buf, sizeof buf, t.v[i]);
    if (!label_fits(ty, fs, fs * 0.4, &lq, &lh)) continue;
    text_at(cr, x + w + fs * 0.45, ty, buf, 0, 0.5, 0);
  }
  if (pa->cblabel) text_at(cr, x + w + fs * 4.6, y + h / 2, pa->cblabel, 0.5, 1, -M_PI / 2);
}

static void draw_panel(cairo_t *cr, const panel *pa, double cx, double cy, double cw, double ch) {
  double fs = fmin(cw, ch) / 40;
  fs = fs < 8 ? 8 : fs > 14 ? 14 : fs;
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, fs);
  axis X, Y;
  autoscale(pa, 0, &X), autoscale(pa, 1, &Y);
  ticks tx, ty;
  plot_make_ticks(X.lo, X.hi, X.log, (int)fmax(3, cw / (fs * 9)), &tx);
  plot_make_ticks(Y.lo, Y.hi, Y.log, (int)fmax(3, ch / (fs * 5)), &ty);
  char buf[32];
  double ylw = 0;
  for (int i = 0; i < ty.n; i++)
    if (ty.major[i]) fmt_tick(buf, sizeof buf, ty.v[i]), ylw = fmax(ylw, text_w(cr, buf));
  double clo, chi;
  int clog, cb = color_range(pa, &clo, &chi, &clog);
  double left = cx + fs * (pa->ylabel ? 2.4 : 1) + ylw + fs * 0.6;
  double right = cx + cw - fs * (cb ? 7.5 : 1.5);
  double top = cy + fs * (pa->title ? 2.6 : 1.2);
  double bottom = cy + ch - fs * (pa->xlabel ? 3.6 : 2.2);
  if (right - left < 20 || bottom - top < 20) return;   /* no room */
  axis_map(&X, left, right), axis_map(&Y, bottom, top);
  /* grid */
  cairo_set_line_width(cr, 0.8);
  for (int pass = 0; pass < 2; pass++) {
    const ticks *t = pass ? &ty : &tx;
    for (int i = 0; i < t->n; i++) {
      double g = t->major[i] ? 0.86 : 0.94, q = to_px(pass ? &Y : &X, t->v[i]);
      cairo_set_source_rgb(cr, g, g, g);
      if (pass) cairo_move_to(cr, left, q), cairo_line_to(cr, right, q);
      else cairo_move_to(cr, q, top), cairo_line_to(cr, q, bottom);
      cairo_stroke(cr);
    }
  }
  /* data */
  cairo_save(cr);
  cairo_rectangle(cr, left, top, right - left, bottom - top);
  cairo_clip(cr);
  for (int i = 0; i < pa->ns; i++) draw_series(cr, &pa->s[i], &X, &Y, clo, chi, clog);
  cairo_restore(cr);
  /* frame, ticks, labels */
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, left, top, right - left, bottom - top);
  cairo_stroke(cr);
  for (int pass = 0; pass < 2; pass++) {
    const ticks *t = pass ? &ty : &tx;
    double lq = -1e9, lh = 0;
    for (int i = 0; i < t->n; i++) {
      double q = to_px(pass ? &Y : &X, t->v[i]), len = fs * (t->major[i] ? 0.35 : 0.2);
      cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
      if (pass) cairo_move_to(cr, left, q), cairo_line_to(cr, left - len, q);
      else cairo_move_to(cr, q, bottom), cairo_line_to(cr, q, bottom + len);
      cairo_stroke(cr);
      if (!t->major[i]) continue;
      fmt_tick(buf, sizeof buf, t->v[i]);
      if (!label_fits(q, pass ? fs : text_w(cr, buf), fs * 0.4, &lq, &lh)) continue;
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      if (pass) text_at(cr, left - fs * 0.5, q, buf, 1, 0.5, 0);
      else text_at(cr, q, bottom + fs * 0.5, buf, 0.5, 0, 0);
    }
  }
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  if (pa->xlabel) text_at(cr, (left + right) / 2, cy + ch - fs * 0.4, pa->xlabel, 0.5, 1, 0);
  if (pa->ylabel) text_at(cr, cx + fs * 0.4, (top + bottom) / 2, pa->ylabel, 0.5, 0, -M_PI / 2);
  if (pa->title) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, fs * 1.15);
    text_at(cr, (left + right) / 2, top - fs * 0.6, pa->title, 0.5, 1, 0);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, fs);
  }
  draw_legend(cr, pa, left, top, right - left, fs);
  if (cb) draw_colorbar(cr, pa, right + fs, top, fs * 1.1, bottom - top, clo, chi, clog, fs);
}

static void render(const plot *p, cairo_t *cr) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  double cw = (double)p->w / p->cols, ch = (double)p->h / p->rows;
  for (int i = 0; i < p->rows * p->cols; i++) {
    const panel *pa = &p->pan[i];
    if (!pa->ns && !pa->title && p->rows * p->cols > 1) continue;
    cairo_save(cr);
    draw_panel(cr, pa, (i % p->cols) * cw, (i / p->cols) * ch, cw, ch);
    cairo_restore(cr);
  }
}

/* ============================================================ saving */

static cairo_status_t write_fn(void *closure, const unsigned char *data, unsigned int len) {
  return fwrite(data, 1, len, (FILE *)closure) == len ? CAIRO_STATUS_SUCCESS
                                                      : CAIRO_STATUS_WRITE_ERROR;
}

int plot_save(plot *p, const char *path, char *err, size_t errlen) {
  char dummy[1];
  if (!err) err = dummy, errlen = sizeof dummy;
  const char *dot = path ? strrchr(path, '.') : NULL;
  const char *slash = path ? strrchr(path, '/') : NULL;
  int fmt = !dot || (slash && dot < slash) ? -1
            : strcasecmp(dot, ".png") == 0  ? 0
            : strcasecmp(dot, ".svg") == 0  ? 1
            : strcasecmp(dot, ".pdf") == 0  ? 2
                                            : -1;
  if (!p || fmt < 0) {
    snprintf(err, errlen, "cannot tell the image format of '%s': use a .png, .svg or .pdf name",
             path ? path : "(null)");
    return -1;
  }
  if (cairo_lazy_load(err, errlen)) return -1;
  char *tmp;
  int opened;
  FILE *f = afile_open(path, "wb", &tmp, &opened);
  if (!f) {
    snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return free(tmp), -1;
  }
  cairo_surface_t *surf =
      fmt == 0   ? cairo_image_surface_create(CAIRO_FORMAT_RGB24, p->w, p->h)
      : fmt == 1 ? cairo_svg_surface_create_for_stream(write_fn, f, p->w, p->h)
                 : cairo_pdf_surface_create_for_stream(write_fn, f, p->w, p->h);
  cairo_t *cr = cairo_create(surf);
  render(p, cr);
  cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  if (st == CAIRO_STATUS_SUCCESS && fmt == 0)
    st = cairo_surface_write_to_png_stream(surf, write_fn, f);
  cairo_surface_finish(surf);
  if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(surf);
  cairo_surface_destroy(surf);
  int bad = st != CAIRO_STATUS_SUCCESS;
  int rc = afile_close(f, tmp, path, !bad);
  free(tmp);
  if (bad || rc) {
    snprintf(err, errlen, "cannot write '%s': %s", path, rc ? strerror(errno) : cairo_status_to_string(st));
    return -1;
  }
  return 0;
}
