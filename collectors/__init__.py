"""Pulseboard collectors: sources of samples and the scheduler that runs them."""
