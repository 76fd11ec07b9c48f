"""review69a: a batch the chain refused for its nonce (another sender of the operator's key
took it) is signed again at the chain's count (``NONCE_TRIES``). Its matches stayed in the
settler's ``SignedOut`` from the refused signature (``_never_sent`` left them), so the funds
check right before the second signature (``sdex.node.funding.unpaid``, funds67's totals)
counted the batch ahead of itself: a maker whose funds pay its match once, not twice, was
found short, and the match was withdrawn as unpaid (given back, matched again, a second
round trip) though nothing of hers was in flight. Now a refused signature's matches leave
``SignedOut`` with it.

Real Hardhat, attack28's real JSON-RPC proxy on loopback that sends one transaction from
the operator's key before the node's first send (its nonce taken), a real node and SQLite
store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.chain import Sender
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack28_nonce_thief import OPERATOR, thieving_proxy
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


def allow(c: Chain, maker: int, amount: int) -> None:
    """``maker``'s WETH allowance to the Exchange set to ``amount`` (mined)."""
    data = c.weth.abi.fn("approve").encode(c.exchange.address, amount)
    sender = Sender(c.rpc, c.keys[maker], c.deployment.chain_id)
    signed = sender.sign(c.weth.address, data, 100_000)
    sender.broadcast(signed)
    assert sender.wait(signed.tx_hash, 30).status == 1


async def test_a_batch_signed_again_after_a_nonce_refusal_is_not_counted_ahead_of_itself(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    allow(c, ALICE, E18)  # (she can pay the match once, not twice)
    with thieving_proxy(c, 1) as (rpc, taken):
        cfg = replace(node_config(c, tmp_path / "n.db", operator=OPERATOR), rpc=rpc)
        async with running_node(cfg) as (node, api):
            resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))  # (half of it funded: rests)
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            assert (await api.post_order(resting))[0] == 201
            assert (await api.post_order(taker))[0] == 201
            settler = node.settler

            async def ended() -> bool:
                return await api.status(taker) == "filled" and settler.idle.is_set()

            await wait_for(ended, timeout=60)
            assert taken[0] == 1 and settler.nonce_refusals == 1
            assert settler.withdrawn_matches == 0  # before: 1, withdrawn as unpaid
            assert settler.sent == 1 and settler.settled == 1
            assert not settler.signed_out and not settler.signed_out.pays
            assert c.exchange.order_info(resting.order).filled == E18
