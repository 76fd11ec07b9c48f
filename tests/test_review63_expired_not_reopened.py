"""review63: an order this node closed ``expired`` by the chain's clock (``chain_time``, past
its expiry, while the chain's newest block was stamped before it) was reopened when judged
again (``NodeRejudge._rejudge``: after its maker's cancel-up-to, a reorg, or chaos62's
``_recheck_settled``, which now routes a closed order there whenever its filled amount is
not the chain's, up as well as down). The mirror judged it by its head's stamp, before the
expiry: ``FILLABLE``, so "reopened: the chain no longer has what closed it", back in the
book and offered to peers until the next sweep closed it ``expired`` again. The registry
forgets such an order as one no reorg can unexpire (``unexpired``); the chain's next block
says ``EXPIRED`` too. Real Hardhat (a block's stamp set), a real node, SQLite, its
websocket."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import Events, meta, synced
from tests.test_node import ALICE, CAROL, E6, E18, ask
from tests.test_verify28_reorg_expiry import timestamp


async def test_an_order_expired_by_the_chains_clock_is_not_reopened_when_judged_again(
    chain: Chain, tmp_path: Path
) -> None:
    """Alice's ask closes ``expired`` by the node's clock, the chain idle; then a block
    stamped before its expiry holds her cancel-up-to (below its salt: the chain leaves the
    ask as it was), and the node judges her orders again (failed before: ``reopened``)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        events = Events(await api.session.ws_connect(api.base + "/v1/ws"))
        try:
            for _ in range(2):  # (the chain's clock as its blocks show it: ``chain_time``)
                c.rpc.call("evm_mine")
            await synced(node, c)
            expiry = max(timestamp(c), int(time.time()), node.chain_time()) + 6
            signed = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=expiry))
            assert (await api.post_taken(signed))[0] == 201

            async def expired() -> bool:  # (by the chain's clock, no block since)
                return (await meta(api, signed))["status"] == "expired"

            await wait_for(expired, timeout=30)
            stamp = timestamp(c)
            assert stamp + 1 < expiry <= node.chain_time()
            c.rpc.call("evm_setNextBlockTimestamp", stamp + 1)
            c.exchange.cancel_orders_up_to(c.sender(ALICE), signed.order.salt)
            assert c.exchange.order_info(signed.order).status.name == "FILLABLE"
            await synced(node, c)
            # a later order's event: what that block's verdicts published came before it
            later = c.sign(ask(c, CAROL, E18, 3100 * E6))
            assert (await api.post_taken(later))[0] == 201
            await wait_for(lambda: events.has("order", "added", later.hash_hex), timeout=10)
            assert not events.has("order", "reopened", signed.hash_hex)
            assert (await meta(api, signed))["status"] == "expired"
            assert signed.hash not in node.book
        finally:
            await events.close()
