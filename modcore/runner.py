"""Execute the notebooks with papermill at a profile, with checked parameter overrides.

This is the top layer of the package: only ``python -m modcore`` and the tests import it;
no other module of modcore does (so the library never depends on papermill or the book).

A notebook is ``notebooks/<name>.py`` (Jupytext percent format) with exactly one cell tagged
``parameters`` whose plain assignments are the ``default`` profile, and a chapter module
``modcore/chapters/<name>.py`` whose ``Parameters`` class is the one home of each parameter's
type, default and rule (:mod:`modcore.parameters`). ``notebooks/profiles/<name>.yml`` holds
values only: the overrides of the ``ci``, ``default``, ``gpu`` and ``paper`` profiles.
papermill injects unknown names silently; here an unknown notebook, profile or parameter, a
notebook without a chapter module, a value of the wrong type, a non-finite number or a value
that breaks its rule is a :class:`RunnerError` that names it, raised before any kernel starts.

Paths the kernel reads or writes (:data:`PATH_PARAMETERS`) are made absolute here, against
the caller's working directory, since the kernel runs in ``notebooks/``; an empty one is
refused.

A notebook that fails while running raises :class:`NotebookFailed` (a kernel that dies names
the cell it was running); Ctrl-C raises :class:`NotebookInterrupted`. Either way the executed
notebook is kept as ``<name>.failed.ipynb`` and the previous ``<name>.ipynb`` (the one the book
reads) is left in place. A successful run ends with a generated "Provenance" cell (see
:mod:`modcore.provenance`).
"""

from __future__ import annotations

import ast
import concurrent.futures
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from modcore import chapters, paths, provenance
from modcore.parameters import PROFILES, ChapterParameters, ParameterError

# The longest a command may run, by its estimate, before it asks for --max-hours (hours, per
# profile). ci is the test suite's scale (minutes; half an hour means a runaway value); default
# is the book on a laptop (a few hours at most); gpu is sized for about 8 minutes on an H100, so
# one hour allows a GPU eight times slower than assumed; paper is days of CPU by design, and 100
# hours stops only what would take weeks.
MAX_HOURS = {"ci": 0.5, "default": 2.0, "gpu": 1.0, "paper": 100.0}
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
# What `python -m modcore list/run` needs beyond the package's own dependencies; the
# pyproject declares them as the extra below.
NOTEBOOK_PACKAGES = ("jupytext", "papermill", "nbformat")
NOTEBOOK_EXTRA = "notebooks"


class RunnerError(ValueError):
    """A bad notebook name, profile, parameter name or parameter value."""


class NotebookFailed(RuntimeError):
    """A notebook raised while it ran; the message names the cell and the kept notebook."""


class NotebookInterrupted(KeyboardInterrupt):
    """Ctrl-C while a notebook ran; the message names it and what was kept."""


# Parameters that name a file or folder the kernel uses: resolved against the caller's working
# directory (the kernel's is notebooks/), and never empty (Path("") would mean that working directory).
PATH_PARAMETERS = ("results_dir", "executed_dir", "cifar10_path")


def require_notebook_packages(packages: Iterable[str] = NOTEBOOK_PACKAGES) -> None:
    """Fail in one line, naming the extra to install, if the notebook runner's packages are missing."""
    import importlib.util

    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise RunnerError(f"running notebooks needs the '{NOTEBOOK_EXTRA}' extra (missing: {', '.join(missing)}); "
                          f"install it with: pip install -e \".[{NOTEBOOK_EXTRA}]\"")


# Pages that read the others (the scorecard reads every chapter's claim records, the execution
# statistics every chapter's provenance, the scorecard's included, the paper-scale page every
# chapter's profiles, to estimate them) or only the code (the choices page): `run all` executes
# them last, in this order; they draw tables (figures need not), and have no randomness (no seed).
LAST = ("choices", "paper_scale", "scorecard", "execution_stats")
NO_FIGURE = LAST


def notebook_names() -> list[str]:
    """Every notebook, in the order `run all` executes them (LAST at the end, in its order)."""
    names = sorted(p.stem for p in paths.NOTEBOOKS_DIR.glob("*.py") if p.stem != "conftest")
    return sorted(names, key=lambda name: LAST.index(name) if name in LAST else -1)


def notebook_path(name: str) -> Path:
    if name not in notebook_names():
        raise RunnerError(f"unknown notebook {name!r}; known notebooks: {', '.join(notebook_names())}")
    return paths.NOTEBOOKS_DIR / f"{name}.py"


def _read(name: str):
    import jupytext  # imported here: `python -m modcore list` should not pay for papermill

    notebook = jupytext.read(notebook_path(name))
    notebook.metadata.setdefault("kernelspec", dict(KERNELSPEC))
    return notebook


def _parameters_cell_source(notebook, name: str) -> str:
    cells = [c for c in notebook.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise RunnerError(f"notebook {name!r} must have exactly one cell tagged 'parameters', found {len(cells)}")
    return cells[0].source


def parse_parameters_cell(source: str, name: str = "<cell>") -> dict[str, Any]:
    """The ``{name: value}`` assignments of a parameters cell; only literals are allowed."""
    parameters: dict[str, Any] = {}
    for statement in ast.parse(source).body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            raise RunnerError(f"parameters cell of {name!r}: line {statement.lineno} is not `name = literal`")
        try:
            value = ast.literal_eval(statement.value)
        except ValueError:
            raise RunnerError(f"parameters cell of {name!r}: {statement.targets[0].id} is not a literal") from None
        parameters[statement.targets[0].id] = value
    return parameters


def default_parameters(name: str) -> dict[str, Any]:
    """The parameters cell of notebook ``name``: the values of its ``default`` profile."""
    return parse_parameters_cell(_parameters_cell_source(_read(name), name), name)


# --- profile files ----------------------------------------------------------------------

class _ProfileLoader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where a number with an exponent but no dot (``1e-3``) is a
    string; YAML 1.2, Python and every reader of a profile file mean a float."""


_ProfileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def _mapping_without_duplicate_keys(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    """A YAML mapping; a key given twice is an error (PyYAML would keep the last value silently,
    so the value the reader sees first would not be the one that runs)."""
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            seen = key in first_line
        except TypeError:  # an unhashable key: construct_mapping reports it
            continue
        if seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {first_line[key] + 1})", key_node.start_mark)
        first_line[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=True)


_ProfileLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicate_keys)


def read_yaml(path: Path) -> Any:
    """The YAML document at ``path``; a syntax error is one line naming the file and the line."""
    try:
        return yaml.load(path.read_text(), Loader=_ProfileLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise RunnerError(f"{_shown(path)}{where}: not valid YAML ({problem})") from None


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(paths.REPO_ROOT))
    except ValueError:
        return str(path)


def _profile_file(name: str) -> Path:
    path = paths.PROFILES_DIR / f"{name}.yml"
    if not path.exists():
        raise RunnerError(f"notebook {name!r} has no profile file {_shown(path)}")
    return path


def _profile_document(name: str) -> tuple[Path, dict[str, Any]]:
    path = _profile_file(name)
    document = read_yaml(path) or {}
    if isinstance(document, dict):
        document.setdefault("gpu", {})  # a profile file without a gpu section runs default's values on a GPU
        if "constraints" in document:  # the retired rule language: a rule left there must not look enforced
            raise RunnerError(f"{_shown(path)}: profiles hold values only; its 'constraints' section is no longer "
                              f"read (each rule lives in the Parameters class of modcore/chapters/{name}.py)")
    if not isinstance(document, dict) or set(document) != set(PROFILES):
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise RunnerError(f"{path.name} must define exactly the profiles {PROFILES}, found {found}")
    return path, document


def load_profiles(name: str) -> dict[str, dict[str, Any]]:
    """``{profile: overrides}`` from ``notebooks/profiles/<name>.yml``, checked."""
    path, document = _profile_document(name)
    for profile in PROFILES:
        if not isinstance(document[profile] or {}, dict):
            raise RunnerError(f"{path.name}: profile {profile!r} must be a mapping of parameter: value")
    return {profile: dict(document[profile] or {}) for profile in PROFILES}


def parameters_class(name: str) -> type[ChapterParameters]:
    """The ``Parameters`` class of notebook ``name``'s chapter module, the one home of its
    parameters' types, defaults and rules. The tests give a toy notebook its class by replacing
    this function."""
    typed = getattr(chapters.load(name), "Parameters", None) if name in chapters.names() else None
    if not (isinstance(typed, type) and issubclass(typed, ChapterParameters)):
        raise RunnerError(f"notebook {name!r} has no chapter module modcore/chapters/{name}.py with a Parameters class")
    return typed


def resolve(name: str, profile: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Parameters to inject: the profile's overrides, then ``overrides``, checked by building the
    chapter's ``Parameters`` (type, finiteness, each rule, relations); the
    :data:`PATH_PARAMETERS` among them made absolute. Every refusal names the notebook."""
    if profile not in PROFILES:
        raise RunnerError(f"notebook {name!r}: unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    defaults = default_parameters(name)  # an unknown notebook is refused here
    typed = parameters_class(name)
    chosen = {**load_profiles(name)[profile], **(overrides or {})}
    unknown = sorted(set(chosen) - set(defaults))
    if unknown:
        raise RunnerError(f"notebook {name!r}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                          f"its parameters: {', '.join(defaults)}")
    try:
        built = typed.from_values({**defaults, **chosen}).values()
    except ParameterError as error:
        raise RunnerError(f"notebook {name!r}: {error}") from None
    checked = {key: built[key] for key in chosen}
    for key in PATH_PARAMETERS:
        if isinstance(checked.get(key), str):
            if not checked[key].strip():
                raise RunnerError(f"notebook {name!r}: parameter {key} = {checked[key]!r} names no path; give one, "
                                  f"or None for the default")
            checked[key] = str(paths.absolute_path(checked[key], key))
    return checked


def parse_cli_value(text: str) -> Any:
    """``-p name value`` text to a value: Python literals (500, 1e-3, [1, 2], 'a'), then
    true/false/null in any case, else the text itself as a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    return text


# --- execution ----------------------------------------------------------------------------

def execute(name: str, profile: str = "default", overrides: Mapping[str, Any] | None = None, *,
            output_dir: str | os.PathLike[str] | None = None, log_output: bool = False,
            progress_bar: bool = False, cell_timeout_s: int | None = None) -> Path:
    """Execute notebook ``name`` with papermill; return the path of the executed ``.ipynb``.

    The output goes to ``book/_executed/<name>.ipynb`` (where the book reads it) unless
    ``output_dir`` is given. papermill writes to a hidden temporary file beside it, which
    replaces ``<name>.ipynb`` only when every cell ran; then it ends with a "Provenance"
    cell. If a cell fails, the partly executed notebook is kept as ``<name>.failed.ipynb``,
    the previous ``<name>.ipynb`` stays, and :class:`NotebookFailed` says where it failed
    (Ctrl-C: :class:`NotebookInterrupted`, likewise). The kernel process's own log (its
    stderr, not the cells' output, which stays in the notebook) goes to a file beside the
    notebook, kept as ``<name>.failed.log`` only when the kernel died.
    """
    import papermill

    overrides = dict(overrides or {})
    folder = paths.EXECUTED_DIR if output_dir is None else paths.absolute_path(output_dir, "output_dir")
    if output_dir is not None and "executed_dir" in default_parameters(name):
        # a notebook that reads the other executed notebooks reads the folder it is written to
        overrides = {"executed_dir": str(folder.resolve()), **overrides}
    parameters = resolve(name, profile, overrides)
    notebook = _read(name)
    notebook.metadata["modcore"] = {"profile": profile, "overrides": overrides}
    folder.mkdir(parents=True, exist_ok=True)
    output, failed = folder / f"{name}.ipynb", folder / f"{name}.failed.ipynb"
    running = folder / f".{name}.running-{os.getpid()}.ipynb"
    kernel_log, failed_log = running.with_suffix(".log"), folder / f"{name}.failed.log"
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            notebook, str(running), parameters=parameters, cwd=str(paths.NOTEBOOKS_DIR),
            kernel_name=KERNELSPEC["name"], language=KERNELSPEC["language"],
            progress_bar=progress_bar, log_output=log_output, execution_timeout=cell_timeout_s,
            kernel_manager_class=_kernel_manager_logging_to(kernel_log),
        )
    except BaseException as error:
        kept = _keep_failed(running, failed)
        died = type(error).__name__ == "DeadKernelError"
        if died and kernel_log.exists():
            os.replace(kernel_log, failed_log)
        else:  # an older kernel log would describe another failure than the kept notebook's
            failed_log.unlink(missing_ok=True)
        kernel_log.unlink(missing_ok=True)
        if isinstance(error, KeyboardInterrupt):
            raise NotebookInterrupted(_interrupted_line(name, output, kept)) from None
        if not isinstance(error, Exception):  # SystemExit and the like: stop, the notebook is kept all the same
            raise
        line = _failure_line(name, error, kept)
        if type(error).__name__ == "CellTimeoutError":
            line = _timeout_line(name, cell_timeout_s, kept)
        raise NotebookFailed(line + (f" (kernel log: {failed_log})" if died else "")) from error
    kernel_log.unlink(missing_ok=True)
    wall_seconds = time.perf_counter() - start
    provenance.append_cell(running, provenance.record(name, profile, overrides, parameters,
                                                      default_parameters(name), wall_seconds))
    os.replace(running, output)
    for stale in (failed, failed_log):  # an older failure of this notebook no longer describes it
        stale.unlink(missing_ok=True)
    return output


def execute_all(names: list[str], execute: Callable[[str, bool], Any], *, jobs: int, stream: bool,
                seconds: Mapping[str, float]) -> None:
    """Execute ``names`` in order, or with ``jobs`` > 1 up to that many at once (one kernel each,
    longest estimate first, output not streamed: it would interleave), then the pages that read
    the others (:data:`LAST`) one after another. Each notebook is deterministic from its seed and
    writes its own results store, so the numbers do not depend on ``jobs``. The first notebook to
    fail stops the ones not yet started; those running finish, and the failure is raised."""
    chapters_first = [name for name in names if name not in LAST]
    readers = [name for name in names if name in LAST]
    if jobs == 1:
        for name in names:
            execute(name, stream)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        longest_first = sorted(chapters_first, key=lambda name: -seconds[name])
        futures = [pool.submit(execute, name, False) for name in longest_first]
        try:
            for future in concurrent.futures.as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    for name in readers:
        execute(name, stream)


def _kernel_manager_logging_to(log: Path) -> type:
    """A jupyter_client kernel manager whose kernel process writes its stderr to ``log``.

    Only the kernel's own messages go there (its start-up warnings, the traceback of a kernel
    stopped mid-cell by Ctrl-C, what a dying kernel says); the cells' output, whatever fd
    it is written to, reaches the notebook as before. Left on the terminal, these messages
    would break the rule that a failure or a Ctrl-C prints one line.
    """
    from jupyter_client import AsyncKernelManager

    class LoggingKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            with open(log, "ab") as file:  # the kernel process keeps its own copy of the descriptor
                await super()._async_launch_kernel(kernel_cmd, **{**kw, "stderr": file})

    return LoggingKernelManager


def _keep_failed(running: Path, failed: Path) -> Path | None:
    if running.exists():
        os.replace(running, failed)
        return failed
    return None


def _failure_line(name: str, error: Exception, kept: Path | None) -> str:
    """``<notebook> failed in cell N: <exception>: <message> (see <executed notebook>)``,
    N being the cell's execution count (the ``[N]`` beside it in the kept notebook). When the
    kernel died, N is the cell that was running: the kept notebook's last started code cell,
    counted from 1 (in a fresh kernel, the count it would have had)."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        where, exception, message = f" in cell {error.exec_count}", error.ename, error.evalue
    else:  # the kernel died, could not start, ...
        cell = _running_cell(kept)
        where = "" if cell is None else f" in cell {cell}"
        exception, message = type(error).__name__, str(error)
        if type(error).__name__ == "DeadKernelError":
            message = "the kernel died (killed, or out of memory?)"
    message = (message.strip().splitlines() or [""])[0]
    see = f" (see {kept})" if kept is not None else ""
    return f"{name} failed{where}: {exception}: {message}{see}"


def _timeout_line(name: str, limit: int | None, kept: Path | None) -> str:
    """One line for a cell stopped by the per-cell limit: which cell, which limit, how to lift it."""
    cell = _running_cell(kept)
    where = f" in cell {cell}" if cell is not None else ""
    see = f" (see {kept})" if kept is not None else ""
    return (f"{name} stopped{where}: the cell ran past its limit of {limit} s (10 x the notebook's estimate, at "
            f"least 600 s; a hung kernel?); a longer limit follows from a larger --max-hours{see}")


def _running_cell(kept: Path | None) -> int | None:
    """Number (from 1, among code cells) of the last code cell papermill started in ``kept``."""
    if kept is None:
        return None
    try:
        import nbformat

        cells = [c for c in nbformat.read(kept, as_version=4).cells if c.cell_type == "code"]
    except Exception:  # noqa: BLE001 (a notebook cut off mid-write: the message just has no cell)
        return None
    started = [i for i, cell in enumerate(cells, 1) if cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def _interrupted_line(name: str, output: Path, kept: Path | None) -> str:
    """One line for Ctrl-C: what stopped, what the book still reads, where the partial run is."""
    cell = _running_cell(kept)
    where = f" in cell {cell}" if cell is not None else ""
    previous = f"the previous {output} is kept" if output.exists() else f"no {output} was written"
    partial = f", the partial run is {kept}" if kept is not None else ""
    return f"{name} interrupted (Ctrl-C){where}; {previous}{partial}"


def describe(names: Iterable[str]) -> str:
    """A table of each notebook's parameters and their value under every profile, then the
    rules their values must obey."""
    lines = []
    for name in names:
        defaults = default_parameters(name)
        profiles = load_profiles(name)
        rows = [("parameter", *PROFILES)]
        for key, value in defaults.items():
            rows.append((key, *(repr(profiles[p].get(key, value)) for p in PROFILES)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines.append(name)
        if defaults:
            lines.extend("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
        else:  # a page that only reads (choices): no table with a heading and no rows
            lines.append("  no parameters")
        typed = parameters_class(name)
        rules = [f"{key}: {text}" for key, text in typed.rule_texts().items()]
        rules += [relation.text for relation in typed().relations()]
        if rules:  # a page without parameters (choices) has no rules, and no heading for them
            lines.append(f"  rules (from modcore/chapters/{name}.py; every number must also be finite):")
            lines.extend(f"    {rule}" for rule in rules)
        lines.append("")
    return "\n".join(lines)


# --- cost before running (see modcore.estimate) ----------------------------------------

def estimate_notebook(name: str, profile: str, overrides: Mapping[str, Any] | None = None):
    """:class:`modcore.estimate.Estimate` of notebook ``name`` at ``profile`` and ``overrides``,
    after the same checks as a run (:func:`resolve`)."""
    from modcore import workloads  # imported here: it loads torch, which a plain `run` need not

    values = {**default_parameters(name), **resolve(name, profile, overrides)}
    return workloads.estimate(name, values)


def estimate_profile(profile: str) -> dict:
    """Every notebook's :class:`modcore.estimate.Estimate` at ``profile`` (default parameters),
    after the same checks as a run: what ``python -m modcore run all --profile P --estimate``
    prints, as ``{notebook: Estimate}``."""
    return {name: estimate_notebook(name, profile) for name in notebook_names()}


def check_max_hours(value: Any) -> float:
    """``--max-hours``: a positive finite number of hours."""
    try:
        hours = float(value)
    except (TypeError, ValueError):
        hours = math.nan
    if not (math.isfinite(hours) and hours > 0):
        raise RunnerError(f"--max-hours must be a positive finite number of hours, got {value!r}")
    return hours


def check_cost(estimates: Iterable, profile: str, max_hours: float | None, device: str) -> None:
    """Refuse, before any kernel starts, a command whose estimate exceeds ``max_hours`` (default
    :data:`MAX_HOURS` of the profile) or whose peak memory exceeds the machine's (the GPU's for
    cuda): one line with the estimate and how to go on."""
    from modcore import estimate  # imported here: it loads torch, which a plain `run` need not

    estimates = list(estimates)
    hours = MAX_HOURS[profile] if max_hours is None else max_hours
    total = sum(e.seconds for e in estimates)
    if total > hours * 3600:
        heaviest = max(estimates, key=lambda e: e.seconds)
        needed = math.ceil(total / 3600 * 10) / 10
        raise RunnerError(f"estimated {estimate.human_seconds(total)} on this machine ({heaviest.notebook}: "
                          f"{estimate.human_seconds(heaviest.seconds)}, {estimate.human_count(heaviest.model_steps)} "
                          f"model-steps), above the limit of {hours:g} h for profile {profile!r}; see "
                          f"--estimate, lower the values, or go on with --max-hours {needed:g}")
    memory = estimate.machine_memory_bytes(device)
    for e in estimates:
        if e.peak_bytes > memory:
            raise RunnerError(f"notebook {e.notebook!r}: estimated peak memory {estimate.human_bytes(e.peak_bytes)} "
                              f"exceeds this machine's {estimate.human_bytes(memory)} ({device}); lower the values "
                              f"(see --estimate)")
