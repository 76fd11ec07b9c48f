"""``sdex.node.conns.ConnectionSlots``' bookkeeping under any order of connections made and
lost (hypothesis), with aiohttp's own request handlers as the connections (no transport:
each is idle, so room is made by closing the oldest idle one); and the client an address is
counted as (``sdex.httpkit.client_group``: an IPv6 one by its /64)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.httpkit import RateLimit, RateLimiter, client_group
from sdex.node.conns import ConnectionSlots

CLIENTS = (
    "10.0.0.1",
    "10.0.0.2",
    "2001:db8:0:1::1",
    "2001:db8:0:1::2",
    "2001:db8:0:2::1",
    "2001:db8:0:101::1",  # (another /56 of the same /48)
    "2001:db9::1",  # (another /48)
)


def handlers(n: int) -> list[RequestHandler]:
    async def make() -> list[RequestHandler]:
        server = web.Server(lambda request: web.Response())
        loop = asyncio.get_running_loop()
        return [RequestHandler(server, loop=loop) for _ in range(n)]

    return asyncio.run(make())


def check(slots: ConnectionSlots) -> None:
    """Each group's count (a client's, and each network's it is in: ``client_path``), the
    heaviest under each group and the counts' index agree with the connections."""
    counts: dict[str, int] = {}
    under: dict[str, set[str]] = {}
    for conn, path in slots._all.items():
        assert conn in slots._by_client[path[-1]]
        for parent, group in zip(("", *path), path, strict=False):
            counts[group] = counts.get(group, 0) + 1
            under.setdefault(parent, set()).add(group)
    assert sum(len(mine) for mine in slots._by_client.values()) == len(slots) <= slots.total
    assert all(0 < len(mine) <= slots.per_client for mine in slots._by_client.values())
    assert slots._held == counts
    assert set(slots._tallies) == set(under)
    for parent, tally in slots._tallies.items():
        assert tally.most == max(counts[g] for g in under[parent])
        assert counts[tally.heaviest()] == tally.most
        assert {n: set(held) for n, held in tally.by_count.items()} == {
            n: {g for g in under[parent] if counts[g] == n}
            for n in {counts[g] for g in under[parent]}
        }


@settings(max_examples=200, deadline=None)
@given(
    per_client=st.integers(1, 4),
    total=st.integers(1, 6),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, len(CLIENTS) - 1), st.integers(0, 40))),
)
def test_the_counts_follow_any_order_of_connections_made_and_lost(
    per_client: int, total: int, ops: list[tuple[bool, int, int]]
) -> None:
    """Made or lost, in any order: the counts stay true, and every admitted connection's
    loss is counted (a client's last connection closed to make room for its own new one
    left its new one in a table no longer listed: its loss raised KeyError)."""
    slots = ConnectionSlots(per_client, total)
    pool = handlers(len(ops))
    admitted: list[RequestHandler] = []
    for (make, client, pick), conn in zip(ops, pool, strict=True):
        if make:
            if slots.admit(conn, client_group(CLIENTS[client])) is None:
                admitted.append(conn)
        elif admitted:
            slots.release(admitted.pop(pick % len(admitted)))
        check(slots)
    for conn in admitted:
        slots.release(conn)
        check(slots)
    assert len(slots) == 0 and not slots._tallies


def test_a_clients_last_connection_closed_for_its_own_new_one() -> None:
    """Two in all, one each from A and B: A's second closes the oldest idle one, A's own."""
    a1, b1, a2 = handlers(3)
    slots = ConnectionSlots(per_client=2, total=2)
    assert slots.admit(a1, "A") is None and slots.admit(b1, "B") is None
    assert slots.admit(a2, "A") is None and slots.reclaimed == 1
    slots.release(a2)  # (raised KeyError: 'A')
    slots.release(b1)
    assert len(slots) == 0


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("192.0.2.7", "192.0.2.7"),
        ("::1", "::/64"),
        ("0:0:0:0:0:0:0:1", "::/64"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # (the same /64)
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # (the next /64: its own)
        ("::ffff:192.0.2.7", "192.0.2.7"),  # a dual-stack socket's IPv4 client
        ("fe80::1%eth0", "fe80::/64"),
        (None, "unknown"),
        ("", "unknown"),
        ("not an address", "not an address"),
    ],
)
def test_a_client_is_its_ipv4_address_or_its_ipv6_64(address: str | None, group: str) -> None:
    assert client_group(address) == group


@pytest.mark.parametrize(
    ("rate", "burst"),
    [(0, 10), (-1, 10), (float("nan"), 10), (float("inf"), 10), (1, 0), (1, -5)],
)
def test_a_rate_limit_that_admits_nothing_or_divides_by_zero_is_refused(
    rate: float, burst: int
) -> None:
    """A rate of 0 divided by zero in ``Retry-After`` the first time a bucket ran dry."""
    with pytest.raises(ValueError, match="rate limit"):
        RateLimit(rate=rate, burst=burst)


def test_a_slow_rate_limit_says_when_to_come_back() -> None:
    limiter = RateLimiter(RateLimit(rate=0.5, burst=1))
    assert limiter.take("10.0.0.1")[0]
    ok, headers = limiter.take("10.0.0.1")
    assert not ok
    assert headers["Retry-After"] == "2"
