"""review28: the funds-backed count per maker (``Limits.min_amounts``) held for orders of
one maker that arrive together from a peer.

Each open order of a maker needs the token's minimum in its spendable balance. The check
ran on the verdict, before acceptance: a peer's chunk of orders of one maker first seen
here (``Node.submit_many_from_peer``, what a push, a fetch or a snapshot page calls) has
its chain reads run together, each verdict saw the same open count, and all were
accepted: one balance backed more orders than it can (dust27's known gap, "funds-backed
count overshoot in one batch"). A node with no minimum, or a lower one, passes such
orders on to one that has it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.ingest import Limits
from sdex.order import SignedOrder, random_salt
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

E6 = 10**6
MIN_WETH = 10**15
MAKER = 12


def _ask(c: Chain) -> SignedOrder:
    return c.sign(c.order(MAKER, c.weth, MIN_WETH, c.usdc, 3 * E6, salt=random_salt()))


def _backing_two(c: Chain) -> Limits:
    """The maker keeps 2.5 minimums of WETH: its funds back 2 open orders."""
    balance = c.weth.balance_of(c.address(MAKER))
    c.weth.transfer(c.sender(MAKER), c.address(0), balance - 5 * MIN_WETH // 2)
    limits = Limits()
    limits.min_amounts = {c.weth.address: MIN_WETH, c.usdc.address: 10**3}
    return limits


async def test_a_peers_chunk_of_one_maker_stays_funds_backed(chain: Chain, tmp_path: Path) -> None:
    c = chain
    limits = _backing_two(c)
    async with running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (node, _):
        objs: list[object] = [dict(_ask(c).to_json()) for _ in range(8)]
        results = await node.submit_many_from_peer(objs, "peer")
        assert results.count("accepted") == 2, results
        assert node.registry.account_open(c.address(MAKER), c.weth.address) == 2


async def test_concurrent_wallet_posts_stay_funds_backed(chain: Chain, tmp_path: Path) -> None:
    c = chain
    limits = _backing_two(c)
    async with running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (node, api):
        answers = await asyncio.gather(*(api.post_order(_ask(c)) for _ in range(8)))
        assert [code for code, _ in answers].count(201) == 2, answers
        assert {b.get("rejection") for code, b in answers if code != 201} == {"MAKER_LIMIT"}
        assert node.registry.account_open(c.address(MAKER), c.weth.address) == 2
