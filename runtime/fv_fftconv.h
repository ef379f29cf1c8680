/*
** fv_fftconv.h — the interaction term W * rho of runtime/fv.c on a 2-D grid
** by FFT: out[i, j] = sum_{a, b} W((i - a) h0, (j - b) h1) rho[a, b], with
** the table of W at the (2 n0 - 1) x (2 n1 - 1) cell offsets, as one
** circular convolution of period 2 n0 x 2 n1 (>= 2n - 1 per direction, so
** no offset wraps onto another).  GSL's mixed-radix complex FFT, serial,
** so the result does not depend on the thread count.  O(M log M) for M
** cells instead of the direct sum's O(M^2); the values differ from the
** direct sum by rounding (~1e-15 of sum |W| |rho|).
*/
#ifndef HNN_FV_FFTCONV_H
#define HNN_FV_FFTCONV_H

typedef struct fv_fftconv fv_fftconv;

/* Wt[(dj + n1 - 1) (2 n0 - 1) + di + n0 - 1] = W at offset (di, dj).  NULL
** when out of memory. */
fv_fftconv *fv_fftconv_new(int n0, int n1, const double *Wt);
/* out (n0 x n1, x fastest) = the sum above of rho (n0 x n1). */
void fv_fftconv_apply(fv_fftconv *F, const double *rho, double *out);
void fv_fftconv_free(fv_fftconv *F);
/* Bytes it holds for an n0 x n1 grid. */
double fv_fftconv_bytes(int n0, int n1);

#endif
