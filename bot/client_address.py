"""Whose request this is: the address a per-client limit is keyed on.

A client can write anything in `X-Forwarded-For`, so the header is believed only when the
connection comes from one of the operator's own proxies (`TRUSTED_PROXIES`); then the
client is the rightmost address in it that is not one of those proxies (every proxy
appends the address it was connected from, so the entries left of that are the client's
own words). Otherwise the client is the peer of the connection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Union

from aiohttp import web

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def parse_proxies(setting: str) -> tuple[Network, ...]:
    """"10.0.0.1, 10.1.0.0/16, ::1" → networks; a bad entry is a ValueError naming it."""
    networks = []
    for entry in (e.strip() for e in setting.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as error:
                raise ValueError(f"{entry!r} is not an IP address or network") from error
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:8080"
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket is the same client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address, proxies: Iterable[Network]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def resolve(peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """The client's address from the peer and the X-Forwarded-For headers (pure)."""
    address = _address(peer or "")
    if address is None:
        return peer or "unknown"
    if not _trusted(address, proxies):
        return str(address)
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        forwarded = _address(hop)
        if forwarded is None:
            # Garbage where a proxy's entry should be: trust stops at the last good hop.
            return str(address)
        if not _trusted(forwarded, proxies):
            return str(forwarded)
        address = forwarded
    return str(address)


def client_address(request: web.BaseRequest, trusted_proxies: Sequence[Network] | str) -> str:
    proxies = parse_proxies(trusted_proxies) if isinstance(trusted_proxies, str) else trusted_proxies
    return resolve(request.remote, request.headers.getall("X-Forwarded-For", []), proxies)
