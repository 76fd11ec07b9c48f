"""``Settler.ours``: the node's own settlement transactions, kept while a block the watcher
applies may still hold them (the reorg window), then dropped: bounded, not for ever."""

from __future__ import annotations

from pathlib import Path

from sdex.settlement.owned import OwnTxs
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all


def test_own_txs_are_dropped_once_final_in_order_and_capped() -> None:
    own = OwnTxs(cap=3)
    for tx in "abc":
        own.add(tx)
    own.landed("a", 10)
    own.landed("c", 12)
    assert own.prune(100) == ["a"]  # "b" is out: none after it goes (send order)
    own.landed("b", 11)
    assert own.prune(12) == ["b"] and list(own) == ["c"]  # "c" is not final below 12
    assert own.add("d") == [] and own.add("e") == [] and own.add("f") == ["c"]  # the cap
    assert "f" in own and "c" not in own and len(own) == 3


async def test_own_settlements_are_forgotten_once_out_of_the_reorg_window(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        mirror = node.settler.mirror
        assert mirror is not None
        mirror.depth = 2  # (the reorg window: 2 blocks, not 128)
        sent: list[str] = []
        for i in range(3):
            await post_all(api, [c.sign(ask(c, CAROL, E18, 3000 * E6))])
            assert (await api.post_taken(c.sign(bid(c, BOB, E18, 3000 * E6))))[0] == 201
            await wait_for(lambda i=i: node.settler.settled == i + 1)  # type: ignore[misc]
            (tx,) = [t for t in node.settler.ours if t not in sent]
            sent.append(tx)
        first = int(c.rpc.call("eth_getTransactionReceipt", sent[0])["blockNumber"], 16)
        last = int(c.rpc.call("eth_getTransactionReceipt", sent[-1])["blockNumber"], 16)
        assert all(t in node.settler.ours for t in sent)  # within the window: all kept
        for _ in range(3):
            c.rpc.call("evm_mine")
        await wait_for(lambda: mirror.head is not None and mirror.head.number >= last + 3)
        # the next settlement's receipt drops those its head put out of the window
        await post_all(api, [c.sign(ask(c, CAROL, E18, 3000 * E6))])
        assert (await api.post_taken(c.sign(bid(c, BOB, E18, 3000 * E6))))[0] == 201
        await wait_for(lambda: node.settler.settled == 4)
        assert first < last and not any(t in node.settler.ours for t in sent)
        assert len(node.settler.ours) == 1  # the newest, in the window: kept
