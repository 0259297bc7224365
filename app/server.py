"""``pulseboard serve``: gunicorn with threads, one worker, the app built inside it."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from app.settings import Settings


class PulseboardServer(BaseApplication):
    """Gunicorn configured in code, so ``serve`` needs no config file."""

    def __init__(self, settings: Settings, host: str, port: int, threads: int) -> None:
        self.settings = settings
        self.options = {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            # WebSockets hold a thread for as long as they are open; no request timeout.
            "timeout": 0,
            "graceful_timeout": 10,
            "accesslog": None,
            "loglevel": "warning",
        }
        super().__init__()

    def load_config(self) -> None:
        """Apply ``self.options`` to gunicorn's config."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """Build the app in the worker process (so the scheduler runs there)."""
        from app import create_app

        return create_app(self.settings).server


def run(settings: Settings, host: str, port: int, threads: int) -> None:
    """Serve until interrupted."""
    PulseboardServer(settings, host, port, threads).run()
