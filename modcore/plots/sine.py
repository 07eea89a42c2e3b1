"""Figures of the sine-wave chapters: arrays and tables in, Figure out; nothing is computed here."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

PANEL_LABELS = {"n_modules": "number of modules k", "input_dim": "input dimension m",
                "n_params": "network parameters p", "n_train": "training samples n"}
LOG_PANELS = ("n_params", "n_train")


def module_functions(z: np.ndarray, module_values: np.ndarray, true_projection: np.ndarray,
                     random_projection: np.ndarray, targets: np.ndarray, n_modules: int) -> Figure:
    """Left: each module function g_i(z) (rows of ``module_values``, shape (k, len(z))).
    Right: targets y against the projection on a true direction u_1 and on a random one,
    with the first module's share of the target, g_1(z) / sqrt(k)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.6))
    for i, values in enumerate(module_values):
        left.plot(z, values, label=f"$g_{{{i + 1}}}$")
    _style(left, xlabel=r"projection $u_i^\top x$", ylabel=r"module output $g_i$", title="Module functions")
    left.legend(loc="upper right", fontsize=FONT_SIZE, ncol=2)
    right.scatter(true_projection, targets, s=4, alpha=0.5, label=r"true direction $u_1$")
    right.scatter(random_projection, targets, s=4, alpha=0.5, label="random unit direction")
    right.plot(z, module_values[0] / np.sqrt(n_modules), color="black", label=r"$g_1(z)/\sqrt{k}$")
    _style(right, xlabel=r"projection of $x$ on the direction", ylabel="target y",
           title="Target along a true vs a random direction")
    right.legend(loc="upper right", fontsize=FONT_SIZE, markerscale=3)
    fig.tight_layout()
    return fig


# Figures are drawn for the book's page width (about 700 px): at most 7.5 inches wide, fonts of
# at least 9 pt, legends below the axes so they hide no data.
PAGE_WIDTH = 7.5
FONT_SIZE = 9
PANEL_SYMBOLS = {"n_modules": "k", "input_dim": "m", "n_params": "p", "n_train": "n"}


def _style(ax, *, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel, fontsize=FONT_SIZE + 1)
    ax.set_ylabel(ylabel, fontsize=FONT_SIZE + 1)
    ax.set_title(title, fontsize=FONT_SIZE + 1)
    ax.tick_params(labelsize=FONT_SIZE)


def _legend_below(fig: Figure, axes, ncol: int = 3) -> None:
    handles = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol, fontsize=FONT_SIZE,
               frameon=False)


def fig2(panels: Mapping[str, Mapping[str, pd.DataFrame]], *, loss: str = "test") -> Figure:
    """The paper's Fig. 2 for one loss ("test" or "train"): MSE vs k, m, p and n, 2 x 2 panels.

    ``panels[panel]`` holds ``lines`` (line, x_value, train_mse, test_mse: light lines),
    ``means`` (x_value, train_mse, test_mse: thick line), ``theory`` (x_value, theory_train,
    theory_test: dashed) and ``paper`` (x, quantity, value: the paper's digitised curves).
    Linear loss axis from 0, so train losses of 0 stay visible; its top is set by the data
    (ours and the paper's), so Theorem 1's divergence runs off the top.
    """
    if loss not in ("test", "train"):
        raise ValueError(f"loss must be 'test' or 'train', got {loss=!r}")
    column, theory_column = f"{loss}_mse", f"theory_{loss}"
    fig, axes = plt.subplots(2, 2, figsize=(PAGE_WIDTH, 6.6))
    for ax, (panel, data) in zip(axes.flat, panels.items()):
        for _, line in data["lines"].groupby("line"):
            ax.plot(line.x_value, line[column], color="tab:blue", alpha=0.3, lw=1)
        ax.plot([], [], color="tab:blue", alpha=0.3, lw=1, label="ours: one setting of the others")
        ax.plot(data["means"].x_value, data["means"][column], color="tab:blue", lw=2.5, label="ours: mean")
        theory = data["theory"]
        ax.plot(theory.x_value, theory[theory_column], color="black", ls="--", lw=1.2,
                label="Theorem 1 (c from the task, Omega calibrated)")
        paper = data["paper"]
        tops = [data["lines"][column].max(), data["means"][column].max()]
        for quantity, marker, label in ((f"{loss}_network", "o", "paper: networks (mean)"),
                                        (f"{loss}_theory", "x", "paper: Theorem 1")):
            points = paper[paper.quantity == quantity]
            if len(points):
                ax.scatter(points.x, points.value, marker=marker, color="tab:red", zorder=3, s=22, label=label)
                tops.append(points.value.max())
        if panel in LOG_PANELS:
            ax.set_xscale("log")
        ax.set_ylim(0, 1.15 * np.nanmax(tops))
        _style(ax, xlabel=PANEL_LABELS[panel], ylabel=f"{loss} MSE", title=f"{loss} loss vs {PANEL_SYMBOLS[panel]}")
    _legend_below(fig, axes)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def calibration_fit(curve: pd.DataFrame, paper: pd.DataFrame, scores: pd.DataFrame) -> Figure:
    """Left: the fitted panel (Fig. 2, loss vs n at p = 1153): the paper's network points and the
    chosen candidate's mean train and test MSE. Right: every candidate's fit error, sorted.

    ``curve``: x, train_mse, test_mse; ``paper``: x, quantity, value; ``scores``: error and the
    fitted fields, best first.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.6), gridspec_kw={"width_ratios": [1.2, 1]})
    for loss, color in (("test", "tab:blue"), ("train", "tab:orange")):
        left.plot(curve.x, curve[f"{loss}_mse"], marker="o", color=color, label=f"ours, {loss}")
        points = paper[paper.quantity == f"{loss}_network"]
        left.scatter(points.x, points.value, marker="x", s=40, color=color, zorder=3, label=f"paper, {loss}")
    left.set_xscale("log")
    left.set_ylim(0, None)
    _style(left, xlabel="training samples n", ylabel="MSE", title="Fitted panel: loss vs n")
    left.legend(fontsize=FONT_SIZE, loc="upper right")
    finite = scores[np.isfinite(scores.error)]
    colors = ["tab:green" if i == 0 else "tab:gray" for i in range(len(finite))]
    right.bar(np.arange(len(finite)), finite.error, color=colors)
    _style(right, xlabel="candidate (sorted by error)", ylabel="rms log error", title="Every candidate's fit error")
    fig.tight_layout()
    return fig


def heldout_panels(panels: Mapping[str, Mapping[str, pd.DataFrame]]) -> Figure:
    """The held-out panels: our mean test MSE and the paper's digitised network points."""
    fig, axes = plt.subplots(1, len(panels), figsize=(PAGE_WIDTH, 3.0), squeeze=False)
    for ax, (panel, data) in zip(axes[0], panels.items()):
        ax.plot(data["means"].x_value, data["means"].test_mse, color="tab:blue", lw=2, marker="o", ms=3,
                label="ours: mean")
        points = data["paper"][data["paper"].quantity == "test_network"]
        ax.scatter(points.x, points.value, marker="o", color="tab:red", s=18, zorder=3, label="paper: networks")
        if panel in LOG_PANELS:
            ax.set_xscale("log")
        ax.set_ylim(0, 1.15 * np.nanmax([data["means"].test_mse.max(), points.value.max()]))
        _style(ax, xlabel=PANEL_LABELS[panel], ylabel="test MSE", title=f"held out: {PANEL_SYMBOLS[panel]}")
    _legend_below(fig, axes, ncol=2)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def optimisation_gap(runs: pd.DataFrame, theory: pd.DataFrame) -> Figure:
    """Train (top) and test (bottom) MSE vs n, one colour per optimisation method, one column per m.

    ``runs``: method, input_dim, n_train, train_mse, test_mse (seed means) and
    ``theory``: input_dim, n_train, theory_train, theory_test (a fine grid). Linear loss axis
    from 0 (train losses of 0 stay visible); its top is set by the bulk of the networks' points,
    so Theorem 1's divergence and any loss above 5x their upper quartile run off the top."""
    dims = sorted(runs.input_dim.unique())
    fig, axes = plt.subplots(2, len(dims), figsize=(PAGE_WIDTH, 6.2), squeeze=False)
    for column, m in enumerate(dims):
        for row, (loss, theory_col, kind) in enumerate((("train_mse", "theory_train", "train"),
                                                        ("test_mse", "theory_test", "test"))):
            ax = axes[row, column]
            at_m = runs[runs.input_dim == m]
            for method, frame in at_m.groupby("method", sort=False):
                ax.plot(frame.n_train, frame[loss], marker="o", ms=3, label=method)
            curve = theory[theory.input_dim == m]
            ax.plot(curve.n_train, curve[theory_col], color="black", ls="--", label="Theorem 1 (calibrated)")
            ax.set_xscale("log")
            # the top follows the bulk of the points; a spike above 5x their upper quartile runs off the top
            values = at_m[loss].dropna()
            quartile = values.quantile(0.75)
            bulk = values[values <= 5 * quartile] if quartile > 0 else values
            ax.set_ylim(0, 1.3 * max(bulk.max() if len(bulk) else 0.0, 1e-3))
            _style(ax, xlabel="training samples n", ylabel=f"{kind} MSE", title=f"{kind} loss vs n, m = {m}")
    _legend_below(fig, axes, ncol=2)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def target_variance_vs_k(n_modules_values, means: np.ndarray, standard_errors: np.ndarray) -> Figure:
    """Mean target variance over task draws against k, with 2-standard-error bars."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(n_modules_values, means, yerr=2 * standard_errors, marker="o", capsize=3,
                label="mean ± 2 s.e. over tasks")
    _style(ax, xlabel="number of modules k", ylabel="target variance Var(y)", title="Target variance vs k")
    ax.set_ylim(0, 1.2 * np.max(means))
    ax.legend(fontsize=FONT_SIZE)
    return fig
