"""Which client a request is, as every per-client bound counts it: an IPv4 address itself,
an IPv6 one by its /64 (``client_group``), and the wider networks a /64 is in
(``client_path``: its /56 and /48), each holding a share of a bound (``path_caps``); and
``ClientSlots``, the slots of one kind each client, each wider network and the node hold
(moved out of ``sdex.httpkit``, which neared 500 lines).

Nothing here knows the node or aiohttp."""

from __future__ import annotations

import functools
import ipaddress

IPV6_CLIENT_PREFIX = 64
"""An IPv6 client is counted by its /64: one subscriber, host or VPS is routinely given a
whole /64 (RFC 6177), so a bound per address would be a bound per 2^64 addresses."""

IPV6_WIDER_PREFIXES = ((48, 8), (56, 16))
"""And its /64 counts within its /56 and its /48, each holding at most a share of a bound in
all (1/8 of it for a /48, 1/16 for a /56; never less than one client's bound): a site is
routinely given a /56 or a /48 (RFC 6177; one costs a few dollars a month), and its 256 or
65,536 /64s counted apart held every connection and websocket slot of a node (4,096 /64s,
one each). Clients in distinct /48s are counted apart as before."""


@functools.lru_cache(maxsize=4096)  # (~10 us a call parsed; every request asks it)
def client_group(address: str | None) -> str:
    """The client a per-client bound (connections, websockets, the rate limit) counts
    ``address`` against: an IPv4 address itself; an IPv6 one by its /64 (``"2001:db8::/64"``),
    an IPv4-mapped IPv6 one (``::ffff:192.0.2.1``, a dual-stack socket's IPv4 client) as its
    IPv4 address; anything else (``None``, a Unix socket's name) as ``"unknown"`` or itself."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # (not an IP: one group per name, as it was)
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        net = ipaddress.IPv6Network((int(ip) >> 64 << 64, IPV6_CLIENT_PREFIX))
        return str(net)  # (a scope id, fe80::1%eth0, is dropped: one /64 on every link)
    return str(ip)


@functools.lru_cache(maxsize=4096)  # (asked per connection and per slot taken: ~0.1 us cached)
def client_path(client: str | None) -> tuple[str, ...]:
    """The groups a per-client bound counts ``client`` (an address, or a group
    ``client_group`` gave) in, widest first, ending with its own group: an IPv6 client's
    /48, /56 and /64 (``IPV6_WIDER_PREFIXES``), any other client's group alone."""
    group = client_group(client) if client is None or "/" not in client else client
    if not group.endswith(f"/{IPV6_CLIENT_PREFIX}"):
        return (group,)
    try:
        low = int(ipaddress.IPv6Network(group).network_address)
    except ValueError:  # (a name with a "/" in it, not an IPv6 network)
        return (group,)
    wider = (
        str(ipaddress.IPv6Network((low >> (128 - n) << (128 - n), n)))
        for n, _ in IPV6_WIDER_PREFIXES
    )
    return (*wider, group)


def path_caps(per_client: int, total: int) -> tuple[int, ...]:
    """The bound on each group of a ``client_path`` of the widest length (a shorter one takes
    the last ones): each wider prefix's share of ``total``, then ``per_client``."""
    return (*(max(per_client, total // share) for _, share in IPV6_WIDER_PREFIXES), per_client)


class ClientSlots:
    """How many of one kind of thing (websockets, large answers being written) each client
    (``client_group``), each wider network it is in (``client_path``: an IPv6 /64's /56 and
    /48, each bounded to its share, ``path_caps``) and the node together hold now, each
    bounded: ``take`` a slot, or learn why not (``from_one``/``from_all``: the reasons, with
    ``{}`` for the bound)."""

    def __init__(self, per_client: int, total: int, from_one: str, from_all: str) -> None:
        self.per_client = per_client
        self.total = total
        self._caps = path_caps(per_client, total)
        self._from_one = from_one
        self._from_all = from_all
        self._held: dict[str, int] = {}
        """Slots held by each group of a held slot's ``client_path`` (none at 0)."""
        self._count = 0
        self.refused = 0
        """Slots refused so far: the client's or the node's were all taken."""

    def take(self, client: str) -> str | None:
        """Take a slot for ``client``: None, or why not (the slot is then not taken)."""
        path = client_path(client)
        held = self._held
        for group, cap in zip(path, self._caps[-len(path) :], strict=True):
            if held.get(group, 0) >= cap:
                self.refused += 1
                why = self._from_one.format(cap)
                return why if group == path[-1] else f"{why} (its network {group} holds them)"
        if self._count >= self.total:
            self.refused += 1
            return self._from_all.format(self.total)
        for group in path:
            held[group] = held.get(group, 0) + 1
        self._count += 1
        return None

    def give(self, client: str) -> None:
        held = self._held
        for group in client_path(client):
            n = held.get(group, 0)
            if n <= 1:
                held.pop(group, None)
            else:
                held[group] = n - 1
        self._count -= 1

    def __len__(self) -> int:
        return self._count
