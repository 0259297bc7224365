"""Shared pieces for dash-ag-grid tables."""

AG_THEME_MODE = "function (theme) { return theme === 'dark' ? 'dark' : 'light'; }"
"""Clientside function: the grids' colour mode (``data-ag-theme-mode``) from the theme."""
