"""The execution-statistics page reads each executed notebook's provenance, and says so when
the chapters of a build were not made alike."""

import json

import pytest

from modcore import execution_stats


def _provenance(*, commit="abc1234", profile="ci", seconds=10.0, device="CPU only", numpy="2.4.6"):
    return {"command": "python -m modcore run x", "profile": profile, "parameters": {}, "seeds": {},
            "device": device, "commit": commit, "modcore_version": "0.1.0", "python": "3.11.7",
            "packages": {"numpy": numpy, "torch": "2.13.0"}, "finished_utc": "2026-01-01 00:00 UTC",
            "wall_seconds": seconds}


def _write(folder, name, provenance=None, *, failed=False, title=None):
    metadata = {"papermill": {"exception": failed}, "modcore": {"profile": "ci"}}
    if provenance is not None:
        metadata["modcore"]["provenance"] = provenance
    cells = [{"cell_type": "markdown", "metadata": {}, "source": f"(x)=\n# {title or name.title()}\n\ntext"}]
    (folder / f"{name}.ipynb").write_text(json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4,
                                                      "nbformat_minor": 5}))


def test_a_build_made_alike_is_said_to_be_alike(tmp_path):
    _write(tmp_path, "alpha", _provenance(seconds=12.0), title="Alpha: the first")
    _write(tmp_path, "beta", _provenance(seconds=100.0))
    runs = execution_stats.collect(tmp_path, names=["alpha", "beta", "execution_stats"])
    assert [run.name for run in runs] == ["alpha", "beta"]  # the page itself is left out
    summary = execution_stats.summary(runs)
    assert (summary["n_chapters"], summary["n_executed"], summary["n_not_executed"]) == (2, 2, 0)
    assert summary["consistency"] == "They ran at one profile (ci), from one commit, with the same package versions."
    table = execution_stats.runs_table(runs)
    assert table.startswith("Every chapter ran on one device: CPU only.")
    assert "| {doc}`Alpha: the first <alpha>` | `ci` | 12 s | `abc1234` |" in table
    assert "**1.9 min**" in table  # 112 s in all
    assert "| `numpy` | 2.4.6 |" in execution_stats.versions_table(runs)


def test_a_mixed_build_says_what_differs_and_lists_what_did_not_run(tmp_path):
    _write(tmp_path, "alpha", _provenance(commit="abc1234", device="CPU only", numpy="2.4.6"))
    _write(tmp_path, "beta", _provenance(commit="def5678", device="CUDA: H100", numpy="2.3.5", profile="default"))
    _write(tmp_path, "gamma", _provenance(), failed=True)
    _write(tmp_path, "delta")  # executed by something else than the runner: no provenance
    runs = execution_stats.collect(tmp_path, names=["alpha", "beta", "gamma", "delta", "epsilon"])
    assert [run.status for run in runs] == ["executed", "executed", "failed", "no provenance", "not executed"]
    summary = execution_stats.summary(runs)
    assert (summary["n_chapters"], summary["n_executed"], summary["n_not_executed"]) == (5, 2, 3)
    assert summary["consistency"] == ("They ran at 2 profiles (ci, default), from 2 different commits, with "
                                      "different versions of numpy. Pages made from different code or packages "
                                      "may not agree with each other.")
    table = execution_stats.runs_table(runs)
    assert "Device" in table.splitlines()[0] and "CUDA: H100" in table  # no shared device line
    assert "| epsilon | not executed |" in table  # no link to a page that does not exist
    assert "| {doc}`Gamma <gamma>` | failed |" in table
    assert "2.4.6 (1 chapter); 2.3.5 (1 chapter)" in execution_stats.versions_table(runs)


def test_an_empty_build_has_nothing_to_report_and_a_missing_folder_is_an_error(tmp_path):
    runs = execution_stats.collect(tmp_path, names=["alpha"])
    assert execution_stats.summary(runs)["consistency"] == "No chapter of this build has been executed yet."
    with pytest.raises(ValueError, match="executed_dir="):
        execution_stats.collect(tmp_path / "missing")


def test_chapters_follow_the_table_of_contents():
    order = execution_stats.book_order()
    assert order[0] == "scorecard" and order.index("theorem1") < order.index("essay_modularity")
