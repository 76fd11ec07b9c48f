"""settle81: a restart never sends again a pending row whose transaction would settle
nothing now.

A settlement withdrawn right before its send (an order of it cancelled on chain, or
soft-cancelled) has its row dropped by an urgent write; a kill before that write commits,
with no later row at its nonce, leaves the row ``pending`` (review80b's window), and the
restart's reconcile sent its bytes again: mined and reverted, the operator paying for a
``matchOrders`` of a cancelled order (or filling a soft-cancelled one). The store here is
crafted as that kill leaves it: a real ``sdex node`` process ran on it and stopped, then a
``pending`` row is written as ``Store.add_settlement`` writes it (signed by the operator's
key at the chain's next nonce, never sent) and its order cancelled (on chain, or by the
node's soft cancel); the node is started again on the same store and chain (real Hardhat).

Cases: the row alone (its nonce given back: nothing paid, the next settlement takes it), the
row with a sound one recorded at the next nonce (its nonce taken by a transfer of nothing,
21,000 gas, the next one mined), and the row's order soft-cancelled (never filled after the
node acknowledged the cancel)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from sdex.chain.tx import SignedTx, fees_for
from sdex.order import SignedOrder
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import node_up, wait_for
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR

UINT256_MAX = 2**256 - 1
GAS = 600_000


def count(c: Chain) -> int:
    return quantity(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "latest"))


def signed_match(c: Chain, pairs: list[tuple[SignedOrder, SignedOrder]], nonce: int) -> SignedTx:
    """The operator's settlement of ``pairs`` at ``nonce``, as the lane signs one (never sent)."""
    data = c.exchange.encode_settlement([(r, i, UINT256_MAX) for r, i in pairs])
    block = c.rpc.call("eth_getBlockByNumber", "latest", False)
    fees = fees_for(int(block.get("baseFeePerGas", "0x0"), 16))
    return c.sender(OPERATOR).sign_at(nonce, c.exchange.address, data, GAS, fees=fees)


def record(db: Path, tx: SignedTx, pairs: list[tuple[SignedOrder, SignedOrder]]) -> None:
    """``tx``'s row, pending, as ``Store.add_settlement`` writes it (the node stopped)."""
    names = json.dumps([(r.hash_hex, i.hash_hex) for r, i in pairs])
    now = time.time()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO settlements VALUES (?,?,?,?,?,?,?)",
            (tx.tx_hash, tx.nonce, tx.raw, names, "pending", now, now),
        )


def status_of(db: Path, tx_hash: str) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (s,) = conn.execute("SELECT status FROM settlements WHERE tx_hash=?", (tx_hash,)).fetchone()
    return str(s)


def pair(c: Chain, maker: int, taker: int, price: int) -> tuple[SignedOrder, SignedOrder]:
    """A resting bid of ``maker`` and an ask of ``taker`` crossing it (0.1 WETH)."""
    resting = c.sign(bid(c, maker, E18 // 10, price * E6 // 10), maker)
    return resting, c.sign(ask(c, taker, E18 // 10, (price - 1) * E6 // 10), taker)


@pytest.mark.parametrize("case", ["alone", "before a sound one", "soft-cancelled"])
async def test_a_pending_row_that_settles_nothing_is_not_sent_again(
    chain: Chain, tmp_path: Path, case: str
) -> None:
    """Before: the row's bytes were sent again at the restart, mined and reverted (the order
    cancelled on chain) or mined filling a soft-cancelled order: failed 3 of 3 each."""
    c = chain
    db = tmp_path / "n.db"
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    gone = pair(c, BOB, ALICE, price)
    async with node_up(c, db, None, OPERATOR) as (_, api):
        assert (await api.post_taken(gone[0]))[0] == 201  # (rests: nothing crosses it)
        if case == "soft-cancelled":
            sig = sign_cancel(c.domain, gone[0].hash, c.keys[BOB])
            code, body = await api.post(
                f"/v1/orders/{gone[0].hash_hex}/cancel", {"signature": "0x" + sig.hex()}
            )
            assert code == 200 and body["status"] == "cancelled", body
    at = count(c)  # (the node stopped: the nonce its next settlement would take)
    withdrawn = signed_match(c, [gone], at)
    record(db, withdrawn, [gone])
    sound: tuple[SignedOrder, SignedOrder] | None = None
    if case == "before a sound one":  # (its nonce needed: a later row waits on it)
        sound = pair(c, CAROL, DAVE, price)
        nxt = signed_match(c, [sound], at + 1)
        record(db, nxt, [sound])
    if case != "soft-cancelled":  # (cancelled on chain while the node was down)
        c.exchange.cancel_order(c.sender(BOB), gone[0].order)
    at = count(c)  # (BOB's cancel is another account's: the operator's count unchanged)
    async with node_up(c, db, None, OPERATOR) as (_, api):
        assert status_of(db, withdrawn.tx_hash) == "dropped"
        got = c.rpc.call("eth_getTransactionReceipt", withdrawn.tx_hash)
        assert got is None, f"the row's bytes were sent again: status {got['status']}"
        if sound is None:  # (its nonce given back: the next settlement takes it)
            assert count(c) == at
            later = pair(c, ALICE, BOB, price + 1)  # (ALICE bids, BOB asks)
            assert (await api.post_taken(later[0]))[0] == 201
            assert (await api.post_taken(later[1]))[0] == 201

            async def settled() -> bool:
                return await api.status(later[1]) == "filled"

            await wait_for(settled, timeout=60)
            assert count(c) == at + 1  # (at the nonce given back: no gap filled)
        else:  # (its nonce taken by a transfer of nothing, the sound one mined behind it)
            assert count(c) == at + 2
            mined = c.rpc.call("eth_getTransactionReceipt", nxt.tx_hash)
            assert mined is not None and int(mined["status"], 16) == 1, mined
            operator = c.address(OPERATOR).lower()
            top = int(mined["blockNumber"], 16)
            found = [
                t
                for n in range(max(0, top - 8), top + 1)
                for t in c.rpc.call("eth_getBlockByNumber", hex(n), True)["transactions"]
                if t["from"].lower() == operator and int(t["nonce"], 16) == at
            ]
            assert [(t["to"].lower(), t["input"]) for t in found] == [(operator, "0x")], found
