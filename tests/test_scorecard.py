"""The scorecard shows a chapter's verdict only from a current record, and "not run" otherwise."""

import datetime as dt
import os

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from myst_nb import glue

from modcore import scorecard

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _glued_output(claim_id: str, commit: str, **fields) -> nbformat.NotebookNode:
    """The cell output that `glue("claim:...", scorecard.record(...), display=False)` writes."""
    InteractiveShell.instance()
    rec = scorecard.record(claim_id, **fields)
    rec["commit"] = commit  # the record of a run at that commit
    with capture_output() as captured:
        glue(scorecard.GLUE_PREFIX + claim_id, rec, display=False)
    (shown,) = captured.outputs
    return nbformat.v4.new_output("display_data", data=shown.data, metadata=shown.metadata)


def _executed_notebook(folder, name: str, outputs, *, started: dt.datetime, failed: bool = False):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("glue(...)")
    cell.outputs = outputs
    notebook.cells = [cell]
    notebook.metadata["papermill"] = {"start_time": started.replace(tzinfo=None).isoformat(),
                                      "exception": True if failed else None}
    notebook.metadata["modcore"] = {"profile": "ci", "overrides": {}}
    nbformat.write(notebook, folder / f"{name}.ipynb")


@pytest.fixture
def book(tmp_path):
    """An executed folder and a sources folder whose theorem1.py was last edited an hour ago."""
    executed, sources = tmp_path / "executed", tmp_path / "notebooks"
    executed.mkdir()
    sources.mkdir()
    source = sources / "theorem1.py"
    source.write_text("# notebook\n")
    edited = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    os.utime(source, (edited.timestamp(), edited.timestamp()))
    return executed, sources, edited


FIELDS = dict(ours="largest gap 0.8 % (3.1 s.e.)", seeds=[0, 1, 2], verdict="agree",
              rule="agree if every gap is within 4 standard errors")


def _row(rows, claim_id):
    return next(row for row in rows if row.claim.claim_id == claim_id)


def test_current_record_appears_in_its_row_with_verdict_seeds_profile_and_chapter_link(book):
    executed, sources, edited = book
    _executed_notebook(executed, "theorem1", [_glued_output("theorem1", COMMIT, **FIELDS)],
                       started=edited + dt.timedelta(minutes=5))
    rows = scorecard.collect(executed, commit=COMMIT, source_dir=sources)
    row = _row(rows, "theorem1")
    assert (row.status, row.ours, row.seeds, row.profile, row.chapter) == (
        "agree", FIELDS["ours"], (0, 1, 2), "ci", "theorem1")
    table = scorecard.to_markdown(rows)
    line = next(line for line in table.splitlines() if "Theorem 1.**" in line)
    assert "**agree**" in line and "seeds 0-2; profile `ci`" in line and "{doc}`theorem1 <theorem1>`" in line
    assert scorecard.count(rows)["agree"] == 1


def test_record_older_than_the_notebook_source_shows_not_run(book):
    executed, sources, edited = book
    _executed_notebook(executed, "theorem1", [_glued_output("theorem1", COMMIT, **FIELDS)],
                       started=edited - dt.timedelta(minutes=5))
    row = _row(scorecard.collect(executed, commit=COMMIT, source_dir=sources), "theorem1")
    assert row.status == scorecard.NOT_RUN and "changed after the run" in row.reason
    assert "**agree**" not in scorecard.to_markdown([row])


def test_record_from_another_commit_shows_not_run(book):
    executed, sources, edited = book
    _executed_notebook(executed, "theorem1", [_glued_output("theorem1", "f" * 40, **FIELDS)],
                       started=edited + dt.timedelta(minutes=5))
    row = _row(scorecard.collect(executed, commit=COMMIT, source_dir=sources), "theorem1")
    assert row.status == scorecard.NOT_RUN and "stale: run at commit ffffffffff" in row.reason


def test_record_of_a_failed_run_shows_not_run(book):
    executed, sources, edited = book
    _executed_notebook(executed, "theorem1", [_glued_output("theorem1", COMMIT, **FIELDS)],
                       started=edited + dt.timedelta(minutes=5), failed=True)
    row = _row(scorecard.collect(executed, commit=COMMIT, source_dir=sources), "theorem1")
    assert row.status == scorecard.NOT_RUN and row.reason == "the notebook failed"


def test_every_claim_without_a_record_shows_not_run(book):
    executed, sources, edited = book
    _executed_notebook(executed, "theorem1", [], started=edited + dt.timedelta(minutes=5))
    rows = scorecard.collect(executed, commit=COMMIT, source_dir=sources)
    assert [row.claim.claim_id for row in rows] == [claim.claim_id for claim in scorecard.CLAIMS]
    assert {row.status for row in rows} == {scorecard.NOT_RUN}
    assert _row(rows, "theorem1").reason == "no record"
    assert _row(rows, "fig4b_compositional_cifar").reason == "no chapter checks it yet"


def test_the_scorecard_lists_each_claim_the_issue_names_once():
    ids = [claim.claim_id for claim in scorecard.CLAIMS]
    assert len(ids) == len(set(ids))
    places = {claim.where for claim in scorecard.CLAIMS if claim.source == "paper"}
    for where in ("Theorem 1", "Fig. 1", "Fig. 2 (vs k)", "Fig. 2 (vs m)", "Fig. 2 (vs p)", "Fig. 2 (vs n)",
                  "Fig. 3", "Theorem 2", "Fig. 4a", "Fig. 5 and t-SNE", "Fig. 4b", "OOD and noise table",
                  "Table 2", "Fig. 12"):
        assert where in places
    assert sum(claim.source == "essay" for claim in scorecard.CLAIMS) >= 4


def test_unknown_claim_id_raises_and_names_it():
    with pytest.raises(ValueError, match="claim_id="):
        scorecard.record("fig99", **FIELDS)


def test_verdict_outside_the_vocabulary_raises_and_names_it():
    with pytest.raises(ValueError, match="verdict="):
        scorecard.record("theorem1", **{**FIELDS, "verdict": "pass"})


def test_missing_executed_dir_raises_and_names_it(tmp_path):
    with pytest.raises(ValueError, match="executed_dir="):
        scorecard.collect(tmp_path / "absent")


@pytest.mark.parametrize("verdicts, combined", [
    (["agree", "agree"], "agree"),
    (["disagree", "disagree"], "disagree"),
    (["agree", "inconclusive"], "partly"),
    (["agree", "disagree"], "partly"),
    (["disagree", "inconclusive"], "inconclusive"),
    (["agree", "not testable"], "not testable"),
    ([], "inconclusive"),
])
def test_several_checks_of_one_claim_combine_into_one_verdict(verdicts, combined):
    assert scorecard.combined_verdict(verdicts) == combined
