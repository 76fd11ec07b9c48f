"""The host group a peer counts against (``sdex.gossip.peers``' per-host bound): what one
operator cannot cheaply hold many of, however a URL spells or names it."""

from __future__ import annotations

import ipaddress
import re
import socket

import yarl

LOOPBACK = "loopback"
IPV6_GROUP_BITS = 32
"""An IPv6 host group's prefix (peer30; Bitcoin Core's netgroup). It was /64: a home's /56 was
256 groups and a tunnel broker's free /48 65,536, each with ``MAX_PER_HOST`` slots. A /32 is
the smallest block a registry allocates to an ISP or hosting provider, so 8 groups (a full
table's least) take 8 providers, as an IPv4 /24 takes a block of addresses. The cost: honest
peers behind one ISP's or cloud's /32 share 8 slots, the rest of the table then holds peers
of other networks (``GossipConfig.peers_per_host`` raises it)."""


def host_group(url: str) -> str:
    """The host a peer's URL counts against (``MAX_PER_HOST``): an IPv4 address's /24, an
    IPv6 address's /32 (``IPV6_GROUP_BITS``; one that carries an IPv4 address, IPv4-mapped,
    6to4, Teredo or NAT64, as that IPv4 address), ``LOOPBACK`` for any loopback address
    or ``localhost``, a DNS name by its last two labels (``a.x.example`` and ``b.x.example``
    are one: a wildcard record is free to make; no name is resolved here). The host is read
    as the node dials it (review29): yarl's IDNA form (full-width letters folded, U+3002 a
    dot), and an IPv4 address in a form ``inet_aton`` takes (``0xa.1.2.0x03``: aiohttp
    dials the hex ones) as that address, so no spelling makes one host many groups."""
    try:
        host = (yarl.URL(url).raw_host or "").rstrip(".").lower()
    except (ValueError, IndexError):  # (yarl on ``http://[]@``: IndexError, review31)
        return url
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:  # (only ASCII digits, x and hex letters and dots reach inet_aton)
            numeric = _NUMERIC_HOST.fullmatch(host) is not None
            ip = ipaddress.IPv4Address(socket.inet_aton(host) if numeric else b"")
        except (OSError, ValueError):
            if host == "localhost" or host.endswith(".localhost"):
                return LOOPBACK
            return ".".join(host.split(".")[-2:])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # (a dual-stack socket's IPv4 peer: loopback included)
        else:
            carried = _carried_ipv4(ip)
            if carried is not None and not carried.is_loopback:
                ip = carried
    if ip.is_loopback:
        return LOOPBACK
    bits = 24 if ip.version == 4 else IPV6_GROUP_BITS
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _carried_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one is a tunnel or translation of (6to4, Teredo's client,
    the well-known NAT64 prefix), else None."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def url_of_ip(address: str) -> str:
    """A URL whose host is the IP ``address`` (a connection's peer: review29, a name is
    free to make, and free wildcard services resolve names under theirs to any address)."""
    return f"http://[{address}]" if ":" in address else f"http://{address}"


def source_group(address: str | None) -> str:
    """The host group of a client address (a request's or an answer's peer, "" or None if
    not known: the simulator has none), "" if not known: what a candidate's introduction
    counts against (``sdex.gossip.candidates``)."""
    return host_group(url_of_ip(address)) if address else ""


_NUMERIC_HOST = re.compile(r"[0-9a-fx.]{1,64}")
