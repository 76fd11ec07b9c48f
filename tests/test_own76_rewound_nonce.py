"""own76: a match signed while the watcher drops own receipts a devnet rewound takes the
chain's count.

A devnet rewound below the block of one of the node's settlements, nothing mined at that
height since (``evm_revert``), has dropped it: once the chain has answered below its
receipt for ``BEHIND_SECONDS``, the watcher's poll finds it gone (``sdex.watch.own``). The
lane's nonce was forgotten only once the node applied that poll (``own_gone``), after the
poll's reads of the blocks below: a match signed in between took the dropped settlement's
next nonce, past the chain's count (Hardhat: "Nonce too high", signed again; anvil: pooled
behind a gap until filled). Real Hardhat, a real node and SQLite store, a real proxy on
loopback in front of the watcher's reads alone, holding its read of the block mined below
the receipt (``tests/rpcfault.py``)."""

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


async def test_a_match_signed_while_a_rewound_receipt_is_dropped_takes_the_chains_count(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fork, "BEHIND_SECONDS", 1.0)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    below = [0]  # (the block mined after the rewind, below the dropped receipt's)

    held, seen = Gate(head_polls), Gate(head_polls)  # (``seen`` first: ``held``'s poll, released,
    # is not caught again by it)
    branch = Gate(reads_from(below))
    with gated_proxy(c.rpc.url, [seen, held, branch]) as url:
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
            operator = node.sender.address
            revert(c, snap)  # (back to block n, nothing mined: the receipt's block gone)
            count = int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)
            own = node.watcher._own_below
            seen.armed.set()
            held.release.set()  # (a poll at block n: the receipt above the chain's head)
            await wait_for(seen.held.is_set, timeout=20)
            assert own.since, "the watcher saw the receipt above the chain's head"
            first = min(own.since.values())
            await wait_for(lambda: time.monotonic() - first > fork.BEHIND_SECONDS, timeout=10)
            below[0] = n + 1
            c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (block n + 1: to be read)
            branch.armed.set()
            seen.release.set()  # (the poll that finds the receipt gone, then reads n + 1)
            await wait_for(branch.held.is_set, timeout=20)
            assert node.watcher.reorgs == 0 and node.watcher.resets == 0
            ended = s.settled + s.lost + s.failed
            again = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=7))
            other = c.sign(bid(c, BOB, E18, 3000 * E6, salt=8))
            assert (await api.post_order(again))[0] == 201
            code, body = await api.post_order(other, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body

            def signed() -> bool:  # (sent, or already ended: landed, lost or failed)
                return bool(s.in_flight) or s.settled + s.lost + s.failed > ended

            await wait_for(signed, timeout=20)
            refused = s.nonce_refusals
            branch.release.set()

            async def landed() -> bool:
                return await api.status(again) == "filled"

            await wait_for(landed, timeout=30)
            mined = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
            assert mined > count and s.lost == 0
            assert refused == 0 and s.nonce_refusals == 0  # (was 1: "Nonce too high")
            assert node.watcher.resets == 0
