"""An order whose connection is evicted while it is in flight (front65): the node may
commit it unanswered (the answer follows the commit; the connection is gone), so its retry
must be idempotent: the same order posted again is answered 200 with its hash once its row is
committed, and the node holds it once. With and without a front process (``--fronts``).

The order is held in flight by a real lock: this test takes SQLite's write lock on the
node's database (``BEGIN IMMEDIATE``), so the node's writer waits (its busy timeout, 5 s)
and the order waits for its commit; a newcomer from another address at the bound in all then
evicts the heaviest address's oldest busy connection: the order's (``sdex.node.conns``).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_http_conns import Raw, answer, closed


@pytest.mark.parametrize("fronts", [0, 1])
async def test_an_order_evicted_in_flight_is_committed_once_and_its_retry_answered(
    chain: Chain, tmp_path: Path, fronts: int
) -> None:
    db = tmp_path / "n.db"
    cfg = node_config(chain, db, fronts=fronts, max_http_per_client=2, max_http=2)
    signed = chain.sign(chain.order(2, chain.weth, 10**16, chain.usdc, 20 * 10**6))
    data = json.dumps(signed.to_json()).encode()
    post = (
        b"POST /v1/orders HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
    )
    async with running_node(cfg) as (node, _api), Raw(node.config.port) as raw:
        # (the start's replay over first: an order posted during it waits for the mirror
        # (replay79), and the lock refusing the replay's writes ends that wait with a 503
        # before the order is taken — not the eviction this test is about)
        await wait_for(node.replayed)
        lock = sqlite3.connect(db, timeout=10, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")  # the node's writer waits: no commit meanwhile
            order = await raw.connect("127.0.0.1")
            order[1].write(post)
            await wait_for(lambda: signed.hash in node.records, timeout=10)  # in flight
            await raw.slow_body("127.0.0.1")  # 127.0.0.1 holds 2, both busy: the bound
            newcomer = await raw.connect("127.0.0.2")
            newcomer[1].write(b"GET /health HTTP/1.1\r\nHost: node\r\n\r\n")
            assert (await answer(newcomer[0]))[0] == 200
            assert await closed(order)  # evicted, unanswered (EOF, no status line)
        finally:
            lock.rollback()
            lock.close()
        # the order is committed once its row is (the writer goes on); a retry is answered
        # as a repeat (200, its hash), and the store holds it once
        await wait_for(lambda: node.store.holds_order(signed.hash_hex), timeout=10)
        retry = await raw.connect("127.0.0.2")
        retry[1].write(post)
        status, body = await answer(retry[0])
        assert status == 200, body
        assert body["metaData"]["orderHash"] == signed.hash_hex, body  # (the record, SRA's)
        assert body["metaData"]["status"] == "open", body
        assert node.open_orders == 1 and len(node.book) == 1  # (its one row: the hash's key)
