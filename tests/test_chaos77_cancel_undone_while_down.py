"""chaos77: an order a block's cancel closed, its node killed before the head was saved past
that block and the block undone while it was down, is open again at the restart.

Found by ``bench/chaos52.py --seeds 26`` with every fault mix (``/tmp/chaos52-26-_7qpxc2f``,
node 1): a snapshot at block 100, the maker's on-chain cancel mined in block 101, node 1
applied it (the order's row ``cancelled``, "the order is cancelled on chain", committed) and
was SIGKILLed ~20 ms later, before its head was saved past block 100; the chain was rewound
to 100 and three blocks mined while it was down. At the restart the saved head (100) was
still on the chain (no reorg to undo), the blocks since cancelled nothing, and the order's
row stayed ``cancelled`` for good: fillable on chain, open at the other two nodes
(``sdex audit``: ``books_disagree``; the run never settled). Now the orders a block's cancel
closes are due a recheck (``rechecks`` rows, ``Rechecks.hold``) until the head is saved past
it: a start judges them again once caught up and reopens this one.

The kill's moment, deterministically: a real SQLite trigger refuses the watcher's saves of
its head (each try fails whole: the head stays at the block before the cancel) while the
order's close commits; the node is killed by its PID once it has. Real Hardhat, a real
``sdex node`` process, SQLite; the restart in this process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sdex.chain.exchange import OrderStatus
from tests.conftest import Chain
from tests.nodeutil import node_config, node_up, running_node, saved_head, wait_for
from tests.test_mirror import meta, revert, synced
from tests.test_node import ALICE, E6, E18, ask
from tests.test_node_restart import OPERATOR

NO_HEAD = (
    "CREATE TRIGGER no_head BEFORE INSERT ON meta WHEN NEW.key = 'mirror_head'"
    " BEGIN SELECT RAISE(ABORT, 'refused here'); END"
)


def status_of(db: Path, order: str) -> str | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT status FROM orders WHERE hash=?", (order,)).fetchone()
    return None if row is None else str(row[0])


async def test_an_order_a_cancel_closed_before_a_kill_reopens_when_the_block_was_undone(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    sell = c.sign(ask(c, ALICE, E18 // 10, 250 * E6), ALICE)
    order = sell.hash_hex.lower()
    async with node_up(c, db, key_index=OPERATOR) as (proc, api):
        assert (await api.post_taken(sell))[0] == 201
        c.rpc.call("evm_mine")  # a head saved with the order open (the restart's)
        below = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_head(db) >= below, timeout=30)
        with sqlite3.connect(db, timeout=30) as conn:  # (beside the node's writer)
            conn.execute(NO_HEAD)
        snap = c.rpc.call("evm_snapshot")
        c.exchange.cancel_order(c.sender(ALICE), sell.order)  # block below + 1
        await wait_for(lambda: status_of(db, order) == "cancelled", timeout=30)
        assert saved_head(db) == below  # (the kill's moment: closed, head not past)
        proc.kill()  # (SIGKILL, by its PID)
        proc.wait(timeout=10)
    revert(c, snap)  # the cancel's block undone while the node is down
    for _ in range(3):
        c.rpc.call("evm_mine")
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER no_head")
    assert c.exchange.order_info(sell.order).status == OrderStatus.FILLABLE

    async with running_node(node_config(c, db)) as (node, api):
        await synced(node, c)

        async def reopened() -> bool:  # before: "cancelled", for good
            return (await meta(api, sell))["status"] == "open"

        await wait_for(reopened, timeout=20)
    with sqlite3.connect(db) as conn:  # (done: not judged again at the next start)
        assert conn.execute("SELECT COUNT(*) FROM rechecks").fetchone() == (0,)
