"""One module per chapter: the experiments that the notebooks narrate (may import every generic layer)."""
