"""The calibration chapter (``notebooks/calibration.py``): the sine task's open constants fitted
to one panel of the paper's Fig. 2, validated on the others.

The paper's illustration fixes the shape of the module functions, not the loss scale; its own
numbers pin the scale (test MSE thresholds 1.2 and 1.5 in Figs. 3 and 4a; Fig. 2 networks at test
losses 1-4.5). We treat the unknowns as an inverse problem:

- fitted, on a stated grid: the amplitude scale s of the target, the law of the module
  directions (unit or Gaussian), the label noise and the training budget (Adam steps);
- fixed and stated: depth 2, Adam at lr 3e-3 (full batch), k = 3, the network width that gives
  p = 1153 parameters (the paper's n panel), noisy test labels drawn like the training labels;
- fitted to: the network curves of the n panel of Fig. 2 (test at n = 100 .. 5000 and the train
  points at n = 100 .. 500), by the rms of log((ours + LOSS_OFFSET) / (paper + LOSS_OFFSET));
- predicted and checked: the k, m and p panels (one held-out error each) and the thresholds 1.2
  and 1.5 against the predict-zero loss Var(y) + noise variance.

The search is a sweep in the results store (resumable). Its outcome is written to
``modcore/data/sine_calibration.json``, which the task defaults read; Omega of Theorem 1 (with c
computed from the calibrated task) is fitted on the chosen candidate's runs and stored there
too, as the one theory fit every sine chapter uses.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from modcore import sweeps
from modcore.experiments import fig2
from modcore.experiments.sine_networks import NetworkRun, TheoryFit, device_name, fit_theory, healthy, sweep_networks
from modcore.tasks.sine import CALIBRATION_FILE, calibration, expected_target_variance

FITTED_PANEL = "n_train"
# train losses of 0 are part of the paper's n panel; log needs an offset. 0.05 is our choice: below
# every nonzero point of the panel (the smallest is 0.8) and above our float32 train losses.
LOSS_OFFSET = 0.05
THRESHOLDS = (1.2, 1.5)  # the paper's test-loss targets (Fig. 3 and Fig. 4a)
# "well below": a threshold counts as well below the predict-zero loss when it is at most this
# fraction of it (our rule: predicting zero then misses it by at least a third)
WELL_BELOW_FRACTION = 0.75
TASK_FIELDS = ("amplitude_scale", "direction_norm", "label_noise")
FITTED_FIELDS = TASK_FIELDS + ("n_steps",)


@dataclasses.dataclass(frozen=True)
class SearchDesign:
    """The grid of candidates and the runs that score each one (on the fitted panel).

    Candidates: every combination of the four ``*_values``. Each candidate trains networks of
    about ``n_params`` parameters (depth ``depth``) at k = ``n_modules``, each m in
    ``input_dim_values`` and n in ``n_train_values`` (the paper's n-panel points), ``n_seeds``
    seeds. ``theory_*``: extra underparameterised runs of the chosen candidate on which Omega is
    fitted (small p at larger n, so that Theorem 1 is finite and a network reaches its optimum).
    """

    amplitude_scale_values: Sequence[float] = (1.0, 1.5, 2.0, 2.5)
    direction_norm_values: Sequence[str] = ("unit", "gaussian")
    label_noise_values: Sequence[float] = (0.0, 0.9)
    n_steps_values: Sequence[int] = (300, 1500)
    input_dim_values: Sequence[int] = (5, 9)
    n_train_values: Sequence[int] = (100, 200, 500, 1000, 2000, 5000)
    n_modules: int = 3
    n_params: int = 1153
    depth: int = 2
    n_seeds: int = 1
    seed: int = 0
    n_test: int = 2000
    theory_input_dim_values: Sequence[int] = (2, 5, 9)
    theory_n_params_values: Sequence[int] = (100, 300)
    theory_n_train_values: Sequence[int] = (1000, 3000)

    def candidates(self) -> list[dict]:
        grid = itertools.product(self.amplitude_scale_values, self.direction_norm_values, self.label_noise_values,
                                 self.n_steps_values)
        return [dict(zip(FITTED_FIELDS, values)) for values in grid]

    def runs(self, candidate: dict, *, device: str = "cpu") -> list[NetworkRun]:
        return [NetworkRun(input_dim=m, n_modules=self.n_modules, n_params=self.n_params, n_train=n, seed=self.seed + s,
                           depth=self.depth, n_test=self.n_test, device=device, **candidate)
                for m in self.input_dim_values for n in self.n_train_values for s in range(self.n_seeds)]

    def theory_runs(self, candidate: dict, *, device: str = "cpu") -> list[NetworkRun]:
        return [NetworkRun(input_dim=m, n_modules=self.n_modules, n_params=p, n_train=n, seed=self.seed + s,
                           depth=self.depth, n_test=self.n_test, device=device, **candidate)
                for m in self.theory_input_dim_values for p in self.theory_n_params_values
                for n in self.theory_n_train_values for s in range(self.n_seeds)]


def panel_curve(runs: pd.DataFrame, panel: str = FITTED_PANEL) -> pd.DataFrame:
    """Mean train and test MSE of healthy runs at each x of the panel (all m and seeds pooled),
    with the number of diverged runs."""
    runs = runs.assign(diverged=runs.diverged.astype(bool))
    good = healthy(runs)
    curve = good.groupby(panel, as_index=False)[["train_mse", "test_mse"]].mean().rename(columns={panel: "x"})
    counts = runs.groupby(panel).diverged.sum().rename("n_diverged").reset_index().rename(columns={panel: "x"})
    return counts.merge(curve, on="x", how="left")


def paper_points(paper: pd.DataFrame, panel: str = FITTED_PANEL, n_max: float = np.inf) -> pd.DataFrame:
    """The paper's network points of a panel (train and test), x <= n_max: columns x, quantity, value."""
    rows = paper[(paper.panel == panel) & paper.quantity.isin(["train_network", "test_network"]) & (paper.x <= n_max)]
    return rows[["x", "quantity", "value"]].reset_index(drop=True)


def curve_error(curve: pd.DataFrame, points: pd.DataFrame) -> float:
    """rms of log((ours + LOSS_OFFSET) / (paper + LOSS_OFFSET)) over the paper's points at x values
    we ran; inf if any of them has no healthy run."""
    merged = points.merge(curve, on="x", how="inner")
    if len(merged) < len(points[points.x.isin(curve.x)]) or merged.empty:
        return np.inf
    ours = np.where(merged.quantity == "train_network", merged.train_mse, merged.test_mse).astype(float)
    if not np.all(np.isfinite(ours)):
        return np.inf
    return float(np.sqrt(np.mean(np.log((ours + LOSS_OFFSET) / (merged.value.to_numpy(float) + LOSS_OFFSET)) ** 2)))


@dataclasses.dataclass
class SearchResult:
    scores: pd.DataFrame  # one row per candidate: the fitted fields, error, diverged runs
    best: dict  # the fitted fields of the lowest error
    best_curve: pd.DataFrame  # the fitted panel of the best candidate: x, train_mse, test_mse, n_diverged
    theory: dict  # TheoryFit fields, fitted on the best candidate's runs
    seconds: float  # wall-clock time of the search (training or reading back)
    n_runs: int


def run_search(design: SearchDesign, store: sweeps.ResultStore, paper: pd.DataFrame, *,
               device: str = "cpu") -> SearchResult:
    """Score every candidate on the fitted panel (training what the store lacks), pick the lowest
    error, fit Omega on the chosen candidate's runs."""
    start = time.perf_counter()
    device = device_name(device)
    points = paper_points(paper, n_max=max(design.n_train_values))
    groups = {json.dumps(candidate): design.runs(candidate, device=device) for candidate in design.candidates()}
    frames = sweep_networks(groups, store, desc="calibration")
    rows = []
    for label, frame in frames.items():
        curve = panel_curve(frame)
        rows.append({**json.loads(label), "error": curve_error(curve, points), "diverged": int(curve.n_diverged.sum())})
    scores = pd.DataFrame(rows).sort_values("error", kind="stable").reset_index(drop=True)
    best = {field: _plain(scores.loc[0, field]) for field in FITTED_FIELDS}
    best_runs = frames[json.dumps(best)]
    extra = sweep_networks({"theory": design.theory_runs(best, device=device)}, store,
                           desc="calibration theory")["theory"]
    fit = fit_theory(pd.concat([best_runs, extra], ignore_index=True))
    n_runs = sum(map(len, frames.values())) + len(extra)
    return SearchResult(scores=scores, best=best, best_curve=panel_curve(best_runs),
                        theory=dataclasses.asdict(fit), seconds=time.perf_counter() - start, n_runs=n_runs)


def _plain(value):
    """numpy scalars -> Python scalars, for JSON."""
    return value.item() if hasattr(value, "item") else value


def calibration_record(result: SearchResult, design: SearchDesign) -> dict:
    """The data file's contents: what was fitted, what was fixed, the theory fit and the search."""
    return {
        "about": ("Sine-task constants fitted to the n panel of Fig. 2 of Boopathy et al. (ICLR 2025) by "
                  "modcore.experiments.calibration.run_search; written by notebooks/calibration.py"),
        "fitted": {**result.best, "depth": design.depth},
        "theory": result.theory,
        "search": {
            "design": {key: list(value) if isinstance(value, tuple) else value
                       for key, value in dataclasses.asdict(design).items()},
            "fitted_panel": FITTED_PANEL, "loss_offset": LOSS_OFFSET,
            "seconds": round(result.seconds, 1), "n_runs": result.n_runs,
            "scores": result.scores.to_dict("records"),
            "best_curve": result.best_curve.to_dict("records"),
        },
    }


def write_calibration(record: dict, path: Path = CALIBRATION_FILE) -> None:
    path.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")


def stored_search() -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """(scores, best curve, fitted values, search facts) read from the calibration file."""
    stored = calibration()
    if "search" not in stored:
        raise ValueError(f"{CALIBRATION_FILE} holds no search; run the calibration chapter with rerun_search=True")
    search = stored["search"]
    facts = {"seconds": search["seconds"], "n_runs": search["n_runs"], "n_candidates": len(search["scores"]),
             "grid_edges": grid_edges(stored["fitted"], search["design"])}
    return pd.DataFrame(search["scores"]), pd.DataFrame(search["best_curve"]), stored["fitted"], facts


def same_outcome(result: SearchResult, record: dict) -> bool:
    """True if a rerun of the search chose the stored values (what the task defaults read)."""
    return all(result.best[field] == record["fitted"][field] for field in FITTED_FIELDS)


def rerun_and_compare(store: sweeps.ResultStore, paper: pd.DataFrame, *, device: str = "auto",
                      write: bool = False) -> str:
    """Rerun the stored search design (resumable in ``store``) and say whether it chose the stored
    values; with ``write``, replace the calibration file with the rerun's outcome."""
    stored = calibration()
    design = SearchDesign(**{key: tuple(value) if isinstance(value, list) else value
                             for key, value in stored["search"]["design"].items()})
    result = run_search(design, store, paper, device=device)
    if write:
        write_calibration(calibration_record(result, design))
    if same_outcome(result, stored):
        return f"chose the stored values ({result.seconds / 60:.1f} min)"
    return f"chose different values: {result.best} ({result.seconds / 60:.1f} min)"


def threshold_check(fitted: dict, input_dim_values: Sequence[int] = tuple(range(2, 10))) -> pd.DataFrame:
    """Per m: the predict-zero loss Var(y) + label_noise^2 of the calibrated task, and each paper
    threshold as a fraction of it ("well below" if <= WELL_BELOW_FRACTION)."""
    rows = []
    for m in input_dim_values:
        zero_loss = expected_target_variance(m, amplitude_scale=fitted["amplitude_scale"],
                                             direction_norm=fitted["direction_norm"]) + fitted["label_noise"] ** 2
        rows.append({"input_dim": m, "predict_zero_loss": zero_loss,
                     **{f"fraction_{t}": t / zero_loss for t in THRESHOLDS}})
    return pd.DataFrame(rows)


def threshold_words(check: pd.DataFrame) -> dict[str, float | str]:
    """The predict-zero loss's range over m, the largest threshold fraction, the verdict word, and
    the m from which both thresholds are well below it ("none" if at no m)."""
    fractions = check[[f"fraction_{t}" for t in THRESHOLDS]].to_numpy().max(axis=1)
    worst = fractions.max()
    well_below = fractions <= WELL_BELOW_FRACTION
    from_m = next((int(m) for i, m in enumerate(check.input_dim) if well_below[i:].all()), None)
    return {"well_below_from_m": "none" if from_m is None else f"m = {from_m}",
            "zero_loss_min": float(check.predict_zero_loss.min()),
            "zero_loss_max": float(check.predict_zero_loss.max()),
            "threshold_worst_fraction": float(worst),
            "threshold_verdict": "well below" if worst <= WELL_BELOW_FRACTION else "not well below"}


HELDOUT_PANELS = ("n_modules", "input_dim", "n_params")


def heldout_errors(frames: dict[str, pd.DataFrame], fit: TheoryFit, paper: pd.DataFrame) -> dict[str, float]:
    """Per held-out panel: rms of log(ours / paper) test loss of the thick line (see
    :func:`modcore.experiments.fig2.heldout_errors`), from runs of the calibrated task."""
    means = {panel: fig2.fig2_means(fig2.fig2_lines(panel, frame, fit)) for panel, frame in frames.items()}
    return fig2.heldout_errors(means, paper)


def summary_words(scores: pd.DataFrame, fitted: dict, facts: dict, theory: dict) -> dict[str, float | str]:
    """Glue-ready words of the calibration: the fitted values, the search's size and time, the fit
    errors of the best and the runner-up candidate, and Omega with its interval."""
    finite = scores[np.isfinite(scores.error)]
    return {"amplitude_scale": float(fitted["amplitude_scale"]), "direction_norm": fitted["direction_norm"],
            "label_noise": float(fitted["label_noise"]), "noise_variance": float(fitted["label_noise"]) ** 2,
            "n_steps": int(fitted["n_steps"]), "depth": int(fitted["depth"]),
            "n_candidates": int(facts["n_candidates"]), "n_runs": int(facts["n_runs"]),
            "search_minutes": facts["seconds"] / 60, "fit_error": float(finite.error.iloc[0]),
            "runner_up_error": float(finite.error.iloc[1]) if len(finite) > 1 else float("nan"),
            "fit_factor": float(np.exp(finite.error.iloc[0])),
            "omega": theory["omega"], "omega_low": theory["omega_low"], "omega_high": theory["omega_high"],
            "omega_n_fitted": theory["n_fitted"], "omega_fit_error": theory["rms_log_error"],
            "grid_edges": facts["grid_edges"]}


def grid_edges(fitted: dict, design: dict) -> str:
    """Which numeric fitted values sit on an edge of their search grid (there the true optimum may lie
    outside the grid), in words."""
    notes = []
    for field in ("amplitude_scale", "label_noise", "n_steps"):
        values = sorted(design[f"{field}_values"])
        where = ("at the lower edge of" if fitted[field] == values[0] else
                 "at the upper edge of" if fitted[field] == values[-1] else "inside")
        notes.append(f"{field.replace('_', ' ')} {fitted[field]:g} {where} its grid "
                     f"({', '.join(f'{v:g}' for v in values)})")
    return "; ".join(notes)
