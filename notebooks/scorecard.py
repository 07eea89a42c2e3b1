# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# (sec-scorecard)=
# # Scorecard: every claim, our number, the verdict

# %% tags=["parameters"]
executed_dir = None  # folder of the executed notebooks; None: book/_executed

# %% tags=["remove-cell"]
from IPython.display import Markdown

from modcore import chapters
from modcore.chapters import scorecard

p = scorecard.Parameters.from_cell(globals())  # the same checks as `python -m modcore run`

# %% tags=["remove-cell"]
rows = scorecard.rows(p)
summary = scorecard.summary(rows)

# %% [markdown]
# **In short.**

# %% tags=["remove-input"]
Markdown(scorecard.headline(rows))

# %% tags=["remove-input"]
Markdown(scorecard.table(rows))

# %% [markdown]
# One row per claim of the paper {cite}`boopathy2025breaking` and of the essay
# {cite}`essay2022regularization`, read from the record the chapter checking it wrote when it was
# executed (`modcore.scorecard.record`); nothing here is typed by hand. The verdict is the chapter's,
# by a rule fixed before the numbers; the last column gives the deciding numbers in one line. Each
# row's full evidence (the claim, the source's number, ours with seeds and profile, the rule) is in
# the collapsed details below the table. The profile says at which scale the chapter ran (`ci`:
# seconds, for tests; `default`; `paper`: the paper's ranges).

# %% [markdown]
# **The words.** Only *agree* counts as agreement. A row with two parts is one where the paper's own
# figure, scored by the same rule, contradicts its sentence: we give our verdict against the paper's
# data and against its words. A row *not run* has no current record: the chapter was not run, failed,
# wrote no record, or ran at another commit or before its notebook was last edited.

# %% tags=["remove-input"]
Markdown(scorecard.legend())

# %% [markdown]
# Of {glue:text}`scorecard_n_claims` claims, {glue:text}`scorecard_agree` agree,
# {glue:text}`scorecard_partly` partly agree and {glue:text}`scorecard_disagree` disagree with our
# runs; {glue:text}`scorecard_inconclusive` are inconclusive, {glue:text}`scorecard_not_testable` not
# testable at our settings, {glue:text}`scorecard_not_in_sources` not testable because the claim is not
# in our sources, {glue:text}`scorecard_by_construction` hold by construction, and
# {glue:text}`scorecard_not_run` were not run.
#
# ## Each row in full

# %% tags=["remove-input"]
Markdown(scorecard.details(rows))

# %% tags=["remove-cell"]
chapters.publish(summary)
