"""settle98: a settlement confirmed while the watcher, past its block, still re-reads the
funds that block moved does not give the maker the settled amount back in the book.

Since settle95 the watcher's read of an own settlement's block confirms its receipt: the
settler confirms the match (the book takes the fill off the maker's funds) while the
watcher's poll goes on, and then set the makers' funds from the mirror because its head
was past the block (``_watcher_was_first``). A maker whose funds the mirror held from a
read at "latest" (intake's: ``unsure``) is re-read, not moved by the amounts, so the mirror
still had her funds before the block: the book showed her the settled amount once more
until the poll's re-read reached it (take65's withdrawn-twice match was that window, for
an exact account: ``Mirror`` now moves those by the amounts read). Real Hardhat, a real
node; the watcher's funds reads held until the match is confirmed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all


def head(c: Chain) -> int:
    return int(c.rpc.call("eth_blockNumber"), 16)


def spendable(c: Chain, account: tuple[str, str]) -> int:
    """What the chain lets ``account`` pay: the less of its balance and its allowance."""
    token = c.weth if account[1] == c.weth.address else c.usdc
    return min(token.balance_of(account[0]), token.allowance(account[0], c.exchange.address))


async def test_a_match_confirmed_while_its_funds_are_read_again_keeps_them_spent(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        carol = (c.address(CAROL), c.weth.address)
        maker = c.sign(ask(c, CAROL, 2 * E18, 6000 * E6))
        await post_all(api, [maker])
        assert carol in node.mirror.unsure  # (her funds read at "latest" by intake)
        go, held = asyncio.Event(), asyncio.Event()
        batch = node.watch_rpc.batch

        async def held_batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
            if any(method == "eth_call" for method, _ in calls):  # (a funds read)
                held.set()
                async with asyncio.timeout(60):
                    await go.wait()
            return await batch(calls)

        node.watch_rpc.batch = held_batch  # type: ignore[method-assign]
        try:
            await post_all(api, [c.sign(bid(c, BOB, E18, 3000 * E6))])
            # confirmed (the book's confirm, then the funds set after it: no await between)
            await wait_for(lambda: node.settler.settled == 1 and not node.book.reserved(*carol))
            await wait_for(held.is_set, timeout=60)  # (the watcher past the block, reading)
            assert node.mirror.head is not None and node.mirror.head.number == head(c)
            # the book: her funds less what the settlement took, as the chain has them
            assert node.book.funds(*carol) == spendable(c, carol)
        finally:
            go.set()
        await wait_for(lambda: node.mirror.spendable(carol) == spendable(c, carol))
        assert node.book.funds(*carol) == spendable(c, carol)
