#!/usr/bin/python3
"""model.py -- time per step of hnn's MPI paths at scale (docs/performance.md,
section MPI).  Reads the CSV of bench/mpi/run.sh on stdin: the one-process
compute seconds give the cost per kernel entry (proximal step) and per pair
(ks_sum); the model is checked against the 2- and 4-process compute times
of the same run, then extrapolated.

  compute  the busiest process's share of the tasks times the measured cost
           (proximal step: 32 fixed row parts, so ceil(32 / P) parts on the
           busiest process, and nothing gained beyond P = 32)
  network  latency ALPHA per message, bandwidth BETA per process; an
           allgather of B bytes in all costs ALPHA ceil(log2 P) + (P-1)/P B / BETA
           (recursive doubling / ring)
Environment: ALPHA (default 2e-6 s) and BETA (default 12.5e9 B/s: 100 Gb/s
InfiniBand EDR, one process per link share assumed), SPEEDUP (default 1: the
per-entry cost of a cluster core relative to the one measured here).
"""
import math
import os
import sys

ALPHA = float(os.environ.get("ALPHA", 2e-6))
BETA = float(os.environ.get("BETA", 12.5e9))
SPEEDUP = float(os.environ.get("SPEEDUP", 1))
PARTS = 32                       # PROX_PARTS (runtime/prox_internal.h)


def allgather(P, nbytes, messages=1):
    if P == 1:
        return 0.0
    return messages * ALPHA * math.ceil(math.log2(P)) + (P - 1) / P * nbytes / BETA


def prox_step(N, P, S, ck):
    """S sweeps of the fused kernel pass, split into the 32 parts; per sweep
    5 gathers: 3 N row values, 32 N partial column sums, 32 fallback counts"""
    busy = math.ceil(PARTS / P)
    comp = S * (N * N / PARTS) * busy * ck
    comm = S * allgather(P, (PARTS + 3) * N * 8 + PARTS * 8, messages=5)
    return comp, comm


def prox_step_q(N, P, S, ck, Q=4096):
    """not built: Q fixed parts, each column's sum owned by one process (an
    all-to-all of the parts' column slices, added in part order), then the
    rows and columns gathered (4 N values)"""
    comp = S * (N * N / Q) * math.ceil(Q / P) * ck
    slices = math.ceil(Q / P) * N * 8 * (P - 1) / P
    comm = S * ((P - 1) * ALPHA + slices / BETA + allgather(P, 4 * N * 8, messages=2))
    return comp, comm


def share(n, P, r):
    """tasks [n r / P, n (r+1) / P) of rank r (runtime/par_mpi.c)"""
    return n * r // P, n * (r + 1) // P


def prox_bytes_rank0(N, P, S, n=2, block=256, monitors=2):
    """bytes rank 0 receives in one `wasserstein` step: per sweep the other
    parts' partial column sums and row values; the particles (blocks of
    256) of the step and f at them for the monitors (steps 0 and 1)"""
    p0, p1 = share(PARTS, P, 0)
    rows0 = N * p1 // PARTS - N * p0 // PARTS
    sweep = (PARTS - (p1 - p0)) * (N * 8 + 8) + 3 * (N - rows0) * 8
    b0, b1 = share((N + block - 1) // block, P, 0)
    others = N - (min(b1 * block, N) - b0 * block)
    return S * sweep + others * n * 8 + monitors * others * 8


def ks_force(N, P, d, cp):
    """the exact interaction force on N particles: N^2 pairs in row blocks,
    pot and grad gathered"""
    return N * N / P * cp, allgather(P, N * (1 + d) * 8, messages=2)


def main():
    lines = [l.strip() for l in sys.stdin if l.strip() and not l.startswith("#")]
    head = lines[0].split(",")
    R = [dict(zip(head, l.split(","))) for l in lines[1:]]

    def get(b, s, np_):
        return next(r for r in R if r["bench"] == b and r["scaling"] == s and r["np"] == str(np_))

    p1, k1, e1 = get("prox", "strong", 1), get("ks", "strong", 1), get("eld", "strong", 1)
    N0, S0 = float(p1["size"]), float(p1["detail"])
    ck = float(p1["compute_s"]) / (S0 * N0 * N0) / SPEEDUP
    M, Ns = (float(v) for v in k1["size"].split("x"))
    cp = float(k1["compute_s"]) / (M * Ns) / SPEEDUP
    R0 = float(e1["size"])
    print("# measured here: proximal step %.3g s per kernel entry (N = %d, %d sweeps; everything of the step"
          " charged to the N^2 pass), ks_sum %.3g s per pair" % (ck, N0, S0, cp))
    print("# check: compute of the busiest process, model vs measured (same run)")
    print("bench,np,measured_compute_s,model_compute_s,ratio")
    for np_ in (2, 4):
        r = get("prox", "strong", np_)
        m = float(p1["compute_s"]) * math.ceil(PARTS / np_) / PARTS
        print("prox,%d,%s,%.3f,%.2f" % (np_, r["compute_s"], m, float(r["compute_s"]) / m))
        r = get("ks", "strong", np_)
        m = float(k1["compute_s"]) / np_
        print("ks,%d,%s,%.3f,%.2f" % (np_, r["compute_s"], m, float(r["compute_s"]) / m))
        r = get("eld", "strong", np_)
        m = float(e1["compute_s"]) * math.ceil(R0 / np_) / R0
        print("eld,%d,%s,%.3f,%.2f" % (np_, r["compute_s"], m, float(r["compute_s"]) / m))
    print("# check: bytes rank 0 received, model vs measured")
    print("bench,np,measured_bytes,model_bytes")
    for np_ in (2, 4):
        r = get("prox", "strong", np_)
        print("prox,%d,%s,%d" % (np_, r["bytes_rank0"], prox_bytes_rank0(int(N0), np_, int(S0))))
        r = get("ks", "strong", np_)
        lo, hi = share(int(M), np_, 0)
        print("ks,%d,%s,%d" % (np_, r["bytes_rank0"], (int(M) - (hi - lo)) * 3 * 8))
    print("# at scale: alpha %.1e s, beta %.3g B/s per process, %d sweeps per proximal step, d = 2" % (ALPHA, BETA, S0))
    print("bench,N,P,compute_s,comm_s,step_s,efficiency")
    for N in (1e6, 1e7):
        t1 = sum(prox_step(N, 1, S0, ck))
        for P in (64, 512):
            c, m = prox_step(N, P, S0, ck)
            print("prox (32 parts),%.0e,%d,%.4g,%.3g,%.4g,%.3f" % (N, P, c, m, c + m, t1 / (P * (c + m))))
        for P in (64, 512):
            c, m = prox_step_q(N, P, S0, ck)
            print("prox (4096 parts; not built),%.0e,%d,%.4g,%.3g,%.4g,%.3f" % (N, P, c, m, c + m, t1 / (P * (c + m))))
        t1 = sum(ks_force(N, 1, 2, cp))
        for P in (64, 512):
            c, m = ks_force(N, P, 2, cp)
            print("ks_sum,%.0e,%d,%.4g,%.3g,%.4g,%.3f" % (N, P, c, m, c + m, t1 / (P * (c + m))))


if __name__ == "__main__":
    main()
