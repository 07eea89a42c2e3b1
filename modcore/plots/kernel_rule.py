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
from matplotlib.ticker import NullFormatter

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
def pilot_recovery(summary: pd.DataFrame, *, n_restarts: int, chosen: Mapping,
                   kernel_labels: Mapping[str, str]) -> Figure:
    """Small multiples, one row per kernel and one column per minibatch B: the mean share of true
    modules recovered (|cos| >= threshold) against Algorithm 1's steps, one line per eps, at
    ``n_restarts`` restarts; dotted: the share recovered by the restarts' random starting points;
    a star marks the ``chosen`` setting. ``summary``: kernel, eps, batch_size, n_steps,
    n_restarts, share, start_share."""
    at = summary[summary.n_restarts == n_restarts]
    kernels, batches = list(dict.fromkeys(at.kernel)), sorted(set(at.batch_size))
    eps_values = sorted(set(at.eps))
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(eps_values)))
    fig, axes = plt.subplots(len(kernels), len(batches), figsize=(7.5, 1.9 * len(kernels) + 1.2), sharex=True,
                             sharey=True, squeeze=False)
    for row, kernel in enumerate(kernels):
        for column, batch in enumerate(batches):
            ax = axes[row, column]
            panel = at[(at.kernel == kernel) & (at.batch_size == batch)]
            for colour, eps in zip(colours, eps_values):
                line = panel[panel.eps == eps].sort_values("n_steps")
                ax.plot(line.n_steps, line.share, marker="o", ms=3, color=colour, label=f"eps = {eps:g}")
            ax.axhline(float(panel.start_share.mean()) if len(panel) else np.nan, color="black", ls=":", lw=1,
                       label="random starting directions")
            if (chosen["kernel"], int(chosen["batch_size"])) == (kernel, batch):
                ax.scatter([chosen["n_steps"]], [chosen["share"]], marker="*", s=160, color="tab:red", zorder=5,
                           label="chosen setting")
            ax.set(xscale="log", ylim=(-0.05, 1.05))
            if row == 0:
                ax.set_title(f"B = {batch}")
            if column == 0:
                ax.set_ylabel(f"{kernel_labels.get(kernel, kernel)}\nshare recovered")
            if row == len(kernels) - 1:
                ax.set_xlabel("Algorithm 1 steps")
    _shared_legend(fig, axes, ncol=3)
    return fig


def _shared_legend(fig: Figure, axes, *, ncol: int) -> None:
    """One legend below all panels (each label once), inside the figure's width."""
    handles = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    rows = math.ceil(len(handles) / ncol)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=ncol, frameon=False)
    fig.tight_layout(rect=(0, min(0.5, (0.25 * rows + 0.15) / fig.get_figheight()), 1, 1))


@_legible
def samples_needed(needed: pd.DataFrame, means: pd.DataFrame, paper: pd.DataFrame | None, *,
                   n_train_range: tuple[float, float], method_labels: Mapping[str, str]) -> Figure:
    """Samples needed vs input dimension m, one panel per method (small multiples): thin lines
    per seed, the thick geometric mean with its interval, the paper's digitised means as open
    markers where the paper has that method. A seed that did not reach the target within the
    grid is drawn as a triangle above the grid's largest n, and each m with such seeds is
    labelled with their count ("2/5 not reached"). Dotted: the grid's ends. ``needed``: method,
    input_dim, seed, n_needed, status; ``means``: method, input_dim, mean, low, high, n_seeds;
    ``paper``: method, input_dim, n_needed."""
    low_n, high_n = n_train_range
    methods = list(dict.fromkeys(means.method))
    columns = 2 if len(methods) > 1 else 1
    rows = math.ceil(len(methods) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7.5, 2.8 * rows + 0.9), sharex=True, sharey=True, squeeze=False)
    for ax, method in zip(axes.ravel(), methods):
        colour = METHOD_COLOURS.get(method, "k")
        for _, line in needed[needed.method == method].groupby("seed"):
            shown = line.n_needed.where(line.status.isin(["crossed", "below_grid"]))
            ax.plot(line.input_dim, shown, color=colour, alpha=0.3, lw=0.8, label="one seed")
        frame = means[means.method == method]
        finite = frame.where(np.isfinite(frame["mean"].astype(float)))
        ax.plot(frame.input_dim, finite["mean"], color=colour, lw=2.5, marker="o",
                label="geometric mean, 95 % interval")
        ax.fill_between(frame.input_dim, finite.low.astype(float), finite.high.astype(float), color=colour,
                        alpha=0.15, lw=0)
        censored = needed[(needed.method == method) & (needed.status == "not_reached")]
        ax.scatter(censored.input_dim, np.full(len(censored), high_n * 1.4), marker="^", color=colour, s=30,
                   label="not reached within the grid")
        for m, count in censored.groupby("input_dim").size().items():
            total = int(frame.loc[frame.input_dim == m, "n_seeds"].iloc[0])
            ax.annotate(f"{count}/{total} not reached", (m, high_n * 1.4), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=9, color=colour)
        if paper is not None and method in set(paper.method):
            theirs = paper[paper.method == method]
            ax.scatter(theirs.input_dim, theirs.n_needed, marker=PAPER_MARKERS.get(method, "o"), facecolors="none",
                       edgecolors="black", s=40, label="paper (digitised)")
        ax.axhline(low_n, color="black", lw=0.6, ls=":")
        ax.axhline(high_n, color="black", lw=0.6, ls=":")
        ax.set(yscale="log", title=method_labels[method], ylim=(low_n / 2, high_n * 4))
    for ax in axes.ravel()[len(methods):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("input dimension m")
    for ax in axes[:, 0]:
        ax.set_ylabel("samples needed n")
    _shared_legend(fig, axes, ncol=2)
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
        ax.set(xscale="log", yscale="log", title=f"m = {m}", xlabel="n (labelled samples)")
        # a grid spanning less than two decades gets minor-tick labels on a log axis, and
        # they ran into each other ("3x10^1 4x10^1 ..."): the decades alone are labelled
        ax.xaxis.set_minor_formatter(NullFormatter())
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
