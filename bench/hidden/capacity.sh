#!/bin/sh
# capacity.sh -- recall rate of hidden_hopfield's Recall-and-Learn
# against the number of stored patterns P (docs/hidden.md, table).
# For each P and seed: 32 visible units, NH hidden units, 50 rounds, cues with
# 20% of their signs flipped; prints P, the mean final recall rate and
# overlap over the seeds.
#   sh bench/hidden/capacity.sh [HNN] [NH]
HNN=$(cd "$(dirname "${1:-./hnn}")" && pwd)/$(basename "${1:-./hnn}")
NH=${2:-32}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/cap.hnn" <<'HNN'
param nv = 32
param nh = 32
param P = 3
function logcosh(x[k]) = abs(x) + log1p(exp(-2*abs(x))) - log(2)
objective Lv(v[nv]) = sum(logcosh(v))
objective Lh(h[nh]) = sum(logcosh(h)) + 0.005*dot(h, h)
param W[nv,nh] = normal(0, 0.3)
param patterns[P,nv] = sign(normal(0, 1))
flow net = hidden_hopfield(Lv, Lh, U = W, T = 0.01)
run net from patterns rounds 50 rate 0.05 samples 16 relax 50 recall 400 h 0.05 corrupt 0.2 -> "cap.csv"
HNN
echo "P,recall_rate,overlap,seeds"
for P in 1 2 3 4 6 8 12; do
  : > "$tmp/rows"
  for seed in 1 2 3; do
    (cd "$tmp" && "$HNN" --seed $seed -D P=$P -D nh=$NH cap.hnn) || exit 1
    grep -v '^#' "$tmp/cap.csv" | tail -1 >> "$tmp/rows"
  done
  awk -F, -v P=$P '{ r += $4; o += $5; n++ } END { printf "%d,%.2f,%.3f,%d\n", P, r/n, o/n, n }' "$tmp/rows"
done
