"""Who is on the other end of a request: the peer's address, or, when the peer is one of
our own reverse proxies, the address that proxy says it was talking to.

X-Forwarded-For is written by whoever sends the request, so it is believed only from
peers in TRUSTED_PROXIES; each trusted proxy appends the address it saw, so the list is
read from the right and the first address that is not a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(text: str) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges; ValueError names a bad one."""
    networks = []
    for part in text.split(","):
        part = part.strip()
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: {part!r} is not an IP address or CIDR range") from None
    return tuple(networks)


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(request: web.Request, trusted_proxies: Sequence[Network]) -> str:
    peer = request.remote or ""
    if not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", ()) for hop in value.split(",")]
    for hop in reversed(hops):
        try:
            address = str(ipaddress.ip_address(hop))
        except ValueError:
            # A hop we cannot read: nothing to its left can be trusted either.
            return peer
        if not _trusted(address, trusted_proxies):
            return address
    return peer
