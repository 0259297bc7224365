"""The ``pulseboard`` command line, run as users run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from app.auth import verify_password
from storage.accounts import AccountStore, token_digest

PULSEBOARD = str(Path(sys.executable).parent / "pulseboard")


def run(
    tmp_path: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PULSEBOARD_DATA_DIR": str(tmp_path), **env}
    return subprocess.run(
        [PULSEBOARD, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


@pytest.fixture
def sqlite_env(tmp_path):
    """A migrated embedded database in a fresh data dir."""
    result = run(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_db_upgrade_creates_every_table(sqlite_env):
    engine = create_engine(f"sqlite:///{sqlite_env / 'pulseboard.db'}")
    tables = set(inspect(engine).get_table_names())
    assert {
        "metric_samples",
        "metric_series",
        "metric_rollups",
        "log_records",
        "users",
        "api_tokens",
        "audit_log",
        "alembic_version",
    } <= tables


def test_collect_once_json_prints_one_run_of_samples(tmp_path):
    result = run(tmp_path, "collect", "--once", "--json")
    assert result.returncode == 0, result.stderr
    samples = json.loads(result.stdout)
    names = {s["name"] for s in samples}
    assert {
        "system_cpu_usage_percent",
        "system_memory_used_bytes",
        "system_disk_used_percent",
        "system_network_receive_bytes_per_second",
        "system_uptime_seconds",
    } <= names
    assert all(set(s) == {"ts", "host", "name", "labels", "value"} for s in samples)
    assert not (tmp_path / "pulseboard.db").exists()  # collect stores nothing


def test_user_add_with_password_from_stdin_then_token_create(sqlite_env):
    result = run(
        sqlite_env,
        "user",
        "add",
        "ana",
        "--role",
        "analyst",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert result.returncode == 0, result.stderr
    assert "correct horse" not in result.stdout + result.stderr
    store = AccountStore(create_engine(f"sqlite:///{sqlite_env / 'pulseboard.db'}"))
    account, password_hash = store.credentials("ana")
    assert account.role == "analyst"
    assert verify_password(password_hash, "correct horse battery")

    token = run(sqlite_env, "token", "create", "ana")
    assert token.returncode == 0, token.stderr
    value = token.stdout.strip()
    assert store.account_for_token(value).name == "ana"
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM api_tokens").scalar_one()
    assert stored == token_digest(value) != value
    actions = [r.action for r in store.list_audit(actor="cli")]
    assert actions == ["token.create", "user.create"]
    assert all(value not in str(r.details) for r in store.list_audit())


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["user", "add", "x", "--role", "root"], None, "Invalid value for '--role'"),
        (["user", "add", "<script>", "--role", "admin"], None, "user name must be"),
        (["user", "add", "a" * 200, "--role", "admin"], None, "user name must be"),
        (
            ["user", "add", "bob", "--role", "admin", "--password-stdin"],
            "short\n",
            "password must be",
        ),
        (["token", "create", "nobody"], None, "no user 'nobody'"),
    ],
)
def test_bad_cli_input_is_refused_with_a_clear_message(sqlite_env, args, stdin, message):
    result = run(sqlite_env, *args, stdin=stdin)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_duplicate_user_is_refused(sqlite_env):
    assert run(sqlite_env, "user", "add", "dup", "--role", "admin").returncode == 0
    again = run(sqlite_env, "user", "add", "dup", "--role", "admin")
    assert again.returncode == 1 and "exists already" in again.stderr


def test_a_bad_interval_in_the_environment_is_a_usage_error(tmp_path):
    result = run(tmp_path, "collect", "--once", PULSEBOARD_COLLECT_INTERVAL="0")
    assert result.returncode == 2
    assert "PULSEBOARD_COLLECT_INTERVAL must be between 1 and 3600" in result.stderr
