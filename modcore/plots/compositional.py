"""Figures of the compositional image chapters: arrays and tables in, Figure out; nothing is
computed here. Drawn for the book's page width (at most 7.5 inches wide, fonts of at least
9 pt, legends outside the axes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

PAGE_WIDTH = 7.5
FONT_SIZE = 9
COLOURS = {"monolithic": "tab:gray", "modular": "tab:blue", "kernel_rule": "tab:red"}


def _style(ax, *, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel, fontsize=FONT_SIZE)
    ax.set_ylabel(ylabel, fontsize=FONT_SIZE)
    ax.set_title(title, fontsize=FONT_SIZE + 1)
    ax.tick_params(labelsize=FONT_SIZE)
    ax.grid(alpha=0.3)


def _legend_below(fig: Figure, axes, ncol: int = 3, bottom: float = 0.16) -> None:
    entries = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(entries.values(), entries.keys(), loc="lower center", ncol=ncol, fontsize=FONT_SIZE, frameon=False)
    fig.tight_layout(rect=(0, bottom, 1, 1))


def accuracy_vs_slots(ours: pd.DataFrame, paper: pd.DataFrame, labels: Mapping[str, str], *,
                      ours_title: str, paper_title: str) -> Figure:
    """Left: our accuracy vs k per method, mean with a ±1 s.e. band over seeds (``ours``: n_slots,
    method, mean, se). Right: the paper's Fig. 4b (``paper``: n_slots, method, mean). Separate
    axes: the two datasets' accuracies are not comparable, their orderings and gaps are."""
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.4))
    for ax, table, title in ((axes[0], ours, ours_title), (axes[1], paper, paper_title)):
        for method, label in labels.items():
            line = table[table.method == method].sort_values("n_slots")
            if line.empty:
                continue
            ax.plot(line.n_slots, 100 * line["mean"], marker="o", ms=3, color=COLOURS[method], label=label)
            if "se" in line and np.isfinite(line.se).any():
                ax.fill_between(line.n_slots, 100 * (line["mean"] - line.se), 100 * (line["mean"] + line.se),
                                color=COLOURS[method], alpha=0.2, lw=0)
        _style(ax, xlabel="images per composite k", ylabel="accuracy (% of slots)", title=title)
    _legend_below(fig, axes, bottom=0.12)
    return fig


def differences_vs_slots(panels: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]]) -> Figure:
    """One panel per comparison ({title: (ours, paper)}): the paired difference vs k in accuracy
    points, ours (n_slots, difference, se: mean with a ±2 s.e. band over seeds) and the paper's
    (n_slots, difference)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(PAGE_WIDTH, 3.3), sharey=True, squeeze=False)
    for ax, (title, (ours, paper)) in zip(axes[0], panels.items()):
        ax.axhline(0, color="black", lw=0.8)
        ax.plot(ours.n_slots, 100 * ours.difference, marker="o", color="tab:red", label="ours")
        band = 2 * ours.se.fillna(0)
        ax.fill_between(ours.n_slots, 100 * (ours.difference - band), 100 * (ours.difference + band), color="tab:red",
                        alpha=0.2, lw=0, label="ours ± 2 s.e.")
        ax.plot(paper.n_slots, 100 * paper.difference, marker="s", ls="--", color="black", label="paper (CIFAR-10)")
        _style(ax, xlabel="images per composite k", ylabel="difference (accuracy points)", title=title)
    _legend_below(fig, axes, ncol=3, bottom=0.14)
    return fig


def robustness_bars(ours: pd.DataFrame, paper: pd.DataFrame, labels: Mapping[str, str], *, ours_title: str,
                    paper_title: str) -> Figure:
    """Grouped bars: accuracy per test condition (columns of ``ours``/``paper``: condition
    names; index: method), ours with ±1 s.e. bars (``ours`` holds (mean, se) pairs)."""
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / len(labels)
    for ax, table, title in ((axes[0], ours, ours_title), (axes[1], paper, paper_title)):
        conditions = list(table.columns)
        for i, (method, label) in enumerate(labels.items()):
            cells = [table.loc[method, c] for c in conditions]
            means = [c[0] if isinstance(c, tuple) else c for c in cells]
            errors = [c[1] if isinstance(c, tuple) else 0.0 for c in cells]
            errors = 100 * np.nan_to_num(errors)
            ax.bar(np.arange(len(conditions)) + (i - (len(labels) - 1) / 2) * width, 100 * np.asarray(means), width,
                   yerr=errors if errors.any() else None, capsize=2, color=COLOURS[method], label=label)
        ax.set_xticks(np.arange(len(conditions)), [c.replace(" ", "\n") for c in conditions], fontsize=FONT_SIZE)
        _style(ax, xlabel="", ylabel="accuracy (% of slots)", title=title)
        ax.grid(axis="x", visible=False)
    _legend_below(fig, axes, bottom=0.14)
    return fig


def projection_maps(columns: Mapping[str, np.ndarray], n_slots: int, *, title: str) -> Figure:
    """Fig. 12: each module's squared projection weight per pixel, one row per module, one column
    per entry of ``columns`` ({title: (K, H, W * k) maps}). Each map is divided by its mean, so
    1 is an even spread over the composite; one colour scale for all; white lines separate the
    k image slots."""
    titles = list(columns)
    n_modules, height, total_width = next(iter(columns.values())).shape
    row_height = max(0.45, min(1.0, 2.6 * height / total_width))
    fig, axes = plt.subplots(n_modules, len(titles), figsize=(PAGE_WIDTH, 1.2 + row_height * n_modules),
                             squeeze=False)
    relative = {t: maps / maps.mean(axis=(1, 2), keepdims=True) for t, maps in columns.items()}
    top = float(np.percentile(np.concatenate([r.ravel() for r in relative.values()]), 99.5))
    image = None
    for j, t in enumerate(titles):
        for i in range(n_modules):
            ax = axes[i, j]
            image = ax.imshow(relative[t][i], cmap="magma", vmin=0, vmax=top, aspect="auto", interpolation="nearest")
            for slot in range(1, n_slots):
                ax.axvline(slot * total_width / n_slots - 0.5, color="white", lw=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f"module {i + 1}", fontsize=FONT_SIZE, rotation=0, ha="right", va="center")
        axes[0, j].set_title(t, fontsize=FONT_SIZE)
    fig.suptitle(title, fontsize=FONT_SIZE + 1)
    fig.tight_layout(rect=(0.02, 0.07, 1, 1))
    bar_axes = fig.add_axes((0.25, 0.03, 0.5, 0.015))
    bar = fig.colorbar(image, cax=bar_axes, orientation="horizontal")
    bar.set_label("squared projection weight / its mean over the composite", fontsize=FONT_SIZE)
    bar.ax.tick_params(labelsize=FONT_SIZE)
    return fig


def slot_share_histogram(shares: Mapping[str, Sequence[float]], *, even_share: float, focus_share: float) -> Figure:
    """Histogram of each module's largest slot share, one colour per method ({label: shares})."""
    fig, ax = plt.subplots(figsize=(5.0, 3.3))
    bins = np.linspace(0, 1, 21)
    for (label, values), colour in zip(shares.items(), ("tab:red", "tab:orange", "tab:blue", "tab:green")):
        ax.hist(values, bins=bins, alpha=0.55, color=colour, label=label)
    ax.axvline(even_share, color="black", ls=":", lw=1, label="even spread (1/k)")
    ax.axvline(focus_share, color="black", ls="--", lw=1, label="'attends to one image'")
    _style(ax, xlabel="largest share of a module's weight on one slot", ylabel="modules", title="Slot focus")
    _legend_below(fig, [ax], ncol=2, bottom=0.2)
    return fig
