#!/bin/sh
# fig6.sh -- time per proximal step against N through the language (the
# paper's Fig. 6): examples/himmelblau.hnn run with -D N=... at two step
# counts; the difference of the wall times over the difference of the steps
# removes start-up, compilation, the plots and the last output.  Writes the
# table to stdout and, with an argument, the plot (hnn plot) to that file.
# Needs a built tree (make).
set -e
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
. "$here/../need.sh"
need_built "$top" hnn
hnn=$top/hnn
tmp=${TMPDIR:-/tmp}/hnn-fig6.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)" >&2
echo "# N,seconds_per_step" > "$tmp/fig6.csv"
for N in 250 500 1000 2000 4000 8000; do
  s1=$(( 4000000 / (N * N / 100 + 2000) + 5 ))   # a few seconds per run
  s2=$(( 2 * s1 ))
  t0=$(now); "$hnn" -o "$tmp" -D N=$N -D steps=$s1 "$top/examples/himmelblau.hnn" > /dev/null
  t1=$(now); "$hnn" -o "$tmp" -D N=$N -D steps=$s2 "$top/examples/himmelblau.hnn" > /dev/null
  t2=$(now)
  echo "$N $t0 $t1 $t2 $s1" | awk '{ printf "%d,%.4g\n", $1, (($4 - $3) - ($3 - $2)) / $5 }' >> "$tmp/fig6.csv"
done
grep -v "^#" "$tmp/fig6.csv" | sed "1i N,seconds_per_step"
if [ $# -gt 0 ]; then
  "$hnn" plot "$tmp/fig6.csv" --x N --y seconds_per_step --logx --logy --title "proximal step (N particles), examples/himmelblau.hnn, 2 threads" -o "$1"
fi
