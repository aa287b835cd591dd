"""Benchmarks of the counting job on the local stack (scripts/bench, docs/benchmarks.md)."""
