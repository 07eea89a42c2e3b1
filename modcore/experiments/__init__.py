"""One module per chapter: the runs, tables, claims and verdicts behind a notebook.

Modules here may import every generic layer (theory, tasks, models, train, sweeps, plots,
paper_values); no generic layer imports them. A notebook calls one function of its chapter's
module per cell.

"""
