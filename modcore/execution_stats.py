"""The execution-statistics page: how each chapter of this build was executed, read from the
provenance that ``python -m modcore run`` writes into every executed notebook.

The runner (with :mod:`modcore.provenance`) stores one record per executed notebook under
``metadata.modcore.provenance``: the command, the profile, the device, the git commit, the
versions of the packages behind the numbers, the Python version and the wall time (kernel
start included). This module only reads those records back from ``book/_executed`` (or
another folder) with plain :mod:`json`, like the scorecard reads the claim records; nothing on
the page is typed by hand.

A chapter without an executed notebook, or whose notebook has no provenance (it failed, or
was executed by something else than the runner), is listed as such, never with a made-up time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modcore import paths

PAGE = "execution_stats"  # this page's own notebook: its provenance is written after it ran
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class ChapterRun:
    """How one chapter's executed notebook was made; ``provenance`` is None when it has none."""

    name: str                 # notebook name (the page's file name)
    title: str                # the page's first heading; the name when there is no notebook
    found: bool               # an executed notebook exists
    provenance: dict | None
    failed: bool              # papermill recorded an exception

    @property
    def executed(self) -> bool:
        return self.found and self.provenance is not None and not self.failed

    @property
    def status(self) -> str:
        if not self.found:
            return "not executed"
        if self.failed:
            return "failed"
        return "executed" if self.provenance is not None else "no provenance"


def _title(notebook: dict, name: str) -> str:
    """The first markdown heading of an executed notebook, else its name."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        for line in ("".join(source) if isinstance(source, list) else source).splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return name


def book_order() -> list[str]:
    """Every notebook name, in the order of the book's table of contents (``_toc.yml``, when
    the source tree has one), then any others alphabetically."""
    names = sorted(p.stem for p in paths.NOTEBOOKS_DIR.glob("*.py") if p.stem != "conftest")
    toc = paths.REPO_ROOT / "_toc.yml"
    if not toc.exists():
        return names
    import yaml

    files = [chapter.get("file", "") for part in (yaml.safe_load(toc.read_text()) or {}).get("parts", [])
             for chapter in part.get("chapters", [])]
    listed = [f.removeprefix("book/_executed/") for f in files if f.removeprefix("book/_executed/") in names]
    return listed + [name for name in names if name not in listed]


def collect(executed_dir: str | Path | None = None, *, names: Sequence[str] | None = None) -> list[ChapterRun]:
    """One :class:`ChapterRun` per chapter, in the order of ``names`` (default: every notebook
    in ``notebooks/``, alphabetically), from the executed notebooks in ``executed_dir``
    (default ``book/_executed``). This page itself is left out."""
    executed_dir = Path(executed_dir) if executed_dir is not None else paths.EXECUTED_DIR
    if not executed_dir.is_dir():
        raise ValueError(f"executed_dir={str(executed_dir)!r} is not a directory")
    if names is None:
        names = book_order()
    runs = []
    for name in names:
        if name == PAGE:
            continue
        path = executed_dir / f"{name}.ipynb"
        if not path.exists():
            runs.append(ChapterRun(name, name, False, None, False))
            continue
        notebook = json.loads(path.read_text())
        metadata = notebook.get("metadata", {})
        runs.append(ChapterRun(name, _title(notebook, name), True, metadata.get("modcore", {}).get("provenance"),
                               bool(metadata.get("papermill", {}).get("exception"))))
    return runs


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _link(run: ChapterRun) -> str:
    # the title is the link text; MyST reads `<` and backticks inside it as syntax
    title = run.title.replace("`", "").replace("<", "").replace(">", "")
    return f"{{doc}}`{title} <{run.name}>`"


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def runs_table(runs: Sequence[ChapterRun]) -> str:
    """One row per chapter: profile, wall time, device, commit, when it finished; then the
    total. A device shared by every executed chapter is said once, above the table."""
    executed = [run for run in runs if run.executed]
    devices = {str(run.provenance.get("device", NOT_RECORDED)) for run in executed}
    shared = len(devices) == 1
    head = ["Chapter", "Profile", "Wall time", *([] if shared else ["Device"]), "Commit", "Finished"]
    lines = [f"Every chapter ran on one device: {next(iter(devices))}.", ""] if shared else []
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("--:" if h == "Wall time" else "---" for h in head) + "|"]
    for run in runs:
        if not run.executed:
            cells = [_link(run) if run.found else _cell(run.name), run.status] + [""] * (len(head) - 2)
        else:
            record = run.provenance
            cells = [_link(run), f"`{_cell(record.get('profile', NOT_RECORDED))}`",
                     _minutes(float(record.get("wall_seconds", 0.0))),
                     *([] if shared else [_cell(record.get("device", NOT_RECORDED))]),
                     f"`{_cell(record.get('commit', NOT_RECORDED))}`", _cell(record.get("finished_utc", NOT_RECORDED))]
        lines.append("| " + " | ".join(cells) + " |")
    total = sum(float(run.provenance.get("wall_seconds", 0.0)) for run in executed)
    cells = [f"**all {len(executed)} executed chapters**", "", f"**{_minutes(total)}**"] + [""] * (len(head) - 3)
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def package_versions(runs: Sequence[ChapterRun]) -> dict[str, Counter]:
    """``{package: Counter(version: number of chapters)}`` over the executed chapters; Python
    is listed as the package ``python``."""
    versions: dict[str, Counter] = {}
    for run in runs:
        if not run.executed:
            continue
        recorded = {"python": run.provenance.get("python", NOT_RECORDED),
                    "modcore": run.provenance.get("modcore_version", NOT_RECORDED),
                    **run.provenance.get("packages", {})}
        for package, version in recorded.items():
            versions.setdefault(package, Counter())[version] += 1
    return versions


def versions_table(runs: Sequence[ChapterRun]) -> str:
    """One row per package: its version, or each version with how many chapters ran with it."""
    lines = ["| Package | Version |", "|---|---|"]
    for package, counts in package_versions(runs).items():
        shown = (next(iter(counts)) if len(counts) == 1
                 else "; ".join(f"{version} ({number} chapter{'s' * (number != 1)})"
                                for version, number in counts.most_common()))
        lines.append(f"| `{_cell(package)}` | {_cell(shown)} |")
    return "\n".join(lines)


def summary(runs: Sequence[ChapterRun]) -> dict[str, object]:
    """The page's glued words: how many chapters ran, and whether one profile, one commit and
    one set of package versions made them all (a mixed build says which differ)."""
    executed = [run for run in runs if run.executed]
    profiles = sorted({str(run.provenance.get("profile")) for run in executed})
    commits = sorted({str(run.provenance.get("commit")) for run in executed})
    mixed_packages = sorted(package for package, counts in package_versions(runs).items() if len(counts) > 1)
    if not executed:
        consistency = "No chapter of this build has been executed yet."
    else:
        where = (f"at one profile ({profiles[0]})" if len(profiles) == 1
                 else f"at {len(profiles)} profiles ({', '.join(profiles)})")
        # the commit itself is in the table: a glued word must not change with every commit
        source = "from one commit" if len(commits) == 1 else f"from {len(commits)} different commits"
        versions = ("with the same package versions" if not mixed_packages
                    else f"with different versions of {', '.join(mixed_packages)}")
        consistency = f"They ran {where}, {source}, {versions}."
        if len(commits) > 1 or mixed_packages:
            consistency += " Pages made from different code or packages may not agree with each other."
    return {
        "n_chapters": len(runs),
        "n_executed": len(executed),
        "n_not_executed": len(runs) - len(executed),
        "consistency": consistency,
    }
