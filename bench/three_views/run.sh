#!/bin/sh
# run.sh -- source 002's three views of one flow, compared: W2 at t = 1 and
# t = 3 between the grid density of examples/three_views.hnn (its cells as
# weighted points) and its Langevin and score particle clouds, for
# N = 100, 400, 1600 particles.  Prints a table and the rates
# log(W2(N)/W2(4N))/log(4) (1/2 for Monte Carlo clouds in 2-D until the
# grid's own error and, for score particles, the bandwidth's bias show).  Needs a built
# tree (./bootstrap); W2 by bench/grid/three_views_w2.c (exact, LEMON).
# Usage: bench/three_views/run.sh [CELLS]   (default 60)
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
cells=${1:-60}
tmp=${TMPDIR:-/tmp}/hnn-views.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
w2() {   # GRID PARTICLES T -> W2 at time T
  "$top/bench/grid/run.sh" views "$1" "$2" | awk -F, -v t="$3" '$1 + 0 == t + 0 { print $2 }'
}
printf 'N,cells,t,w2_grid_langevin,w2_grid_score\n'
for N in 100 400 1600; do
  d="$tmp/n$N"; mkdir -p "$d"
  (cd "$d" && "$top/hnn" -D N=$N -D cells=$cells "$top/examples/three_views.hnn" >/dev/null)
  for t in 1 3; do
    printf '%s,%s,%s,%s,%s\n' $N $cells $t "$(w2 "$d/views_grid.csv" "$d/views_langevin.csv" $t)" \
      "$(w2 "$d/views_grid.csv" "$d/views_score.csv" $t)"
  done
done | tee "$tmp/table.csv"
awk -F, '{ l[$1","$3] = $4; s[$1","$3] = $5 }
  END { for (t = 1; t <= 3; t += 2) for (n = 100; n <= 400; n *= 4)
    printf "rate t=%d N=%d->%d: langevin %.2f, score %.2f\n", t, n, 4 * n,
      log(l[n","t] / l[4 * n","t]) / log(4), log(s[n","t] / s[4 * n","t]) / log(4) }' "$tmp/table.csv"
