"""Addresses a client can dial. A server listening on a wildcard host
(`0.0.0.0:7701`, `[::]:7701`) serves every interface, but that address is
no destination: telling a client "connect to 0.0.0.0" is wrong on most
systems and meaningless on another machine. `connectable_address` puts in
the host's address on the route to the client that asked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import unquote

__all__ = ["connectable_address", "is_wildcard", "local_ip_towards", "peer_host"]

_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})


def _split(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    return host, port


def is_wildcard(address: str) -> bool:
    """Whether `address` ("host:port") listens on every interface."""
    return _split(address)[0] in _WILDCARD_HOSTS


def peer_host(peer: str) -> str | None:
    """The IP in a gRPC peer string ("ipv4:10.0.0.5:51234", "ipv6:[::1]:51234",
    percent-encoded as "ipv6:%5B::1%5D:51234"); None for other transports."""
    kind, _, rest = unquote(peer).partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host = _split(rest)[0].strip("[]")
    return host or None


def local_ip_towards(host: str) -> str | None:
    """This machine's address on the route to `host`, or None. Connecting a
    UDP socket sends nothing; it only picks the route and so the source
    address."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((host, 9))
            local = str(s.getsockname()[0])
    except OSError:
        return None
    mapped = ipaddress.ip_address(local)
    if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped is not None:
        return str(mapped.ipv4_mapped)
    return local


def connectable_address(
    address: str,
    peer: str,
    *,
    towards: Callable[[str], str | None] = local_ip_towards,
    hostname: Callable[[], str] = socket.gethostname,
) -> str:
    """`address` as the client `peer` can dial it: a wildcard host becomes
    this machine's address towards that client (its own loopback address
    for a local client), else the host name. Any other address is returned
    as it is."""
    if not is_wildcard(address):
        return address
    port = _split(address)[1]
    client = peer_host(peer)
    host = (towards(client) if client else None) or hostname()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
