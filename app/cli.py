"""The ``pulseboard`` command line."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click

from app import serve_address
from app.settings import DEFAULT_PORT, Settings, SettingsError

CLI_ACTOR = "cli"
"""Who the audit log names for changes made with this command line."""


def _settings(**overrides) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


@click.group()
def main() -> None:
    """Pulseboard: system health, live performance, logs and alerts for one service."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--threads",
    default=32,
    show_default=True,
    type=click.IntRange(2, 512),
    help="Threads answering HTTP requests (a WebSocket holds one only while it opens).",
)
def serve(host: str, port: int, threads: int) -> None:
    """Run the app, its collectors and scheduler (migrates an embedded SQLite db)."""
    from app.server import run

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    settings = _settings()
    database = f"SQLite in {settings.data_dir}" if settings.is_sqlite else "PostgreSQL"
    bus = "Redis" if settings.redis_url else "in-process"
    click.echo(
        f"Pulseboard: serving on http://{host}:{port} (database: {database}, live bus: {bus})",
        err=True,
    )
    click.echo(
        "Pulseboard: log in at /login as 'admin' (password from "
        "PULSEBOARD_ADMIN_PASSWORD, or the one printed when the user was created).",
        err=True,
    )
    serve_address.record(settings.data_dir, host, port)
    try:
        run(settings, host, port, threads)
    finally:
        serve_address.forget(settings.data_dir)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command()
def upgrade() -> None:
    """Apply every pending migration."""
    from storage.db import upgrade as run_upgrade

    settings = _settings()
    run_upgrade(settings.database_url)
    click.echo("database is up to date")


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "analyst", "ingest"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(name: str, role: str, password_stdin: bool) -> None:
    """Create user NAME with ROLE; prints a generated password unless one is piped in."""
    import secrets

    from app.auth import hash_password
    from app.services.accounts import validate_password, validate_username
    from storage.accounts import AccountStore, DuplicateUser
    from storage.db import make_engine

    settings = _settings()
    try:
        validate_username(name)
        password = (
            sys.stdin.readline().rstrip("\r\n") if password_stdin else secrets.token_urlsafe(12)
        )
        validate_password(password)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    engine = make_engine(settings.database_url)
    try:
        store = AccountStore(engine)
        account = store.add_user(name, role, hash_password(password))
        store.audit(
            "user.create",
            actor=CLI_ACTOR,
            target=name,
            details={"after": {"id": account.id, "name": name, "role": role}},
        )
    except DuplicateUser:
        raise click.ClickException(f"user {name!r} exists already") from None
    finally:
        engine.dispose()
    click.echo(f"created {role} {name!r}")
    if not password_stdin:
        click.echo(f"password: {password}")


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("name")
@click.option("--label", default="cli", show_default=True, help="What the token is for.")
def token_create(name: str, label: str) -> None:
    """Print a new API token for user NAME (shown once, stored hashed)."""
    from storage.accounts import AccountStore
    from storage.db import make_engine

    engine = make_engine(_settings().database_url)
    try:
        store = AccountStore(engine)
        found = store.credentials(name)
        if found is None:
            raise click.ClickException(f"no user {name!r}")
        token_id, value = store.create_token(found[0].id, label)
        store.audit(
            "token.create",
            actor=CLI_ACTOR,
            target=name,
            details={"token_id": token_id, "name": label},
        )
        click.echo(value)
    finally:
        engine.dispose()


@main.command()
@click.option(
    "--url",
    help=(
        "Pulseboard to feed (default: the `pulseboard serve` running on this data dir, "
        f"else http://127.0.0.1:{DEFAULT_PORT})."
    ),
)
@click.option(
    "--duration",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to run; 0 runs until Ctrl-C.",
)
@click.option(
    "--rate",
    default=50.0,
    show_default=True,
    type=click.FloatRange(0.1, 100_000),
    help="Log lines per second.",
)
@click.option(
    "--requests",
    "requests_per_second",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0, 1000),
    help="HTTP requests/s to Pulseboard's own endpoints.",
)
@click.option(
    "--incident-every",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds between incidents (bursts of errors with stack traces).",
)
@click.option("--token", help="An ingest or admin token (default: a new one of the admin user).")
@click.option("--seed", type=int, help="Random seed: the same seed sends the same logs.")
def demo(
    url: str | None,
    duration: float,
    rate: float,
    requests_per_second: float,
    incident_every: float,
    token: str | None,
    seed: int | None,
) -> None:
    """Send realistic demo logs and HTTP traffic to a running Pulseboard."""
    from contextlib import nullcontext

    from app.demo import DemoConfig, DemoError, admin_token, run

    settings = _settings()
    url = url or serve_address.running_url(settings.data_dir) or f"http://127.0.0.1:{DEFAULT_PORT}"
    click.echo(f"Pulseboard demo: feeding {url}", err=True)
    config = DemoConfig(url, duration, rate, requests_per_second, incident_every, seed)
    tokens = (
        nullcontext(token) if token else admin_token(settings.database_url, CLI_ACTOR, click.echo)
    )
    try:
        run(config, tokens, click.echo)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--once", is_flag=True, required=True, help="Run every collector one time.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def collect(once: bool, as_json: bool) -> None:
    """Run every collector once and print the samples (nothing is stored)."""
    from app import build_collectors
    from collectors.requests import RequestTimings
    from storage.db import make_engine

    settings = _settings()
    collectors = build_collectors(settings, RequestTimings(), make_engine(settings.database_url))
    # Rates need two readings: take one, wait a second, print the second.
    for collector in collectors:
        collector.collect(time.time())
    time.sleep(1.0)
    now = time.time()
    samples = [s for c in collectors for s in c.collect(now)]
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in samples], indent=2))
        return
    for s in samples:
        labels = ",".join(f'{k}="{v}"' for k, v in s.labels.items())
        click.echo(f"{s.name}{{{labels}}} {s.value:g}")


@main.group()
def logs() -> None:
    """Log retention: archives of old records."""


@logs.command("archive")
def logs_archive() -> None:
    """Archive, then delete, every whole UTC day of logs older than the retention."""
    from app.services.log_archive import archive_dir, archive_expired
    from storage.accounts import AccountStore
    from storage.db import make_engine
    from storage.log_archive import ArchiveError
    from storage.logs import LogStore

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        written = archive_expired(settings, LogStore(engine))
        if written:
            AccountStore(engine).audit(
                "logs.archive", actor=CLI_ACTOR, details={"files": [a["name"] for a in written]}
            )
    except (ArchiveError, OSError) as exc:
        raise click.ClickException(f"archiving failed, no records deleted: {exc}") from None
    finally:
        engine.dispose()
    for archive in written:
        click.echo(f"{archive['name']}: {archive['records']} records, {archive['size']} bytes")
    if not written:
        click.echo(f"no records older than {settings.log_retention_days} days to archive")
    click.echo(f"archives are in {archive_dir(settings)}")


@logs.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def logs_restore(file: Path) -> None:
    """Load the records of archive FILE back into the database (with new ids)."""
    from app.services.log_archive import restore
    from storage.accounts import AccountStore
    from storage.db import make_engine
    from storage.log_archive import ArchiveError
    from storage.logs import LogStore

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        restored = restore(settings, LogStore(engine), file)
        AccountStore(engine).audit(
            "logs.restore", actor=CLI_ACTOR, target=file.name, details=restored
        )
    except ArchiveError as exc:
        raise click.ClickException(f"not restored: {exc}") from None
    finally:
        engine.dispose()
    click.echo(
        f"restored {restored['records']} records from {file.name} "
        f"({restored['first']} to {restored['last']})"
    )
    if restored["rearchived"]:
        click.echo(
            f"note: they are older than the log retention ({settings.log_retention_days} days), "
            "so the next archive run (within the hour) moves them out again; raise "
            "PULSEBOARD_LOG_RETENTION_DAYS to keep them",
            err=True,
        )
