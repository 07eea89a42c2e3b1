"""The robustness chapter (notebook ``robustness``): unseen class combinations and noisy inputs.

Boopathy et al. (ICLR 2025), the out-of-distribution and noise table: on Compositional CIFAR-10
the kernel-rule modular network is the most accurate on class combinations never seen in training
and under input noise. The three networks of the Fig. 4b chapter at one k, trained on composites
whose class combinations avoid a held-out set, tested on seen combinations, unseen ones and noisy
inputs. Runs, training and the paired comparisons: :mod:`modcore.runs.compositional`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure

from modcore import scorecard, stats, verdicts
from modcore.parameters import (DEVICE, EXISTING_FOLDER, POSITIVE, SEED, ChapterParameters, Relation, at_least,
                                at_most, greater_than, less_than, one_of, param)
from modcore.plots import compositional as comp_plots
from modcore.runs.compositional import (CLAIM_PAIRS, DATASET_NAMES, DIGIT_PIXELS, LEAD_SE, METHODS, METHOD_LABELS,
                                        PAIRS, CompositionalRun, dataset_short, design, design_seeds, estimated_minutes,
                                        healthy, ordering, pair_table, pair_text, pair_why, paper_parts,
                                        paper_robustness, parameter_table, points, sweep)
from modcore.store import resolve_store
from modcore.tasks.compositional import MAX_HELDOUT_N_SLOTS

@dataclasses.dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The chapter's parameters: the only home of each one's type, default and rule. The
    notebook's parameters cell repeats the defaults (papermill needs literals there);
    tests/test_parameters.py keeps the two equal."""

    seed: int = param(0, SEED)                  # first seed; runs use seed, seed + 1, ...
    n_seeds: int = param(5, at_least(1))        # seeds per method
    dataset: str = param("digits", one_of("digits", "cifar10"))  # "digits" (offline, bundled) or "cifar10"
    cifar10_path: str | None = param(None, EXISTING_FOLDER)  # folder with cifar-10-batches-py; None: MODCORE_CIFAR10
    # images per composite k (the paper does not say): held-out combinations need 2 or more images,
    # and the split enumerates 10^k combinations
    n_slots: int = param(4, at_least(2), at_most(MAX_HELDOUT_N_SLOTS))
    heldout_fraction: float = param(0.25, greater_than(0), less_than(1))  # class combinations held out of training
    input_noise: float = param(0.3, POSITIVE)  # std of the test inputs' Gaussian noise (pixel range 1); 0: no noisy set
    n_train: int = param(4000, at_least(1))     # training composites
    n_test: int = param(1000, at_least(1))      # composites per test set
    n_epochs: int = param(1, at_least(1))       # epochs (the paper: one)
    batch_size: int = param(32, at_least(1))    # Adam minibatch
    lr: float = param(0.001, POSITIVE)          # Adam learning rate
    modules_per_slot: int = param(2, at_least(1))  # modules per image slot (K is this times k)
    module_dim: int = param(16, at_least(1))    # module input dimension b
    module_width: int = param(32, at_least(1))  # hidden units per layer of each module's MLP (two layers)
    kernel_n_steps: int = param(50, at_least(0))  # Algorithm 1 steps per module
    kernel_batch_size: int = param(128, at_least(2))  # Algorithm 1 kernel minibatch B (a kernel needs two points)
    device: str = param("auto", *DEVICE)        # "auto", "cpu" or "cuda"
    results_dir: str | None = param(None)       # None: results/robustness

    def relations(self):
        # a module cannot read more inputs than a composite has
        yield Relation(("module_dim", "n_slots"), f"module_dim <= {DIGIT_PIXELS} * n_slots",
                       self.module_dim <= DIGIT_PIXELS * self.n_slots)


def robustness_verdict(heldout: str, noisy: str) -> str:
    """The paper's claim "most accurate on unseen combinations and under noise", from the kernel
    rule's standing on each ('leads', 'tied', 'trails'): 'agree' if it leads on both, 'disagree'
    if it trails on either or leads on neither, else 'partly'."""
    words = [heldout, noisy]
    if words == ["leads", "leads"]:
        return verdicts.check("agree")
    if "trails" in words or "leads" not in words:
        return verdicts.check("disagree")
    return verdicts.check("partly")


# --- the table, the bars and the numbers ------------------------------------------------------------


def robustness_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method: our in-distribution, held-out-combination and noisy accuracy (mean and s.e.)
    beside the paper's two columns, all in percent."""
    paper = paper_robustness()
    rows = []
    for method in METHODS:
        block = healthy(frame)[frame.method == method]
        row = {"method": METHOD_LABELS[method], "healthy runs": len(block)}
        for column, name in (("accuracy", "seen combinations"), ("heldout_accuracy", "unseen combinations"),
                             ("noisy_accuracy", "noisy inputs")):
            mean, se = stats.mean_and_se(block[column].astype(float))
            row[f"ours: {name}"] = f"{100 * mean:.1f} ± {100 * se:.1f}" if math.isfinite(se) else f"{100 * mean:.1f}"
        row["paper: unseen combinations"] = f"{100 * paper.loc[method, 'heldout_accuracy']:.2f}"
        row["paper: noisy inputs"] = f"{100 * paper.loc[method, 'noisy_accuracy']:.2f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


CONDITIONS = {"accuracy": "seen combinations", "heldout_accuracy": "unseen combinations",
              "noisy_accuracy": "noisy inputs"}


def robustness_bars(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ours, paper) for the bar chart: index method, one column per test condition; our cells
    are (mean, s.e.) over healthy seeds, the paper's its value."""
    data = healthy(frame)
    ours = pd.DataFrame({name: {method: stats.mean_and_se(data[data.method == method][column].astype(float))
                                for method in METHODS}
                         for column, name in CONDITIONS.items()})
    paper = paper_robustness().rename(columns=CONDITIONS)[[CONDITIONS["heldout_accuracy"], CONDITIONS["noisy_accuracy"]]]
    return ours, paper


def split_gaps(frame: pd.DataFrame) -> dict:
    """Per method: unseen minus seen combinations, paired over seeds (points, mean and s.e.): how
    much the OOD split costs each network."""
    data = healthy(frame)
    values = {}
    for method in METHODS:
        block = data[data.method == method]
        diff = (block.heldout_accuracy.astype(float) - block.accuracy.astype(float)).dropna()
        mean, se = stats.mean_and_se(diff)
        values[f"rob_split_{method}"] = points(mean)
        values[f"rob_split_{method}_se"] = points(se)
    return values


def robustness_summary(frame: pd.DataFrame) -> dict:
    """Per comparison (:data:`PAIRS`) and test set: the paired difference in points, its word and
    the paper's difference; per claimed comparison the verdict on the paper's table and ours; the
    cost of the OOD split per method."""
    frame = frame.assign(condition="all")
    paper = paper_robustness()
    values = {}
    for pair, (method, other) in PAIRS.items():
        words = {}
        for column, short in (("heldout_accuracy", "ood"), ("noisy_accuracy", "noise"), ("accuracy", "iid")):
            d = pair_table(frame, pair, column, by="condition").iloc[0]
            words[short] = d.word
            values[f"rob_{pair}_{short}"] = points(d.difference)
            values[f"rob_{pair}_{short}_se"] = points(d.se)
            values[f"rob_{pair}_{short}_word"] = d.word
            if short != "iid":
                values[f"rob_{pair}_{short}_paper"] = points(paper.loc[method, column] - paper.loc[other, column])
        values[f"rob_{pair}_verdict"] = robustness_verdict(words["ood"], words["noise"])
        paper_words = ["leads" if values[f"rob_{pair}_{c}_paper"] > 0 else "trails" for c in ("ood", "noise")]
        values[f"rob_{pair}_paper_verdict"] = robustness_verdict(*paper_words)
    for column, short in (("heldout_accuracy", "ood"), ("noisy_accuracy", "noise"), ("accuracy", "iid")):
        values[f"rob_{short}_ordering"] = ordering(healthy(frame).groupby("method")[column].mean().to_dict())
    values.update(split_gaps(frame))
    values["rob_healthy"] = f"{int((~frame.diverged.astype(bool)).sum())} of {len(frame)}"
    values["rob_lead_se"] = LEAD_SE
    return values


ROBUSTNESS_RULE = (f"per comparison: agree if it leads (paired difference over seeds > {LEAD_SE:g} s.e.) on unseen "
                   f"combinations and on noisy inputs; disagree if it trails on either or leads on neither; else "
                   f"partly. Orderings and gaps only")


# --- what the notebook calls ------------------------------------------------------------------------


def runs(p: Parameters) -> list[CompositionalRun]:
    """Every (method, seed) at k = n_slots, with the held-out split and the noisy test set."""
    return design(METHODS, [p.n_slots], seed=p.seed, n_seeds=p.n_seeds, device=p.device, dataset=p.dataset,
                  n_train=p.n_train, n_test=p.n_test, n_epochs=p.n_epochs, batch_size=p.batch_size, lr=p.lr,
                  modules_per_slot=p.modules_per_slot, module_dim=p.module_dim, module_width=p.module_width,
                  kernel_n_steps=p.kernel_n_steps, kernel_batch_size=p.kernel_batch_size,
                  heldout_fraction=p.heldout_fraction, input_noise=p.input_noise)


def describe(runs: list[CompositionalRun]) -> str:
    return f"{len(runs)} runs; estimated {estimated_minutes(runs):.1f} min on 2 CPU cores"


def parameters_table(runs: list[CompositionalRun]) -> pd.DataFrame:
    """Parameter count and width of each method (:func:`modcore.runs.compositional.parameter_table`)."""
    return parameter_table(runs)


def results(p: Parameters, runs: list[CompositionalRun]) -> pd.DataFrame:
    """Train what is missing from the store and read back every run."""
    return sweep(runs, resolve_store(p.results_dir, "robustness"), cifar10_path=p.cifar10_path,
                 desc="robustness")


def bars_figure(p: Parameters, frame: pd.DataFrame) -> Figure:
    """Ours on the three test sets beside the paper's table."""
    ours, paper = robustness_bars(frame)
    return comp_plots.robustness_bars(ours, paper, METHOD_LABELS,
                                      ours_title=f"ours: {dataset_short(p.dataset)}, k = {p.n_slots}",
                                      paper_title="paper: CIFAR-10")


def glued(p: Parameters, frame: pd.DataFrame) -> dict:
    """Every number and word the prose quotes, keyed by glue name."""
    return {**robustness_summary(frame), "rob_dataset": DATASET_NAMES[p.dataset]}


def claims(p: Parameters, summary: Mapping) -> dict[str, scorecard.Record]:
    """The chapter's scorecard records: one per claimed comparison."""
    where = f"{DATASET_NAMES[p.dataset]}, k = {p.n_slots}"
    seeds = design_seeds(p.seed, p.n_seeds)
    conditions = (("ood", "unseen combinations"), ("noise", "noise"))
    records = {}
    for pair in CLAIM_PAIRS:
        claim_id, key = f"robustness_{pair}", f"rob_{pair}"
        verdict = summary[f"{key}_verdict"]
        records[claim_id] = scorecard.record(
            claim_id, ours=f"{where}: {pair_text(summary, 'rob', pair, conditions)}", seeds=seeds,
            verdict=verdict, rule=ROBUSTNESS_RULE,
            why=f"{dataset_short(p.dataset)}: {pair_why(summary, 'rob', pair, conditions)}",
            parts=paper_parts(verdict, summary[f"{key}_paper_verdict"],
                              f"the paper's table scored by the same rule: {summary[f'{key}_paper_verdict']}"))
    return records
