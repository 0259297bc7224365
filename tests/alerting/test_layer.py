"""Alerting is a layer of its own: it imports ``storage`` and libraries, never the web app."""

from __future__ import annotations

import ast
from pathlib import Path

ALERTING = Path(__file__).resolve().parents[2] / "app" / "alerting"
FORBIDDEN = ("app", "collectors", "flask", "dash")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_alerting_imports_only_storage_itself_and_libraries():
    files = sorted(ALERTING.rglob("*.py"))
    assert files, "app/alerting has no modules"
    offending = {
        f"{path.relative_to(ALERTING)}: {name}"
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN and not name.startswith("app.alerting")
    }
    assert offending == set()


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("from app.api.errors import ApiError\nimport flask\n")
    assert imported_modules(module) == {"app.api.errors", "flask"}
