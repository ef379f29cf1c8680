/*
** plotstmt.h — the `plot` statement:
**
**   plot contour(f, [0,1]^2), "det.csv", "ngd.csv" -> "flows.png"
**   plot density(f, T, [0,1]^2), "fp.csv" color rho -> "cloud.png"
**   plot "eld.csv" x t y d_geodesic group run logy 1 -> "eld.png"
**
** contour(f, box) draws log-spaced contours of a 2-D objective, density(f,
** T, box) the Gibbs density exp(-f/T)/Z as a heatmap; CSV files written by
** runs are drawn over them (x1 against x2: a trajectory, or the particles of
** the last output step coloured by `color`, default rho).  A plot of CSV
** files alone is `hnn plot` with options x, y, group, color, logy, logx,
** last, scatter, title.
*/
#ifndef HNN_PLOTSTMT_H
#define HNN_PLOTSTMT_H

#include "state.h"

int plotstmt_check(hnn_state *S, ast *st);
/* Before the unit runs: can the image be written?  (runout.h) */
int plotstmt_check_output(hnn_state *S, ast *st);
int plotstmt_run(hnn_state *S, ast *st);

#endif
