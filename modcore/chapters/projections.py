"""The projections chapter (notebook ``projections``): what the module projections read (Fig. 12)
and nonlinear projections (Table 2).

Boopathy et al. (ICLR 2025), Fig. 12: each learned projection of the Compositional CIFAR-10
network attends to one of the images; Table 2 replaces the linear projections by nonlinear ones
(its content is not in our sources: not testable, our measurement beside it). Algorithm 1 is run
as written (every slot's labels) and in our per-slot reading. Runs, training and the paired
comparisons: :mod:`modcore.runs.compositional`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from modcore import kernel_rule, scorecard, stats, verdicts
from modcore.parameters import (DEVICE, EXISTING_FOLDER, POSITIVE, SEED, ChapterParameters, Relation, at_least,
                                at_most, greater_than, less_than, one_of, param)
from modcore.plots import compositional as comp_plots
from modcore.runs.compositional import (DATASET_NAMES, DIGIT_PIXELS, IMAGE_SHAPES, KERNEL_LABELS, METHOD_LABELS,
                                        CompositionalRun, comparison, dataset_short, design, design_seeds,
                                        estimated_minutes, healthy, kernel_rule_labels, paired_difference, points,
                                        prepare_data, sweep)
from modcore.seeds import derive_seed
from modcore.store import resolve_store
from modcore.tasks import compositional as comp
from modcore.tasks.compositional import MAX_HELDOUT_N_SLOTS

@dataclasses.dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The chapter's parameters: the only home of each one's type, default and rule. The
    notebook's parameters cell repeats the defaults (papermill needs literals there);
    tests/test_parameters.py keeps the two equal."""

    seed: int = param(0, SEED)                  # first seed; runs use seed, seed + 1, ...; Fig. 12 shows this seed
    n_seeds: int = param(5, at_least(1))        # seeds per variant
    dataset: str = param("digits", one_of("digits", "cifar10"))  # "digits" (offline, bundled) or "cifar10"
    cifar10_path: str | None = param(None, EXISTING_FOLDER)  # folder with cifar-10-batches-py; None: MODCORE_CIFAR10
    # images per composite k: held-out combinations need 2 or more images, and the split
    # enumerates 10^k combinations
    n_slots: int = param(4, at_least(2), at_most(MAX_HELDOUT_N_SLOTS))
    heldout_fraction: float = param(0.25, greater_than(0), less_than(1))  # class combinations held out of training
    # the nonlinear projection of Table 2: act(U^T x)
    projection_activation: str = param("tanh", one_of("relu", "tanh", "gelu", "silu"))
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
    n_penalty_draws: int = param(16, at_least(2))  # random projections per reading (a standard error needs two)
    device: str = param("auto", *DEVICE)        # "auto", "cpu" or "cuda"
    results_dir: str | None = param(None)       # None: results/projections

    def relations(self):
        # a module cannot read more inputs than a composite has
        yield Relation(("module_dim", "n_slots"), f"module_dim <= {DIGIT_PIXELS} * n_slots",
                       self.module_dim <= DIGIT_PIXELS * self.n_slots)


# Fig. 12: a module "attends to one image" when at least this share of its projection's squared
# weight falls on one slot (1/k for a module that reads all slots evenly). Our choice.
FOCUS_SHARE = 0.5
# Table 2: nonlinear projections "work as well" when their accuracy is within this many points
# (fraction 0.02) of the linear ones, or within LEAD_SE standard errors. Our choice.
AS_WELL_TOLERANCE = 0.02
# Fig. 12's rule: it agrees when at least AGREE_FOCUS of the kernel-rule modules attend to one image,
# partly when at least PARTLY_FOCUS do (and more than in the random-init net). Our choice.
AGREE_FOCUS = 0.75
PARTLY_FOCUS = 0.25


def focus_fraction(max_shares: Sequence[Sequence[float]]) -> float:
    """Fraction of modules (pooled over runs) whose largest slot share is at least FOCUS_SHARE."""
    shares = np.concatenate([np.asarray(s, dtype=float) for s in max_shares]) if len(max_shares) else np.array([])
    return float((shares >= FOCUS_SHARE).mean()) if shares.size else math.nan


def fig12_verdict(kernel_focus: float, random_focus: float) -> str:
    """The paper's claim "each learned projection attends to one image": 'agree' if at least AGREE_FOCUS
    of the kernel-rule modules attend to one slot (largest slot share >= FOCUS_SHARE), 'partly' if
    at least PARTLY_FOCUS do and more than in the random-init net, else 'disagree'."""
    if not math.isfinite(kernel_focus):
        return verdicts.check("disagree")
    if kernel_focus >= AGREE_FOCUS:
        return verdicts.check("agree")
    if kernel_focus >= PARTLY_FOCUS and kernel_focus > random_focus:
        return verdicts.check("partly")
    return verdicts.check("disagree")


def as_well(difference: float, se: float) -> str:
    """'as well' if |difference| <= AS_WELL_TOLERANCE or the difference is not distinguishable
    from 0 (within LEAD_SE s.e.); else 'better' or 'worse'."""
    if not math.isfinite(difference):
        return "worse"
    if abs(difference) <= AS_WELL_TOLERANCE or comparison(difference, se) == "tied":
        return "as well"
    return "better" if difference > 0 else "worse"


def table2_verdict(in_distribution: str, out_of_distribution: str) -> str:
    """The paper's claim "nonlinear projections work as well as linear ones": 'agree' if they do
    as well or better in and out of distribution, 'disagree' if worse in both, else 'partly'."""
    words = [in_distribution, out_of_distribution]
    if "worse" not in words:
        return verdicts.check("agree")
    if words == ["worse", "worse"]:
        return verdicts.check("disagree")
    return verdicts.check("partly")


# --- Fig. 12 and Table 2 -------------------------------------------------------------------------------

# Readings of Algorithm 1 on composites, as labelled in the Fig. 12 figures and verdict.
READINGS = {"all_slots": "Algorithm 1 as written (every slot's labels)",
            "per_slot": "per-slot reading (our variant: one slot's labels per restart)"}


def _linear(frame: pd.DataFrame, method: str, kernel_labels: str = "all_slots") -> pd.DataFrame:
    data = healthy(frame)
    data = data[(data.method == method) & data.projection_activation.isna()]
    if "kernel_labels" in data:
        data = data[data.kernel_labels.fillna("all_slots") == kernel_labels]
    return data


def projection_maps(frame: pd.DataFrame, method: str, seed: int, image_shape: tuple, n_slots: int,
                    which: str = "projection_weights", kernel_labels: str = "all_slots") -> np.ndarray:
    """One run's per-module weight maps as images: (K, H, W * k) (channels summed)."""
    rows = _linear(frame, method, kernel_labels)
    row = rows[rows.seed == seed].iloc[0]
    weights = np.asarray(row[which], dtype=float)  # (K, m)
    return comp.unflatten_composites(weights, image_shape, n_slots).sum(axis=-1)


def fig12_maps(frame: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """Fig. 12's columns for one seed: {title: (K, H, W * k) maps} of the kernel-rule net at
    initialisation and after training, under each reading of Algorithm 1 that was run, and of the
    random-init net after training."""
    first = frame.iloc[0]
    shape, k = IMAGE_SHAPES[first.dataset], int(first.n_slots)
    columns = {}
    for labels, title in (("all_slots", "as written"), ("per_slot", "per slot (ours)")):
        if len(_linear(frame, "kernel_rule", labels)):
            columns[f"kernel rule {title}, initial U"] = projection_maps(frame, "kernel_rule", seed, shape, k,
                                                                         "initial_projection_weights", labels)
            columns[f"kernel rule {title}, trained"] = projection_maps(frame, "kernel_rule", seed, shape, k,
                                                                       kernel_labels=labels)
    columns["random U, trained"] = projection_maps(frame, "modular", seed, shape, k)
    return columns


def largest_slot_shares(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every module's largest slot share after training, pooled over healthy seeds, per linear
    modular variant: {label: shares}."""
    variants = {f"kernel rule, {READINGS[labels]}": _linear(frame, "kernel_rule", labels) for labels in KERNEL_LABELS}
    variants[METHOD_LABELS["modular"]] = _linear(frame, "modular")
    return {label: np.concatenate([np.asarray(s, dtype=float) for s in rows.max_slot_share])
            for label, rows in variants.items() if len(rows)}


def slot_focus_penalty(run: CompositionalRun, *, n_draws: int = 16, cifar10_path: str | None = None) -> pd.DataFrame:
    """Algorithm 1's objective Tr(Y^T (K + eps I)^-1 Y) (NTK of the module network at init, a
    minibatch of ``run.kernel_batch_size`` training composites of ``run``) for random unit
    projections confined to one slot's pixels against projections spread over all pixels, with
    the labels of every slot (the algorithm as written) and with the labels of the focused slot
    only (the per-slot reading). One row per reading: mean and s.e. over ``n_draws`` draws of
    each, and their ratio (focused / spread; above 1: the objective penalises focus)."""
    data = prepare_data(run, cifar10_path)
    spec = dataclasses.replace(run.modular_spec(), output_dim=1, init_projections=None)
    network = kernel_rule.module_network(spec)
    rng = np.random.default_rng(derive_seed(run.seed, 6))
    n_train, input_dim = data.x_train.shape
    batch = min(run.kernel_batch_size, n_train)
    slot_of_input = np.argmax(comp.split_slots(np.eye(input_dim), data.image_shape, run.n_slots)
                              .reshape(input_dim, run.n_slots, -1).sum(axis=2), axis=1)  # (m,)
    values = {(reading, shape): [] for reading in KERNEL_LABELS for shape in ("focused", "spread")}
    for draw in range(n_draws):
        rows = rng.choice(n_train, size=batch, replace=False)
        x, labels = data.x_train[rows], data.y_train[rows]
        slot = int(rng.integers(run.n_slots))
        spread = rng.standard_normal((input_dim, run.module_dim))
        focused = np.where((slot_of_input == slot)[:, None], rng.standard_normal((input_dim, run.module_dim)), 0.0)
        params = network.init(seed=derive_seed(run.seed, 7, draw))
        for reading, y in (("all_slots", kernel_rule_labels(labels)),
                           ("per_slot", kernel_rule_labels(labels[:, slot:slot + 1]))):
            for shape, u in (("focused", focused), ("spread", spread)):
                u = torch.as_tensor(u / np.linalg.norm(u, axis=0, keepdims=True), dtype=torch.float64)
                with torch.no_grad():
                    objective = kernel_rule.kernel_objective(u, x, y, kernel="ntk", network=network,
                                                             network_params=params)
                values[(reading, shape)].append(float(objective))
    rows = []
    for reading in KERNEL_LABELS:
        focused, spread = np.array(values[(reading, "focused")]), np.array(values[(reading, "spread")])
        (focused_mean, focused_se), (spread_mean, spread_se) = stats.mean_and_se(focused), stats.mean_and_se(spread)
        rows.append({"reading": READINGS[reading], "focused": focused_mean, "focused_se": focused_se,
                     "spread": spread_mean, "spread_se": spread_se, "ratio": focused_mean / spread_mean})
    return pd.DataFrame(rows).set_index("reading")


def fig12_summary(frame: pd.DataFrame, penalty: pd.DataFrame | None = None) -> dict:
    """Fig. 12's numbers and words: per reading of Algorithm 1 the share of modules attending to
    one image and the rule's word, the random-init net's share, and (given ``penalty``, from
    :func:`slot_focus_penalty`) the objective's focus ratio per reading."""
    n_slots = int(frame.n_slots.iloc[0])
    random_rows = _linear(frame, "modular")
    random_focus = focus_fraction(list(random_rows.max_slot_share))
    values = dict(proj_focus_random=random_focus,
                  proj_share_random=float(np.mean(np.concatenate([np.asarray(s) for s in random_rows.max_slot_share]))),
                  proj_even_share=1 / n_slots, proj_focus_share=FOCUS_SHARE, proj_n_slots=n_slots,
                  proj_agree_focus=AGREE_FOCUS, proj_partly_focus=PARTLY_FOCUS)
    words = []
    for labels, short in (("all_slots", "kernel"), ("per_slot", "per_slot")):
        rows = _linear(frame, "kernel_rule", labels)
        if rows.empty:
            continue
        focus = focus_fraction(list(rows.max_slot_share))
        word = fig12_verdict(focus, random_focus)
        words.append(word)
        values[f"proj_focus_{short}"] = focus
        values[f"proj_share_{short}"] = float(np.mean(np.concatenate([np.asarray(s) for s in rows.max_slot_share])))
        values[f"proj_{short}_word"] = word
        values[f"proj_start_cosine_{short}"] = float(rows.start_cosine.astype(float).mean())
    values["proj_verdict"] = verdicts.combined(words)
    if penalty is not None:
        for labels, short in (("all_slots", "all"), ("per_slot", "slot")):
            row = penalty.loc[READINGS[labels]]
            values[f"proj_penalty_{short}_focused"] = float(row.focused)
            values[f"proj_penalty_{short}_spread"] = float(row.spread)
            values[f"proj_penalty_{short}_ratio"] = float(row.ratio)
    return values


FIG12_RULE = (f"per reading of Algorithm 1: agree if at least {Fraction(AGREE_FOCUS)} of the kernel-rule modules "
              f"(after training) put at least {FOCUS_SHARE:.0%} of their squared projection weight on one image; "
              f"partly if at least {Fraction(PARTLY_FOCUS)} do and more than in the random-init modular net; else "
              f"disagree. The row combines the two readings "
              f"(agree if both agree, partly if one does)")


def table2(frame: pd.DataFrame) -> pd.DataFrame:
    """Modular nets with linear vs nonlinear projections (random init) and the kernel rule's
    linear ones: accuracy on seen and on unseen combinations, mean ± s.e. in percent."""
    rows = []
    data = healthy(frame)
    if "kernel_labels" in data:
        data = data[data.kernel_labels.fillna("all_slots") == "all_slots"]
    variants = [("modular", None, "linear U, random init"), ("modular", "nonlinear", "nonlinear act(U^T x), random init"),
                ("kernel_rule", None, "linear U, kernel-rule init")]
    for method, kind, label in variants:
        block = data[(data.method == method) & (data.projection_activation.isna() == (kind is None))]
        row = {"projection": label, "healthy runs": len(block)}
        for column, name in (("accuracy", "seen combinations"), ("heldout_accuracy", "unseen combinations")):
            mean, se = stats.mean_and_se(block[column].astype(float))
            row[name] = f"{100 * mean:.1f} ± {100 * se:.1f}" if math.isfinite(se) else f"{100 * mean:.1f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("projection")


def table2_summary(frame: pd.DataFrame) -> dict:
    """Nonlinear minus linear projections (random init), paired over seeds, in points, on seen and
    unseen combinations; our measurement only (Table 2's content is not in our sources)."""
    modular = frame[frame.method == "modular"].assign(
        method=lambda f: np.where(f.projection_activation.isna(), "linear", "nonlinear"), condition="all")
    values = {}
    for column, short in (("accuracy", "iid"), ("heldout_accuracy", "ood")):
        d = paired_difference(modular, "nonlinear", "linear", column, by="condition").iloc[0]
        values[f"tab2_{short}_difference"] = points(d.difference)
        values[f"tab2_{short}_se"] = points(d.se)
        values[f"tab2_{short}_word"] = as_well(d.difference, d.se)
    values["tab2_verdict"] = verdicts.NOT_IN_SOURCES
    return values


TABLE2_RULE = ("none can be applied: Table 2's numbers and its conclusion are not in the sources we have, so the "
               "claim is not testable; we report our own nonlinear-vs-linear measurement beside it")


# --- what the notebook calls ------------------------------------------------------------------------


def runs(p: Parameters) -> list[CompositionalRun]:
    """The modular nets at k = n_slots with the held-out split, recording their projections: random
    init and kernel rule (as written), kernel rule (per slot), and random init with nonlinear
    projections. The first run (random init, seed ``seed``) also sets the focus penalty's data."""
    common = dict(seed=p.seed, n_seeds=p.n_seeds, device=p.device, dataset=p.dataset, n_train=p.n_train,
                  n_test=p.n_test, n_epochs=p.n_epochs, batch_size=p.batch_size, lr=p.lr,
                  modules_per_slot=p.modules_per_slot, module_dim=p.module_dim, module_width=p.module_width,
                  kernel_n_steps=p.kernel_n_steps, kernel_batch_size=p.kernel_batch_size,
                  heldout_fraction=p.heldout_fraction, record_projections=True)
    return (design(["modular", "kernel_rule"], [p.n_slots], **common)
            + design(["kernel_rule"], [p.n_slots], kernel_labels="per_slot", **common)
            + design(["modular"], [p.n_slots], projection_activation=p.projection_activation, **common))


def describe(runs: list[CompositionalRun]) -> str:
    return f"{len(runs)} runs; estimated {estimated_minutes(runs):.1f} min on 2 CPU cores"


def results(p: Parameters, runs: list[CompositionalRun]) -> pd.DataFrame:
    """Train what is missing from the store and read back every run."""
    return sweep(runs, resolve_store(p.results_dir, "projections"), cifar10_path=p.cifar10_path,
                 desc="projections")


def penalty(p: Parameters, runs: list[CompositionalRun]) -> pd.DataFrame:
    """:func:`slot_focus_penalty` on the data of the first run."""
    return slot_focus_penalty(runs[0], n_draws=p.n_penalty_draws, cifar10_path=p.cifar10_path)


def maps_figure(p: Parameters, frame: pd.DataFrame) -> Figure:
    """Fig. 12: each module's projection as an image of the composite, seed ``seed``."""
    return comp_plots.projection_maps(fig12_maps(frame, p.seed), p.n_slots,
                                      title=f"{dataset_short(p.dataset)}, k = {p.n_slots}: which slot and pixels "
                                            f"each module reads")


def shares_figure(p: Parameters, frame: pd.DataFrame) -> Figure:
    """Each module's largest slot share, per variant."""
    return comp_plots.slot_share_histogram(largest_slot_shares(frame), even_share=1 / p.n_slots,
                                           focus_share=FOCUS_SHARE)


def glued(p: Parameters, frame: pd.DataFrame, penalty: pd.DataFrame) -> dict:
    """Every number and word the prose quotes, keyed by glue name: Fig. 12's and Table 2's."""
    return {**fig12_summary(frame, penalty), **table2_summary(frame), "proj_n_penalty_draws": p.n_penalty_draws}


def claims(p: Parameters, summary: Mapping) -> dict[str, scorecard.Record]:
    """The chapter's scorecard records: Fig. 12 (one part per reading of Algorithm 1) and Table 2."""
    where = f"{DATASET_NAMES[p.dataset]}, k = {p.n_slots}"
    seeds = design_seeds(p.seed, p.n_seeds)
    short_name = dataset_short(p.dataset)
    parts = [scorecard.part(READINGS[labels], summary[f"proj_{short}_word"],
                            f"{summary[f'proj_focus_{short}']:.0%} of the modules attend to one image "
                            f"(random init {summary['proj_focus_random']:.0%})")
             for labels, short in (("all_slots", "kernel"), ("per_slot", "per_slot"))
             if f"proj_{short}_word" in summary]
    penalty = (f"; Algorithm 1's objective costs a one-slot U {summary['proj_penalty_all_ratio']:.1f} x a spread one "
               f"with every slot's labels, {summary['proj_penalty_slot_ratio']:.2f} x with one slot's"
               if "proj_penalty_all_ratio" in summary else "")
    return {
        "fig12_projections_visualised": scorecard.record(
            "fig12_projections_visualised", seeds=seeds, verdict=summary["proj_verdict"], rule=FIG12_RULE, parts=parts,
            ours=f"{where}: " + "; ".join(f"{part['label']}: {part['evidence']}" for part in parts) + penalty,
            why=f"{short_name}: one image per module in "
                + ", ".join(f"{summary[f'proj_focus_{short}']:.0%} ({name})" for short, name in
                            (("kernel", "as written"), ("per_slot", "per slot")) if f"proj_focus_{short}" in summary)
                + f" vs {summary['proj_focus_random']:.0%} random" + penalty),
        "table2_nonlinear_projections": scorecard.record(
            "table2_nonlinear_projections", seeds=seeds, verdict=summary["tab2_verdict"], rule=TABLE2_RULE,
            ours=f"{where}: our measurement, nonlinear minus linear projections {summary['tab2_iid_difference']:+.1f} ± "
                 f"{summary['tab2_iid_se']:.1f} points on seen combinations, {summary['tab2_ood_difference']:+.1f} ± "
                 f"{summary['tab2_ood_se']:.1f} on unseen ones",
            why=f"Table 2's numbers and conclusion are not in our sources; ours: nonlinear minus linear "
                f"{summary['tab2_iid_difference']:+.1f} points ({short_name})"),
    }
