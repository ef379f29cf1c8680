#!/usr/bin/python3
"""meanfield_figures.py -- the figures of 004 Experiments 2 and 3 from the
files examples/meanfield_width.hnn writes (hnn -o DIR meanfield_width.hnn),
and of 002's Chizat-Bach experiment when DIR also has the files of
examples/meanfield_teacher.hnn:
the hidden-weight density at epochs 0, 100, 300, 1000 for widths 10, 100,
1000 (histogram and Gaussian KDE, as 004 draws them), the loss (MSE = 2 x
hnn's risk) on a log scale, and the W2 distance of the weights to
N(0, 0.8^2); the student's neurons in the reduced coordinates
(|u| v1, |u| v2) with the teacher's directions, and their angular density
weighted by |u| |v|.  Needs Debian's python3-matplotlib and python3-scipy.
Usage: meanfield_figures.py DIR OUTDIR"""
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import gaussian_kde  # noqa: E402

src, out = sys.argv[1], sys.argv[2]
widths = (10, 100, 1000)
meta = {"Software": None}   # no version stamp: the same files give the same bytes


def load(name):
    with open(f"{src}/{name}") as f:
        cols = f.readline().lstrip("# ").strip().split(",")
    return cols, np.loadtxt(f"{src}/{name}", delimiter=",", comments="#", ndmin=2)


fig, axes = plt.subplots(3, 4, figsize=(16, 12))
for i, m in enumerate(widths):
    cols, d = load(f"w{m}.csv")
    w = d[:, cols.index("xi2")]
    for j, step in enumerate((0, 100, 300, 1000)):
        ax, ws = axes[i, j], w[d[:, cols.index("step")] == step]
        ax.hist(ws, bins=30, density=True, alpha=0.6, color="steelblue", edgecolor="black")
        xr = np.linspace(ws.min() - 1, ws.max() + 1, 200)
        ax.plot(xr, gaussian_kde(ws)(xr), "r-", linewidth=2, label="KDE")
        ax.set_xlabel("weight w")
        ax.set_ylabel("density rho(w)")
        ax.set_title(f"m={m}, epoch={step}")
        ax.grid(True, alpha=0.3)
        if j == 0:
            ax.legend()
plt.tight_layout()
plt.savefig(f"{out}/meanfield_density.png", dpi=60, metadata=meta)

for name, col, ylabel, log, title in (
        ("meanfield_loss.png", "risk", "loss (MSE)", True, "Loss for different widths (hnn meanfield, 004 Exp. 2)"),
        ("meanfield_w2.png", "w2", "W2(rho_t, N(0, 0.8^2))", False, "W2 of the weights to the target (004 Exp. 3)")):
    fig, ax = plt.subplots(1, 1, figsize=(10, 6))
    for m in widths:
        cols, d = load(f"w{m}_monitor.csv")
        y = d[:, cols.index(col)] * (2 if col == "risk" else 1)
        ax.plot(d[:, cols.index("step")], y, marker="o", linewidth=2, label=f"m={m}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    ax.grid(True, alpha=0.3)
    plt.tight_layout()
    plt.savefig(f"{out}/{name}", dpi=80, metadata=meta)

if os.path.exists(f"{src}/teacher.csv"):
    cols, d = load("teacher.csv")
    steps = sorted(set(d[:, cols.index("step")]))
    u, v1, v2 = (d[:, cols.index(c)] for c in ("xi1", "xi2", "xi3"))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 6.5))
    colors = plt.cm.coolwarm_r(np.linspace(0, 1, len(steps)))
    for theta in (0.3, 2.4, 4.2):
        ax.plot([0, 3 * np.cos(theta)], [0, 3 * np.sin(theta)], "k--", linewidth=1)
    grid = np.linspace(-np.pi, np.pi, 721)
    for col, st in zip(colors, steps):
        k = d[:, cols.index("step")] == st
        t = d[k, 0][0]
        ax.scatter(np.abs(u[k]) * v1[k], np.abs(u[k]) * v2[k], s=10, color=col, label=f"t = {t:g}")
        wgt = np.abs(u[k]) * np.hypot(v1[k], v2[k])
        ang = np.arctan2(v2[k], v1[k])
        dens = np.zeros_like(grid)
        for a, w in zip(ang, wgt):   # a von Mises bump per neuron, weighted by |u| |v|
            dens += w * np.exp(20 * (np.cos(grid - a) - 1))
        dens /= np.trapz(dens, grid)
        bx.plot(grid, dens, color=col, linewidth=1.5, label=f"t = {t:g}")
    for theta in (0.3, 2.4, 4.2):
        bx.axvline(theta if theta <= np.pi else theta - 2 * np.pi, color="k", linestyle="--", linewidth=1)
    ax.set_xlabel("|u| v1")
    ax.set_ylabel("|u| v2")
    ax.set_aspect("equal")
    ax.set_title("student neurons (reduced coordinates), teacher directions dashed")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    bx.set_xlabel("angle of v")
    bx.set_ylabel("angular density, weighted by |u| |v|")
    bx.set_title("directions concentrate on the teacher's (dashed) and their antipodes")
    bx.legend(fontsize=8)
    bx.grid(True, alpha=0.3)
    plt.tight_layout()
    plt.savefig(f"{out}/meanfield_teacher.png", dpi=70, metadata=meta)
