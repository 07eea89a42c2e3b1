"""The choices page is rendered from the code: every placeholder resolves, and a changed
default changes the page."""

import pytest

from modcore import verdicts
from modcore.chapters import choices


def test_every_placeholder_of_the_page_resolves():
    page = choices.to_markdown()
    assert choices._PLACEHOLDER.search(page) is None
    assert page.count("\n## ") + page.startswith("## ") == len(choices.SECTIONS)


def test_a_changed_constant_changes_the_page(monkeypatch):
    row = choices.Choice("agreement rule", "a gap above {modcore.verdicts:MC_AGREE_WITHIN_SE} s.e.", "x")
    section = (choices.Section("Theory", "", (row,)),)
    assert "a gap above 4 s.e." in choices.to_markdown(section)
    monkeypatch.setattr(verdicts, "MC_AGREE_WITHIN_SE", 7.5)
    assert "a gap above 7.5 s.e." in choices.to_markdown(section)


def test_a_notebook_default_is_read_from_its_parameters_cell():
    assert choices.resolve("{notebook:theorem1:n_trials}") == str(choices.notebook_defaults("theorem1")["n_trials"])


@pytest.mark.parametrize("text, error", [
    ("{notebook:theorem1:no_such_parameter}", KeyError),
    ("{modcore.chapters.theorem1:NO_SUCH_CONSTANT}", AttributeError),
])
def test_a_stale_placeholder_raises(text, error):
    with pytest.raises(error):
        choices.resolve(text)
