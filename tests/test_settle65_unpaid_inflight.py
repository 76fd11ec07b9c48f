"""settle65 (take65's left): what a maker's settlements in flight take from her funds. Alice's
ask is matched twice: the first match signed and pooled (in flight), the second queued for a
slot; she then moves her WETH away but for what one match takes. The mirror shows her that
one match's WETH, and before the queued match was signed on it: the first landed, taking it,
and the second, a lone ``matchOrders``, reverted on the token's refusal, the operator paying
its gas (failed 1 of 1 before). Now what a settlement in flight takes from its makers is
counted while the mirror has not applied it (the order it fills shows no more filled in the
mirror than the book has confirmed): the second is withdrawn, nothing more is sent. (Real
Hardhat mining only when told, as take65's tests.)"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_cancel65_onchain_queued import operator_count
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg60_cancel_inflight import pending_txs
from tests.test_take65_doomed_queued import (
    free_slots,
    hardhat_only,
    held_chain,
    hold_slots,
    innocent,
    move_weth_alone,
    queued,
    state_of,
)

__all__ = ["hardhat_only", "held_chain"]  # (the fixtures, used by name)
ERIN = 7
"""A taker who is none of ``hold_slots``' makers (Carol, Dave: a self-trade)."""


async def test_a_queued_match_its_makers_funds_pay_only_with_one_in_flight_is_not_signed(
    held_chain: Chain, tmp_path: Path
) -> None:
    c = held_chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        half = c.sign(ask(c, ALICE, 2 * E18, 2400 * E6))  # (above the held ones' price)
        await queued(api, [half], {})
        first = c.sign(bid(c, BOB, E18, 1200 * E6))  # (its match: the last slot's, pooled)
        held = await hold_slots(c, node, api, last=[first])
        operator = node.sender.address
        signed_before = operator_count(c, operator, "pending")
        second = c.sign(bid(c, ERIN, E18, 1200 * E6))
        await queued(api, [second], {half.hash_hex: 2 * E18})
        move_weth_alone(c, ALICE, E18)  # she keeps what the match in flight takes
        await synced(node, c)
        assert node.mirror.spendable((half.order.maker, half.order.maker_token)) == E18
        assert pending_txs(c) == len(held)
        await free_slots(c, node, held, api, second.hash_hex)
        # nothing signed after the held settlements (before: the second, reverted)
        assert operator_count(c, operator, "latest") == signed_before
        assert c.exchange.order_info(half.order).filled == E18
        assert (node.settler.failed, node.settler.withdrawn_matches) == (0, 1)
        assert await state_of(api, half) == {
            "status": "unfunded", "filledMakerAmount": str(E18), "pendingMakerAmount": "0",
        }  # fmt: skip
        await innocent(node, api, second)
