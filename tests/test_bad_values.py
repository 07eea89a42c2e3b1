"""The table of bad values, generated from each chapter's Parameters (issue 28): for every
parameter of every notebook with a chapter module, values that break its type, finiteness or
rules are passed on the command line as a user would; each must be refused with one `error:`
line that names the notebook, exit 2, before any kernel starts. A new parameter is covered
automatically. No case may be accepted, raise a traceback or give a usage error."""

from __future__ import annotations

import dataclasses
import math
import types
import typing

import pytest

from modcore import __main__ as cli
from modcore import chapters, runner
from modcore.parameters import Rule

HUGE_INT = 10 ** 401  # too large for a float


def _breaks(rule: Rule, value) -> bool:
    return not rule.holds(value)


def _candidates(kind, default, rules: tuple[Rule, ...], nonfinite: bool) -> list:
    """Values of the wrong type, non-finite or overflowing numbers, and boundary values that
    break one of the parameter's own rules (found by testing the rule, not by reading it)."""
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    optional_str = origin in (typing.Union, types.UnionType) and str in args
    values = []
    if kind in (int, float):
        values += ["not-a-number", [1, 2], True]
        if not nonfinite:
            values += [math.inf, -math.inf, math.nan]
        if kind is float:
            values.append(HUGE_INT)
        if kind is int:
            values.append(2.5)
        probes = [-10 ** 12, -1, 0, 1, 2, 0.5, 10 ** 12, 2 ** 32]
        values += [v for v in probes if (kind is float or isinstance(v, int))
                   and any(_breaks(rule, float(v) if kind is float else v) for rule in rules)]
    elif origin is list:
        values += [5, "text", ["text"], [math.nan]]
        (item,) = args
        probes = [[], [-1], [0], [1, 1], [2, 1], [10 ** 12, -5]]
        if item in (int, float):  # nested lists and lists of strings get the type cases only
            values += [v for v in probes if any(_breaks(rule, [item(x) for x in v]) for rule in rules)]
    elif kind is str or optional_str or origin is typing.Literal:
        values += [5, [1]]
        values += [v for v in ("", "no-such-choice", "/no/such/folder") if any(_breaks(rule, v) for rule in rules)]
    elif kind is bool:
        values += [3, "maybe"]
    return values


def _table() -> list[tuple[str, str, object]]:
    rows = []
    for name in chapters.names():
        typed = runner.parameters_class(name)
        hints = typing.get_type_hints(typed)
        for field in dataclasses.fields(typed):
            for value in _candidates(hints[field.name], field.default, field.metadata.get("rules", ()),
                                     field.metadata.get("nonfinite", False)):
                rows.append((name, field.name, value))
    return rows


TABLE = _table()


def test_the_table_covers_every_chapter_parameter():
    covered = {(name, parameter) for name, parameter, _ in TABLE}
    for name in chapters.names():
        assert {(name, p) for p in runner.parameters_class(name).names()} <= covered, name


@pytest.mark.parametrize("name, parameter, value", TABLE, ids=[f"{n}-{p}-{v!r}"[:80] for n, p, v in TABLE])
def test_every_bad_value_is_one_error_line_exit_2_before_any_kernel(name, parameter, value, monkeypatch, capsys):
    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started for a bad value")

    monkeypatch.setattr(runner, "execute", no_kernel)
    status = cli.main(["run", name, "--profile", "ci", "--quiet", "-p", f"{parameter}={value!r}"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2, f"accepted: {name} {parameter}={value!r}"
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert f"notebook {name!r}" in lines[0] and parameter in lines[0]
    assert "Traceback" not in lines[0] and "usage" not in lines[0].lower()
