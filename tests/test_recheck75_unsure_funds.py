"""recheck75: a maker's funds the watcher could not read after a block that moved them are not
saved as known with the head past that block.

The watcher re-reads an account's balance and allowance at each block that touches it; one
read that fails (a call the endpoint did not answer, not the token's code) leaves the mirror's
old funds in place and reads them again with the next polls (``Watcher._unsure``, in memory
only). Its head was saved past that block all the same, with the old funds in the saved
mirror: a node SIGKILLed before the read came through restarted with them as exact, and
judged the maker's orders by them until another transfer touched the account (ALICE's ask
shown ``open``, fillable in full, her WETH all sent away). Now an unsure account's saved funds
go with that head's save: a start reads them from the chain.

Real Hardhat, a real ``sdex node`` process through a proxy that answers the watcher's reads
of ALICE's WETH at a block with an error, SIGKILLed by its PID once its head is saved past
her transfer; the restart in this process, on the chain directly."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, node_up, running_node, saved_head, wait_for
from tests.rpcfault import Answer, _errors, _proxy
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, DAVE, E6, E18, ask
from tests.test_node_restart import OPERATOR

BALANCE_OF = "0x70a08231"


@contextmanager
def funds_unread(upstream: str, owner: str) -> Iterator[tuple[str, threading.Event]]:
    """The URL of a proxy to ``upstream`` that, once the event it gives is set, answers every
    request reading ``owner``'s balance at a block number (the watcher's re-read of funds a
    block touched) with JSON-RPC errors, as an endpoint missing that state would."""
    armed = threading.Event()
    word = owner.lower().removeprefix("0x")

    def intercept(req: object) -> Answer | None:
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        for call in calls:
            params = call.get("params")
            if call.get("method") != "eth_call" or not isinstance(params, list) or len(params) < 2:
                continue
            data = str(params[0].get("data", "")) if isinstance(params[0], dict) else ""
            at = str(params[1])
            if armed.is_set() and data.startswith(BALANCE_OF) and word in data and at[:2] == "0x":
                return 200, json.dumps(_errors(req)).encode()
        return None

    with _proxy(upstream, intercept) as url:
        yield url, armed


def saved_at(db: Path, number: int, owner: str | None = None) -> bool:
    """The watcher saved its head at ``number`` or above (with ``owner``'s funds, if given)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        sql = "SELECT 1 FROM mirror_funds WHERE lower(maker)=?"
        funds = conn.execute(sql, ((owner or "").lower(),)).fetchone()
    return saved_head(db) >= number and (owner is None or funds is not None)


async def test_funds_unread_after_a_block_are_not_saved_as_known_past_it(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    alice = c.address(ALICE)
    sell = c.sign(ask(c, ALICE, E18 // 10, 250 * E6), ALICE)
    with funds_unread(c.deployment.rpc, alice) as (url, armed):
        # (up once the chain's blocks so far are applied: her funding among them, a read of
        # her funds made below it is not learned, and then nothing saves them)
        async with node_up(c, db, url, OPERATOR) as (proc, api):
            assert (await api.post_order(sell))[0] == 201
            c.rpc.call("evm_mine")  # (her funds saved with a head)
            mined = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: saved_at(db, mined, alice), timeout=30)
            armed.set()
            c.weth.transfer(c.sender(ALICE), c.address(DAVE), c.weth.balance_of(alice))
            moved = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: saved_at(db, moved), timeout=30)
            m = await meta(api, sell)  # (as before the transfer: its read failed)
            assert m["remainingFillableMakerAmount"] == str(E18 // 10), m
            proc.kill()  # (SIGKILL, by its PID: her funds not read again yet)
            proc.wait(timeout=10)
    assert c.weth.balance_of(alice) == 0

    async with running_node(node_config(c, db)) as (node, api):
        c.rpc.call("evm_mine")  # (a block past the saved head, for ``synced``)
        await synced(node, c)
        m = await meta(api, sell)  # before: "open", all of it fillable, for good
        assert m["remainingFillableMakerAmount"] == "0", m
