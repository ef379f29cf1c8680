/*
** otexact_lemon.h — the C side of the C++ shim over LEMON's network simplex
** (otexact_lemon.cc).  Internal to otexact.c.
*/
#ifndef HNN_OTEXACT_LEMON_H
#define HNN_OTEXACT_LEMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Min-cost flow on the complete bipartite graph n -> m with integer supplies
** sup[i], demands dem[j] (equal totals) and costs C[i*m + j].  The nonzero
** flows (at most n + m, a spanning-tree solution) go to (pi, pj, pf), *nnz
** of them, cap entries available.  Returns 0 (optimal), 1 (infeasible or
** unbounded: bad supplies), -1 (n*m too large for LEMON's int arc ids),
** -2 (out of memory), -3 (more than cap nonzero flows; cannot happen for a
** basic solution), -4 (another C++ exception).  Never throws. */
int otexact_lemon_solve(int n, int m, const long long *sup, const long long *dem,
                        const double *C, size_t cap, int *pi, int *pj, long long *pf,
                        size_t *nnz);

#ifdef __cplusplus
}
#endif

#endif
