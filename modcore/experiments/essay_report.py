"""The essay chapter's tables, verdicts, figure panels and literature notes.

Everything here reads the frame of runs that :func:`modcore.sweeps.run_sweep` returns for
:func:`modcore.experiments.essay.run_essay` and computes what ``notebooks/essay_modularity.py``
shows; the statistics come from :mod:`modcore.stats`, the figures are drawn by
:mod:`modcore.plots.essay`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modcore import paper_values, stats
from modcore.experiments.essay import PRIMARY_GOAL, REGULARISER_ARMS, condition_label
from modcore.tasks import digit_pairs

# Claim families: the identifier each row of the claims table carries, and how the text names it.
CLAIM_FAMILIES = {
    "regularisers": "regularisers make networks more modular than the control",
    "init": "trained networks are more modular than at init",
    "observational": "more modular networks generalise better, across runs",
    "intervention": "hard-wired modules generalise better (intervention)",
}
NOT_APPLICABLE = "n/a"


def primary_score(frame: pd.DataFrame) -> str:
    """Column of the primary modularity score: z of the n-cut at the first k (negative = modular)."""
    return f"ncut_k{frame['n_clusters'].iloc[0][0]}_z"


def with_conditions(frame: pd.DataFrame) -> pd.DataFrame:
    """The sweep's frame plus a ``condition`` label per run (arm, strength, non-primary goal)."""
    frame = frame.copy()
    frame["condition"] = [condition_label(a, s, g, t) for a, s, g, t in
                          zip(frame["arm"], frame["strength"], frame["goal"], frame["task"])]
    return frame


def _seed_text(runs: pd.DataFrame) -> str:
    seeds = sorted(runs["seed"].unique().tolist())
    return f"seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"


# --- literature ------------------------------------------------------------------------------

# Filan et al.'s condition closest to each arm: (condition, pruned).
FILAN_CONDITION = {"none": ("control", False), "dropout": ("dropout", False), "l1": ("l1", False),
                   "l2": ("l2", False), "weight_decay": ("l2", False), "prune": ("control", True)}
LITERATURE_NOTES = {
    "connection_cost": "Clune et al. 2013: a connection cost gave more modular evolved retina networks "
                       "(evolution, no gradient-descent numbers)",
    "mvg": "Kashtan & Alon 2005: modularly varying goals gave modular evolved circuits "
           "(evolution, no gradient-descent numbers)",
    "observational": "Filan et al. publish no gap-modularity correlation; Clune et al. and Kashtan & Alon "
                     "measure adaptation to new goals, not a train-test gap",
    "intervention": "Boopathy et al. 2025: modular architectures beat dense ones on modular tasks "
                    "(no clusterability numbers)",
}


def load_literature() -> pd.DataFrame:
    """Filan et al. (2021)'s MLP clusterability numbers (``modcore/data/filan2021_mlp_clusterability.csv``)."""
    return paper_values.load_csv("filan2021_mlp_clusterability")


def literature_text(arm: str, literature: pd.DataFrame) -> str:
    """Filan et al.'s MLP z-scores for the condition closest to ``arm`` (or a note)."""
    if arm in FILAN_CONDITION:
        condition, pruned = FILAN_CONDITION[arm]
        rows = literature[(literature["condition"] == condition) & (literature["pruned"] == pruned)]
        parts = [f"{r.dataset} z = {r.z:+.1f} ({r.n_significant:.0f}/{r.n_networks:.0f} sig.)"
                 for r in rows.itertuples()]
        name = "control" if condition == "control" and not pruned else condition + (" + prune" if pruned else "")
        closest = " (closest: their explicit L2 penalty)" if arm == "weight_decay" else ""
        return f"Filan et al. MLP {name}{closest}: " + "; ".join(parts)
    if arm == "init":
        init = literature[literature["condition"] == "random_init"].iloc[0]
        trained = literature[(literature["condition"] == "control") & ~literature["pruned"]
                             & (literature["dataset"] == "mnist")].iloc[0]
        return (f"Filan et al. MLP, k = 12: n-cut {init.ncut:.2f} at init (n = {init.n_networks:.0f}) vs "
                f"{trained.ncut:.2f} trained (MNIST)")
    return LITERATURE_NOTES.get(arm, "")


# --- the claims table ------------------------------------------------------------------------

def _compare(runs: pd.DataFrame, value: str, reference: str, conditions: list[str], *, claim: str,
             alpha: float) -> pd.DataFrame:
    samples = {c: runs.loc[runs["condition"] == c, value] for c in conditions}
    return stats.compare_with_reference(samples, runs.loc[runs["condition"] == reference, value],
                                        claim=claim, alpha=alpha)


def claims_table(frame: pd.DataFrame, literature: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """One row per (task, claim): the claim family's identifier, our numbers, the literature's
    and the verdict from the pre-declared rules.

    Rules (declared before any run):
      * a regulariser causes modularity: its runs' n-cut z (first k, vs 'all' shuffles) is lower
        than the control's; one-sided Mann-Whitney, Holm across the regulariser conditions;
      * trained nets are more modular than at init: the control's z is lower than init's
        (one-sided Mann-Whitney, single test);
      * modularity causes generalisation (observational): within-condition OLS slope of the
        accuracy gap on z has a 95% CI entirely above 0 (more modular = smaller gap);
      * modularity causes generalisation (intervention): block-masked nets have a lower gap
        and a higher held-out accuracy than the control (one-sided Mann-Whitney, Holm across
        the metrics).
    """
    frame = with_conditions(frame)
    rows = []
    for task, runs in frame.groupby("task", sort=False):
        score = primary_score(runs)
        seed_text = _seed_text(runs)
        primary = runs[runs["goal"] == PRIMARY_GOAL[task]]
        arm_of = dict(zip(primary["condition"], primary["arm"]))
        regulariser = [c for c in primary["condition"].unique() if arm_of[c] in REGULARISER_ARMS]
        has_control = (primary["arm"] == "none").any()
        control = condition_label("none", 0.0, PRIMARY_GOAL[task], task)

        def add(family: str, claim: str, arm: str, evidence: str, verdict_word: str) -> None:
            rows.append(dict(family=family, task=task, claim=claim, evidence=evidence + f" [{seed_text}]",
                             literature=literature_text(arm, literature), verdict=verdict_word))

        if has_control and regulariser:
            table = _compare(primary, score, control, regulariser, claim="lower", alpha=alpha)
            for row in table.itertuples():
                add("regularisers", f"{row.name} makes nets more modular", arm_of[row.name],
                    f"median z {row.median:+.2f} vs control {row.reference_median:+.2f}; Holm p = "
                    f"{row.p_claimed_holm:.3f} (n = {row.n})", row.verdict)
        if has_control and (primary["arm"] == "init").any():
            init = condition_label("init", 0.0, PRIMARY_GOAL[task], task)
            row = _compare(primary, score, init, [control], claim="lower", alpha=alpha).iloc[0]
            raw = score.removesuffix("_z") + "_score"
            init_ncut = primary.loc[primary["arm"] == "init", raw].median()
            none_ncut = primary.loc[primary["arm"] == "none", raw].median()
            add("init", "trained nets are more modular than at init", "init",
                f"median z {row['median']:+.2f} trained vs {row['reference_median']:+.2f} init (p = "
                f"{row['p_claimed']:.3f}); raw n-cut {none_ncut:.3f} vs {init_ncut:.3f}", row["verdict"])
        observed = primary[primary["arm"].isin(("none",) + REGULARISER_ARMS)]
        if len(observed) > 2:
            fit = stats.slope_with_ci(observed[score], observed["gap"], observed["condition"])
            add("observational", "more modular nets generalise better (across runs)", "observational",
                f"within-condition slope of gap on z {fit['slope']:+.4f} per unit z, 95% CI "
                f"[{fit['low']:+.4f}, {fit['high']:+.4f}], n = {fit['n']}",
                stats.interval_verdict(fit["low"], fit["high"], claim="positive"))
        if has_control and (primary["arm"] == "block_mask").any():
            block = primary.loc[primary["arm"] == "block_mask", "condition"].iloc[0]
            metrics = [("gap", "lower", "gap"), ("test_accuracy", "higher", "test accuracy")]
            if primary["heldout_accuracy"].notna().any():
                metrics.append(("heldout_accuracy", "higher", "held-out accuracy"))
            compared = [_compare(primary, metric, control, [block], claim=claim, alpha=alpha).iloc[0]
                        for metric, claim, _ in metrics]
            p_claimed = stats.holm([row.p_claimed for row in compared])
            p_opposite = stats.holm([row.p_opposite for row in compared])
            for (_, _, name), row, pc, po in zip(metrics, compared, p_claimed, p_opposite):
                add("intervention", f"hard-wired modules generalise better ({name})", "intervention",
                    f"block mask vs control: {name} {row['median']:.3f} vs {row['reference_median']:.3f}; "
                    f"Holm p = {pc:.3f}", stats.verdict(pc, po, alpha))
    return pd.DataFrame(rows, columns=["family", "task", "claim", "evidence", "literature", "verdict"])


def summarise_verdicts(claims: pd.DataFrame) -> dict[str, str]:
    """One sentence per claim family, e.g. ``'retina: 1 supported, 5 inconclusive (of 6)'``, from
    the ``family`` and ``verdict`` columns of :func:`claims_table` (for glueing into the text)."""
    summary = {}
    for family in CLAIM_FAMILIES:
        rows = claims[claims["family"] == family]
        parts = [f"{task}: {stats.count_verdicts(group['verdict'])}" for task, group in rows.groupby("task", sort=False)]
        summary[family] = "; ".join(parts) if parts else "not run at this profile"
    return summary


def heldout_summary(frame: pd.DataFrame) -> str:
    """Median held-out-combination accuracy of the digit task's control, block-masked and
    two-head networks, as one sentence (or a note when the digit task was not run)."""
    digits = frame[frame["task"] == "digits"]
    if digits.empty or digits["heldout_accuracy"].isna().all():
        return "the digit task was not run at this profile"
    parts = []
    for label, rows in [("control", digits[(digits["arm"] == "none") & (digits["goal"] == "sum")]),
                        ("block mask", digits[digits["arm"] == "block_mask"]),
                        ("two-head control", digits[(digits["arm"] == "none") & (digits["goal"] == "both")])]:
        if len(rows):
            parts.append(f"{label} {rows['heldout_accuracy'].median():.3f}")
    return "median held-out-combination accuracy: " + ", ".join(parts) + f" (chance {1 / digit_pairs.N_CLASSES:.1f})"


# --- tables and figure panels ------------------------------------------------------------------

def _count(flags: pd.Series) -> str:
    return f"{int(flags.sum())}/{len(flags)}"


def condition_table(frame: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Medians per task and condition, rounded to 3 decimals: accuracies, gaps, modularity
    z-scores (n-cut at the first k vs 'all' and 'nonzero' shuffles, Louvain Q vs 'all'), runs
    significantly more modular than their shuffles (n-cut p < alpha), and runs whose partition
    separates the input groups. A column that does not apply to any run of the frame is left
    out; a cell that does not apply to its row reads "n/a"."""
    frame = with_conditions(frame)
    rows = []
    for (task, condition), runs in frame.groupby(["task", "condition"], sort=False):
        score = primary_score(runs)
        base = score.removesuffix("_z")
        row = {"task": task, "condition": condition, "runs": len(runs),
               "train acc": runs["train_accuracy"].median(), "test acc": runs["test_accuracy"].median(),
               "held-out acc": runs["heldout_accuracy"].median(), "gap": runs["gap"].median(),
               "n-cut": runs[base + "_score"].median(), "n-cut z": runs[score].median(),
               "n-cut z (nonzero null)": runs["nz_" + score].median(),
               "sig. runs": _count(runs[base + "_p_value"] < alpha),
               "Louvain Q": runs["q_louvain_score"].median() if "q_louvain_score" in runs else np.nan,
               "Q z": runs["q_louvain_z"].median() if "q_louvain_z" in runs else np.nan,
               "inputs separated": _count(runs["inputs_separated"].astype(bool))}
        rows.append(row)
    table = pd.DataFrame(rows).dropna(axis=1, how="all")
    numeric = table.select_dtypes("number").columns.drop("runs")
    table[numeric] = table[numeric].round(3)
    return table.astype(object).where(table.notna(), NOT_APPLICABLE)


def modularity_panels(frame: pd.DataFrame, *, n_bootstrap: int = 2000, seed: int) -> list[dict]:
    """Panels for :func:`modcore.plots.essay.scores_by_condition`: one per task, every condition
    of the primary goal, the task's primary n-cut z per run, with median and bootstrap CI."""
    frame = with_conditions(frame)
    panels = []
    for task, runs in frame.groupby("task", sort=False):
        column = primary_score(runs)
        runs = runs[runs["goal"] == PRIMARY_GOAL[task]]
        values = {c: runs.loc[runs["condition"] == c, column].to_numpy() for c in runs["condition"].unique()}
        summary = {c: stats.bootstrap_median_ci(v, n_bootstrap=n_bootstrap, seed=seed) for c, v in values.items()}
        k = runs["n_clusters"].iloc[0][0]
        panels.append(dict(title=f"{task}, goal '{PRIMARY_GOAL[task]}', n-cut at k = {k}", runs=values,
                           summary=summary))
    return panels


def gap_panels(frame: pd.DataFrame) -> list[dict]:
    """Panels for :func:`modcore.plots.essay.gap_vs_score`: trained free networks (control and
    regularisers, primary goal), gap against the primary n-cut z, with the within-condition slope."""
    frame = with_conditions(frame)
    panels = []
    for task, runs in frame.groupby("task", sort=False):
        score = primary_score(runs)
        runs = runs[(runs["goal"] == PRIMARY_GOAL[task]) & runs["arm"].isin(("none",) + REGULARISER_ARMS)]
        fit = stats.slope_with_ci(runs[score], runs["gap"], runs["condition"])
        fit |= dict(x_mean=float(np.nanmean(runs[score])), y_mean=float(np.nanmean(runs["gap"])))
        pooled = stats.slope_with_ci(runs[score], runs["gap"])
        points = {c: (g[score].to_numpy(), g["gap"].to_numpy()) for c, g in runs.groupby("condition", sort=False)}
        panels.append(dict(title=f"{task}: {len(runs)} runs", points=points, fit=fit,
                           fit_label=f"within-arm slope {fit['slope']:+.3f}\n(pooled {pooled['slope']:+.3f})"))
    return panels


def _intervention_groups(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {"control": runs[runs["arm"] == "none"], "regularised": runs[runs["arm"].isin(REGULARISER_ARMS)],
            "block mask": runs[runs["arm"] == "block_mask"]}


def intervention_panels(frame: pd.DataFrame, *, kind: str) -> list[dict]:
    """Panels for :func:`modcore.plots.essay.intervention`: control, regularised free nets and
    block-masked nets (primary goal), one panel per task and metric.

    ``kind="generalisation"``: gap, test accuracy and (digits) held-out-combination accuracy;
    ``kind="modularity"``: the primary n-cut z against both nulls.
    """
    if kind not in ("generalisation", "modularity"):
        raise ValueError(f"kind must be 'generalisation' or 'modularity', got {kind=!r}")
    panels = []
    for task, runs in frame.groupby("task", sort=False):
        score = primary_score(runs)
        runs = runs[runs["goal"] == PRIMARY_GOAL[task]]
        if kind == "generalisation":
            columns = {"gap (train - test acc.)": "gap", "test accuracy": "test_accuracy"}
            if runs["heldout_accuracy"].notna().any():
                columns["held-out comb. accuracy"] = "heldout_accuracy"
        else:
            columns = {"n-cut z, all-weight null": score, "n-cut z, mask-keeping null": "nz_" + score}
        groups = _intervention_groups(runs)
        for label, column in columns.items():
            panels.append(dict(title=f"{task}: {label}", ylabel=label,
                               groups={g: r[column].to_numpy() for g, r in groups.items() if len(r)}))
    return panels
