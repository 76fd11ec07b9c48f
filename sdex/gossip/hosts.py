"""The host group a peer counts against (``sdex.gossip.peers``' per-host bound): what one
operator cannot cheaply hold many of, however a URL spells or names it."""

from __future__ import annotations

import ipaddress
import re
import socket

import yarl

LOOPBACK = "loopback"


def host_group(url: str) -> str:
    """The host a peer's URL counts against (``MAX_PER_HOST``): an IPv4 address's /24, an
    IPv6 address's /64 (an IPv4-mapped one as IPv4), ``LOOPBACK`` for any loopback address
    or ``localhost``, a DNS name by its last two labels (``a.x.example`` and ``b.x.example``
    are one: a wildcard record is free to make; no name is resolved here). The host is read
    as the node dials it (review29): yarl's IDNA form (full-width letters folded, U+3002 a
    dot), and an IPv4 address in a form ``inet_aton`` takes (``0xa.1.2.0x03``: aiohttp
    dials the hex ones) as that address, so no spelling makes one host many groups."""
    try:
        host = (yarl.URL(url).raw_host or "").rstrip(".").lower()
    except ValueError:
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
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return LOOPBACK
    bits = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def url_of_ip(address: str) -> str:
    """A URL whose host is the IP ``address`` (a connection's peer: review29, a name is
    free to make, and free wildcard services resolve names under theirs to any address)."""
    return f"http://[{address}]" if ":" in address else f"http://{address}"


_NUMERIC_HOST = re.compile(r"[0-9a-fx.]{1,64}")
