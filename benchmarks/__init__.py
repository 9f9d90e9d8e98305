"""Benchmarks (``make bench``): wall time and peak memory of persona-kit steps on real data. Not tests."""
