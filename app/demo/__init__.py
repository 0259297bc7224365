"""``pulseboard demo``: realistic logs and HTTP traffic sent to a running Pulseboard.

A client of Pulseboard, not a part of the console: nothing the server runs imports it.
Everything goes through the real paths (``POST /api/v1/logs``, GETs of the API), so every
page has data. ``shop`` makes the logs, ``sender`` sends them, ``token`` lends the demo an
admin's API token when none is given.
"""

from app.demo.sender import DemoConfig, DemoError, DemoStats, check_url, run
from app.demo.shop import DemoLogs
from app.demo.token import admin_token

__all__ = ["DemoConfig", "DemoError", "DemoLogs", "DemoStats", "admin_token", "check_url", "run"]
