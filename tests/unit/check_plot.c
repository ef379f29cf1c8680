/*
** check_plot.c — unit tests of runtime/plot.c: the colormap, argument
** checks, subplot rules, and plot_save's formats, errors and atomic writes.
*/
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "plot.h"
#include "plot_impl.h"

/* Sanitizer builds: fontconfig (under cairo's text) keeps process-lifetime
** caches that LeakSanitizer would report; they are not plot.c's leaks. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }

static char dir[64];

static void setup(void) {
  strcpy(dir, "/tmp/check_plot.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}
static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}

/* Does the file start with `magic`? */
static int starts_with(const char *path, const char *magic, size_t n) {
  char buf[16] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t got = fread(buf, 1, n, f);
  fclose(f);
  return got == n && memcmp(buf, magic, n) == 0;
}

/* The labelled ticks of an axis, as "v v v". */
static void labels(double lo, double hi, int log, char *out, size_t len) {
  ticks t;
  plot_make_ticks(lo, hi, log, 6, &t);
  out[0] = 0;
  for (int i = 0; i < t.n; i++)
    if (t.major[i]) snprintf(out + strlen(out), len - strlen(out), "%s%g", out[0] ? " " : "", t.v[i]);
}

START_TEST(axis_ticks) {
  char b[512];
  labels(215, 9300, 1, b, sizeof b);   /* under two decades: 1-2-5 */
  ck_assert_str_eq(b, "500 1000 2000 5000");
  labels(300, 700, 1, b, sizeof b);    /* 1-2-5 gives one: every mantissa */
  ck_assert_str_eq(b, "300 400 500 600 700");
  labels(0.5, 2e6, 1, b, sizeof b);    /* decades */
  ck_assert_str_eq(b, "1 10 100 1000 10000 100000 1e+06");
  labels(0, 1, 0, b, sizeof b);        /* linear */
  ck_assert_str_eq(b, "0 0.2 0.4 0.6 0.8 1");
}
END_TEST

START_TEST(viridis_ends) {
  double c[3];
  plot_viridis(0, c);
  ck_assert_double_eq_tol(c[0], 0.267004, 1e-6);
  ck_assert_double_eq_tol(c[2], 0.329415, 1e-6);
  plot_viridis(1, c);
  ck_assert_double_eq_tol(c[0], 0.993248, 1e-6);
  ck_assert_double_eq_tol(c[1], 0.906157, 1e-6);
  plot_viridis(NAN, c);   /* clamped, not garbage */
  ck_assert_double_eq_tol(c[0], 0.267004, 1e-6);
  plot_viridis(0.5, c);   /* entry 128 is (0.127568, 0.566949, 0.550556) */
  ck_assert_double_eq_tol(c[1], 0.566949, 0.01);
}
END_TEST

START_TEST(arguments) {
  ck_assert_ptr_null(plot_new(0, 100));
  plot *p = plot_new(300, 200);
  ck_assert_ptr_nonnull(p);
  double x[2] = {0, 1}, z[4] = {1, 2, 3, 4};
  ck_assert_int_eq(plot_line(p, NULL, x, 2, 0, 1, NULL), -1);
  ck_assert_int_eq(plot_field(p, 1, 2, z, 0, 1, 0, 1, PLOT_HEATMAP), -1);
  ck_assert_int_eq(plot_field(p, 2, 2, z, 1, 0, 0, 1, PLOT_HEATMAP), -1);
  ck_assert_int_eq(plot_field(p, 2, 2, z, 0, 1, 0, 1, 0), -1);
  ck_assert_int_eq(plot_subplot(p, 2, 2, 5), -1);
  ck_assert_int_eq(plot_subplot(p, 2, 2, 4), 0);
  ck_assert_int_eq(plot_line(p, x, x, 2, PLOT_AUTO, 0, "a"), 0);
  ck_assert_int_eq(plot_subplot(p, 1, 3, 1), -1);   /* grid fixed once data was added */
  ck_assert_int_eq(plot_subplot(p, 2, 2, 1), 0);
  plot_free(p);
  plot_free(NULL);
}
END_TEST

START_TEST(formats) {
  plot *p = plot_new(320, 240);
  double x[50], y[50], z[30 * 20];
  for (int i = 0; i < 50; i++) x[i] = i, y[i] = exp(-0.1 * i);
  for (int i = 0; i < 600; i++) z[i] = 1 + (i % 30) * (i / 30);
  plot_title(p, "t");
  plot_logy(p, 1);
  ck_assert_int_eq(plot_line(p, x, y, 50, PLOT_RGB(200, 0, 0), 2, "decay"), 0);
  ck_assert_int_eq(plot_scatter(p, x, y, 50, x, 2), 0);
  ck_assert_int_eq(plot_subplot(p, 1, 2, 2), -1);   /* panel 1 already has data */
  plot_free(p);
  p = plot_new(320, 240);
  ck_assert_int_eq(plot_subplot(p, 1, 2, 1), 0);
  ck_assert_int_eq(plot_line(p, x, y, 50, 0, 1, NULL), 0);
  ck_assert_int_eq(plot_subplot(p, 1, 2, 2), 0);
  ck_assert_int_eq(plot_field(p, 30, 20, z, 0, 1, 0, 1,
                              PLOT_HEATMAP | PLOT_CONTOURS | PLOT_LOGLEVELS), 0);
  char path[128], err[256];
  snprintf(path, sizeof path, "%s/a.png", dir);
  ck_assert_int_eq(plot_save(p, path, err, sizeof err), 0);
  ck_assert(starts_with(path, "\x89PNG\r\n\x1a\n", 8));
  snprintf(path, sizeof path, "%s/a.SVG", dir);
  ck_assert_int_eq(plot_save(p, path, err, sizeof err), 0);
  ck_assert(starts_with(path, "<?xml", 5) || starts_with(path, "<svg", 4));
  snprintf(path, sizeof path, "%s/a.pdf", dir);
  ck_assert_int_eq(plot_save(p, path, err, sizeof err), 0);
  ck_assert(starts_with(path, "%PDF", 4));
  snprintf(path, sizeof path, "%s/a.jpg", dir);
  ck_assert_int_eq(plot_save(p, path, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "image format"));
  ck_assert_int_eq(access(path, F_OK), -1);
  snprintf(path, sizeof path, "%s/none/a.png", dir);
  ck_assert_int_eq(plot_save(p, path, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "cannot write"));
  plot_free(p);
  /* only the three images are left: no temporary files */
  char cmd[160];
  snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 3", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("plot");
  TCase *tc = tcase_create("plot");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, viridis_ends);
  tcase_add_test(tc, axis_ticks);
  tcase_add_test(tc, arguments);
  tcase_add_test(tc, formats);
  suite_add_tcase(s, tc);
  return check_run(s);
}
