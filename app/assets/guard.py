"""Which addresses the gateway may fetch assets from: public unicast only.

An asset URL comes from a client, so fetching it must not reach the gateway's own network
(metadata services, databases, admin ports). Every address a host resolves to is checked, the
forms that embed an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by the address they carry,
and the fetch then connects to an address that passed, so a second DNS answer cannot swap it.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from app.assets.errors import AssetAddressBlocked, AssetDnsFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")

# Checked in this order, so an address is named by its most specific class (127.0.0.1 is
# "loopback", not "private").
_RULES: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("unspecified", lambda a: a.is_unspecified),
    ("loopback", lambda a: a.is_loopback),
    ("link_local", lambda a: a.is_link_local),
    ("multicast", lambda a: a.is_multicast),
    ("reserved", lambda a: a.is_reserved),
    ("private", lambda a: a.is_private),
    ("site_local", lambda a: isinstance(a, ipaddress.IPv6Address) and a.is_site_local),
    ("non_global", lambda a: not a.is_global),
)


def embedded_ipv4(address: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 form carries, with the form's name."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return "ipv4_mapped", address.ipv4_mapped
    if address in NAT64:
        return "nat64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    return None


def blocked_rule(address: IPAddress) -> str | None:
    """The class that makes `address` unfit to fetch from, or None for a public address."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        form, inner = embedded
        rule = blocked_rule(inner)
        return f"{form}:{rule}" if rule else None
    for name, applies in _RULES:
        if applies(address):
            return name
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses, plus the networks in `allowed` (the sandbox's exemption; empty for live
    clients)."""

    allowed: tuple[IPNetwork, ...] = ()

    def rule_against(self, address: IPAddress) -> str | None:
        if any(_within(address, network) for network in self.allowed):
            return None
        return blocked_rule(address)


def _within(address: IPAddress, network: IPNetwork) -> bool:
    embedded = embedded_ipv4(address)
    if embedded is not None and embedded[1].version == network.version:
        return embedded[1] in network
    return address.version == network.version and address in network


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host`, in its order, without repeats."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise AssetDnsFailed(host, error.strerror or str(error)) from error
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def checked_addresses(
    host: str, port: int, policy: AddressPolicy, resolver: Resolver
) -> Sequence[IPAddress]:
    """The addresses to connect to: all that `host` resolves to, refused as a whole when any of
    them is blocked (a host that also points inside is not one to fetch from)."""
    addresses = await resolver(host, port)
    if not addresses:
        raise AssetDnsFailed(host, "no address")
    for address in addresses:
        rule = policy.rule_against(address)
        if rule is not None:
            raise AssetAddressBlocked(host, str(address), rule)
    return addresses
