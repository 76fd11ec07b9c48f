"""Read-your-writes between an order's status and its fills, on a real node and chain
(fills15): ``GET /v1/orders/{hash}`` reads the order's record in memory, which a
settlement's receipt closes at once; ``GET /v1/fills`` reads SQLite, which the settlement's
fills reach through the store's writer a moment later (a group commit; on a loaded machine,
tens of milliseconds). A client that saw the order filled and asked for its fills got none
(``test_an_order_for_one_taker_settles_with_that_takers_order`` under ``pytest -n 2``).
Now a fills listing first waits for the fills writes in flight when it is asked
(``Node.fills_listable``), bounded by ``store_wait``.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, stall_writer, wait_for

E18 = 10**18
E6 = 10**6
ALICE, BOB = 1, 2


async def test_fills_are_listed_once_the_order_reads_filled(chain: Chain, tmp_path: Path) -> None:
    """The store's writer held up on the settlement's fill insert: the order reads "filled"
    while its fill is not committed; a fills listing asked then waits for the commit and
    lists it (it answered at once, with no fill, before)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        ask = c.sign(c.order(ALICE, c.weth, E18, c.usdc, 3000 * E6)).to_json()
        code, answer = await api.post("/v1/orders", dict(ask))
        assert code == 201 and answer["status"] == "open", answer
        ask_hash = answer["orderHash"]
        gate = threading.Event()  # the writer hangs on the fill's insert until set
        await stall_writer(node, gate, "stall_fills BEFORE INSERT ON fills")
        bid = c.sign(c.order(BOB, c.usdc, 3000 * E6, c.weth, E18)).to_json()
        code, answer = await api.post("/v1/orders", dict(bid))
        assert code == 201 and len(answer["matches"]) == 1, answer
        try:

            async def filled() -> bool:
                _, rec = await api.get(f"/v1/orders/{ask_hash}")
                return bool(rec["metaData"]["status"] == "filled")

            await wait_for(filled)
            listing = asyncio.create_task(api.get("/v1/fills", orderHash=ask_hash))
            await wait_for(lambda: listing.done() or node.fills_reads_waited > 0)
        finally:
            gate.set()
        code, fills = await asyncio.wait_for(listing, 30)
        assert code == 200, fills
        assert [f["taker"] for f in fills["records"]] == [c.address(BOB).lower()]
        assert node.fills_reads_waited == 1
        code, fills = await api.get("/v1/fills", orderHash=ask_hash)  # nothing in flight
        assert code == 200 and fills["total"] == 1 and node.fills_reads_waited == 1
