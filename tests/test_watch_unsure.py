"""Accounts whose funds a poll could not read (``Watcher._unsure``), real Hardhat and SQLite
with one account's calls failing (injected into the real node's batch answers): a chain
reset forgets them (the old chain's failures count for nothing, and a count carried over
would store a false 0 in the new chain's mirror), and an account no longer wanted (no open
order of that maker and token, its funds not in the mirror) is not read again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.errors import RpcError
from sdex.node.core import Node
from sdex.watch.changes import BlockChanges
from sdex.watch.watcher import FUNDS_TRIES
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask

FUNDS_SELECTORS = ("0x70a08231", "0xdd62ed3e")
"""``balanceOf``, ``allowance``: the watcher's funds reads (not intake's ``getOrderStates``)."""


class FailingReads:
    """``node``'s watcher with the funds reads of ``owner`` failing (a pruned node's
    answer); counts the calls that name it."""

    def __init__(self, node: Node, owner: str) -> None:
        w = node.watcher
        self.real, self.owner, self.reads = w.rpc.batch, owner[2:].lower(), 0
        w.rpc.batch = self.batch  # type: ignore[method-assign]

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        out = await self.real(calls)
        for i, (method, params) in enumerate(calls):
            data = str(params[0].get("data", "")) if method == "eth_call" else ""
            if data[:10] in FUNDS_SELECTORS and self.owner in data:
                self.reads += 1
                out[i] = RpcError(-32000, "missing trie node (injected)")
        return out


def empty() -> BlockChanges:
    return BlockChanges(head=0, head_hash="", timestamp=0)


async def test_a_chain_reset_forgets_the_accounts_left_unread(chain: Chain, tmp_path: Path) -> None:
    """ALICE's funds reads fail on the old chain, one poll short of giving up; the chain is
    reset under her open order: on the new chain her funds are read afresh (the order's
    ``getOrderStates``), not given up as an exact 0 by the old chain's count."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", reorg_depth=2)) as (node, api):
        w, m = node.watcher, node.mirror
        whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_taken(whole))[0] == 201
        alice = (c.address(ALICE).lower(), c.weth.address.lower())
        funds = (c.weth.balance_of(alice[0]), c.weth.allowance(alice[0], m.address))
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        c.rpc.call("hardhat_mine", hex(4))  # the kept headers (2 deep) all above the snapshot
        await synced(node, c)
        reads = FailingReads(node, alice[0])
        for _ in range(FUNDS_TRIES - 1):
            await w._refresh_funds(BlockChanges(0, "", 0, reread={alice}))
        assert reads.reads > 0 and w._unsure == {alice: FUNDS_TRIES - 1}
        revert(c, snap)  # another chain as far as the node can tell: a reset
        c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)
        c.rpc.call("hardhat_mine", hex(6))
        await wait_for(lambda: w.resets == 1, timeout=30)
        await synced(node, c)
        assert w._unsure.get(alice, 0) <= 1  # counted afresh (the replay touched her funds)
        assert m.funds[alice] == funds  # (not a false 0 carried over from the old chain)
        assert await api.status(whole) == "open"


async def test_an_account_no_longer_wanted_is_not_read_again(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _):
        w, m = node.watcher, node.mirror
        gone = (c.address(3).lower(), c.weth.address.lower())
        await synced(node, c)
        reads = FailingReads(node, gone[0])
        w._unsure[gone] = 1  # left unread by an earlier poll, its order gone since
        assert gone not in m.funds and not node.registry.holds_account(gone)
        await w._refresh_funds(empty())
        assert reads.reads == 0 and gone not in w._unsure
        m.set_funds(gone, 5, 5)  # its funds in the mirror: still wanted, read again
        w._unsure[gone] = 1
        await w._refresh_funds(empty())
        assert reads.reads == 2 and w._unsure == {gone: 2} and m.funds[gone] == (5, 5)
