"""review29: the per-host peer bound (``peers.host_group``) against one host written many
ways. The node dials a peer's URL with aiohttp: yarl encodes its host (IDNA: full-width
letters folded, U+3002 a label dot) and the resolver (``getaddrinfo``, ``inet_aton``) takes
an IPv4 address in its hex forms (aiohttp refuses the decimal legacy forms, not these: one
integer, fewer parts, any part in hex with any number of leading zeros). Each of
those spellings was its own host group, so one address (or one domain) held any number of
slots: the bound of 8 per group bounded nothing."""

from __future__ import annotations

import random
import socket

import aiohttp
import pytest
from aiohttp import web

from sdex.gossip.peers import MAX_PER_HOST, Peers, host_group

# One address, 10.1.2.3, as the resolver reads each of these (all connect to it).
FORMS_OF_10_1_2_3 = [
    "10.1.2.3",
    "10.1.2.0x3",
    "10.1.2.0x03",
    "10.1.2.0X003",
    "10.1.0x2.3",
    "10.1.0x02.3",
    "10.0x1.2.3",
    "0xa.1.2.3",
    "0x0a010203",
    "0xA010203",
    "0xa.0x1.0x2.0x3",
    "10.1.0x203",
    "10.0x10203",
    "0xa.66051",
]


@pytest.mark.parametrize("host", FORMS_OF_10_1_2_3)
def test_numeric_forms_of_one_ipv4_address_are_one_group(host: str) -> None:
    # (what the resolver the node dials with makes of it: the same address)
    assert socket.getaddrinfo(host, 80, socket.AF_INET)[0][4][0] == "10.1.2.3"
    assert host_group(f"http://{host}:9000") == "10.1.2.0/24"


@pytest.mark.parametrize(
    ("url", "group"),
    [
        ("http://a.example\u3002org:1", "example.org"),  # an ideographic full stop: a dot
        ("http://b.node.example\uff0eorg:1", "example.org"),  # a full-width full stop
        ("http://x.\uff45xample.org:1", "example.org"),  # a full-width e
        ("http://\uff4cocalhost:1", "loopback"),
        ("http://127.1:1", "loopback"),  # (aiohttp refuses the decimal forms: grouped alike)
        ("http://2130706433:1", "loopback"),
        ("http://0x7f000001:1", "loopback"),
        ("http://127.0.0.0x1:1", "loopback"),
    ],
)
def test_names_are_grouped_as_they_are_dialled(url: str, group: str) -> None:
    assert host_group(url) == group


def test_one_address_in_many_spellings_takes_a_bounded_share() -> None:
    peers = Peers("0x" + "00" * 20, "http://me.test:1", rng=random.Random(1))
    admitted = [
        peers.admit(f"0x{i:040x}", f"http://{host}:{9000 + i}") is not None
        for i, host in enumerate(FORMS_OF_10_1_2_3 * 3, start=1)
    ]
    assert sum(admitted) == MAX_PER_HOST


async def test_the_node_client_reaches_one_loopback_server_by_each_spelling() -> None:
    """The spellings are not theoretical: aiohttp's client (the node's) connects to one
    server on 127.0.0.1 through each of them."""
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="here")

    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:
            for host in ("0x7f000001", "0x7f.1", "127.0.0.0x1", "0x7f.0.0.1", "\uff4cocalhost"):
                url = f"http://{host}:{port}/"
                async with session.get(url) as r:
                    assert await r.text() == "here"
                assert host_group(url) == "loopback", host
    finally:
        await runner.cleanup()
