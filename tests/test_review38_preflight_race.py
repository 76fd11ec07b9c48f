"""review38: an EOA's funds out for the operator's pre-flight and back before the node reads
why it failed, blamed on the honest contract wallet facing it.

A match with a contract maker is pre-flighted before it is sent. When the pre-flight
reverts, the evidence was read at "latest" with every account counted as exact: Bob (an
EOA) had moved his USDC out for the pre-flight and back before the reads, so the failure
looked like nobody's but the wallet's, and the honest wallet's ask was blamed (removed at
its second blame, its maker marked hostile). Then (review38) accounts named by a log of their
token in the last ``RECENT_BLOCKS`` blocks were not exact: nobody was blamed, the pair barred
after ``PAIR_TRIES`` (both orders stayed). Now (blame44) the pre-flight runs at a block read
before it: funds moved out just before the pre-flight's call are not in the state it meets,
it passes, and the match settles (funds out before that block and back long before the
reads: tests/test_blame44_pinned_preflight.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.sandwich import Hook, around, node_on, usdc_to_carol
from tests.test_attack30_gas_gated_wallet import OPERATOR, gas_gated_wallet
from tests.test_contract33_sandwich import wallet_ask
from tests.test_node import BOB, E6, E18, bid
from tests.test_review32_untracked_contract_maker import ALWAYS


def preflight_sandwicher(c: Chain, maker: int, rounds: int) -> tuple[Hook, list[int]]:
    """A proxy hook: before each of the first ``rounds`` pre-flights of the operator (an
    ``eth_call`` from it to the Exchange), ``maker`` moves all its USDC to CAROL (mined); they
    come back once the chain has answered it."""
    operator, exchange = c.address(OPERATOR).lower(), c.exchange.address.lower()

    def preflight(r: object) -> bool:
        if not isinstance(r, dict) or r.get("method") != "eth_call":
            return False
        params = r.get("params")
        if not isinstance(params, list) or len(params) != 2 or not isinstance(params[0], dict):
            return False
        call = params[0]
        return str(call.get("from")).lower() == operator and str(call.get("to")) == exchange

    def when(req: object) -> bool:
        return any(preflight(r) for r in (req if isinstance(req, list) else [req]))

    return around(c, rounds, when, *usdc_to_carol(c, maker))


async def test_funds_out_for_the_preflight_only_are_not_blamed_on_the_contract_maker(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    honest = wallet_ask(c, gas_gated_wallet(c, gate=ALWAYS), 250)
    intercept, done = preflight_sandwicher(c, BOB, 8)
    async with node_on(c, tmp_path, intercept) as (node, api):
        assert (await api.post_order(honest))[0] == 201
        buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
        assert (await api.post_order(buy))[0] == 201

        async def filled() -> bool:
            return await api.status(honest) == "filled"

        await wait_for(filled, timeout=30.0)  # (review38: open, the pair barred after 3)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30.0)
        assert node.blamed_makers.score(honest.order.maker) == 0.0  # before: removed, hostile
        assert done[0] >= 1, done
