"""The Fig. 2 design that the Fig. 2 and calibration chapters share, and the spike measure the
Fig. 2 and optimisation-gap chapters share.

Design (the paper's Fig. 2 caption: "light lines are averaged over all other parameters; bold
lines average the light lines"): each panel varies one of k, m, p, n; every other quantity takes
each value of a small grid, one light line per setting of the others (seed-averaged), and the
thick line is the mean of the light lines. Diverged runs are left out of lines and means, and counted.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from modcore.runs.sine_networks import NetworkRun, TheoryFit, device_name, sweep_networks
from modcore.store import ResultStore

PANELS = ("n_modules", "input_dim", "n_params", "n_train")  # the x-axis of each panel
# the x of the p and n panels where Theorem 1 diverges: p = n (p panel, at the design's n_train)
# and n = p (n panel, at the design's n_params)
THRESHOLD_PANELS = ("n_params", "n_train")

# Measured on the 2-core machine (benchmarks/ensemble.py and our Fig. 2 runs): a full-batch step of
# one network costs about this many seconds per (training point x parameter), plus a fixed
# overhead per model-step; used only to print a cost estimate before a sweep.
SECONDS_PER_POINT_PARAMETER = 6e-10
SECONDS_PER_MODEL_STEP = 2e-4


@dataclasses.dataclass(frozen=True)
class Fig2Design:
    """The grid of Fig. 2.

    Panel k varies ``n_modules_values``, light lines per (p in ``line_n_params_values``, m in
    ``average_input_dim_values``); panel m varies ``input_dim_values``, light lines per (p in
    ``line_n_params_values``, k in ``average_n_modules_values``); panels p and n vary
    ``n_params_values`` and ``n_train_values``, light lines per (m in ``line_input_dim_values``, k
    in ``average_n_modules_values``). n = ``n_train`` outside the n panel (the paper: 1000),
    p = ``n_params`` in the n panel (the paper: 1153). Each point is trained for ``n_seeds`` seeds.
    """

    n_modules_values: Sequence[int]
    input_dim_values: Sequence[int]
    n_params_values: Sequence[int]
    n_train_values: Sequence[int]
    line_n_params_values: Sequence[int]
    line_input_dim_values: Sequence[int]
    average_n_modules_values: Sequence[int]
    average_input_dim_values: Sequence[int]
    n_train: int
    n_params: int
    n_seeds: int
    seed: int = 0

    def __post_init__(self):
        for name in ("n_modules_values", "input_dim_values", "n_params_values", "n_train_values",
                     "line_n_params_values", "line_input_dim_values", "average_n_modules_values",
                     "average_input_dim_values"):
            values = getattr(self, name)
            if len(values) == 0 or any(not isinstance(v, int) or v < 1 for v in values):
                raise ValueError(f"{name} must be a non-empty list of positive integers, got {name}={values!r}")
        for name in ("n_train", "n_params", "n_seeds"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {name}={getattr(self, name)!r}")

    def settings(self, panel: str) -> list[dict[str, int]]:
        """Every (n_modules, input_dim, n_params, n_train) of one panel."""
        k, n = self.average_n_modules_values, [self.n_train]
        grids = {
            "n_modules": (self.n_modules_values, self.average_input_dim_values, self.line_n_params_values, n),
            "input_dim": (k, self.input_dim_values, self.line_n_params_values, n),
            "n_params": (k, self.line_input_dim_values, self.n_params_values, n),
            "n_train": (k, self.line_input_dim_values, [self.n_params], self.n_train_values),
        }
        if panel not in grids:
            raise ValueError(f"panel must be one of {PANELS}, got {panel=!r}")
        return [dict(zip(PANELS, values)) for values in itertools.product(*grids[panel])]

    def runs(self, *, device: str = "auto", panels: Sequence[str] = PANELS, **protocol) -> dict[str, list[NetworkRun]]:
        """{panel: runs}; ``protocol`` (n_steps, lr, n_test, task fields ...) goes to every run; a
        value of None means the NetworkRun default (the calibrated one)."""
        protocol = {name: value for name, value in protocol.items() if value is not None}
        seeds = [self.seed + i for i in range(self.n_seeds)]
        device = device_name(device)
        return {panel: [NetworkRun(**setting, seed=s, device=device, **protocol)
                        for setting in self.settings(panel) for s in seeds] for panel in panels}

    def threshold(self, panel: str) -> float:
        """Where Theorem 1 diverges in a p or n panel."""
        return {"n_params": self.n_train, "n_train": self.n_params}[panel]

    def estimated_seconds(self, n_steps: int, panels: Sequence[str] = PANELS) -> float:
        """Rough training time on the 2-core machine (distinct runs; see SECONDS_PER_*)."""
        distinct = {run for runs in self.runs(device="cpu", panels=panels).values() for run in runs}
        return sum(n_steps * (run.n_train * run.spec().n_params * SECONDS_PER_POINT_PARAMETER + SECONDS_PER_MODEL_STEP)
                   for run in distinct)


def run_fig2(design: Fig2Design, store: ResultStore, *, device: str = "auto", desc: str = "fig2",
             panels: Sequence[str] = PANELS, **protocol) -> dict[str, pd.DataFrame]:
    """Train (or read back from ``store``) every run of ``design`` in ``panels``: ``{panel: runs}``."""
    return sweep_networks(design.runs(device=device, panels=panels, **protocol), store, desc=desc)


def all_runs(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The distinct runs of all panels (a run shared by two panels once)."""
    return pd.concat(frames.values(), ignore_index=True).drop_duplicates("key")


# --- light lines, thick lines, Theorem 1 -----------------------------------------------------------


def _line_label(frame: pd.DataFrame, panel: str) -> pd.Series:
    others = [name for name in PANELS if name != panel]
    return frame[others].astype(str).agg(lambda row: ", ".join(f"{k}={v}" for k, v in zip(others, row)), axis=1)


def fig2_lines(panel: str, frame: pd.DataFrame, fit: TheoryFit) -> pd.DataFrame:
    """One row per (light line, x): seed-averaged network train/test MSE over healthy runs, the
    number of healthy and diverged runs, and Theorem 1 at the same (m, n, p) (p = the network's
    exact parameter count)."""
    frame = frame.assign(x=frame[panel], line=_line_label(frame, panel), diverged=frame.diverged.astype(bool))
    theory_train, theory_test = fit.losses(frame.input_dim, frame.n_train, frame.n_params_actual)
    frame = frame.assign(theory_train=theory_train, theory_test=theory_test,
                         healthy_train=frame.train_mse.where(~frame.diverged),
                         healthy_test=frame.test_mse.where(~frame.diverged))
    x_column = "n_params_actual" if panel == "n_params" else "x"
    return frame.groupby(["line", "x"], as_index=False).agg(
        x_value=(x_column, "mean"), train_mse=("healthy_train", "mean"), test_mse=("healthy_test", "mean"),
        n_healthy=("diverged", lambda d: int((~d).sum())), n_diverged=("diverged", "sum"),
        theory_train=("theory_train", "mean"), theory_test=("theory_test", "mean"))


def fig2_means(lines: pd.DataFrame) -> pd.DataFrame:
    """Thick lines: the mean over light lines at each x (lines whose runs all diverged are left
    out), with the number of light lines it averages."""
    usable = lines.dropna(subset=["test_mse"])
    return usable.groupby("x", as_index=False).agg(
        x_value=("x_value", "mean"), train_mse=("train_mse", "mean"), test_mse=("test_mse", "mean"),
        theory_train=("theory_train", "mean"), theory_test=("theory_test", "mean"), n_lines=("line", "nunique"))


def theory_curve(fit: TheoryFit, panel: str, frame: pd.DataFrame, n_points: int = 200) -> pd.DataFrame:
    """Theorem 1 averaged over the light lines' settings: on a fine log grid of the panel's x for
    p and n (to show the divergence), at the runs' own (m, n, p) for k and m. Columns x_value,
    theory_train, theory_test."""
    if panel not in THRESHOLD_PANELS:
        return fig2_means(fig2_lines(panel, frame, fit))[["x_value", "theory_train", "theory_test"]]
    grid = np.unique(np.round(np.geomspace(frame[panel].min(), frame[panel].max(), n_points)))
    curves = []
    for _, row in frame.drop_duplicates([name for name in PANELS if name != panel]).iterrows():
        n_train = grid if panel == "n_train" else row.n_train
        n_params = grid if panel == "n_params" else row.n_params_actual
        curves.append(fit.losses(row.input_dim, n_train, n_params))
    train = np.mean([c[0] for c in curves], axis=0)
    test = np.mean([c[1] for c in curves], axis=0)
    return pd.DataFrame({"x_value": grid, "theory_train": train, "theory_test": test})


def figure_panels(frames: Mapping[str, pd.DataFrame], fit: TheoryFit, paper: pd.DataFrame) -> dict[str, dict]:
    """What :func:`modcore.plots.sine.fig2` draws: per panel, the light lines, their mean, Theorem 1
    and the paper's digitised points."""
    panels = {}
    for panel, frame in frames.items():
        lines = fig2_lines(panel, frame, fit)
        panels[panel] = {"lines": lines, "means": fig2_means(lines), "theory": theory_curve(fit, panel, frame),
                         "paper": paper[paper.panel == panel]}
    return panels


def run_table(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per panel: runs, healthy runs, diverged runs (the chapter's table of what was trained)."""
    rows = {panel: {"runs": len(frame), "healthy": int((~frame.diverged.astype(bool)).sum()),
                    "diverged": int(frame.diverged.astype(bool).sum())} for panel, frame in frames.items()}
    return pd.DataFrame(rows).T


# --- agreement with the paper's numbers --------------------------------------------------------------


def heldout_errors(means: Mapping[str, pd.DataFrame], paper: pd.DataFrame,
                   quantity: str = "test_network") -> dict[str, float]:
    """Per panel: the rms of log(ours / paper) over the paper's digitised points (``quantity``)
    whose x lies within our x range, our thick line interpolated linearly in log x (and in x for
    k and m). NaN where no point is in range. A factor e^error is the typical miss."""
    errors = {}
    for panel, mean in means.items():
        mean = mean.dropna(subset=["test_mse"]).sort_values("x_value")
        points = paper[(paper.panel == panel) & (paper.quantity == quantity)]
        column = "test_mse" if quantity.startswith("test") else "train_mse"
        points = points[(points.x >= mean.x_value.min()) & (points.x <= mean.x_value.max()) & (points.value > 0)]
        if points.empty or mean.empty:
            errors[panel] = math.nan
            continue
        transform = np.log if panel in THRESHOLD_PANELS else (lambda v: np.asarray(v, float))
        ours = np.interp(transform(points.x.to_numpy(float)), transform(mean.x_value.to_numpy(float)),
                         mean[column].to_numpy(float))
        errors[panel] = float(np.sqrt(np.mean(np.log(ours / points.value.to_numpy(float)) ** 2)))
    return errors


# --- a spike at the interpolation threshold -----------------------------------------------------

# Double descent shows as a spike of the test loss near the threshold. Our rule (the Fig. 2 chapter's
# verdicts and the optimisation-gap chapter's reading both use it):
SPIKE_MIN_RATIO = 1.10  # a spike: the peak is >= 10% above the lowest loss on each side
SPIKE_WINDOW = 3.0  # the peak is looked for in [threshold / 3, 3 x threshold]
SIDE_WINDOW = 10.0  # the lowest loss on each side is looked for within a factor 10 of the threshold


def spike(x, loss, threshold: float) -> tuple[float, float]:
    """(rise, fall): the highest loss within [threshold / SPIKE_WINDOW, threshold * SPIKE_WINDOW]
    over the lowest loss at smaller x, and over the lowest at larger x, both sides looked at
    within a factor SIDE_WINDOW of the threshold. NaN where a side has no point."""
    x, loss = np.asarray(x, float), np.asarray(loss, float)
    inside = (x >= threshold / SPIKE_WINDOW) & (x <= threshold * SPIKE_WINDOW)
    if not inside.any():
        return math.nan, math.nan
    peak = np.flatnonzero(inside)[np.argmax(loss[inside])]
    near = (x >= threshold / SIDE_WINDOW) & (x <= threshold * SIDE_WINDOW)
    before, after = loss[near & (x < x[peak])], loss[near & (x > x[peak])]
    rise = loss[peak] / before.min() if before.size else math.nan
    fall = loss[peak] / after.min() if after.size else math.nan
    return float(rise), float(fall)

