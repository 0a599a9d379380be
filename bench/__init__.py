"""Benchmarks and the drop simulator (``make drop``). Speed is measured here, never in tests."""
