"""settle77: a match signed while the watcher applies a block mined at the height of one of
the node's own receipts takes the chain's count.

The node's settlement is mined in block n + 1 while its watcher is still at block n (the
receipt held ahead of the mirror); then the chain is taken back to n and another block n + 1
is mined (a reorg the watcher never saw the old side of). The watcher's read of that block
finds the receipt orphaned (``Effects.orphaned``): its nonce is free again. The lane's nonce
was forgotten only once the node applied that poll (``own_gone``), after the poll's reads of
the funds the block moved: a match signed in between took the orphaned settlement's next
nonce, past the chain's count (Hardhat: "Nonce too high"). own76 made the sibling case, a
receipt a devnet rewound below with nothing mined since, call ``undoing`` at once; this one
did not. Real Hardhat, a real node and SQLite store, a real proxy on loopback in front of the
watcher's reads alone (``tests/rpcfault.py``), holding its poll of the head, then its read of
the funds at block n + 1 (after the block was applied)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chainnode import Engine
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import NOT_HUNG, Calls, Gate, gated_proxy, head_polls
from tests.test_mirror import head, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


@pytest.fixture(autouse=True)
def hardhat_only(engine: Engine) -> None:
    if engine == "anvil":
        pytest.skip("Hardhat only: anvil queues a transaction past the count, never refuses it")


async def test_a_match_signed_while_an_orphaned_receipt_is_applied_takes_the_chains_count(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    at = [-1]  # (block n + 1 of the new branch, once mined)

    def funds_read(calls: Calls) -> bool:  # (the watcher's funds read at block n + 1)
        for call in calls:
            p = call.get("params")
            if call.get("method") == "eth_call" and isinstance(p, list) and p[1:2] == [hex(at[0])]:
                return True
        return False

    held, funds = Gate(head_polls), Gate(funds_read)
    with gated_proxy(c.rpc.url, [held, funds]) as url:
        async with running_node(cfg) as (node, api):
            node.watch_rpc.url = url  # (the watcher's reads alone through the proxy)
            node.watcher.stall = NOT_HUNG  # (its polls held: slow, not hung)
            await synced(node, c)
            n = head(c)[0]
            snap = c.rpc.call("evm_snapshot")
            held.armed.set()  # (the watcher stays at block n: the receipt is ahead of it)
            await wait_for(held.held.is_set, timeout=20)
            assert (await api.post_order(maker))[0] == 201
            code, body = await api.post_order(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            s = node.settler
            await wait_for(lambda: s.settled == 1, timeout=20)  # (from its receipt)
            assert node.mirror.own.above(n), "the receipt is held ahead of the mirror"
            operator = node.sender.address
            revert(c, snap)  # (back to block n: the receipt's block gone)
            count = int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)
            assert s.sender.next_nonce == count + 1  # (the lane's: past the chain's count)
            at[0] = n + 1
            c.weth.transfer(c.sender(CAROL), c.address(ALICE), 1)  # (another block n + 1)
            funds.armed.set()
            held.release.set()  # (the poll: block n + 1 read, the receipt orphaned)
            await wait_for(funds.held.is_set, timeout=20)
            assert node.watcher.resets == 0
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
            funds.release.set()

            async def landed() -> bool:
                return await api.status(again) == "filled"

            await wait_for(landed, timeout=30)
            mined = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
            assert mined == count + 1 and s.lost == 0  # (its settlement alone)
            assert refused == 0 and s.nonce_refusals == 0  # (was 1: "Nonce too high")
            assert node.watcher.resets == 0
