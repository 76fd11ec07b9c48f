"""review30: a node stopped while its settlement's send is under way on the event loop (settle30:
sends through the async client, no worker thread) leaves the durable record pending, and
the next start sends the same raw transaction again: the matches settle once, never lost,
never signed a second time.

Here a proxy in front of Hardhat holds every raw send (it never reaches the chain) until the
node has stopped; the node starts again on the chain itself.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import OrderStatus
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

OPERATOR = 19
SENDS = ("eth_sendRawTransaction", "eth_sendRawTransactionSync")
HELD = json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "held"}})


async def test_a_send_under_way_at_stop_is_sent_again_at_start(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    held = threading.Event()
    release = threading.Event()

    def hold(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        if any(isinstance(x, dict) and x.get("method") in SENDS for x in calls):
            held.set()
            release.wait(60)
            return 200, HELD.encode()
        return None

    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    with _proxy(c.deployment.rpc, hold) as url:
        try:
            async with running_node(replace(cfg, rpc=url)) as (node, api):
                await wait_for(lambda: node.watcher.caught_up.is_set())
                assert (await api.post_order(resting))[0] == 201
                assert (await api.post_order(taker))[0] == 201
                await wait_for(held.is_set)
                pending = node.store.pending_settlements()
                assert len(pending) == 1  # durable before its send
        finally:
            release.set()
    assert c.exchange.order_info(taker.order).status is OrderStatus.FILLABLE

    async with running_node(cfg) as (node, api):
        assert await api.status(resting) == "filled"
        assert await api.status(taker) == "filled"
        assert c.exchange.order_info(taker.order).status is OrderStatus.FILLED
        assert node.store.pending_settlements() == []
        assert node.settler.sent == 0  # the recorded transaction, not a new one
