"""Where a request comes from: the peer address, or — when the peer is one of our own proxies
(GATEWAY_TRUSTED_PROXIES) — the client address that proxy put in X-Forwarded-For. Used for the
audit log and failed-authentication throttling, so a header a client writes itself is never
believed: only hops added by trusted proxies are read, from the right."""

import ipaddress
from collections.abc import Sequence
from typing import Any

from pydantic import IPvAnyNetwork

_CACHED = "source_address"
_FORWARDED_FOR = b"x-forwarded-for"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def source_address(scope: Any) -> str | None:
    """The request's source address (computed once per request)."""
    state = scope.setdefault("state", {})
    if _CACHED not in state:
        peer = scope.get("client")
        trusted = scope["app"].state.services.settings.trusted_proxies
        state[_CACHED] = resolve(peer[0] if peer else None, _forwarded_for(scope), trusted)
    cached: str | None = state[_CACHED]
    return cached


def resolve(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPvAnyNetwork]
) -> str | None:
    """Walk back from the peer through trusted proxies: the first hop that is not one of them
    is the client. A hop that is not an address ends the walk at the last good one."""
    current = _address(peer)
    if current is None or not trusted:
        return peer
    for hop in reversed(forwarded_for):
        if not _is_trusted(current, trusted):
            break
        previous = _address(hop)
        if previous is None:
            break
        current = previous
    return str(current)


def _forwarded_for(scope: Any) -> list[str]:
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == _FORWARDED_FOR:
            hops.extend(part.strip() for part in value.decode("latin-1").split(","))
    return [hop for hop in hops if hop]


def _address(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_trusted(address: IPAddress, trusted: Sequence[IPvAnyNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)
