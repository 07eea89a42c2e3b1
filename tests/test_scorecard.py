"""The scorecard shows a chapter's verdict only from a current record, and "not run" otherwise."""

import datetime as dt
import os

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from myst_nb import glue

from modcore import claims, scorecard

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
    line = next(line for line in table.splitlines() if "Theorem 1: closed form" in line)
    assert scorecard.badge("agree") in line and "<theorem1>`" in line and FIELDS["ours"] in line
    details = scorecard.details_markdown(rows)
    assert "seeds 0-2; profile `ci`" in details and "{doc}`theorem1 <theorem1>`" in details
    assert scorecard.count(rows)["agree"] == 1


def test_record_older_than_the_notebook_source_shows_not_run(book):
    executed, sources, edited = book
    _executed_notebook(executed, "theorem1", [_glued_output("theorem1", COMMIT, **FIELDS)],
                       started=edited - dt.timedelta(minutes=5))
    row = _row(scorecard.collect(executed, commit=COMMIT, source_dir=sources), "theorem1")
    assert row.status == scorecard.NOT_RUN and "changed after the run" in row.reason
    assert scorecard.badge("agree") not in scorecard.to_markdown([row])


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
    assert [row.claim.claim_id for row in rows] == [claim.claim_id for claim in claims.CLAIMS]
    assert {row.status for row in rows} == {scorecard.NOT_RUN}
    assert _row(rows, "theorem1").reason == "no record"
    assert _row(rows, "fig4b_kernel_vs_random").reason == "no chapter checks it yet"


def test_the_scorecard_lists_each_claim_the_issue_names_once():
    ids = [claim.claim_id for claim in claims.CLAIMS]
    assert len(ids) == len(set(ids))
    places = {claim.where for claim in claims.CLAIMS if claim.source == "paper"}
    for where in ("Theorem 1", "Fig. 1", "Fig. 2 (vs k)", "Fig. 2 (vs m)", "Fig. 2 (vs p)", "Fig. 2 (vs n)",
                  "Fig. 3", "Theorem 2", "Fig. 4a", "Fig. 5 and t-SNE", "Fig. 4b", "OOD and noise table",
                  "Table 2", "Fig. 12"):
        assert where in places
    assert sum(claim.source == "essay" for claim in claims.CLAIMS) >= 4


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


# --- the verdict words, two-part rows, the headline --------------------------------------------


def test_the_verdict_words_are_a_closed_set_and_only_agree_counts_as_agreement():
    assert set(scorecard.VERDICTS) == {"agree", "partly", "disagree", "inconclusive", "not testable",
                                       "not testable (the claim is not in our sources)", "holds by construction"}
    assert [v for v in scorecard.VERDICTS if scorecard.counts_as_agreement(v)] == ["agree"]
    assert set(scorecard.MEANINGS) == {*scorecard.VERDICTS, scorecard.NOT_RUN}
    with pytest.raises(ValueError, match="part verdict"):
        scorecard.record("theorem1", **FIELDS, parts=[{"label": "a", "verdict": "pass", "evidence": "b"}])


def test_every_chapter_maps_its_words_into_the_closed_set():
    from modcore.chapters import optimisation_gap, theorem2
    from modcore.runs import essay_report
    for mapping in (theorem2.SCORECARD_VERDICT, essay_report.SCORECARD_WORDS):
        assert set(mapping.values()) <= set(scorecard.VERDICTS)
    decided = {optimisation_gap.decide(n, 3, testable=testable, healthy_fraction=fraction)
               for n in range(4) for testable in (True, False) for fraction in (0.0, 1.0)}
    assert decided <= set(scorecard.VERDICTS)


def test_a_record_with_a_word_outside_the_set_shows_not_run(book):
    executed, sources, edited = book
    output = _glued_output("theorem1", COMMIT, **FIELDS)
    text = output["data"][scorecard.RECORD_MIME]
    output["data"][scorecard.RECORD_MIME] = text.replace('"verdict": "agree"', '"verdict": "passes"')
    _executed_notebook(executed, "theorem1", [output], started=edited + dt.timedelta(minutes=5))
    row = _row(scorecard.collect(executed, commit=COMMIT, source_dir=sources), "theorem1")
    assert row.status == scorecard.NOT_RUN and "no valid verdict" in row.reason


@pytest.mark.parametrize("verdicts, combined", [
    (["agree", "holds by construction"], "agree"),
    (["holds by construction"], "holds by construction"),
    ([scorecard.NOT_IN_SOURCES, "holds by construction"], scorecard.NOT_IN_SOURCES),
    (["disagree", scorecard.NOT_IN_SOURCES], "disagree"),
])
def test_checks_that_test_nothing_are_left_out_of_a_combined_verdict(verdicts, combined):
    assert scorecard.combined_verdict(verdicts) == combined


@pytest.mark.parametrize("ours, papers, expected", [
    ("disagree", "disagree", "agree"), ("agree", "disagree", "disagree"), ("inconclusive", "disagree", "inconclusive")])
def test_our_curve_against_the_papers_curve(ours, papers, expected):
    assert scorecard.against_data_verdict(ours, papers) == expected


def test_a_not_run_record_shows_its_reason(book):
    executed, sources, edited = book
    InteractiveShell.instance()
    rec = scorecard.not_run_record("fig4b_on_cifar10", reason="data not present")
    rec["commit"] = COMMIT
    with capture_output() as captured:
        glue(scorecard.GLUE_PREFIX + "fig4b_on_cifar10", rec, display=False)
    (shown,) = captured.outputs
    output = nbformat.v4.new_output("display_data", data=shown.data, metadata=shown.metadata)
    (sources / "compositional_images.py").write_text("# notebook\n")
    os.utime(sources / "compositional_images.py", (edited.timestamp(), edited.timestamp()))
    _executed_notebook(executed, "compositional_images", [output], started=edited + dt.timedelta(minutes=5))
    row = _row(scorecard.collect(executed, commit=COMMIT, source_dir=sources), "fig4b_on_cifar10")
    assert (row.status, row.reason) == (scorecard.NOT_RUN, "data not present")
    assert "data not present" in scorecard.to_markdown([row])


def _rows(statuses: dict) -> list:
    rows = []
    for claim_id, status in statuses.items():
        parts = ()
        if isinstance(status, tuple):
            status, against_data = status
            parts = (scorecard.part(scorecard.AGAINST_DATA, against_data, "curves"),
                     scorecard.part(scorecard.AGAINST_WORDS, status, "words"))
        rows.append(scorecard.Row(claims.claim(claim_id), status, "why not" if status == scorecard.NOT_RUN else "",
                                  "ours", "paper", "rule", (0,), "default", None, why="numbers", parts=parts))
    return rows


def test_the_headline_names_what_reproduces_what_does_not_and_what_is_untested():
    rows = _rows({"theorem1": "agree", "fig1_double_descent": "agree", "fig2_flat_in_k": scorecard.BY_CONSTRUCTION,
                  "fig2_double_descent_in_n": ("disagree", "agree"), "fig3_exponential_in_m": "disagree",
                  "table2_nonlinear_projections": scorecard.NOT_IN_SOURCES, "essay_l1": "inconclusive",
                  "essay_l2": "partly", "algorithm1_recovery": scorecard.NOT_RUN})
    text = scorecard.headline(rows)
    assert 3 <= len(scorecard.headline_sentences(rows)) <= 5
    assert len(scorecard.headline_sentences(_rows({"theorem1": "agree"}))) == 3
    assert "Of the 9 claims, 2 reproduce in our runs (Theorem 1: closed form and Fig. 1: double descent)" in text
    assert "2 do not reproduce: Fig. 2: spike in n and Fig. 3: exponential in m" in text
    assert "not in our sources (Table 2: nonlinear projections)" in text
    assert "1 hold by construction and are not counted as agreement (Fig. 2: flat in k)" in text
    assert "Fig. 2: spike in n (agree with the paper's curve, disagree with its words)" in text
    assert "1 were not run (Algorithm 1 finds modules)" in text


def test_two_part_rows_show_both_parts_in_the_summary_table():
    (row,) = _rows({"fig2_double_descent_in_n": ("disagree", "agree")})
    line = scorecard.to_markdown([row]).splitlines()[-2]  # the last closes the table directive
    assert f"vs the paper's curve: {scorecard.badge('agree')}" in line
    assert f"vs its words: {scorecard.badge('disagree')}" in line


def test_the_sources_numbers_are_computed_from_the_digitised_tables(monkeypatch):
    text = claims.claim("fig2_double_descent_in_n").paper_text
    assert "highest 4.45 at n = 100" in text and "p = 1,153" in text  # not "peak 3.98 at n = 1e3"
    real = claims.paper_values.load_csv

    def shifted(name):
        table = real(name)
        if name == "fig2_digitised":
            table = table.assign(value=table.value * 2)
        return table
    monkeypatch.setattr(claims.paper_values, "load_csv", shifted)
    claims._fig2.cache_clear()
    try:
        assert "highest 8.90 at n = 100" in claims.claim("fig2_double_descent_in_n").paper_text
    finally:
        claims._fig2.cache_clear()
    assert "+1.6 points at k = 1, +4.8 at k = 8" in claims.claim("fig4b_kernel_vs_random").paper_text
