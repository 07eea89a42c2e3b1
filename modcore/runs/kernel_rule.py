"""What the three kernel-rule chapters (kernel_rule, sample_complexity, module_alignment) share:
the task and data drawn from one run seed, Algorithm 1's settings capped to a training set, the
verdict words, the training protocol's defaults, and the pilot of Algorithm 1's open settings
(run once and stored by ``python -m modcore.runs.kernel_rule``; the kernel_rule chapter reruns
part of it and compares).

Every run is a frozen dataclass (everything that fixes its numbers, seed included) computed
through :func:`modcore.sweeps.run_sweep`, so an interrupted sweep resumes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from modcore import kernel_rule as kr
from modcore import scorecard, sweeps
from modcore.models import DEFAULT_DEPTH, ModularSpec
from modcore.parameters import one_of
from modcore.seeds import derive_seed
from modcore.store import ResultStore, resolve_store
from modcore.tasks.sine import SineTask

# The rule of every chapter parameter that names Algorithm 1's kernel.
KERNEL_NAME = one_of(*kr.KERNELS)

# Our thresholds for the verdict words (the paper states these claims in words only; see the
# book's choices page): a learned direction "finds" a true module when |cos| >= FOUND_COS (one
# constant, kept by the kernel rule); a statistical statement is made at level SIGNIFICANCE
# (one-sided tests, two-sided intervals).
FOUND_COS = kr.FOUND_COS
SIGNIFICANCE = 0.05
# Seeds. The pilot that chooses Algorithm 1's settings runs on seeds PILOT_SEED_START and up;
# every kernel-rule chapter's comparisons use seeds below it (a rule in their profiles), so no
# comparison reuses a task, data set or network that the settings were chosen on.
PILOT_SEED_START = 1000
# Purposes of the independent random streams drawn from one run seed.
TASK_STREAM, TRAIN_STREAM, TEST_STREAM, MODEL_STREAM, PATH_STREAM = range(5)


def draw_task(input_dim: int, n_modules: int, seed: int) -> SineTask:
    """The sine task of run ``seed``: every setting but the shape is SineTask's default."""
    return SineTask(input_dim, n_modules, seed=derive_seed(seed, TASK_STREAM))


def draw_data(task: SineTask, n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) of run ``seed``. Test labels carry the task's label
    noise like the training labels, as in the calibration and Fig. 2 chapters, so that a test
    loss here is measured as the paper's losses were matched there (its thresholds 1.2 and 1.5
    then compare with the same scale). Training sets are nested in ``n_train`` (SineTask.sample's
    first points do not depend on n)."""
    x_train, y_train = task.sample(n_train, seed=derive_seed(seed, TRAIN_STREAM))
    x_test, y_test = task.sample(n_test, seed=derive_seed(seed, TEST_STREAM))
    return x_train, y_train, x_test, y_test


def model_seed(seed: int) -> int:
    """The seed of run ``seed``'s network initialisation (its module MLPs and random U)."""
    return derive_seed(seed, MODEL_STREAM)


def batch_data(runs: Sequence, name: str) -> tuple[list[SineTask], tuple[np.ndarray, ...], list[int]]:
    """For runs that train as one ensemble (equal ``ensemble_key()``): their tasks, their stacked
    (x_train, y_train, x_test, y_test) and their models' seeds; ``name`` is the caller, for the error."""
    if len({run.ensemble_key() for run in runs}) != 1:
        raise ValueError(f"{name} needs runs that share ensemble_key(); group them with batch_by")
    tasks = [draw_task(run.input_dim, run.n_modules, run.seed) for run in runs]
    data = [draw_data(task, run.n_train, run.n_test, run.seed) for task, run in zip(tasks, runs)]
    return tasks, tuple(np.stack(column) for column in zip(*data)), [model_seed(run.seed) for run in runs]


def agreement(ours: str, paper: str, *, testable: bool = True) -> str:
    """"agree" / "disagree" between two verdict words; "inconclusive" when ours found no
    significant effect; "not testable at these task settings" when the comparison is not."""
    if not testable:
        return "not testable at these task settings"
    if ours in ("no significant difference", "undetermined"):
        return "inconclusive"
    return "agree" if ours == paper else "disagree"



def combined_agreement(agreements) -> str:
    """Several :func:`agreement` words combined into one scorecard verdict
    (:func:`modcore.scorecard.combined_verdict`)."""
    return scorecard.combined_verdict("not testable" if word.startswith("not testable") else word
                                      for word in agreements)


# Paper does not give its training protocol; ours (the book's choices page): minibatch Adam,
# stopped by the validation rule below, at most DEFAULT_N_STEPS steps. lr 1e-2 and minibatch 128
# were chosen on pilot seeds (1000-1004; m = 6, n = 500 and 2000) as the cheapest of four
# protocols whose restored test MSE for the oracle, random U and the MLP stayed within 0.03 of
# the slowest one's (lr 3e-3, minibatch 256, patience 500), at a third of its cost.
DEFAULT_N_STEPS = 3000
DEFAULT_LR = 1e-2
DEFAULT_BATCH_SIZE = 128

SENSITIVITY_FACTORS = ("kernel", "network modules", "training")


def sensitivity_words(rows: pd.DataFrame, word_column: str) -> str:
    """"holds across all" when every row of the sensitivity table (columns kernel, network
    modules, training and ``word_column``) gives the same word; else "depends on X" (or "X and
    Y"), X being each factor whose change alone, the others held, changes the word somewhere."""
    if rows[word_column].nunique() <= 1:
        return "holds across all"
    changing = []
    for factor in SENSITIVITY_FACTORS:
        others = [f for f in SENSITIVITY_FACTORS if f != factor]
        if any(group[word_column].nunique() > 1 for _, group in rows.groupby(others)):
            changing.append(factor)
    return "depends on " + " and ".join(changing)



def capped_settings(settings: kr.KernelRuleSettings, n_train: int) -> kr.KernelRuleSettings:
    """Algorithm 1's settings for a training set of ``n_train`` points: a set smaller than the
    kernel minibatch is used whole (batch_size None)."""
    if settings.batch_size is None or settings.batch_size >= n_train:
        return dataclasses.replace(settings, batch_size=None)
    return settings



# --- the pilot: which settings of Algorithm 1 find the modules? ---------------------------------
# Scored by recovery alone (modcore.kernel_rule.module_recovery), never by a test loss or by a
# later chapter's outcome, on seeds PILOT_SEED_START and up.

PILOT_COLUMNS = ("kernel", "eps", "batch_size", "n_steps", "n_restarts")
# The target for the chosen settings: at least half of the true modules recovered
# (m = 6, k = 3, n = 2000, calibrated noise), averaged over the pilot's seeds.
PILOT_TARGET_SHARE = 0.5
# The stored pilot: the full grid, run once by `python -m modcore.runs.kernel_rule`
# (see modcore/data/README.md); the kernel_rule chapter reruns rows of it and compares.
PILOT_FILE = "kernel_pilot"
FULL_PILOT = dict(kernels=kr.KERNELS, eps_values=(1e-3, 1e-2, 1e-1, 1.0), batch_sizes=(32, 64, 128),
                  n_steps_values=(30, 100, 300), restart_factors=(1, 2, 4), n_seeds=5)


@dataclasses.dataclass(frozen=True)
class RecoveryRun:
    """One fit of the pilot (or of the held-out recovery check): ``max(restart_factors) * n_modules``
    restarts of Algorithm 1 (:func:`modcore.kernel_rule.fit_projections`) with ``kernel``, ``eps`` and minibatch
    ``batch_size``, run for ``max(n_steps_values)`` steps on ``n_train`` points of the sine task
    of ``seed``. Restarts are seeded one by one, so the first K of them are a K-restart fit, and a
    fit's projections after t steps are a t-step fit's: one run scores every (steps, K) pair."""

    kernel: str
    eps: float
    batch_size: int
    seed: int
    input_dim: int = 6
    n_modules: int = 3
    n_train: int = 2000
    n_steps_values: tuple[int, ...] = (30, 100, 300)
    restart_factors: tuple[int, ...] = (1, 2, 4)
    width: int = 16
    depth: int = DEFAULT_DEPTH
    lr: float = kr.DEFAULT_LR

    def __post_init__(self):
        steps = list(self.n_steps_values)
        if not steps or steps != sorted(set(steps)) or steps[0] < 1:
            raise ValueError(f"n_steps_values must be positive and increasing, got "
                             f"n_steps_values={self.n_steps_values!r}")
        factors = list(self.restart_factors)
        if not factors or factors != sorted(set(factors)) or factors[0] < 1:
            raise ValueError(f"restart_factors must be positive and increasing, got "
                             f"restart_factors={self.restart_factors!r}")
        kr.KernelRuleSettings(kernel=self.kernel, eps=self.eps, batch_size=self.batch_size)  # checks them

    def settings(self) -> kr.KernelRuleSettings:
        return capped_settings(kr.KernelRuleSettings(kernel=self.kernel, eps=self.eps, batch_size=self.batch_size,
                                                     n_steps=max(self.n_steps_values), lr=self.lr), self.n_train)


PILOT_RESULT_KEYS = ("n_steps", "n_restarts", "share", "matched", "n_duplicates", "flops_per_restart", "start_share",
                     "start_matched")


def run_pilot(run: RecoveryRun, *, device: str = "cpu") -> dict:
    """Recovery (:func:`modcore.kernel_rule.module_recovery`) for every (steps, K) of ``run``:
    lists ``n_steps``, ``n_restarts``, ``share``, ``matched``, ``n_duplicates``, ``flops_per_restart``;
    and (prefixed ``start_``) the same at step 0, the random unit directions the restarts start from."""
    task = draw_task(run.input_dim, run.n_modules, run.seed)
    x, y = task.sample(run.n_train, seed=derive_seed(run.seed, TRAIN_STREAM))
    spec = ModularSpec(run.input_dim, run.n_modules, run.width, run.depth)
    settings = run.settings()
    n_restarts = max(run.restart_factors) * run.n_modules
    fit = kr.fit_projections(spec, x, y, seed=model_seed(run.seed), n_restarts=n_restarts, settings=settings,
                             snapshot_steps=(0, *run.n_steps_values), device=device)
    out = {key: [] for key in PILOT_RESULT_KEYS}
    per_step = fit.cost.flops_per_restart / settings.n_steps
    for steps in run.n_steps_values:
        for factor in run.restart_factors:
            restarts = factor * run.n_modules
            found = kr.module_recovery(fit.snapshots[steps][:restarts], task.directions)
            start = kr.module_recovery(fit.snapshots[0][:restarts], task.directions)
            for key, value in (("n_steps", steps), ("n_restarts", restarts), ("share", found["share"]),
                               ("matched", found["matched"]), ("n_duplicates", found["n_duplicates"]),
                               ("flops_per_restart", per_step * steps), ("start_share", start["share"]),
                               ("start_matched", start["matched"])):
                out[key].append(value)
    out["wall_time_s"] = fit.cost.wall_time_s
    return out


@dataclasses.dataclass(frozen=True)
class PilotDesign:
    """The pilot's grid: every kernel x eps x minibatch, each scored at every step count and
    restart factor, on ``n_seeds`` seeds from ``seed`` (at least PILOT_SEED_START)."""

    kernels: Sequence[str]
    eps_values: Sequence[float]
    batch_sizes: Sequence[int]
    n_steps_values: Sequence[int]
    restart_factors: Sequence[int]
    n_seeds: int
    seed: int = PILOT_SEED_START
    input_dim: int = 6
    n_modules: int = 3
    n_train: int = 2000
    width: int = 16

    def __post_init__(self):
        if self.seed < PILOT_SEED_START:
            raise ValueError(f"pilot seeds start at PILOT_SEED_START={PILOT_SEED_START}, got seed={self.seed}")
        for name in ("kernels", "eps_values", "batch_sizes", "n_steps_values", "restart_factors"):
            values = tuple(getattr(self, name))
            if not values:
                raise ValueError(f"the pilot's {name} must not be empty, got {name}={values!r}")
            object.__setattr__(self, name, values)  # tuples: a design read from a notebook equals the stored one

    def runs(self) -> list[RecoveryRun]:
        return [RecoveryRun(kernel=kernel, eps=float(eps), batch_size=int(batch), seed=self.seed + s,
                         input_dim=self.input_dim, n_modules=self.n_modules, n_train=self.n_train,
                         n_steps_values=tuple(int(t) for t in self.n_steps_values),
                         restart_factors=tuple(int(f) for f in self.restart_factors), width=self.width)
                for kernel in self.kernels for eps in self.eps_values for batch in self.batch_sizes
                for s in range(self.n_seeds)]


def pilot_rows(runs: Sequence[RecoveryRun], store: ResultStore, *, device: str = "cpu",
               desc: str = "pilot") -> pd.DataFrame:
    """Run (or read back) ``runs``; one row per (run, steps, K): the PILOT_COLUMNS, seed, share,
    matched, n_duplicates, flops_per_restart, start_share, start_matched."""
    frame = sweeps.run_sweep(lambda run: run_pilot(run, device=device), runs, store, desc=desc,
                             required_keys=PILOT_RESULT_KEYS)
    lists = ["n_steps", "n_restarts", "share", "matched", "n_duplicates", "flops_per_restart", "start_share",
             "start_matched"]
    rows = frame[["kernel", "eps", "batch_size", "seed", *lists]].explode(lists)
    return rows.astype({"eps": float, "batch_size": int, "seed": int, "n_steps": int, "n_restarts": int,
                        "share": float, "matched": float, "n_duplicates": int, "flops_per_restart": float,
                        "start_share": float, "start_matched": float}).reset_index(drop=True)


def pilot_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per setting (PILOT_COLUMNS): over seeds, the mean recovery ``share`` and its
    standard error ``share_se``, the mean ``matched`` |cos|, mean duplicates, FLOPs per restart,
    and the random starts' mean share (``start_share``)."""
    grouped = rows.groupby(list(PILOT_COLUMNS), sort=False)
    summary = grouped.agg(n_seeds=("seed", "nunique"), share=("share", "mean"), share_sd=("share", "std"),
                          matched=("matched", "mean"), n_duplicates=("n_duplicates", "mean"),
                          flops_per_restart=("flops_per_restart", "mean"), start_share=("start_share", "mean"))
    summary["share_se"] = (summary.share_sd / np.sqrt(summary.n_seeds)).fillna(0.0)
    return summary.drop(columns="share_sd").reset_index()


def choose_setting(summary: pd.DataFrame, *, n_restarts: int) -> dict:
    """The pilot's choice rule, fixed before any comparison ran (the book's choices page):

    among the settings at ``n_restarts`` restarts, take the highest mean recovery share over the
    pilot's seeds; every setting whose mean share is within one standard error (of that best
    mean) of it, and reaches PILOT_TARGET_SHARE if the best does, counts as tied, and of the tied
    ones the cheapest (fewest FLOPs per restart) is
    chosen, then the smaller eps, minibatch and step count, then the kernel's order in
    modcore.kernel_rule.KERNELS. Returns the chosen row as a dict, with ``n_tied``."""
    at = summary[summary.n_restarts == n_restarts]
    if at.empty:
        raise ValueError(f"the pilot has no setting with n_restarts={n_restarts}")
    best = at.loc[at.share.idxmax()]
    tied = at[(at.share >= best.share - best.share_se) & (at.share >= min(best.share, PILOT_TARGET_SHARE))]
    order = tied.assign(kernel_rank=tied.kernel.map({k: i for i, k in enumerate(kr.KERNELS)}))
    chosen = order.sort_values(["flops_per_restart", "eps", "batch_size", "n_steps", "kernel_rank"]).iloc[0]
    return {**{key: chosen[key] for key in (*PILOT_COLUMNS, "share", "share_se", "matched", "n_duplicates",
                                               "flops_per_restart", "start_share")},
            "best_share": float(best.share), "n_tied": len(tied)}


def stored_pilot() -> pd.DataFrame:
    """The stored full pilot's rows (modcore/data/<PILOT_FILE>.csv; see :func:`write_stored_pilot`)."""
    from modcore import paper_values  # reads modcore/data; comments skipped

    return paper_values.load_csv(PILOT_FILE)


def pilot_table(design: PilotDesign, store: ResultStore, *, rerun: str = "chosen", n_restarts: int,
                device: str = "cpu") -> tuple[pd.DataFrame, dict]:
    """The pilot's rows for ``design`` and how they were checked.

    If ``design`` is the stored pilot's (FULL_PILOT), the rows are the stored ones and the
    chapter reruns part of them: ``rerun="chosen"`` the fits of the setting the choice rule picks
    from the stored rows (at ``n_restarts``), ``rerun="all"`` every fit; the rerun rows must equal
    the stored ones (``comparison``: ``compared`` rows, ``max_difference`` in share and matched
    |cos|, ``matches``). Any other design (a smaller one at ci, a user's own) runs in full and
    is not compared (``compared`` 0)."""
    if rerun not in ("chosen", "all"):
        raise ValueError(f"rerun must be 'chosen' or 'all', got {rerun=!r}")
    if design != PilotDesign(**FULL_PILOT):
        rows = pilot_rows(design.runs(), store, device=device)
        return rows, {"compared": 0, "max_difference": math.nan, "matches": None}
    stored = stored_pilot()
    if rerun == "all":
        runs = design.runs()
    else:
        chosen = choose_setting(pilot_summary(stored), n_restarts=n_restarts)
        runs = [run for run in design.runs() if (run.kernel, run.eps, run.batch_size)
                == (chosen["kernel"], float(chosen["eps"]), int(chosen["batch_size"]))]
    fresh = pilot_rows(runs, store, device=device)
    keys = ["kernel", "eps", "batch_size", "seed", "n_steps", "n_restarts"]
    both = fresh.merge(stored, on=keys, suffixes=("", "_stored"), how="left")
    difference = max(float(np.nanmax(np.abs(both[column] - both[f"{column}_stored"]).to_numpy(float), initial=0.0))
                     if both[f"{column}_stored"].notna().all() else math.inf
                     for column in ("share", "matched", "start_share"))
    # float64 fits of the same code on the same seeds: equal up to BLAS summation order
    return stored, {"compared": len(both), "max_difference": difference, "matches": bool(difference <= 1e-6)}


def write_stored_pilot(store: ResultStore, *, device: str = "cpu") -> pd.DataFrame:
    """Run the full pilot (FULL_PILOT, resumable through ``store``) and write its rows to
    modcore/data/<PILOT_FILE>.csv, with a header saying how it was made. Run once, offline."""
    from modcore import paths  # only this offline writer touches the package's data folder

    # cheapest minibatch first, so that an interrupted pilot has whole rows of the grid
    runs = sorted(PilotDesign(**FULL_PILOT).runs(), key=lambda run: run.batch_size)
    rows = pilot_rows(runs, store, device=device, desc="full pilot")
    path = paths.DATA_DIR / f"{PILOT_FILE}.csv"
    header = ("# Pilot of Algorithm 1's open settings (modcore.runs.kernel_rule.FULL_PILOT): module\n"
              "# recovery (modcore.kernel_rule.module_recovery) per seed, kernel, eps, minibatch, steps and\n"
              "# restarts, at m = 6, k = 3, n = 2000, calibrated sine task, pilot seeds 1000-1004. Written by\n"
              "# `python -m modcore.runs.kernel_rule`; the kernel_rule chapter reruns rows and compares.\n")
    path.write_text(header + rows.to_csv(index=False, float_format="%.10g"))
    return rows


if __name__ == "__main__":
    write_stored_pilot(resolve_store(None, "kernel_pilot"))

