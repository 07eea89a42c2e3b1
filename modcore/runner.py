"""Execute the notebooks with papermill at a profile, with checked parameter overrides.

This is the top layer of the package: only ``python -m modcore`` and the tests import it;
no other module of modcore does (so the library never depends on papermill or the book).

A notebook is ``notebooks/<name>.py`` (Jupytext percent format) with exactly one cell tagged
``parameters`` whose plain assignments are the ``default`` profile. ``notebooks/profiles/
<name>.yml`` holds the overrides of the ``ci``, ``default`` and ``paper`` profiles. papermill
injects unknown names silently; here an unknown notebook, profile or parameter, or a value
of the wrong type, is a :class:`RunnerError` that names it.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from modcore import paths

PROFILES = ("ci", "default", "paper")
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


class RunnerError(ValueError):
    """A bad notebook name, profile, parameter name or parameter value."""


def notebook_names() -> list[str]:
    return sorted(p.stem for p in paths.NOTEBOOKS_DIR.glob("*.py") if p.stem != "conftest")


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


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def check_value(parameter: str, value: Any, default: Any) -> Any:
    """``value`` if it has the type of ``default`` (int is accepted, and converted, for float).

    A ``None`` default (e.g. ``results_dir = None``) accepts None or a string.
    """
    if default is None:
        ok = value is None or isinstance(value, str)
    elif isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
        if ok and default:
            # every element must fit the type of the default's first element
            value = [check_value(f"{parameter}[{i}]", item, default[0]) for i, item in enumerate(value)]
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise RunnerError(f"parameter {parameter!r} must be {_type_name(default)} (like its default "
                          f"{default!r}), got {_type_name(value)} {value!r}")
    return value


def load_profiles(name: str) -> dict[str, dict[str, Any]]:
    """``{profile: overrides}`` from ``notebooks/profiles/<name>.yml``, checked."""
    path = paths.PROFILES_DIR / f"{name}.yml"
    if not path.exists():
        raise RunnerError(f"notebook {name!r} has no profile file {path.relative_to(paths.REPO_ROOT)}")
    profiles = yaml.safe_load(path.read_text()) or {}
    if set(profiles) != set(PROFILES):
        raise RunnerError(f"{path.name} must define exactly the profiles {PROFILES}, found {sorted(profiles)}")
    return {profile: dict(profiles[profile] or {}) for profile in PROFILES}


def resolve(name: str, profile: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Parameters to inject: the profile's overrides, then ``overrides``, each checked."""
    if profile not in PROFILES:
        raise RunnerError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    defaults = default_parameters(name)
    chosen = {**load_profiles(name)[profile], **(overrides or {})}
    unknown = sorted(set(chosen) - set(defaults))
    if unknown:
        raise RunnerError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for notebook {name!r}; "
                          f"its parameters: {', '.join(defaults)}")
    return {key: check_value(key, value, defaults[key]) for key, value in chosen.items()}


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


def execute(name: str, profile: str = "default", overrides: Mapping[str, Any] | None = None, *,
            output_dir: str | os.PathLike[str] | None = None, log_output: bool = False,
            progress_bar: bool = False) -> Path:
    """Execute notebook ``name`` with papermill; return the path of the executed ``.ipynb``.

    The output goes to ``book/_executed/<name>.ipynb`` (where the book reads it) unless
    ``output_dir`` is given. Raises papermill's ``PapermillExecutionError`` if a cell fails
    (the output notebook, with the error cell, is still written).
    """
    import papermill

    parameters = resolve(name, profile, overrides)
    notebook = _read(name)
    notebook.metadata["modcore"] = {"profile": profile, "overrides": dict(overrides or {})}
    output = Path(output_dir or paths.EXECUTED_DIR) / f"{name}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        notebook, str(output), parameters=parameters, cwd=str(paths.NOTEBOOKS_DIR),
        kernel_name=KERNELSPEC["name"], language=KERNELSPEC["language"],
        progress_bar=progress_bar, log_output=log_output, execution_timeout=None,
    )
    return output


def describe(names: Iterable[str]) -> str:
    """A table of each notebook's parameters and their value under every profile."""
    lines = []
    for name in names:
        defaults = default_parameters(name)
        profiles = load_profiles(name)
        rows = [("parameter", *PROFILES)]
        for key, value in defaults.items():
            rows.append((key, *(repr(profiles[p].get(key, value)) for p in PROFILES)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines.append(name)
        lines.extend("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
        lines.append("")
    return "\n".join(lines)
