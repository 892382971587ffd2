"""Benchmarks: `make bench` (see bench/RESULTS.md)."""
