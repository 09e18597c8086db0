"""Benchmarks with budgets (issue #7): ``python -m bench`` / ``make bench``. Loopback only; see docs/PERFORMANCE.md."""
