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
# (sec-execution-stats)=
# # Execution statistics
#
# How each chapter of this build was executed: the profile it ran at, its wall time (kernel
# start included), the device, the git commit and the package versions. Every value is read
# from the provenance that `python -m modcore run` wrote into the chapter's executed notebook
# (the "Provenance" section at the end of each page); nothing here is typed by hand. `run all`
# executes this page last, so the scorecard's own run is listed too; this page's own
# provenance is at its end. {doc}`../reproducing` says how to rerun any chapter.

# %% tags=["parameters"]
executed_dir = None  # folder of the executed notebooks; None: book/_executed

# %% tags=["remove-cell"]
from IPython.display import Markdown

from modcore import chapters
from modcore.chapters import execution_stats

p = execution_stats.Parameters.from_cell(globals())  # the same checks as `python -m modcore run`

# %% tags=["remove-cell"]
runs = execution_stats.runs(p)
chapters.publish(execution_stats.summary(runs))

# %% [markdown]
# {glue:text}`stats_n_executed` of the {glue:text}`stats_n_chapters` chapters have an executed
# notebook with provenance; {glue:text}`stats_n_not_executed` do not.
# {glue:text}`stats_consistency`
#
# ## Chapters

# %% tags=["remove-input"]
Markdown(execution_stats.runs_table(runs))

# %% [markdown]
# ## Package versions
#
# The versions of the packages behind the numbers and the pages, as each chapter recorded
# them; a package that differs between chapters lists each version with how many chapters
# ran with it.

# %% tags=["remove-input"]
Markdown(execution_stats.versions_table(runs))
