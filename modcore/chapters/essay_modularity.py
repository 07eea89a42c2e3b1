"""The essay chapter (notebook ``essay_modularity``): does regularisation cause modularity, and
modularity generalisation?

The essay *Regularization Causes Modularity Causes Generalization* (dkirmani, LessWrong 2022)
argues a chain of two links; the chapter tests each against a null. One run (train a small
classifier on goal G1, measure it) is :func:`modcore.runs.essay.run_essay`; this module holds the
chapter's parameters, its strength sweep and runs, and the tables, figures and glued values the
notebook shows, which :mod:`modcore.runs.essay_report` computes from the frame of runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from modcore import scorecard, sweeps
from modcore.parameters import (DEVICE, DISTINCT, NONEMPTY, NONNEGATIVE, POSITIVE, SEED, ChapterParameters, Relation,
                                at_least, at_most, each, greater_than, less_than, one_of, param)
from modcore.plots import essay as essay_plots
from modcore.runs import essay_report as report
from modcore.runs.essay import (ARM_NAMES, ARMS, ESSAY_KEYS, PERIOD_ARMS, REGULARISER_ARMS, SWEEP_SEED_OFFSET,
                                SWEPT_ARMS, make_configs, run_essay)
from modcore.runs.essay_report import (DIVERGED_LOSS_FACTOR, FINETUNE, FORMATS, NOT_APPLICABLE, PRIMARY_SCORE,
                                       SCORECARD_WORDS, TRANSFER, answer, count_verdict, counts, number_text,
                                       short_answer, summarise_verdicts, usable_runs, with_health)
from modcore.runtime import resolve_device
from modcore.store import resolve_store
from modcore.tasks import retina
from modcore.tasks.two_halves import TASKS

_STRENGTHS = (NONEMPTY, each(POSITIVE))
_RATES = (NONEMPTY, each(greater_than(0)), each(less_than(1)))
_PERIODS = (NONEMPTY, each(at_least(1)))


@dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The chapter's parameters: the only home of each one's type, default and rule. The
    notebook's parameters cell repeats the defaults (papermill needs literals there);
    tests/test_parameters.py keeps the two equal."""

    seed: int = param(5, SEED)  # first seed (0-4 were the earlier run that informed the seed allocation)
    n_seeds: int = param(5, at_least(1))  # seeds of every arm but the retina control and regularisers
    # seeds of the retina control and regularisers (the power calculation's); at least n_seeds (a relation)
    retina_regulariser_n_seeds: int = param(6, at_least(1))
    target_effect: float = param(2.0, POSITIVE)  # shift (in standard deviations) the power calculation asks to detect
    power: float = param(0.8, greater_than(0), less_than(1))  # probability of detecting it at Holm's strictest level
    n_sweep_seeds: int = param(2, at_least(1))  # seeds of the strength sweep (its own, no comparison uses them)
    tasks: list[str] = param(["retina", "digits"], NONEMPTY, DISTINCT, each(one_of(*TASKS)))  # task A and/or B
    retina_arms: list[str] = param(["init", "none", "l1", "l2", "l2_norm", "weight_decay", "dropout", "prune",
                                    "connection_cost", "mvg", "rmvg", "clusterable_init", "block_mask", "random_mask"],
                                   DISTINCT, each(one_of(*ARMS)))
    digits_arms: list[str] = param(["init", "none", "l1", "dropout", "clusterable_init", "block_mask", "random_mask"],
                                   DISTINCT, each(one_of(*ARMS)))
    retina_n_steps: int = param(1000, at_least(1))  # Adam steps on the retina task (full batch of 128 patterns)
    digits_n_steps: int = param(800, at_least(1))  # Adam steps on digit pairs (batch 128)
    digits_n_train: int = param(10000, at_least(10))  # training pairs of task B
    # swept L1 strengths (loss + lambda * sum |w|); the digits network sums over ~40x more weights
    retina_l1_values: list[float] = param([0.0001, 0.001, 0.01], *_STRENGTHS)
    digits_l1_values: list[float] = param([0.00001, 0.0001, 0.001], *_STRENGTHS)
    # swept squared-L2 strengths (loss + lambda * sum w^2)
    retina_l2_values: list[float] = param([0.0001, 0.001, 0.01], *_STRENGTHS)
    digits_l2_values: list[float] = param([0.00001, 0.0001, 0.001], *_STRENGTHS)
    # swept L2-norm strengths (loss + lambda * ||w||_2)
    retina_l2_norm_values: list[float] = param([0.001, 0.01, 0.1], *_STRENGTHS)
    digits_l2_norm_values: list[float] = param([0.001, 0.01, 0.1], *_STRENGTHS)
    # swept connection-cost strengths
    retina_connection_cost_values: list[float] = param([0.0001, 0.001, 0.01], *_STRENGTHS)
    digits_connection_cost_values: list[float] = param([0.00001, 0.0001, 0.001], *_STRENGTHS)
    weight_decay_values: list[float] = param([0.001, 0.01, 0.1], *_STRENGTHS)  # AdamW decoupled decay, both tasks
    dropout_values: list[float] = param([0.1, 0.2, 0.3], *_RATES)  # dropout after every hidden layer, both tasks
    prune_sparsity_values: list[float] = param([0.5, 0.8, 0.9], *_RATES)  # final magnitude-pruning sparsities
    mvg_period_values: list[int] = param([100, 250], *_PERIODS)  # steps between goal switches under MVG
    rmvg_period_values: list[int] = param([100, 250], *_PERIODS)  # steps between random goals under RMVG
    clusterable_init_modules: int = param(2, at_least(2))  # modules of the clusterable initialisation
    # an arm may lose at most this much training accuracy against the control
    train_accuracy_margin: float = param(0.02, NONNEGATIVE, less_than(1))
    # graph: weights below this fraction of their layer's largest |w| are absent
    prune_threshold: float = param(0.01, NONNEGATIVE, less_than(1))
    # G2-labelled training patterns for the readout, retina: at most its 128 training patterns
    retina_n_transfer: int = param(32, at_least(2), at_most(retina.N_PATTERNS // 2))
    digits_n_transfer: int = param(1000, at_least(10))  # G2-labelled training pairs for the readout, digits
    retina_n_finetune_steps: int = param(500, NONNEGATIVE)  # most G2 fine-tuning steps, retina
    digits_n_finetune_steps: int = param(300, NONNEGATIVE)  # most G2 fine-tuning steps, digits
    # G2 training accuracy that ends fine-tuning
    retina_finetune_criterion: float = param(0.95, greater_than(0), at_most(1))
    digits_finetune_criterion: float = param(0.5, greater_than(0), at_most(1))
    two_head_control: bool = param(False)  # also train the two-head digit network (trivially modular control)
    n_shuffles: int = param(20, at_least(1))  # graphs in each null model
    # of those, how many also get Louvain (0: the network's raw Q only); Louvain runs on a subset of the shuffles
    n_louvain_shuffles: int = param(0, NONNEGATIVE)
    min_healthy_runs: int = param(3, at_least(2))  # fewest healthy runs per side for a comparison to count
    alpha: float = param(0.05, greater_than(0), less_than(1))  # significance level of every verdict
    n_bootstrap: int = param(2000, at_least(1))  # bootstrap resamples for the medians' CIs
    device: str = param("auto", *DEVICE)  # "auto": CUDA when present, else the CPU
    results_dir: str | None = param(None)  # results store; None: results/essay_modularity

    def relations(self):
        yield Relation(("n_seeds", "min_healthy_runs"), "n_seeds >= min_healthy_runs",
                       self.n_seeds >= self.min_healthy_runs)
        yield Relation(("retina_regulariser_n_seeds", "n_seeds"), "retina_regulariser_n_seeds >= n_seeds",
                       self.retina_regulariser_n_seeds >= self.n_seeds)
        yield Relation(("digits_n_transfer", "digits_n_train"), "digits_n_transfer <= digits_n_train",
                       self.digits_n_transfer <= self.digits_n_train)
        yield Relation(("n_louvain_shuffles", "n_shuffles"), "n_louvain_shuffles <= n_shuffles",
                       self.n_louvain_shuffles <= self.n_shuffles)
        # every comparison is against the control
        for task in TASKS:
            arms = f"{task}_arms"
            yield Relation(("tasks", arms), f"'{task}' not in tasks or 'none' in {arms}",
                           task not in self.tasks or "none" in getattr(self, arms))

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.n_seeds))

    @property
    def sweep_seeds(self) -> list[int]:
        """The strength sweep's seeds: none of them is a seed of the comparison runs, so the
        strength is chosen on runs no verdict uses."""
        first = self.seed + SWEEP_SEED_OFFSET
        return list(range(first, first + self.n_sweep_seeds))

    def arm_seeds(self, task: str, arm: str) -> list[int]:
        """The seeds of one arm: ``retina_regulariser_n_seeds`` for the retina control and
        regularisers (the largest Holm family, on the cheapest task: where the power calculation's
        seeds are spent), ``n_seeds`` for every other arm."""
        if task == "retina" and arm in ("none",) + REGULARISER_ARMS:
            return list(range(self.seed, self.seed + self.retina_regulariser_n_seeds))
        return self.seeds

    def arms(self, task: str) -> list[str]:
        return getattr(self, f"{task}_arms")

    def strength_values(self, task: str, arm: str) -> list[float]:
        """The strengths of ``arm`` on ``task``: the sweep's grid, or the single fixed value."""
        fixed = dict(init=0.0, none=0.0, clusterable_init=self.clusterable_init_modules, block_mask=2, random_mask=2)
        if arm in fixed:
            return [float(fixed[arm])]
        shared = dict(weight_decay=self.weight_decay_values, dropout=self.dropout_values,
                      prune=self.prune_sparsity_values, mvg=self.mvg_period_values, rmvg=self.rmvg_period_values)
        return sorted(float(v) for v in shared.get(arm) or getattr(self, f"{task}_{arm}_values"))

    def run_settings(self, task: str) -> dict:
        """The fields of :class:`modcore.runs.essay.EssayRun` that the parameters set for ``task``."""
        settings = dict(n_steps=getattr(self, f"{task}_n_steps"), n_transfer=getattr(self, f"{task}_n_transfer"),
                        n_finetune_steps=getattr(self, f"{task}_n_finetune_steps"),
                        finetune_criterion=getattr(self, f"{task}_finetune_criterion"),
                        n_shuffles=self.n_shuffles, n_louvain_shuffles=self.n_louvain_shuffles,
                        prune_threshold=self.prune_threshold, device=str(resolve_device(self.device)))
        if task == "digits":
            settings["n_train"] = self.digits_n_train
        return settings


# --- the runs -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChapterRuns:
    """The chapter's runs at the chosen strengths, and the strength sweep that chose them."""

    runs: pd.DataFrame
    selection: pd.DataFrame


def choose_strengths(sweep: pd.DataFrame, *, margin: float) -> pd.DataFrame:
    """Per task and swept arm, the strongest strength whose median training accuracy (over the
    sweep's seeds) is at least the control's median minus ``margin``: no arm may win by
    underfitting. Stronger means larger, except for a switching period (MVG, RMVG), where it
    means shorter. An arm with no such strength keeps its weakest one, flagged not admissible
    (its runs then count as underfit and enter no verdict)."""
    rows = []
    for task, runs in sweep.groupby("task", sort=False):
        control = float(runs.loc[runs["arm"] == "none", "train_accuracy"].median())
        for arm, group in runs[runs["arm"].isin(SWEPT_ARMS)].groupby("arm", sort=False):
            medians = group.groupby("strength")["train_accuracy"].median().sort_index()
            admissible = medians[medians >= control - margin]
            strongest, weakest = (min, max) if arm in PERIOD_ARMS else (max, min)
            chosen = float(strongest(admissible.index) if len(admissible) else weakest(medians.index))
            for strength, median in medians.items():
                rows.append(dict(task=task, arm=arm, strength=float(strength), train_accuracy=float(median),
                                 control_train_accuracy=control, admissible=bool(median >= control - margin),
                                 chosen=bool(strength == chosen)))
    return pd.DataFrame(rows, columns=["task", "arm", "strength", "train_accuracy", "control_train_accuracy",
                                       "admissible", "chosen"])


def run_chapter(p: Parameters) -> ChapterRuns:
    """Every run of the chapter, read from or added to the results store.

    First the strength sweep (every swept arm at every strength, and the control, on
    ``n_sweep_seeds`` seeds of their own, :attr:`Parameters.sweep_seeds`; trained and scored
    on G1 only), then every arm at its chosen strength on its seeds
    (:meth:`Parameters.arm_seeds`), measured in full.
    """
    store = resolve_store(p.results_dir, "essay_modularity")
    sweep_configs = []
    for task in p.tasks:
        base = p.run_settings(task)
        for arm in ("none",) + tuple(a for a in p.arms(task) if a in SWEPT_ARMS):
            sweep_configs += make_configs(task, arm, p.strength_values(task, arm), p.sweep_seeds, **base, measure=False)
    sweep = sweeps.run_sweep(run_essay, sweep_configs, store, desc="essay strength sweep", required_keys=ESSAY_KEYS)
    selection = choose_strengths(sweep, margin=p.train_accuracy_margin)
    configs = []
    for task in p.tasks:
        base = p.run_settings(task)
        chosen = selection[(selection["task"] == task) & selection["chosen"]].set_index("arm")["strength"]
        for arm in p.arms(task):
            strengths = [chosen[arm]] if arm in SWEPT_ARMS else p.strength_values(task, arm)
            configs += make_configs(task, arm, strengths, p.arm_seeds(task, arm), **base)
        if task == "digits" and p.two_head_control:
            configs += make_configs(task, "none", [0.0], p.seeds, goal="both", **base)
    runs = sweeps.run_sweep(run_essay, configs, store, desc="essay runs", required_keys=ESSAY_KEYS)
    # the sweep's verdict on each swept arm's strength (None for arms without a sweep): whether any
    # strength kept the median training accuracy within the margin, decided on the sweep's seeds
    verdicts = {(row.task, row.arm): row.admissible for row in selection[selection["chosen"]].itertuples()}
    runs["admissible"] = [verdicts.get((task, arm)) if arm in SWEPT_ARMS else None
                          for task, arm in zip(runs["task"], runs["arm"])]
    return ChapterRuns(runs=runs, selection=selection)


# --- what the notebook shows, one function per table or figure ------------------------------------

def _count(flags: pd.Series) -> str:
    return f"{int(flags.sum())}/{len(flags)}"


def _median(runs: pd.DataFrame, column: str) -> float:
    return float(runs[column].median()) if column in runs and runs[column].notna().any() else math.nan


def condition_table(p: Parameters, chapter: ChapterRuns) -> pd.DataFrame:
    """Per task and condition: healthy runs, then medians over them (rounded): accuracies on G1,
    the gap, generalisation to G2 (readout accuracy, fine-tuning steps), the primary score
    (n-cut / null mean) with its percentile and z, raw n-cut and Louvain Q, z against Filan et
    al.'s all-weight null, the graph's sparsity, and how many runs' clustering separates the
    two input halves. A column that applies to no row is left out; a cell that does not apply
    to its row reads "n/a"."""
    frame = with_health(chapter.runs, margin=p.train_accuracy_margin)
    rows = []
    for (task, condition), runs in frame.groupby(["task", "condition"], sort=False):
        usable = usable_runs(runs)
        unhealthy = runs[~runs.index.isin(usable.index)]["health"].value_counts()
        note = "".join(f", {n} {word}" for word, n in unhealthy.items())
        rows.append({"task": task, "condition": condition, "healthy runs": f"{len(usable)}/{len(runs)}{note}",
                     "train acc": _median(usable, "train_accuracy"), "test acc": _median(usable, "test_accuracy"),
                     "gap": _median(usable, "gap"), "held-out acc": _median(usable, "heldout_accuracy"),
                     "G2 readout acc": _median(usable, TRANSFER), "G2 fine-tune steps": _median(usable, FINETUNE),
                     "n-cut / null": _median(usable, PRIMARY_SCORE), "percentile": _median(usable, "ncut_percentile"),
                     "z": _median(usable, "ncut_z"), "n-cut": _median(usable, "ncut"),
                     "Louvain Q": _median(usable, "q_louvain"), "z, Filan's null": _median(usable, "filan_ncut_z"),
                     "sparsity": _median(usable, "sparsity"),
                     "inputs separated": _count(usable["inputs_separated"].fillna(0).astype(bool))})
    table = pd.DataFrame(rows).dropna(axis=1, how="all")
    numeric = table.select_dtypes("number").columns
    table[numeric] = table[numeric].round(3)
    return table.astype(object).where(table.notna(), NOT_APPLICABLE)


def selection_table(chapter: ChapterRuns) -> pd.DataFrame:
    """The strength sweep as a reader's table: per task and arm, each strength's median training
    accuracy beside the control's, whether it is within the margin, and the one chosen."""
    table = chapter.selection.copy()
    table["arm"] = table["arm"].map(ARM_NAMES)
    table["strength"] = [f"{s:g}" for s in table["strength"]]  # 1e-05, not 0.000
    table["within margin"] = np.where(table.pop("admissible"), "yes", "no")
    table["chosen"] = np.where(table["chosen"], "chosen", "")
    table = table.rename(columns={"train_accuracy": "median train acc", "control_train_accuracy": "control's"})
    return table[["task", "arm", "strength", "median train acc", "control's", "within margin", "chosen"]].round(3)



def modularity_figure(p: Parameters, chapter: ChapterRuns) -> Figure:
    panels = report.modularity_panels(chapter.runs, margin=p.train_accuracy_margin, n_bootstrap=p.n_bootstrap,
                                      seed=p.seed)
    return essay_plots.scores_by_condition(
        panels, title="Modularity relative to the degree-preserving null, per arm",
        ylabel="n-cut / null mean\n(below 1 = modular)", reference=1.0, reference_label="null mean (ratio 1)")


def intervention_figure(p: Parameters, chapter: ChapterRuns) -> Figure:
    return essay_plots.intervention(report.intervention_panels(chapter.runs, margin=p.train_accuracy_margin),
                                    title="Intervention: hard-wired modules and the related goal")


def transfer_figure(p: Parameters, chapter: ChapterRuns) -> Figure:
    return essay_plots.gap_vs_score(report.transfer_vs_score_panels(chapter.runs, margin=p.train_accuracy_margin),
                                    title="Generalisation to the related goal vs modularity (observational)",
                                    xlabel="n-cut / null mean (below 1 = modular)", ylabel="G2 readout accuracy",
                                    reference=1.0)


def comparisons(p: Parameters, chapter: ChapterRuns) -> pd.DataFrame:
    """One row per comparison of the chain and task, with its effect, test and verdict."""
    return report.claims_table(chapter.runs, report.load_literature(), alpha=p.alpha, margin=p.train_accuracy_margin,
                               min_healthy_runs=p.min_healthy_runs, power=p.power)


def verdict_markdown(rows: pd.DataFrame) -> str:
    return report.verdict_markdown(rows)


def verdict_details_markdown(rows: pd.DataFrame) -> str:
    return report.verdict_details_markdown(rows)


def power_table(p: Parameters, rows: pd.DataFrame) -> pd.DataFrame:
    return report.power_table(rows, alpha=p.alpha, target_effect=p.target_effect, power=p.power)


def glued(p: Parameters, chapter: ChapterRuns, rows: pd.DataFrame) -> dict[str, str | int]:
    """Every word and number the prose quotes, keyed by glue name: the parameters it states, the
    run counts, the verdict counts and the answers."""
    values = {**_text_values(p), **_verdict_values(rows, chapter.runs, margin=p.train_accuracy_margin)}
    return {f"essay_{name}": value for name, value in values.items()}


def claims(chapter: ChapterRuns, rows: pd.DataFrame) -> dict[str, scorecard.Record]:
    """The chapter's scorecard records (the essay's claims this profile measured)."""
    return scorecard_records(rows, sorted(set(chapter.runs["seed"])))


# --- glued values ------------------------------------------------------------------------------

def _text_values(settings: Parameters) -> dict[str, str | int]:
    """The parameter values the chapter's text quotes, formatted for glueing."""
    periods = lambda values: ", ".join(str(v) for v in values)  # noqa: E731
    return {"alpha": f"{settings.alpha:g}", "mvg_period_values": periods(settings.mvg_period_values),
            "rmvg_period_values": periods(settings.rmvg_period_values),
            "n_shuffles": settings.n_shuffles, "n_seeds": settings.n_seeds, "n_sweep_seeds": settings.n_sweep_seeds,
            "seed": settings.seed, "retina_regulariser_n_seeds": settings.retina_regulariser_n_seeds,
            "target_effect": f"{settings.target_effect:g}", "power": f"{settings.power:g}",
            "prune_threshold": f"{settings.prune_threshold:.0%}" if settings.prune_threshold >= 0.01
            else f"{settings.prune_threshold:g}", "train_accuracy_margin": f"{settings.train_accuracy_margin:g}",
            "min_healthy_runs": settings.min_healthy_runs, "clusterable_init_modules": settings.clusterable_init_modules,
            "retina_n_transfer": settings.retina_n_transfer, "digits_n_transfer": settings.digits_n_transfer,
            "retina_finetune_criterion": f"{settings.retina_finetune_criterion:g}",
            "digits_finetune_criterion": f"{settings.digits_finetune_criterion:g}",
            "diverged_loss_factor": f"{DIVERGED_LOSS_FACTOR:g}"}


def _verdict_values(claims: pd.DataFrame, frame: pd.DataFrame, *, margin: float) -> dict[str, str | int]:
    """Everything the closing text and the answer at the top glue: the verdict counts per claim
    family, the answer paragraph, and the run counts."""
    return {**summarise_verdicts(claims), "answer": answer(claims, frame, margin=margin),
            "short_answer": short_answer(claims), **counts(frame, margin=margin)}


# The scorecard's essay claims: which rows of the claims table decide each (family, arm; None = every arm).
SCORECARD_ROWS = {
    "essay_l1": ("regulariser_modularity", "l1"), "essay_l2": ("regulariser_modularity", "l2"),
    "essay_weight_decay": ("regulariser_modularity", "weight_decay"),
    "essay_dropout": ("regulariser_modularity", "dropout"), "essay_prune": ("regulariser_modularity", "prune"),
    "essay_connection_cost": ("regulariser_modularity", "connection_cost"),
    "essay_mvg": ("regulariser_modularity", "mvg"), "essay_init": ("init", None),
    "essay_observational": ("observational", None), "essay_intervention": ("intervention", None),
}
SCORECARD_RULE = ("per task and measure a one-sided Mann-Whitney test against the reference at the chapter's alpha "
                  "(Holm within a family), healthy runs only, beside the Hodges-Lehmann shift with its 95% interval; "
                  "agree if every row is supported, disagree if every row is not supported (significant the other "
                  "way), partly if some are supported, else inconclusive")


def _task_why(task: str, rows: pd.DataFrame) -> str:
    """One task's part of a scorecard line: the verdict, the direction and the effect of a single
    comparison, or the counts over several."""
    if len(rows) == 1:
        row = rows.iloc[0]
        if pd.notna(row.effect) and np.isfinite(row.effect):
            fmt = FORMATS.get(row.measure, "+.3f")
            effect = f", shift {row.effect:{fmt}} [95%: {number_text(row.effect_low, fmt)}, {number_text(row.effect_high, fmt)}]"
        else:
            effect = ""
        return f"{task}: {row.verdict}" + (f", {row.points}" if row.points else "") + effect
    supported, against = count_verdict(rows, "supported"), count_verdict(rows, "not supported")
    pro = int(rows["points"].fillna("").str.contains("for the essay").sum())
    con = int(rows["points"].fillna("").str.contains("against the essay").sum())
    return (f"{task}: {supported} of {len(rows)} tests supported, {against} significant the other way; intervals: "
            f"{pro} point for the essay, {con} against")


def scorecard_records(claims_frame: pd.DataFrame, seeds) -> dict[str, scorecard.Record]:
    """Scorecard records of the essay's claims that this run of the chapter measured; each says,
    per task, its effect with a 95 % interval and which way the evidence points."""
    records = {}
    for claim_id, (family, arm) in SCORECARD_ROWS.items():
        rows = claims_frame[(claims_frame["family"] == family)
                            & ((claims_frame["arm"] == arm) if arm is not None else True)]
        if rows.empty:
            continue  # the arm or task was not run at this profile: the scorecard shows "not run"
        ours = "; ".join(f"{row.task}: {row.evidence} ({row.verdict})" for row in rows.itertuples())
        why = "; ".join(_task_why(task, block) for task, block in rows.groupby("task", sort=False))
        records[claim_id] = scorecard.record(claim_id, ours=ours, seeds=seeds, why=why,
                                             verdict=scorecard.combined_verdict(SCORECARD_WORDS[v] for v in rows["verdict"]),
                                             rule=SCORECARD_RULE)
    return records
