/*
** fv_fftconv.c — W * rho on 2-D grids by FFT (fv_fftconv.h).
*/
#include "fv_fftconv.h"

#include <gsl/gsl_fft_complex.h>
#include <stdlib.h>
#include <string.h>

struct fv_fftconv {
  int n0, n1, p0, p1;
  double *What;                /* FFT of the wrapped table, p0 x p1 complex */
  double *buf;                 /* p0 x p1 complex */
  gsl_fft_complex_wavetable *wt0, *wt1;
  gsl_fft_complex_workspace *ws0, *ws1;
};

double fv_fftconv_bytes(int n0, int n1) { return 2.0 * 16 * (2.0 * n0) * (2.0 * n1); }

/* Rows (the first `rows` of them; the others are 0) then columns. */
static void fft2(fv_fftconv *F, double *d, int rows, gsl_fft_direction dir) {
  for (int j = 0; j < rows; j++)
    gsl_fft_complex_transform(d + (size_t)2 * j * F->p0, 1, F->p0, F->wt0, F->ws0, dir);
  for (int i = 0; i < F->p0; i++) gsl_fft_complex_transform(d + (size_t)2 * i, F->p0, F->p1, F->wt1, F->ws1, dir);
}

fv_fftconv *fv_fftconv_new(int n0, int n1, const double *Wt) {
  fv_fftconv *F = calloc(1, sizeof *F);
  if (!F) return NULL;
  F->n0 = n0, F->n1 = n1, F->p0 = 2 * n0, F->p1 = 2 * n1;
  size_t P = (size_t)F->p0 * F->p1;
  F->What = calloc(2 * P, sizeof(double));
  F->buf = calloc(2 * P, sizeof(double));
  F->wt0 = gsl_fft_complex_wavetable_alloc(F->p0);
  F->wt1 = gsl_fft_complex_wavetable_alloc(F->p1);
  F->ws0 = gsl_fft_complex_workspace_alloc(F->p0);
  F->ws1 = gsl_fft_complex_workspace_alloc(F->p1);
  if (!F->What || !F->buf || !F->wt0 || !F->wt1 || !F->ws0 || !F->ws1) {
    fv_fftconv_free(F);
    return NULL;
  }
  /* offset (di, dj) goes to (di mod p0, dj mod p1) */
  int w0 = 2 * n0 - 1;
  for (int dj = 1 - n1; dj < n1; dj++)
    for (int di = 1 - n0; di < n0; di++) {
      size_t a = (size_t)(di < 0 ? di + F->p0 : di), b = (size_t)(dj < 0 ? dj + F->p1 : dj);
      F->What[2 * (b * F->p0 + a)] = Wt[(size_t)(dj + n1 - 1) * w0 + (di + n0 - 1)];
    }
  fft2(F, F->What, F->p1, gsl_fft_forward);
  return F;
}

void fv_fftconv_apply(fv_fftconv *F, const double *rho, double *out) {
  size_t P = (size_t)F->p0 * F->p1;
  double *d = F->buf;
  memset(d, 0, 2 * P * sizeof *d);
  for (int j = 0; j < F->n1; j++)
    for (int i = 0; i < F->n0; i++) d[2 * ((size_t)j * F->p0 + i)] = rho[(size_t)j * F->n0 + i];
  fft2(F, d, F->n1, gsl_fft_forward);
  for (size_t c = 0; c < P; c++) {
    double ar = d[2 * c], ai = d[2 * c + 1], br = F->What[2 * c], bi = F->What[2 * c + 1];
    d[2 * c] = ar * br - ai * bi;
    d[2 * c + 1] = ar * bi + ai * br;
  }
  fft2(F, d, F->p1, gsl_fft_backward);
  double scale = 1.0 / (double)P;
  for (int j = 0; j < F->n1; j++)
    for (int i = 0; i < F->n0; i++) out[(size_t)j * F->n0 + i] = d[2 * ((size_t)j * F->p0 + i)] * scale;
}

void fv_fftconv_free(fv_fftconv *F) {
  if (!F) return;
  free(F->What);
  free(F->buf);
  if (F->wt0) gsl_fft_complex_wavetable_free(F->wt0);
  if (F->wt1) gsl_fft_complex_wavetable_free(F->wt1);
  if (F->ws0) gsl_fft_complex_workspace_free(F->ws0);
  if (F->ws1) gsl_fft_complex_workspace_free(F->ws1);
  free(F);
}
