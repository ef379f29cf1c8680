#!/usr/bin/python3
"""plot_figs.py -- the two discrepancy figures from wdisc_figs' CSVs.

usage: plot_figs.py DIR OUTDIR
  DIR/count*.csv -> OUTDIR/wdisc_particle_count.png
  DIR/geo_*.csv  -> OUTDIR/wdisc_geometries.png
Needs numpy and matplotlib (Debian python3-numpy, python3-matplotlib).
"""
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def teacher_density(X, Y):
    s2 = 0.35 ** 2
    g = lambda c: np.exp(-((X - c) ** 2 + Y ** 2) / (2 * s2)) / (2 * np.pi * s2)
    return 0.5 * g(-1.2) + 0.5 * g(1.2)


def trajectories(ax, d, cmap="coolwarm_r"):
    last = d[:, 0].max()
    for p in np.unique(d[:, 1]):
        t = d[d[:, 1] == p]
        if len(t) < 2:
            continue
        seg = np.stack([t[:-1, 2:4], t[1:, 2:4]], axis=1)
        col = plt.get_cmap(cmap)(t[:-1, 0] / last)
        for s, c in zip(seg, col):
            ax.plot(s[:, 0], s[:, 1], color=c, lw=0.6, alpha=0.8)


def count_figure(src, out):
    Ns = [10, 100, 1000, 10000]
    fig, axes = plt.subplots(1, len(Ns) + 1, figsize=(4 * (len(Ns) + 1), 4))
    X, Y = np.meshgrid(np.linspace(-2.5, 2.5, 200), np.linspace(-1.5, 3, 200))
    Z = teacher_density(X, Y)
    for ax, N in zip(axes, Ns):
        d = np.loadtxt(os.path.join(src, "count_%d.csv" % N), delimiter=",", skiprows=1)
        ax.contour(X, Y, Z, levels=6, colors="0.6", linewidths=0.7)
        trajectories(ax, d)
        first, last = d[d[:, 0] == 0], d[d[:, 0] == d[:, 0].max()]
        ax.scatter(first[:, 2], first[:, 3], s=6, c="red", zorder=3)
        ax.scatter(last[:, 2], last[:, 3], s=max(1, 30 / np.sqrt(N)), c="blue", zorder=3)
        ax.set_title("N = %d" % N)
        ax.set_aspect("equal")
        ax.set_xlim(-2.5, 2.5), ax.set_ylim(-1.5, 3)
    c = np.loadtxt(os.path.join(src, "count.csv"), delimiter=",", skiprows=1)
    ax = axes[-1]
    ax.loglog(c[:, 0], c[:, 2], "o-", label="after the flow")
    ax.loglog(c[:, 0], c[:, 1], "s--", color="0.5", label="initial cloud")
    ax.axhline(c[0, 3], color="k", ls=":", label="the flow's teacher sample (5000)")
    ax.loglog(c[:, 0], c[2, 2] * (c[:, 0] / c[2, 0]) ** -1.0, color="0.7", lw=0.8, label="slope -1")
    ax.set_xlabel("particles N")
    ax.set_ylabel("energy distance to the teacher")
    ax.legend(fontsize=8)
    ax.set_title("final discrepancy vs N")
    fig.suptitle("energy-distance (MMD, k = -|x - y|) flow to a two-Gaussian teacher")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


def geometries_figure(src, out):
    tgt = np.loadtxt(os.path.join(src, "geo_target.csv"), delimiter=",", skiprows=1)
    titles = {"mmd": "MMD (energy distance) flow", "sinkhorn": "Sinkhorn divergence flow, eps = 0.25",
              "w2": "straight OT displacement (1/2 W2^2)"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    for ax, k in zip(axes, ["mmd", "sinkhorn", "w2"]):
        d = np.loadtxt(os.path.join(src, "geo_%s.csv" % k), delimiter=",", skiprows=1)
        trajectories(ax, d)
        first = d[d[:, 0] == 0]
        ax.scatter(tgt[:, 0], tgt[:, 1], s=14, c="blue", zorder=3, label="target")
        ax.scatter(first[:, 2], first[:, 3], s=10, c="red", zorder=3, label="source")
        ax.set_title(titles[k])
        ax.set_aspect("equal")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle("particle trajectories of three discrepancy geometries, same source and target")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    src, dst = sys.argv[1], sys.argv[2]
    if os.path.exists(os.path.join(src, "count.csv")):
        count_figure(src, os.path.join(dst, "wdisc_particle_count.png"))
    if os.path.exists(os.path.join(src, "geo_target.csv")):
        geometries_figure(src, os.path.join(dst, "wdisc_geometries.png"))
