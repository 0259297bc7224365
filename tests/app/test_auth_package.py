"""``app.auth`` is a package with one module per concern, and every name the rest of
Pulseboard uses from it is still there."""

from __future__ import annotations

import ast
from pathlib import Path

from app import auth

ROOT = Path(__file__).resolve().parents[2]


def names_used_elsewhere() -> set[str]:
    """Every name imported from ``app.auth`` or read as ``auth.<name>`` outside it."""
    used: set[str] = set()
    for folder in ("app", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(ROOT / "app" / "auth"):
                continue
            tree = ast.parse(path.read_text())
            imports_auth = False
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "app.auth":
                    used |= {alias.name for alias in node.names}
                if isinstance(node, ast.ImportFrom) and node.module == "app":
                    imports_auth |= any(alias.name == "auth" for alias in node.names)
            if imports_auth:
                used |= {
                    node.attr
                    for node in ast.walk(tree)
                    if isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "auth"
                }
    return used


def test_every_name_used_from_app_auth_is_importable_from_it():
    used = names_used_elsewhere()
    assert {"roles", "public", "callback", "hash_password", "CSRF_COOKIE"} <= used
    assert sorted(n for n in used if not hasattr(auth, n)) == []
    assert sorted(n for n in auth.__all__ if not hasattr(auth, n)) == []


def test_each_concern_has_a_module_of_its_own():
    homes = {
        auth.roles: "declarations",
        auth.callback: "declarations",
        auth.check_request: "guard",
        auth.current_account: "identity",
        auth.hash_password: "passwords",
        auth.same_token: "csrf",
        auth.content_security_policy: "csp",
        auth.login: "login",
        auth.install: "wiring",
    }
    assert {f.__name__: f.__module__ for f in homes} == {
        f.__name__: f"app.auth.{module}" for f, module in homes.items()
    }
