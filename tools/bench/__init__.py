"""Benchmarks of the counting job on the local stack (scripts/bench, BENCHMARKS.md)."""
