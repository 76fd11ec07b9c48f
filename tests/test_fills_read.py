"""Read-your-writes between an order's status and the listings, on a real node and chain
(fills15): ``GET /v1/orders/{hash}`` reads the order's record in memory, which a
settlement's receipt closes at once; ``GET /v1/fills`` and ``GET /v1/orders?status=`` read
SQLite, which the settlement's fills and the order's new row reach through the store's
writer a moment later (a group commit; on a loaded machine, tens of milliseconds). A client
that saw the order filled and asked for its fills got none
(``test_an_order_for_one_taker_settles_with_that_takers_order`` under ``pytest -n 2``), and
the filled orders' listing did not list it. Now such a listing first waits for the writes
in flight when it is asked (``Node.fills_listable``, ``Node.rows_listable``), bounded by
``store_wait``.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, stall_writer, wait_for

E18 = 10**18
E6 = 10**6
ALICE, BOB = 1, 2

CASES = [
    pytest.param(
        "stall_fills BEFORE INSERT ON fills",
        "/v1/fills",
        lambda c, h: [f["taker"] for f in c["records"] if f["orderHash"] == h],
        id="fills",
    ),
    pytest.param(
        "stall_rows BEFORE UPDATE ON orders WHEN NEW.status = 'filled'",
        "/v1/orders?status=filled",
        lambda c, h: [r["order"]["taker"] for r in c["records"] if r["metaData"]["orderHash"] == h],
        id="orders-by-status",
    ),
]


@pytest.mark.parametrize(("trigger", "path", "listed"), CASES)
async def test_a_listing_asked_once_the_order_reads_filled_lists_it(
    chain: Chain, tmp_path: Path, trigger: str, path: str, listed: Any
) -> None:
    """The store's writer held up on the settlement's write (the fill's insert, the filled
    order's row): the order reads "filled" while that write is not committed; a listing
    asked then waits for the commit and lists it (it answered at once without it, before)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        gate = threading.Event()  # the writer hangs on the settlement's write until set
        await stall_writer(node, gate, trigger)
        ask = c.sign(c.order(ALICE, c.weth, E18, c.usdc, 3000 * E6)).to_json()
        code, answer = await api.post("/v1/orders", dict(ask))
        assert code == 201 and answer["status"] == "open", answer
        ask_hash = answer["orderHash"]
        bid = c.sign(c.order(BOB, c.usdc, 3000 * E6, c.weth, E18)).to_json()
        code, answer = await api.post("/v1/orders", dict(bid))
        assert code == 201 and len(answer["matches"]) == 1, answer
        try:

            async def filled() -> bool:
                _, rec = await api.get(f"/v1/orders/{ask_hash}")
                return bool(rec["metaData"]["status"] == "filled")

            await wait_for(filled)
            waits = node.fills_reads_waited + node.rows_reads_waited
            listing = asyncio.create_task(api.get(path))
            await wait_for(
                lambda: listing.done() or node.fills_reads_waited + node.rows_reads_waited > waits
            )
        finally:
            gate.set()
        code, body = await asyncio.wait_for(listing, 30)
        assert code == 200, body
        assert listed(body, ask_hash), body  # (its own fill, or its own record)
        code, body = await api.get(path)  # nothing in flight now: listed at once
        assert code == 200 and listed(body, ask_hash), body
