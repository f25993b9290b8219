"""The speed harness of issue #12: ``python -m benchmarks`` (see docs/benchmarks.md)."""
