"""Scripts that print speed figures, each run from the repository root as ``python -m benchmarks.NAME``."""
