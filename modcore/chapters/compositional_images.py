"""The Fig. 4b chapter (notebook ``compositional_images``): accuracy against the number of images k.

Boopathy et al. (ICLR 2025), Fig. 4b: on Compositional CIFAR-10 the kernel-rule modular network
is the most accurate at every k and its lead grows with k. The claim is split by what each
comparison controls (:data:`modcore.runs.compositional.PAIRS`); a sensitivity row reruns one k
with other module provisionings. The runs, their training and the paired comparisons are shared
with the robustness and projections chapters (:mod:`modcore.runs.compositional`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure

from modcore import scorecard, stats, verdicts
from modcore.parameters import (DEVICE, DISTINCT, EXISTING_FOLDER, NONEMPTY, POSITIVE, SEED, ChapterParameters,
                                Relation, Rule, at_least, at_most, each, one_of, param)
from modcore.plots import compositional as comp_plots
from modcore.runs.compositional import (CLAIM_PAIRS, DATASET_NAMES, DIGIT_PIXELS, LEAD_SE, METHODS, METHOD_LABELS,
                                        PAIRS, PAIR_LABELS, PAPER_METHODS, PARAMS_TOLERANCE, CompositionalRun,
                                        accuracy_table, comparison, dataset_short, design, design_seeds,
                                        estimated_minutes, max_parameter_gap, pair_table, pair_text, pair_why,
                                        paper_fig4b, paper_pair_table, paper_parts, parameter_table, points,
                                        points_text, sweep)
from modcore.store import resolve_store
from modcore.tasks.cifar10 import OFFICIAL_MD5, Cifar10NotFoundError, find_batch_dir

# The largest k of Fig. 4b: a composite holds 1 to 8 images.
MAX_N_SLOTS = 8
# A module cannot read more inputs than the smallest composite has: DIGIT_PIXELS, the pixel count of
# one Compositional Digits image (the offline default), is the bound of module_dim's rule.


@dataclasses.dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The chapter's parameters: the only home of each one's type, default and rule. The
    notebook's parameters cell repeats the defaults (papermill needs literals there);
    tests/test_parameters.py keeps the two equal."""

    seed: int = param(0, SEED)  # first seed; runs use seed, seed + 1, ... (data split, composites, init)
    n_seeds: int = param(5, at_least(1))        # seeds per method and k (the paper: five)
    dataset: str = param("digits", one_of("digits", "cifar10"))  # "digits" (offline, bundled) or "cifar10"
    cifar10_path: str | None = param(None, EXISTING_FOLDER)  # folder with cifar-10-batches-py; None: MODCORE_CIFAR10
    # images per composite k (the paper: 1..8); a composite holds 1 to 8 images (Fig. 4b's range)
    n_slots_values: list[int] = param([1, 2, 3, 4, 5, 6, 7, 8], NONEMPTY, DISTINCT, each(at_least(1)),
                                      each(at_most(MAX_N_SLOTS)))
    n_train: int = param(4000, at_least(1))     # training composites (the paper does not say how many)
    n_test: int = param(1000, at_least(1))      # test composites per seed
    n_epochs: int = param(1, at_least(1))       # epochs over the training composites (the paper: one)
    batch_size: int = param(32, at_least(1))    # Adam minibatch
    lr: float = param(0.001, POSITIVE)          # Adam learning rate
    modules_per_slot: int = param(2, at_least(1))  # module provisioning: modules per image slot (K is this times k)
    module_dim: int = param(16, at_least(1))    # module provisioning: module input dimension b
    module_width: int = param(32, at_least(1))  # hidden units per layer of each module's MLP (two layers)
    kernel_n_steps: int = param(50, at_least(0))  # Algorithm 1 steps per module
    kernel_batch_size: int = param(128, at_least(2))  # Algorithm 1 kernel minibatch B (a kernel needs two points)
    sensitivity_n_slots: int = param(4, at_least(1), at_most(MAX_N_SLOTS))  # k of the provisioning sensitivity row
    # other [modules_per_slot, module_dim] pairs run at that k
    sensitivity_provisioning: list[list[int]] = param(
        [[1, 16]], each(Rule("len(x) == 2", lambda pair: len(pair) == 2)),
        each(Rule("min(x) >= 1", lambda pair: min(pair) >= 1)))
    device: str = param("auto", *DEVICE)        # "auto", "cpu" or "cuda"
    results_dir: str | None = param(None)       # None: results/compositional_images

    def relations(self):
        # a module cannot read more inputs than a composite has
        yield Relation(("module_dim", "n_slots_values"), f"module_dim <= {DIGIT_PIXELS} * min(n_slots_values)",
                       self.module_dim <= DIGIT_PIXELS * min(self.n_slots_values))


def gap_slope(n_slots_values: Sequence[float], gaps: Sequence[float]) -> float:
    """Least-squares slope of a comparison's difference against k (points with a difference only)."""
    return stats.least_squares_slope(n_slots_values, gaps)


def fig4b_verdict(standing: Sequence[str], slope: float) -> str:
    """The paper's claim "most accurate at every k, and its lead grows with k":
    'agree' if the kernel rule leads at every k and its lead over the best baseline grows
    (positive slope against k); 'disagree' if it trails at some k or leads at none; else 'partly'."""
    standing = list(standing)
    if not standing or "trails" in standing or "leads" not in standing:
        return verdicts.check("disagree")
    if all(word == "leads" for word in standing) and math.isfinite(slope) and slope > 0:
        return verdicts.check("agree")
    return verdicts.check("partly")


def trend_verdict(table: pd.DataFrame) -> str:
    """The Fig. 4b rule on one comparison: :func:`fig4b_verdict` on its words per k and the
    least-squares slope of its difference against k."""
    return fig4b_verdict(table.word, gap_slope(table.n_slots, table.difference))


def _at(table: pd.DataFrame, word: str) -> str:
    return ", ".join(str(int(k)) for k, w in zip(table.n_slots, table.word) if w == word) or "none"


def cifar10_status(dataset: str, cifar10_path: str | None = None) -> str:
    """Whether the chapter ran on CIFAR-10: "run", "not run: data not present", or "not run: data
    present, but this run uses <the stand-in>"."""
    if dataset == "cifar10":
        return "run"
    try:
        batch_dir = find_batch_dir(cifar10_path)
    except (Cifar10NotFoundError, ValueError):
        return "not run: data not present"
    if not all((batch_dir / name).is_file() for name in OFFICIAL_MD5):
        return "not run: data not present"
    return f"not run: data present, but this run uses {DATASET_NAMES[dataset]} (dataset='cifar10' runs it)"


# --- Fig. 4b's numbers, words and tables ------------------------------------------------------------


def fig4b_summary(frame: pd.DataFrame) -> dict:
    """The numbers (differences in percentage points) and verdict words of the
    compositional_images chapter, keyed by glue name: per comparison (:data:`PAIRS`) its verdict,
    where it leads and trails, its difference at the first and last k and its slope, and the same
    on the paper's digitised figure."""
    values = {}
    for pair in PAIRS:
        ours, paper = pair_table(frame, pair), paper_pair_table(pair)
        k_first, k_last = int(ours.n_slots.iloc[0]), int(ours.n_slots.iloc[-1])
        at_paper = paper.set_index("n_slots").difference
        key = f"cimg_{pair}"
        values.update({
            f"{key}_verdict": trend_verdict(ours), f"{key}_paper_verdict": trend_verdict(paper),
            f"{key}_leads_at": _at(ours, "leads"), f"{key}_trails_at": _at(ours, "trails"),
            f"{key}_first": points(ours.difference.iloc[0]), f"{key}_last": points(ours.difference.iloc[-1]),
            f"{key}_first_se": points(ours.se.iloc[0]), f"{key}_last_se": points(ours.se.iloc[-1]),
            f"{key}_slope": points(gap_slope(ours.n_slots, ours.difference)),
            f"{key}_paper_first": points(at_paper.get(k_first, math.nan)),
            f"{key}_paper_last": points(at_paper.get(k_last, math.nan)),
            f"{key}_paper_slope": points(gap_slope(paper.n_slots, paper.difference)),
        })
    values.update(cimg_k_first=int(frame.n_slots.min()), cimg_k_last=int(frame.n_slots.max()),
                  cimg_healthy=f"{int((~frame.diverged.astype(bool)).sum())} of {len(frame)}", cimg_lead_se=LEAD_SE)
    return values


FIG4B_RULE = (f"per comparison: agree if it leads (paired difference over seeds > {LEAD_SE:g} s.e.) at every k "
              f"and the difference grows with k (positive least-squares slope); disagree if it trails at some k "
              f"or leads at none; else partly. Orderings and gaps only, not absolute accuracies")


def fig4b_side_by_side(frame: pd.DataFrame) -> pd.DataFrame:
    """Ours (mean ± s.e. per method) beside the paper's values, per k, in percent."""
    table = accuracy_table(frame)
    paper = paper_fig4b().set_index(["n_slots", "method"])["mean"]
    rows = []
    for k, block in table.groupby("n_slots"):
        row = {"k": int(k)}
        for _, r in block.set_index("method").loc[[m for m in METHODS if m in set(block.method)]].reset_index().iterrows():
            row[f"ours: {METHOD_LABELS[r.method]}"] = f"{100 * r['mean']:.1f} ± {100 * r.se:.1f}" \
                if math.isfinite(r.se) else f"{100 * r['mean']:.1f}"
        for method in METHODS:
            value = paper.get((k, method), math.nan)
            row[f"paper: {PAPER_METHODS[method]}"] = f"{100 * value:.1f}" if math.isfinite(value) else ""
        rows.append(row)
    return pd.DataFrame(rows).set_index("k")


def pairs_side_by_side(frame: pd.DataFrame) -> pd.DataFrame:
    """Per k: each comparison's paired difference (mean ± s.e. over seeds, percentage points) and
    word, beside the paper's difference."""
    rows = {}
    for pair in PAIRS:
        ours = pair_table(frame, pair).set_index("n_slots")
        paper = paper_pair_table(pair).set_index("n_slots").difference
        for k, r in ours.iterrows():
            row = rows.setdefault(int(k), {})
            row[f"{PAIR_LABELS[pair]}: ours"] = f"{points_text(r.difference, r.se)} ({r.word})"
            row[f"{PAIR_LABELS[pair]}: paper"] = f"{points(paper[k]):+.1f}" if k in paper.index else ""
    table = pd.DataFrame(rows).T
    table.index.name = "k"
    return table


def all_slots_side_by_side(frame: pd.DataFrame) -> pd.DataFrame:
    """Our all-slots-correct accuracy (every image of a composite right) per k and method, mean ±
    s.e. in percent; the paper reports only the mean per-slot accuracy."""
    table = accuracy_table(frame, "all_slots_accuracy")
    table["cell"] = [f"{100 * m:.1f} ± {100 * e:.1f}" if math.isfinite(e) else f"{100 * m:.1f}"
                     for m, e in zip(table["mean"], table.se)]
    wide = table.pivot(index="n_slots", columns="method", values="cell")
    wide = wide[[m for m in METHODS if m in wide]].rename(columns=METHOD_LABELS)
    wide.index.name = "k"
    return wide


def provisioning_runs(runs: Sequence[CompositionalRun], provisioning: Sequence[Sequence[int]],
                      n_slots: int) -> list[CompositionalRun]:
    """The sensitivity runs: every method and seed of ``runs`` at k = ``n_slots`` with each
    (modules_per_slot, module_dim) of ``provisioning``, and with the runs' own provisioning."""
    base = [run for run in runs if run.n_slots == n_slots] or [dataclasses.replace(run, n_slots=n_slots)
                                                                 for run in runs if run.n_slots == runs[0].n_slots]
    variants = [(base[0].modules_per_slot, base[0].module_dim)] + [tuple(int(v) for v in pv) for pv in provisioning]
    out = []
    for modules_per_slot, module_dim in dict.fromkeys(variants):
        out += [dataclasses.replace(run, modules_per_slot=modules_per_slot, module_dim=module_dim) for run in base]
    return out


def provisioned(frame: pd.DataFrame, modules_per_slot: int, module_dim: int) -> pd.DataFrame:
    """The rows of ``frame`` with one provisioning (one row per run, duplicates dropped)."""
    rows = frame[(frame.modules_per_slot == modules_per_slot) & (frame.module_dim == module_dim)]
    return rows.drop_duplicates("key").reset_index(drop=True)


def sensitivity_table(frame: pd.DataFrame, n_slots: int) -> pd.DataFrame:
    """Per provisioning (modules per slot, module input dimension b) at k = ``n_slots``: K, the
    modular net's parameter count, and each claim's comparison (paired difference ± s.e. in
    points, with its word)."""
    data = frame[frame.n_slots == n_slots].drop_duplicates("key")
    rows = []
    for (modules_per_slot, module_dim), block in data.groupby(["modules_per_slot", "module_dim"], sort=False):
        row = {"modules per slot": int(modules_per_slot), "b": int(module_dim), "K": int(modules_per_slot) * n_slots,
               "parameters": int(block[block.method == "modular"].n_params_actual.iloc[0])
               if (block.method == "modular").any() else math.nan}
        for pair in CLAIM_PAIRS:
            table = pair_table(block, pair)
            r = table.iloc[0] if len(table) else None
            row[PAIR_LABELS[pair]] = (f"{points_text(r.difference, r.se)} ({r.word})" if r is not None else "n/a")
        rows.append(row)
    return pd.DataFrame(rows).set_index(["modules per slot", "b"])


def sensitivity_words(frame: pd.DataFrame, n_slots: int) -> dict:
    """Whether each comparison's word at k = ``n_slots`` is the same under every provisioning."""
    data = frame[frame.n_slots == n_slots].drop_duplicates("key")
    words = {}
    for pair in CLAIM_PAIRS:
        found = {comparison(*pair_table(block, pair)[["difference", "se"]].iloc[0])
                 for _, block in data.groupby(["modules_per_slot", "module_dim"])}
        words[f"cimg_sensitivity_{pair}"] = (f"the same under every provisioning ({found.pop()})" if len(found) == 1
                                             else "changes with the provisioning (" + ", ".join(sorted(found)) + ")")
    words["cimg_sensitivity_n_slots"] = n_slots
    return words



# --- what the notebook calls ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    """The chapter's runs: every (method, k, seed), and the provisioning sensitivity runs."""

    runs: list[CompositionalRun]
    sensitivity: list[CompositionalRun]

    def describe(self) -> str:
        return (f"{len(self.runs)} runs and {len(self.sensitivity)} sensitivity runs; estimated "
                f"{estimated_minutes(self.runs + self.sensitivity):.1f} min on 2 CPU cores")


def plan(p: Parameters) -> Plan:
    runs = design(METHODS, p.n_slots_values, seed=p.seed, n_seeds=p.n_seeds, device=p.device, dataset=p.dataset,
                  n_train=p.n_train, n_test=p.n_test, n_epochs=p.n_epochs, batch_size=p.batch_size, lr=p.lr,
                  modules_per_slot=p.modules_per_slot, module_dim=p.module_dim, module_width=p.module_width,
                  kernel_n_steps=p.kernel_n_steps, kernel_batch_size=p.kernel_batch_size)
    return Plan(runs, provisioning_runs(runs, p.sensitivity_provisioning, p.sensitivity_n_slots))


def parameters_table(plan: Plan) -> pd.DataFrame:
    """Parameter count and width of each method at each k (:func:`modcore.runs.compositional.parameter_table`)."""
    return parameter_table(plan.runs)


@dataclasses.dataclass(frozen=True)
class Results:
    """Every stored run (``everything``, sensitivity rows included) and the chapter's own runs
    (``frame``: the parameters cell's k and provisioning)."""

    everything: pd.DataFrame
    frame: pd.DataFrame


def results(p: Parameters, plan: Plan) -> Results:
    """Train what is missing from the store and read back every run."""
    store = resolve_store(p.results_dir, "compositional_images")
    everything = sweep(plan.runs + plan.sensitivity, store, cifar10_path=p.cifar10_path, desc="compositional_images")
    frame = provisioned(everything[everything.n_slots.isin(p.n_slots_values)], p.modules_per_slot, p.module_dim)
    return Results(everything, frame)


def accuracy_figure(p: Parameters, results: Results) -> Figure:
    """Ours against k beside the paper's Fig. 4b."""
    return comp_plots.accuracy_vs_slots(accuracy_table(results.frame), paper_fig4b(), METHOD_LABELS,
                                        ours_title=f"ours: {dataset_short(p.dataset)}",
                                        paper_title="paper: CIFAR-10 (Fig. 4b)")


def differences_figure(results: Results) -> Figure:
    """The two claimed comparisons as paired differences against k, ours beside the paper's."""
    return comp_plots.differences_vs_slots({PAIR_LABELS[pair]: (pair_table(results.frame, pair),
                                                                paper_pair_table(pair)) for pair in CLAIM_PAIRS})


def glued(p: Parameters, plan: Plan, results: Results) -> dict:
    """Every number and word the prose quotes, keyed by glue name."""
    values = dict(cimg_params_gap=max_parameter_gap(plan.runs + plan.sensitivity),
                  cimg_params_tolerance=PARAMS_TOLERANCE)
    values.update(fig4b_summary(results.frame))
    values.update(sensitivity_words(results.everything, p.sensitivity_n_slots))
    values["cimg_cifar10"] = cifar10_status(p.dataset, p.cifar10_path)
    values["cimg_dataset"] = DATASET_NAMES[p.dataset]
    return values


def claims(p: Parameters, summary: Mapping) -> dict[str, scorecard.Record]:
    """The chapter's scorecard records: one per claimed comparison, and the CIFAR-10 row
    (decided by ``summary["cimg_cifar10"]``, :func:`cifar10_status`)."""
    where = DATASET_NAMES[p.dataset]
    seeds = design_seeds(p.seed, p.n_seeds)
    records = {}
    for pair in CLAIM_PAIRS:
        claim_id, key = f"fig4b_{pair}", f"cimg_{pair}"
        verdict = summary[f"{key}_verdict"]
        records[claim_id] = scorecard.record(
            claim_id, ours=f"{where}: {pair_text(summary, 'cimg', pair)}", seeds=seeds, verdict=verdict,
            rule=FIG4B_RULE, why=f"{dataset_short(p.dataset)}: {pair_why(summary, 'cimg', pair)}",
            parts=paper_parts(verdict, summary[f"{key}_paper_verdict"],
                              f"the paper's figure scored by the same rule: {summary[f'{key}_paper_verdict']}"))
    cifar10 = summary["cimg_cifar10"]
    if cifar10 == "run":
        verdict = verdicts.combined(summary[f"cimg_{pair}_verdict"] for pair in CLAIM_PAIRS)
        records["fig4b_on_cifar10"] = scorecard.record(
            "fig4b_on_cifar10", ours=f"{where}: see the two Fig. 4b rows", seeds=seeds, verdict=verdict,
            rule="the two Fig. 4b comparisons combined (agree if both agree, partly if one does)",
            why="ran on CIFAR-10: " + ", ".join(f"{PAIR_LABELS[pair]} {summary[f'cimg_{pair}_verdict']}"
                                                for pair in CLAIM_PAIRS))
    else:
        records["fig4b_on_cifar10"] = scorecard.not_run_record("fig4b_on_cifar10",
                                                               reason=cifar10.removeprefix("not run: "))
    return records
