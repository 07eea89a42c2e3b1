"""`make gpu-check`: every CUDA check of the project in one go, written to one JSON of timings and agreements.

Steps, each timed and each in its own process (a step that crashes is recorded, the next still runs):

1. the CUDA tests (tests/test_cuda.py): CPU and CUDA from the same seeds, the trainer eager and
   compiled, the kernel rule's batched Cholesky objective and fit; each comparison's largest
   relative difference and its tolerance are read from the tests' junit properties;
2. ``benchmarks/ensemble.py --device cuda --quick``: the ensemble trainer vs the naive loop, eager
   and compiled, and what ``compile="auto"`` does, on the GPU;
3. the ``gpu`` profile: ``python -m modcore run all --profile gpu`` (every chapter, the network
   chapters on CUDA at scales between ``default`` and ``paper``); each notebook's wall time is read
   from the provenance of its executed notebook, with their total (``--skip-notebooks`` leaves
   this step out).

The JSON (default benchmarks/gpu_check.json) names the card (torch.cuda.get_device_name), torch and
CUDA versions and the commit. Without CUDA, or without a package a step needs, it stops before
anything runs, with one ``error:`` line and exit status 2. It exits 1 if a step failed, else 0.

Budget: the whole check is meant to fit about 15-17 minutes on one H100-class GPU (``--budget-s``,
default 1000 s). The ``gpu`` profile is sized for at most 8 minutes there, by a model, not
measured (modcore/estimate.py, ``h100_seconds``; ``python -m modcore run all --profile gpu
--estimate --assume-device h100`` prints it). The other steps were estimated from the CPU, where
they ran with the CPU standing in for CUDA on the project's 2-core machine under a load average of
6-8 (upper bounds for the host side): the CUDA tests took 42 s (on CUDA add the Triton compiles of
two shapes, about 20-40 s); the quick benchmark's main table and compile-plan table took under 9
min on the loaded CPU, most of it the naive loop and eager/compiled runs of the wide rows, which a
GPU runs in a fraction of that (its CPU-only plan check is not run on CUDA). Expected on one H100:
about 1-1.5 min of tests, 2-3 min of benchmark, up to 8 min of the gpu profile. A step gets at most
its share of the budget as its timeout (the benchmark writes its JSON after every row, so a stopped
benchmark still reports its rows; a stopped profile still reports the notebooks it finished), so
the check ends within the budget whatever happens.

Usage: python benchmarks/gpu_check.py [--skip-notebooks] [--budget-s S] [--output PATH]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing modcore

# What the notebook step needs beyond torch: the runner's packages, a kernel, and myst-nb (glue)
NOTEBOOK_MODULES = ("jupytext", "papermill", "nbformat", "ipykernel", "myst_nb")
DEFAULT_BUDGET_S = 1000.0
TESTS_SHARE = 0.18       # at most this share of the budget for the CUDA tests (180 s of 1000)
BENCHMARK_SHARE = 0.24   # ... and for the benchmark (240 s); what they leave goes to the gpu profile,
                         # at least 580 s of 1000 for its modelled 8 minutes
PROFILE = "gpu"


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def preflight(skip_notebooks: bool) -> dict:
    """Everything the steps need, checked before any of them runs; the machine's description."""
    if importlib.util.find_spec("torch") is None:
        fail("gpu-check needs torch with CUDA; this Python has no torch")
    import torch

    if not torch.cuda.is_available():
        fail(f"gpu-check needs a CUDA GPU, and torch {torch.__version__} sees none (torch.cuda.is_available() "
             "is False); run it on a machine with one")
    needed = ["pytest"] + ([] if skip_notebooks else list(NOTEBOOK_MODULES))
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        fail(f"gpu-check needs {', '.join(missing)} in this Python (pip install -e \".[test]\")"
             + ("" if skip_notebooks or "pytest" in missing else "; --skip-notebooks leaves the notebooks out"))
    return dict(card=torch.cuda.get_device_name(0), n_gpus=torch.cuda.device_count(), torch=torch.__version__,
                cuda=torch.version.cuda, python=sys.version.split()[0], commit=_commit())


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def run(command: list[str], timeout_s: float, env: dict | None = None) -> dict:
    """Run ``command`` in the repository; its time, exit status and the tail of its output."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                   "PYTHONUNBUFFERED": "1", "MODCORE_PROGRESS": "0", **(env or {})}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True,
                              timeout=max(1.0, timeout_s))
        returncode, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        returncode = "timeout"
        output = "".join(part.decode(errors="replace") if isinstance(part, bytes) else (part or "")
                         for part in (expired.stdout, expired.stderr))
    seconds = time.perf_counter() - start
    return dict(command=" ".join(command), seconds=round(seconds, 1), returncode=returncode, output_tail=output[-8000:])


def junit_results(path: Path) -> list[dict]:
    """Per test case: name, outcome, seconds, and its recorded agreements {name: {relative_difference, tolerance}}."""
    if not path.exists():
        return []
    cases = []
    for case in ElementTree.parse(path).iter("testcase"):
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        properties = {p.get("name"): float(p.get("value")) for p in case.iter("property")}
        agreements = {name[:-len("_relative_difference")]: dict(relative_difference=value,
                                                               tolerance=properties.get(
                                                                   name[:-len("_relative_difference")] + "_tolerance"))
                      for name, value in properties.items() if name.endswith("_relative_difference")}
        cases.append(dict(name=case.get("name"), outcome=outcome, seconds=float(case.get("time") or 0),
                          agreements=agreements))
    return cases


def cuda_tests(budget_s: float, scratch: Path) -> dict:
    report = scratch / "cuda_tests.xml"
    step = run([sys.executable, "-m", "pytest", "tests/test_cuda.py", "-m", "cuda", "-q", "-rs",
                "-p", "no:cacheprovider", f"--junitxml={report}"], budget_s, env={"MODCORE_TEST_DEVICE": "cuda"})
    step["tests"] = junit_results(report)
    counts = {outcome: sum(t["outcome"] == outcome for t in step["tests"])
              for outcome in ("passed", "failure", "error", "skipped")}
    step["counts"] = counts
    # on a CUDA machine a skipped CUDA test is a failure of the check, not a pass
    step["ok"] = step["returncode"] == 0 and counts["passed"] > 0 and counts["skipped"] == 0
    worst = [(t["name"], name, a["relative_difference"] / a["tolerance"])
             for t in step["tests"] for name, a in t["agreements"].items() if a["tolerance"]]
    step["largest_difference_over_tolerance"] = max((w[2] for w in worst), default=None)
    return step


def benchmark(budget_s: float, scratch: Path) -> dict:
    result = scratch / "ensemble.json"
    step = run([sys.executable, "benchmarks/ensemble.py", "--device", "cuda", "--quick", "--json", str(result)],
               budget_s)
    # written after every row: a benchmark stopped by its timeout still gives the rows it measured
    step["result"] = json.loads(result.read_text()) if result.exists() else None
    step["ok"] = step["returncode"] == 0 and step["result"] is not None
    return step


def notebook_wall_times(executed: Path) -> dict[str, float]:
    """Each executed notebook's wall time (kernel start included), read from its provenance, in
    the order `run all` ran them; a notebook without provenance (failed, never finished) is left out."""
    import nbformat

    times = {}
    for path in sorted(executed.glob("*.ipynb"), key=lambda p: p.stat().st_mtime):
        if path.name.endswith(".failed.ipynb"):
            continue
        record = nbformat.read(path, as_version=4).metadata.get("modcore", {}).get("provenance", {})
        if "wall_seconds" in record:
            times[path.stem] = float(record["wall_seconds"])
    return times


def gpu_profile(budget_s: float, scratch: Path) -> dict:
    """``run all --profile gpu`` into a scratch folder, timed; per-notebook times from the provenance."""
    executed = scratch / "executed"
    step = run([sys.executable, "-m", "modcore", "run", "all", "--profile", PROFILE, "--output-dir", str(executed),
                "--quiet", "--create-results"], budget_s, env={"MODCORE_RESULTS": str(scratch / "results")})
    step["notebook_seconds"] = notebook_wall_times(executed) if executed.exists() else {}
    step["notebooks_total_seconds"] = round(sum(step["notebook_seconds"].values()), 1)
    step["ok"] = step["returncode"] == 0
    for name, seconds in step["notebook_seconds"].items():
        print(f"  {name}: {seconds:.0f} s", flush=True)
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-notebooks", action="store_true", help="leave out the gpu profile (run all --profile gpu)")
    parser.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S,
                        help=f"the whole check's time limit (default {DEFAULT_BUDGET_S:.0f})")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "gpu_check.json")
    args = parser.parse_args()
    if not args.budget_s > 0:
        fail(f"--budget-s must be a positive number of seconds, got --budget-s {args.budget_s}")
    machine = preflight(args.skip_notebooks)
    start = time.perf_counter()
    deadline = start + args.budget_s
    print(f"gpu-check on {machine['card']} (torch {machine['torch']}, CUDA {machine['cuda']}), "
          f"budget {args.budget_s:.0f} s", flush=True)
    report = dict(machine=machine, started=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  budget_s=args.budget_s, steps={})
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as folder:
        scratch = Path(folder)
        print("1. CUDA tests", flush=True)
        report["steps"]["cuda_tests"] = cuda_tests(TESTS_SHARE * args.budget_s, scratch)
        print("2. benchmarks/ensemble.py --device cuda --quick", flush=True)
        left = deadline - time.perf_counter()
        report["steps"]["benchmark"] = benchmark(min(left, BENCHMARK_SHARE * args.budget_s), scratch)
        if args.skip_notebooks:
            report["steps"]["gpu_profile"] = dict(skipped="--skip-notebooks")
        else:
            print(f"3. python -m modcore run all --profile {PROFILE}", flush=True)
            report["steps"]["gpu_profile"] = gpu_profile(deadline - time.perf_counter(), scratch)
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    failed = [name for name, step in report["steps"].items() if step.get("ok") is False]
    report["failed_steps"] = failed
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    for name, step in report["steps"].items():
        status = "skipped" if "skipped" in step else ("ok" if step["ok"] else "FAILED")
        print(f"{name}: {status}" + (f", {step['seconds']:.0f} s" if "seconds" in step else ""))
    print(f"total {report['total_seconds']:.0f} s; wrote {args.output}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
