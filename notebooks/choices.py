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
# (choices-page)=
# # Choices the sources leave open
#
# The paper's full text and appendix were not available to us, and it has no released code.
# Everything below is a detail the sources do not fix (the paper's text, figures and reviews we
# could read leave it open) or a decision of ours. Each is an explicit argument or named constant in `modcore`, and where it matters a
# notebook parameter, so you can rerun any chapter with another value.
#
# Every value below is read from the code when this page is built (`modcore.chapters.choices`): the
# constant or the notebook default that the runs use, so the page cannot drift from them.

# %% tags=["parameters"]

# %% tags=["remove-cell"]
from IPython.display import Markdown

from modcore.chapters import choices

p = choices.Parameters.from_cell(globals())  # the page has no parameters; built for the same contract

# %%
Markdown(choices.table())
