"""Which receiver URLs a channel may reach: http(s) only, and by default never an address
inside the server's own network (loopback, private, link-local, multicast, reserved,
unspecified, cloud metadata), so a channel cannot be turned against internal services.

A URL is checked when a channel is saved and again when it sends; a sender then connects
to the address the check resolved, so a name that changes its answer in between (DNS
rebinding) cannot slip past.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

HTTP_SCHEMES = ("http", "https")
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
"""Cloud instance-metadata endpoints (AWS/GCP/Azure, AWS over IPv6, Alibaba)."""


class RefusedURL(ValueError):
    """A URL a channel may not reach; ``retry`` says whether asking again could help."""

    retry = False


class UnresolvedHost(RefusedURL):
    """The URL's host has no address now (DNS may answer later)."""

    retry = True


@dataclass(frozen=True, slots=True)
class CheckedURL:
    """A URL that passed the check, with the addresses its host resolved to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` is inside the server's own network, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    for reason, hit in (
        ("a loopback address", address.is_loopback),
        ("an unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
        ("not a public address", not address.is_global),
    ):
        if hit:
            return reason
    return None


def check(url: str, *, allow_private: bool, schemes: tuple[str, ...] = HTTP_SCHEMES) -> CheckedURL:
    """Check that ``url`` has an allowed scheme and that every address its host resolves
    to is public (any address when ``allow_private``); raise RefusedURL saying why."""
    parts = _split(url)
    if parts.scheme not in schemes:
        raise RefusedURL(f"the scheme must be {' or '.join(schemes)}")
    host = parts.hostname
    if not host:
        raise RefusedURL("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme.endswith("s") else 80)
    except ValueError as exc:
        raise RefusedURL("the URL's port is not a number from 0 to 65535") from exc
    addresses = resolve(host, port)
    if not allow_private:
        for address in addresses:
            reason = blocked_reason(ipaddress.ip_address(address))
            if reason:
                raise RefusedURL(
                    f"{host} resolves to {address}, {reason}; "
                    "set PULSEBOARD_WEBHOOK_ALLOW_PRIVATE=1 to allow it"
                )
    return CheckedURL(url.strip(), parts.scheme, host, port, addresses)


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to for a TCP connection, in resolver order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvedHost(f"{host} does not resolve") from exc
    # An IPv6 answer may carry a scope ("fe80::1%eth0"); the address is what is judged.
    return tuple(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def _split(url: str) -> SplitResult:
    if not isinstance(url, str) or not url.strip():
        raise RefusedURL("a URL is required")
    try:
        return urlsplit(url.strip())
    except ValueError as exc:
        raise RefusedURL(f"not a URL: {exc}") from exc
