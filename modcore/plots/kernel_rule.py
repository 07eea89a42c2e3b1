"""Figures of the kernel-rule chapters (``kernel_rule``, ``sample_complexity``,
``module_alignment``): tables in, Figure out; nothing is computed here.

Every figure is at most 7.5 in wide with fonts of at least 9 pt, so it stays legible on a page
about 700 px wide, and keeps its legend outside the data.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

FONTS = {"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": 9, "ytick.labelsize": 9,
         "legend.fontsize": 9}
METHOD_COLOURS = {"monolithic": "tab:gray", "random": "tab:blue", "kernel": "tab:red", "oracle": "tab:green",
                  "random_compute_matched": "tab:purple"}
KERNEL_COLOURS = {"ntk": "tab:red", "hidden": "tab:orange", "rbf": "tab:brown"}
INIT_COLOURS = {"random": "tab:blue", "kernel": "tab:red"}
PAPER_MARKERS = {"kernel": "*", "random": "s", "monolithic": "D"}


def _legible(function):
    """Build the figure under FONTS (text takes its size when it is created)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with plt.rc_context(FONTS):
            return function(*args, **kwargs)
    return wrapper


def _finish(fig: Figure, ax=None, *, ncol: int = 2) -> None:
    """Lay the figure out, with ``ax``'s legend (if given) below the axes, inside the figure's
    width: a legend beside the figure would widen the image and shrink its fonts on the page."""
    if ax is None:
        fig.tight_layout()
        return
    handles, labels = ax.get_legend_handles_labels()
    rows = math.ceil(len(labels) / ncol)
    bottom = min(0.5, (0.25 * rows + 0.1) / fig.get_figheight())  # about 0.25 in per legend row
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, bottom, 1, 1))


@_legible
def objective_paths(paths: pd.DataFrame, kernel_labels: Mapping[str, str]) -> Figure:
    """One panel per kernel: the objective relative to its value at the random start, against
    the position on the path (0 = random direction, 1 = true direction); thin lines per seed,
    thick the median over seeds. ``paths``: kernel, seed, alpha, relative_objective."""
    kernels = list(dict.fromkeys(paths.kernel))
    fig, axes = plt.subplots(1, len(kernels), figsize=(7.5, 3.0), sharey=True, squeeze=False)
    for ax, kernel in zip(axes[0], kernels):
        frame = paths[paths.kernel == kernel]
        for _, line in frame.groupby("seed"):
            ax.plot(line.alpha, line.relative_objective, color=KERNEL_COLOURS.get(kernel, "k"), alpha=0.3, lw=0.8)
        median = frame.groupby("alpha").relative_objective.median()
        ax.plot(median.index, median.to_numpy(), color=KERNEL_COLOURS.get(kernel, "k"), lw=2.5, label="median")
        ax.axhline(1.0, color="black", lw=0.6, ls=":")
        ax.set_yscale("log")
        ax.set(title=kernel_labels.get(kernel, kernel), xlabel="path position a\n(0 random, 1 true $u_1$)")
    axes[0, 0].set_ylabel("L(u(a)) / L(random)")
    _finish(fig)
    return fig


@_legible
def restart_landing(counts: pd.DataFrame, kernel_labels: Mapping[str, str]) -> Figure:
    """Bars: how many restarts (all seeds) landed on each true module, or on none, per kernel.
    ``counts``: rows kernels, columns "module 1" .. "module k", "none"."""
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    columns = list(counts.columns)
    width = 0.8 / len(counts)
    for i, (kernel, row) in enumerate(counts.iterrows()):
        ax.bar(np.arange(len(columns)) + (i - (len(counts) - 1) / 2) * width, row.to_numpy(), width,
               color=KERNEL_COLOURS.get(kernel, "k"), label=kernel_labels.get(kernel, kernel))
    ax.set_xticks(np.arange(len(columns)), columns)
    ax.set(ylabel="restarts (all seeds)", xlabel="true module found (|cos| ≥ threshold)")
    _finish(fig, ax, ncol=3)
    return fig


@_legible
def samples_needed(needed: pd.DataFrame, means: pd.DataFrame, paper: pd.DataFrame | None, *,
                   n_train_range: tuple[float, float], method_labels: Mapping[str, str]) -> Figure:
    """Samples needed vs input dimension m: thin lines per seed, thick means (geometric) with
    their intervals, the paper's digitised means as open markers. Curves not reached within the
    grid are drawn as up-triangles just above the grid's largest n; below-grid ones as
    down-triangles at its smallest n. ``needed``: method, input_dim, seed, n_needed, status;
    ``means``: method, input_dim, mean, low, high, status; ``paper``: method, input_dim, n_needed."""
    low_n, high_n = n_train_range
    fig, ax = plt.subplots(figsize=(7.5, 5.4))
    methods = list(dict.fromkeys(means.method))
    for index, method in enumerate(methods):
        colour = METHOD_COLOURS.get(method, "k")
        for _, line in needed[needed.method == method].groupby("seed"):
            # NaN breaks the line where a seed did not reach the target (or diverged)
            shown = line.n_needed.where(line.status.isin(["crossed", "below_grid"]))
            ax.plot(line.input_dim, shown, color=colour, alpha=0.25, lw=0.8)
        frame = means[means.method == method]
        finite = frame.where(np.isfinite(frame["mean"].astype(float)))  # gaps where the mean is not reached
        ax.plot(frame.input_dim, finite["mean"], color=colour, lw=2.5, marker="o", label=method_labels[method])
        ax.fill_between(frame.input_dim, finite.low.astype(float), finite.high.astype(float), color=colour,
                        alpha=0.12, lw=0)
        missing = frame[frame.status == "not_reached"]
        offset = (index - (len(methods) - 1) / 2) * 0.08  # side by side where several methods miss
        ax.scatter(missing.input_dim + offset, np.full(len(missing), high_n * 1.3), marker="^", color=colour, s=40)
        if paper is not None and method in set(paper.method):
            theirs = paper[paper.method == method]
            ax.scatter(theirs.input_dim, theirs.n_needed, marker=PAPER_MARKERS.get(method, "o"), facecolors="none",
                       edgecolors=colour, s=45, label=f"paper: {method_labels[method]}")
    ax.scatter([], [], marker="^", color="black", label="not reached within the grid (mean)")
    ax.axhline(low_n, color="black", lw=0.6, ls=":")
    ax.axhline(high_n, color="black", lw=0.6, ls=":")
    ax.set_yscale("log")
    ax.set(xlabel="input dimension m", ylabel="training samples needed n")
    _finish(fig, ax)
    return fig


@_legible
def loss_curves(curves: pd.DataFrame, *, input_dim_values: Sequence[int], target_loss: float,
                predict_zero_loss: float, method_labels: Mapping[str, str]) -> Figure:
    """Test MSE vs n (seed means) per method, one panel per m in ``input_dim_values``, with the
    target loss and the predict-zero loss as horizontal lines. ``curves``: method, input_dim,
    n_train, test_mse."""
    fig, axes = plt.subplots(1, len(input_dim_values), figsize=(7.5, 4.0), sharey=True, squeeze=False)
    for ax, m in zip(axes[0], input_dim_values):
        for method, frame in curves[curves.input_dim == m].groupby("method", sort=False):
            ax.plot(frame.n_train, frame.test_mse, marker="o", ms=3, color=METHOD_COLOURS.get(method, "k"),
                    label=method_labels[method])
        ax.axhline(target_loss, color="black", ls="--", lw=1, label="target loss")
        ax.axhline(predict_zero_loss, color="black", ls=":", lw=1, label="predict-zero loss")
        ax.set(xscale="log", yscale="log", title=f"m = {m}", xlabel="n")
    axes[0, 0].set_ylabel("test MSE")
    _finish(fig, axes[0, 0])
    return fig


@_legible
def alignment_over_training(curves: pd.DataFrame, paper: pd.DataFrame | None,
                            init_labels: Mapping[str, str]) -> Figure:
    """Two panels (best-match and one-to-one matched |cos|) against training steps, per init:
    thin lines per seed, thick the mean; the paper's Fig. 5 points (start, end, maximum) as open
    markers on the best-match panel (the paper does not say how it matched directions).
    ``curves``: init, seed, step, best_match_similarity, matched_similarity; ``paper``:
    method (ours/baseline), iteration, similarity."""
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.8), sharex=True, sharey=True)
    paper_init = {"ours": "kernel", "baseline": "random"}
    for ax, measure, title in ((axes[0], "best_match_similarity", "best match per true direction"),
                               (axes[1], "matched_similarity", "one-to-one matching")):
        for init in dict.fromkeys(curves.init):
            frame = curves[curves.init == init]
            colour = INIT_COLOURS.get(init, "k")
            for _, line in frame.groupby("seed"):
                ax.plot(line.step, line[measure], color=colour, alpha=0.25, lw=0.8)
            mean = frame.groupby("step")[measure].mean()
            ax.plot(mean.index, mean.to_numpy(), color=colour, lw=2.5, label=init_labels[init])
        if paper is not None and measure == "best_match_similarity":
            for method, frame in paper.groupby("method"):
                init = paper_init[method]
                ax.scatter(frame.iteration, frame.similarity, marker="o", facecolors="none",
                           edgecolors=INIT_COLOURS[init], s=40, label=f"paper: {init_labels[init]}")
        ax.set(title=title, xlabel="training step")
    axes[0].set_ylabel("mean |cos| with true directions")
    _finish(fig, axes[0])
    return fig


@_legible
def tsne(panels: Mapping[str, pd.DataFrame]) -> Figure:
    """One panel per title: t-SNE points of learned (pink) and true (blue) directions, both signs
    (filled for +u, open for -u). ``panels[title]``: x, y, kind, sign."""
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5, 3.3), squeeze=False)
    colours = {"learned": "tab:pink", "true": "tab:blue"}
    for ax, (title, points) in zip(axes[0], panels.items()):
        for kind, colour in colours.items():
            for sign, face in ((1, colour), (-1, "none")):
                chosen = points[(points.kind == kind) & (points.sign == sign)]
                ax.scatter(chosen.x, chosen.y, s=28, facecolors=face, edgecolors=colour,
                           label=f"{kind}, {'+u' if sign > 0 else '-u'}")
        ax.set(title=title, xticks=[], yticks=[])
    _finish(fig, axes[0, 0], ncol=4)
    return fig
