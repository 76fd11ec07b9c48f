"""count77: a receipt found gone (a devnet rewound below it) begins one undoing, however many
polls fail before its drop is applied.

own76 has the watcher's poll call ``undoing`` (the lane's nonce forgotten, the durable own
fills' record forgotten) as soon as it finds one of the node's receipts above the chain's
head for ``BEHIND_SECONDS`` (``sdex.watch.own.OwnBelow.gone``), before the poll's block reads
and ``Mirror.drop_own``. A poll whose reads failed left the receipt in place, and every next
poll called ``undoing`` again: each forgot the lane's nonce (the next signature waited for
every send under way, then read the count again) and bumped the durable fills' epoch (the
settler's fill writes left to the watcher). Real Hardhat, a real node and SQLite store, a
real proxy on loopback in front of the watcher's reads alone, failing its read of the block
mined below the receipt ``FAILS`` times (``tests/rpcfault.py``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sdex.watch import fork
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import NOT_HUNG, Gate, gated_proxy, head_polls, reads_from
from tests.test_mirror import head, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid

FAILS = 3


async def test_a_gone_receipt_is_undone_once_while_its_polls_fail(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fork, "BEHIND_SECONDS", 1.0)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    below = [0]  # (the block mined after the rewind, below the dropped receipt's)

    held, seen = Gate(head_polls), Gate(head_polls)
    failing = [Gate(reads_from(below), fail=True) for _ in range(FAILS)]
    for g in failing:
        g.release.set()  # (answered with an error at once, one request each)
    with gated_proxy(c.rpc.url, [seen, held, *failing]) as url:
        async with running_node(cfg) as (node, api):
            node.watch_rpc.url = url  # (the watcher's reads alone through the proxy)
            node.watcher.stall = NOT_HUNG  # (its polls held: slow, not hung)
            await synced(node, c)
            n = head(c)[0]
            snap = c.rpc.call("evm_snapshot")
            held.armed.set()  # (the watcher stays at block n: the receipt is ahead of it)
            await wait_for(held.held.is_set, timeout=20)
            c.rpc.call("hardhat_mine", hex(1))  # (the settlement in block n + 2)
            assert (await api.post_order(maker))[0] == 201
            code, body = await api.post_order(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            s = node.settler
            await wait_for(lambda: s.settled == 1, timeout=20)  # (from its receipt)
            assert node.mirror.own.above(n + 1), "the receipt is held ahead of the mirror"
            revert(c, snap)  # (back to block n, nothing mined: the receipt's block gone)
            own = node.watcher._own_below
            seen.armed.set()
            held.release.set()  # (a poll at block n: the receipt above the chain's head)
            await wait_for(seen.held.is_set, timeout=20)
            assert own.since, "the watcher saw the receipt above the chain's head"
            first = min(own.since.values())
            await wait_for(lambda: time.monotonic() - first > fork.BEHIND_SECONDS, timeout=10)
            below[0] = n + 1
            c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (block n + 1: to be read)
            undos, epoch = s.undos, node._own_durable.epoch
            for g in failing:
                g.armed.set()
            seen.release.set()  # (the poll that finds the receipt gone, its reads failing)
            await wait_for(lambda: failing[-1].held.is_set(), timeout=30)
            await wait_for(lambda: not node.mirror.own.above(n), timeout=30)  # (dropped)

            def applied() -> bool:  # (the poll that dropped it, applied by the node)
                done = node.watcher.applied
                return done is not None and done.number >= n + 1

            await wait_for(applied, timeout=30)
            assert node.watcher.reorgs == 0 and node.watcher.resets == 0
            assert s.undos - undos == 1  # (before: one a poll, FAILS + 1)
            # (one as the receipt is found gone, one as the node applies its drop; before:
            # FAILS + 2)
            assert node._own_durable.epoch - epoch == 2
