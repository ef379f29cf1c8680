/*
** monitor_dist.h — distances to a target law as columns of a particle
** run's monitor file (NAME_monitor.csv), one value per monitor row (004,
** Exp. 3: W2 to the target along training).  Run options:
**
**   w2_to LAW          column `w2_to`: W2 (not squared) of the cloud to LAW
**   sinkhorn_to LAW    column `sinkhorn_to`: S_eps(cloud, LAW), cost |x - y|^2
**   monitor_eps E      sinkhorn_to's eps (default 0.01, units of |x - y|^2)
**   monitor_samples M  points drawn from a LAW that is not a point set
**                      (default 1000; a csv file or param matrix is used as is)
**
** The values are those of the expressions w2(P, Q) and sinkhorn(P, Q)
** (distance.h).  diffusion, wasserstein, particles and langevin runs take
** them.  A particle kind wires it in as kind_particles.c does:
**   options     add MON_DIST_OPTION_NAMES to the kind's option list;
**   check_run   if (mon_dist_is_option(o->name)) errs += mon_dist_check(S, run, o);
**   prepare     mon_dist_prepare(S, run, flow->name, n, N, &m) (refuses a run
**               the exact W2 cannot take), then add m.ncols to the plan's
**               values per monitor row;
**   open        mon_dist_names(&m, names + k) appends the column names;
**   every row   mon_dist_row(&m, x, N, row + k) appends the values (x: N x n,
**               equal weights); nonzero on an error, with m.err set;
**   release     mon_dist_free(&m).
** A Sinkhorn value short of its tolerance is written and warned about once.
**
** Grid runs (kind_grid.c) take the same options and write the same columns
** with the same definitions, but their cloud is weighted (cell centres and
** masses) and so may be the target (a law with a density put on the grid):
** they read the options themselves and call dist_value_weighted (distance.h).
*/
#ifndef HNN_MONITOR_DIST_H
#define HNN_MONITOR_DIST_H

#include "distance.h"
#include "state.h"

#define MON_DIST_OPTION_NAMES "w2_to", "sinkhorn_to", "monitor_eps", "monitor_samples"

typedef struct mon_dist {
  hnn_state *S;
  const char *run_name;
  int n, ncols;
  dist_kind kind[2];           /* the columns, in the order w2, sinkhorn */
  double *target[2];
  int ntarget[2];
  double eps;
  int warned;
  char err[512];
} mon_dist;

int mon_dist_is_option(const char *name);
/* Check one of the options above (o: its AST_KWARG in run); errors. */
int mon_dist_check(hnn_state *S, ast *run, ast *o);
/* Read the targets of run's options (m is zeroed first; ncols 0 without
** them).  HNN_OK or an error in S->diags. */
int mon_dist_prepare(hnn_state *S, ast *run, const char *run_name, int n, long N, mon_dist *m);
/* The columns' names (malloc'd) into names[0 .. m->ncols). */
void mon_dist_names(const mon_dist *m, char **names);
int mon_dist_row(mon_dist *m, const double *x, int N, double *out);
void mon_dist_free(mon_dist *m);

#endif
