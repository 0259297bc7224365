"""Log archives over HTTP: the list, and each file as a download.

Analysts may download as well as admins: an archive holds the same records they can
search and export. Restoring one is for the command line (``pulseboard logs restore``).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, send_file

from app.api.errors import ApiError
from app.api.models import ArchiveName, LogArchiveList
from app.api.spec import operation
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services import log_archive as service

bp = Blueprint("log_archives", __name__, url_prefix="/api/v1/admin/logs/archives")


@bp.get("")
@roles(*READERS)
@operation(
    "Log archives (gzip NDJSON, one file per UTC day and part), newest day first",
    response=LogArchiveList,
    errors=(401, 403),
)
def list_archives():
    """Every archive with its size, record count and download url."""
    return jsonify({"items": service.list_archives(runtime())})


@bp.get("/<path:name>")
@roles(*READERS)
@operation("Download one log archive (application/gzip attachment)", errors=(400, 401, 403, 404))
def download_archive(name: ArchiveName):
    """The archive's bytes as they are on disk; audited."""
    path = service.download(
        runtime(), name, actor=current_account().name, remote_addr=request.remote_addr
    )
    if path is None:
        raise ApiError(404, "not_found", "No such archive.", {"name": "no archive of that name"})
    return send_file(path, mimetype="application/gzip", as_attachment=True, download_name=path.name)
