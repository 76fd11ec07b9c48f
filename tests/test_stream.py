"""The authenticated stream per peer (``sdex.gossip.stream``): real gossip drivers, their
routes on real aiohttp servers on loopback, in-memory nodes behind them (``tests.p2putil``).

Each test attacks or breaks one promise: the handshake proves both keys and is addressed to
one node, a frame that is forged, replayed or too large closes the stream (and costs its
sender only when its MAC proves who sent it), a peer keeps at most two streams, a call with
no stream goes over signed HTTP, and stopping, evicting or banning leaves no stream or task
behind."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from sdex.gossip import GossipConfig, NodeKey, frames, served, stream
from sdex.gossip.actions import Call, Check
from sdex.gossip.client import MAX_ANSWER
from sdex.gossip.codec import FrameError
from sdex.gossip.outbox import SHORT_ID
from sdex.gossip.payload import dumps as _dumps
from sdex.gossip.payload import request as _request
from sdex.gossip.peers import Peer
from sdex.gossip.stream import (
    ACCEPTOR,
    DIALER,
    ENVELOPE,
    MAX_P2P_BODY,
    Codec,
    Link,
    StreamDown,
    dial,
)
from sdex.httpkit import RateLimiter
from tests.p2putil import Member, gossip_net, order

FAST = GossipConfig(dial_interval=0.1, ae_interval=0.3)


async def until(cond: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            got = cond()
            if not isinstance(got, bool):
                got = await got
            if got:
                return
            await asyncio.sleep(0.02)


async def open_link(a: Member, b: Member) -> Link:
    """The stream ``a`` dialed to ``b`` (opened by the first call, as the driver does)."""
    streams = a.gossip.streams
    assert streams is not None
    await until(lambda: streams.link(b.gossip.node_id, b.url) is not None)
    link = streams.link(b.gossip.node_id, b.url)
    assert link is not None
    return link


async def dial_link(a: Member, b: Member, grouped: bool) -> Link:
    """A stream of ``a``'s own to ``b`` (closed by the caller), asking for grouped answers
    or not (``acks=1``), once the driver's stream is up."""
    assert a.gossip.streams is not None and b.gossip.streams is not None
    await open_link(a, b)
    assert a.gossip.streams.session is not None
    return await dial(
        a.gossip.streams.session, a.gossip.key, a.url, b.url, b.gossip.node_id,
        a.gossip.penalize, grouped=grouped,
    )  # fmt: skip


def newest_served(b: Member, a: Member) -> served.Served:
    """The stream ``b`` serves ``a`` that opened last."""
    assert b.gossip.streams is not None
    return max(b.gossip.streams.served[a.gossip.node_id], key=lambda x: x.opened_at)


def served_from(b: Member, a: Member) -> int:
    assert b.gossip.streams is not None
    return len(b.gossip.streams.served.get(a.gossip.node_id, ()))


def closed(b: Member, a: Member, link: Link) -> Callable[[], bool]:
    """The condition: ``link`` and the streams ``b`` serves ``a`` now are closed (``a`` may
    open a new one meanwhile: its dial loop runs every 0.1 s, and a count of ``b``'s
    streams from ``a`` would then never be seen at 0 on a busy machine)."""
    assert b.gossip.streams is not None
    streams, before = b.gossip.streams, set(b.gossip.streams.served.get(a.gossip.node_id, ()))
    return lambda: not link.open and not before & streams.served.get(a.gossip.node_id, set())


def invalid(b: Member, a: Member) -> int:
    return b.gossip.peers.standing(a.gossip.node_id).invalid


async def posted_to_all(
    net: list[Member], first: int, n: int, every: int = 10, pause: float = 0.05
) -> None:
    """``n`` orders posted round the nodes of ``net`` (a pause after each ``every``: the
    pushes go in several batches); back once every node holds every one."""
    posted = [order(first + i) for i in range(n)]
    for k, o in enumerate(posted):
        net[k % len(net)].node.post(o)
        if k % every == every - 1:
            await asyncio.sleep(pause)
    hashes = {o["hash"] for o in posted}
    await until(lambda: all(set(m.node.orders) >= hashes for m in net), timeout=20)


async def test_orders_reach_every_node_over_streams() -> None:
    async with gossip_net(4, [FAST] * 4) as net:
        await posted_to_all(net, 0, 40)  # the first calls go over HTTP while the streams open
        await until(
            lambda: all(m.gossip.streams and len(m.gossip.streams.links) == 3 for m in net), 30
        )
        before = [m.gossip.stats() for m in net]
        await posted_to_all(net, 1000, 40)
        after = [m.gossip.stats() for m in net]

        def delta(key: str) -> int:
            return sum(int(b[key]) - int(a[key]) for a, b in zip(before, after, strict=True))

        # once open, the streams carry the calls (a peer exchange's hello stays HTTP)
        assert delta("streamFramesSent") >= 0.9 * delta("messagesSent") > 0, (before, after)
        assert all(int(s["streamsOpened"]) >= 3 for s in after), after


async def test_the_handshake_proves_both_keys() -> None:
    async with gossip_net(2, [FAST] * 2) as (a, b):
        session = aiohttp.ClientSession()
        try:
            # an upgrade addressed to another id is refused at b's URL (it names its target)
            with pytest.raises(StreamDown, match="401"):
                await dial(session, a.gossip.key, a.url, b.url, "0x" + "ab" * 20, lambda _: None)
            # a key b never admitted gets no stream, whatever URL it claims
            stranger = NodeKey.generate()
            with pytest.raises(StreamDown, match="403"):
                await dial(session, stranger, a.url, b.url, b.gossip.node_id, lambda _: None)
            # the real thing works, and both sides derived the same keys
            link = await dial(session, a.gossip.key, a.url, b.url, b.gossip.node_id, print)
            status, body = await link.request("GET", "/digest", None, None, 5.0)
            assert status == 200 and len(body["buckets"]) == 256
            # a replayed upgrade (the same signed headers) is refused
            path_qs = "/p2p/stream?nonce=" + "00" * 32 + "&to=" + b.gossip.node_id
            headers = a.gossip.key.request_headers("GET", path_qs, b"", a.url, b.gossip.node_id)
            async with session.get(b.url + path_qs, headers=headers) as r:
                assert r.status == 400  # a plain GET is no upgrade: refused before a stream
            async with session.get(b.url + path_qs, headers=headers) as r:
                assert r.status == 401  # and the same signature twice is a replay
            await link.close()
        finally:
            await session.close()


@pytest.mark.parametrize(
    ("attack", "costs"),
    [
        # anyone on the path could send these: the stream closes, nobody is blamed
        ("bad MAC", 0),
        ("replayed seq", 0),
        ("forged key", 0),
        ("not binary", 0),
        # its MAC proves the peer sent it: the peer pays
        ("malformed JSON", 1),
    ],
)
async def test_a_bad_frame_closes_the_stream(attack: str, costs: int) -> None:
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await open_link(a, b)
        status, _ = await link.request("GET", "/digest", None, None, 5.0)
        assert status == 200 and served_from(b, a) == 1
        before, gone = invalid(b, a), closed(b, a, link)
        payload = _dumps({"i": 99, "m": "GET", "p": "/digest", "q": {}, "b": None})
        if attack == "bad MAC":
            frame = bytearray(link.codec.seal(payload))
            frame[12] ^= 1
            await link.ws.send_bytes(bytes(frame))
        elif attack == "replayed seq":
            frame = link.codec.seal(payload)
            await link.ws.send_bytes(frame)
            await link.ws.send_bytes(frame)
        elif attack == "forged key":  # a third party knows the seq, not the session key
            guess = Codec((secrets.token_bytes(32), DIALER), (b"", ACCEPTOR))
            guess.sent = link.codec.sent
            await link.ws.send_bytes(guess.seal(payload))
        elif attack == "malformed JSON":
            await link.ws.send_bytes(link.codec.seal(b'{"i": 99, "m": '))
        else:
            await link.ws.send_str(payload.decode())
        await until(gone)
        assert invalid(b, a) == before + costs
        # the next call finds no stream and goes over HTTP (then a new stream is opened)
        sent = a.gossip.messages_sent
        a.node.post(order(7))
        await until(lambda: order(7)["hash"] in b.node.orders)
        assert a.gossip.messages_sent > sent


async def test_a_frame_over_the_limit_is_refused() -> None:
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await open_link(a, b)
        # a small route's limit: answered 413, the stream stays
        big = {"buckets": [1] * 40_000}
        status, body = await link.request("POST", "/hashes", None, big, 5.0)
        assert status == 413, body
        assert link.open and served_from(b, a) == 1
        gone = closed(b, a, link)
        # a call too large for a frame never leaves: the driver sends it over HTTP
        with pytest.raises(StreamDown):
            await link.request("POST", "/orders", None, {"x": "y" * MAX_P2P_BODY}, 5.0)
        # a frame over the websocket's limit closes the stream (never read whole)
        with contextlib.suppress(ConnectionError):  # b may hang up before it is all sent
            await link.ws.send_bytes(b"\x00" * (MAX_P2P_BODY + ENVELOPE + 1))
        await until(gone)
        assert b.gossip.peers.get(a.gossip.node_id) is not None  # b is fine


async def test_without_streams_calls_go_over_http() -> None:
    old = GossipConfig(dial_interval=0.1, ae_interval=0.3, streams=False)
    async with gossip_net(3, [FAST, old, FAST]) as net:
        posted = [order(100 + i) for i in range(20)]
        for k, o in enumerate(posted):
            net[k % 3].node.post(o)
        hashes = {o["hash"] for o in posted}
        await until(lambda: all(set(m.node.orders) >= hashes for m in net), timeout=20)
        old_id = net[1].gossip.node_id
        for m in (net[0], net[2]):
            assert m.gossip.streams is not None
            assert old_id not in m.gossip.streams.links  # 404: it takes no streams
        assert net[1].gossip.stats().get("streamFramesSent") is None


async def test_a_broken_stream_falls_back_to_http_and_reopens() -> None:
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await open_link(a, b)
        assert b.gossip.streams is not None and a.gossip.streams is not None
        opened = a.gossip.streams.opened
        b.gossip.streams.drop(a.gossip.node_id)  # b hangs up
        await until(lambda: not link.open)
        a.node.post(order(200))
        await until(lambda: order(200)["hash"] in b.node.orders)
        await until(lambda: a.gossip.streams is not None and a.gossip.streams.opened > opened)


async def test_a_banned_peer_loses_its_streams() -> None:
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await open_link(a, b)
        b.gossip.penalize(a.gossip.node_id, 10)
        await until(lambda: served_from(b, a) == 0 and not link.open)
        # and it cannot open another one
        session = aiohttp.ClientSession()
        try:
            with pytest.raises(StreamDown, match="403"):
                await dial(session, a.gossip.key, a.url, b.url, b.gossip.node_id, print)
        finally:
            await session.close()


async def test_stopping_leaves_no_stream_task() -> None:
    async with gossip_net(3, [FAST] * 3) as net:
        for k in range(30):
            net[k % 3].node.post(order(300 + k))
        await until(lambda: all(len(m.node.orders) >= 30 for m in net))
        # (anti-entropy calls every peer: each node soon has streams open)
        await until(
            lambda: all(m.gossip.streams is not None and m.gossip.streams.links for m in net)
        )
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() if t.get_name().startswith("gossip")]
    assert left == []


async def test_an_idle_stream_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served, "IDLE", 0.3)
    quiet = GossipConfig(dial_interval=0.1, ae_interval=3600.0, peer_exchange_interval=3600.0)
    async with gossip_net(2, [quiet] * 2) as (a, b):
        link = await open_link(a, b)
        assert served_from(b, a) == 1
        await until(lambda: served_from(b, a) == 0 and not link.open)
        assert invalid(b, a) == 0  # idling is no fault


async def test_a_failing_route_is_answered_500_and_the_stream_stays() -> None:
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await open_link(a, b)

        def broken() -> list[str]:
            raise RuntimeError("a bug in the node")

        b.node.digest = broken  # type: ignore[method-assign]
        status, body = await link.request("GET", "/digest", None, None, 5.0)
        assert status == 500 and body["reason"] == "internal error"
        assert link.open and served_from(b, a) == 1
        assert invalid(b, a) == 0  # our bug is not the peer's fault


async def test_an_upgrade_replayed_at_another_node_is_refused() -> None:
    """A peer that got an honest node's signed upgrade cannot replay it at a third node
    (to have frames there blamed on the honest node): the upgrade names its target."""
    async with gossip_net(3, [FAST] * 3) as (a, b, c):
        path_qs = "/p2p/stream?nonce=" + "11" * 32 + "&to=" + b.gossip.node_id
        headers = a.gossip.key.request_headers("GET", path_qs, b"", a.url, b.gossip.node_id)
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(c.url + path_qs, headers=headers)
        assert refused.value.status == 401
        assert invalid(c, a) == 0 and not c.gossip.peers.is_banned(a.gossip.node_id)


async def test_a_peer_keeps_at_most_two_streams() -> None:
    async with gossip_net(2, [FAST] * 2) as (a, b):
        await open_link(a, b)
        links = []
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                links.append(
                    await dial(session, a.gossip.key, a.url, b.url, b.gossip.node_id, print)
                )
            await until(lambda: served_from(b, a) == 2)
            assert links[-1].open  # the newest ones stay
            status, _ = await links[-1].request("GET", "/digest", None, None, 5.0)
            assert status == 200
            for link in links:
                await link.close()


@pytest.mark.parametrize("why", ["over its rate limit", "no longer admitted"])
async def test_a_frame_the_peer_may_not_send_closes_the_stream_unread(
    why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame is charged to its peer before its JSON is read, and a peer that left the
    table keeps no stream: either way the stream closes, and nobody is blamed."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await open_link(a, b)
        status, _ = await link.request("GET", "/digest", None, None, 5.0)
        assert status == 200 and served_from(b, a) == 1
        before, gone = invalid(b, a), closed(b, a, link)
        if why == "over its rate limit":
            take, sender = RateLimiter.take, a.gossip.node_id

            def over(self: RateLimiter, key: str) -> tuple[bool, dict[str, str]]:
                return (False, {}) if key == sender else take(self, key)

            monkeypatch.setattr(RateLimiter, "take", over)
        else:
            # as a full table of healthy peers evicts it and keeps it out: a's hello (or
            # b's dial of a, every 0.1 s here) must not admit it again before the frame
            # arrives, as it did once on a loaded machine
            peers, gone_key = b.gossip.peers, a.gossip.node_id
            admit = peers.admit

            def full(key: str, url: str) -> Peer | None:
                return None if key == gone_key else admit(key, url)

            monkeypatch.setattr(peers, "admit", full)
            peers._drop(gone_key)
        with pytest.raises(StreamDown):
            await link.request("GET", "/digest", None, None, 5.0)
        await until(gone)
        assert invalid(b, a) == before


async def test_a_call_the_peer_does_not_answer_times_out() -> None:
    """The call's deadline (one timer per stream, ``sdex.gossip.deadlines``) still bounds it."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await open_link(a, b)
        never = asyncio.Event()

        async def stuck(objs: list[object], peer: str) -> list[str]:
            await never.wait()
            return []

        b.node.submit_many_from_peer = stuck  # type: ignore[method-assign]
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await link.request("POST", "/orders", None, {"orders": [order(1)]}, 0.3)
        assert 0.3 <= loop.time() - started < 2.0
        # later calls keep their own deadlines: the stream still answers a quick one
        status, _ = await link.request("GET", "/digest", None, None, 5.0)
        assert status == 200 and link.open
        never.set()


async def test_a_push_of_held_copies_is_not_queued_behind_another_check() -> None:
    """Peers' checks run one at a time (wallets first); a push whose orders this node holds
    already needs no check, so it is answered while a check of new orders is under way.
    Anything else waits its turn: a held order changed in any field (it is checked, and
    forged), held copies with a new order, an empty push, a banned sender's held copies."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await open_link(a, b)
        never, started = asyncio.Event(), asyncio.Event()
        seen: list[list[object]] = []

        async def stuck(objs: list[object], peer: str) -> list[str]:
            seen.append(objs)
            started.set()
            await never.wait()
            return ["rejected"] * len(objs)

        b.node.add(order(2))
        b.node.submit_many_from_peer = stuck  # type: ignore[method-assign]
        new = asyncio.create_task(link.request("POST", "/orders", None, {"orders": [order(1)]}, 30))
        await asyncio.wait_for(started.wait(), 10)  # the new order's check holds the queue
        status, body = await link.request("POST", "/orders", None, {"orders": [order(2)]}, 10)
        assert status == 200 and body["known"] == 1 and not new.done()
        assert b.gossip.push_timing.known == 1

        tampered = {**order(2), "makerAmount": "1"}
        bad = "0x" + "77" * 20
        b.gossip.peers.penalize(bad, 1000)
        assert b.gossip.peers.is_banned(bad)
        waiting = [
            asyncio.create_task(link.request("POST", "/orders", None, {"orders": o}, 30))
            for o in ([tampered], [order(2), order(3)], [])
        ]
        banned = b.gossip.core.receive(bad, [order(2)])
        waiting.append(asyncio.create_task(b.gossip.run_check(banned)))
        probe = await link.request("POST", "/orders", None, {"orders": [order(2)]}, 10)
        assert probe[0] == 200 and probe[1]["known"] == 1  # (the pushes above were served)
        assert not any(t.done() for t in [new, *waiting])
        assert b.gossip.push_timing.known == 2
        never.set()
        assert (await new)[0] == 200
        replies = await asyncio.gather(*waiting)
        assert [r[0] for r in replies[:3]] == [200, 200, 200]
        assert replies[3]["rejected"] == 1
        # only the new order of a mix; the checks that waited went in together (one call)
        assert seen == [[order(1)], [tampered, order(3)]]


async def test_checks_that_waited_go_through_the_intake_together() -> None:
    """While one check is in the intake, the pushes that arrive wait; then they go in as one
    call, whoever sent them, each order with its own sender (a forged one costs only its
    sender), and each push is answered with its own verdicts. A waiting check that goes
    away leaves the queue; a leading check that goes away hands the lead on."""
    async with gossip_net(3, [FAST] * 3) as (a, b, c):
        to_b, c_to_b = await open_link(a, b), await open_link(c, b)
        ka, kc = a.gossip.core.node_id, c.gossip.core.node_id
        gate, started = asyncio.Event(), asyncio.Event()
        calls: list[tuple[list[object], list[str]]] = []
        real = b.node.submit_many_from_peer

        async def held(objs: list[object], peer: str | list[str]) -> list[str]:
            calls.append((objs, peer if isinstance(peer, list) else [peer] * len(objs)))
            started.set()
            await gate.wait()
            return await real(objs, peer)

        b.node.submit_many_from_peer = held  # type: ignore[method-assign]
        first = asyncio.create_task(
            to_b.request("POST", "/orders", None, {"orders": [order(1)]}, 30)
        )
        await asyncio.wait_for(started.wait(), 10)
        forged = {**order(4), "forged": True}
        pushes = [
            asyncio.create_task(to_b.request("POST", "/orders", None, {"orders": [order(2)]}, 30)),
            asyncio.create_task(
                c_to_b.request("POST", "/orders", None, {"orders": [order(3), forged]}, 30)
            ),
        ]
        await until(lambda: len(b.gossip.checks._queue) == 3)
        gate.set()
        assert (await first)[1]["accepted"] == 1
        (sa, ra), (sc, rc) = await asyncio.gather(*pushes)
        assert (sa, ra["accepted"], ra["rejected"]) == (200, 1, 0)
        assert (sc, rc["accepted"], rc["rejected"]) == (200, 1, 1)  # (the forged one)
        # the two pushes came on two connections: either may be read first, each in its order
        a_first = ([order(2), order(3), forged], [ka, kc, kc])
        c_first = ([order(3), forged, order(2)], [kc, kc, ka])
        assert calls[0] == ([order(1)], [ka]) and len(calls) == 2
        assert calls[1] in (a_first, c_first)
        assert b.gossip.checks.merged == 1 and b.gossip.checks.groups == 2
        assert b.gossip.peers.get(kc).score < b.gossip.peers.get(ka).score  # type: ignore[union-attr]

        # one that goes away while waiting, and the leader going away: the rest still run
        gate.clear()
        started.clear()
        lead = asyncio.create_task(b.gossip.run_check(b.gossip.core.receive(ka, [order(5)])))
        await asyncio.wait_for(started.wait(), 10)
        gone = asyncio.create_task(b.gossip.run_check(b.gossip.core.receive(ka, [order(6)])))
        last = asyncio.create_task(b.gossip.run_check(b.gossip.core.receive(kc, [order(7)])))
        await until(lambda: len(b.gossip.checks._queue) == 3)
        gone.cancel()
        await until(lambda: len(b.gossip.checks._queue) == 2)
        lead.cancel()
        gate.set()
        assert (await last)["accepted"] == 1
        assert calls[-1] == ([order(7)], [kc]) and order(6)["hash"] not in b.node.orders
        assert not b.gossip.checks._queue and not b.gossip.checks._leading
        waiting = b.gossip.core._waiting.values()
        assert not [p for p in waiting if isinstance(p.action, Check)]  # (all heard over)


@pytest.mark.parametrize("grouped", [True, False])
async def test_a_turns_answers_go_in_one_frame_to_a_dialer_that_asks(grouped: bool) -> None:
    """Pushes checked together are answered in the same turn: a dialer that asked for it
    (``acks=1``) gets their answers in one frame, each call its own; an older dialer (it
    did not ask) one frame each."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await dial_link(a, b, grouped)
        try:
            gate, started = asyncio.Event(), asyncio.Event()
            real = b.node.submit_many_from_peer

            async def held(objs: list[object], peer: str | list[str]) -> list[str]:
                started.set()
                await gate.wait()
                return await real(objs, peer)

            b.node.submit_many_from_peer = held  # type: ignore[method-assign]
            forged = {**order(4), "forged": True}
            bodies = [[order(1)], [order(2)], [order(3), forged]]
            calls = []
            for orders in bodies:
                push = link.request("POST", "/orders", None, {"orders": orders}, 30)
                calls.append(asyncio.create_task(push))
                await asyncio.wait_for(started.wait(), 10)
            await until(lambda: len(b.gossip.checks._queue) == 3)
            ours = newest_served(b, a)
            before = ours.answer_frames
            gate.set()
            replies = await asyncio.gather(*calls)
            assert [(r[0], r[1]["accepted"], r[1]["rejected"]) for r in replies] == [
                (200, 1, 0), (200, 1, 0), (200, 1, 1)
            ]  # fmt: skip
            # the first alone (it led); the two that waited were checked, and answered, together
            assert ours.answer_frames - before == (2 if grouped else 3)
        finally:
            await link.close()


@pytest.mark.parametrize(("mib", "calls", "frames"), [(5, 2, 2), (3, 3, 2)])
async def test_large_answers_ready_together_stay_within_what_the_dialer_reads(
    mib: int, calls: int, frames: int
) -> None:
    """``/fetch`` answers of a few MiB each ready in the same turn: together they would
    pass the dialer's frame limit (``MAX_ANSWER``, the stream would close and every call on
    it fail), so a large one (5 MiB) goes alone, and a group takes what fits (two of 3 MiB,
    the third alone): every call is answered."""
    slow = GossipConfig(dial_interval=0.1, ae_interval=3600)
    async with gossip_net(2, [slow] * 2) as (a, b):
        link = await dial_link(a, b, True)
        try:
            big = [{**order(i), "pad": "x" * 2**20} for i in range(mib)]
            for o in big:  # (both hold them: anti-entropy has nothing to fetch)
                a.node.add(o)
                b.node.add(o)
            gate = asyncio.Event()

            async def proofs(hashes: object) -> list[dict[str, str]]:
                await gate.wait()
                return []

            b.node.cancel_proofs = proofs  # type: ignore[method-assign]
            ours = newest_served(b, a)
            body = {"hashes": [o["hash"] for o in big], "why": []}
            asked = [
                asyncio.create_task(link.request("POST", "/fetch", None, body, 30))
                for _ in range(calls)
            ]
            await until(lambda: len(ours._tasks) == calls)
            before = ours.answer_frames
            gate.set()  # the answers are ready in the same turn
            replies = await asyncio.gather(*asked)
            assert [(r[0], len(r[1]["orders"])) for r in replies] == [(200, mib)] * calls
            assert mib * 2**20 < len(_dumps(replies[0][1])) < MAX_ANSWER
            assert ours.answer_frames - before == frames and link.open
        finally:
            await link.close()


@pytest.mark.parametrize("grouped", [True, False])
async def test_an_answer_over_what_the_dialer_reads_fails_that_call_only(grouped: bool) -> None:
    """A ``/fetch`` whose answer (nine orders of 1 MiB) is over ``MAX_ANSWER``: sent, it
    would pass the dialer's frame limit and close the stream (every call on it failing).
    That call alone is answered with a bounded error; the stream stays open, and its next
    call is answered. (The dialer still reads no frame over ``MAX_ANSWER``: the test
    above, and ``test_a_frame_over_the_limit_is_refused`` for the other way.)"""
    slow = GossipConfig(dial_interval=0.1, ae_interval=3600)
    async with gossip_net(2, [slow] * 2) as (a, b):
        b.node.whole = True  # (it answers with every order: an honest node, what fits)
        link = await dial_link(a, b, grouped)
        try:
            big = [{**order(i), "pad": "x" * 2**20} for i in range(MAX_ANSWER // 2**20 + 1)]
            for o in big:  # (both hold them: anti-entropy has nothing to fetch)
                a.node.add(o)
                b.node.add(o)
            body = {"hashes": [o["hash"] for o in big], "why": []}
            status, answer = await link.request("POST", "/fetch", None, body, 30)
            assert status == frames.TOO_LARGE and "over" in answer["reason"], answer
            assert len(_dumps(answer)) < 1024 and link.open
            one = {"hashes": [big[0]["hash"]], "why": []}
            status, answer = await link.request("POST", "/fetch", None, one, 30)
            assert (status, len(answer["orders"])) == (200, 1) and link.open
        finally:
            await link.close()


async def test_a_malformed_group_of_answers_closes_the_stream() -> None:
    """A group of answers is bounded and shaped; its MAC proves who sent a bad one."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await open_link(a, b)
        assert (await link.request("GET", "/digest", None, None, 5.0))[0] == 200
        assert b.gossip.streams is not None
        (served,) = b.gossip.streams.served[a.gossip.node_id]
        before = a.gossip.peers.standing(b.gossip.node_id).invalid
        await served.ws.send_bytes(served.codec.seal(_dumps({"a": [[1, 200]]})))
        await until(lambda: not link.open)
        assert a.gossip.peers.standing(b.gossip.node_id).invalid == before + 1
        link = await open_link(a, b)  # a new stream; too many answers in one frame
        assert (await link.request("GET", "/digest", None, None, 5.0))[0] == 200
        (served,) = [x for x in b.gossip.streams.served[a.gossip.node_id] if not x.ws.closed]
        many = [[10**6 + i, 200, None] for i in range(stream.MAX_ANSWERS + 1)]
        await served.ws.send_bytes(served.codec.seal(_dumps({"a": many})))
        await until(lambda: not link.open)
        assert a.gossip.peers.standing(b.gossip.node_id).invalid == before + 2


async def test_a_check_that_fails_still_ends_and_only_pushes_are_timed() -> None:
    """Whatever a check raises (here the known-copy test), the core hears it is over (no
    Pending left for ever); a push with no orders, or one that fails, costs no hold and is
    counted as failed; an anti-entropy fetch's check is not counted as a push."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        g, key = b.gossip, a.gossip.core.node_id
        timing = g.push_timing

        def broken(obj: object) -> bool:
            raise RuntimeError("known_copy broke")

        real = b.node.known_copy
        b.node.known_copy = broken  # type: ignore[method-assign]
        check = g.core.receive(key, [order(1)])
        with pytest.raises(RuntimeError):
            await g.run_check(check)
        assert check.id not in g.core._waiting
        b.node.known_copy = real  # type: ignore[method-assign]

        url = "http://127.0.0.1:9"
        g.links_blocked.add(url)
        g._run([Call(10**9, "push", url, "POST", "/p2p/orders", {"also": []})])
        await until(lambda: timing.failed == 1)
        assert not sum(timing.hold.counts)

        flow = g.core.check(key, [order(5)])
        assert (await g.run_check(flow))["accepted"] == 1
        assert not sum(timing.queue.counts) and not sum(timing.check.counts)
        assert (await g.run_check(g.core.receive(key, [order(6)])))["accepted"] == 1
        assert sum(timing.queue.counts) == 1 and sum(timing.check.counts) == 1


def test_a_push_frame_encodes_each_order_once() -> None:
    """A push's payload is the plain encoding of its envelope, its orders' JSON reused."""
    shared, other = order(1), order(2)
    first = _request(1, "POST", "/orders", {}, {"orders": [shared, other]})
    again = _request(2, "POST", "/orders", {}, {"orders": [shared]})
    assert first == _dumps(
        {"i": 1, "m": "POST", "p": "/orders", "q": {}, "b": {"orders": [shared, other]}}
    )
    assert again == _dumps(
        {"i": 2, "m": "POST", "p": "/orders", "q": {}, "b": {"orders": [shared]}}
    )
    equal_not_same = dict(shared)
    equal_not_same["salt"] = "9"  # another object: encoded afresh, never a stale text
    assert b'"salt":"9"' in _request(3, "POST", "/orders", {}, {"orders": [equal_not_same]})
    pushed = {"orders": [shared, other], "also": ["0a0b0c0d"]}  # a push with its hint
    assert _request(5, "POST", "/orders", {}, pushed) == _dumps(
        {"i": 5, "m": "POST", "p": "/orders", "q": {}, "b": pushed}
    )
    for body in (None, {"hashes": ["0x01"]}, {"orders": "x"}):
        assert _request(4, "GET", "/x", {"a": "b"}, body) == _dumps(
            {"i": 4, "m": "GET", "p": "/x", "q": {"a": "b"}, "b": body}
        )


def test_a_frame_is_sealed_with_hmac_sha256_and_checked_in_sequence() -> None:
    """The codec's MAC (the key set up once, copied per frame) is HMAC-SHA256's bytes: the
    wire is the same as ``hmac.digest``'s; a changed bit, a replay or a frame from another
    key is refused."""
    d2a, a2d = secrets.token_bytes(32), secrets.token_bytes(32)
    dialer = Codec((d2a, DIALER), (a2d, ACCEPTOR))
    acceptor = Codec((a2d, ACCEPTOR), (d2a, DIALER))
    sealed = []
    for k, payload in enumerate([b"", b"x" * 63, b"y" * 64, b"z" * 5000]):
        frame = dialer.seal(payload)
        sealed.append(frame)
        seq = k.to_bytes(8, "big")
        assert frame == seq + hmac.digest(d2a, DIALER + seq + payload, "sha256") + payload
        assert acceptor.open(frame) == payload
    answer = acceptor.seal(b"{}")
    assert answer[8:40] == hmac.digest(a2d, ACCEPTOR + bytes(8) + b"{}", "sha256")
    assert dialer.open(answer) == b"{}"
    frame = bytearray(dialer.seal(b"{}"))
    frame[-1] ^= 1
    with pytest.raises(FrameError, match="bad MAC"):
        acceptor.open(bytes(frame))
    with pytest.raises(FrameError, match="out of sequence"):
        acceptor.open(sealed[0])  # replayed
    stranger = Codec((secrets.token_bytes(32), DIALER), (a2d, ACCEPTOR))
    stranger.sent = acceptor.received
    with pytest.raises(FrameError, match="bad MAC"):
        acceptor.open(stranger.seal(b"{}"))


async def test_a_push_s_more_reaches_the_receiver_s_hints() -> None:
    """A push's ``more`` goes from the stream route to the core: the receiver names a peer
    for those orders of the push alone (``Heard.hint_some``), as ``also`` for all."""
    async with gossip_net(3, [FAST] * 3) as (a, b, c):
        core = b.gossip.core
        await until(lambda: c.gossip.node_id in core.mesh)
        link = await open_link(a, b)
        short = c.gossip.node_id[-SHORT_ID:]
        body = {"orders": [order(1), order(2)], "also": [], "more": [[short, [1]]]}
        status, _ = await link.request("POST", "/orders", None, body, 10)
        assert status == 200
        hinted = core._heard._hinted
        assert hinted.get(order(2)["signature"]) == {c.gossip.node_id}
        assert order(1)["signature"] not in hinted
