/*
** three_views_w2.c — W2 between the grid view and a particle view of one
** density flow (source 002, "three numerical representations"), at every
** output time the two files share.
**
**   three_views_w2 GRID.csv PARTICLES.csv [--sinkhorn EPS]
**
** GRID.csv is a grid run's density file (columns t, step, x1, x2, rho or
** t, step, x, rho: examples/grid_three_views.hnn); its cells are taken as
** weighted points at the cell centres, weight rho (cells with rho = 0 are
** left out).  PARTICLES.csv is a particle run's file (t, step, particle,
** x1, x2, ...): the cloud at each time, equal weights.  Columns are found
** by the names of the header line.  Prints "t,w2" rows: the exact W2 by
** runtime/otexact.h (network simplex, n*m up to ~10^7), or with
** --sinkhorn EPS the debiased Sinkhorn divergence's square root
** (runtime/sinkhorn.h) for larger sets.
** Build: bench/grid/run.sh views GRID.csv PARTICLES.csv.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otexact.h"
#include "sinkhorn.h"

typedef struct table {
  int cols, rows;
  char names[32][32];
  double *d;
} table;

static int column(const table *T, const char *name) {
  for (int j = 0; j < T->cols; j++)
    if (strcmp(T->names[j], name) == 0) return j;
  return -1;
}

/* The '#' header with the names (the first comment line), then numbers. */
static int read_table(const char *path, table *T) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  memset(T, 0, sizeof *T);
  size_t cap = 0, len = 0;
  static char line[1 << 16];
  int header = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') {
      if (!header) {
        header = 1;
        char *p = line + 1;
        while (*p == ' ') p++;
        for (char *tok = strtok(p, ",\n"); tok && T->cols < 32; tok = strtok(NULL, ",\n"))
          snprintf(T->names[T->cols++], sizeof T->names[0], "%s", tok);
      }
      continue;
    }
    if (!T->cols) break;
    char *p = line, *end;
    for (int j = 0; j < T->cols; j++, p = end + 1) {
      double v = strtod(p, &end);
      if (end == p) {
        fclose(f);
        return -1;
      }
      if (len == cap) T->d = realloc(T->d, (cap = cap ? 2 * cap : 4096) * sizeof *T->d);
      T->d[len++] = v;
    }
    T->rows++;
  }
  fclose(f);
  return T->rows > 0 ? 0 : -1;
}

/* The rows of time t: points (d columns from x0) and weights (column w, or
** equal when w < 0; zero weights left out).  Returns the count. */
static size_t points_at(const table *T, double t, int x0, int d, int w, double *x, double *a) {
  size_t n = 0;
  for (int r = 0; r < T->rows; r++) {
    const double *row = T->d + (size_t)r * T->cols;
    if (row[0] != t) continue;
    double wt = w >= 0 ? row[w] : 1;
    if (!(wt > 0)) continue;
    memcpy(x + n * d, row + x0, (size_t)d * sizeof *x);
    a[n++] = wt;
  }
  return n;
}

int main(int argc, char **argv) {
  if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--sinkhorn") == 0)) {
    fprintf(stderr, "usage: %s GRID.csv PARTICLES.csv [--sinkhorn EPS]\n", argv[0]);
    return 2;
  }
  double eps = argc == 5 ? atof(argv[4]) : 0;
  table G, P;
  if (read_table(argv[1], &G) || read_table(argv[2], &P)) {
    fprintf(stderr, "cannot read %s or %s\n", argv[1], argv[2]);
    return 1;
  }
  int d = column(&G, "x2") >= 0 ? 2 : 1;
  int gx = column(&G, d == 2 ? "x1" : "x"), grho = column(&G, "rho"), px = column(&P, "x1");
  if (px < 0) px = column(&P, "x");
  if (gx < 0 || grho < 0 || px < 0 || column(&G, "t") != 0 || column(&P, "t") != 0) {
    fprintf(stderr, "need t, x1 (x), rho in the grid file and t, x1 (x) in the particle file\n");
    return 1;
  }
  double *xg = malloc(sizeof(double) * G.rows * d), *ag = malloc(sizeof(double) * G.rows);
  double *xp = malloc(sizeof(double) * P.rows * d), *ap = malloc(sizeof(double) * P.rows);
  printf("t,w2\n");
  double last = NAN;
  for (int r = 0; r < G.rows; r++) {
    double t = G.d[(size_t)r * G.cols];
    if (t == last) continue;
    last = t;
    size_t n = points_at(&G, t, gx, d, grho, xg, ag), m = points_at(&P, t, px, d, -1, xp, ap);
    if (!n || !m) continue;
    double v = NAN;
    int st;
    if (eps > 0) {
      ot_sinkhorn_opts o;
      ot_sinkhorn_opts_default(&o);
      o.eps = eps;
      st = ot_sinkhorn_divergence(NULL, &o, d, n, xg, ag, m, xp, ap, &v, NULL);
    } else {
      st = ot_exact(n, m, d, xg, ag, xp, ap, 2, &v, NULL);
    }
    if (st < 0) {
      fprintf(stderr, "t = %g: %s\n", t, ot_strerror(st));
      return 3;
    }
    printf("%.17g,%.17g\n", t, sqrt(fmax(v, 0)));
  }
  free(xg);
  free(ag);
  free(xp);
  free(ap);
  free(G.d);
  free(P.d);
  return 0;
}
