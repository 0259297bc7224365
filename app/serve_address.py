"""Where a running ``pulseboard serve`` listens, kept in its data dir, so that tools started
beside it (``pulseboard demo``) find it without being told."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

FILE_NAME = "serve.json"
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def url_for(host: str, port: int) -> str:
    """The URL a local client uses for a server bound to ``host:port``."""
    host = _ANY_ADDRESS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def record(data_dir: Path, host: str, port: int) -> Path:
    """Note that this process serves on ``host:port``; return the file written."""
    path = data_dir / FILE_NAME
    path.write_text(json.dumps({"url": url_for(host, port), "pid": os.getpid()}))
    return path


def forget(data_dir: Path) -> None:
    """Remove the note of this process (one written by another process stays)."""
    path = data_dir / FILE_NAME
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def running_url(data_dir: Path) -> str | None:
    """The URL of the ``pulseboard serve`` running on ``data_dir``, if one is."""
    try:
        note = json.loads((data_dir / FILE_NAME).read_text())
        pid = int(note["pid"])
        if pid <= 0:  # 0 and negatives would name process groups, not a server
            return None
        os.kill(pid, 0)  # raises when that process is gone
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(note["url"])
