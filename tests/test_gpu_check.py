"""benchmarks/gpu_check.py without a GPU: what it reads from the gpu profile's executed notebooks.
(Its one-line refusal without CUDA is tested in tests/test_cuda.py.)"""

import importlib.util
import os

import nbformat

from modcore import paths


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", paths.REPO_ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _executed(folder, name, seconds=None, mtime=0):
    notebook = nbformat.v4.new_notebook()
    if seconds is not None:
        notebook.metadata["modcore"] = {"provenance": {"wall_seconds": seconds, "profile": "gpu"}}
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    os.utime(path, (mtime, mtime))


def test_notebook_wall_times_come_from_the_provenance_in_run_order(tmp_path):
    _executed(tmp_path, "theorem1", 12.5, mtime=200)
    _executed(tmp_path, "calibration", 30.0, mtime=100)
    _executed(tmp_path, "nn_vs_theory.failed", 99.0, mtime=300)  # a failed notebook is not a time
    _executed(tmp_path, "scorecard", None, mtime=400)             # nor one without provenance
    times = _gpu_check().notebook_wall_times(tmp_path)
    assert list(times.items()) == [("calibration", 30.0), ("theorem1", 12.5)]


def test_the_gpu_profile_gets_the_most_of_the_default_budget():
    check = _gpu_check()
    left = 1.0 - check.TESTS_SHARE - check.BENCHMARK_SHARE
    assert check.PROFILE == "gpu" and left * check.DEFAULT_BUDGET_S >= 8 * 60
