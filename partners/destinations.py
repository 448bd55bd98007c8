"""Where the portal may send a webhook: public addresses only (no SSRF).

A partner's endpoint is typed in by an administrator, so it could name the portal's own
Redis, a cloud metadata service or any internal page. The URL is checked when it is saved
and again, against the address it resolves to, at every send: the request then goes to
exactly the address that was checked (DNS rebinding cannot swap it in between). Loopback,
private, link-local, shared, reserved and multicast addresses are refused unless the host
is listed in WEBHOOK_ALLOWED_PRIVATE_HOSTS (the local demo's own receiver, by its path; test
receivers).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MSG_SCHEME = "A webhook endpoint must be an https:// URL."
MSG_PRIVATE = (
    "That endpoint resolves to a private, loopback or link-local address ({address}): "
    "the portal only calls public addresses."
)
MSG_UNRESOLVED = "The endpoint's host name could not be resolved: check it, or try again later."
MSG_MALFORMED = "Enter a full URL such as https://partner.example/hooks/caisi."


class UnsafeDestination(Exception):
    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.message, self.transient = message, transient


@dataclass(frozen=True)
class Destination:
    """A checked endpoint: the URL to connect to (by address), and the name it answers to."""

    connect_url: str
    host_header: str
    tls_name: str | None


def _allowed_private(host: str, port: int, path: str) -> bool:
    """Whether this private host (and path) is listed. An entry is "host", "host:port", or
    either followed by a path prefix ("127.0.0.1:8000/partners/demo-inbox/"): the demo's own
    receiver is listed with its path, so a webhook can never be aimed at the portal's other pages."""
    host = host.lower()
    for entry in settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS:
        entry = entry.strip().lower()
        where, slash, prefix = entry.partition("/")
        if where not in (host, f"{host}:{port}"):
            continue
        if not slash or (path.startswith(f"/{prefix}") and ".." not in path.split("/")):
            return True
    return False


# IPv6 forms that carry an IPv4 address a network may translate and deliver to: NAT64 (the
# well-known and the local-use prefix) and the deprecated IPv4-compatible form (::a.b.c.d).
# Python counts some of them "global" whatever IPv4 address they carry (::7f00:1 is 127.0.0.1).
_EMBEDS_IPV4 = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::/96"),
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:  # 2002:a.b.c.d::/48
        return ip.sixtofour
    if ip.teredo:  # (server, client): the client is the host reached
        return ip.teredo[1]
    if any(ip in network for network in _EMBEDS_IPV4):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str) -> bool:
    """A global unicast address, judged by the IPv4 address an IPv6 form leads to."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            # Judged by the IPv4 address it leads to (a public one embedded in NAT64 is fine).
            ip = embedded
    return ip.is_global and not ip.is_multicast


def check(url: str, *, resolve=None) -> Destination:
    """The destination to connect to for `url`, or UnsafeDestination saying why not."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeDestination(MSG_MALFORMED) from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise UnsafeDestination(MSG_MALFORMED)
    private_ok = _allowed_private(host, port, parts.path or "/")
    if parts.scheme != "https" and not (settings.DEBUG or private_ok):
        raise UnsafeDestination(MSG_SCHEME)
    try:
        infos = (resolve or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise UnsafeDestination(MSG_UNRESOLVED, transient=True) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeDestination(MSG_UNRESOLVED, transient=True)
    if not private_ok:
        for address in addresses:
            if not is_public_address(address):
                raise UnsafeDestination(MSG_PRIVATE.format(address=address))
    chosen = addresses[0]
    literal = f"[{chosen}]" if ":" in chosen else chosen
    connect = parts._replace(netloc=f"{literal}:{port}").geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Destination(connect, host_header, host if parts.scheme == "https" else None)


def problem(url: str) -> str | None:
    """Why this URL may not be saved as an endpoint (None when it may)."""
    if not url:
        return None
    try:
        check(url)
    except UnsafeDestination as exc:
        return exc.message
    return None
