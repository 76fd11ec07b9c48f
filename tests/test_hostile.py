"""Hostile peers against real node processes: every hole found when the network was attacked.

The attacker is the test: it signs /p2p/ requests with keys of its own (``PeerClient``) and
runs a lying peer (``HostilePeer``, a real aiohttp server on loopback that signs what it
answers). Each test names the defect it guards against (issue 10, items 1-6).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sdex.gossip import NodeKey, PeerClient
from sdex.gossip.identity import verify_request
from sdex.node.core import Node
from sdex.order import sign_hash, sign_order
from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Cluster, free_port, wait_for
from tests.test_gossip import converged
from tests.test_node import E6, E18, ask, bid

Answer = Callable[[web.Request], Any]


class HostilePeer:
    """A peer that answers every signed /p2p/ request with what ``answers[path]`` returns
    (a JSON-able object, or bytes sent as they are, or a coroutine of either), signed with
    its own key.

    Its port is bound at once, before ``serving`` (``url`` goes into a node's config first):
    a port picked by ``free_port`` and bound at ``serving`` could be taken in between, and a
    node under test then dialled some other process (or its seed refused connections)."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.key = NodeKey.generate()
        self.answers = answers
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))  # (refused until ``serving`` listens on it)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: dict[str, int] = {}

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.calls[path] = self.calls.get(path, 0) + 1
        signed = verify_request(request.method, request.raw_path, dict(request.headers))
        await request.read()
        make = self.answers.get(path)
        if make is None:
            return web.Response(status=404)
        result = make(request)
        if asyncio.iscoroutine(result):  # (an answer that reads the request's body)
            result = await result
        data = result if isinstance(result, bytes) else json.dumps(result).encode()
        headers = self.key.answer_headers(signed.signature, 200, data)
        return web.Response(body=data, content_type="application/json", headers=headers)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[HostilePeer]:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, self._sock).start()
        try:
            yield self
        finally:
            await runner.cleanup()  # (the socket closed with it: served once)


def hello_answer(peer: HostilePeer, peers: list[str] | None = None) -> Answer:
    return lambda _r: {"nodeId": peer.key.node_id, "peers": peers or []}


async def test_a_hostile_peers_port_is_its_own_from_its_making() -> None:
    """Its URL goes into a node's config before it serves: nobody else may bind its port in
    between (before: ``free_port``'s pick, bound only at ``serving``), and it answers there."""
    peer = HostilePeer({})
    with socket.socket() as other:
        try:
            other.bind(("127.0.0.1", peer.port))
        except OSError:
            pass
        else:
            raise AssertionError(f"another socket bound port {peer.port} before it served")
    async with peer.serving(), aiohttp.ClientSession() as session, session.get(peer.url + "/x"):
        assert peer.calls == {"/x": 1}  # (answered by this peer: unsigned, refused)


def nested(depth: int) -> bytes:
    return b'{"orders":' + b"[" * depth + b"]" * depth + b"}"


async def alive(net: Cluster, i: int) -> None:
    proc = net.procs[i]
    assert proc is not None and proc.poll() is None, f"node {i} died"
    code, _ = await net.api(i).get("/health")
    assert code == 200


async def test_deep_json_anywhere_never_kills_a_node(chain: Chain, tmp_path: Path) -> None:
    """Item 1: a body nested 10^3..10^6 deep on every POST path, and as a peer's answer."""
    async with Cluster(chain, tmp_path, [[], [0]]) as net:
        assert net.session is not None
        wallet_paths = ["/v1/orders", "/v1/orders/0x" + "ab" * 32 + "/cancel", "/admin/links"]
        to = net.node_key(0).node_id
        p2p_paths = ["/p2p/orders", "/p2p/hashes", "/p2p/fetch", "/p2p/hello", "/p2p/cancels"]
        for depth in (10**3, 10**4, 10**5, 10**6):
            body = nested(depth)
            for path in wallet_paths:
                async with net.session.post(
                    net.urls[0] + path, data=body, headers={"Content-Type": "application/json"}
                ) as r:
                    assert r.status in (400, 413), (path, depth, r.status)
            for path in p2p_paths:  # a fresh key each time (the node bans a repeat offender)
                liar = PeerClient(net.session, NodeKey.generate(), "http://127.0.0.1:9")
                answer = await _raw_signed_post(liar, net.urls[0], path, body, to)
                assert answer in (400, 413), (path, depth, answer)
            await alive(net, 0)
        # as a peer's answers: a hostile node the victim dials (its hello, digest, snapshot)
        deep = nested(10**5)
        hostile = HostilePeer({})
        hostile.answers = {
            "/p2p/hello": lambda _r: deep,
            "/p2p/snapshot": lambda _r: deep,
            "/p2p/digest": lambda _r: deep,
        }
        async with hostile.serving():
            # it is introduced to node 1 (a signed hello, addressed: a first hello introduces
            # only its signer's own URL, peer30): node 1 dials it
            liar = PeerClient(net.session, NodeKey.generate(), "http://127.0.0.1:9")
            shared = {"peers": [hostile.url]}
            to1 = net.node_key(1).node_id
            hello = await liar.call("POST", net.urls[1], "/p2p/hello", shared, to=to1)
            assert hello.status == 200
            await wait_for(lambda: hostile.calls.get("/p2p/hello", 0) >= 1, timeout=60)
            await alive(net, 1)
            await alive(net, 0)
            _, health = await net.api(1).get("/health")
            assert hostile.url not in {p["url"] for p in health["gossip"]["peers"]}


def addressee(node: Node) -> str:
    """The node id a request to ``node`` is signed for (``X-SDEX-To``)."""
    assert node.gossip is not None
    return node.gossip.key.node_id


async def _raw_signed_post(client: PeerClient, url: str, path: str, body: bytes, to: str) -> int:
    """POST raw bytes, signed as ``client``'s key would sign them for the node ``to``; the
    HTTP status."""
    headers = client.key.request_headers("POST", path, body, client.me, to)
    headers["Content-Type"] = "application/json"
    async with client.session.post(url + path, data=body, headers=headers) as r:
        return r.status


async def test_forged_orders_under_honest_urls_ban_only_the_forger(
    chain: Chain, tmp_path: Path
) -> None:
    """Item 2: forged orders sent "as" the honest peers (their URLs claimed) ban the key
    that signed them; the honest peers keep gossiping both ways, and a stranger that claims
    the victim's own URL is banned like anyone else."""
    c = chain
    async with Cluster(c, tmp_path, [[], [0], [0, 1]]) as net:
        assert net.session is not None
        victim, to = net.urls[0], net.node_key(0).node_id
        forged = [
            sign_order(ask(c, 1, E18, (3000 + k) * E6), c.domain, c.keys[2]).to_json()
            for k in range(10)
        ]
        for claimed in (net.urls[1], net.urls[2], victim):
            forger = PeerClient(net.session, NodeKey.generate(), claimed)
            statuses: list[int] = []

            async def push(k: int) -> int:
                answer = await forger.call(  # noqa: B023 (awaited in this round only)
                    "POST", victim, "/p2p/orders", {"orders": forged[k : k + 2]}, to=to
                )
                statuses.append(answer.status)  # noqa: B023
                return answer.status

            for k in range(0, 8, 2):
                await push(k)
            # (charged once their makers still have no code a few blocks later: signer78)
            c.rpc.call("hardhat_mine", "0x3")

            async def banned() -> bool:
                return await push(8) == 403

            await wait_for(banned, 60)  # this key is banned
        # a request replayed as it was signed is refused (nobody can reuse an honest one)
        forger = PeerClient(net.session, NodeKey.generate(), net.urls[1])
        body = json.dumps({"buckets": [1]}).encode()
        headers = forger.key.request_headers("POST", "/p2p/hashes", body, forger.me, to)
        headers["Content-Type"] = "application/json"
        statuses = []
        for _ in range(2):
            async with net.session.post(victim + "/p2p/hashes", data=body, headers=headers) as r:
                statuses.append(r.status)
        assert statuses == [200, 401]
        # honest gossip still flows both ways
        one = c.sign(ask(c, 3, E18, 3300 * E6))
        two = c.sign(bid(c, 4, E18, 2000 * E6))
        assert (await net.api(1).post_taken(one))[0] == 201
        assert (await net.api(0).post_taken(two))[0] == 201
        await wait_for(lambda: converged(net, {one.hash_hex, two.hash_hex}, range(3)), timeout=60)
        honest = {net.node_key(i).node_id for i in (1, 2)}
        listed: dict[str, dict[str, object]] = {}

        async def both_listed() -> bool:
            # the orders may have converged through node 1 before node 0 admitted node 2
            # (admission waits for node 0's own signed hello to node 2): wait for both keys
            _, health = await net.api(0).get("/health")
            listed.clear()
            listed.update({p["key"]: p for p in health["gossip"]["peers"]})
            return honest <= listed.keys()

        await wait_for(both_listed, timeout=30)
        for key in honest:
            assert not listed[key]["banned"], listed[key]


async def test_made_up_urls_never_fill_the_peer_table(chain: Chain, tmp_path: Path) -> None:
    """Item 3: a hello listing 64 made-up URLs (and one per fresh key after that) does not
    fill the table; a new node still joins."""
    c = chain
    async with Cluster(c, tmp_path, [[], [0], [0]], GOSSIP_SCALE) as net:
        assert net.session is not None
        dead = [f"http://127.0.0.1:{free_port()}" for _ in range(64)]
        for k in range(4):  # several keys, each with the whole list
            liar = PeerClient(net.session, NodeKey.generate(), dead[k])
            answer = await liar.call("POST", net.urls[0], "/p2p/hello", {"peers": dead})
            assert answer.status == 200
            assert not set(answer.body["peers"]) & set(dead)  # not passed on unverified

        async def only_real_peers() -> bool:
            _, health = await net.api(0).get("/health")
            urls = {p["url"] for p in health["gossip"]["peers"]}
            return urls == {net.urls[1], net.urls[2]} and health["gossip"]["candidates"] == 0

        await wait_for(only_real_peers, timeout=60)  # the fakes were tried once and dropped
        order = c.sign(ask(c, 5, E18, 3500 * E6))
        assert (await net.api(2).post_taken(order))[0] == 201
        await wait_for(lambda: converged(net, {order.hash_hex}, range(3)), timeout=60)


async def test_lying_sync_peers_cost_bounded_work(chain: Chain, tmp_path: Path) -> None:
    """Item 4: a snapshot peer whose cursor always grows and a fetch peer that answers 5,000
    forged orders: the bootstrap ends, anti-entropy starts (with the honest peer), pulls
    from the liar stop at its ban, and the node keeps answering wallets."""
    c = chain
    forged = [
        sign_order(ask(c, 1, E18, (3000 + k) * E6), c.domain, c.keys[2]).to_json()
        for k in range(50)
    ]

    def snapshot(r: web.Request) -> object:
        after = int(r.query.get("after", "0"))
        return {"orders": forged[:1], "next": after + 1}

    hostile = HostilePeer({})
    hostile.answers = {
        "/p2p/hello": hello_answer(hostile),
        "/p2p/snapshot": snapshot,
        "/p2p/digest": lambda _r: {"buckets": [f"{k + 1:x}" for k in range(256)]},
        "/p2p/hashes": lambda _r: {"hashes": ["0x" + f"{k:064x}" for k in range(5000)]},
        "/p2p/fetch": lambda _r: {"orders": forged * 100, "cancels": []},
    }
    async with hostile.serving(), Cluster(c, tmp_path, [[]]) as net:
        honest = c.sign(ask(c, 6, E18, 3600 * E6))
        assert (await net.api(0).post_taken(honest))[0] == 201
        # a new node whose seeds are the liar and the honest node
        net.add_node(peer_urls=[hostile.url, net.urls[0]])
        await net.wait_healthy(1)
        await wait_for(lambda: converged(net, {honest.hash_hex}, [1]), timeout=30)
        wallet = c.sign(bid(c, 7, E18, 2000 * E6))
        assert (await net.api(1).post_taken(wallet))[0] == 201

        await wait_for(lambda: converged(net, {honest.hash_hex, wallet.hash_hex}, [0, 1]))
        # after the ban nothing more is pulled from it (a few calls may have been in flight)
        again = c.sign(ask(c, 8, E18, 3700 * E6))
        assert (await net.api(0).post_taken(again))[0] == 201
        await wait_for(
            lambda: converged(net, {honest.hash_hex, wallet.hash_hex, again.hash_hex}, [1])
        )
        assert hostile.calls.get("/p2p/snapshot", 0) <= 10
        assert hostile.calls.get("/p2p/fetch", 0) <= 8
        await alive(net, 1)


async def test_ioc_fok_and_fully_matched_orders_never_leave_their_node(
    chain: Chain, tmp_path: Path
) -> None:
    """Item 5: the CLI said "removed, dropped / no match" and the IOC order later traded on
    another node. Only orders that rest are gossiped."""
    c = chain
    async with Cluster(c, tmp_path, [[], [0]]) as net:
        ioc = c.sign(ask(c, 1, E18, 3000 * E6))
        fok = c.sign(ask(c, 2, E18, 3001 * E6))
        code, body = await net.api(0).post_taken(ioc, tif="ioc")
        assert code == 201 and body["metaData"]["status"] == "removed", body
        code, body = await net.api(0).post_taken(fok, tif="fok")
        assert code == 201 and body["metaData"]["status"] == "removed", body
        # a GTC order matched in full at arrival does not rest either
        resting = c.sign(ask(c, 3, E18, 2900 * E6))
        assert (await net.api(0).post_taken(resting))[0] == 201
        await wait_for(lambda: converged(net, {resting.hash_hex}, [1]), timeout=60)
        taker = c.sign(bid(c, 4, E18, 2900 * E6))
        code, body = await net.api(0).post_taken(taker)
        assert code == 201 and body["outcome"] == "filled", body
        marker = c.sign(ask(c, 5, E18, 3500 * E6))  # gossiped after all of the above
        assert (await net.api(0).post_taken(marker))[0] == 201
        await wait_for(lambda: converged(net, {marker.hash_hex}, [1]), timeout=60)
        for s in (ioc, fok, taker):
            code, _ = await net.api(1).get(f"/v1/orders/{s.hash_hex}")
            assert code == 404, s.hash_hex  # never reached the peer
        # a bid that would have crossed the IOC on node 1 rests there untouched
        late = c.sign(bid(c, 6, E18, 3100 * E6))
        assert (await net.api(1).post_taken(late))[0] == 201
        assert c.exchange.order_info(ioc.order).filled == 0
        assert c.exchange.order_info(fok.order).filled == 0


async def test_self_trade_is_refused_everywhere_the_same_way(chain: Chain, tmp_path: Path) -> None:
    """Item 6: self-trade removed the resting order on one node only (a crossed book
    elsewhere). Now an order that would trade with its maker's resting order is refused
    before it is stored or gossiped; two such orders posted to two nodes at once both rest
    on every node (a self-cross is never matched nor removed)."""
    c = chain
    async with Cluster(c, tmp_path, [[], [0]]) as net:
        resting = c.sign(ask(c, 1, E18, 3000 * E6))
        assert (await net.api(0).post_taken(resting))[0] == 201
        await wait_for(lambda: converged(net, {resting.hash_hex}, [0, 1]), timeout=60)
        own = c.sign(bid(c, 1, E18, 3100 * E6))
        for i in (0, 1):
            code, body = await net.api(i).post_order(own)
            assert code == 400 and body["rejection"] == "SELF_TRADE", body
            assert (await net.api(i).get(f"/v1/orders/{own.hash_hex}"))[0] == 404
        assert await converged(net, {resting.hash_hex}, [0, 1])
        # a race: the same maker's crossing orders reach two nodes before gossip does
        await net.cut([0], [1])
        a = c.sign(ask(c, 2, E18, 2000 * E6))
        b = c.sign(bid(c, 2, E18, 2100 * E6))
        assert (await net.api(0).post_taken(a))[0] == 201
        assert (await net.api(1).post_taken(b))[0] == 201
        await net.cut([0], [1], heal=True)
        # both stay on every node, never matched with each other (attack29: removing one
        # depended on which a node met first, and nodes disagreed after a chain reset)
        want = {resting.hash_hex, a.hash_hex, b.hash_hex}
        await wait_for(lambda: converged(net, want, [0, 1]), timeout=30)
        for i in (0, 1):
            for o in (a, b):
                code, body = await net.api(i).get(f"/v1/orders/{o.hash_hex}")
                assert code == 200 and body["metaData"]["status"] == "open", body
        assert c.exchange.order_info(a.order).filled == 0
        assert c.exchange.order_info(b.order).filled == 0


async def test_soft_cancel_travels_whatever_the_local_status(chain: Chain, tmp_path: Path) -> None:
    """Item 6: a soft cancel of an order this node had already closed never reached peers,
    and a node that restarted could not prove a cancel it had made."""
    c = chain
    async with Cluster(c, tmp_path, [[], [0]]) as net:
        order = c.sign(ask(c, 1, E18, 3000 * E6))
        assert (await net.api(0).post_taken(order))[0] == 201
        await wait_for(lambda: converged(net, {order.hash_hex}, [0, 1]), timeout=60)
        sig = "0x" + sign_hash(c.domain.cancel_digest(order.hash), c.keys[1]).hex()
        # node 1 takes the cancel while cut off from node 0, and dies before it could pass
        # it on (its outbox is lost with it)
        await net.cut([0], [1])
        path = f"/v1/orders/{order.hash_hex}/cancel"
        code, body = await net.api(1).post(path, {"signature": sig})
        assert code == 200 and body["status"] == "cancelled"
        net.kill(1)
        net.spawn(1)
        await net.wait_healthy(1)
        await net.cut([0], [1], heal=True)
        code, rec = await net.api(1).get(f"/v1/orders/{order.hash_hex}")
        assert rec["metaData"]["status"] == "cancelled"  # closed here already...
        code, body = await net.api(1).post(path, {"signature": sig})  # ...the maker insists
        assert code == 200 and body["status"] == "cancelled"
        await wait_for(lambda: converged(net, set(), [0, 1]), timeout=60)
        code, rec = await net.api(0).get(f"/v1/orders/{order.hash_hex}")
        assert rec["metaData"]["status"] == "cancelled"


async def test_snapshot_cursor_with_unicode_digits_is_a_400(chain: Chain, tmp_path: Path) -> None:
    """Item 8 on /p2p/: ``after=²`` was a 500."""
    async with Cluster(chain, tmp_path, [[]]) as net:
        assert net.session is not None
        peer = PeerClient(net.session, NodeKey.generate(), "http://127.0.0.1:9")
        to = net.node_key(0).node_id
        for bad in ("\u00b2", "\u0663", "-1", "+1", "9" * 100):
            answer = await peer.call(
                "GET", net.urls[0], "/p2p/snapshot", params={"after": bad}, to=to
            )
            assert answer.status == 400, (bad, answer)
        await alive(net, 0)
        await asyncio.sleep(0)  # (keeps the loop's tasks tidy before the cluster stops)
