"""How often a login may be tried: pure rules, no I/O (the counts live in the
`login_throttle` table, bot/storage/throttle.py).

A lockout per account lets anyone keep a colleague out by typing wrong passwords under
their name. Here failures count per (client address, name) and per client address
instead: a guesser slows only themselves, with delays that double after a few free
tries, while the account's owner, from their own address, logs in as usual. Every refusal
reads the same whether the name exists or not.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Backoff:
    free: int  # failures before the first wait
    base_seconds: float  # the first wait; each further failure doubles it
    cap_seconds: float
    forget_after: timedelta  # failures this old no longer count

    def wait(self, failures: int, last_failure_at: datetime | None, now: datetime) -> float:
        """Seconds before the next attempt may be checked (0: now)."""
        if last_failure_at is None or failures < self.free or now - last_failure_at >= self.forget_after:
            return 0.0
        delay = min(self.cap_seconds, self.base_seconds * 2 ** min(failures - self.free, 32))
        return max(0.0, (last_failure_at + timedelta(seconds=delay) - now).total_seconds())


# One person mistyping: three tries free, then 2 s, 4 s, 8 s ... up to 10 minutes.
PAIR = Backoff(free=3, base_seconds=2.0, cap_seconds=600.0, forget_after=timedelta(hours=1))
# One address trying many names (or a shared office address): a wider budget, same growth.
ADDRESS = Backoff(free=20, base_seconds=2.0, cap_seconds=600.0, forget_after=timedelta(hours=1))
FORGET_AFTER = max(PAIR.forget_after, ADDRESS.forget_after)


def too_many_attempts(seconds: float) -> str:
    return f"too many attempts, try again in {max(1, math.ceil(seconds))} s"


def address_scope(address: str) -> str:
    """IPv6 hands a customer a /64 of their own: count the network, not each address in it."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def address_key(address: str) -> str:
    return hashlib.sha256(f"address\n{address_scope(address)}".encode()).hexdigest()


def pair_key(address: str, name: str) -> str:
    return hashlib.sha256(f"pair\n{address_scope(address)}\n{name}".encode()).hexdigest()
