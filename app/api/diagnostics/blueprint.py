"""The blueprint every diagnostics route module adds its routes to."""

from flask import Blueprint

bp = Blueprint("diagnostics", __name__, url_prefix="/api/v1/admin")
