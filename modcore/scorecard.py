"""One machine-readable record per claim, written by the chapter that checks it, read by the
scorecard page.

The claims
    :data:`CLAIMS` lists every claim of the paper (Boopathy et al., ICLR 2025: Theorem 1,
    Fig. 1, each trend of Fig. 2, the authors' optimisation explanation, Fig. 3, Theorem 2,
    Algorithm 1, Fig. 4a, Fig. 5 with its t-SNE panels, Fig. 4b and the out-of-distribution and
    noise table, each split into what the kernel rule controls (kernel-rule vs random
    projections) and what the architecture adds (modular vs MLP), Table 2, Fig. 12) and of the
    essay (*Regularization Causes Modularity Causes Generalization*: one row per regulariser,
    the trained-vs-initial comparison, the observational and the interventional test of
    "modularity causes generalisation"), with the source's number(s) where it prints any. Those
    numbers are computed from the digitised tables in ``modcore/data/`` (:mod:`modcore.paper_values`),
    never typed.

The verdict words
    :data:`VERDICTS` is the closed set of words a record may carry. Only "agree" counts as
    agreement. "partly" is a rule's middle word. "disagree" and "inconclusive" mean what they
    say. "not testable" means the claim cannot be checked at the chapter's settings (e.g. a
    threshold above the task's predict-zero loss); :data:`NOT_IN_SOURCES` that the claim's content
    is not in the sources we have (there is nothing to compare with); :data:`BY_CONSTRUCTION`
    that the claim holds because of how the task or the theory is built, so agreeing with it
    shows nothing. Neither of the last three is ever counted as agreement.

Two-part rows
    Where a rule reads a curve the paper also plots, a chapter scores the paper's digitised curve
    by the same rule. When that curve contradicts the paper's own sentence, the record carries
    ``parts``: the verdict against the paper's data (does our curve get the word the paper's curve
    gets?) and against its words. Other labelled parts (e.g. two readings of Algorithm 1) use the
    same field.

How a chapter emits a record
    At the end of the notebook, after the verdict is computed::

        from myst_nb import glue
        from modcore import scorecard
        glue("claim:fig2_flat_in_k",
             scorecard.record("fig2_flat_in_k", ours="test loss 1.9 to 2.1 over k = 2..9",
                              why="change 0.12 of the mean over k = 2..9",
                              seeds=[0, 1, 2], verdict="agree",
                              rule="agree if the slope over k is within 2 s.e. of 0"),
             display=False)

    ``glue(..., display=False)`` stores the record as an ordinary cell output (MIME type
    ``application/papermill.record/text/plain``, holding the record as one line of JSON; a
    JSON-typed output would not pass nbformat's schema under glue's prefix), so it survives
    papermill, is compared like any output by nbval's re-execution (a record holds no time
    stamp, so the same seed gives the same record), is hidden on the chapter's page, and is
    read back from the executed ``.ipynb`` with plain :mod:`json` (:func:`read_records`).
    The glue name must be ``"claim:" + claim_id``. A claim a chapter could not run at all (its
    data set is absent) gets :func:`not_run_record` instead, with the reason.

    The record is ``{"schema": 2, "claim_id", "ours", "why", "seeds", "verdict", "rule", "paper",
    "parts", "commit"}``: ``why`` is one line with the deciding numbers (the scorecard's summary
    table shows it; None: ``ours``), ``paper`` defaults to the source's number in :data:`CLAIMS`
    (a chapter may pass the exact value it compared against), ``parts`` is a list of
    ``{"label", "verdict", "evidence"}``, ``commit`` is the repository's git commit at execution
    (None outside a git checkout). The profile is not part of the record: the runner writes it
    into the executed notebook's metadata (``metadata.modcore.profile``) and :func:`collect`
    reads it from there, so a record cannot claim a profile it did not run at.

When a record counts
    :func:`collect` shows a verdict only for a record that is current: the notebook executed
    without error, after its source file was last modified, at the repository's current git
    commit. A missing, failed or stale record is shown as "not run" with the reason, never as
    a verdict. Uncommitted edits to ``modcore`` itself are not detected: a book meant to be
    read is built from a clean checkout (as CI does).

    Only finished notebooks are read: ``NAME.ipynb``, which the runner writes when every cell
    ran. What an unfinished run leaves beside it, a hidden ``.NAME.running-PID.ipynb`` (killed)
    or ``NAME.failed.ipynb`` (a cell raised, or Ctrl-C), is never read; one newer than the
    finished notebook (or with none beside it) is named in a note. A finished notebook that
    cannot be read (truncated, not JSON) is named in one line and its claims show "not run".
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from modcore import paper_values, paths, verdicts
from modcore.verdicts import (AGREEMENT, BY_CONSTRUCTION, NOT_IN_SOURCES, NOT_RUN, VERDICTS,  # noqa: F401 (re-exported)
                              counts_as_agreement)

SCHEMA = 2
GLUE_PREFIX = "claim:"
# myst_nb.glue(display=False) prefixes every MIME type with this; the record's text is JSON.
RECORD_MIME = "application/papermill.record/text/plain"
# The verdict words and their combination rules live in modcore.verdicts; re-exported here.
# What each word means, for the scorecard's legend (same order as VERDICTS, then "not run").
MEANINGS = {
    "agree": "our runs reproduce the claim by the rule stated before the numbers",
    "partly": "the rule's middle word: some of the claim reproduces",
    "disagree": "our runs contradict the claim by the rule",
    "inconclusive": "the rule could not decide (intervals too wide, too few healthy runs)",
    "not testable": "the claim cannot be checked at the chapter's settings",
    NOT_IN_SOURCES: "the claim's content is not in the sources we have",
    BY_CONSTRUCTION: "true because of how the task or theory is built: shows nothing, never counted as agreement",
    NOT_RUN: "no current record: the chapter was not run, failed, or its record is stale",
}
# Background colours of the verdict badges (light, so black text stays readable).
COLOURS = {"agree": "#b7e4c7", "partly": "#fde68a", "disagree": "#fca5a5", "inconclusive": "#d1d5db",
           "not testable": "#bfdbfe", NOT_IN_SOURCES: "#ddd6fe", BY_CONSTRUCTION: "#e9d5ff", NOT_RUN: "#f3f4f6"}
# The two parts of a row whose figure and sentence disagree.
AGAINST_DATA = "against the paper's data"
AGAINST_WORDS = "against the paper's words"


@dataclass(frozen=True)
class Claim:
    """A claim of the paper or the essay, as the scorecard lists it.

    ``paper`` is the source's number(s) as text, or a function computing that text from the
    digitised tables (called when the scorecard is drawn, so the data files are read only then).
    """

    claim_id: str
    source: str     # "paper" or "essay"
    where: str      # the section, theorem or figure of the source
    sentence: str   # the claim in one sentence
    paper: str | Callable[[], str]  # the source's number(s), or why there are none
    chapter: str | None = None  # notebook name of the chapter that checks it, if one exists
    short: str | None = None    # a few words for the summary table and the headline (None: ``where``)

    @property
    def paper_text(self) -> str:
        return self.paper() if callable(self.paper) else self.paper

    @property
    def label(self) -> str:
        return self.short or self.where


_NO_NUMBER = "no number: an exact statement"
_ESSAY = "no number: the essay argues qualitatively"


# --- the source's numbers, computed from the digitised tables ---------------------------------------


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 and float(value).is_integer() else f"{value:.2f}"


@functools.lru_cache(maxsize=None)
def _fig2(panel: str, quantity: str) -> tuple[tuple[float, float], ...]:
    table = paper_values.load_csv("fig2_digitised")
    rows = table[(table.panel == panel) & (table.quantity == quantity)].sort_values("x")
    return tuple(zip(rows.x.astype(float), rows.value.astype(float)))


def _fig2_trend(panel: str, symbol: str) -> str:
    network, theory = _fig2(panel, "test_network"), _fig2(panel, "test_theory")
    low, high = min(v for _, v in network), max(v for _, v in network)
    text = (f"network test loss {_number(network[0][1])} ({symbol} = {network[0][0]:g}) to "
            f"{_number(network[-1][1])} ({symbol} = {network[-1][0]:g}), range {low:.2f} to {high:.2f}")
    if theory and theory[0][1] == theory[-1][1]:
        text += f"; theory {_number(theory[0][1])} at every {symbol}"
    elif theory:
        text += f"; theory {_number(theory[0][1])} to {_number(theory[-1][1])}"
    return text


def _fig2_spike(panel: str, symbol: str, fixed: str) -> str:
    network = _fig2(panel, "test_network")
    x_peak, peak = max(network, key=lambda point: point[1])
    values = ", ".join(f"{v:.2f}" for _, v in network)
    return (f"network test loss {values} at {symbol} = {network[0][0]:,.0f} to {network[-1][0]:,.0f}; highest "
            f"{peak:.2f} at {symbol} = {x_peak:,.0f}; the caption fixes {fixed}")


def _fig3() -> str:
    table = paper_values.load_fig3_digitised()
    smallest, largest = table.iloc[-1], table.iloc[0]
    first, last = table.columns[0], table.columns[-1]
    return (f"smallest curve {smallest[first]:,.0f} (m = {first}) to {smallest[last]:,.0f} (m = {last}); "
            f"largest {largest[first]:,.0f} to {largest[last]:,.0f}")


@functools.lru_cache(maxsize=None)
def _fig4b() -> dict[tuple[int, str], float]:
    table = paper_values.load_csv("fig4b_digitised")
    table = table[table.source == "fig4b"]
    return {(int(k), method): float(a) for k, method, a in zip(table.n_slots, table.method, table.accuracy)}


# The paper's method labels (as in modcore/data/fig4b_digitised.csv) in the scorecard's words.
_METHOD_WORDS = {"ours": "kernel rule", "baseline modular": "random-U modular", "baseline monolithic": "MLP"}


def _fig4b_lead(method: str, other: str) -> str:
    values = _fig4b()
    ks = sorted({k for k, _ in values})
    leads = [100 * (values[(k, method)] - values[(k, other)]) for k in ks]
    return (f"{_METHOD_WORDS[method]} minus {_METHOD_WORDS[other]}: {leads[0]:+.1f} points at k = {ks[0]}, {leads[-1]:+.1f} at k = {ks[-1]} "
            f"(accuracy {100 * values[(ks[0], method)]:.1f} % vs {100 * values[(ks[0], other)]:.1f} % at k = {ks[0]}, "
            f"{100 * values[(ks[-1], method)]:.1f} % vs {100 * values[(ks[-1], other)]:.1f} % at k = {ks[-1]})")


def _robustness(method: str, other: str) -> str:
    table = paper_values.load_csv("fig4b_digitised")
    table = table[table.source == "robustness_table"].set_index(["method", "quantity"]).accuracy
    parts = [f"{name} {100 * table[(method, q)]:.2f} % vs {100 * table[(other, q)]:.2f} % "
             f"({100 * (table[(method, q)] - table[(other, q)]):+.2f} points)"
             for q, name in (("heldout", "unseen combinations"), ("noisy", "noise"))]
    return f"{_METHOD_WORDS[method]} vs {_METHOD_WORDS[other]}: " + "; ".join(parts) + "; k not stated"


@functools.lru_cache(maxsize=None)
def _fig4a_table() -> dict[tuple[str, int], float]:
    table = paper_values.load_csv("fig4a_digitised")
    return {(method, int(m)): float(n) for method, m, n in zip(table.method, table.input_dim, table.n_needed)}


# The paper's Fig. 4a method labels (as in modcore/data/fig4a_digitised.csv) in the scorecard's words.
_FIG4A_WORDS = {"ours": "kernel rule", "baseline_modular": "random U", "baseline_monolithic": "MLP"}


def _fig4a(method: str, other: str) -> str:
    values = _fig4a_table()
    ms = sorted({m for _, m in values})
    pairs = [f"m = {m}: {values[(method, m)]:,.0f} vs {values[(other, m)]:,.0f}" for m in (ms[0], ms[-1])]
    fewer = sum(values[(method, m)] < values[(other, m)] for m in ms)
    return (f"{'; '.join(pairs)} ({_FIG4A_WORDS[method]} vs {_FIG4A_WORDS[other]}); fewer at {fewer} of "
            f"{len(ms)} m")


def _fig4a_growth() -> str:
    values = _fig4a_table()
    ms = sorted({m for _, m in values})
    return "; ".join(f"{_FIG4A_WORDS[method]} {values[(method, ms[0])]:,.0f} (m = {ms[0]}) to "
                     f"{values[(method, ms[-1])]:,.0f} (m = {ms[-1]})" for method in _FIG4A_WORDS)


def _fig5() -> str:
    table = paper_values.load_csv("fig5_digitised").set_index(["method", "point"])
    end, start = table.xs("end", level="point"), table.xs("start", level="point")
    return (f"cosine similarity {end.similarity['ours']:.3f} vs {end.similarity['baseline']:.3f} after "
            f"{end.iteration['ours']:,.0f} iterations (start {start.similarity['ours']:.3f} vs "
            f"{start.similarity['baseline']:.3f})")


CLAIMS: tuple[Claim, ...] = (
    Claim("theorem1", "paper", "Theorem 1",
          "The expected train and test losses of the linear-in-features model have a closed form.",
          _NO_NUMBER, "theorem1", "Theorem 1: closed form"),
    Claim("fig1_double_descent", "paper", "Fig. 1",
          "The test loss shows double descent in n and in p, diverging at the interpolation threshold p = dn.",
          "peak at p = dn", "theorem1", "Fig. 1: double descent"),
    Claim("fig2_flat_in_k", "paper", "Fig. 2 (vs k)",
          "A network's test loss does not change with the number of modules k.",
          lambda: _fig2_trend("n_modules", "k"), "nn_vs_theory", "Fig. 2: flat in k"),
    Claim("fig2_sublinear_in_m", "paper", "Fig. 2 (vs m)",
          "A network's test loss grows sublinearly with the input dimension m, as the theory predicts.",
          lambda: _fig2_trend("input_dim", "m"), "nn_vs_theory", "Fig. 2: sublinear in m"),
    Claim("fig2_double_descent_in_p", "paper", "Fig. 2 (vs p)",
          "A network's test loss shows double descent in the parameter count p.",
          lambda: _fig2_spike("n_params", "p", f"n = {paper_values.FIG2_N_TRAIN:,}"), "nn_vs_theory",
          "Fig. 2: spike in p"),
    Claim("fig2_double_descent_in_n", "paper", "Fig. 2 (vs n)",
          "A network's test loss shows double descent in the sample count n.",
          lambda: _fig2_spike("n_train", "n", f"p = {paper_values.FIG2_N_PARAMS:,}"), "nn_vs_theory",
          "Fig. 2: spike in n"),
    Claim("optimisation_gap", "paper", "App. A.2 and the authors' replies",
          "Where networks depart from Theorem 1 (loss above it at small n, a finite spike), imperfect "
          "optimisation is the cause: training closer to the optimum closes the gaps.",
          "no number: an explanation in words", "optimisation_gap", "optimisation explains the gaps"),
    Claim("fig3_exponential_in_m", "paper", "Fig. 3",
          "The samples needed for test loss 1.2 grow exponentially with the input dimension m.",
          _fig3, "dimension_scaling", "Fig. 3: exponential in m"),
    Claim("theorem2", "paper", "Theorem 2",
          "A modular model's train loss, and its underparameterised test loss, do not depend on m.",
          _NO_NUMBER, "theorem2", "Theorem 2: flat in m"),
    Claim("algorithm1_recovery", "paper", "Section 4.2, Algorithm 1",
          "Random restarts of the kernel rule land on the task's true module directions.",
          "no number: the paper describes the mechanism, not how often restarts find a module", "kernel_rule",
          "Algorithm 1 finds modules"),
    Claim("fig4a_kernel_vs_random", "paper", "Fig. 4a",
          "(i) The kernel rule's U lowers the samples a modular network needs for test loss 1.5, against the "
          "same network with random U: what the rule controls.",
          lambda: _fig4a("ours", "baseline_modular"), "sample_complexity", "Fig. 4a (i): kernel vs random U"),
    Claim("fig4a_kernel_vs_monolithic", "paper", "Fig. 4a",
          "(ii) The kernel-rule modular network needs fewer samples for test loss 1.5 than a monolithic MLP, "
          "at every m but 9: the paper's figure.",
          lambda: _fig4a("ours", "baseline_monolithic"), "sample_complexity", "Fig. 4a (ii): kernel vs MLP"),
    Claim("fig4a_oracle_vs_random", "paper", "Fig. 4a (Theorem 2's premise)",
          "(iii) A modular network given the true projections needs fewer samples than one with random U: "
          "Theorem 2's premise realised, not evidence for the rule.",
          "no number: the paper has no oracle curve; its argument assumes this", "sample_complexity",
          "Fig. 4a (iii): oracle vs random U"),
    Claim("fig4a_flat_in_m", "paper", "Fig. 4a and Theorem 2",
          "(iv) How the samples needed change with m, per method: the paper's curves grow for all three methods; "
          "Theorem 2 says flat for a modular network with the right projections.",
          _fig4a_growth, "sample_complexity", "Fig. 4a (iv): growth in m"),
    Claim("fig5_alignment", "paper", "Fig. 5 and t-SNE",
          "The kernel rule aligns the learned module projections with the target ones better than "
          "random initialisation.",
          _fig5, "module_alignment", "Fig. 5: alignment"),
    Claim("fig4b_kernel_vs_random", "paper", "Fig. 4b",
          "On Compositional CIFAR-10 the kernel-rule projections make the modular network more accurate "
          "than random projections do, at every k, and the lead grows with k.",
          lambda: _fig4b_lead("ours", "baseline modular"), "compositional_images", "Fig. 4b: kernel vs random U"),
    Claim("fig4b_modular_vs_mlp", "paper", "Fig. 4b",
          "On Compositional CIFAR-10 the kernel-rule modular network is more accurate than a monolithic MLP "
          "of the same size, at every k, and the lead grows with k.",
          lambda: _fig4b_lead("ours", "baseline monolithic"), "compositional_images", "Fig. 4b: modular vs MLP"),
    Claim("fig4b_on_cifar10", "paper", "Fig. 4b",
          "The Fig. 4b claims hold on Compositional CIFAR-10 itself (the rows above use a stand-in when "
          "CIFAR-10 is absent).",
          lambda: _fig4b_lead("ours", "baseline modular"), "compositional_images", "Fig. 4b on CIFAR-10"),
    Claim("robustness_kernel_vs_random", "paper", "OOD and noise table",
          "The kernel-rule projections make the modular network more accurate than random projections on "
          "unseen class combinations and under input noise.",
          lambda: _robustness("ours", "baseline modular"), "robustness", "robustness: kernel vs random U"),
    Claim("robustness_modular_vs_mlp", "paper", "OOD and noise table",
          "The kernel-rule modular network is more accurate than a monolithic MLP on unseen class "
          "combinations and under input noise.",
          lambda: _robustness("ours", "baseline monolithic"), "robustness", "robustness: modular vs MLP"),
    Claim("table2_nonlinear_projections", "paper", "Table 2",
          "Nonlinear module projections (Table 2's subject); what the table finds is not in our sources.",
          "not available: the table's numbers and conclusion are not in the sources we have", "projections",
          "Table 2: nonlinear projections"),
    Claim("fig12_projections_visualised", "paper", "Fig. 12",
          "The learned projections of the Compositional CIFAR-10 network each attend to one image.",
          "qualitative figure, no number", "projections", "Fig. 12: one image per module"),
    Claim("essay_l1", "essay", "link 1",
          "L1 regularisation makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: L1"),
    Claim("essay_l2", "essay", "link 1",
          "L2 regularisation makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: L2"),
    Claim("essay_weight_decay", "essay", "link 1",
          "Weight decay makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: weight decay"),
    Claim("essay_dropout", "essay", "link 1",
          "Dropout makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: dropout"),
    Claim("essay_prune", "essay", "link 1",
          "Magnitude pruning makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: pruning"),
    Claim("essay_connection_cost", "essay", "link 1",
          "A connection cost makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: connection cost"),
    Claim("essay_mvg", "essay", "link 1",
          "Switching between modularly varying goals makes networks more modular.", _ESSAY,
          "essay_modularity", "essay: MVG"),
    Claim("essay_init", "essay", "link 1",
          "Trained networks are more modular than at initialisation.", _ESSAY, "essay_modularity",
          "essay: trained vs init"),
    Claim("essay_observational", "essay", "link 2",
          "Across runs, more modular networks generalise better.", _ESSAY, "essay_modularity",
          "essay: modular runs generalise"),
    Claim("essay_intervention", "essay", "link 2",
          "Hard-wired modules (an intervention) make networks generalise better.", _ESSAY,
          "essay_modularity", "essay: hard-wired modules"),
)

_BY_ID = {claim.claim_id: claim for claim in CLAIMS}


def claim(claim_id: str) -> Claim:
    if claim_id not in _BY_ID:
        raise ValueError(f"unknown claim_id={claim_id!r}; known: {', '.join(_BY_ID)}")
    return _BY_ID[claim_id]


def git_commit(repo: Path = paths.REPO_ROOT) -> str | None:
    """The checked-out commit of ``repo``, or None outside a git checkout (e.g. a tarball)."""
    try:
        done = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


combined_verdict = verdicts.combined
against_data_verdict = verdicts.against_data


class Record(dict):
    """A claim record: a plain dict that Jupyter displays (and myst_nb.glue stores) as one
    line of JSON text."""

    def _repr_pretty_(self, printer, cycle):
        printer.text(json.dumps(self, sort_keys=True))


_check_verdict = verdicts.check


def part(label: str, verdict: str, evidence: str) -> dict:
    """One labelled part of a record (e.g. :data:`AGAINST_DATA` and :data:`AGAINST_WORDS`)."""
    _check_verdict(verdict, "part verdict")
    if not (isinstance(label, str) and label.strip() and isinstance(evidence, str) and evidence.strip()):
        raise ValueError(f"a part needs a label and evidence, got {label=!r}, {evidence=!r}")
    return {"label": label, "verdict": verdict, "evidence": evidence}


def record(claim_id: str, *, ours: str, seeds: Sequence[int], verdict: str, rule: str,
           paper: str | None = None, why: str | None = None, parts: Sequence[dict] = ()) -> Record:
    """The record of one checked claim, to ``glue("claim:" + claim_id, ..., display=False)``.

    ``ours`` is our number(s) as the reader should see them, ``why`` one line with the deciding
    numbers for the summary table, ``seeds`` the seeds behind them, ``verdict`` one of
    :data:`VERDICTS`, decided in code by ``rule`` (a sentence the scorecard prints beside the
    verdict). ``paper`` overrides the source's number listed in :data:`CLAIMS`; ``parts`` are
    :func:`part` dicts shown under the row (e.g. against the paper's data and against its words).
    """
    claim(claim_id)  # unknown ids fail here, in the chapter, not silently on the scorecard
    _check_verdict(verdict)
    if not isinstance(ours, str) or not ours.strip():
        raise ValueError(f"ours must be a non-empty string, got {ours=}")
    if not isinstance(rule, str) or not rule.strip():
        raise ValueError(f"rule must be a non-empty string, got {rule=}")
    if why is not None and (not isinstance(why, str) or not why.strip()):
        raise ValueError(f"why must be None or a non-empty string, got {why=}")
    parts = [part(p["label"], p["verdict"], p["evidence"]) for p in parts]
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        raise ValueError(f"seeds must name at least one seed, got {seeds=}")
    return Record(schema=SCHEMA, claim_id=claim_id, ours=ours, why=why, seeds=seeds, verdict=verdict, rule=rule,
                  paper=paper, parts=parts, commit=git_commit())


def not_run_record(claim_id: str, *, reason: str) -> Record:
    """The record of a claim its chapter could not run at all (e.g. "data not present"): the
    scorecard shows "not run" with ``reason``, never a verdict."""
    claim(claim_id)
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"reason must be a non-empty string, got {reason=}")
    return Record(schema=SCHEMA, claim_id=claim_id, verdict=NOT_RUN, reason=reason, commit=git_commit())


def read_glued(notebook: dict) -> dict[str, str]:
    """``{glue name: text}`` of every value an executed notebook glued (its parsed JSON)."""
    glued = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None and RECORD_MIME in output.get("data", {}):
                data = output["data"][RECORD_MIME]
                glued[name] = "".join(data) if isinstance(data, list) else data
    return glued


def read_records(notebook: dict) -> dict[str, dict]:
    """``{claim_id: record}`` of an executed notebook (its parsed JSON, e.g. ``json.load``)."""
    return {name.removeprefix(GLUE_PREFIX): json.loads(text)
            for name, text in read_glued(notebook).items() if name.startswith(GLUE_PREFIX)}


@dataclass(frozen=True)
class Row:
    """One line of the scorecard."""

    claim: Claim
    status: str             # a verdict of VERDICTS, or "not run"
    reason: str             # why "not run"; empty for a verdict
    ours: str
    paper: str
    rule: str
    seeds: tuple[int, ...]
    profile: str | None
    chapter: str | None     # notebook name of the chapter page, when it is in this build
    why: str = ""           # one line with the deciding numbers ("" for "not run")
    parts: tuple[dict, ...] = ()


def _started(notebook: dict) -> dt.datetime | None:
    text = notebook.get("metadata", {}).get("papermill", {}).get("start_time")
    if not text:
        return None
    started = dt.datetime.fromisoformat(text)
    # papermill writes naive UTC
    return started if started.tzinfo else started.replace(tzinfo=dt.timezone.utc)


def _staleness(notebook: dict, name: str, rec: dict, commit: str | None, source_dir: Path) -> str:
    """Why a record does not count (empty string when it does)."""
    papermill = notebook.get("metadata", {}).get("papermill", {})
    if papermill.get("exception"):
        return "the notebook failed"
    if rec.get("schema") != SCHEMA:
        return f"record schema {rec.get('schema')!r}, expected {SCHEMA}"
    if rec.get("verdict") not in (*VERDICTS, NOT_RUN):
        return f"record has no valid verdict ({rec.get('verdict')!r})"
    if any(p.get("verdict") not in VERDICTS for p in rec.get("parts", [])):
        return "record has a part without a valid verdict"
    if commit is not None and rec.get("commit") != commit:
        recorded = (rec.get("commit") or "unknown")[:10]
        return f"stale: run at commit {recorded}, the book is at {commit[:10]}"
    source = source_dir / f"{name}.py"
    started = _started(notebook)
    if started is None:
        return "no execution time in the notebook"
    if source.exists():
        modified = dt.datetime.fromtimestamp(source.stat().st_mtime, tz=dt.timezone.utc)
        if modified > started:
            return f"stale: notebooks/{name}.py changed after the run"
    return ""


# What the runner leaves in the output folder (modcore.runner.execute): the finished notebook,
# the temporary one of a run in progress (or killed), and the one of a run that failed.
_FINISHED = re.compile(r"(?P<name>[A-Za-z0-9_]+)\.ipynb")
_UNFINISHED = re.compile(r"\.(?P<name>[A-Za-z0-9_]+)\.running-[0-9]+\.ipynb|(?P<failed>[A-Za-z0-9_]+)\.failed\.ipynb")


def executed_notebooks(executed_dir: Path, skip: Sequence[str] = ()) -> tuple[dict[str, Path], list[str]]:
    """``({name: path of NAME.ipynb}, notes)`` for the finished notebooks in ``executed_dir``.

    The notes name each unfinished run's notebook (see the module docstring) that is newer
    than the finished one of its name, or has none: it is ignored, and the reader is told.
    """
    finished, unfinished = {}, []
    for path in sorted(executed_dir.iterdir()):
        if match := _FINISHED.fullmatch(path.name):
            if match["name"] not in skip:
                finished[match["name"]] = path
        elif (match := _UNFINISHED.fullmatch(path.name)) and (match["name"] or match["failed"]) not in skip:
            unfinished.append((match["name"] or match["failed"], path))
    notes = []
    for name, path in unfinished:
        try:
            newer = name not in finished or path.stat().st_mtime > finished[name].stat().st_mtime
        except FileNotFoundError:  # a run in progress just finished or gave up
            continue
        if newer:
            kind = "a failed or interrupted run" if path.name.endswith(".failed.ipynb") else \
                "a run still going or killed"
            ours = f"{name}.ipynb is read instead" if name in finished else f"no finished {name}.ipynb is read"
            notes.append(f"note: {path} ({kind}) is newer than the last finished run and is ignored; {ours}")
    return finished, notes


def read_executed(path: Path) -> tuple[dict | None, str]:
    """``(notebook, "")``, or ``(None, why)`` when ``path`` cannot be read as a notebook."""
    try:
        notebook = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"{type(error).__name__}: {error}"
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return None, "not a notebook (no list of cells)"
    return notebook, ""


def collect(executed_dir: str | Path | None = None, *, commit: str | None = None,
            source_dir: str | Path | None = None, skip: Sequence[str] = ("scorecard",)) -> list[Row]:
    """One :class:`Row` per claim of :data:`CLAIMS`, in that order, from the finished executed
    notebooks in ``executed_dir`` (default ``book/_executed``; see the module docstring).

    ``commit`` is the commit records must carry (default: the repository's current one;
    None accepts any); ``source_dir`` holds the notebooks' sources (default ``notebooks/``).
    Prints one line per note on an unfinished run and per damaged notebook.
    """
    executed_dir = Path(executed_dir) if executed_dir is not None else paths.EXECUTED_DIR
    if not executed_dir.is_dir():
        raise ValueError(f"executed_dir={str(executed_dir)!r} is not a directory")
    source_dir = Path(source_dir) if source_dir is not None else paths.NOTEBOOKS_DIR
    if commit is None:
        commit = git_commit()
    finished, notes = executed_notebooks(executed_dir, skip)
    found: dict[str, tuple[str, dict, dict]] = {}  # claim_id -> (notebook name, notebook, record)
    executed, damaged = set(), {}
    for name, path in finished.items():
        notebook, problem = read_executed(path)
        records = {}
        if notebook is not None:
            try:
                records = read_records(notebook)
            except (json.JSONDecodeError, TypeError, AttributeError) as error:
                problem = f"a claim record is not readable: {type(error).__name__}: {error}"
            else:
                if bad := sorted(claim_id for claim_id, rec in records.items() if not isinstance(rec, dict)):
                    problem = f"claim record(s) {', '.join(bad)} are not mappings"
        if problem:
            damaged[name] = f"its executed notebook {path.name} is damaged ({problem}); rerun the chapter"
            notes.append(f"warning: executed notebook {path} cannot be read ({problem}); its claims show "
                         f"'{NOT_RUN}' until the chapter is rerun")
            continue
        executed.add(name)
        for claim_id, rec in records.items():
            found[claim_id] = (name, notebook, rec)
    for note in notes:
        print(note, flush=True)
    rows = []
    for item in CLAIMS:
        chapter = item.chapter if item.chapter in executed else None
        if item.claim_id not in found:
            why = damaged.get(item.chapter) or ("no record" if chapter else "no chapter checks it yet")
            rows.append(Row(item, NOT_RUN, why, "", item.paper_text, "", (), None, chapter))
            continue
        name, notebook, rec = found[item.claim_id]
        reason = _staleness(notebook, name, rec, commit, source_dir)
        profile = notebook.get("metadata", {}).get("modcore", {}).get("profile")
        if not reason and rec["verdict"] == NOT_RUN:
            reason = str(rec.get("reason") or "the chapter did not run it")
        ours = str(rec.get("ours", ""))
        rows.append(Row(item, NOT_RUN if reason else rec["verdict"], reason, ours,
                        rec.get("paper") or item.paper_text, str(rec.get("rule", "")),
                        tuple(rec.get("seeds", ())), profile, name, why=str(rec.get("why") or ours),
                        parts=tuple(rec.get("parts", ()))))
    return rows


# --- the page ----------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _seeds(seeds: Sequence[int]) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def badge(status: str, label: str | None = None) -> str:
    """A verdict word as a coloured inline badge (raw HTML, rendered by the book's MyST); ``label``
    replaces the text (a chapter's own word in the colour of the scorecard word it maps to)."""
    colour = COLOURS.get(status, COLOURS[NOT_RUN])
    return (f'<span class="verdict-badge" style="background:{colour};padding:0 0.35em;border-radius:0.3em;'
            f'white-space:nowrap">{label or status}</span>')


_SHORT_PARTS = {AGAINST_DATA: "vs the paper's curve", AGAINST_WORDS: "vs its words"}


def _short_part(label: str) -> str:
    """A part's label in a few words for the summary table (the details give it in full)."""
    return _SHORT_PARTS.get(label, label.split(" (")[0])


def _status(row: Row) -> str:
    text = badge(row.status)
    if row.parts and row.status != NOT_RUN:
        text += "<br>" + "<br>".join(f"{_short_part(p['label'])}: {badge(p['verdict'])}" for p in row.parts)
    return text


def legend() -> str:
    """One line per word: the badge and what it means."""
    return "\n".join(f"- {badge(word)} {meaning}" for word, meaning in MEANINGS.items())


def _link(row: Row, text: str) -> str:
    return f"{{doc}}`{text} <{row.chapter}>`" if row.chapter else text


def to_markdown(rows: Sequence[Row]) -> str:
    """The scorecard's summary: one short line per claim (claim, coloured verdict, the deciding
    numbers), chapters as ``{doc}`` links (checked by the build). The full evidence of each row is
    in :func:`details_markdown`."""
    lines = ["| Claim | Verdict | Why (our numbers) |", "|---|---|---|"]
    for row in rows:
        claim_text = _link(row, row.claim.label)
        why = row.why if row.status != NOT_RUN else row.reason
        lines.append("| " + " | ".join([claim_text, _status(row), _cell(why)]) + " |")
    return "\n".join(lines)


def details_markdown(rows: Sequence[Row]) -> str:
    """Every row's claim, source numbers, our numbers, seeds, profile, rule and parts, each in a
    collapsed dropdown (MyST, sphinx-design)."""
    blocks = []
    for row in rows:
        lines = [f"::::{{dropdown}} {row.claim.source.capitalize()}, {row.claim.where}: {row.claim.label} "
                 f"({row.status})",
                 f"**Claim.** {row.claim.sentence}", "",
                 f"**Source's number.** {_cell(row.paper)}", ""]
        if row.status == NOT_RUN:
            lines.append(f"**Not run:** {_cell(row.reason)}.")
        else:
            lines += [f"**Ours** ({_seeds(row.seeds)}; profile `{row.profile}`). {_cell(row.ours)}", "",
                      f"**Verdict: {row.status}.** Rule: {_cell(row.rule)}"]
            for p in row.parts:
                lines += ["", f"- *{p['label']}*: **{p['verdict']}**. {_cell(p['evidence'])}"]
        if row.chapter:
            lines += ["", f"Chapter: {{doc}}`{row.chapter} <{row.chapter}>`."]
        lines.append("::::")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


_GLUE_KEYS = {NOT_IN_SOURCES: "not_in_sources", BY_CONSTRUCTION: "by_construction"}


def glue_key(status: str) -> str:
    """A status as a glue name's suffix ("not testable" -> "not_testable", the long words shortened)."""
    return _GLUE_KEYS.get(status, status.replace(" ", "_"))


def count(rows: Sequence[Row]) -> dict[str, int]:
    """How many rows have each status, in the order of :data:`VERDICTS`, then "not run"."""
    return {status: sum(row.status == status for row in rows) for status in (*VERDICTS, NOT_RUN)}


def _names(rows: Sequence[Row]) -> str:
    labels = [row.claim.label for row in rows]
    if len(labels) <= 2:
        return " and ".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def headline(rows: Sequence[Row]) -> str:
    """Three to five sentences computed from the rows (:func:`headline_sentences`)."""
    return " ".join(headline_sentences(rows))


def headline_sentences(rows: Sequence[Row]) -> list[str]:
    """Three to five sentences computed from the rows: what reproduces, what does not, what is
    untested and why, what holds by construction, and where the paper's figure and its words part
    ways."""
    by = {status: [row for row in rows if row.status == status] for status in (*VERDICTS, NOT_RUN)}
    n = len(rows)
    agree, partly, disagree = by["agree"], by["partly"], by["disagree"]
    sentences = []
    reproduced = f"Of the {n} claims, {len(agree)} reproduce in our runs"
    reproduced += f" ({_names(agree)})" if agree else ""
    reproduced += f" and {len(partly)} partly ({_names(partly)})" if partly else ""
    sentences.append(reproduced + ".")
    sentences.append(f"{len(disagree)} do not reproduce" + (f": {_names(disagree)}." if disagree else "."))
    undecided = []
    if by["inconclusive"]:
        undecided.append(f"{len(by['inconclusive'])} are inconclusive at the seeds we ran "
                         f"({_names(by['inconclusive'])})")
    if by["not testable"]:
        undecided.append(f"{len(by['not testable'])} are not testable at our settings ({_names(by['not testable'])})")
    if by[NOT_IN_SOURCES]:
        undecided.append(f"{len(by[NOT_IN_SOURCES])} cannot be tested because the claim is not in our sources "
                         f"({_names(by[NOT_IN_SOURCES])})")
    if by[NOT_RUN]:
        undecided.append(f"{len(by[NOT_RUN])} were not run ({_names(by[NOT_RUN])})")
    sentences.append("Untested or undecided: " + "; ".join(undecided) + "." if undecided
                     else "Every claim was tested and decided.")
    if by[BY_CONSTRUCTION]:
        sentences.append(f"{len(by[BY_CONSTRUCTION])} hold by construction and are not counted as agreement "
                         f"({_names(by[BY_CONSTRUCTION])}).")
    split = [row for row in rows if any(p["label"] == AGAINST_DATA for p in row.parts)]
    if split:
        pieces = []
        for row in split:
            words = {p["label"]: p["verdict"] for p in row.parts}
            pieces.append(f"{row.claim.label} ({words.get(AGAINST_DATA)} with the paper's curve, "
                          f"{words.get(AGAINST_WORDS, row.status)} with its words)")
        sentences.append("Where the paper's figure and its sentence part ways, we score both: " + "; ".join(pieces)
                         + ".")
    return sentences
