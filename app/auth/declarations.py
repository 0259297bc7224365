"""Who may use what: the roles each view and Dash callback declares, and how to look them up.

Every Flask view must declare its roles with ``@roles(...)`` (or ``@public``); Dash's own
routes get theirs from ``DASH_ROUTE_ROLES``; callbacks register through ``callback``. What
declares nothing is refused by the guard, so a route added later is closed until someone
decides who may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask

F = TypeVar("F", bound=Callable)

ROLES_ATTR = "_pulseboard_roles"
PUBLIC = "public"
READERS = ("admin", "analyst")
CALLBACK_ROLES = "pulseboard.callback_roles"
DASH_APP = "pulseboard.dash"

# Dash registers these itself; static bundles are public, everything with data is not.
DASH_ROUTE_ROLES: dict[str, tuple[str, ...]] = {
    "_dash_assets.static": (PUBLIC,),
    "static": (PUBLIC,),
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": (PUBLIC,),
    "/_favicon.ico": (PUBLIC,),
    "/_dash-layout": READERS,
    "/_dash-dependencies": READERS,
    "/_dash-update-component": READERS,
    "/_reload-hash": READERS,
    "/": READERS,
    "/<path:path>": READERS,
}


def roles(*allowed: str) -> Callable[[F], F]:
    """Declare which roles may call a view."""

    def mark(view: F) -> F:
        setattr(view, ROLES_ATTR, tuple(allowed))
        return view

    return mark


def public(view: F) -> F:
    """Declare a view open to anyone."""
    return roles(PUBLIC)(view)


def declared_roles(app: Flask, endpoint: str | None) -> tuple[str, ...] | None:
    """The roles declared for ``endpoint``, or None when it declares none."""
    if endpoint is None:
        return None
    declared = getattr(app.view_functions.get(endpoint), ROLES_ATTR, None)
    return declared if declared is not None else DASH_ROUTE_ROLES.get(endpoint)


def callback(app, *dependencies, roles: tuple[str, ...], **kwargs) -> Callable[[F], F]:
    """``app.callback`` with the roles that may trigger it, checked on the server.

    A callback registered any other way has no roles and every call to it is refused.
    """

    def register(fn: F) -> F:
        before = set(app.callback_map)
        wrapped = app.callback(*dependencies, **kwargs)(fn)
        registry = app.server.extensions.setdefault(CALLBACK_ROLES, {})
        for output in set(app.callback_map) - before:
            registry[output] = tuple(roles)
        return wrapped

    return register


def callback_roles(app: Flask, output: str) -> tuple[str, ...] | None:
    """The roles declared for the callback writing ``output``, or None.

    Dash's own page-routing callback (outputs ``_pages_*``) serves any console reader.
    """
    declared = app.extensions.get(CALLBACK_ROLES, {}).get(output)
    dash_app = app.extensions.get(DASH_APP)
    if (
        declared is None
        and dash_app is not None
        and output in dash_app.callback_map
        and all(
            part.rsplit(".", 1)[0].startswith("_pages_") for part in output.strip(".").split("...")
        )
    ):
        return READERS
    return declared
