"""Benchmarks: each prints its figures as ratios against a baseline timed in the same run."""
