"""The benchmark harness behind `make bench` (see bench/run.py and BENCHMARKS.md)."""
