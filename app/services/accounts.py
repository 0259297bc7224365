"""Rules for user names and passwords, shared by the CLI, the API and the pages."""

from __future__ import annotations

import re

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def validate_username(name: str) -> str:
    """Return ``name`` if it is 1-64 letters, digits or ``_.@-``; else raise ValueError."""
    if not USERNAME.fullmatch(name):
        raise ValueError("user name must be 1-64 characters: letters, digits, _ . @ -")
    return name


def validate_password(password: str) -> str:
    """Return ``password`` if its length is sensible; else raise ValueError."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password
