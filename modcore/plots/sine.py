"""Figures of the sine-wave chapters: arrays and tables in, Figure out; nothing is computed here."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

PANEL_LABELS = {"n_modules": "number of modules k", "input_dim": "input dimension m",
                "n_params": "network parameters p", "n_train": "training samples n"}
LINE_LABELS = {"n_params": "p", "input_dim": "m"}
LOG_PANELS = ("n_params", "n_train")


def module_functions(z: np.ndarray, module_values: np.ndarray, true_projection: np.ndarray,
                     random_projection: np.ndarray, targets: np.ndarray, n_modules: int) -> Figure:
    """Left: each module function g_i(z) (rows of ``module_values``, shape (k, len(z))).
    Right: targets y against the projection on a true direction u_1 and on a random one,
    with the first module's share of the target, g_1(z) / sqrt(k)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, values in enumerate(module_values):
        left.plot(z, values, label=f"$g_{{{i + 1}}}$")
    left.set(xlabel=r"projection $u_i^\top x$ (dimensionless)", ylabel=r"module output $g_i$",
             title="Module functions (sums of three sines)")
    left.legend(loc="upper right", fontsize=8, ncol=2)
    right.scatter(true_projection, targets, s=4, alpha=0.5, label=r"true direction $u_1$")
    right.scatter(random_projection, targets, s=4, alpha=0.5, label="random unit direction")
    right.plot(z, module_values[0] / np.sqrt(n_modules), color="black", label=r"$g_1(z)/\sqrt{k}$")
    right.set(xlabel=r"projection of $x$ on the direction", ylabel="target y",
              title="The target seen along a true vs a random direction")
    right.legend(loc="upper right", fontsize=8, markerscale=3)
    fig.tight_layout()
    return fig


def fig2(panels: Mapping[str, Mapping[str, pd.DataFrame]], *, y_limits: tuple[float, float] = (1e-3, 20.0)) -> Figure:
    """Paper's Fig. 2 layout: train (top) and test (bottom) MSE vs k, m, p, n.

    ``panels[panel]`` holds ``lines`` (line, x_value, train_mse, test_mse: thin lines),
    ``means`` (x_value, train_mse, test_mse: thick line), ``theory`` (x_value, theory_train,
    theory_test: dashed) and ``paper`` (x, quantity, value: the paper's digitised curves).
    Log loss axis: our losses and the paper's differ by more than an order of magnitude.
    """
    fig, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 7.4), squeeze=False)
    for column, (panel, data) in enumerate(panels.items()):
        for row, (loss, theory_col) in enumerate((("train_mse", "theory_train"), ("test_mse", "theory_test"))):
            ax = axes[row, column]
            for value, line in data["lines"].groupby("line"):
                ax.plot(line.x_value, line[loss], color="tab:blue", alpha=0.3, lw=1)
            ax.plot([], [], color="tab:blue", alpha=0.3, lw=1,
                    label=f"network, one {LINE_LABELS[_line_of(panel)]}")
            ax.plot(data["means"].x_value, data["means"][loss], color="tab:blue", lw=3, label="network, mean")
            theory = data["theory"]
            ax.plot(theory.x_value, theory[theory_col], color="black", ls="--", lw=1.5, label="Theorem 1 (fitted)")
            paper = data["paper"]
            kind = "train" if row == 0 else "test"
            for quantity, marker, label in ((f"{kind}_network", "o", "paper: network"),
                                            (f"{kind}_theory", "x", "paper: theory")):
                points = paper[paper.quantity == quantity]
                if len(points):
                    ax.scatter(points.x, points.value, marker=marker, color="tab:red", zorder=3, label=label)
            if panel in LOG_PANELS:
                ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(*y_limits)
            ax.set(xlabel=PANEL_LABELS[panel], ylabel=f"{kind} MSE (target units²)",
                   title=f"{kind} loss vs {PANEL_LABELS[panel].split()[-1]}")
            ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def _line_of(panel: str) -> str:
    return {"n_modules": "n_params", "input_dim": "n_params", "n_params": "input_dim", "n_train": "input_dim"}[panel]


def optimisation_gap(runs: pd.DataFrame, theory: pd.DataFrame, *, y_max: float | None = None) -> Figure:
    """Train and test MSE vs n, one colour per optimisation method, one panel pair per m.

    ``runs``: method, input_dim, n_train, train_mse, test_mse (seed means) and
    ``theory``: input_dim, n_train, theory_train, theory_test (a fine grid)."""
    dims = sorted(runs.input_dim.unique())
    fig, axes = plt.subplots(2, len(dims), figsize=(5.2 * len(dims), 7.4), squeeze=False)
    for column, m in enumerate(dims):
        for row, (loss, theory_col, kind) in enumerate((("train_mse", "theory_train", "train"),
                                                        ("test_mse", "theory_test", "test"))):
            ax = axes[row, column]
            for method, frame in runs[runs.input_dim == m].groupby("method", sort=False):
                ax.plot(frame.n_train, frame[loss], marker="o", label=method)
            curve = theory[theory.input_dim == m]
            ax.plot(curve.n_train, curve[theory_col], color="black", ls="--", label="Theorem 1")
            ax.set_xscale("log")
            # symlog: exact zeros (train loss at interpolation) stay visible, unlike on a log axis
            ax.set_yscale("symlog", linthresh=1e-4)
            ax.set_ylim(0, y_max)
            ax.set(xlabel="training samples n", ylabel=f"{kind} MSE (target units²)",
                   title=f"{kind} loss vs n, m = {m}")
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def target_variance_vs_k(n_modules_values, means: np.ndarray, standard_errors: np.ndarray) -> Figure:
    """Mean target variance over task draws against k, with 2-standard-error bars."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(n_modules_values, means, yerr=2 * standard_errors, marker="o", capsize=3,
                label="mean ± 2 s.e. over tasks")
    ax.set(xlabel="number of modules k", ylabel="target variance Var(y) (target units²)",
           title="Target variance vs number of modules", ylim=(0, 1.2 * np.max(means)))
    ax.legend()
    return fig
