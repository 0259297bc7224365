"""Where the test session finds PostgreSQL and Redis, and throwaway servers of both."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import make_url

IN_CI = os.environ.get("CI", "").lower() == "true"


def pg_admin_url() -> str:
    """URL of a database on the test server that may create and drop databases."""
    url = os.environ.get(
        "PULSEBOARD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def redis_url() -> str:
    """URL of the test Redis server."""
    return os.environ.get("PULSEBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(what: str, why: object) -> None:
    """Fail in CI (a missing service is a broken run there), skip elsewhere."""
    message = f"{what} is not reachable: {why}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayRedis:
    """A redis-server of the test's own on a free port, which a test may stop and restart."""

    def __init__(self, workdir: Path, *arguments: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server binary", "not installed")
        self.binary = binary
        self.workdir = workdir
        self.arguments = arguments
        """Server arguments (``--name value``) added at every start."""
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *self.arguments,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("throwaway redis-server did not start")

    def stop(self) -> None:
        """Kill the server (as a crash would)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own (``initdb`` as ``postgres`` on a free port),
    which a test may stop (as a crash would) and start again on the same port and data."""

    def __init__(self, *settings: str) -> None:
        self.settings = settings
        """Server settings (``name=value``) passed as ``-c`` options at every start."""
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            unavailable("PostgreSQL server binaries", "initdb not installed")
        self.bin = found[-1].parent
        # Not under pytest's tmp_path: that is private to root, and initdb refuses to run
        # as root, so the cluster lives in a directory the postgres user owns.
        self.workdir = Path(tempfile.mkdtemp(prefix="pulseboard-pg-"))
        self.datadir = self.workdir / "data"
        self.port = free_port()
        self.datadir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
            shutil.chown(self.datadir, "postgres")
        self._as_postgres("initdb", "-D", str(self.datadir), "-A", "trust", "-U", "postgres")

    def _as_postgres(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the cluster's ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1"
        options += "".join(f" -c {setting}" for setting in self.settings)
        self._as_postgres(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-w",
            "-l",
            str(self.datadir / "log"),
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        """Stop the server at once, dropping every connection (``-m immediate``)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._as_postgres("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        """Stop the server and delete the cluster."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def database_name_from(url: str) -> str:
    """The database part of a SQLAlchemy URL."""
    return make_url(url).database or ""


class TcpProxy:
    """Forwards a local port to a server; ``cut()`` is the server going away, ``restore()``
    its return. Lets a test take "the database" down without touching the shared server.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        import threading

        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    def start(self) -> None:
        """Accept connections and forward them."""
        import threading

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # listener closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        """Accept connections again on the same port."""
        self.start()


DIAGNOSTIC_REDIS = (
    "--enable-debug-command",
    "yes",
    "--slowlog-log-slower-than",
    "0",
    "--latency-monitor-threshold",
    "10",
)
"""Arguments of a throwaway Redis for diagnostics tests: DEBUG allowed (the shared server may
refuse it), every command in SLOWLOG, latency events from 10 ms."""
