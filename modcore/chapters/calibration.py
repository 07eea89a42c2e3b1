"""The calibration chapter (notebook ``calibration``): the sine task's open constants fitted
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

The search is a sweep in the results store (resumable). Its outcome, with Omega of Theorem 1 (c
computed from the calibrated task) fitted on the chosen candidate's runs, is recorded in
``modcore/data/sine_calibration.json`` (RECORD_FILE: the search's scores and curve, which this
chapter shows) and copied as literals into :mod:`modcore.tasks.sine` (CALIBRATED_TASK,
CALIBRATED_N_STEPS, CALIBRATED_THEORY), the library's defaults. Nothing reads the record at
import, and this chapter never writes into the package: a rerun of the search goes to the results
store and is compared with the literals (:func:`rerun_and_compare`), so a rerun cannot change the
defaults, nor with them the store key of every sine run.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from modcore import paper_values, paths
from modcore.parameters import DEVICE, NONEMPTY, SEED, ChapterParameters, at_least, each, param
from modcore.plots import sine as sine_plots
from modcore.runs import sine_fig2
from modcore.runs.sine_fig2 import run_table  # noqa: F401 (the notebook calls it as calibration.run_table)
from modcore.runs.sine_networks import (INTERVAL_LEVEL, NetworkRun, TheoryFit, calibrated_theory, device_name,
                                        fit_theory, healthy, sweep_networks)
from modcore.store import ResultStore, resolve_store
from modcore.tasks.sine import CALIBRATED_N_STEPS, CALIBRATED_TASK, expected_target_variance

POSITIVE_INTEGERS = (NONEMPTY, each(at_least(1)))


@dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The chapter's parameters: the only home of each one's type, default and rule. The
    notebook's parameters cell repeats the defaults; tests/test_parameters.py keeps the two equal."""

    seed: int = param(0, SEED)                 # first seed of the held-out runs
    rerun_search: bool = param(False)          # rerun the search into the results store and compare (minutes)
    n_seeds: int = param(1, at_least(1))       # seeds per held-out point
    n_modules_values: list[int] = param([2, 5, 9], *POSITIVE_INTEGERS)  # held-out k panel
    input_dim_values: list[int] = param([2, 5, 9], *POSITIVE_INTEGERS)  # held-out m panel
    n_params_values: list[int] = param([100, 400, 1200, 3200, 17000], *POSITIVE_INTEGERS)  # held-out p panel
    line_n_params_values: list[int] = param([300, 3000], *POSITIVE_INTEGERS)  # architectures of the k and m panels
    line_input_dim_values: list[int] = param([5, 9], *POSITIVE_INTEGERS)      # m of the p panel (the paper: 5..9)
    average_n_modules_values: list[int] = param([3], *POSITIVE_INTEGERS)      # k of the m and p panels
    average_input_dim_values: list[int] = param([5, 9], *POSITIVE_INTEGERS)   # m of the k panel
    n_train: int = param(1000, at_least(1))    # n of the held-out panels (the paper's p panel: 1000)
    n_steps: int = param(0, at_least(0))       # Adam steps of the held-out runs; 0: the calibrated budget
    n_test: int = param(4000, at_least(1))     # test points per held-out run
    device: str = param("auto", *DEVICE)
    results_dir: str | None = param(None)      # None: results/calibration

    def heldout_design(self) -> sine_fig2.Fig2Design:
        """The k, m and p panels of Fig. 2 at the chapter's n (p = 1153 only names the unused n panel)."""
        return sine_fig2.Fig2Design(n_modules_values=self.n_modules_values, input_dim_values=self.input_dim_values,
                                    n_params_values=self.n_params_values, n_train_values=[self.n_train],
                                    line_n_params_values=self.line_n_params_values,
                                    line_input_dim_values=self.line_input_dim_values,
                                    average_n_modules_values=self.average_n_modules_values,
                                    average_input_dim_values=self.average_input_dim_values, n_train=self.n_train,
                                    n_params=paper_values.FIG2_N_PARAMS, n_seeds=self.n_seeds, seed=self.seed)


# The record of the search whose outcome tasks/sine.py holds as literals: read by this chapter (its
# scores and curve are shown), never at import and never written by it.
RECORD_FILE = paths.DATA_DIR / "sine_calibration.json"
FITTED_PANEL = "n_train"
# train losses of 0 are part of the paper's n panel; log needs an offset. 0.05 is our choice: below
# every nonzero point of the panel (the smallest is 0.8) and above our float32 train losses.
LOSS_OFFSET = 0.05
THRESHOLDS = paper_values.TEST_LOSS_THRESHOLDS  # the paper's test-loss targets (Fig. 3 and Fig. 4a)
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


def run_search(design: SearchDesign, store: ResultStore, paper: pd.DataFrame, *,
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
                  "modcore.chapters.calibration.run_search; its outcome is copied as literals into "
                  "modcore/tasks/sine.py"),
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


def stored_record() -> dict:
    """The record of the search behind the calibrated literals (RECORD_FILE)."""
    return json.loads(RECORD_FILE.read_text())


def calibrated_values() -> dict:
    """The fitted fields as the library holds them (the literals of :mod:`modcore.tasks.sine`)."""
    return {**CALIBRATED_TASK, "n_steps": CALIBRATED_N_STEPS}


def stored_search() -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """(scores, best curve, fitted values, search facts) of the recorded search."""
    stored = stored_record()
    search = stored["search"]
    facts = {"seconds": search["seconds"], "n_runs": search["n_runs"], "n_candidates": len(search["scores"]),
             "grid_edges": grid_edges(stored["fitted"], search["design"])}
    return pd.DataFrame(search["scores"]), pd.DataFrame(search["best_curve"]), stored["fitted"], facts


def same_outcome(result: SearchResult, fitted: Mapping) -> bool:
    """True if a search chose the ``fitted`` values (every field of FITTED_FIELDS)."""
    return all(result.best[field] == fitted[field] for field in FITTED_FIELDS)


def store_rerun(store: ResultStore, design: SearchDesign, record: dict) -> None:
    """Keep a rerun's record in the results store, keyed by its design (never in the package);
    a candidate whose runs all diverged has error inf, stored as null."""
    scores = [{key: (None if isinstance(value, float) and not math.isfinite(value) else value)
               for key, value in row.items()} for row in record["search"]["scores"]]
    store.put(design, {**record, "search": {**record["search"], "scores": scores}})


def rerun_and_compare(store: ResultStore, paper: pd.DataFrame, *, device: str = "auto") -> str:
    """Rerun the recorded search design (resumable in ``store``), keep its record in ``store`` and
    say whether it chose the calibrated literals of :mod:`modcore.tasks.sine`, and its Omega."""
    design = SearchDesign(**{key: tuple(value) if isinstance(value, list) else value
                             for key, value in stored_record()["search"]["design"].items()})
    result = run_search(design, store, paper, device=device)
    store_rerun(store, design, calibration_record(result, design))
    omega = (f"Omega {result.theory['omega']:.3f} against the calibrated {calibrated_theory().omega:.3f}; "
             f"{result.seconds / 60:.1f} min")
    if same_outcome(result, calibrated_values()):
        return f"chose the calibrated values ({omega})"
    return f"chose different values: {result.best} ({omega})"


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
    :func:`modcore.runs.sine_fig2.heldout_errors`), from runs of the calibrated task."""
    means = {panel: sine_fig2.fig2_means(sine_fig2.fig2_lines(panel, frame, fit)) for panel, frame in frames.items()}
    return sine_fig2.heldout_errors(means, paper)


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


# --- what the notebook calls, one figure or table per cell ------------------------------------------


def paper_fig2() -> pd.DataFrame:
    """The paper's digitised Fig. 2 (``modcore/data/fig2_digitised.csv``)."""
    return paper_values.load_csv("fig2_digitised")


def results_store(p: Parameters) -> ResultStore:
    return resolve_store(p.results_dir, "calibration")


def rerun_word(p: Parameters, store: ResultStore, paper: pd.DataFrame) -> str:
    """What a rerun of the search found (:func:`rerun_and_compare`), or "not rerun here"."""
    return rerun_and_compare(store, paper, device=p.device) if p.rerun_search else "not rerun here"


def fit_figure(best_curve: pd.DataFrame, paper: pd.DataFrame, scores: pd.DataFrame):
    """The fitted panel (ours against the paper's networks) and every candidate's fit error."""
    return sine_plots.calibration_fit(best_curve, paper_points(paper), scores)


def heldout_estimate(p: Parameters, fitted: Mapping) -> str:
    """Rough training time of the held-out runs on 2 cores."""
    seconds = p.heldout_design().estimated_seconds(p.n_steps or fitted["n_steps"], HELDOUT_PANELS)
    return f"held-out runs: estimated {seconds / 60:.1f} min ({seconds:.0f} s) on 2 cores"


def run_heldout(p: Parameters, store: ResultStore) -> dict[str, pd.DataFrame]:
    """Train (or read back) the held-out k, m and p panels of the calibrated task: ``{panel: runs}``."""
    return sine_fig2.run_fig2(p.heldout_design(), store, device=p.device, desc="held out", panels=HELDOUT_PANELS,
                              n_test=p.n_test, n_steps=p.n_steps or None)


def heldout_figure(frames: Mapping[str, pd.DataFrame], fit: TheoryFit, paper: pd.DataFrame):
    """Our held-out panels' mean test loss against the paper's networks."""
    return sine_plots.heldout_panels(sine_fig2.figure_panels(frames, fit, paper))


def rule_words() -> dict[str, float]:
    """The constants the prose quotes (glue names without ``cal_``): the fit score's offset, the
    "well below" fraction and the level of Omega's interval, so that changing one changes the page."""
    return {"loss_offset": LOSS_OFFSET, "well_below_fraction": WELL_BELOW_FRACTION,
            "omega_interval_level": INTERVAL_LEVEL}


def summary(scores: pd.DataFrame, fitted: dict, facts: dict, rerun: str, check: pd.DataFrame,
            errors: Mapping[str, float]) -> dict[str, float | str]:
    """Every number and word the chapter's text quotes, keyed by glue name (``cal_...``)."""
    theory = dataclasses.asdict(calibrated_theory())
    return {**{f"cal_{name}": value for name, value in summary_words(scores, fitted, facts, theory).items()},
            **{f"cal_{name}": value for name, value in rule_words().items()},
            "cal_rerun": rerun,
            **{f"cal_{name}": value for name, value in threshold_words(check).items()},
            **{f"cal_heldout_{panel}": error for panel, error in errors.items()}}
