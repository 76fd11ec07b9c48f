"""``GET /web/orders`` reads evicted orders off the event loop (``StoreReads.order_rows_of``:
a worker thread, as the listings read), and answers what ``GET /v1/orders/{hash}`` does.

Before (leftovers17), each evicted order the page asked for was read from the store's reader
connection and parsed on the event loop (``Node.record_json``): up to 50 a request, every
other client waiting meanwhile (bench/web_orders_hold.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from sdex.book import RemovalReason
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for

E15 = 10**15


async def test_evicted_orders_are_read_off_the_loop_as_their_records_say(
    chain: Chain, tmp_path: Path
) -> None:
    """Orders in memory, evicted ones (closed, stored only), an unknown hash and a hash
    asked twice: each record as ``/v1/orders/{hash}`` has it (null for the unknown), in
    the order asked; and no order row was read on the event loop's thread meanwhile."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", closed_grace=0.1)) as (node, api):
        signed = [c.sign(c.order(1 + i % 4, c.weth, E15, c.usdc, 3_000_000 + i)) for i in range(6)]
        for s in signed:
            assert (await api.post_order(s))[0] == 201
        for s in signed[:4]:
            node.registry.remove(s.hash, RemovalReason.CANCELLED, "test")
        await wait_for(lambda: all(s.hash not in node.records for s in signed[:4]), timeout=60)
        unknown = "0x" + "ab" * 32
        asked = [signed[4].hash_hex, *(s.hash_hex for s in signed[:4]), unknown,
                 signed[5].hash_hex, signed[0].hash_hex.upper().replace("0X", "0x")]  # fmt: skip
        expected: dict[str, object] = {}
        for h in dict.fromkeys(a.lower() for a in asked):
            code, rec = await api.get(f"/v1/orders/{h}")
            expected[h] = rec if code == 200 else None
        assert [expected[s.hash_hex]["metaData"]["status"] for s in signed[:4]] == [  # type: ignore[index]
            "cancelled"
        ] * 4
        loop_thread = threading.get_ident()
        on_loop: list[str] = []
        reader = node.store._reader
        assert reader is not None  # (a database file: the reader connection exists)

        def traced(sql: str) -> None:
            if threading.get_ident() == loop_thread and "FROM orders" in sql:
                on_loop.append(sql)

        reader.set_trace_callback(traced)
        try:
            async with api.session.get(
                api.base + "/web/orders", params=[("hash", a) for a in asked]
            ) as r:
                assert r.status == 200 and r.content_type == "application/json"
                text = await r.text()
        finally:
            reader.set_trace_callback(None)
        body = json.loads(text)
        assert list(body) == list(expected) and body == expected
        assert on_loop == [], on_loop


async def test_lookups_are_charged_to_the_nodes_listing_total(chain: Chain, tmp_path: Path) -> None:
    """review19: ``/web/orders`` was charged only to each client's budget, so while the
    node-wide total refused every ``/v1/depth`` (503), 40 lookups of 50 hashes from one more
    address were all served (each a store read and its text built on the loop). Now each
    hash takes a record from the total too: with a total of 10 records (refilled at 0.01 a
    second) two lookups of 10 are served (the second leaves it in debt), the third is
    refused with 503, and another address's ``/v1/depth`` too (before: all served)."""
    from sdex.httpkit import RateLimit
    from tests.test_listing_budget import session_from

    cfg = node_config(chain, tmp_path / "n.db", listing_total_rate=RateLimit(rate=0.01, burst=10))
    async with running_node(cfg) as (node, api):
        query = "&".join(f"hash=0x{i:064x}" for i in range(10))
        statuses = []
        for n in (2, 3, 5):
            url = f"{api.base}/web/orders?{query}"
            async with session_from(f"127.0.0.{n}") as s, s.get(url) as r:
                statuses.append(r.status)
                if r.status == 200:
                    assert await r.json() == {f"0x{i:064x}": None for i in range(10)}
                else:
                    assert r.headers["Retry-After"] == "1"
        pair = node.book.pairs[0]
        async with session_from("127.0.0.4") as s:
            url = f"{api.base}/v1/depth?baseToken={pair.base}&quoteToken={pair.quote}"
            async with s.get(url) as r:
                statuses.append(r.status)
        assert statuses == [200, 200, 503, 503], statuses
