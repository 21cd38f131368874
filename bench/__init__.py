"""Benchmarks: swimlib side by side with Go memberlist and the Python alternatives.

Run ``python3 -m bench`` (see bench/README.md). Kept import-light: node runners import it.
"""
