"""Typed chapter parameters: the one home of each parameter's type, default and rule.

Each chapter module (``modcore.chapters.NAME``) declares one frozen dataclass::

    @dataclasses.dataclass(frozen=True)
    class Parameters(ChapterParameters):
        n_trials: int = param(300, at_least(2))   # a standard error needs two draws
        lr: float = param(1e-3, POSITIVE)
        ks: list[int] = param([1, 2, 4], NONEMPTY, each(at_least(1)))

        def relations(self):
            yield Relation(("n_params", "mc_n_features"), "n_params <= mc_n_features",
                           self.n_params <= self.mc_n_features)

Building it checks everything: the type from the annotation (an int is accepted, and converted,
for a float), that every number is finite (unless ``param(..., nonfinite=True)``), each rule,
then the relations between parameters. The first value that fails raises :class:`ParameterError`,
one line that names the parameter, its value and the rule; the runner adds the notebook's name
and exits 2 before any kernel starts. The same class checks the values when a reader edits the
parameters cell and runs the notebook by hand (``Parameters.from_cell(globals())``).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

# The value sets of every chapter, one section each in its notebooks/profiles/NAME.yml: ci (seconds,
# for tests), default (the book), gpu (every CUDA path within minutes on one GPU), paper (the
# paper's ranges). Here, below the runner, because a page's parameters may name a profile.
PROFILES = ("ci", "default", "gpu", "paper")

__all__ = ["ChapterParameters", "ParameterError", "Relation", "Rule", "param", "at_least", "at_most",
           "greater_than", "less_than", "one_of", "each", "length_at_least", "NONEMPTY", "DISTINCT",
           "INCREASING", "POSITIVE", "NONNEGATIVE", "PROBABILITY", "SEED", "DEVICE", "EXISTING_FOLDER",
           "NONE_OR_NONEMPTY",
           "shown_value"]

SEED_MAX = 2 ** 32 - 1  # numpy's SeedSequence entropy and torch.manual_seed both take 0 .. 2**32 - 1 safely


class ParameterError(ValueError):
    """A value that breaks its type or rule: one line naming the parameter(s), value(s) and rule."""

    def __init__(self, names: tuple[str, ...], message: str):
        super().__init__(message)
        self.names = names


def shown_value(value: Any, limit: int = 80) -> str:
    """``repr(value)``, shortened when long (a 401-digit integer), so that a message stays one line."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** limit:
        return f"<an integer of {len(str(abs(value)))} digits>"  # str() of a huge int is slow; cut early
    text = repr(value).replace("\n", "\\n")
    return text if len(text) <= limit else f"{text[:limit - 25]}... ({len(text)} characters)"


@dataclasses.dataclass(frozen=True)
class Rule:
    """A named test of one value; ``text`` is what the error and ``python -m modcore list`` show."""

    text: str
    test: Callable[[Any], bool]

    def holds(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError, OverflowError):
            return False  # a rule that cannot be evaluated on a value (a list compared with a number) is broken


def at_least(bound: float) -> Rule:
    return Rule(f">= {bound}", lambda value: value >= bound)


def at_most(bound: float) -> Rule:
    return Rule(f"<= {bound}", lambda value: value <= bound)


def greater_than(bound: float) -> Rule:
    return Rule(f"> {bound}", lambda value: value > bound)


def less_than(bound: float) -> Rule:
    return Rule(f"< {bound}", lambda value: value < bound)


def one_of(*options: Any) -> Rule:
    return Rule(f"one of {', '.join(map(repr, options))}", lambda value: value in options)


def each(rule: Rule) -> Rule:
    """``rule`` for every element of a list."""
    return Rule(f"each {rule.text}", lambda values: all(rule.holds(value) for value in values))


def length_at_least(n: int) -> Rule:
    return Rule(f"at least {n} elements", lambda values: len(values) >= n)


NONEMPTY = length_at_least(1)
DISTINCT = Rule("no repeated elements", lambda values: len(set(values)) == len(values))
INCREASING = Rule("strictly increasing", lambda values: all(a < b for a, b in zip(values, values[1:])))
POSITIVE = greater_than(0)
NONNEGATIVE = at_least(0)
PROBABILITY = Rule("in [0, 1]", lambda value: 0 <= value <= 1)
SEED = Rule(f"an integer seed in 0 .. {SEED_MAX}", lambda value: 0 <= value <= SEED_MAX)


def _cuda_visible(device: str) -> bool:
    if device != "cuda":
        return True
    import torch  # only when CUDA is asked for: theory chapters never import torch

    return torch.cuda.is_available()


# A device parameter: a name the trainer knows, and CUDA only where a GPU is visible, so that
# "-p device cuda" on a laptop is refused before the kernel starts rather than inside it.
DEVICE = (one_of("auto", "cpu", "cuda"), Rule("cuda only where torch sees a GPU", _cuda_visible))
# A folder that must exist when given (a data set's folder); None means "the default".
EXISTING_FOLDER = Rule("None or an existing folder",
                       lambda value: value is None or Path(value).expanduser().is_dir())
# A path that may not exist yet (a folder the runner creates): None means "the default", "" names nothing.
NONE_OR_NONEMPTY = Rule("None or not empty", lambda value: value is None or len(value) > 0)


def param(default: Any, *rules: Rule, nonfinite: bool = False) -> Any:
    """A dataclass field with its default and rules. A list default is copied for each instance.
    ``nonfinite=True`` admits inf and nan (e.g. "no limit"); every other number must be finite."""
    metadata = {"rules": rules, "nonfinite": nonfinite}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Relation:
    """A rule between parameters: ``holds`` computed from them, ``text`` shown when it fails."""

    names: tuple[str, ...]
    text: str
    holds: bool


def _type_name(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if origin is Literal:
        return f"one of {', '.join(map(repr, typing.get_args(kind)))}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(kind))
    if origin is list:
        (item,) = typing.get_args(kind)
        return f"a list of {_type_name(item)}"
    return "None" if kind is type(None) else getattr(kind, "__name__", str(kind))


def _value_type(value: Any) -> str:
    return "None" if value is None else type(value).__name__


class _Mismatch(Exception):
    """The value does not have the annotated type."""


def _convert(kind: Any, value: Any) -> Any:
    """``value`` as type ``kind`` (an int for a float becomes a float; a tuple for a list, a
    list), or :class:`_Mismatch`. Overflow is a :class:`ParameterError` raised by the caller."""
    origin = typing.get_origin(kind)
    if origin is Literal:
        if value in typing.get_args(kind) and type(value) in {type(a) for a in typing.get_args(kind)}:
            return value
        raise _Mismatch
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(kind):
            try:
                return _convert(option, value)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        (item,) = typing.get_args(kind)
        return [_convert(item, element) for element in value]
    if kind is type(None):
        if value is None:
            return None
        raise _Mismatch
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)  # may raise OverflowError for a huge int
        raise _Mismatch
    if kind is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    raise TypeError(f"unsupported parameter annotation {kind!r}")


def _numbers(value: Any) -> Iterable[float]:
    if isinstance(value, float):
        yield value
    elif isinstance(value, list):
        for element in value:
            yield from _numbers(element)


@dataclasses.dataclass(frozen=True)
class ChapterParameters:
    """Base of every chapter's ``Parameters``; see the module docstring."""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            try:
                converted = _convert(hints[field.name], value)
            except _Mismatch:
                raise ParameterError((field.name,), f"parameter {field.name} must be {_type_name(hints[field.name])}, "
                                     f"got {_value_type(value)} {shown_value(value)}") from None
            except OverflowError:
                raise ParameterError((field.name,), f"parameter {field.name} = {shown_value(value)} is too large for "
                                     f"a float (at most {sys.float_info.max:.3g})") from None
            object.__setattr__(self, field.name, converted)
            if not field.metadata.get("nonfinite", False) and not all(map(math.isfinite, _numbers(converted))):
                raise ParameterError((field.name,), f"parameter {field.name} = {shown_value(value)} is not finite")
            for rule in field.metadata.get("rules", ()):
                if not rule.holds(converted):
                    raise ParameterError((field.name,), f"parameter {field.name} = {shown_value(converted)} breaks "
                                         f"the rule {rule.text!r}")
        for relation in self.relations():
            if not relation.holds:
                shown = ", ".join(f"{name} = {shown_value(getattr(self, name))}" for name in relation.names)
                raise ParameterError(relation.names, f"parameters {shown} break the rule {relation.text!r}")

    def relations(self) -> Iterable[Relation]:
        """Rules between parameters; a chapter overrides this (each field's own rule holds already)."""
        return ()

    # --- building -------------------------------------------------------------------------

    @classmethod
    def names(cls) -> list[str]:
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> "ChapterParameters":
        """Parameters from a mapping (a profile with overrides); an unknown name is an error."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise ParameterError(tuple(unknown), f"unknown parameter(s) {', '.join(map(repr, unknown))}; "
                                 f"its parameters: {', '.join(cls.names())}")
        return cls(**values)

    @classmethod
    def from_cell(cls, namespace: Mapping[str, Any]) -> "ChapterParameters":
        """Parameters from a notebook's globals after its parameters cell (and papermill's
        injected cell) ran: each field's value is read from the namespace, so a reader who edits
        the cell by hand gets the same checks as the runner."""
        return cls(**{name: namespace[name] for name in cls.names() if name in namespace})

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.names()}

    @classmethod
    def rule_texts(cls) -> dict[str, str]:
        """``{name: "rule; rule"}`` for every field with a rule (for ``python -m modcore list``)."""
        texts = {}
        for field in dataclasses.fields(cls):
            rules = [rule.text for rule in field.metadata.get("rules", ())]
            if field.metadata.get("nonfinite"):
                rules.append("inf or nan allowed")
            if rules:
                texts[field.name] = "; ".join(rules)
        return texts

