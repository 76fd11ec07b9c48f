"""Issue 11, the mirror's read budget, counted on the node's own JSON-RPC client: an account
the node has not seen costs one ``getOrderStates`` read, shared by every order of it that
arrives in the same window (a peer's chunk: checked together); from then on its orders cost
no chain call at all, from a peer or from a wallet. Real Hardhat, a real node, SQLite."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import CAROL, DAVE, E6, E18, ask


async def test_a_first_seen_account_costs_one_read_for_its_window_then_none(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        assert node.mirror.spendable((c.address(CAROL), c.weth.address)) is None  # not seen
        calls = node.rpc.calls
        before = calls["eth_call"]

        # eight orders of a maker the node never saw, in one peer's chunk: one read
        chunk = [c.sign(ask(c, CAROL, E18 // 100, (30 + i) * E6)) for i in range(8)]
        got = await node.submit_many_from_peer([dict(s.to_json()) for s in chunk], "ab" * 32)
        assert got == ["accepted"] * 8
        assert calls["eth_call"] == before + 1
        assert node.mirror.spendable((c.address(CAROL), c.weth.address)) is not None

        # the same (maker, token) again, from a peer and from a wallet: no chain call
        later = [c.sign(ask(c, CAROL, E18 // 100, (40 + i) * E6)) for i in range(3)]
        got = await node.submit_many_from_peer([dict(s.to_json()) for s in later], "ab" * 32)
        assert got == ["accepted"] * 3
        assert (await api.post_taken(c.sign(ask(c, CAROL, E18 // 100, 50 * E6))))[0] == 201
        assert calls["eth_call"] == before + 1

        # another first-seen account through a wallet: one read, then none
        assert (await api.post_taken(c.sign(ask(c, DAVE, E18 // 100, 60 * E6))))[0] == 201
        assert calls["eth_call"] == before + 2
        assert (await api.post_taken(c.sign(ask(c, DAVE, E18 // 100, 61 * E6))))[0] == 201
        assert calls["eth_call"] == before + 2
