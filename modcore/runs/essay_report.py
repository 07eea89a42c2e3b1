"""The essay chapter's tables, verdicts, figure panels and literature notes.

Everything here reads the frame of runs that :func:`modcore.chapters.essay_modularity.run_chapter`
returns and computes what ``notebooks/essay_modularity.py`` shows; the statistics come from
:mod:`modcore.stats`, the figures are drawn by :mod:`modcore.plots.essay`.

Only *healthy* runs enter a verdict (:func:`with_health`): a run whose final training loss is
not finite or above ``DIVERGED_LOSS_FACTOR`` x the chance loss has diverged; an arm whose median
training accuracy is more than the stated margin below its control's median has underfit (all
its runs: underfitting is a property of the arm at its strength, and dropping single runs by
their training accuracy would select them; a swept arm is judged by the strength sweep, on seeds
of its own). A comparison with fewer than ``min_healthy_runs``
healthy runs on either side is inconclusive.

Every comparison reports the Hodges-Lehmann shift of the arm against its reference with a
distribution-free 95 % interval and which way it points (for or against the essay), the
smallest shift its runs can detect (:func:`modcore.stats.detectable_effect`, at Holm's strictest
level within its family), and its Holm-adjusted one-sided verdict.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from modcore import paper_values, scorecard, stats
from modcore.runs.essay import REGULARISER_ARMS, SAW_RELATED_GOAL, condition_label
from modcore.tasks.two_halves import PRIMARY_GOAL, RELATED_GOAL

# A trained network whose final training loss exceeds this multiple of the loss of predicting
# the label frequencies has learnt nothing usable. Our choice; the verdicts never see such runs.
DIVERGED_LOSS_FACTOR = 2.0
# Claim families of the chain: the identifier each row of the claims table carries, and its text.
CLAIM_FAMILIES = {
    "regulariser_modularity": "regularisers make networks more modular than the control",
    "init": "trained networks are more modular than at init",
    "intervention": "hard-wired modules generalise better to the related goal (intervention)",
    "observational": "more modular networks generalise better to the related goal (across runs)",
    "regulariser_generalisation": "regularisers make networks generalise better to the related goal",
    "mediation": "regularisers make networks generalise better through modularity",
}
NOT_APPLICABLE = "n/a"
PRIMARY_SCORE = "ncut_ratio"  # n-cut / mean of the degree-preserving null: below 1 = more modular
TRANSFER = "transfer_accuracy"
FINETUNE = "finetune_steps"
GOAL_NAMES = {"and": "L-AND-R", "or": "L-OR-R", "sum": "(a + b) mod 10", "diff": "(a - b) mod 10"}


def with_conditions(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame plus a ``condition`` label per run (arm, strength, non-primary goal)."""
    frame = frame.copy()
    frame["condition"] = [condition_label(a, s, g, t) for a, s, g, t in
                          zip(frame["arm"], frame["strength"], frame["goal"], frame["task"])]
    return frame


def with_health(frame: pd.DataFrame, *, margin: float) -> pd.DataFrame:
    """The frame with ``condition`` and ``health``: 'untrained' (the init arm), 'diverged' (per
    run), 'underfit' or 'healthy'. Underfitting is judged per arm, never per run (dropping single
    runs by their own training accuracy would select them): an arm whose strength the sweep chose
    carries the sweep's verdict in ``admissible`` (decided on the sweep's own seeds; False: no
    strength kept the median training accuracy within ``margin`` of the control's, so all its runs
    are underfit); any other trained arm (or a frame without ``admissible``) is underfit when its
    median training accuracy over its runs that did not diverge is more than ``margin`` below the
    median of the task's control. The two-head control is checked for divergence only."""
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1), got {margin=}")
    frame = with_conditions(frame)
    diverged = ~np.isfinite(frame["train_loss"]) | (frame["train_loss"] > DIVERGED_LOSS_FACTOR * frame["chance_loss"])
    primary = frame["goal"] == frame["task"].map(PRIMARY_GOAL)
    control = frame[(frame["arm"] == "none") & primary & ~diverged]
    reference = control.groupby("task")["train_accuracy"].median()
    trained = primary & ~diverged & (frame["arm"] != "init")
    medians = frame[trained].groupby(["task", "condition"])["train_accuracy"].median()
    floor = medians.index.get_level_values("task").map(reference) - margin
    short = set(medians.index[medians.to_numpy() < floor.to_numpy()])
    by_median = pd.Series([(t, c) in short for t, c in zip(frame["task"], frame["condition"])], index=frame.index)
    admissible = frame["admissible"] if "admissible" in frame else pd.Series(np.nan, index=frame.index, dtype=object)
    swept = admissible.notna()
    underfit = trained & np.where(swept, admissible.fillna(True) == False, by_median)  # noqa: E712
    frame["health"] = np.select([frame["arm"] == "init", diverged, underfit], ["untrained", "diverged", "underfit"],
                                "healthy")
    return frame


def usable_runs(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["health"].isin(("healthy", "untrained"))]


def _seed_text(runs: pd.DataFrame) -> str:
    seeds = sorted(runs["seed"].unique().tolist())
    return f"seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"


# --- literature ------------------------------------------------------------------------------

# Filan et al.'s condition closest to each arm: (condition, pruned).
FILAN_CONDITION = {"none": ("control", False), "dropout": ("dropout", False), "l1": ("l1", False),
                   "l2": ("l2", False), "weight_decay": ("l2", False), "prune": ("control", True),
                   "clusterable_init": ("clusterable_init", False)}
LITERATURE_NOTES = {
    "connection_cost": "Clune et al. 2013: a connection cost gave more modular evolved retina networks "
                       "(evolution; no z-scores)",
    "mvg": "Kashtan & Alon 2005: modularly varying goals gave modular evolved circuits (evolution; no z-scores)",
    "rmvg": "proposed as a sharper test of modularly varying goals; no published result",
    "l2_norm": "no published clusterability of the unsquared L2 norm",
    "init": "Filan et al. MLP: n-cut {init:.2f} at init (k = 12, {n:.0f} networks) vs {trained:.2f} trained (MNIST)",
    "intervention": "Clune et al. and Kashtan & Alon: modular evolved networks adapt faster to new goals",
}


def load_literature() -> pd.DataFrame:
    """Filan et al. (2021)'s MLP clusterability numbers (``modcore/data/filan2021_mlp_clusterability.csv``)."""
    return paper_values.load_csv("filan2021_mlp_clusterability")


def literature_text(arm: str, literature: pd.DataFrame) -> str:
    """Filan et al.'s MLP z-scores for the condition closest to ``arm`` (their all-weight shuffle,
    k = 12, 5 networks), or a note where no published number matches."""
    if arm in FILAN_CONDITION:
        condition, pruned = FILAN_CONDITION[arm]
        rows = literature[(literature["condition"] == condition) & (literature["pruned"] == pruned)]
        parts = [f"{r.dataset.replace('mnist', 'MNIST').replace('fashion', 'Fashion')} z = {r.z:+.1f} "
                 f"({r.n_significant:.0f}/{r.n_networks:.0f} sig.)" for r in rows.itertuples()]
        name = condition.replace("_", " ") + (" + prune" if pruned else "")
        closest = ", their squared L2 the closest" if arm == "weight_decay" else ""
        return f"Filan et al. MLP {name}{closest}: " + "; ".join(parts)
    if arm == "init":
        init = literature[literature["condition"] == "random_init"].iloc[0]
        trained = literature[(literature["condition"] == "control") & ~literature["pruned"]
                             & (literature["dataset"] == "mnist")].iloc[0]
        return LITERATURE_NOTES["init"].format(init=init.ncut, n=init.n_networks, trained=trained.ncut)
    return LITERATURE_NOTES.get(arm, "")


# --- the claims table ------------------------------------------------------------------------

class _Rows:
    """Collects the claims table's rows for one task."""

    def __init__(self, task: str, runs: pd.DataFrame, literature: pd.DataFrame, alpha: float, min_healthy: int,
                 power: float):
        self.task, self.runs, self.literature, self.alpha, self.min_healthy = task, runs, literature, alpha, min_healthy
        self.power = power
        self.rows: list[dict] = []
        self.seed_text = _seed_text(runs)

    def add(self, family: str, claim: str, evidence: str, verdict: str, literature: str = "", *, arm: str = "",
            reference: str = "", measure: str = "", row=None, points: str = "", why: str = "") -> None:
        """One row of the claims table; ``row`` (a compared pair) supplies the effect columns."""
        effect = {key: getattr(row, key) for key in ("effect", "effect_low", "effect_high", "detectable",
                                                      "detectable_sd", "n", "n_reference")} if row is not None else {}
        seeds = _seed_text(self.runs[self.runs["arm"].isin([a for a in (arm, reference) if a])]) if arm else self.seed_text
        self.rows.append(dict(family=family, task=self.task, arm=arm, reference=reference, measure=measure,
                              claim=claim, evidence=f"{evidence} [{seeds}]", literature=literature,
                              verdict=verdict, points=points or (row.points if row is not None else ""),
                              why=why or (_why(row, measure) if row is not None else evidence), **effect))

    def sample(self, arm: str, column: str) -> np.ndarray:
        values = usable_runs(self.runs).loc[self.runs["arm"] == arm, column].to_numpy(dtype=float)
        return values[np.isfinite(values)]

    def compare(self, pairs: list[tuple[str, str]], column: str, claim: str) -> pd.DataFrame:
        """Each (arm, reference arm) on ``column``, Holm across the pairs; a pair with too few
        healthy runs gets no p-value (so no place in the family) and an inconclusive verdict.
        Every pair also gets its shift with a 95 % interval, its direction, and the shift its runs
        can detect at Holm's strictest level in the family (in the column's units and in standard
        deviations)."""
        rows = []
        for arm, reference in pairs:
            sample, base = self.sample(arm, column), self.sample(reference, column)
            enough = min(sample.size, base.size) >= self.min_healthy
            less, greater = stats.one_sided_mann_whitney(sample, base) if enough else (math.nan, math.nan)
            claimed, opposite = (less, greater) if claim == "lower" else (greater, less)
            shift, low, high = stats.shift_interval(sample, base, level=EFFECT_LEVEL)
            rows.append(dict(arm=arm, reference=reference, n=sample.size, n_reference=base.size, enough=enough,
                             median=np.median(sample) if sample.size else math.nan,
                             reference_median=np.median(base) if base.size else math.nan,
                             p_claimed=claimed, p_opposite=opposite, effect=shift, effect_low=low, effect_high=high,
                             points=points(column, low, high), spread=stats.pooled_sd(sample, base)))
        table = pd.DataFrame(rows)
        if table.empty:
            return table
        family = int(table["enough"].sum())
        table["detectable_sd"] = [stats.detectable_effect(r.n, r.n_reference, alpha=self.alpha, n_tests=max(family, 1),
                                                          power=self.power) for r in table.itertuples()]
        table["detectable"] = table["detectable_sd"] * table["spread"]
        table["family_size"] = family
        return stats.with_holm_verdicts(table, self.alpha)

    def label(self, arm: str) -> str:
        runs = self.runs[self.runs["arm"] == arm]
        return runs["condition"].iloc[0] if len(runs) else arm


def number_text(value: float, fmt: str) -> str:
    return f"{value:{fmt}}" if np.isfinite(value) else NOT_APPLICABLE


# Every comparison's shift comes with an interval at this level (distribution-free, Hodges-Lehmann).
EFFECT_LEVEL = 0.95
# Which way a shift of each measure points: (above 0, below 0), in the essay's terms.
DIRECTIONS = {
    PRIMARY_SCORE: ("less modular: against the essay", "more modular: for the essay"),
    TRANSFER: ("generalises better: for the essay", "generalises worse: against the essay"),
    FINETUNE: ("adapts slower: against the essay", "adapts faster: for the essay"),
}
UNITS = {PRIMARY_SCORE: "n-cut / null", TRANSFER: "G2 readout accuracy", FINETUNE: "fine-tuning steps"}
FORMATS = {PRIMARY_SCORE: "+.3f", TRANSFER: "+.3f", FINETUNE: "+.0f"}


def points(measure: str, low: float, high: float) -> str:
    """Which way the 95 % interval of a shift points, in the essay's terms."""
    above, below = DIRECTIONS[measure]
    return stats.direction(low, high, positive=above, negative=below)


def _shift_text(row, measure: str, *, with_direction: bool = True) -> str:
    fmt = FORMATS[measure]
    if np.isfinite(row.effect_low) and np.isfinite(row.effect_high):
        interval = f"[95%: {number_text(row.effect_low, fmt)}, {number_text(row.effect_high, fmt)}]"
    else:
        interval = "(95% interval unbounded with so few runs)"
    return f"shift {number_text(row.effect, fmt)} {interval}" + (f", {row.points}" if with_direction else "")


def _why(row, measure: str) -> str:
    """One line: the shift and its interval, the Holm verdict's p, the runs."""
    if not row.enough:
        return f"too few healthy runs ({row.n} vs {row.n_reference})"
    return (f"{_shift_text(row, measure, with_direction=False)}; Holm p = {row.p_claimed_holm:.3f}; "
            f"n = {row.n} vs {row.n_reference}")


def _evidence(row, metric: str, fmt: str, reference_name: str) -> str:
    values = f"{metric} {number_text(row.median, fmt)} vs {reference_name} {number_text(row.reference_median, fmt)}"
    if not row.enough:
        return f"too few healthy runs ({row.n} vs {row.n_reference}); {values}"
    measure = {"n-cut / null": PRIMARY_SCORE, "G2 readout accuracy": TRANSFER}.get(metric, FINETUNE)
    detectable = (f"the runs detect a shift of {row.detectable:.3g} ({row.detectable_sd:.2f} SD) with "
                  f"probability {{power}} at Holm's strictest level" if np.isfinite(row.detectable)
                  else "no shift can pass Holm's strictest level with these runs")
    return (f"{values}; {_shift_text(row, measure)}; Holm p = {row.p_claimed_holm:.3f} (n = {row.n} vs "
            f"{row.n_reference}); {detectable}")


def claims_table(frame: pd.DataFrame, literature: pd.DataFrame, *, alpha: float, margin: float,
                 min_healthy_runs: int, power: float = 0.8) -> pd.DataFrame:
    """One row per (task, claim of the chain): the family's identifier, our evidence, the
    literature's number where the setting matches, and the verdict from the rules declared in
    the notebook before any run. Every test uses healthy runs only (:func:`with_health`)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha=}")
    frame = with_health(frame, margin=margin)
    all_rows = []
    for task, runs in frame.groupby("task", sort=False):
        runs = runs[runs["goal"] == PRIMARY_GOAL[task]]
        rows = _Rows(task, runs, literature, alpha, min_healthy_runs, power)
        arms = set(runs["arm"])
        has = lambda arm: arm in arms  # noqa: E731
        regularisers = [a for a in REGULARISER_ARMS if has(a)]
        if has("none") and regularisers:  # claim 1
            table = rows.compare([(a, "none") for a in regularisers], PRIMARY_SCORE, "lower")
            for row in table.itertuples():
                filan_z = rows.sample(row.arm, "filan_ncut_z")
                filan = number_text(float(np.median(filan_z)) if filan_z.size else math.nan, "+.1f")
                rows.add("regulariser_modularity", f"{rows.label(row.arm)} makes nets more modular",
                         _evidence(row, "n-cut / null", ".3f", "control") + f"; our z vs Filan's null {filan}",
                         row.verdict, literature_text(row.arm, literature), arm=row.arm, reference="none",
                         measure=PRIMARY_SCORE, row=row)
        if has("none") and has("init"):
            row = next(rows.compare([("none", "init")], PRIMARY_SCORE, "lower").itertuples())
            rows.add("init", "trained nets are more modular than at init",
                     _evidence(row, "n-cut / null", ".3f", "untrained"), row.verdict, literature_text("init", literature),
                     arm="none", reference="init", measure=PRIMARY_SCORE, row=row)
        pairs = [(a, r) for a, r in (("block_mask", "none"), ("block_mask", "random_mask"),
                                     ("clusterable_init", "none")) if has(a) and has(r)]
        if pairs:
            tests = [(pair, column, claim) for pair in pairs for column, claim in ((TRANSFER, "higher"),
                                                                                  (FINETUNE, "lower"))]
            compared = [next(rows.compare([pair], column, claim).itertuples()) for pair, column, claim in tests]
            p_claimed = stats.holm([c.p_claimed for c in compared])
            p_opposite = stats.holm([c.p_opposite for c in compared])
            for (pair, column, _), row, pc, po in zip(tests, compared, p_claimed, p_opposite):
                metric = "G2 readout accuracy" if column == TRANSFER else "G2 fine-tuning steps"
                row = row._replace(p_claimed_holm=pc)
                rows.add("intervention", f"{rows.label(pair[0])} beats {rows.label(pair[1])}: {metric}",
                         _evidence(row, metric, ".3f" if column == TRANSFER else ".0f", rows.label(pair[1])),
                         stats.verdict(pc, po, alpha) if row.enough else "inconclusive",
                         literature_text("intervention", literature), arm=pair[0], reference=pair[1], measure=column,
                         row=row)
        free = usable_runs(runs[runs["arm"].isin(("none",) + REGULARISER_ARMS) & ~runs["arm"].isin(SAW_RELATED_GOAL)])
        free = free[free["health"] == "healthy"]
        slope = None
        if len(free) >= 3:
            for column, claim, metric in ((TRANSFER, "negative", "G2 readout accuracy"),
                                          (FINETUNE, "positive", "G2 fine-tuning steps")):
                fit = stats.slope_with_ci(free[PRIMARY_SCORE], free[column], free["condition"])
                verdict = stats.interval_verdict(fit["low"], fit["high"], claim=claim)
                slope = verdict if column == TRANSFER else slope
                # the essay predicts a negative slope of readout accuracy on n-cut / null and a
                # positive one of fine-tuning steps
                above, below = (("against the essay", "for the essay") if claim == "negative"
                                else ("for the essay", "against the essay"))
                direction = stats.direction(fit["low"], fit["high"], positive=above, negative=below)
                text = (f"within-arm slope {fit['slope']:+.3f} per unit of n-cut / null, 95% CI "
                        f"[{fit['low']:+.3f}, {fit['high']:+.3f}], n = {fit['n']}")
                rows.add("observational", f"more modular nets (lower n-cut / null) have better {metric}", text,
                         verdict, "Filan et al. publish no clusterability-generalisation relation", measure=column,
                         points=direction, why=f"{text}: {direction}")
        transferring = [a for a in regularisers if a not in SAW_RELATED_GOAL]
        if has("none") and transferring:
            modular = {row.arm: row.verdict for row in
                       rows.compare([(a, "none") for a in transferring], PRIMARY_SCORE, "lower").itertuples()}
            table = rows.compare([(a, "none") for a in transferring], TRANSFER, "higher")
            for row in table.itertuples():
                rows.add("regulariser_generalisation", f"{rows.label(row.arm)} generalises better to G2",
                         _evidence(row, "G2 readout accuracy", ".3f", "control"), row.verdict, arm=row.arm,
                         reference="none", measure=TRANSFER, row=row)
            for row in table.itertuples():
                verdict, why = mediation_verdict(modular[row.arm], row.verdict, slope)
                rows.add("mediation", f"{rows.label(row.arm)} generalises better through modularity", why, verdict,
                         arm=row.arm, reference="none", measure=TRANSFER, points="", why=why)
        all_rows += rows.rows
    columns = ["family", "task", "arm", "reference", "measure", "claim", "evidence", "literature", "verdict", "points",
               "why", "effect", "effect_low", "effect_high", "detectable", "detectable_sd", "n", "n_reference"]
    table = pd.DataFrame(all_rows, columns=columns)
    table["evidence"] = [e.replace("{power}", f"{power:g}") for e in table["evidence"]]
    return table


def verdict_table(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims table as the reader sees it: the chain's claim families in order, without the
    identifier columns."""
    order = {family: i for i, family in enumerate(CLAIM_FAMILIES)}
    tasks = {task: i for i, task in enumerate(claims["task"].unique())}
    table = claims.assign(order=claims["family"].map(order), task_order=claims["task"].map(tasks))
    table = table.sort_values(["task_order", "order"], kind="stable")
    table["family"] = table["family"].map(CLAIM_FAMILIES)
    return table.rename(columns={"family": "link of the chain", "evidence": "ours",
                                 "literature": "published"})[["task", "link of the chain", "claim", "ours",
                                                              "published", "verdict", "points", "why"]
                                                             ].reset_index(drop=True)


def mediation_verdict(modularity_verdict: str, generalisation_verdict: str, slope_verdict: str | None
                      ) -> tuple[str, str]:
    """The declared rule for "regulariser -> generalisation through modularity": supported when
    the regulariser makes nets more modular, makes them generalise better, and more modular nets
    generalise better (the observational slope); not supported when any of the three is
    significant the other way, or the regulariser helps generalisation without making nets more
    modular; otherwise inconclusive. Returns (verdict, the three verdicts as text)."""
    slope_verdict = slope_verdict or "inconclusive"
    why = (f"more modular: {modularity_verdict}; generalises better: {generalisation_verdict}; "
           f"modularity-generalisation slope: {slope_verdict}")
    links = (modularity_verdict, generalisation_verdict, slope_verdict)
    if all(v == "supported" for v in links):
        return "supported", why
    if "not supported" in links or (generalisation_verdict == "supported" and modularity_verdict != "supported"):
        return "not supported", why
    return "inconclusive", why


def summarise_verdicts(claims: pd.DataFrame) -> dict[str, str]:
    """One sentence per claim family, e.g. ``'retina: 1 supported, 5 inconclusive (of 6)'``, from
    the ``family`` and ``verdict`` columns of :func:`claims_table` (for glueing into the text)."""
    summary = {}
    for family in CLAIM_FAMILIES:
        rows = claims[claims["family"] == family]
        parts = [f"{task}: {stats.count_verdicts(group['verdict'])}" for task, group in rows.groupby("task", sort=False)]
        summary[family] = "; ".join(parts) if parts else "not run at this profile"
    return summary


def count_verdict(rows: pd.DataFrame, word: str) -> int:
    return int((rows["verdict"] == word).sum())


def _verdict_of(rows: pd.DataFrame, arm: str, reference: str, measure: str) -> str:
    match = rows[(rows["arm"] == arm) & (rows["reference"] == reference) & (rows["measure"] == measure)]
    return match["verdict"].iloc[0] if len(match) else "not measured"


def answer(claims: pd.DataFrame, frame: pd.DataFrame, *, margin: float) -> str:
    """The chapter's one-paragraph answer to the essay's title, computed from the claims table.

    Per task: how many regularisers made networks more (and less) modular; how hard-wired modules
    did on the related goal against the control and the random mask; the observational slope; how
    many regularisers generalised better, and through modularity. The closing word: the chain
    *holds* when both links and a mediated effect are supported; otherwise the links that find
    support are named; *does not hold* when neither does and some test went the other way;
    otherwise the runs do not settle it."""
    frame = with_health(frame, margin=margin)
    sentences = []
    for task, rows in claims.groupby("task", sort=False):
        runs = frame[frame["task"] == task]
        family = {f: rows[rows["family"] == f] for f in CLAIM_FAMILIES}
        link1, mediation = family["regulariser_modularity"], family["mediation"]
        intervention, observational = family["intervention"], family["observational"]
        block = intervention[intervention["arm"] == "block_mask"]
        link1_for, link1_against = (link1["verdict"] == "supported").any(), (link1["verdict"] == "not supported").any()
        link2 = pd.concat([block, observational])
        link2_for, link2_against = (link2["verdict"] == "supported").any(), (link2["verdict"] == "not supported").any()
        if link1_for and link2_for:
            overall = ("holds" if (mediation["verdict"] == "supported").any() else
                       "finds support in both links, but no regulariser generalised better through modularity")
        elif link1_for:
            overall = "finds support only in its first link (regularisers make networks more modular)"
        elif link2_for:
            overall = "finds support only in its second link (modular networks generalise better)"
        elif link1_against or link2_against:
            overall = "does not hold"
        else:
            overall = "is not settled by these runs"
        healthy = int((runs["health"] == "healthy").sum())
        trained = int((runs["health"] != "untrained").sum())
        versus = "; ".join(
            f"against the {name}, readout accuracy {_verdict_of(block, 'block_mask', reference, TRANSFER)} and "
            f"fine-tuning speed {_verdict_of(block, 'block_mask', reference, FINETUNE)}"
            for reference, name in (("none", "control"), ("random_mask", "random mask")))
        slope = _verdict_of(observational, "", "", TRANSFER)
        generalising = family["regulariser_generalisation"]
        sentences.append(
            f"On the {task} task ({healthy} of {trained} trained networks healthy), "
            f"{count_verdict(link1, 'supported')} of {len(link1)} regularisers made networks more modular than "
            f"the control against the degree-preserving null and {count_verdict(link1, 'not supported')} less "
            f"modular. Hard-wired modules generalising better to the related goal {GOAL_NAMES[RELATED_GOAL[task]]}: "
            f"{versus}; more modular free networks doing so, across runs: {slope}. "
            f"{count_verdict(generalising, 'supported')} of {len(generalising)} regularisers generalised better, "
            f"{count_verdict(mediation, 'supported')} through modularity. On this task the essay's chain {overall}.")
    return " ".join(sentences) if sentences else "No task was run at this profile."


def _overall(family: dict) -> str:
    link1, mediation = family["regulariser_modularity"], family["mediation"]
    block = family["intervention"][family["intervention"]["arm"] == "block_mask"]
    link2 = pd.concat([block, family["observational"]])
    link1_for, link1_against = (link1["verdict"] == "supported").any(), (link1["verdict"] == "not supported").any()
    link2_for, link2_against = (link2["verdict"] == "supported").any(), (link2["verdict"] == "not supported").any()
    if link1_for and link2_for:
        return ("holds" if (mediation["verdict"] == "supported").any() else
                "finds support in both links, but no regulariser generalised better through modularity")
    if link1_for:
        return "finds support only in its first link"
    if link2_for:
        return "finds support only in its second link"
    if link1_against or link2_against:
        return "does not hold"
    return "is not settled by these runs"


def short_answer(claims: pd.DataFrame) -> str:
    """One sentence per task for the top of the page: where link 1's evidence points (significant
    after Holm, or only by its 95 % interval), what the hard-wired modules did, and the chain's
    overall word (:func:`answer` gives the long form)."""
    sentences = []
    for task, rows in claims.groupby("task", sort=False):
        family = {f: rows[rows["family"] == f] for f in CLAIM_FAMILIES}
        link1 = family["regulariser_modularity"]
        more, less = count_verdict(link1, "supported"), count_verdict(link1, "not supported")
        against = int(((link1["verdict"] == "inconclusive") & link1["points"].str.contains("against")).sum())
        toward = int(((link1["verdict"] == "inconclusive") & link1["points"].str.contains("for the essay")).sum())
        block = family["intervention"][family["intervention"]["arm"] == "block_mask"]
        wired = (f"hard-wired modules: {count_verdict(block, 'supported')} of {len(block)} generalisation tests "
                 f"supported, {count_verdict(block, 'not supported')} against" if len(block) else
                 "no hard-wired modules run")
        sentences.append(
            f"{task.capitalize()}: of {len(link1)} regularisers, {more} made networks significantly more modular "
            f"and {less} significantly less (Holm); of the rest, {against} point less modular and {toward} more by "
            f"their 95 % intervals; {wired}; the chain {_overall(family)}.")
    return " ".join(sentences) if sentences else "No task was run at this profile."


def power_table(claims: pd.DataFrame, *, alpha: float, target_effect: float, power: float) -> pd.DataFrame:
    """Per task and family of comparisons: the tests in its Holm family, Holm's strictest level,
    the seeds per side a power calculation asks for to detect ``target_effect`` (a shift in standard
    deviations) with probability ``power``, the fewest healthy runs per side and the largest
    standardised shift needed to be detected over its comparisons that can pass, and how many
    cannot pass at all (too few healthy runs: even complete separation misses the level)."""
    rows = []
    for (task, family), block in claims[claims["n"].notna()].groupby(["task", "family"], sort=False):
        enough = block[np.minimum(block["n"], block["n_reference"]) >= 2]
        m = max(len(enough), 1)
        finite = block[np.isfinite(block["detectable_sd"].astype(float))]
        runs = np.minimum(finite["n"], finite["n_reference"]) if len(finite) else pd.Series([0])
        rows.append({"task": task, "comparisons": CLAIM_FAMILIES[family], "tests in the Holm family": m,
                     "strictest level": alpha / m,
                     "seeds needed per side": stats.seeds_for_power(target_effect, alpha=alpha, n_tests=m, power=power),
                     "fewest healthy runs per side": int(runs.min()),
                     "detectable shift (SD)": float(finite["detectable_sd"].max()) if len(finite) else math.inf,
                     "comparisons that cannot pass": int(len(block) - len(finite))})
    table = pd.DataFrame(rows)
    return table.round({"strictest level": 4, "detectable shift (SD)": 2})


def _essay_badge(verdict: str) -> str:
    return scorecard.badge(SCORECARD_WORDS.get(verdict, verdict), label=verdict)


def verdict_markdown(claims: pd.DataFrame) -> str:
    """The verdict table as the reader sees it first: per task and claim, the verdict (coloured),
    which way the evidence points and the one-line evidence; every row's full evidence is in
    :func:`verdict_details_markdown`."""
    table = verdict_table(claims)
    lines = ["| task | claim | verdict | evidence points | why |", "|---|---|---|---|---|"]
    for row in table.itertuples():
        cells = [row.task, row.claim, _essay_badge(row.verdict), row.points or "", row.why]
        lines.append("| " + " | ".join(" ".join(str(c).split()).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def verdict_details_markdown(claims: pd.DataFrame) -> str:
    """Every row of the claims table in full (its link of the chain, evidence, the literature's
    numbers), one collapsed dropdown per task and link."""
    table = verdict_table(claims)
    blocks = []
    for (task, link), rows in table.groupby(["task", "link of the chain"], sort=False):
        lines = [f"::::{{dropdown}} {task}: {link}"]
        for row in rows.itertuples():
            lines += [f"- **{row.claim}: {row.verdict}.** {row.ours}" + (f" *Published:* {row.published}"
                                                                         if row.published else "")]
        lines.append("::::")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def counts(frame: pd.DataFrame, *, margin: float) -> dict[str, int]:
    """Runs in the frame: all, healthy, underfit, diverged (the glued numbers of the text)."""
    health = with_health(frame, margin=margin)["health"]
    return {"n_runs": len(frame), "n_healthy": int((health == "healthy").sum()),
            "n_underfit": int((health == "underfit").sum()), "n_diverged": int((health == "diverged").sum())}


# --- figure panels -----------------------------------------------------------------------------

def modularity_panels(frame: pd.DataFrame, *, margin: float, n_bootstrap: int, seed: int) -> list[dict]:
    """Panels for :func:`modcore.plots.essay.scores_by_condition`: one per task, every condition
    of the primary goal, the primary score (n-cut / null mean) of each healthy run, with the
    median and its bootstrap CI."""
    frame = with_health(frame, margin=margin)
    panels = []
    for task, runs in frame.groupby("task", sort=False):
        runs = usable_runs(runs[runs["goal"] == PRIMARY_GOAL[task]])
        values = {c: runs.loc[runs["condition"] == c, PRIMARY_SCORE].to_numpy() for c in runs["condition"].unique()}
        summary = {c: stats.bootstrap_median_ci(v, n_bootstrap=n_bootstrap, seed=seed) for c, v in values.items()}
        k = runs["n_clusters"].iloc[0]
        panels.append(dict(title=f"{task}, goal {GOAL_NAMES[PRIMARY_GOAL[task]]}, n-cut at k = {k}", runs=values,
                           summary=summary))
    return panels


def transfer_vs_score_panels(frame: pd.DataFrame, *, margin: float) -> list[dict]:
    """Panels for :func:`modcore.plots.essay.gap_vs_score`: healthy trained free networks (control
    and regularisers, except those that trained on G2), G2 readout accuracy against the primary
    score, with the within-arm slope."""
    frame = with_health(frame, margin=margin)
    panels = []
    for task, runs in frame.groupby("task", sort=False):
        runs = runs[(runs["goal"] == PRIMARY_GOAL[task]) & runs["arm"].isin(("none",) + REGULARISER_ARMS)
                    & ~runs["arm"].isin(SAW_RELATED_GOAL) & (runs["health"] == "healthy")]
        fit = stats.slope_with_ci(runs[PRIMARY_SCORE], runs[TRANSFER], runs["condition"])
        fit |= dict(x_mean=float(np.nanmean(runs[PRIMARY_SCORE])), y_mean=float(np.nanmean(runs[TRANSFER])))
        points = {c: (g[PRIMARY_SCORE].to_numpy(), g[TRANSFER].to_numpy()) for c, g in runs.groupby("condition", sort=False)}
        panels.append(dict(title=f"{task}: {len(runs)} healthy runs, G2 = {GOAL_NAMES[RELATED_GOAL[task]]}",
                           points=points, fit=fit, fit_label=f"within-arm slope {fit['slope']:+.3f}"))
    return panels


def intervention_panels(frame: pd.DataFrame, *, margin: float) -> list[dict]:
    """Panels for :func:`modcore.plots.essay.intervention`: control, block mask, random mask and
    clusterable init (healthy runs, primary goal), one panel per task and measure: G2 readout
    accuracy, G2 fine-tuning steps, the primary score."""
    frame = with_health(frame, margin=margin)
    panels = []
    measures = {"G2 readout accuracy": TRANSFER, "G2 fine-tuning steps": FINETUNE, "n-cut / null": PRIMARY_SCORE}
    for task, runs in frame.groupby("task", sort=False):
        runs = usable_runs(runs[runs["goal"] == PRIMARY_GOAL[task]])
        groups = {label: runs[runs["arm"] == arm] for arm, label in
                  (("none", "control"), ("block_mask", "block mask"), ("random_mask", "random mask"),
                   ("clusterable_init", "clusterable init"))}
        for label, column in measures.items():
            panels.append(dict(title=f"{task}: {label}", ylabel=label,
                               groups={g: r[column].to_numpy(dtype=float) for g, r in groups.items() if len(r)}))
    return panels


# The chapter's per-row verdicts in the scorecard's words.
SCORECARD_WORDS = {"supported": "agree", "not supported": "disagree", "inconclusive": "inconclusive"}
