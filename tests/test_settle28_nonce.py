"""A settlement the chain refuses for its nonce (someone else used the operator's key: a
devnet restarted under running nodes approves from every dev account) is signed again at
the chain's count and settles: an IOC taker in it fills, nothing counts lost (settle28)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.chain import Sender
from sdex.chain.exchange import OrderStatus
from sdex.chain.tx import refused_for_nonce
from sdex.errors import RpcError, RpcTimeout
from sdex.node import Node
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid

OPERATOR = 19


async def nonces_taken(c: Chain, node: Node, api: Api, taken: int) -> tuple[int, Sender]:
    """One settlement first (the node knows its next nonce, and will not read it again),
    then ``taken`` transactions sent by someone else from the operator's key: the nonces the
    node knows are taken. The node's next nonce before them, and that other sender."""
    await wait_for(lambda: node.watcher.caught_up.is_set())
    settler = node.settler
    for signed in (c.sign(ask(c, ALICE, E18, 3000 * E6)), c.sign(bid(c, BOB, E18, 3000 * E6))):
        assert (await api.post_taken(signed))[0] == 201
    await wait_for(lambda: settler.settled == 1 and settler.idle.is_set())
    known = settler.sender.next_nonce
    assert known is not None
    other = Sender(c.rpc, c.keys[OPERATOR], c.deployment.chain_id)
    for _ in range(taken):
        other.transact(other.address, b"", gas=21_000)
    return known, other


async def test_a_settlement_refused_for_its_nonce_is_signed_again_and_settles(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        settler = node.settler
        known, other = await nonces_taken(c, node, api, 1)
        assert int(c.rpc.call("eth_getTransactionCount", other.address, "latest"), 16) == known + 1
        resting = c.sign(ask(c, CAROL, E18, 3000 * E6))
        taker = c.sign(bid(c, DAVE, E18, 3000 * E6))
        assert (await api.post_taken(resting))[0] == 201
        code, body = await api.post_taken(taker, tif="ioc")
        assert code == 201, body
        await wait_for(lambda: settler.settled + settler.failed >= 2 and settler.idle.is_set())
        assert settler.lost == 0 and settler.failed == 0
        assert settler.nonce_refusals >= 1
        _, health = await api.get("/health")  # said to the operator, not only in the log
        assert health["settlementsNonceRefused"] == settler.nonce_refusals
        assert health["settlementsLost"] == 0
        assert await api.status(taker) == "filled"
        assert await api.status(resting) == "filled"
        # mined on chain: both orders filled there, the settlement at the chain's count
        for signed in (taker, resting):
            assert c.exchange.order_info(signed.order).status is OrderStatus.FILLED
        assert int(c.rpc.call("eth_getTransactionCount", other.address, "latest"), 16) == known + 2


async def test_batches_in_flight_refused_for_their_nonces_all_settle_once(
    chain: Chain, tmp_path: Path
) -> None:
    """Two nonces taken, then several one-match batches in flight at once (``max_batch=1``):
    each refused one is signed again, in nonce order after the others, none twice: every
    IOC fills, the operator's count is the others' two plus the node's mined settlements."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR, max_batch=1, backlog_batch=1)
    async with running_node(cfg) as (node, api):
        settler = node.settler
        known, other = await nonces_taken(c, node, api, 2)
        resting = [c.sign(ask(c, CAROL, E18 // 4, 750 * E6)) for _ in range(4)]
        takers = [c.sign(bid(c, DAVE, E18 // 4, 750 * E6)) for _ in range(4)]
        for r in resting:
            assert (await api.post_taken(r))[0] == 201
        posted = await asyncio.gather(*(api.post_order(t, tif="ioc") for t in takers))
        assert all(code == 201 for code, _ in posted), posted
        await wait_for(lambda: settler.settled + settler.failed >= 5 and settler.idle.is_set())
        assert settler.lost == 0 and settler.failed == 0 and settler.settled == 5
        assert settler.nonce_refusals >= 1
        for t in takers:
            assert await api.status(t) == "filled"
            assert c.exchange.order_info(t.order).status is OrderStatus.FILLED
        count = int(c.rpc.call("eth_getTransactionCount", other.address, "latest"), 16)
        assert count == known - 1 + 2 + settler.sent  # (``sent``: the first one too)
        assert settler.gap_fills == 0


NONCE_CASES = [
    # (error, refused for its nonce by the chain)
    (RpcError(-32000, "Nonce too low. Expected nonce to be 5 but got 4."), True),  # Hardhat
    (RpcError(-32003, "nonce too low: next nonce 5, tx nonce 4"), True),  # anvil
    (RpcError(-32000, "nonce too low"), True),  # geth
    (RpcError(0, "http://nonce-too-low.example answered junk"), False),  # this client's own
    (RpcTimeout("http://nonce-too-low.example", 5), False),  # fate unknown
    (RpcError(-32000, "replacement transaction underpriced"), False),
    (RpcError(-32000, "Nonce too high. Expected nonce to be 5 but got 9."), False),
]


def test_only_the_chains_own_nonce_refusal_is_one() -> None:
    """A timeout or a client error says nothing of the nonce; "too high" is a refusal
    (nonce75: signed again, as "too low" is), told apart from "too low" by ``low_only``."""
    for error, refused in NONCE_CASES:
        high = "too high" in str(error)
        assert refused_for_nonce(error) is (refused or high), error
        assert refused_for_nonce(error, low_only=True) is refused, error
