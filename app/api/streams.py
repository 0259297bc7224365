"""Streamed responses: a stream that fails before its first byte answers with an error in
the JSON shape; one that fails after it is aborted, so the client sees the download is
incomplete instead of a truncated file that looks whole."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator

from flask import Response, stream_with_context

from app.services.downloads import Download

log = logging.getLogger(__name__)


def attachment(download: Download) -> Response:
    """``download`` streamed as a file the browser saves under its name."""
    return Response(
        stream_with_context(started(download.chunks)),
        content_type=download.content_type,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


def started(chunks: Generator[bytes, None, None]) -> Iterator[bytes]:
    """``chunks`` with its first piece already made, so that whatever keeps the stream from
    starting raises in the view, where the API's error handling still answers it."""
    try:
        first = next(chunks)
    except StopIteration:
        return iter(())
    return _continued(first, chunks)


def _continued(first: bytes, chunks: Generator[bytes, None, None]) -> Iterator[bytes]:
    try:
        yield first
        yield from chunks
    except Exception as exc:
        # The status line is out: all that is left is to drop the connection, which the
        # server does when the body raises; the client sees an incomplete response.
        log.warning("streamed response aborted after it started: %s", exc)
        raise
    finally:
        chunks.close()  # a client gone mid-stream hands the connection back at once
