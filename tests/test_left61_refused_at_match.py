"""left61: a pair the contract refused for its amounts is barred at the book's filled
amounts when the refusal comes (``NodeBlame._note_refused``), and these are the ones it
was matched at: a fill of either order made elsewhere while the match is in flight is not
applied to the book until the settler gives the order back (``_apply_chain_state`` defers
it, ``_recheck_settled`` applies it). So another node's fill made between our match and
our refusal does not bar the pair at amounts at which it settles: once the fill is
applied the pair is matched again and settles. (Reported as a defect; this shows it is
not one, and keeps it so.)"""

from __future__ import annotations

from pathlib import Path

from sdex.settlement.outcome import Outcome, SettledMatch
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.sandwich import node_on
from tests.test_chaos55_refused_pair import matched_alone
from tests.test_node import ALICE, BOB, CAROL, E6, E18


async def test_a_fill_made_elsewhere_during_a_refused_match_is_not_barred(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    c.weth.approve(c.sender(ALICE), c.exchange.address, 2**256 - 1)
    for taker in (BOB, CAROL):
        c.usdc.approve(c.sender(taker), c.exchange.address, 2**256 - 1)
    ask = c.sign(c.order(ALICE, c.weth, E18, c.usdc, 2500 * E6))
    buy = c.sign(c.order(BOB, c.usdc, 250 * E6, c.weth, E18 // 10))
    async with node_on(c, tmp_path) as (node, api):
        assert (await api.post_taken(ask))[0] == 201
        m = matched_alone(c, node, buy)  # (the test gives its match's refusal)
        # another taker fills a twentieth of the ask: the node sees it, defers it
        c.exchange.fill_order(c.sender(CAROL), ask, 125 * E6)
        await wait_for(lambda: ask.hash in node._recheck, timeout=30.0)
        a = node.book.find(ask.hash)
        assert a is not None and (a.filled, a.pending) == (0, E18 // 10)  # (deferred)
        refusal = (
            f"ZeroFillAmount(leftOrderHash=0x{ask.hash.hex()}, rightOrderHash=0x{buy.hash.hex()})"
        )
        await node._on_settled([SettledMatch(m, Outcome.FAILED, None, None, refusal)])
        assert node.refused_pairs.barred(ask.hash, 0, buy.hash, 0)  # (as matched)
        assert not node.refused_pairs.barred(ask.hash, E18 // 20, buy.hash, 0)

        async def buy_filled() -> bool:
            return await api.status(buy) == "filled"

        # the fill applied once the ask is given back, the pair matched again: it settles
        await wait_for(buy_filled, timeout=30.0)
        assert [s.filled for s in c.exchange.order_states([ask, buy])] == [
            E18 // 20 + E18 // 10,
            250 * E6,
        ]
