"""The SSRF guard of webhook URLs: in production only `https`, and never an address of the club's own network
(loopback, private, link-local, multicast, reserved). `VIPCLUB_WEBHOOK_ALLOW_HTTP` / `VIPCLUB_WEBHOOK_ALLOW_PRIVATE`
(default: DJANGO_DEBUG) open them for development and tests. The host is resolved and every address is checked, when an
endpoint is saved and again before each round of sending (a name may be re-pointed)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeUrl(ValueError):
    pass


def _blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast or address.is_reserved


def check_url(url: str, *, resolve=socket.getaddrinfo) -> None:
    """Raise UnsafeUrl (with the reason) for a URL the club must not call."""
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.VIPCLUB_WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl(f"Only {' or '.join(allowed)} URLs are allowed.")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeUrl("The URL must not carry credentials.")
    if settings.VIPCLUB_WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        infos = resolve(host, parts.port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"The host {host} does not resolve.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if _blocked(address):
            raise UnsafeUrl(f"The host {host} resolves to {address}, a loopback, private or reserved address.")
