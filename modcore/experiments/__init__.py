"""One module per book chapter: the runs, summaries and verdicts behind each notebook."""
