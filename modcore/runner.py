"""Execute the notebooks with papermill at a profile, with checked parameter overrides.

This is the top layer of the package: only ``python -m modcore`` and the tests import it;
no other module of modcore does (so the library never depends on papermill or the book).

A notebook is ``notebooks/<name>.py`` (Jupytext percent format) with exactly one cell tagged
``parameters`` whose plain assignments are the ``default`` profile. ``notebooks/profiles/
<name>.yml`` holds the overrides of the ``ci``, ``default`` and ``paper`` profiles and, under
``constraints``, the rules every value must obey (see :func:`parse_rule`). papermill injects
unknown names silently; here an unknown notebook, profile or parameter, a value of the wrong
type, a non-finite number or a value that breaks its rule is a :class:`RunnerError` that names
it, raised before any kernel starts.

Paths the kernel reads or writes (:data:`PATH_PARAMETERS`) are made absolute here, against
the caller's working directory, since the kernel runs in ``notebooks/``; an empty one is
refused.

A notebook that fails while running raises :class:`NotebookFailed` (a kernel that dies names
the cell it was running); Ctrl-C raises :class:`NotebookInterrupted`. Either way the executed
notebook is kept as ``<name>.failed.ipynb`` and the previous ``<name>.ipynb`` (the one the book
reads) is left in place. A successful run ends with a generated "Provenance" cell (see
:func:`provenance`).
"""

from __future__ import annotations

import ast
import datetime
import math
import operator
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modcore import chapters, paths
from modcore.parameters import ChapterParameters, ParameterError

PROFILES = ("ci", "default", "gpu", "paper")
# The longest a command may run, by its estimate, before it asks for --max-hours (hours, per
# profile). ci is the test suite's scale (minutes; half an hour means a runaway value); default
# is the book on a laptop (a few hours at most); gpu is sized for about 8 minutes on an H100, so
# one hour allows a GPU eight times slower than assumed; paper is days of CPU by design, and 100
# hours stops only what would take weeks.
MAX_HOURS = {"ci": 0.5, "default": 2.0, "gpu": 1.0, "paper": 100.0}
CONSTRAINTS = "constraints"  # the profile file's section of value rules
RELATIONS = "relations"      # inside it: rules between parameters that belong to none of them
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
# Versions the provenance records: the packages behind the numbers and the pages.
PROVENANCE_PACKAGES = ("torch", "numpy", "scipy", "pandas", "scikit-learn", "networkx", "matplotlib",
                       "papermill", "myst-nb", "jupytext")


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


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def shown_value(value: Any, limit: int = 80) -> str:
    """``repr(value)``, shortened when long (a 401-digit integer), so that a message stays one line."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** limit:
        return f"<an integer of {len(str(abs(value)))} digits>"  # str() of a huge int is slow; cut early
    text = repr(value).replace("\n", "\\n")
    return text if len(text) <= limit else f"{text[:limit - 25]}... ({len(text)} characters)"


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
        if ok:
            try:
                value = float(value)
            except OverflowError:
                raise RunnerError(f"parameter {parameter!r} = {shown_value(value)} is too large for a float "
                                  f"(at most {sys.float_info.max:.3g})") from None
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
        if ok and default:
            # every element must fit the type of the default's first element
            value = [check_value(f"{parameter}[{i}]", item, default[0]) for i, item in enumerate(value)]
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise RunnerError(f"parameter {parameter!r} must be {_type_name(default)} (like its default "
                          f"{default!r}), got {_type_name(value)} {shown_value(value)}")
    return value


# --- profile files ----------------------------------------------------------------------

class _ProfileLoader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where a number with an exponent but no dot (``1e-3``) is a
    string; YAML 1.2, Python and every reader of a profile file mean a float."""


_ProfileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def _mapping_without_duplicate_keys(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    """A YAML mapping; a key given twice is an error (PyYAML would keep the last value silently,
    and in ``constraints:`` that could replace a rule by a weaker one)."""
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
    if not isinstance(document, dict) or set(document) - {CONSTRAINTS} != set(PROFILES):
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise RunnerError(f"{path.name} must define exactly the profiles {PROFILES} (and optionally "
                          f"{CONSTRAINTS!r}), found {found}")
    return path, document


def load_profiles(name: str) -> dict[str, dict[str, Any]]:
    """``{profile: overrides}`` from ``notebooks/profiles/<name>.yml``, checked."""
    path, document = _profile_document(name)
    for profile in PROFILES:
        if not isinstance(document[profile] or {}, dict):
            raise RunnerError(f"{path.name}: profile {profile!r} must be a mapping of parameter: value")
    return {profile: dict(document[profile] or {}) for profile in PROFILES}


# --- value rules ------------------------------------------------------------------------
#
# A parameter's rule is a string of clauses separated by commas (outside brackets and
# quotes); the value must satisfy every clause:
#
#     finite               every number in the value is finite (the default for every parameter)
#     nonfinite allowed    lifts that default (inf and nan are then accepted)
#     nonempty             at least one element
#     distinct             no element twice
#     increasing           elements strictly increasing
#     each CLAUSE          CLAUSE holds for every element
#     > 0   <= P   in ['a', 'b']   a comparison with the value on its left
#     0 < x < 1            any condition in x (the value) and the other parameters' names
#
# ``relations`` lists conditions between parameters that belong to none of them, e.g.
# ``b <= min(m_values)``. Conditions are parsed with :mod:`ast` and evaluated by the small
# interpreter below, which knows literals, parameter names, comparisons (in and not in
# included), and/or/not, + - * / // % and the functions min, max, len and abs: a profile
# file can state a condition but cannot run code.

_VALUE = "x"
_KEYWORDS = ("finite", "nonfinite allowed", "nonempty", "distinct", "increasing")
_COMPARISONS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "len": len, "abs": abs}
_ALLOWED_NODES = (ast.Expression, ast.Compare, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.BinOp, ast.Call,
                  ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
                  *_COMPARISONS, *_ARITHMETIC, *_UNARY)
_LEADING_COMPARISON = re.compile(r"\s*(<=|>=|==|!=|<|>|not\s+in\b|in\b)")


def _split_clauses(text: str) -> list[str]:
    """``text`` split at the commas that are outside brackets and quotes."""
    clauses, depth, quote, start = [], 0, None, 0
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            clauses.append(text[start:i])
            start = i + 1
    clauses.append(text[start:])
    return [clause.strip() for clause in clauses]


def _parse_condition(text: str, *, value_allowed: bool) -> ast.Expression:
    """``text`` as a condition of the rule language; ValueError says what is not allowed."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"{text!r} is not a condition") from None
    if not (isinstance(tree.body, (ast.Compare, ast.BoolOp))
            or (isinstance(tree.body, ast.UnaryOp) and isinstance(tree.body.op, ast.Not))):
        raise ValueError(f"{text!r} is not a condition (a comparison, 'and', 'or' or 'not')")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(f"{text!r} uses {type(node).__name__}, which rules may not")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
                                               and not node.keywords):
            raise ValueError(f"{text!r} calls something other than {', '.join(_FUNCTIONS)}")
        if isinstance(node, ast.Name) and node.id == _VALUE and not value_allowed:
            raise ValueError(f"{text!r} uses {_VALUE!r}, which only a parameter's own rule has")
    return tree


def _names(tree: ast.AST) -> set[str]:
    """The parameter names a condition reads (not ``x``, not the functions)."""
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and node.id != _VALUE and id(node) not in called}


def _evaluate(node: ast.AST, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, names)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_evaluate(item, names) for item in node.elts]
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, names))
    if isinstance(node, ast.BinOp):
        return _ARITHMETIC[type(node.op)](_evaluate(node.left, names), _evaluate(node.right, names))
    if isinstance(node, ast.BoolOp):
        values = (bool(_evaluate(item, names)) for item in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, names)
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, names)
            if not _COMPARISONS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Call):
        return _FUNCTIONS[node.func.id](*(_evaluate(arg, names) for arg in node.args))
    raise AssertionError(f"unchecked node {type(node).__name__}")  # _parse_condition admits no other


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_has_non_finite(item) for item in value)
    return False


@dataclass(frozen=True)
class Clause:
    """One clause of a rule: a keyword, ``each`` + a clause, or a condition."""

    text: str
    keyword: str | None = None
    each: Clause | None = None
    condition: ast.Expression | None = None

    @classmethod
    def parse(cls, text: str) -> Clause:
        if text in _KEYWORDS:
            return cls(text, keyword=text)
        if text.startswith("each "):
            return cls(text, each=cls.parse(text[len("each "):].strip()))
        if not text:
            raise ValueError("empty clause")
        condition_text = f"{_VALUE} {text}" if _LEADING_COMPARISON.match(text) else text
        return cls(text, condition=_parse_condition(condition_text, value_allowed=True))

    def names(self) -> set[str]:
        if self.each is not None:
            return self.each.names()
        return _names(self.condition) if self.condition is not None else set()

    def holds(self, value: Any, names: Mapping[str, Any]) -> bool:
        """Whether ``value`` satisfies the clause; TypeError/ValueError if it cannot be evaluated."""
        if self.each is not None:
            return all(self.each.holds(item, names) for item in value)
        if self.keyword == "finite":
            return not _has_non_finite(value)
        if self.keyword == "nonfinite allowed":
            return True
        if self.keyword == "nonempty":
            return len(value) > 0
        if self.keyword == "distinct":
            return len(set(value)) == len(value)
        if self.keyword == "increasing":
            return all(a < b for a, b in zip(value, value[1:]))
        return bool(_evaluate(self.condition, {**names, _VALUE: value}))


def parse_rule(text: str) -> list[Clause]:
    """The clauses of one parameter's rule (see the comment above ``Clause``)."""
    return [Clause.parse(clause) for clause in _split_clauses(text)]


@dataclass(frozen=True)
class Constraints:
    """The ``constraints`` section of one notebook's profile file, parsed and checked
    against the notebook's parameters."""

    notebook: str
    source: Path
    rules: dict[str, tuple[str, list[Clause]]]  # parameter -> (rule text, its clauses)
    relations: list[tuple[str, ast.Expression]]

    def check(self, parameters: Mapping[str, Any]) -> None:
        """Raise a one-line :class:`RunnerError` for the first value that breaks a rule.

        ``parameters`` holds every parameter of the notebook (defaults and overrides).
        Every number must be finite unless its rule says ``nonfinite allowed``.
        """
        where = f"(rule from {_shown(self.source)})"
        for key, value in parameters.items():
            clauses = self.rules.get(key, ("", []))[1]
            if _has_non_finite(value) and not any(c.keyword == "nonfinite allowed" for c in clauses):
                raise RunnerError(f"notebook {self.notebook!r}: parameter {key} = {shown_value(value)} is not finite; "
                                  f"only a rule with 'nonfinite allowed' admits inf or nan")
        for key, (_, clauses) in self.rules.items():
            for clause in clauses:
                ok, note = _attempt(lambda: clause.holds(parameters[key], parameters))
                if not ok:
                    raise RunnerError(f"notebook {self.notebook!r}: parameter {key} = {shown_value(parameters[key])} breaks "
                                      f"the rule {clause.text!r}{_with_values(clause.names(), parameters)}"
                                      f"{note} {where}")
        for text, condition in self.relations:
            ok, note = _attempt(lambda: _evaluate(condition, parameters))
            if not ok:
                shown = ", ".join(f"{key} = {shown_value(parameters[key])}" for key in sorted(_names(condition)))
                raise RunnerError(f"notebook {self.notebook!r}: parameters {shown} break the rule {text!r}{note} "
                                  f"{where}")


def _attempt(condition: Callable[[], Any]) -> tuple[bool, str]:
    """``(holds, note)``: a rule that cannot be evaluated on these values (``min([])``, a
    comparison of a list with a number) counts as broken, and the note says why."""
    try:
        return bool(condition()), ""
    except (TypeError, ValueError, ZeroDivisionError, KeyError, OverflowError) as error:
        return False, f" (cannot be evaluated: {error})"


def _with_values(names: set[str], parameters: Mapping[str, Any]) -> str:
    return f" (with {', '.join(f'{k} = {shown_value(parameters[k])}' for k in sorted(names))})" if names else ""


def load_constraints(name: str, defaults: Mapping[str, Any] | None = None) -> Constraints:
    """The parsed ``constraints`` section of notebook ``name``'s profile file (empty if absent).

    A rule for a parameter the notebook does not have, or a condition that reads one, is an
    error: after a rename the rules must follow, not silently stop checking.
    """
    path, document = _profile_document(name)
    defaults = default_parameters(name) if defaults is None else defaults
    section = document.get(CONSTRAINTS) or {}
    if not isinstance(section, dict):
        raise RunnerError(f"{_shown(path)}: {CONSTRAINTS!r} must be a mapping of parameter: rule")
    rules, relations = {}, []
    for key, text in section.items():
        texts = text if key == RELATIONS else [text]
        if key != RELATIONS and key not in defaults:
            raise RunnerError(f"{_shown(path)}: constraint for unknown parameter {key!r} of notebook {name!r}")
        if key == RELATIONS and not isinstance(text, list):
            raise RunnerError(f"{_shown(path)}: {CONSTRAINTS}.{RELATIONS} must be a list of conditions")
        for item in texts:
            if not isinstance(item, str):
                raise RunnerError(f"{_shown(path)}: the rule of {key!r} must be a quoted string, got {item!r}")
            try:
                if key == RELATIONS:
                    parsed = _parse_condition(item, value_allowed=False)
                    relations.append((item, parsed))
                    names = _names(parsed)
                else:
                    clauses = parse_rule(item)
                    rules[key] = (item, clauses)
                    names = set().union(*(clause.names() for clause in clauses))
            except ValueError as error:
                raise RunnerError(f"{_shown(path)}: bad rule for {key!r}: {error}") from None
            unknown = sorted(names - set(defaults))
            if unknown:
                raise RunnerError(f"{_shown(path)}: the rule {item!r} reads unknown parameter(s) {', '.join(unknown)}")
    return Constraints(name, path, rules, relations)


def parameters_class(name: str) -> type[ChapterParameters] | None:
    """The ``Parameters`` class of notebook ``name``'s chapter module, the one home of its
    parameters' types, defaults and rules; None for a notebook not yet moved to a chapter module
    (its rules are still the ``constraints:`` section of its profile file)."""
    if name not in chapters.names():
        return None
    return chapters.load(name).Parameters


def resolve(name: str, profile: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Parameters to inject: the profile's overrides, then ``overrides``, checked by building the
    chapter's ``Parameters`` (type, finiteness, each rule, relations), or for a notebook without a
    chapter module by type against its defaults and its profile's ``constraints``; the
    :data:`PATH_PARAMETERS` among them made absolute. Every refusal names the notebook."""
    if profile not in PROFILES:
        raise RunnerError(f"notebook {name!r}: unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    defaults = default_parameters(name)
    chosen = {**load_profiles(name)[profile], **(overrides or {})}
    unknown = sorted(set(chosen) - set(defaults))
    if unknown:
        raise RunnerError(f"notebook {name!r}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                          f"its parameters: {', '.join(defaults)}")
    typed = parameters_class(name)
    if typed is not None:
        try:
            built = typed.from_values({**defaults, **chosen}).values()
        except ParameterError as error:
            raise RunnerError(f"notebook {name!r}: {error}") from None
        checked = {key: built[key] for key in chosen}
    else:
        try:
            checked = {key: check_value(key, value, defaults[key]) for key, value in chosen.items()}
        except RunnerError as error:
            raise RunnerError(f"notebook {name!r}: {error}") from None
        load_constraints(name, defaults).check({**defaults, **checked})
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
    _append_provenance(running, provenance(name, profile, overrides, parameters, wall_seconds))
    os.replace(running, output)
    for stale in (failed, failed_log):  # an older failure of this notebook no longer describes it
        stale.unlink(missing_ok=True)
    return output


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


def cli_command(name: str, profile: str, overrides: Mapping[str, Any]) -> str:
    """The ``python -m modcore run`` command line that repeats a run."""
    words = ["python", "-m", "modcore", "run", name, "--profile", profile]
    for key, value in overrides.items():
        words += ["-p", key, repr(value)]
    return shlex.join(words)


def provenance(name: str, profile: str, overrides: Mapping[str, Any], parameters: Mapping[str, Any],
               wall_seconds: float) -> dict[str, Any]:
    """What made an executed notebook: command, injected parameters, seeds, device, commit,
    modcore, package and Python versions, and wall time."""
    values = {**default_parameters(name), **parameters}
    return {
        "command": cli_command(name, profile, overrides),
        "profile": profile,
        "parameters": dict(parameters),
        "seeds": {key: value for key, value in values.items() if "seed" in key},
        "device": _device(),
        "commit": _git_commit(),
        "modcore_version": _modcore_version(),
        "packages": _package_versions(),
        "python": sys.version.split()[0],
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_seconds": round(wall_seconds, 1),
    }


def _device() -> str:
    try:
        import torch
    except ImportError:
        return "torch not installed"
    if torch.cuda.is_available():
        return f"CUDA available: {torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    return f"CPU only, CUDA not available (torch {torch.__version__})"


def _git_commit() -> str:
    """Short hash of HEAD, plus "dirty" if tracked or unignored files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(paths.REPO_ROOT), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout, or git is missing)"
    return f"{commit} (dirty)" if dirty else commit


def _package_versions() -> dict[str, str]:
    """Installed versions of PROVENANCE_PACKAGES (the kernel runs in this interpreter's environment)."""
    from importlib import metadata

    versions = {}
    for package in PROVENANCE_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _modcore_version() -> str:
    import modcore

    return modcore.__version__


def _code(text: str) -> str:
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _provenance_markdown(record: Mapping[str, Any]) -> str:
    def listing(mapping: Mapping[str, Any]) -> str:
        return ", ".join(_code(f"{key} = {value!r}") for key, value in mapping.items()) or "none"

    return "\n".join([
        "## Provenance",
        "",
        "Written by `python -m modcore run` when this page was executed.",
        "",
        f"- **Command:** {_code(record['command'])}",
        f"- **Parameters injected** (profile {_code(record['profile'])} and overrides): {listing(record['parameters'])}",
        f"- **Seeds:** {listing(record['seeds'])}",
        f"- **Device:** {record['device']}",
        f"- **Commit:** {_code(record['commit'])}",
        f"- **modcore version:** {_code(record['modcore_version'])} (Python {record['python']})",
        f"- **Packages:** {', '.join(f'{name} {version}' for name, version in record.get('packages', {}).items()) or 'not recorded'}",
        f"- **Wall time:** {record['wall_seconds']:.0f} s, finished {record['finished_utc']}",
    ])


def _append_provenance(path: Path, record: Mapping[str, Any]) -> None:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell(_provenance_markdown(record),
                                                        metadata={"tags": ["provenance"]}))
    notebook.metadata.setdefault("modcore", {})["provenance"] = dict(record)
    nbformat.write(notebook, path)


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
        lines.extend("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
        typed = parameters_class(name)
        if typed is not None:
            lines.append(f"  rules (from modcore/chapters/{name}.py; every number must also be finite):")
            lines.extend(f"    {key}: {text}" for key, text in typed.rule_texts().items())
            lines.extend(f"    {relation.text}" for relation in typed().relations())
        else:
            constraints = load_constraints(name, defaults)
            if constraints.rules or constraints.relations:
                lines.append("  rules (every number must also be finite):")
                lines.extend(f"    {key}: {text}" for key, (text, _) in constraints.rules.items())
                lines.extend(f"    {text}" for text, _ in constraints.relations)
        lines.append("")
    return "\n".join(lines)


# --- cost before running (see modcore.estimate) ----------------------------------------

def estimate_notebook(name: str, profile: str, overrides: Mapping[str, Any] | None = None):
    """:class:`modcore.estimate.Estimate` of notebook ``name`` at ``profile`` and ``overrides``,
    after the same checks as a run (:func:`resolve`)."""
    from modcore import estimate

    values = {**default_parameters(name), **resolve(name, profile, overrides)}
    return estimate.estimate(name, values)


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
    from modcore import estimate

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
