#!/usr/bin/python3
"""model.py -- time per step of hnn's MPI paths at scale (docs/performance.md,
section MPI).  Reads the CSV of bench/mpi/run.sh on stdin: the one-process
compute seconds give the cost per kernel entry (proximal step) and per pair
(ks_sum); the model is checked against the 2- and 4-process compute times
of the same run, then extrapolated.

  compute  the busiest process's share of the tasks times the measured cost
           (proximal step: prox_parts(N) fixed row parts, up to 4096, so
           ceil(parts / P) parts on the busiest process; the tree additions
           of the column sums, N per merged node, at ADD s each)
  network  latency ALPHA per message, bandwidth BETA per process; an
           allgather of B bytes in all costs ALPHA ceil(log2 P) + (P-1)/P B / BETA
           (recursive doubling / ring); the proximal step's column slices
           go point to point: (P-1) ALPHA + received bytes / BETA
Environment: ALPHA (default 2e-6 s) and BETA (default 12.5e9 B/s: 100 Gb/s
InfiniBand EDR, one process per link share assumed), SPEEDUP (default 1: the
per-entry cost of a cluster core relative to the one measured here), ADD
(default 1e-9 s: one double added in a merge, streamed from memory).
"""
import math
import os
import sys

ALPHA = float(os.environ.get("ALPHA", 2e-6))
BETA = float(os.environ.get("BETA", 12.5e9))
SPEEDUP = float(os.environ.get("SPEEDUP", 1))
ADD = float(os.environ.get("ADD", 1e-9))
PARTS_MAX, PART_ROWS = 4096, 32  # PROX_PARTS_MAX, PROX_PART_ROWS (runtime/prox_internal.h)


def prox_parts(N):
    """prox_ker_parts: the largest power of two <= PARTS_MAX with >= PART_ROWS rows a part"""
    q = 1
    while q * 2 <= PARTS_MAX and q * 2 * PART_ROWS <= N:
        q *= 2
    return q


def canon(q0, q1):
    """the canonical nodes (largest whole subtrees) of parts [q0, q1) and the
    deepest stack while pushing them (prox_kernel.c, tree_walk)"""
    st, deep = [], 0
    for p in range(q0, q1):
        deep = max(deep, len(st) + 1)
        st.append((0, p))
        while len(st) >= 2 and st[-2][0] == st[-1][0] and st[-2][1] % 2 == 0 and st[-2][1] + 1 == st[-1][1]:
            lev, idx = st[-2]
            st[-2:] = [(lev + 1, idx // 2)]
    return len(st), deep


def allgather(P, nbytes, messages=1):
    if P == 1:
        return 0.0
    return messages * ALPHA * math.ceil(math.log2(P)) + (P - 1) / P * nbytes / BETA


def prox_step(N, P, S, ck):
    """S sweeps of the fused kernel pass over Q = prox_parts(N) parts, the
    busiest process taking ceil(Q / P); per sweep 5 exchanges, each a
    header allgather (3 longs) and its data: the log row sums (N doubles),
    the parts' row fallback counts (Q), the column slices of every
    process's canonical nodes to their owners (point to point), the
    columns (N) and the column fallback counts (P)"""
    Q = prox_parts(N)
    busy = math.ceil(Q / P)
    nodes = sum(canon(Q * r // P, Q * (r + 1) // P)[0] for r in range(P))
    merges = busy * N + nodes * math.ceil(N / P) if P > 1 else Q * N
    comp = S * ((N * N / Q) * busy * ck + merges * ADD)
    if P == 1:
        return comp, 0.0
    own = canon(*share(Q, P, 0))[0]
    slices = (nodes - own) * math.ceil(N / P) * 8
    comm = S * (allgather(P, 3 * 8 * P, messages=5)
                + allgather(P, N * 8) + allgather(P, Q * 8) + allgather(P, N * 8) + allgather(P, P * 8)
                + (P - 1) * ALPHA + slices / BETA)
    return comp, comm


def prox_memory(N, P, T=1):
    """doubles of the sweep's workspace on the busiest process (prox_ker_work):
    each of T threads' deepest stack (+ 1 row buffer on the fly), the
    received slices and P counts"""
    Q = prox_parts(N)
    p0, p1 = share(Q, P, 0)
    m = p1 - p0
    stacks = sum(canon(p0 + m * t // T, p0 + m * (t + 1) // T)[1] + 1 for t in range(T)) * N
    if P == 1:
        return stacks
    nodes = sum(canon(Q * r // P, Q * (r + 1) // P)[0] for r in range(P))
    return stacks + nodes * math.ceil(N / P) + P


def share(n, P, r):
    """tasks [n r / P, n (r+1) / P) of rank r (runtime/par_mpi.c)"""
    return n * r // P, n * (r + 1) // P


def prox_bytes_rank0(N, P, S, n=2, block=256, monitors=2):
    """bytes rank 0 receives in one `wasserstein` step: per sweep the other
    processes' log row sums and fallback counts, the slices of their
    canonical nodes for rank 0's columns, the other columns and counts; the
    particles (blocks of 256) of the step and f at them for the monitors
    (steps 0 and 1)"""
    Q = prox_parts(N)
    p0, p1 = share(Q, P, 0)
    rows0 = N * p1 // Q - N * p0 // Q
    c0, c1 = share(N, P, 0)
    nodes = sum(canon(Q * r // P, Q * (r + 1) // P)[0] for r in range(1, P))
    sweep = (N - rows0) * 8 + (Q - (p1 - p0)) * 8 + nodes * (c1 - c0) * 8 + (N - (c1 - c0)) * 8 + (P - 1) * 8
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
    R = [dict(zip(head, l.split(","))) for l in lines[1:] if not l.startswith("bench,")]

    def get(b, s, np_):
        return next((r for r in R if r["bench"] == b and r["scaling"] == s and r["np"] == str(np_)), None)

    p1, k1, e1 = get("prox", "strong", 1), get("ks", "strong", 1), get("eld", "strong", 1)
    if p1:
        N0, S0 = float(p1["size"]), float(p1["detail"])
        ck = float(p1["compute_s"]) / (S0 * N0 * N0) / SPEEDUP
        print("# measured here: proximal step %.3g s per kernel entry and sweep (N = %d, %d parts, %d sweeps;"
              " everything of the step charged to the N^2 pass)" % (ck, N0, prox_parts(int(N0)), S0))
    if k1:
        M, Ns = (float(v) for v in k1["size"].split("x"))
        cp = float(k1["compute_s"]) / (M * Ns) / SPEEDUP
        print("# measured here: ks_sum %.3g s per pair" % cp)
    print("# check: compute of the busiest process, model vs measured (same run)")
    print("bench,scaling,np,measured_compute_s,model_compute_s,ratio")
    for sc, np_ in (("strong", 2), ("strong", 4), ("weak", 2), ("weak", 4)):
        r = get("prox", sc, np_)
        if p1 and r:
            N = int(r["size"])
            c = prox_step(N, np_, float(r["detail"]), ck * SPEEDUP)[0]
            print("prox,%s,%d,%s,%.3f,%.2f" % (sc, np_, r["compute_s"], c, float(r["compute_s"]) / c))
        r = get("ks", sc, np_)
        if k1 and r and sc == "strong":
            m = float(k1["compute_s"]) / np_
            print("ks,%s,%d,%s,%.3f,%.2f" % (sc, np_, r["compute_s"], m, float(r["compute_s"]) / m))
        r = get("eld", sc, np_)
        if e1 and r and sc == "strong":
            R0 = float(e1["size"])
            m = float(e1["compute_s"]) * math.ceil(R0 / np_) / R0
            print("eld,%s,%d,%s,%.3f,%.2f" % (sc, np_, r["compute_s"], m, float(r["compute_s"]) / m))
    print("# check: bytes rank 0 received, model vs measured")
    print("bench,scaling,np,measured_bytes,model_bytes")
    for sc, np_ in (("strong", 2), ("strong", 4), ("weak", 2), ("weak", 4)):
        r = get("prox", sc, np_)
        if r:
            print("prox,%s,%d,%s,%d" % (sc, np_, r["bytes_rank0"], prox_bytes_rank0(int(r["size"]), np_, int(r["detail"]))))
        r = get("ks", sc, np_)
        if r and sc == "strong":
            M = int(r["size"].split("x")[0])
            lo, hi = share(M, np_, 0)
            print("ks,%s,%d,%s,%d" % (sc, np_, r["bytes_rank0"], (M - (hi - lo)) * 3 * 8))
    if not p1:
        return
    print("# at scale: alpha %.1e s, beta %.3g B/s per process, %.1e s per merged double, %d sweeps per"
          " proximal step, d = 2" % (ALPHA, BETA, ADD, S0))
    print("bench,N,P,parts,compute_s,comm_s,step_s,efficiency,sweep_workspace_GB_1thread")
    for N in (1e6, 1e7):
        t1 = sum(prox_step(int(N), 1, S0, ck))
        print("prox,%.0e,1,%d,%.4g,0,%.4g,1,%.3g" % (N, prox_parts(int(N)), t1, t1, prox_memory(int(N), 1) * 8e-9))
        for P in (64, 512):
            c, m = prox_step(int(N), P, S0, ck)
            print("prox,%.0e,%d,%d,%.4g,%.3g,%.4g,%.3f,%.3g" % (N, P, prox_parts(int(N)), c, m, c + m,
                  t1 / (P * (c + m)), prox_memory(int(N), P) * 8e-9))
        if k1:
            t1 = sum(ks_force(N, 1, 2, cp))
            for P in (64, 512):
                c, m = ks_force(N, P, 2, cp)
                print("ks_sum,%.0e,%d,,%.4g,%.3g,%.4g,%.3f," % (N, P, c, m, c + m, t1 / (P * (c + m))))


if __name__ == "__main__":
    main()
