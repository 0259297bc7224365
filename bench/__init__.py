"""Pulseboard benchmarks: ours against a raw baseline measured in the same run.

Run with ``python -m bench`` (``--quick`` for a smoke run, ``--only NAME`` to pick).
Timings are reported, never asserted.
"""
