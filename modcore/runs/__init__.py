"""Run configurations that several chapters share."""
