"""One machine-readable record per claim, written by the chapter that checks it, read by the
scorecard page.

The claims
    :data:`CLAIMS` lists every claim of the paper (Boopathy et al., ICLR 2025: Theorem 1,
    Fig. 1, each trend of Fig. 2, Fig. 3, Theorem 2, Fig. 4a, Fig. 5 with its t-SNE panels,
    Fig. 4b, the out-of-distribution and noise table, Table 2, Fig. 12) and of the essay
    (*Regularization Causes Modularity Causes Generalization*: one row per regulariser, the
    trained-vs-initial comparison, the observational and the interventional test of
    "modularity causes generalisation"), with the source's number(s) where it prints any.

How a chapter emits a record
    At the end of the notebook, after the verdict is computed::

        from myst_nb import glue
        from modcore import scorecard
        glue("claim:fig2_flat_in_k",
             scorecard.record("fig2_flat_in_k", ours="test loss 1.9 to 2.1 over k = 2..9",
                              seeds=[0, 1, 2], verdict="agree",
                              rule="agree if the slope over k is within 2 s.e. of 0"),
             display=False)

    ``glue(..., display=False)`` stores the record as an ordinary cell output (MIME type
    ``application/papermill.record/text/plain``, holding the record as one line of JSON; a
    JSON-typed output would not pass nbformat's schema under glue's prefix), so it survives
    papermill, is compared like any output by nbval's re-execution (a record holds no time
    stamp, so the same seed gives the same record), is hidden on the chapter's page, and is
    read back from the executed ``.ipynb`` with plain :mod:`json` (:func:`read_records`).
    The glue name must be ``"claim:" + claim_id``.

    The record is ``{"schema": 1, "claim_id", "ours", "seeds", "verdict", "rule", "paper",
    "commit"}``: ``paper`` defaults to the source's number in :data:`CLAIMS` (a chapter may
    pass the exact value it compared against), ``commit`` is the repository's git commit at
    execution (None outside a git checkout). The profile is not part of the record: the
    runner writes it into the executed notebook's metadata (``metadata.modcore.profile``)
    and :func:`collect` reads it from there, so a record cannot claim a profile it did not
    run at.

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
import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modcore import paths

SCHEMA = 1
GLUE_PREFIX = "claim:"
# myst_nb.glue(display=False) prefixes every MIME type with this; the record's text is JSON.
RECORD_MIME = "application/papermill.record/text/plain"
# "inconclusive": the rule could not decide (too few healthy runs, intervals too wide);
# "not testable": the claim cannot be checked at the chapter's settings (e.g. a threshold above
# the task's predict-zero loss). Neither is ever counted as agreement.
VERDICTS = ("agree", "partly", "disagree", "inconclusive", "not testable")
NOT_RUN = "not run"


@dataclass(frozen=True)
class Claim:
    """A claim of the paper or the essay, as the scorecard lists it."""

    claim_id: str
    source: str     # "paper" or "essay"
    where: str      # the section, theorem or figure of the source
    sentence: str   # the claim in one sentence
    paper: str      # the source's number(s), or why there are none
    chapter: str | None = None  # notebook name of the chapter that checks it, if one exists


_NO_NUMBER = "no number: an exact statement"
_ESSAY = "no number: the essay argues qualitatively"

CLAIMS: tuple[Claim, ...] = (
    Claim("theorem1", "paper", "Theorem 1",
          "The expected train and test losses of the linear-in-features model have a closed form.",
          _NO_NUMBER, "theorem1"),
    Claim("fig1_double_descent", "paper", "Fig. 1",
          "The test loss shows double descent in n and in p, diverging at the interpolation threshold p = dn.",
          "peak at p = dn", "theorem1"),
    Claim("fig2_flat_in_k", "paper", "Fig. 2 (vs k)",
          "A network's test loss does not change with the number of modules k.",
          "test loss 1.68 to 2.73 over k = 2..9; theory flat at 1.86", "nn_vs_theory"),
    Claim("fig2_sublinear_in_m", "paper", "Fig. 2 (vs m)",
          "A network's test loss grows sublinearly with the input dimension m, as the theory predicts.",
          "test loss 0.78 (m = 2) to 2.70 (m = 9); theory 0.62 to 2.85", "nn_vs_theory"),
    Claim("fig2_double_descent_in_p", "paper", "Fig. 2 (vs p)",
          "A network's test loss shows double descent in the parameter count p.",
          "peak 4.0 at p = 1.2e3; theory diverges at p = 1.16e3", "nn_vs_theory"),
    Claim("fig2_double_descent_in_n", "paper", "Fig. 2 (vs n)",
          "A network's test loss shows double descent in the sample count n.",
          "peak 3.98 at n = 1e3; theory diverges at n = 0.96e3", "nn_vs_theory"),
    Claim("fig3_exponential_in_m", "paper", "Fig. 3",
          "The samples needed for test loss 1.2 grow exponentially with the input dimension m.",
          "smallest curve 102 (m = 2) to 747 (m = 9); largest 71,806 to 334,188", "dimension_scaling"),
    Claim("theorem2", "paper", "Theorem 2",
          "A modular model's train loss, and its underparameterised test loss, do not depend on m.",
          _NO_NUMBER, "theorem2"),
    Claim("algorithm1_recovery", "paper", "Section 4.2, Algorithm 1",
          "Random restarts of the kernel rule land on the task's true module directions.",
          "no number: the paper describes the mechanism, not how often restarts find a module", "kernel_rule"),
    Claim("fig4a_kernel_vs_random", "paper", "Fig. 4a",
          "(i) The kernel rule's U lowers the samples a modular network needs for test loss 1.5, against the "
          "same network with random U: what the rule controls.",
          "m = 2: 460 vs 7,400; m = 9: 14,100 vs 81,700 (kernel rule vs random U)", "sample_complexity"),
    Claim("fig4a_kernel_vs_monolithic", "paper", "Fig. 4a",
          "(ii) The kernel-rule modular network needs fewer samples for test loss 1.5 than a monolithic MLP, "
          "at every m but 9: the paper's figure.",
          "m = 2: 460 vs 2,150; m = 9: 14,100 vs 11,400 (kernel rule vs MLP)", "sample_complexity"),
    Claim("fig4a_oracle_vs_random", "paper", "Fig. 4a (Theorem 2's premise)",
          "(iii) A modular network given the true projections needs fewer samples than one with random U: "
          "Theorem 2's premise realised, not evidence for the rule.",
          "no number: the paper has no oracle curve; its argument assumes this", "sample_complexity"),
    Claim("fig4a_flat_in_m", "paper", "Fig. 4a and Theorem 2",
          "(iv) How the samples needed change with m, per method: the paper's curves grow for all three methods; "
          "Theorem 2 says flat for a modular network with the right projections.",
          "kernel rule 460 (m = 2) to 14,100 (m = 9); random U 7,400 to 81,700; MLP 2,150 to 11,400",
          "sample_complexity"),
    Claim("fig5_alignment", "paper", "Fig. 5 and t-SNE",
          "The kernel rule aligns the learned module projections with the target ones better than "
          "random initialisation.",
          "cosine similarity 0.628 vs 0.578 after 1,000 iterations", "module_alignment"),
    Claim("fig4b_compositional_cifar", "paper", "Fig. 4b",
          "On Compositional CIFAR-10 the kernel-rule network is the most accurate at every k, "
          "and its lead grows with k.",
          "k = 1: 0.552 vs 0.536 and 0.529; k = 8: 0.482 vs 0.434 and 0.390", "compositional_images"),
    Claim("ood_noise_robustness", "paper", "OOD and noise table",
          "The kernel-rule network is the most accurate on unseen class combinations and under input noise.",
          "OOD 49.90 % vs 45.26 % and 42.56 %; noise 46.95 % vs 43.07 % and 39.47 %", "robustness"),
    Claim("table2_nonlinear_projections", "paper", "Table 2",
          "Nonlinear module projections work as well as linear ones.",
          "not available: the table's numbers are not in the sources we have", "projections"),
    Claim("fig12_projections_visualised", "paper", "Fig. 12",
          "The learned projections of the Compositional CIFAR-10 network each attend to one image.",
          "qualitative figure, no number", "projections"),
    Claim("essay_l1", "essay", "link 1",
          "L1 regularisation makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity"),
    Claim("essay_l2", "essay", "link 1",
          "L2 regularisation makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity"),
    Claim("essay_weight_decay", "essay", "link 1",
          "Weight decay makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity"),
    Claim("essay_dropout", "essay", "link 1",
          "Dropout makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity"),
    Claim("essay_prune", "essay", "link 1",
          "Magnitude pruning makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity"),
    Claim("essay_connection_cost", "essay", "link 1",
          "A connection cost makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity"),
    Claim("essay_mvg", "essay", "link 1",
          "Switching between modularly varying goals makes networks more modular.", _ESSAY,
          "essay_modularity"),
    Claim("essay_init", "essay", "link 1",
          "Trained networks are more modular than at initialisation.", _ESSAY, "essay_modularity"),
    Claim("essay_observational", "essay", "link 2",
          "Across runs, more modular networks generalise better.", _ESSAY, "essay_modularity"),
    Claim("essay_intervention", "essay", "link 2",
          "Hard-wired modules (an intervention) make networks generalise better.", _ESSAY,
          "essay_modularity"),
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


def combined_verdict(verdicts) -> str:
    """One verdict (of :data:`VERDICTS`) for a claim checked several times (per task, per
    baseline, per step): "not testable" if any check is, "agree" or "disagree" when all say so,
    "partly" when some agree, otherwise "inconclusive"."""
    verdicts = list(verdicts)
    if "not testable" in verdicts:
        return "not testable"
    if verdicts and all(v == "agree" for v in verdicts):
        return "agree"
    if verdicts and all(v == "disagree" for v in verdicts):
        return "disagree"
    return "partly" if "agree" in verdicts else "inconclusive"


class Record(dict):
    """A claim record: a plain dict that Jupyter displays (and myst_nb.glue stores) as one
    line of JSON text."""

    def _repr_pretty_(self, printer, cycle):
        printer.text(json.dumps(self, sort_keys=True))


def record(claim_id: str, *, ours: str, seeds: Sequence[int], verdict: str, rule: str,
           paper: str | None = None) -> Record:
    """The record of one checked claim, to ``glue("claim:" + claim_id, ..., display=False)``.

    ``ours`` is our number(s) as the reader should see them, ``seeds`` the seeds behind them,
    ``verdict`` one of :data:`VERDICTS`, decided in code by ``rule`` (a sentence the
    scorecard prints beside the verdict). ``paper`` overrides the source's number listed in
    :data:`CLAIMS`.
    """
    claim(claim_id)  # unknown ids fail here, in the chapter, not silently on the scorecard
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict=}")
    if not isinstance(ours, str) or not ours.strip():
        raise ValueError(f"ours must be a non-empty string, got {ours=}")
    if not isinstance(rule, str) or not rule.strip():
        raise ValueError(f"rule must be a non-empty string, got {rule=}")
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        raise ValueError(f"seeds must name at least one seed, got {seeds=}")
    return Record(schema=SCHEMA, claim_id=claim_id, ours=ours, seeds=seeds, verdict=verdict, rule=rule,
                  paper=paper, commit=git_commit())


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
    if rec.get("verdict") not in VERDICTS:
        return f"record has no valid verdict ({rec.get('verdict')!r})"
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
            rows.append(Row(item, NOT_RUN, why, "", item.paper, "", (), None, chapter))
            continue
        name, notebook, rec = found[item.claim_id]
        reason = _staleness(notebook, name, rec, commit, source_dir)
        profile = notebook.get("metadata", {}).get("modcore", {}).get("profile")
        rows.append(Row(item, NOT_RUN if reason else rec["verdict"], reason, str(rec.get("ours", "")),
                        rec.get("paper") or item.paper, str(rec.get("rule", "")),
                        tuple(rec.get("seeds", ())), profile, name))
    return rows


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _seeds(seeds: Sequence[int]) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def to_markdown(rows: Sequence[Row]) -> str:
    """The scorecard as a MyST table; chapters are ``{doc}`` links, checked by the build."""
    lines = ["| Claim | Source's number | Ours | Verdict, by the rule | Chapter |", "|---|---|---|---|---|"]
    for row in rows:
        claim_text = f"**{row.claim.source.capitalize()}, {row.claim.where}.** {row.claim.sentence}"
        ours = "" if row.status == NOT_RUN else f"{row.ours} ({_seeds(row.seeds)}; profile `{row.profile}`)"
        verdict = f"**{row.status}**" if row.status != NOT_RUN else f"{NOT_RUN} ({row.reason})"
        if row.rule:
            verdict += f"; rule: {row.rule}"
        chapter = f"{{doc}}`{row.chapter} <{row.chapter}>`" if row.chapter else "none yet"
        lines.append("| " + " | ".join([_cell(claim_text), _cell(row.paper), _cell(ours), _cell(verdict), chapter]) + " |")
    return "\n".join(lines)


def count(rows: Sequence[Row]) -> dict[str, int]:
    """How many rows have each status, in the order of :data:`VERDICTS`, then "not run"."""
    return {status: sum(row.status == status for row in rows) for status in (*VERDICTS, NOT_RUN)}
