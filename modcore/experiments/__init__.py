"""One module per chapter: the runs, tables, claims and verdicts behind a notebook.

Modules here may import every generic layer (theory, tasks, models, train, sweeps, plots,
paper_values); no generic layer imports them. A notebook calls one function of its chapter's
module per cell.

- :mod:`~modcore.experiments.sine_networks`: one network run on the sine task, and
  Theorem 1 fitted to runs (used by the Fig. 2 and optimisation-gap chapters).
- :mod:`~modcore.experiments.fig2`: the Fig. 2 chapter (``notebooks/nn_vs_theory.py``).
- :mod:`~modcore.experiments.optimisation_gap`: the optimisation-gap chapter
  (``notebooks/optimisation_gap.py``).
"""
