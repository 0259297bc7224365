"""Records for the log search API tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.logs import LogEntry

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def write_minutely(app, message: str, count: int = 25) -> None:
    """``count`` records a minute apart from ``T0``: every fifth an error, sources
    alternating api/worker, hosts web-0..2, and ``message`` formatted with ``i``."""
    app.server.extensions["pulseboard"].logs.write(
        [
            LogEntry(
                T0 + timedelta(minutes=i),
                "error" if i % 5 == 0 else "info",
                "api" if i % 2 else "worker",
                f"web-{i % 3}",
                message.format(i=i),
            )
            for i in range(count)
        ]
    )
