"""One machine-readable record per claim, written by the chapter that checks it, read by the
scorecard page.

The claims
    Every claim a row is kept for, with the source's number(s), is :data:`modcore.claims.CLAIMS`;
    a record names its claim by ``claim_id``.

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
    table shows it; None: ``ours``), ``paper`` defaults to the source's number in :data:`modcore.claims.CLAIMS`
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
import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modcore import paths, verdicts
from modcore.claims import CLAIMS, Claim, claim
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
    verdict). ``paper`` overrides the source's number listed in :data:`modcore.claims.CLAIMS`; ``parts`` are
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
    """One :class:`Row` per claim of :data:`modcore.claims.CLAIMS`, in that order, from the finished executed
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
    numbers), chapters as ``{doc}`` links (checked by the build), in a MyST ``table`` directive of
    class ``modcore-scorecard``, whose column widths book/_static/modcore.css sets. The full evidence
    of each row is in :func:`details_markdown`."""
    lines = ["```{table}", ":class: modcore-scorecard", "",
             "| Claim | Verdict | Why (our numbers) |", "|---|---|---|"]
    for row in rows:
        claim_text = _link(row, row.claim.label)
        why = row.why if row.status != NOT_RUN else row.reason
        lines.append("| " + " | ".join([claim_text, _status(row), _cell(why)]) + " |")
    return "\n".join([*lines, "```"])


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


def headline_markdown(rows: Sequence[Row]) -> str:
    """The headline as a Markdown list, one sentence a line: read at a glance where one long
    paragraph was not."""
    return "\n".join(f"- {sentence}" for sentence in headline_sentences(rows))


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
