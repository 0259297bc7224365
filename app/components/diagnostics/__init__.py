"""Layout pieces of the Diagnostics page, one module per section."""
