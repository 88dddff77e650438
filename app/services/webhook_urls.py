"""Where a webhook may be posted: only to public addresses (server-side request forgery).

A subscription's URL is resolved and each of its addresses checked when it is set, and
again by the dispatcher before each delivery (a name may point elsewhere by then): the
dispatcher connects only to an address `check_url` answered. Refused: private, loopback,
link-local, multicast, reserved, unspecified and shared addresses, the cloud metadata
endpoints, and the same behind an IPv4-mapped, 6to4 or NAT64 IPv6 address.
WEBHOOK_ALLOW_LOOPBACK lets loopback through, for development and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as ResolutionTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.core.config import get_settings
from app.core.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
"""The cloud instance metadata endpoints (AWS, GCP, Azure, OpenStack; AWS over IPv6)."""
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# getaddrinfo has no timeout of its own: it runs on these threads, and is waited for only
# WEBHOOK_DNS_TIMEOUT_SECONDS (a resolver that hangs holds one thread, not the request).
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


class UnsafeUrl(InvalidInput):
    """A webhook URL whose host resolves to an address the service does not post to."""

    code = "unsafe_url"
    title = "Unsafe webhook URL"


@dataclass(frozen=True)
class CheckedUrl:
    """A URL whose host resolved to public addresses only: the addresses to connect to."""

    url: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def _embedded(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, 6to4, NAT64), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address


def refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why the service does not post to `address`, or None when it may."""
    plain = _embedded(address)
    if address in METADATA or plain in METADATA:
        return "the cloud metadata address"
    if plain.is_loopback:
        return None if allow_loopback else "a loopback address"
    checks = (
        ("unspecified", plain.is_unspecified),
        ("link-local", plain.is_link_local),
        ("multicast", plain.is_multicast),
        ("reserved", plain.is_reserved),
        ("private", plain.is_private),
    )
    for name, refused in checks:
        if refused:
            return f"a {name} address"
    if not plain.is_global:
        return "not a public address"
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """The addresses `host` resolves to, waited for at most `timeout` seconds (422 when it
    does not resolve in time, or at all)."""
    try:
        return _resolver.submit(_resolve, host, port).result(timeout=timeout)
    except ResolutionTimeout as error:
        raise UnsafeUrl(f"{host} did not resolve within {timeout:g} s", field="url") from error
    except (OSError, UnicodeError, ValueError) as error:
        raise UnsafeUrl(f"{host} does not resolve ({error})", field="url") from error


def check_url(url: str, *, allow_loopback: bool | None = None) -> CheckedUrl:
    """The URL's host resolved, every address checked; 422 `unsafe_url` naming the first
    address refused. What the dispatcher calls again before each delivery, connecting only
    to the addresses answered."""
    settings = get_settings()
    if allow_loopback is None:
        allow_loopback = settings.webhook_allow_loopback
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("The URL names no host", field="url")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port, settings.webhook_dns_timeout_seconds)
    if not addresses:
        raise UnsafeUrl(f"{host} resolves to no address", field="url")
    for address in addresses:
        reason = refusal(address, allow_loopback=allow_loopback)
        if reason is not None:
            raise UnsafeUrl(
                f"{host} resolves to {address}, {reason}: webhooks are posted to public "
                "addresses only",
                field="url",
                address=str(address),
            )
    return CheckedUrl(url, host, port, tuple(addresses))
