"""Every command the README, the book's pages and the notebooks' text tell a reader to type
is checked: each ``python -m modcore ...`` against the command line's parser, the notebook
names, profiles, parameter names, types and rules (the same checks ``run`` makes before any
kernel starts), and each ``make ...`` against the Makefile's targets and variables
(``make -n``, which runs nothing). A ``run`` of one notebook at ``ci`` and every ``list`` are
cheap, so they are run for real.

Commands are read from fenced code blocks (every line that starts with a command) and from
inline code spans; a span that only names the command (```python -m modcore run```, a
``...`` elision) is a mention, not a command. Words in capitals (``NAME``, ``DIR``,
``tcp://HOST:8786``) and shell substitutions are placeholders: their checks are skipped.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass

import pytest

from modcore import __main__ as cli
from modcore import data_cli, paths, runner
from modcore.parameters import PROFILES

ROOT = paths.REPO_ROOT
COMMAND_START = re.compile(r"^(?:\.venv/bin/)?python3? -m modcore\b|^make\b")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$|[A-Z]{3,}[:/]|HOST|\$\(|\$\{|^\$[A-Z_]+$")


@dataclass(frozen=True)
class Command:
    text: str
    where: str  # file:line

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)


def _markdown_sources() -> dict[str, str]:
    """``{file: markdown text}``: the README, the book's pages, the notebooks' markdown cells
    (Jupytext percent format: a cell's lines are comments after ``# %% [markdown]``)."""
    sources = {"README.md": (ROOT / "README.md").read_text()}
    for page in sorted((ROOT / "book").glob("*.md")):
        sources[str(page.relative_to(ROOT))] = page.read_text()
    for notebook in sorted(paths.NOTEBOOKS_DIR.glob("*.py")):
        lines, inside = [], False
        for line in notebook.read_text().splitlines():
            if line.startswith("# %%"):
                inside = "[markdown]" in line
                lines.append("")
                continue
            lines.append(line[2:] if inside and line.startswith("# ") else "")
        sources[str(notebook.relative_to(ROOT))] = "\n".join(lines)
    return sources


def _is_mention(span: str) -> bool:
    words = span.split()
    after = words[words.index("modcore") + 1:] if "modcore" in words else words[1:]
    return not after or after == ["run"] or "..." in span or "/" in after[0] or "[" in span


def _commands_of_line(line: str) -> list[str]:
    """The modcore and make commands of one shell line: a line may chain commands (``&&``,
    ``;``) and set environment variables before one (``MODCORE_RESULTS=... python -m ...``)."""
    found = []
    for part in re.split(r"\s*(?:&&|;)\s*", line):
        part = re.sub(r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+", "", part.strip())
        if COMMAND_START.match(part):
            found.append(part)
    return found


def extract_commands(text: str, where: str) -> list[Command]:
    """The commands of one markdown text, in order."""
    commands, fenced, pending, start = [], False, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            stripped = (pending + " " + line.strip()).strip() if pending else line.strip()
            start = start if pending else number
            if stripped.endswith("\\"):
                pending = stripped[:-1].rstrip()
                continue
            pending = ""
            commands += [Command(part, f"{where}:{start}") for part in _commands_of_line(stripped)]
            continue
        for span in re.findall(r"`([^`\n]+)`", line):
            span = span.strip()
            if COMMAND_START.match(span) and not _is_mention(span):
                commands.append(Command(span, f"{where}:{number}"))
    return commands


def all_commands() -> list[Command]:
    return [command for where, text in _markdown_sources().items() for command in extract_commands(text, where)]


def _placeholder(word: str) -> bool:
    return bool(PLACEHOLDER.search(word))


def _makefile() -> tuple[set[str], set[str]]:
    text = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, flags=re.M))
    # defined (PROFILE ?= default) or only read (GPU_CHECK_ARGS, set on the command line)
    variables = set(re.findall(r"^([A-Z][A-Z_]*)\s*[?:]?=", text, flags=re.M)) | set(re.findall(r"\$\(([A-Z][A-Z_]*)\)", text))
    return targets, variables


def check_command(command: Command) -> str | None:
    """Why ``command`` would fail (one line), or None when it passes every check."""
    words = command.words
    if words[0] == "make":
        targets, variables = _makefile()
        for word in words[1:]:
            if "=" in word:
                name, value = word.split("=", 1)
                if name not in variables:
                    return f"make variable {name} is not in the Makefile"
                if name == "PROFILE" and value not in PROFILES:
                    return f"PROFILE={value} is not a profile ({', '.join(PROFILES)})"
            elif word not in targets:
                return f"make target {word!r} is not in the Makefile (targets: {', '.join(sorted(targets))})"
        return None
    args = words[words.index("modcore") + 1:]
    if args[:1] == ["data"]:
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                data_cli._parser().parse_args(args[1:])
        except SystemExit:
            return f"`{' '.join(args)}` is not a valid data command"
        return None
    try:
        parsed = cli.parse_args(args)
    except cli.UsageError as error:
        return f"the command line parser refuses it: {error}"
    try:
        if parsed.command == "list":
            for name in parsed.names:
                if not _placeholder(name):
                    runner.notebook_path(name)
            return None
        problem = cli._executor_error(parsed)
        if problem:
            return problem
        overrides = {key: runner.parse_cli_value(value) for key, value in parsed.parameter if not _placeholder(value)}
        if parsed.name == "all":
            defaults = {name: runner.default_parameters(name) for name in runner.notebook_names()}
            for name, mine in cli._split_overrides(overrides, defaults).items():
                runner.resolve(name, parsed.profile, mine)
        elif not _placeholder(parsed.name):
            runner.resolve(parsed.name, parsed.profile, overrides)
    except runner.RunnerError as error:
        return str(error)
    return None


COMMANDS = all_commands()


def test_the_pages_hold_the_commands_a_reader_types():
    texts = {" ".join(command.words).removeprefix(".venv/bin/") for command in COMMANDS}
    assert len(COMMANDS) >= 15
    assert {"make book", "make test", "python -m modcore list"} <= texts, sorted(texts)
    assert any(text.startswith("python -m modcore run theorem1 --profile ci") for text in texts)


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.where} {c.text}" for c in COMMANDS])
def test_every_command_in_the_readme_and_the_book_is_valid(command):
    assert (problem := check_command(command)) is None, f"{command.where}: `{command.text}`: {problem}"


def test_every_make_command_is_a_dry_run_make_accepts():
    for words in sorted({tuple(c.words) for c in COMMANDS if c.words[0] == "make"}):
        dry = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True)
        assert dry.returncode == 0, f"`{' '.join(words)}`: {dry.stderr.strip()}"


def _cheap(command: Command) -> bool:
    words = command.words
    if words[0] == "make" or "data" in words or any(_placeholder(word) for word in words):
        return False
    args = words[words.index("modcore") + 1:]
    return args[0] == "list" or (args[0] == "run" and args[1] != "all" and "ci" in args and "--executor" not in args)


def _cheap_commands() -> list[Command]:
    """The cheap commands, each once (the README and the book repeat some)."""
    unique = {}
    for command in COMMANDS:
        if _cheap(command):
            unique.setdefault(tuple(command.words[command.words.index("modcore"):]), command)
    return list(unique.values())


@pytest.mark.slow
@pytest.mark.parametrize("command", _cheap_commands(), ids=[f"{c.where} {c.text}" for c in _cheap_commands()])
def test_cheap_commands_run(command, tmp_path):
    """``list`` and a ``run`` of one notebook at ci, run as the page says (output and results
    redirected into a temporary folder)."""
    args = command.words[command.words.index("modcore") + 1:]
    if args[0] == "run":
        args += ["--output-dir", str(tmp_path / "executed"), "--quiet"]
    env = {**os.environ, "MODCORE_PROGRESS": "0", paths.RESULTS_ENV: str(tmp_path / "results"),
           paths.RESULTS_CREATE_ENV: "1"}
    env.pop("MPLBACKEND", None)
    done = subprocess.run([sys.executable, "-m", "modcore", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"{command.where}: `{command.text}` exited {done.returncode}:\n{done.stderr[-3000:]}"


# --- the checks can fail ------------------------------------------------------------------

@pytest.mark.parametrize("text, problem", [
    ("python -m modcore run theorem1 --profile ci -p n_max 500", "unknown parameter(s) 'n_max'"),
    ("python -m modcore run theorem1 --profile fast", "unknown profile 'fast'"),
    ("python -m modcore run theorem1 -p n_trials 0.5", "n_trials must be int"),
    ("python -m modcore run nope", "unknown notebook 'nope'"),
    ("python -m modcore run all -p n_max 5", "no notebook has parameter(s) 'n_max'"),
    ("python -m modcore run all --workers 4", "need --executor dask"),
    ("python -m modcore list nope", "unknown notebook 'nope'"),
    ("python -m modcore run", "the command line parser refuses it"),
    ("python -m modcore list -p seed 3", "only 'run' takes it"),
    ("python -m modcore data mnist --download DIR", "not a valid data command"),
    ("make everything", "make target 'everything' is not in the Makefile"),
    ("make book PROFILE=fast", "PROFILE=fast is not a profile"),
    ("make book PROFLE=ci", "make variable PROFLE is not in the Makefile"),
])
def test_a_wrong_command_is_caught(text, problem):
    found = check_command(Command(text, "here"))
    assert found is not None and problem in found, found


def test_commands_are_read_from_code_blocks_and_inline_code_but_not_from_mentions():
    text = "\n".join([
        "Run `python -m modcore run` with a name, e.g. `python -m modcore run scorecard`; `make test` too.",
        "```bash",
        "umask 002 && MODCORE_RESULTS=/tmp/x python -m modcore run sine_task -p seed=3",
        ".venv/bin/python -m modcore run theorem1 --profile ci -p n_train_max 500   # a comment",
        "python -m modcore run all \\",
        "    --profile paper",
        "echo not a command",
        "```",
        "The `python -m modcore run ... --executor dask` form, and `python -m modcore list/run`.",
    ])
    found = [(c.text, c.where) for c in extract_commands(text, "page.md")]
    assert found == [("python -m modcore run scorecard", "page.md:1"), ("make test", "page.md:1"),
                     ("python -m modcore run sine_task -p seed=3", "page.md:3"),
                     (".venv/bin/python -m modcore run theorem1 --profile ci -p n_train_max 500   # a comment",
                      "page.md:4"),
                     ("python -m modcore run all --profile paper", "page.md:5")]
