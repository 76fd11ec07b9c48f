"""review67: a queued match whose order another filled in full straight on chain (the
Exchange's ``fillOrder`` is anyone's: a taker who saw the order front-runs the node's
settlement) is not signed: the chain can only refuse it (a lone match reverts, a batch skips
it), as one whose order was cancelled on chain (cancel65) or expired (take65). Withdrawn, the
other order back on the book, untouched, the filled one closed ``filled`` at once.

Before: signed once a slot freed, and reverted, the operator's gas paid (``_withdrawn`` read
the mirror's cancels, not its fills). With the withdrawal alone, the filled order stayed
offered while its fill waited for the match to end: the other order matched it again at once,
withdrawn again, 38,000 times in 30 s (``_on_settled`` now takes the chain's word on such an
order before it matches the other side again). Real Hardhat mining only when told (take65's held
pool), a real node on loopback, the fill a real ``fillOrder`` transaction."""

from __future__ import annotations

from pathlib import Path

from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.test_cancel65_onchain_queued import operator_count
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, DAVE, E6, E18, ask, bid
from tests.test_take65_doomed_queued import (
    free_slots,
    hardhat_only,
    held_chain,
    held_node,
    innocent,
    mined_alone,
    queued,
    state_of,
)

__all__ = ["hardhat_only", "held_chain"]  # (fixtures, used by name)


def fill_on_chain(c: Chain, so: SignedOrder, taker: int, pays: int) -> None:
    """``taker`` fills ``so`` whole with ``fillOrder``, mined in a block of its own."""
    data = c.exchange.abi.fn("fillOrder").encode(so.order.to_tuple(), so.signature, pays)
    mined_alone(c, taker, c.exchange.address, data, 500_000)
    assert c.exchange.order_info(so.order).filled == so.order.maker_amount


async def test_a_match_queued_past_a_fill_of_its_order_on_chain_is_not_signed(
    held_chain: Chain, tmp_path: Path
) -> None:
    c = held_chain
    async with held_node(c, tmp_path) as (node, api, asks, signed_before):
        operator = node.sender.address
        sells = c.sign(ask(c, ALICE, E18, 1000 * E6))
        bob = c.sign(bid(c, BOB, E18, 1000 * E6))
        await queued(api, [sells, bob], {sells.hash_hex: E18})
        fill_on_chain(c, sells, DAVE, 1000 * E6)  # Dave takes Alice's ask first
        await synced(node, c)
        await free_slots(c, node, asks, api, bob.hash_hex)
        # nothing signed after the held settlements: no transaction the chain must refuse
        assert operator_count(c, operator, "latest") == signed_before
        assert (node.settler.failed, node.settler.withdrawn_matches) == (0, 1)
        await innocent(node, api, bob)
        assert await state_of(api, sells) == {
            "status": "filled", "filledMakerAmount": str(E18), "pendingMakerAmount": "0",
        }  # fmt: skip
