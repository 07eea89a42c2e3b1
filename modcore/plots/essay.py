"""Figures of the essay chapter: arrays in, Figure out; nothing is computed here.

Panels are built by :mod:`modcore.runs.essay_report` (``*_panels`` functions) from a
sweep's runs. Every figure is at most ``PAGE_WIDTH`` inches wide with text of at least
``FONT_SIZE`` points, so it stays legible on a ~700 px book page; legends sit outside the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

PAGE_WIDTH = 7.5  # inches
FONT_SIZE = 9     # points, the smallest text on any figure


def _colours(labels: Sequence[str]) -> dict[str, Any]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    palette = cycle if len(labels) <= len(cycle) else plt.cm.tab20(np.linspace(0, 1, len(labels)))
    return {label: palette[i % len(palette)] for i, label in enumerate(labels)}


def _jitter(n: int, width: float = 0.12) -> np.ndarray:
    # Deterministic spread so that runs with equal values stay visible.
    return np.linspace(-width, width, n) if n > 1 else np.zeros(n)


def _style(ax: Axes, *, title: str, xlabel: str | None = None, ylabel: str | None = None) -> None:
    ax.set_title(title, fontsize=FONT_SIZE + 1)
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=FONT_SIZE)
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=FONT_SIZE)
    ax.tick_params(labelsize=FONT_SIZE)
    ax.grid(alpha=0.3)


def _legend_below(fig: Figure, ax: Axes, *, ncol: int = 3) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=FONT_SIZE, frameon=False)


def scores_by_condition(panels: Sequence[Mapping[str, Any]], *, title: str, ylabel: str,
                        reference: float | None = 0.0, reference_label: str = "shuffle null (z = 0)") -> Figure:
    """Per-run scores (dots) with the median and its bootstrap 95% CI (square and bar), one column
    per condition; one row per panel.

    Each panel: ``title``; ``runs`` = {condition: values}; ``summary`` = {condition: (median,
    low, high)}. A dashed line at ``reference``.
    """
    fig, axes = plt.subplots(len(panels), 1, figsize=(PAGE_WIDTH, 3.9 * len(panels) + 0.6), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        conditions = list(panel["runs"])
        for i, condition in enumerate(conditions):
            values = np.asarray(panel["runs"][condition], dtype=float)
            ax.plot(i + _jitter(values.size), values, "o", ms=4, alpha=0.55, color="tab:blue",
                    label="one run" if i == 0 else None)
            median, low, high = panel["summary"][condition]
            if np.isfinite(low) and np.isfinite(high):
                ax.errorbar([i + 0.3], [median], yerr=[[median - low], [high - median]], fmt="s", ms=5, capsize=3,
                            color="black", label="median, 95% bootstrap CI" if i == 0 else None)
            else:
                ax.plot([i + 0.3], [median], "s", ms=5, color="black")
        if reference is not None:
            ax.axhline(reference, color="grey", ls="--", lw=1, label=reference_label)
        ax.set_xticks(range(len(conditions)), conditions, rotation=30, ha="right")
        _style(ax, title=panel["title"], ylabel=ylabel)
    _legend_below(fig, axes[0, 0])
    fig.suptitle(title, fontsize=FONT_SIZE + 2)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def gap_vs_score(panels: Sequence[Mapping[str, Any]], *, title: str, xlabel: str, ylabel: str,
                 reference: float | None = 0.0) -> Figure:
    """A generalisation measure against a modularity score, one colour per condition, with the
    fitted slope and a dashed vertical line at ``reference``; one row per panel, the legend to
    the right of the data.

    Each panel: ``title``; ``points`` = {condition: (x, y)}; ``fit`` = {``slope``, ``low``,
    ``high``, ``x_mean``, ``y_mean``} drawn as a line through the means with a shaded fan
    between the slopes ``low`` and ``high``; ``fit_label``.
    """
    fig, axes = plt.subplots(len(panels), 1, figsize=(PAGE_WIDTH, 3.6 * len(panels) + 0.4), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
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
        if reference is not None:
            ax.axvline(reference, color="grey", ls="--", lw=1)
        _style(ax, title=panel["title"], xlabel=xlabel, ylabel=ylabel)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=FONT_SIZE, frameon=False)
    fig.suptitle(title, fontsize=FONT_SIZE + 2)
    fig.tight_layout()
    return fig


def intervention(panels: Sequence[Mapping[str, Any]], *, title: str, n_columns: int = 3) -> Figure:
    """Groups of networks side by side on one metric per panel: dots are runs, a bar the median.

    Each panel: ``title``, ``ylabel``, ``groups`` = {group: values}. Panels fill rows of
    ``n_columns``; one legend for the groups below the panels.
    """
    n_rows = math.ceil(len(panels) / n_columns)
    fig, axes = plt.subplots(n_rows, n_columns, figsize=(PAGE_WIDTH, 2.9 * n_rows + 0.6), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    labels = list(dict.fromkeys(g for panel in panels for g in panel["groups"]))
    colours = _colours(labels)
    for ax, panel in zip(axes.ravel(), panels):
        for i, (group, values) in enumerate(panel["groups"].items()):
            values = np.asarray(values, dtype=float)
            ax.plot(i + _jitter(values.size, 0.15), values, "o", ms=4, alpha=0.7, color=colours[group], label=group)
            if values.size:
                ax.plot([i - 0.25, i + 0.25], [np.nanmedian(values)] * 2, color="black", lw=2)
        ax.set_xticks(range(len(panel["groups"])), [])
        _style(ax, title=panel["title"], ylabel=panel["ylabel"])
        ax.title.set_fontsize(FONT_SIZE)
    handles = [plt.Line2D([], [], ls="", marker="o", color=colours[g]) for g in labels]
    handles.append(plt.Line2D([], [], color="black", lw=2))
    fig.legend(handles, labels + ["median"], loc="lower center", ncol=len(labels) + 1, fontsize=FONT_SIZE,
               frameon=False)
    fig.suptitle(title, fontsize=FONT_SIZE + 2)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
