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
from tests.nodeutil import serving

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
    async with serving(app) as base, aiohttp.ClientSession() as session:
        port = base.rsplit(":", 1)[1]
        for host in ("0x7f000001", "0x7f.1", "127.0.0.0x1", "0x7f.0.0.1", "\uff4cocalhost"):
            url = f"http://{host}:{port}/"
            async with session.get(url) as r:
                assert await r.text() == "here"
            assert host_group(url) == "loopback", host


# Free wildcard DNS services: any name under each resolves to the address it spells, so
# one machine answers at a name under every one of them, each "a name's last two labels".
WILDCARD_NAMES = [
    "10-1-2-3.nip.io",
    "10-1-2-3.sslip.io",
    "10.1.2.3.traefik.me",
    "a.localtest.me",
    "b.lvh.me",
    "c.vcap.me",
    "d.fbi.com",
    "e.yoogle.com",
    "f.lacolhost.com",
]


def test_names_that_reach_one_address_take_a_bounded_share() -> None:
    """The node's hello reached each name at one address (the dial-back's connection says
    which): they count as that address's group, not as nine groups of names."""
    peers = Peers("0x" + "00" * 20, "http://me.test:1", rng=random.Random(1))
    admitted = [
        peers.admit(f"0x{i:040x}", f"http://{name}:{9000 + i}", "10.1.2.3") is not None
        for i, name in enumerate(WILDCARD_NAMES * 8, start=1)
    ]
    assert sum(admitted) == MAX_PER_HOST
    # (and two names of one wildcard service at two hosts are two groups, not one)
    other = Peers("0x" + "00" * 20, "http://me.test:1", rng=random.Random(1))
    for i in range(1, 17):
        assert other.admit(f"0x{i:040x}", f"http://n{i}.nip.io:9000", f"10.0.{i}.1")


async def test_a_hello_answer_says_the_address_it_came_from() -> None:
    """The node's peer client reports the address its connection reached (a real server on
    127.0.0.1, called by the name ``localhost``)."""
    from sdex.gossip.client import PeerClient
    from sdex.gossip.identity import NodeKey

    server, client = NodeKey.generate(), NodeKey.generate()
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        data = b'{"nodeId": "x"}'
        headers = server.answer_headers(request.headers["X-SDEX-Signature"], 200, data)
        return web.Response(body=data, content_type="application/json", headers=headers)

    app.router.add_post("/p2p/hello", hello)
    async with serving(app) as base, aiohttp.ClientSession() as session:
        port = base.rsplit(":", 1)[1]
        pc = PeerClient(session, client, "http://127.0.0.1:1")
        a = await pc.call("POST", f"http://localhost:{port}", "/p2p/hello", {})
    assert a.signer == server.node_id
    assert a.address == "127.0.0.1"


def _loopback_name() -> str | None:
    """This machine's name if it resolves to a loopback address only (else None)."""
    import ipaddress

    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, 80, socket.AF_INET)
    except OSError:
        return None
    ips = {ipaddress.ip_address(i[4][0]) for i in infos}
    return name if ips and all(ip.is_loopback for ip in ips) and "." not in name else None


async def test_a_peer_dialled_by_a_name_counts_against_the_address_it_answered_from() -> None:
    """Two gossip nodes on loopback: B dials A by this machine's name (which resolves to
    127.0.0.1); A enters B's table in the loopback group, not in a group of its own name."""
    import asyncio

    from sdex.gossip import Gossip, GossipConfig, NodeKey
    from sdex.gossip.peers import LOOPBACK
    from sdex.gossip.routes import add_routes
    from sdex.httpkit import RateLimit
    from tests.p2putil import MemoryNode

    name = _loopback_name()
    if name is None:
        pytest.skip("this machine's name does not resolve to loopback only")
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]  # (bound at once)
    pa, pb = (s.getsockname()[1] for s in listeners)
    url_a, url_b = f"http://{name}:{pa}", f"http://127.0.0.1:{pb}"
    started: list[tuple[Gossip, web.AppRunner]] = []
    try:
        for url, listener, seeds in ((url_a, listeners[0], []), (url_b, listeners[1], [url_a])):
            node = MemoryNode()
            g = Gossip(node, url, seeds, GossipConfig(dial_interval=0.1), NodeKey.generate())
            node.gossip = g
            app = web.Application()
            add_routes(app, g, RateLimit(), admin=True)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            await web.SockSite(runner, listener).start()
            started.append((g, runner))
        for g, _ in started:
            await g.start()
        (a, _), (b, _) = started
        async with asyncio.timeout(20):
            while b.peers.get(a.key.node_id) is None:
                await asyncio.sleep(0.05)
        peer = b.peers.get(a.key.node_id)
        assert peer is not None and peer.url == url_a
        assert peer.host == LOOPBACK
    finally:
        for g, runner in started:
            await runner.shutdown()
            await g.stop()
            await runner.cleanup()
        for listener in listeners:
            listener.close()
