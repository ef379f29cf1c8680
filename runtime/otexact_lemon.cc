/*
** otexact_lemon.cc — the only C++ in hnn: an extern "C" shim over LEMON's
** NetworkSimplex (header-only, Debian liblemon-dev) for otexact.c.
**
** Why LEMON and not GLPK: GLPK's min-cost-flow routines take integer costs
** only (scaled costs lose optimality, see docs/ot.md) and glp_mincost_relax4
** aborts the process in GLPK 5.0; its simplex on the full LP is exact but
** ~60x slower at n = 1000.  LEMON's network simplex takes double costs and
** integer supplies (which otexact.c makes sum exactly) and is the algorithm
** POT's emd is derived from.  No exception crosses into C.
*/
#include <cstddef>
#include <limits>
#include <new>
#include <utility>
#include <vector>
#include <lemon/network_simplex.h>
#include <lemon/static_graph.h>
#include "otexact_lemon.h"

extern "C" int otexact_lemon_solve(int n, int m, const long long *sup, const long long *dem,
                                   const double *C, size_t cap, int *pi, int *pj,
                                   long long *pf, size_t *nnz) {
  typedef lemon::StaticDigraph G;
  typedef lemon::NetworkSimplex<G, long long, double> NS;
  *nnz = 0;
  if (n < 1 || m < 1 || (long long)n * m > std::numeric_limits<int>::max() - n - m) return -1;
  try {
    G g;
    {
      std::vector<std::pair<int, int> > arcs;
      arcs.reserve((size_t)n * m);
      for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) arcs.push_back(std::make_pair(i, n + j));
      g.build(n + m, arcs.begin(), arcs.end());
    }
    G::ArcMap<double> cost(g);
    G::NodeMap<long long> supply(g);
    for (int i = 0; i < n; i++) supply[G::node(i)] = sup[i];
    for (int j = 0; j < m; j++) supply[G::node(n + j)] = -dem[j];
    for (long long k = 0; k < (long long)n * m; k++) cost[G::arc((int)k)] = C[k];
    NS ns(g);
    ns.costMap(cost).supplyMap(supply);
    if (ns.run() != NS::OPTIMAL) return 1;
    size_t cnt = 0;
    for (long long k = 0; k < (long long)n * m; k++) {
      long long f = ns.flow(G::arc((int)k));
      if (f == 0) continue;
      if (cnt == cap) return -3;
      pi[cnt] = (int)(k / m);
      pj[cnt] = (int)(k % m);
      pf[cnt] = f;
      cnt++;
    }
    *nnz = cnt;
    return 0;
  } catch (const std::bad_alloc &) {
    return -2;
  } catch (...) {
    return -4;
  }
}
