"""Who is on the other end of a request, through the proxies we trust."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.types import Scope

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(trusted_proxies: tuple[str, ...]) -> tuple[bool, tuple[IPNetwork, ...]]:
    """(trust everyone, the trusted networks) for entries like `10.0.0.1`, `10.0.0.0/8`, `*`."""
    networks = []
    for entry in trusted_proxies:
        if entry.strip() == "*":
            return True, ()
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # a malformed entry trusts nobody
    return False, tuple(networks)


def _parse_ip(value: str) -> IPAddress | None:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, trusted: tuple[bool, tuple[IPNetwork, ...]]) -> bool:
    everyone, networks = trusted
    return everyone or any(address in network for network in networks)


@lru_cache(maxsize=4096)
def _peer(host: str, trusted_proxies: tuple[str, ...]) -> tuple[IPAddress | None, str | None, bool]:
    """The direct peer's address, as text, and whether it is a trusted proxy. Every request
    asks, from the few addresses a server's peers have (its proxies, or its clients), so the
    parsing is kept per process; the cache is bounded, so a flood of addresses only evicts."""
    address = _parse_ip(host)
    if address is None:
        return None, None, False
    return address, str(address), _is_trusted(address, _networks(trusted_proxies))


def _forwarded_for(scope: Scope) -> list[str]:
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops.extend(part for part in value.decode("latin-1").split(",") if part.strip())
    return hops


def client_ip(scope: Scope, trusted_proxies: Iterable[str]) -> str | None:
    """The client's address: the direct peer, or, when that peer is a trusted proxy, the
    nearest address in X-Forwarded-For that is not itself a trusted proxy.

    X-Forwarded-For is read right to left, since only the entries appended by our own
    proxies can be believed; anything left of the first untrusted hop is client-supplied.
    A malformed hop ends the walk at the last trustworthy address. None without a peer.
    """
    client = scope.get("client")
    if not client:
        return None
    trusted_entries = tuple(trusted_proxies)
    peer, peer_text, peer_trusted = _peer(str(client[0]), trusted_entries)
    if peer is None or not peer_trusted:
        return peer_text
    trusted = _networks(trusted_entries)
    current = peer
    for hop in reversed(_forwarded_for(scope)):
        address = _parse_ip(hop)
        if address is None:
            break
        current = address
        if not _is_trusted(current, trusted):
            break
    return str(current)
