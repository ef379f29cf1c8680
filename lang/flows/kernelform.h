/*
** kernelform.h — a declared kernel recognized as scale * one of kernsum.h's
** kernels, from the form of its body (x, y its formals; a, b, c, s constants:
** numbers, scalar params and their arithmetic):
**
**   s * exp(-a |x - y|^2)              KS_GAUSS, h = sqrt(1 / (2a))
**   s * (b + a |x - y|^2)^(-1/2)       KS_IMQ,   h = sqrt(b / a), scale s / sqrt(b)
**   s * c / sqrt(b + a |x - y|^2)      KS_IMQ,   likewise, scale s c / sqrt(b)
**   s * |x - y|                        KS_ENERGY (-|x - y|), scale -s
** where |x - y|^2 is norm2(x - y) (or (x - y)^2 for scalar formals) and
** |x - y| is norm(x - y), sqrt(norm2(x - y)) or abs(x - y); y - x is the
** same; the factor s may be spread over products, quotients and signs
** (2*exp(-norm2(x - y)/(2*h^2))/3).  Any other body is not recognized and
** runs through its compiled callback.
*/
#ifndef HNN_KERNELFORM_H
#define HNN_KERNELFORM_H

#include "state.h"
#include "wfield.h"

/* 1 and K->recognized, ks, h, scale set when k's body has one of the forms;
** 0 and K untouched otherwise.  Writes no diagnostics. */
int kernel_recognize(hnn_state *S, sym *k, wf_kernel *K);

#endif
