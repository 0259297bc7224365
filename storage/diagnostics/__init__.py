"""Storage of the diagnostics (migration 0007): one module per kind of record."""
