"""Benchmarks run by `make bench`: each `bench_*.py` module exposes `run() -> None` and prints
ratios measured side by side in the same run (shared machines are noisy; absolute times lie)."""
