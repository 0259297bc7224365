"""Apprise: one URL reaches any service the ``apprise`` library knows (SMS through Twilio,
Vonage or AWS SNS, Telegram, Matrix, ntfy, …). Pulseboard hands it the title and the
plain-text body; Apprise only says yes or no, so the answer is a short text.

Apprise's generic HTTP schemes post to a host the URL names, so that host goes through
the same address check as every other channel, at save and again right before sending
(Apprise makes the connection itself, so it cannot be pinned to the checked address)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from app.alerting import templates, urls
from app.alerting.channels.base import ANSWER_CHARS, ChannelConfigError
from app.alerting.notification import Answer, DeliveryContext, Notification

if TYPE_CHECKING:
    import apprise

HTTP_SCHEMES = {
    "json": "http",
    "jsons": "https",
    "form": "http",
    "forms": "https",
    "xml": "http",
    "xmls": "https",
}
"""Apprise's schemes that POST to any host, and the web scheme each one uses."""


def plugin(url: Any) -> apprise.URLBase:
    """The Apprise service ``url`` names; ChannelConfigError naming ``url`` if none."""
    if not isinstance(url, str) or not url.strip():
        raise ChannelConfigError("url", "an Apprise URL is required")
    # Apprise and its service plugins hold a few MiB once loaded: only a server with an
    # Apprise channel needs them.
    import apprise

    service = apprise.Apprise.instantiate(url.strip())
    if service is None:
        raise ChannelConfigError("url", "not an Apprise URL (see Apprise's list of services)")
    return service


def check_host(url: str, service: apprise.URLBase, context: DeliveryContext) -> None:
    """Refuse (RefusedURL) an Apprise URL of a generic HTTP scheme whose host is not
    allowed; other schemes name a service, not a host, and pass."""
    scheme = url.partition("://")[0].lower()
    if scheme in HTTP_SCHEMES:
        host = f"[{service.host}]" if ":" in service.host else service.host
        port = f":{service.port}" if service.port else ""
        urls.check(f"{HTTP_SCHEMES[scheme]}://{host}{port}/", allow_private=context.allow_private)


class AppriseURL:
    """Hand title and body to the Apprise library."""

    kind = "apprise"

    def validate(self, config: dict[str, Any], context: DeliveryContext) -> dict[str, Any]:
        """``url``: an Apprise URL, its host checked for the generic HTTP schemes."""
        service = plugin(config.get("url"))
        url = config["url"].strip()
        try:
            check_host(url, service, context)
        except urls.RefusedURL as exc:
            raise ChannelConfigError("url", str(exc)) from exc
        return {"url": url}

    def send(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> Answer:
        """Notify through Apprise; its warnings, if any, are the answer."""
        try:
            service = plugin(config["url"])
            check_host(config["url"], service, context)
        except ChannelConfigError as exc:
            return Answer(False, None, exc.message, retry=False)
        except urls.RefusedURL as exc:
            return Answer(False, None, f"refused: {exc}", retry=exc.retry)
        service.socket_connect_timeout = service.socket_read_timeout = context.timeout
        # A redirect would lead past the host check.
        service.redirects = False
        import apprise  # loaded by plugin() already

        msg = templates.message(notification)
        sender = apprise.Apprise()
        sender.add(service)
        with apprise.LogCapture(level=logging.WARNING) as log:
            ok = sender.notify(title=msg.title, body=templates.plain_text(msg))
            said = log.getvalue().strip()
        answer = "delivered" if ok else said.splitlines()[-1] if said else "not delivered"
        return Answer(bool(ok), None, answer[:ANSWER_CHARS])
