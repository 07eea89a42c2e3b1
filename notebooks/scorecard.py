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
#
# One row per claim of the paper {cite}`boopathy2025breaking` and of the essay
# {cite}`essay2022regularization`. Each row is read from the record that the chapter checking
# the claim wrote when it was executed (`modcore.scorecard.record`, glued into the executed
# notebook); nothing here is typed by hand. The verdict is the one the chapter computed, by the
# rule printed beside it. A row shows **not run** when no chapter has written a record for it
# yet, when the chapter failed, or when its record is stale: run at another git commit than
# this book's, or before the chapter's notebook was last edited. The profile says at which
# scale the chapter ran (`ci`: seconds, for tests; `default`; `paper`: the paper's ranges).

# %% tags=["parameters"]
executed_dir = None  # folder of the executed notebooks; None: book/_executed

# %%
from IPython.display import Markdown
from myst_nb import glue

from modcore import scorecard

# %%
rows = scorecard.collect(executed_dir)
counts = scorecard.count(rows)
for status, number in counts.items():
    glue(f"scorecard_{status.replace(' ', '_')}", number, display=False)
glue("scorecard_n_claims", len(rows), display=False)

# %% [markdown]
# Of {glue:text}`scorecard_n_claims` claims, {glue:text}`scorecard_agree` agree,
# {glue:text}`scorecard_partly` partly agree and {glue:text}`scorecard_disagree` disagree with our
# runs; {glue:text}`scorecard_inconclusive` are inconclusive, {glue:text}`scorecard_not_testable` not
# testable at our settings, and {glue:text}`scorecard_not_run` not run (see each row for why).

# %%
Markdown(scorecard.to_markdown(rows))
