"""A node's HTTP connections with front processes (``sdex node --fronts``, front64): the
connection bounds are the node's, exact over every front (``sdex.node.conns.FrontConn``),
and a connection passed on to the node goes with every byte the front read of it (a request
pipelined behind the one passed on is answered, not lost). Real fronts on loopback, raw
sockets (``tests.test_http_conns``' helpers).
"""

from __future__ import annotations

import json
from pathlib import Path

from sdex.node.appstate import FRONTS_KEY
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_http_conns import Raw, answer, closed, websockets


async def test_the_connection_bounds_count_every_front_and_the_node_as_one(
    chain: Chain, tmp_path: Path
) -> None:
    """Two fronts, 4 connections an address, 6 in all. 127.0.0.1 holds two bodies in
    progress (at the fronts) and two websockets (passed on to the node): its fifth is
    refused at its accept, 429. 127.0.0.2 holds two idle connections (at the fronts): a
    newcomer from 127.0.0.3 past 6 in all closes the oldest of them and is served. Before,
    each front and the node counted only their own: the fifth was taken and waited.
    front65: the idle ones are made one after the other and the newcomer waits until the
    node counts both idle (it failed once: the node had not yet heard the older was idle,
    or admitted the two in the other order, each front's words on a channel of its own)."""
    cfg = node_config(chain, tmp_path / "n.db", fronts=2, max_http_per_client=4, max_http=6)
    bad = b"POST /v1/orders HTTP/1.1\r\nHost: node\r\nContent-Length: 2\r\n\r\n{}"
    async with running_node(cfg) as (node, api), Raw(node.config.port) as raw:
        assert api.app is not None
        fronts = api.app[FRONTS_KEY]
        slow = [await raw.slow_body("127.0.0.1") for _ in range(2)]
        async with websockets(api.base, "127.0.0.1", 2):
            fifth = await raw.connect("127.0.0.1")
            status, body = await answer(fifth[0])
            assert (status, body["code"]) == (429, 103), body
            assert "from this address: at most 4" in body["reason"]
            assert await closed(fifth)
            silent = []
            for _ in range(2):  # (one after the other: the node admits them in this order)
                conn = await raw.connect("127.0.0.2")
                conn[1].write(bad)  # (an order the node refuses, served at a front: idle there)
                assert (await answer(conn[0]))[0] == 400
                silent.append(conn)
            # The node learns a front's connection is idle from the front's word after the
            # answer, and two fronts' words reach it in either order: wait until it counts
            # both idle (else the newcomer found the newer one idle, or neither).
            await wait_for(lambda: fronts.health()["idle"] == 2, timeout=5)
            newcomer = await raw.connect("127.0.0.3")
            newcomer[1].write(b"GET /health HTTP/1.1\r\nHost: node\r\n\r\n")
            assert (await answer(newcomer[0]))[0] == 200
            assert await closed(silent[0])  # the oldest idle one made room
            assert not await closed(silent[1], bound=0.5)
            assert not await closed(slow[0], bound=0.1)


async def test_requests_pipelined_behind_one_passed_on_are_answered(
    chain: Chain, tmp_path: Path
) -> None:
    """Requests sent in one write on a fresh connection (a GET passed on to the node with two
    behind it), and on a connection that posted an order at the front first (an order, a GET
    passed on, another GET behind it): every one answered, in order. Before, the requests
    behind the one passed on were lost (the front had read them; the node never saw them)."""
    cfg = node_config(chain, tmp_path / "n.db", fronts=1)
    order = chain.order(1, chain.weth, 10**18, chain.usdc, 3000 * 10**6)
    signed = json.dumps(chain.sign(order).to_json()).encode()
    get = b"GET %s HTTP/1.1\r\nHost: node\r\n\r\n"
    post = (
        b"POST /v1/orders HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(signed), signed)
    )
    async with running_node(cfg) as (node, _api), Raw(node.config.port) as raw:
        reader, writer = await raw.connect()
        writer.write(get % b"/health" + get % b"/v1/order_config" + get % b"/health")
        got = [await answer(reader) for _ in range(3)]
        assert [s for s, _ in got] == [200, 200, 200]
        assert "fronts" in got[0][1] and "fronts" in got[2][1] and "fronts" not in got[1][1]
        reader, writer = await raw.connect()
        writer.write(post + get % b"/v1/order_config" + get % b"/health")
        got = [await answer(reader) for _ in range(3)]
        assert [s for s, _ in got] == [201, 200, 200], got
        assert len(node.records) == 1
