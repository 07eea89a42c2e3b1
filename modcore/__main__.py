"""Command line: ``python -m modcore list``, ``run NAME|all`` and ``data``.

    python -m modcore list [NAME ...]
    python -m modcore run theorem1 --profile ci -p n_train_max 500
    python -m modcore run nn_vs_theory -p lr=-1e-3 -p seed 3      (-p NAME=VALUE or -p NAME VALUE)
    python -m modcore run all --profile default [--jobs 2]
    python -m modcore run all --profile paper --executor dask [--workers N | --scheduler ADDRESS]
    python -m modcore run all --profile paper --estimate      (the cost, before anything runs)
    python -m modcore run all --profile gpu --estimate --assume-device h100   (modelled, not measured)
    python -m modcore data cifar10 --download DIR

Exit status: 0 done, 1 a notebook failed while running, 2 a bad request (unknown name,
bad parameter value, missing results folder, unusable output folder, missing packages),
found before anything runs, an estimate above --max-hours or the machine's memory), 130
interrupted (Ctrl-C). Every refusal is one line, `error: ...`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from pathlib import Path

from modcore import estimate, executors, paths, runner
from modcore.parameters import PROFILES

PARAMETER_OPTIONS = ("-p", "--parameter")


class UsageError(ValueError):
    """A command line that cannot be parsed: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one ``error:`` line rather than the usage text."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m modcore", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="show the notebooks, their parameters and each profile's values")
    listing.add_argument("names", nargs="*", metavar="NAME", help="notebooks to show (default: all)")

    run = commands.add_parser("run", help="execute notebooks with papermill into book/_executed/")
    run.add_argument("name", metavar="NAME", help="a notebook name, or 'all'")
    run.add_argument("--profile", default="default", help=f"one of {', '.join(PROFILES)} (default: default)")
    # -p is taken out of the command line before argparse (see take_parameters): argparse would
    # read a negative VALUE (-1e-3) as an option. It is declared here for --help only.
    run.add_argument(*PARAMETER_OPTIONS, action="append", default=[], metavar="NAME=VALUE",
                     help="override one parameter (repeatable): -p NAME=VALUE or -p NAME VALUE; VALUE is a "
                          "Python literal (negative numbers too) or a string")
    run.add_argument("--output-dir", default=None, help="write executed notebooks here instead of book/_executed/")
    run.add_argument("--quiet", action="store_true", help="do not stream the cells' output to the terminal")
    run.add_argument("--create-results", action="store_true",
                     help=f"create the results folder named by {paths.RESULTS_ENV} or results_dir if it is missing")
    run.add_argument("--executor", choices=executors.EXECUTOR_NAMES, default="inprocess",
                     help="where the sweeps' runs execute: in the notebook's kernel, or on a Dask cluster")
    run.add_argument("--scheduler", metavar="ADDRESS", default=None,
                     help="with --executor dask: a running scheduler (tcp://host:port), e.g. a SLURM cluster")
    run.add_argument("--workers", type=int, default=None,
                     help="with --executor dask and no --scheduler: local workers (default: one per GPU, else per core)")

    run.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="with 'all': execute up to N notebooks at once, each in its own kernel, the longest "
                          "estimated first (their cell output is then not streamed); the scorecard and the other "
                          "pages that read the chapters run after them (default: 1)")
    run.add_argument("--estimate", action="store_true",
                     help="print each notebook's runs, model-steps, FLOPs, peak memory and estimated time on this "
                          "device (from a short timed probe of the real steps), and a total; run nothing")
    run.add_argument("--assume-device", choices=estimate.ASSUMED_DEVICES, default=None,
                     help="with --estimate: the time on one H100-class GPU from a stated model (modcore/estimate.py: "
                          "a fixed time per optimiser step plus FLOPs at an effective rate; host work as estimated "
                          f"here), {estimate.MODEL_LABEL}; for sizing runs where no GPU is at hand")
    run.add_argument("--max-hours", default=None, metavar="H",
                     help="refuse to start when the estimate exceeds H hours (default per profile: "
                          + ", ".join(f"{p} {h:g}" for p, h in runner.MAX_HOURS.items()) + ")")

    commands.add_parser("data", help="fetch a data set explicitly: data cifar10 --download DIR")
    return parser


def _executor_error(args) -> str | None:
    if args.executor != "dask" and (args.scheduler is not None or args.workers is not None):
        return "--scheduler and --workers need --executor dask"
    if args.scheduler is not None and args.workers is not None:
        return "--workers starts a local cluster; it cannot be combined with --scheduler"
    if args.workers is not None and args.workers < 1:
        return f"--workers must be at least 1, got {args.workers}"
    if args.jobs < 1:
        return f"--jobs must be at least 1, got {args.jobs}"
    return None


def take_parameters(argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """``(the other words, [(NAME, VALUE text)])`` of a command line's ``-p`` options.

    ``-p NAME=VALUE``, ``-p NAME VALUE``, ``-pNAME=VALUE`` and ``--parameter[=]...`` all work,
    and VALUE may start with a minus (``-p lr -1e-3``). In the two-word form VALUE is the next
    word whatever it is, except an option (``--...``): ``-p lr --quiet`` lacks a value.
    """
    rest, pairs, i = [], [], 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            rest += argv[i:]
            break
        if word in PARAMETER_OPTIONS:
            if i + 1 >= len(argv):
                raise UsageError(f"{word} needs NAME=VALUE or NAME VALUE")
            first, i = argv[i + 1], i + 2
        elif word.startswith("--parameter="):
            first, i = word.removeprefix("--parameter="), i + 1
        elif word.startswith("-p") and not word.startswith("--"):
            first, i = word[2:], i + 1
        else:
            rest.append(word)
            i += 1
            continue
        name, equals, value = first.partition("=")
        if equals and name.isidentifier():
            pairs.append((name, value))
            continue
        if i >= len(argv) or argv[i].startswith("--"):
            raise UsageError(f"-p {first} has no value: write -p {first}=VALUE or -p {first} VALUE")
        pairs.append((first, argv[i]))
        i += 1
    return rest, pairs


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The parsed command line; ``parameter`` is the list of ``(NAME, VALUE text)`` pairs."""
    rest, pairs = take_parameters(argv)
    args = _parser().parse_args(rest)
    if pairs and args.command != "run":
        raise UsageError(f"-p sets a notebook's parameter: only 'run' takes it, not {args.command!r}")
    args.parameter = pairs
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["data"]:  # its own parser: the data command needs none of the notebook machinery
        from modcore import data_cli

        return data_cli.main(argv[1:])
    try:
        args = parse_args(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # papermill streams each cell's output through its logger when log_output is on
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "list":
            runner.require_notebook_packages(("jupytext",))
            names = args.names or runner.notebook_names()
            for name in names:
                runner.notebook_path(name)  # unknown names fail before any output
            print(runner.describe(names), end="")
            return 0

        runner.require_notebook_packages()
        problem = _executor_error(args)
        if problem:
            raise runner.RunnerError(problem)
        if args.create_results:
            os.environ[paths.RESULTS_CREATE_ENV] = "1"  # the kernels inherit it
        _export_absolute_results_env()
        overrides = {key: runner.parse_cli_value(value) for key, value in args.parameter}
        names = runner.notebook_names() if args.name == "all" else [args.name]
        defaults = {name: runner.default_parameters(name) for name in names}
        chosen = _split_overrides(overrides, defaults) if args.name == "all" else {args.name: overrides}
        # Check every notebook before running any, so a typo or a bad value fails in a second,
        # not after an hour: names, types, rules (each chapter's Parameters), then the results folders they write to.
        for name, name_overrides in chosen.items():
            parameters = runner.resolve(name, args.profile, name_overrides)
            try:
                _check_results_dir({**defaults[name], **parameters})
            except paths.ResultsDirError as error:
                raise runner.RunnerError(f"notebook {name!r}: {error}") from None
        estimates = _estimates(args, chosen)
        if estimates is None:
            return 0
        output_dir = None
        if args.output_dir is not None:  # checked (and created) last: a refusal above leaves no folder behind
            output_dir = paths.check_writable_dir(paths.absolute_path(args.output_dir, "--output-dir"), create=True,
                                                  what="--output-dir")
        with contextlib.ExitStack() as stack:
            if args.executor == "dask":
                # One cluster for every notebook of the command; the kernels inherit its address.
                address = args.scheduler or stack.enter_context(executors.serve_local_cluster(args.workers))
                os.environ[executors.ENV_EXECUTOR] = "dask"
                os.environ[executors.ENV_SCHEDULER] = address
            def execute(name: str, stream: bool) -> None:
                start = time.perf_counter()
                print(f"[modcore] {name}: profile {args.profile!r}", file=sys.stderr, flush=True)
                output = runner.execute(name, args.profile, chosen[name], output_dir=output_dir, log_output=stream,
                                        cell_timeout_s=estimate.cell_timeout_seconds(estimates[name].seconds))
                print(f"[modcore] {name}: done in {time.perf_counter() - start:.0f} s -> {output}", file=sys.stderr,
                      flush=True)

            runner.execute_all(list(chosen), execute, jobs=args.jobs, stream=not args.quiet,
                         seconds={name: e.seconds for name, e in estimates.items()})
        return 0
    except (runner.RunnerError, paths.ResultsDirError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except runner.NotebookFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as error:  # Ctrl-C: one line, no traceback, the usual 128 + SIGINT
        message = str(error) if isinstance(error, runner.NotebookInterrupted) else "interrupted (Ctrl-C)"
        print(f"error: {message}", file=sys.stderr)
        return 130


def _estimates(args, chosen: dict[str, dict]) -> dict | None:
    """Each notebook's estimate; with --estimate, print them and return None (nothing runs);
    otherwise refuse an estimate above --max-hours or the machine's memory (the guard)."""
    max_hours = None if args.max_hours is None else runner.check_max_hours(args.max_hours)
    if args.assume_device is not None and not args.estimate:
        raise runner.RunnerError("--assume-device only models the time of --estimate; add --estimate")
    estimates = {name: runner.estimate_notebook(name, args.profile, overrides) for name, overrides in chosen.items()}
    devices = {estimate.device_of({**runner.default_parameters(name), **runner.resolve(name, args.profile, overrides)})
               for name, overrides in chosen.items() if "device" in runner.default_parameters(name)}
    device = "cuda" if "cuda" in devices else "cpu"
    if args.estimate and args.assume_device is not None:
        print(f"profile {args.profile!r}, device {args.assume_device} ({estimate.MODEL_LABEL}):")
        print(estimate.table(list(estimates.values()), args.assume_device, estimate.h100_seconds), end="")
        return None
    if args.estimate:
        print(f"profile {args.profile!r}, device {device}:")
        print(estimate.table(list(estimates.values()), device), end="")
        return None
    runner.check_cost(estimates.values(), args.profile, max_hours, device)
    return estimates


def _export_absolute_results_env() -> None:
    """Resolve ``MODCORE_RESULTS`` once, here, and hand the absolute path to the kernels (which
    run in ``notebooks/``), so that the folder checked here is the one they write to. An empty
    one is left for the notebooks that use a store to refuse, naming themselves."""
    value = os.environ.get(paths.RESULTS_ENV)
    if value is not None and value.strip():
        os.environ[paths.RESULTS_ENV] = str(paths.results_dir())


def _check_results_dir(parameters: dict) -> None:
    """A notebook with a ``results_dir`` parameter writes a results store: its folder must
    exist (or be allowed to be created) and be writable before the notebook starts."""
    if "results_dir" not in parameters:
        return
    if parameters["results_dir"] is None:  # the default store: MODCORE_RESULTS (refused when empty) or results/
        paths.check_writable_dir(paths.results_dir(), create=paths.may_create_results_dir())
    else:
        paths.check_writable_dir(Path(parameters["results_dir"]), create=paths.may_create_explicit_results_dir())


def _split_overrides(overrides: dict, parameters: dict[str, dict]) -> dict[str, dict]:
    """With ``run all``, an override applies to the notebooks that have that parameter
    (``-p seed 3`` reseeds every notebook); a name no notebook has is still an error."""
    unknown = sorted(set(overrides) - {key for names in parameters.values() for key in names})
    if unknown:
        raise runner.RunnerError(f"no notebook has parameter(s) {', '.join(map(repr, unknown))}")
    return {name: {key: value for key, value in overrides.items() if key in mine}
            for name, mine in parameters.items()}


if __name__ == "__main__":
    sys.exit(main())
