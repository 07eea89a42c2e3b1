"""Figures of the essay chapter: arrays in, Figure out; nothing is computed here.

Panels are built by :mod:`modcore.essay` (``*_panels`` functions) from a sweep's runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def _colours(labels: Sequence[str]) -> dict[str, Any]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    palette = cycle if len(labels) <= len(cycle) else plt.cm.tab20(np.linspace(0, 1, len(labels)))
    return {label: palette[i % len(palette)] for i, label in enumerate(labels)}


def _jitter(n: int, width: float = 0.12) -> np.ndarray:
    # Deterministic spread so that runs with equal values stay visible.
    return np.linspace(-width, width, n) if n > 1 else np.zeros(n)


def scores_by_condition(panels: Sequence[Mapping[str, Any]], *, title: str, ylabel: str,
                        reference: float | None = 0.0, reference_label: str = "shuffle null (z = 0)") -> Figure:
    """Per-run scores (dots) with the median and its bootstrap 95% CI (bar), one column per condition.

    Each panel: ``title``; ``runs`` = {condition: values}; ``summary`` = {condition: (median,
    low, high)}. A dashed line at ``reference``.
    """
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.6 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        conditions = list(panel["runs"])
        for i, condition in enumerate(conditions):
            values = np.asarray(panel["runs"][condition], dtype=float)
            ax.plot(i + _jitter(values.size), values, "o", ms=4, alpha=0.55, color="tab:blue",
                    label="one run" if i == 0 else None)
            median, low, high = panel["summary"][condition]
            ax.errorbar([i + 0.3], [median], yerr=[[median - low], [high - median]], fmt="s", ms=6, capsize=3,
                        color="black", label="median, 95% bootstrap CI" if i == 0 else None)
        if reference is not None:
            ax.axhline(reference, color="grey", ls="--", lw=1, label=reference_label)
        ax.set_xticks(range(len(conditions)), conditions, rotation=25, ha="right", fontsize=8)
        ax.set_xlabel("arm (strength)")
        ax.set_ylabel(ylabel)
        ax.set_title(panel["title"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def gap_vs_score(panels: Sequence[Mapping[str, Any]], *, title: str, xlabel: str, ylabel: str) -> Figure:
    """Generalisation gap against a modularity score, one colour per condition, with the fitted slope.

    Each panel: ``title``; ``points`` = {condition: (x, y)}; ``fit`` = {``slope``, ``low``,
    ``high``, ``x_mean``, ``y_mean``} drawn as a line through the means with a shaded fan
    between the slopes ``low`` and ``high``; ``fit_label``.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        colours = _colours(list(panel["points"]))
        for condition, (x, y) in panel["points"].items():
            ax.plot(x, y, "o", ms=5, alpha=0.8, color=colours[condition], label=condition)
        fit = panel.get("fit")
        xs = np.concatenate([np.asarray(x, dtype=float) for x, _ in panel["points"].values()])
        if fit is not None and np.isfinite(fit["slope"]) and xs.size:
            grid = np.linspace(np.nanmin(xs), np.nanmax(xs), 50)
            line = lambda slope: fit["y_mean"] + slope * (grid - fit["x_mean"])  # noqa: E731
            ax.plot(grid, line(fit["slope"]), color="black", lw=1.5, label=panel["fit_label"])
            if np.isfinite(fit["low"]) and np.isfinite(fit["high"]):
                ax.fill_between(grid, np.minimum(line(fit["low"]), line(fit["high"])),
                                np.maximum(line(fit["low"]), line(fit["high"])), color="grey", alpha=0.2,
                                label="95% CI of the slope")
        ax.axvline(0, color="grey", ls="--", lw=1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(panel["title"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def intervention(panels: Sequence[Mapping[str, Any]], *, title: str) -> Figure:
    """Hard-wired modular nets beside free ones: one row per task, one column per metric.

    Each panel: ``title`` (the task); ``metrics`` = {metric label: {group: values}}.
    """
    n_metrics = max(len(panel["metrics"]) for panel in panels)
    fig, axes = plt.subplots(len(panels), n_metrics, figsize=(3.4 * n_metrics, 3.4 * len(panels)), squeeze=False)
    for row, panel in zip(axes, panels):
        for ax in row[len(panel["metrics"]):]:
            ax.axis("off")
        for ax, (metric, groups) in zip(row, panel["metrics"].items()):
            colours = _colours(list(groups))
            for i, (group, values) in enumerate(groups.items()):
                values = np.asarray(values, dtype=float)
                ax.plot(i + _jitter(values.size, 0.15), values, "o", ms=4, alpha=0.7, color=colours[group], label=group)
                if values.size:
                    ax.plot([i - 0.25, i + 0.25], [np.nanmedian(values)] * 2, color="black", lw=2)
            ax.set_xticks(range(len(groups)), list(groups), rotation=20, ha="right", fontsize=8)
            ax.set_xlabel("network")
            ax.set_ylabel(metric)
            ax.set_title(f"{panel['title']}: {metric}", fontsize=9)
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=7, title="bar = median", title_fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
