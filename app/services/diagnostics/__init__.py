"""Diagnostics reads, rankings and actions: one module per section of the page."""
