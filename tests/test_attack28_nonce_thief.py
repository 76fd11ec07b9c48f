"""attack28: settlements lost to another sender of the operator's key are the node's own
trouble, not the orders': no wallet's order is removed for them.

Another sender of the node's operator key (a second node or wallet on the same key, a
devnet deployed again under the node) takes the nonce of each settlement send. A send the
chain refuses for its nonce is signed again, a few times (``NONCE_TRIES``); past that its
matches count lost, and each lost match counted against both orders as a settlement failure
"with no guilty party found": three of them and the incoming order was removed ("settlement
kept failing"), told to its wallet as dead while it was fillable on chain and still open on
every other node. On the live network (3 nodes, a thief sending from node 1's key in a loop,
30 crossing pairs on node 1): 15 settlements lost, 2 wallet orders removed on node 1 and
open on the other two (``sdex audit``: 12 ``books_disagree``).

Here a JSON-RPC proxy in front of Hardhat sends one transaction from the operator's key just
before each of the node's first ``STOLEN`` sends, so each is refused for its nonce.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import OrderStatus
from sdex.node.settle import MAX_SETTLE_FAILURES
from sdex.settlement.batchtx import NONCE_TRIES
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

OPERATOR = 19
STOLEN = NONCE_TRIES * MAX_SETTLE_FAILURES
"""Sends refused for their nonce: enough for ``MAX_SETTLE_FAILURES`` lost settlements."""
SENDS = ("eth_sendRawTransaction", "eth_sendRawTransactionSync")
"""A raw send either way (Hardhat does not serve the sync one: the node asks once, then not;
anvil does, and the node sends by it while no other send waits)."""


@contextmanager
def thieving_proxy(c: Chain, stolen: int) -> Iterator[tuple[str, list[int]]]:
    """A proxy to the chain that, before each of the first ``stolen`` raw sends, sends a
    transaction from the operator's key (Hardhat's unlocked account): that send's nonce is
    taken. Its URL and the count of nonces taken."""
    taken = [0]
    lock = threading.Lock()
    operator = c.address(OPERATOR)

    def steal() -> None:
        tx = {"from": operator, "to": operator, "value": "0x0", "gas": hex(21_000)}
        body = json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [tx]}
        ).encode()
        req = urllib.request.Request(
            c.rpc.url, body, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert "result" in json.loads(resp.read())

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        if any(isinstance(x, dict) and x.get("method") in SENDS for x in calls):
            with lock:
                if taken[0] < stolen:
                    taken[0] += 1
                    steal()
        return None

    with _proxy(c.rpc.url, intercept) as url:
        yield url, taken


async def test_settlements_lost_to_a_nonce_thief_remove_no_order(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with thieving_proxy(c, STOLEN) as (rpc, taken):
        cfg = replace(node_config(c, tmp_path / "n.db", operator=OPERATOR), rpc=rpc)
        async with running_node(cfg) as (node, api):
            resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            assert (await api.post_order(resting))[0] == 201
            assert (await api.post_order(taker))[0] == 201
            settler = node.settler

            async def ended() -> bool:
                return await api.status(taker) in ("filled", "removed") and settler.idle.is_set()

            await wait_for(ended, timeout=60)
            assert taken[0] == STOLEN
            # (the attack happened: sends refused for their nonce, past what removed an order
            # before; revert78: the thief's block, known and not yet applied, holds the next
            # signature and puts the batch back, so its tries may start again, none lost)
            assert settler.nonce_refusals + settler.lost >= MAX_SETTLE_FAILURES
            meta = (await api.get(f"/v1/orders/{taker.hash_hex}"))[1]["metaData"]
            # before: "removed", "settlement kept failing", with both orders fillable on chain
            assert meta["status"] == "filled", meta
            assert await api.status(resting) == "filled"
            states = c.exchange.order_states([resting, taker])
            assert [s.status for s in states] == [OrderStatus.FILLED, OrderStatus.FILLED]
