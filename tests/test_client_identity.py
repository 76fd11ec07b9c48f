"""Who a per-client bound counts: an IPv6 client's /64 within its /56 within its /48
(``sdex.httpkit.client_path``), so that one allocation cannot hold every connection or
websocket slot; and a client behind a trusted reverse proxy by its ``X-Forwarded-For``
(``sdex.httpkit.TrustedProxies``), believed from that proxy only.

The slot tests drive ``ConnectionSlots`` with addresses directly (IPv6 loopback is ``::1``
alone) and real busy connections: aiohttp's own request handlers, each with a request in
progress on a loopback socket. Before, 64 /64s of one /48, one busy connection each, held all
64 slots of a node and every other client was refused (503)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import requests
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from click.testing import CliRunner

from sdex.cli import main
from sdex.httpkit import (
    MAX_FORWARDED_HOPS,
    ClientSlots,
    RateLimit,
    TrustedProxies,
    client_group,
    client_path,
    parse_network,
    trust_proxies,
)
from sdex.node.conns import BoundedRunner, ConnectionSlots
from sdex.node.process import NodeProcess
from sdex.node.sending import AnswerSlots, bound_answers
from tests.conftest import Chain
from tests.nodeutil import has_ipv6_loopback, node_config, node_ready, running_node, wait_for


@contextlib.asynccontextmanager
async def busy_handlers(n: int, host: str = "127.0.0.1") -> AsyncIterator[list[RequestHandler]]:
    """``n`` server-side connections of a real aiohttp server, each with a request in
    progress (busy: never reclaimed as idle) until the block ends."""
    gate = asyncio.Event()
    seen: list[RequestHandler] = []

    async def hold(request: web.BaseRequest) -> web.Response:
        seen.append(request.protocol)
        await gate.wait()
        return web.Response()

    server = web.Server(hold)
    listener = await asyncio.get_running_loop().create_server(server, host, 0)
    port = listener.sockets[0].getsockname()[1]
    writers = []
    try:
        for _ in range(n):
            _, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            writers.append(writer)

        async def all_busy() -> bool:
            return len(seen) == n

        await wait_for(all_busy, timeout=10)
        yield list(seen)
    finally:
        gate.set()
        for writer in writers:
            writer.close()
        listener.close()
        await server.shutdown(1.0)


def one_allocation(n: int) -> list[str]:
    """``n`` addresses, each in its own /64, all in 2001:db8::/48 (across its /56s)."""
    return [f"2001:db8:0:{i:x}::1" for i in range(n)]


async def test_one_ipv6_48_cannot_hold_every_connection_slot() -> None:
    """8 per client, 64 in all: the /48's 64 /64s get its share, 8 (1/8), and each of 56
    clients on distinct prefixes (other /48s, IPv4 addresses) is admitted as before. Without
    the wider groups the /48 held all 64 and every one of the 56 was refused, 503."""
    async with busy_handlers(64 + 56) as conns:
        slots = ConnectionSlots(per_client=8, total=64)
        attack = [
            slots.admit(c, client_group(a)) for c, a in zip(conns, one_allocation(64), strict=False)
        ]
        assert sum(r is None for r in attack) == 8
        refused = {r for r in attack if r is not None}
        assert refused == {(429, "too many connections from the network 2001:db8::/48: at most 8")}
        others = [f"2001:db8:{i + 1:x}::1" for i in range(28)] + [f"10.0.0.{i}" for i in range(28)]
        assert all(
            slots.admit(c, client_group(a)) is None for c, a in zip(conns[64:], others, strict=True)
        )
        assert len(slots) == 64 and slots.evicted == 0


async def test_at_the_bound_in_all_the_heaviest_48_gives_way_then_its_heaviest_64() -> None:
    """Full of busy connections: a newcomer from another /48 takes the oldest of the heaviest
    /48; a newcomer from a fresh /64 inside that /48 takes from the /64 holding the most
    there. Distinct /48s holding as many as the newcomer's keep theirs (503)."""
    async with busy_handlers(13) as conns:
        slots = ConnectionSlots(per_client=4, total=8)  # (a /48's share: 4)
        heavy = ["2001:db8:0:1::1"] * 4 + ["2001:db9::1", "2001:dba::1", "10.0.0.1", "10.0.0.2"]
        assert all(slots.admit(c, a) is None for c, a in zip(conns, heavy, strict=False))
        assert slots.admit(conns[8], "2001:db8:0:2::1") is None  # (its /48 at its bound)
        assert slots.evicted == 1 and slots.held("2001:db8:0:2::/64") == 1
        assert slots.held("2001:db8:0:1::/64") == 3
        assert slots.admit(conns[9], "203.0.113.9") is None  # (the /48's 4 vs 0)
        assert slots.evicted == 2 and slots.held("2001:db8::/48") == 3
        assert slots.admit(conns[10], "10.0.0.3") is None  # (3 vs 0)
        assert slots.admit(conns[11], "10.0.0.4") is None  # (2 vs 0)
        assert slots.evicted == 4 and slots.held("2001:db8::/48") == 1
        assert slots.admit(conns[12], "10.0.0.5") == (
            503,
            "too many connections to this node: at most 8",
        )  # (each holds 1 now: none gives way to a newcomer's 0)


async def test_at_the_bound_in_all_a_trusted_proxys_busy_connections_are_not_taken() -> None:
    """A trusted proxy carries many clients: at the bound in all, a direct newcomer takes
    from the heaviest direct address, never the proxy's busy connections (review23: the
    proxy was always the heaviest group, and each direct newcomer evicted one of its users'
    requests). A proxy's newcomer takes room like a client holding none."""
    full = (503, "too many connections to this node: at most 8")
    async with busy_handlers(12) as conns:
        slots = ConnectionSlots(per_client=4, total=8)
        proxied = conns[:5]
        assert all(slots.admit(c, "10.9.9.9", bounded=False) is None for c in proxied)
        assert all(slots.admit(c, "203.0.113.9") is None for c in conns[5:8])
        assert slots.admit(conns[8], "203.0.113.10") is None  # (.9's 3 vs 0)
        assert slots.admit(conns[9], "203.0.113.11") is None  # (.9's 2 vs 0)
        # each direct one holds 1 now: none gives way; the proxy's 5 are in no group
        assert slots.admit(conns[10], "203.0.113.12") == full
        assert slots.evicted == 2 and slots.held("203.0.113.9") == 1
        assert all(c.transport is not None and not c.transport.is_closing() for c in proxied)
        assert slots.admit(conns[11], "10.9.9.9", bounded=False) == full
        for c in proxied:
            slots.release(c)
        assert len(slots) == 3 and slots.held("10.9.9.9") == 0


def test_websocket_slots_one_48_takes_its_share_and_the_others_theirs() -> None:
    """32 per client, 1,024 in all (the node's defaults): one /48's 1,024 /64s take 128
    (1/8), its /56s 64 each (1/16); 896 clients on distinct /48s all get theirs. Before,
    the /48 took all 1,024 and every other client was refused."""
    slots = ClientSlots(32, 1024, "from this address: at most {}", "on this node: at most {}")
    taken = [slots.take(client_group(a)) for a in one_allocation(1024)]
    assert sum(r is None for r in taken) == 128
    assert taken[63] is None and taken[256] is None and taken[319] is None  # (a /56's 64)
    assert taken[64] == "from this address: at most 64 (its network 2001:db8::/56 holds them)"
    assert taken[1000] == "from this address: at most 128 (its network 2001:db8::/48 holds them)"
    others = [client_group(f"2001:{i + 1:x}::1") for i in range(896)]
    assert all(slots.take(c) is None for c in others)
    assert len(slots) == 1024
    for c in others:
        slots.give(c)
    assert slots.take(client_group("198.51.100.1")) is None


@pytest.mark.parametrize(
    ("address", "path"),
    [
        ("2001:db8:1:2::5", ("2001:db8:1::/48", "2001:db8:1::/56", "2001:db8:1:2::/64")),
        ("2001:db8:1:2::/64", ("2001:db8:1::/48", "2001:db8:1::/56", "2001:db8:1:2::/64")),
        ("2001:db8:1:1ff::1", ("2001:db8:1::/48", "2001:db8:1:100::/56", "2001:db8:1:1ff::/64")),
        ("::1", ("::/48", "::/56", "::/64")),
        ("::ffff:192.0.2.1", ("192.0.2.1",)),
        ("192.0.2.1", ("192.0.2.1",)),
        (None, ("unknown",)),
        ("/run/sdex.sock", ("/run/sdex.sock",)),  # (a Unix socket's name: itself)
        ("/run/64", ("/run/64",)),
    ],
)
def test_a_client_counts_in_its_64_56_and_48(address: str | None, path: tuple[str, ...]) -> None:
    assert client_path(address) == path


@contextlib.asynccontextmanager
async def bounded_server(host: str, slots: ConnectionSlots) -> AsyncIterator[int]:
    """A ``BoundedRunner`` on ``host`` whose one route holds each request until the block
    ends (its connections busy): its port."""
    gate = asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        await gate.wait()
        return web.Response()

    app = web.Application()
    app.router.add_get("/", hold)
    runner = BoundedRunner(app, slots, idle_timeout=30)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()  # (port 0: bound at once, none picked first)
    port = runner.addresses[0][1]
    try:
        yield port
    finally:
        gate.set()
        await runner.cleanup()


async def open_busy(host: str, port: int, n: int) -> list[asyncio.StreamWriter]:
    writers = []
    for _ in range(n):
        _, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        writers.append(writer)
    return writers


async def refused_now(host: str, port: int) -> bytes:
    """What the server answers a new connection at once, to its close (a refusal)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
async def test_a_real_server_counts_an_ipv6_client_along_its_path() -> None:
    """Over ``::1``: the connections count in ``::/64``, ``::/56`` and ``::/48``; at the
    per-client bound (2) with both busy, a third is refused 429 with the SRA body."""
    slots = ConnectionSlots(per_client=2, total=64)
    async with bounded_server("::1", slots) as port:
        writers = await open_busy("::1", port, 2)

        async def both_in() -> bool:
            return all(slots.held(g) == 2 for g in ("::/48", "::/56", "::/64"))

        await wait_for(both_in, timeout=10)
        head = await refused_now("::1", port)
        assert head.startswith(b"HTTP/1.1 429 ") and b'"code": 103' in head
        for writer in writers:
            writer.close()


@pytest.mark.parametrize("trusted", [True, False])
async def test_a_trusted_proxys_connections_are_bounded_only_in_all(trusted: bool) -> None:
    """2 per client: three busy connections from 127.0.0.1, a trusted proxy, are all held
    (it carries many clients); from an untrusted one the third is refused, 429."""
    proxies = TrustedProxies((parse_network("127.0.0.1"),) if trusted else ())
    slots = ConnectionSlots(per_client=2, total=64, proxies=proxies)
    async with bounded_server("127.0.0.1", slots) as port:
        writers = await open_busy("127.0.0.1", port, 2)

        async def both_in() -> bool:
            return len(slots) == 2

        await wait_for(both_in, timeout=10)
        if trusted:
            writers += await open_busy("127.0.0.1", port, 1)

            async def three_in() -> bool:
                return len(slots) == 3

            await wait_for(three_in, timeout=10)
        else:
            assert (await refused_now("127.0.0.1", port)).startswith(b"HTTP/1.1 429 ")
        for writer in writers:
            writer.close()


# -- behind a reverse proxy --------------------------------------------------------------------

FORWARDED = "X-Forwarded-For"
PROXIES = TrustedProxies((parse_network("127.0.0.1"), parse_network("10.0.0.0/8")))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("192.0.2.9", ["203.0.113.5"], "192.0.2.9"),  # (not a trusted proxy: a spoof, ignored)
        ("192.0.2.9", [], "192.0.2.9"),
        (None, ["203.0.113.5"], None),
        ("127.0.0.1", [], "127.0.0.1"),  # (the proxy's own request)
        ("127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        ("::ffff:127.0.0.1", ["203.0.113.5"], "203.0.113.5"),  # (a dual-stack socket's)
        ("127.0.0.1", ["1.1.1.1, 203.0.113.5"], "203.0.113.5"),  # (the client's own: left)
        ("127.0.0.1", ["1.1.1.1", "203.0.113.5"], "203.0.113.5"),  # (two header lines)
        ("127.0.0.1", ["203.0.113.5, 10.1.2.3"], "203.0.113.5"),  # (two trusted hops)
        ("127.0.0.1", ["203.0.113.5 ,\t10.1.2.3 "], "203.0.113.5"),
        ("127.0.0.1", ["10.0.0.3, 10.0.0.2"], "10.0.0.3"),  # (all trusted: the farthest)
        ("127.0.0.1", ["2001:DB8::1"], "2001:db8::1"),
        ("127.0.0.1", ["::ffff:203.0.113.5"], "203.0.113.5"),
        ("127.0.0.1", ["1.1.1.1," * 10_000 + "203.0.113.5"], "203.0.113.5"),
        # malformed: nothing at or left of it believed; the nearest trusted proxy is the client
        ("127.0.0.1", ["bogus"], "127.0.0.1"),
        ("127.0.0.1", ["unknown"], "127.0.0.1"),
        ("127.0.0.1", [""], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.5,"], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.5:4711"], "127.0.0.1"),
        ("127.0.0.1", ["[2001:db8::1]"], "127.0.0.1"),
        ("127.0.0.1", ["2001:db8::/64"], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.5, bogus, 10.1.2.3"], "10.1.2.3"),
        ("127.0.0.1", ["203.0.113.5\x00"], "127.0.0.1"),
        ("127.0.0.1", ["0" * 100 + "1.2.3.4"], "127.0.0.1"),  # (no address is that long)
        ("127.0.0.1", ["203.0.113.5" + ", 10.0.0.1" * MAX_FORWARDED_HOPS], "10.0.0.1"),
        ("127.0.0.1", ["203.0.113.5" + ", 10.0.0.1" * (MAX_FORWARDED_HOPS - 1)], "203.0.113.5"),
        ("127.0.0.1", ["203.0.113.5", *["10.0.0.1"] * MAX_FORWARDED_HOPS], "10.0.0.1"),
        # a loopback entry is the loopback of the hop that wrote it: this node's only when
        # every hop to its right is on this machine (review20: any host of a trusted network
        # sending "X-Forwarded-For: 127.0.0.1" was a loopback client: /admin/links and
        # /web/dev-wallets answered it)
        ("10.0.0.7", ["127.0.0.1"], "10.0.0.7"),
        ("10.0.0.7", ["::1"], "10.0.0.7"),
        ("10.0.0.7", ["::ffff:127.0.0.1"], "10.0.0.7"),
        ("10.0.0.7", ["127.0.0.5"], "10.0.0.7"),
        ("10.0.0.7", ["203.0.113.5, 127.0.0.1"], "10.0.0.7"),
        ("127.0.0.1", ["127.0.0.1, 10.0.0.3"], "10.0.0.3"),
        ("127.0.0.1", ["203.0.113.5, 127.0.0.1, 10.0.0.3"], "10.0.0.3"),
        ("127.0.0.1", ["127.0.0.1"], "127.0.0.1"),  # (a client on this machine, by its proxy)
        ("127.0.0.1", ["203.0.113.5, 127.0.0.1"], "203.0.113.5"),  # (two proxies here)
    ],
)
def test_the_forwarded_client_is_believed_from_a_trusted_proxy_only(
    peer: str | None, forwarded: list[str], client: str | None
) -> None:
    assert PROXIES.client(peer, forwarded) == client


def test_what_is_remembered_of_forwarded_entries_is_bounded() -> None:
    proxies = TrustedProxies((parse_network("127.0.0.1"),))
    for i in range(3 * TrustedProxies.MEMO):
        assert proxies.client("127.0.0.1", [f"10.{i >> 16}.{i >> 8 & 255}.{i & 255}"]) is not None
    assert len(proxies._hops) <= TrustedProxies.MEMO


@pytest.mark.parametrize("text", ["10.0.0.5/8", "proxy.example", "", "10.0.0.0/33", "::1/129"])
def test_a_trusted_proxy_that_is_no_address_or_network_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--trusted-proxy"):
        parse_network(text)
    result = CliRunner().invoke(main, ["node", "--port", "1", "--trusted-proxy", text])
    assert result.exit_code == 2 and "--trusted-proxy" in result.output


@pytest.mark.parametrize("trusted", [True, False])
async def test_clients_behind_a_trusted_proxy_have_their_own_bounds(
    chain: Chain, tmp_path: Path, trusted: bool
) -> None:
    """A real node, rate limited to 3 requests per client; requests from 127.0.0.1 (the
    proxy) naming clients. Trusted: each client has its own bucket, and a loopback-only answer
    is not given to a forwarded client. Not trusted (the default): the header changes
    nothing: all share the proxy's bucket."""
    proxies = (ipaddress.ip_network("127.0.0.1/32"),) if trusted else ()
    cfg = node_config(
        chain, tmp_path / "n.db", dev_accounts=tuple(chain.deployment.accounts),
        rate_limit=RateLimit(rate=0.01, burst=3), trusted_proxies=proxies,
    )  # fmt: skip
    async with running_node(cfg) as (_node, api), aiohttp.ClientSession() as s:
        base = api.base

        async def status(client: str) -> int:
            async with s.get(base + "/v1/order_config", headers={FORWARDED: client}) as r:
                return r.status

        async with s.get(base + "/web/dev-wallets", headers={FORWARDED: "192.0.2.1"}) as r:
            assert (await r.json())["enabled"] is not trusted  # (a token: 192.0.2.1's or all's)
        a = [await status("203.0.113.5") for _ in range(4)]
        b = await status("198.51.100.7")
        assert a == ([200, 200, 200, 429] if trusted else [200, 200, 429, 429])
        assert b == (200 if trusted else 429)


def test_trusted_proxy_is_an_option_of_sdex_node(chain: Chain, tmp_path: Path) -> None:
    """``sdex node --trusted-proxy 127.0.0.1``: a request from it naming a client is that
    client's (a loopback-only answer refused to it); one naming none is the proxy's own."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)

    def make(port: int) -> NodeProcess:
        return NodeProcess(
            port, deployment, chain.keys[19], tmp_path / "n.db", tmp_path / "n.log",
            dev_wallets=True, extra=("--trusted-proxy", "127.0.0.1"),
        )  # fmt: skip

    with node_ready(make, timeout=120) as proc:
        url = proc.url + "/web/dev-wallets"
        forwarded = requests.get(url, headers={FORWARDED: "192.0.2.1"}, timeout=20).json()
        own = requests.get(url, timeout=20).json()
        assert (forwarded["enabled"], own["enabled"]) == (False, True)


@pytest.mark.parametrize("trusted", [True, False])
async def test_large_answers_behind_a_trusted_proxy_are_counted_per_client(trusted: bool) -> None:
    """One large answer being written per client (``sdex.node.sending``, the outermost
    middleware but for the proxies', as ``sdex.node.main.serve`` wires them): two unread ones
    from the proxy for two forwarded clients are both written when it is trusted; else the
    second is the proxy's second, 503."""

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 1_000_000, content_type="application/json")

    app = web.Application()
    app.router.add_get("/", big)
    slots = AnswerSlots(per_client=1, total=8)
    bound_answers(app, slots, 30.0)
    trust_proxies(app, TrustedProxies((parse_network("127.0.0.1"),) if trusted else ()))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # (an unread answer stays)
    listener.bind(("127.0.0.1", 0))  # (bound here: no port picked first to be taken)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    port = listener.getsockname()[1]
    writers = []
    try:
        for client in ("203.0.113.5", "198.51.100.7"):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=sock)
            writer.write(f"GET / HTTP/1.1\r\nHost: x\r\n{FORWARDED}: {client}\r\n\r\n".encode())
            writers.append(writer)
            if client == "203.0.113.5":

                async def one_held() -> bool:
                    return len(slots) == 1

                await wait_for(one_held, timeout=10)
        if trusted:

            async def two_held() -> bool:
                return len(slots) == 2

            await wait_for(two_held, timeout=10)
        else:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 503") and len(slots) == 1
    finally:
        for writer in writers:
            writer.close()
        await runner.cleanup()
