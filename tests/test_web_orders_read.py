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
