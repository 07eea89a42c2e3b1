"""Command line: ``python -m modcore list`` and ``python -m modcore run NAME|all``.

    python -m modcore list [NAME ...]
    python -m modcore run theorem1 --profile ci -p n_max 500
    python -m modcore run all --profile default
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from modcore import runner


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modcore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="show the notebooks, their parameters and each profile's values")
    listing.add_argument("names", nargs="*", metavar="NAME", help="notebooks to show (default: all)")

    run = commands.add_parser("run", help="execute notebooks with papermill into book/_executed/")
    run.add_argument("name", metavar="NAME", help="a notebook name, or 'all'")
    run.add_argument("--profile", default="default", help=f"one of {', '.join(runner.PROFILES)} (default: default)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="override one parameter (repeatable); VALUE is a Python literal or a string")
    run.add_argument("--output-dir", default=None, help="write executed notebooks here instead of book/_executed/")
    run.add_argument("--quiet", action="store_true", help="do not stream the cells' output to the terminal")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # papermill streams each cell's output through its logger when log_output is on
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "list":
            names = args.names or runner.notebook_names()
            for name in names:
                runner.notebook_path(name)  # unknown names fail before any output
            print(runner.describe(names), end="")
            return 0

        overrides = {key: runner.parse_cli_value(value) for key, value in args.parameter}
        if args.name == "all":
            chosen = _split_overrides(overrides, {name: runner.default_parameters(name) for name in runner.notebook_names()})
        else:
            chosen = {args.name: overrides}
        # Check every notebook before running any, so a typo fails in a second, not after an hour.
        for name, name_overrides in chosen.items():
            runner.resolve(name, args.profile, name_overrides)
        for name, name_overrides in chosen.items():
            start = time.perf_counter()
            print(f"[modcore] {name}: profile {args.profile!r}", file=sys.stderr, flush=True)
            output = runner.execute(name, args.profile, name_overrides, output_dir=args.output_dir,
                                    log_output=not args.quiet)
            print(f"[modcore] {name}: done in {time.perf_counter() - start:.0f} s -> {output}", file=sys.stderr)
        return 0
    except runner.RunnerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


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
