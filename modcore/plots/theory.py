"""Figures of the theory chapters: arrays in, Figure out; nothing is computed here.

A *panel* is a mapping of arrays and labels, one per axes, so that a figure with several
sweeps is one call. The same label gets the same colour in every group of a panel (closed
form and Monte Carlo, fit and digitised data), so a curve and its check pair up by colour.
Every legend entry is an artist that is drawn. Figures are at most FIGURE_WIDTH inches wide
with fonts of at least FONT_SIZE points, so they stay legible at the book's page width.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

# The book's text column is ~700 px; a 7.5-inch figure scaled to it keeps 9-pt text readable.
FIGURE_WIDTH = 7.5
PANEL_HEIGHT = 3.4
FONT_SIZE = 9
# Loss axes are cut at this multiple of the target's total variance (d * c): the closed forms
# diverge at the interpolation threshold.
Y_MAX_OVER_TOTAL_VARIANCE = 2.5


def _colours(labels: Sequence[str]) -> dict[str, Any]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    palette = cycle if len(labels) <= len(cycle) else plt.cm.viridis(np.linspace(0, 0.9, len(labels)))
    return {label: palette[i] for i, label in enumerate(labels)}


def _unique(*groups: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(label for group in groups for label in group))


def _subplots(n_panels: int, n_legend_rows: int = 3):
    height = PANEL_HEIGHT + 0.25 * n_legend_rows
    fig, axes = plt.subplots(1, n_panels, figsize=(FIGURE_WIDTH, height), squeeze=False)
    return fig, axes[0]


def _finish_axes(ax, panel: Mapping[str, Any]) -> None:
    ax.set_xlabel(panel["xlabel"], fontsize=FONT_SIZE)
    ax.set_ylabel(panel["ylabel"], fontsize=FONT_SIZE)
    ax.set_title(panel.get("title", ""), fontsize=FONT_SIZE + 1)
    ax.tick_params(labelsize=FONT_SIZE)
    ax.grid(alpha=0.3, which="both")


def _finish_figure(fig: Figure, axes, title: str, *, shared_legend: bool) -> Figure:
    """Legends under the panels: one for the figure when the panels share their labels, else
    one under each panel. Only drawn, labelled artists appear."""
    fig.suptitle(title, fontsize=FONT_SIZE + 1)
    if shared_legend:
        entries = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                entries.setdefault(label, handle)
        n_columns = 2 if max(map(len, entries), default=0) > 30 else 3
        fig.legend(entries.values(), entries.keys(), loc="lower center", ncol=n_columns, fontsize=FONT_SIZE,
                   frameon=False)
        n_rows = -(-len(entries) // n_columns)
        fig.tight_layout(rect=(0, 0.02 + 0.055 * n_rows, 1, 1))
    else:
        for ax in axes:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=FONT_SIZE, frameon=False)
        fig.tight_layout()
    return fig


def closed_form_vs_monte_carlo(panels: Sequence[Mapping[str, Any]], *, title: str) -> Figure:
    """Closed-form curves (lines), optionally with Monte-Carlo means ± 1 s.e. (points).

    Each panel: ``x`` and ``closed`` = {label: y} for the lines, named ``closed_name`` in the
    legend (default "closed form"); optional ``mc_x`` and ``mc`` = {label: (mean, se)} for
    the points; ``xlabel``, ``ylabel``; optional ``title``, ``threshold`` (x of the
    interpolation threshold, drawn dashed), ``target`` (a loss target, drawn dotted),
    ``y_max`` (the closed form diverges at the threshold), ``log_x``, ``log_y``.
    """
    fig, axes = _subplots(len(panels))
    for ax, panel in zip(axes, panels):
        colours = _colours(_unique(panel["closed"], panel.get("mc", {})))
        closed_name = panel.get("closed_name", "closed form")
        for label, y in panel["closed"].items():
            ax.plot(panel["x"], y, color=colours[label], lw=1.6, label=f"{label}: {closed_name}")
        for label, (mean, se) in panel.get("mc", {}).items():
            ax.errorbar(panel["mc_x"], mean, yerr=se, fmt="o", ms=4, capsize=2, color=colours[label],
                        label=f"{label}: Monte Carlo (±1 s.e.)")
        if panel.get("threshold") is not None:
            ax.axvline(panel["threshold"], color="grey", ls="--", lw=1, label="interpolation threshold")
        if panel.get("target") is not None:
            ax.axhline(panel["target"], color="black", ls=":", lw=1.2, label="loss target")
        if panel.get("log_y"):
            ax.set_yscale("log")
        if panel.get("y_max") is not None:
            ax.set_ylim(None if panel.get("log_y") else 0, panel["y_max"])
        if panel.get("log_x"):
            ax.set_xscale("log")
        _finish_axes(ax, panel)
    return _finish_figure(fig, axes, title, shared_legend=True)


def samples_needed_vs_dimension(panels: Sequence[Mapping[str, Any]], *, title: str) -> Figure:
    """Samples needed vs input dimension m, log y-axis.

    Each panel: ``m``; ``curves`` = {label: n} drawn as lines; optional ``reference`` =
    {label: n} drawn as open markers (e.g. digitised paper values; a label shared with
    ``curves`` shares its colour); optional ``estimates`` = {label: (n, low, high)} drawn as
    filled markers with interval bars at ``estimates_m`` (e.g. Monte-Carlo estimates; a label
    shared with ``curves`` shares its colour); ``curves_name``, ``reference_name`` and
    ``estimates_name`` name the groups in the legend; optional ``title``, ``ylabel`` and
    ``log_y`` (default True).
    With at most 4 labels each drawn artist has its own legend entry; with more, the legend
    names one drawn artist per group ("<group>, one per curve"). Non-finite n (an unreachable
    target) is not drawn.
    """
    def legend_rows(panel):
        groups = [panel["curves"], panel.get("reference", {}), panel.get("estimates", {})]
        labels = _unique(*groups)
        return sum(len(g) for g in groups) if len(labels) <= 4 else sum(bool(g) for g in groups)

    fig, axes = _subplots(len(panels), max(map(legend_rows, panels)))
    for ax, panel in zip(axes, panels):
        curves, reference = panel["curves"], panel.get("reference", {})
        estimates = panel.get("estimates", {})
        colours = _colours(_unique(curves, reference, estimates))
        few = len(colours) <= 4
        groups = [(curves, panel.get("curves_name", "closed form")),
                  (reference, panel.get("reference_name", "reference")),
                  (estimates, panel.get("estimates_name", "Monte Carlo"))]

        def legend_label(group_index, position, label):
            name = groups[group_index][1]
            if few:
                return f"{label}: {name}"
            return f"{name}, one per curve" if position == 0 else None

        for i, (label, n) in enumerate(curves.items()):
            ax.plot(panel["m"], n, "-", color=colours[label], lw=1.6, label=legend_label(0, i, label))
        for i, (label, n) in enumerate(reference.items()):
            ax.plot(panel["m"], n, "o", ms=4, mfc="none", color=colours[label], label=legend_label(1, i, label))
        for i, (label, (n, low, high)) in enumerate(estimates.items()):
            n, low, high = (np.asarray(v, dtype=float) for v in (n, low, high))
            drawn = np.isfinite(n) & np.isfinite(low) & np.isfinite(high)
            m = np.asarray(panel["estimates_m"], dtype=float)
            ax.errorbar(m[drawn], n[drawn], yerr=[n[drawn] - low[drawn], high[drawn] - n[drawn]], fmt="s", ms=5,
                        capsize=3, color=colours[label], label=legend_label(2, i, label))
        if panel.get("log_y", True):
            ax.set_yscale("log")
        _finish_axes(ax, dict(panel, xlabel=panel.get("xlabel", "input dimension m"),
                              ylabel=panel.get("ylabel", "samples needed n*")))
    return _finish_figure(fig, axes, title, shared_legend=False)
