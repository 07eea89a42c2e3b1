"""Figures of the theory chapters: arrays in, Figure out; nothing is computed here.

A *panel* is a mapping of arrays and labels, one per axes, so that a figure with several
sweeps is one call. The same label gets the same colour in every group of a panel (closed
form and Monte Carlo, fit and digitised data), so a curve and its check pair up by colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D


def _colours(labels: Sequence[str]) -> dict[str, Any]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    palette = cycle if len(labels) <= len(cycle) else plt.cm.viridis(np.linspace(0, 0.9, len(labels)))
    return {label: palette[i] for i, label in enumerate(labels)}


def _unique(*groups: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(label for group in groups for label in group))


def _subplots(n_panels: int, width: float = 5.2, height: float = 4.0):
    fig, axes = plt.subplots(1, n_panels, figsize=(width * n_panels, height), squeeze=False)
    return fig, axes[0]


def closed_form_vs_monte_carlo(panels: Sequence[Mapping[str, Any]], *, title: str) -> Figure:
    """Closed-form curves (lines) with Monte-Carlo means ± 1 s.e. (points with error bars).

    Each panel: ``x`` and ``closed`` = {label: y} for the lines; ``mc_x`` and
    ``mc`` = {label: (mean, se)} for the points; ``xlabel``, ``ylabel``; optional ``title``,
    ``threshold`` (x of the interpolation threshold, drawn dashed), ``y_max`` (the closed form
    diverges at the threshold), ``log_x``.
    """
    fig, axes = _subplots(len(panels))
    for ax, panel in zip(axes, panels):
        colours = _colours(_unique(panel["closed"], panel.get("mc", {})))
        for label, y in panel["closed"].items():
            ax.plot(panel["x"], y, color=colours[label], lw=1.6, label=f"{label}: closed form")
        for label, (mean, se) in panel.get("mc", {}).items():
            ax.errorbar(panel["mc_x"], mean, yerr=se, fmt="o", ms=4, capsize=2, color=colours[label],
                        label=f"{label}: Monte Carlo (±1 s.e.)")
        if panel.get("threshold") is not None:
            ax.axvline(panel["threshold"], color="grey", ls="--", lw=1, label="interpolation threshold")
        if panel.get("y_max") is not None:
            ax.set_ylim(0, panel["y_max"])
        if panel.get("log_x"):
            ax.set_xscale("log")
        ax.set_xlabel(panel["xlabel"])
        ax.set_ylabel(panel["ylabel"])
        ax.set_title(panel.get("title", ""))
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def samples_needed_vs_dimension(panels: Sequence[Mapping[str, Any]], *, title: str) -> Figure:
    """Samples needed vs input dimension m, log y-axis.

    Each panel: ``m``; ``curves`` = {label: n} drawn as lines; optional ``reference`` =
    {label: n} drawn as markers (e.g. digitised paper values; a label shared with ``curves``
    shares its colour); ``curves_name`` and ``reference_name`` name the two groups in the
    legend; optional ``title`` and ``ylabel``. With more than 6 labels the legend lists only
    the two groups.
    """
    fig, axes = _subplots(len(panels))
    for ax, panel in zip(axes, panels):
        curves, reference = panel["curves"], panel.get("reference", {})
        colours = _colours(_unique(curves, reference))
        few = len(colours) <= 6
        for label, n in curves.items():
            ax.plot(panel["m"], n, "-", color=colours[label], lw=1.6, label=label if few else None)
        for label, n in reference.items():
            ax.plot(panel["m"], n, "o", ms=4, mfc="none", color=colours[label],
                    label=None if few or label in curves else label)
        handles, labels = ax.get_legend_handles_labels()
        styles = [(Line2D([], [], color="k", ls="-"), panel.get("curves_name", "closed form"))]
        if reference:
            styles.append((Line2D([], [], color="k", ls="none", marker="o", mfc="none"),
                           panel.get("reference_name", "reference")))
        ax.legend(handles + [h for h, _ in styles], labels + [name for _, name in styles], fontsize=8)
        ax.set_yscale("log")
        ax.set_xlabel("input dimension m")
        ax.set_ylabel(panel.get("ylabel", "samples needed n*"))
        ax.set_title(panel.get("title", ""))
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
