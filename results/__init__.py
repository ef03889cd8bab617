"""The scripts behind the figures of docs/results.md, each run from the repository root as
``python -m results.NAME``, and the JSON they and the cross-validations wrote."""
