"""Typed chapter parameters (modcore.parameters): one home per parameter, checked the same way
by the runner and by a notebook run by hand."""

from __future__ import annotations

import dataclasses
import math

import pytest

from modcore import chapters, runner
from modcore.parameters import (DISTINCT, INCREASING, NONEMPTY, POSITIVE, PROFILES, SEED, ChapterParameters,
                                ParameterError, Relation, Rule, at_least, each, one_of, param)


@dataclasses.dataclass(frozen=True)
class Toy(ChapterParameters):
    seed: int = param(0, SEED)
    n: int = param(10, at_least(2))
    lr: float = param(1e-3, POSITIVE)
    limit: float = param(math.inf, POSITIVE, nonfinite=True)
    sizes: list[int] = param([1, 2, 4], NONEMPTY, DISTINCT, INCREASING, each(at_least(1)))
    mode: str = param("fast", one_of("fast", "slow"))
    path: str | None = param(None)

    def relations(self):
        yield Relation(("sizes", "n"), "max(sizes) <= n", max(self.sizes) <= self.n)


def test_defaults_build_and_an_int_for_a_float_becomes_a_float():
    built = Toy(lr=1)
    assert built.lr == 1.0 and isinstance(built.lr, float)
    assert Toy().sizes == [1, 2, 4] and Toy().sizes is not Toy().sizes  # a list default is copied


@pytest.mark.parametrize("values, names, words", [
    ({"n": 1}, ("n",), "parameter n = 1 breaks the rule '>= 2'"),
    ({"n": 2.5}, ("n",), "parameter n must be int, got float 2.5"),
    ({"n": True}, ("n",), "must be int, got bool"),
    ({"lr": 10 ** 400}, ("lr",), "too large for a float"),
    ({"lr": math.nan}, ("lr",), "is not finite"),
    ({"sizes": [1, 1]}, ("sizes",), "no repeated elements"),
    ({"sizes": []}, ("sizes",), "at least 1 elements"),
    ({"sizes": [4, 2]}, ("sizes",), "strictly increasing"),
    ({"sizes": ["a"]}, ("sizes",), "a list of int"),
    ({"mode": "medium"}, ("mode",), "one of 'fast', 'slow'"),
    ({"path": 3}, ("path",), "str or None"),
    ({"seed": 10 ** 12}, ("seed",), "an integer seed"),
    ({"seed": -1}, ("seed",), "an integer seed"),
    ({"sizes": [1, 20]}, ("sizes", "n"), "break the rule 'max(sizes) <= n'"),
])
def test_each_broken_rule_is_one_line_naming_parameter_value_and_rule(values, names, words):
    with pytest.raises(ParameterError) as error:
        Toy(**values)
    assert words in str(error.value) and "\n" not in str(error.value)
    assert error.value.names == names


def test_nonfinite_is_allowed_only_where_declared():
    assert Toy(limit=math.inf).limit == math.inf
    with pytest.raises(ParameterError, match="not finite"):
        Toy(lr=math.inf)


def test_a_rule_that_cannot_be_evaluated_on_a_value_counts_as_broken():
    @dataclasses.dataclass(frozen=True)
    class Smallest(ChapterParameters):
        sizes: list[int] = param([1], Rule("min(sizes) >= 1", lambda values: min(values) >= 1))

    with pytest.raises(ParameterError, match=r"sizes = \[\] breaks the rule 'min\(sizes\) >= 1'"):
        Smallest(sizes=[])  # min([]) raises ValueError: the rule is broken, not the check


def test_unknown_names_are_refused_and_the_cell_namespace_is_read():
    with pytest.raises(ParameterError, match="unknown parameter"):
        Toy.from_values({"nn": 3})
    assert Toy.from_cell({"n": 12, "unrelated": object()}).n == 12
    assert Toy.rule_texts()["limit"] == "> 0; inf or nan allowed"


# Every real notebook, not every chapter module: a notebook without a chapter Parameters class
# fails here (the runner refuses to run it).
@pytest.mark.parametrize("name", runner.notebook_names())
def test_each_notebook_cell_equals_its_chapter_parameters_and_every_profile_builds(name):
    """The notebook's parameters cell is the dataclass's defaults, name for name and value for value."""
    typed = runner.parameters_class(name)
    cell = runner.default_parameters(name)
    assert list(cell) == typed.names(), "the cell and Parameters must list the same names in the same order"
    defaults = typed().values()
    differing = {key: (cell[key], defaults[key]) for key in cell if cell[key] != defaults[key]}
    assert not differing, f"{name}: parameters cell vs Parameters(): {differing}"
    for profile in PROFILES:
        runner.resolve(name, profile)


@pytest.mark.parametrize("name", runner.notebook_names())
def test_every_numeric_notebook_parameter_has_a_rule(name):
    typed = runner.parameters_class(name)
    ruled = typed.rule_texts()
    numeric = [key for key, value in typed().values().items()
               if isinstance(value, (int, float, list)) and not isinstance(value, bool)]
    assert [key for key in numeric if key not in ruled] == []


def test_the_runner_refuses_with_the_notebook_name_before_anything_runs():
    # the first chapter with an integer parameter (a page such as choices has no parameter at all)
    name, field = next((name, key) for name in chapters.names()
                       for key, value in runner.parameters_class(name)().values().items()
                       if isinstance(value, int) and not isinstance(value, bool))
    with pytest.raises(runner.RunnerError) as error:
        runner.resolve(name, "ci", {field: -10 ** 12})
    assert str(error.value).startswith(f"notebook {name!r}: parameter {field}")
