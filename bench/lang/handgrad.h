#ifndef HANDGRAD_H
#define HANDGRAD_H
#include <stddef.h>
void himmelblau_grad(const double *x, double *g);
void quadratic_grad(size_t n, const double *Q, const double *b, const double *x, double *g);
#endif
