"""Fills stored ahead of the watcher (from the node's own settlement receipt, or a peer's
settlement notice) whose block a reorg drops before the watcher gets there are deleted
(``sdex.watch.falsefills``): the store never keeps a fill the chain does not have. Real
Hardhat (``evm_snapshot``/``evm_revert``), a real node on loopback.

Before: the watcher never applied the dropped block, so no undo deleted its fills; the
order, judged again and settled anew, listed two fills (the orphaned transaction's at block
n+1 and the new one's) for an order filled once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sdex.gossip import NodeKey, PeerClient
from sdex.order import Domain, SignedOrder
from sdex.store import ChainIdentity, Store, StoredFill, fill_key
from sdex.watch import fork
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.reorgutil import held_ask, raw_tx_of
from tests.test_hostile import _raw_signed_post, addressee
from tests.test_mirror import synced
from tests.test_mirror_ahead import follows
from tests.test_mirror_lag import settled_past_the_watcher
from tests.test_node import ALICE, BOB, E6, E18


class Reverted:
    """The ``reverted`` fill events ``node`` publishes from now on (transaction hashes)."""

    def __init__(self, node: Any) -> None:
        self.txs: list[str] = []
        publish = node.events.publish

        def seen(event: dict[str, Any]) -> None:
            if event.get("type") == "fill" and event.get("event") == "reverted":
                self.txs.append(str(event["transactionHash"]))
            publish(event)

        node.events.publish = seen


def stored(node: Any, orders: list[SignedOrder]) -> list[tuple[str, int, int]]:
    """(tx hash, log index, block) of every fill the node's store lists for ``orders``."""
    out = []
    for s in orders:
        _, fills = node.store.fills(order_hash=s.hash_hex)
        out += [(f.tx_hash.lower(), f.log_index, f.block_number) for f in fills]
    return sorted(out)


def on_chain(c: Chain, orders: list[SignedOrder]) -> list[tuple[str, int, int]]:
    """The same, as the chain has it (the Exchange's ``OrderFilled`` logs)."""
    topic = "0x" + c.exchange.abi.events["OrderFilled"].topic.hex()
    hashes = {s.hash_hex.lower() for s in orders}
    logs = c.rpc.call(
        "eth_getLogs",
        {"fromBlock": "0x0", "toBlock": "latest", "address": c.exchange.address, "topics": [topic]},
    )
    return sorted(
        (lg["transactionHash"].lower(), int(lg["logIndex"], 16), int(lg["blockNumber"], 16))
        for lg in logs
        if lg["topics"][1].lower() in hashes
    )


def forget_nonces(c: Chain) -> None:
    for s in c.senders:
        s.forget_nonce()


async def settles_as_the_chain(api: Api, node: Any, c: Chain, orders: list[SignedOrder]) -> None:
    await wait_for(lambda: follows(api, node, c, orders), timeout=30)
    await synced(node, c)
    assert await follows(api, node, c, orders)


@pytest.mark.parametrize("new_heads", [True, False], ids=["newHeads", "polled"])
async def test_an_own_fill_reorged_out_before_the_watcher_got_there_is_deleted(
    chain: Chain, tmp_path: Path, new_heads: bool
) -> None:
    """Settled in block n+1 (the fill stored from the receipt) while the watcher is held in
    block n; the chain goes back to n and mines other blocks: the fill is deleted and said
    ``reverted``; the orders, open again, settle anew: the store lists the chain's fills."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", new_heads=new_heads)) as (
        node,
        api,
    ):
        hold, snap, resting, taker = await settled_past_the_watcher(c, node, api)
        orders = [resting, taker]
        first = stored(node, orders)
        assert first == on_chain(c, orders) and len(first) == 2
        reverted = Reverted(node)
        assert c.rpc.call("evm_revert", snap) is True  # the settlement's block is gone
        forget_nonces(c)
        c.rpc.call("evm_mine")
        c.rpc.call("evm_mine")
        hold.release()

        await settles_as_the_chain(api, node, c, orders)
        await wait_for(lambda: stored(node, orders) == on_chain(c, orders), timeout=20)
        assert not set(first) & set(on_chain(c, orders))  # (settled anew: another tx)
        assert set(reverted.txs) == {tx for tx, _, _ in first}


@pytest.mark.parametrize("higher", [False, True], ids=["same-height", "one-block-higher"])
async def test_an_own_settlement_mined_again_after_a_reorg_keeps_its_fills(
    chain: Chain, tmp_path: Path, higher: bool
) -> None:
    """The reorg drops the settlement's block, and the same transaction is mined again (at
    the same height, or a block higher): its fills stay stored, at the chain's block; only
    a row at the old height is said ``reverted``. The orders stay filled."""
    c = chain
    path = tmp_path / "n.db"
    async with running_node(node_config(c, path)) as (node, api):
        hold, snap, resting, taker = await settled_past_the_watcher(c, node, api)
        orders = [resting, taker]
        first = stored(node, orders)
        (tx,) = {t for t, _, _ in first}
        raw = raw_tx_of(c, tx)
        reverted = Reverted(node)
        assert c.rpc.call("evm_revert", snap) is True
        forget_nonces(c)
        if higher:
            c.rpc.call("evm_mine")
        assert c.rpc.call("eth_sendRawTransaction", raw).lower() == tx  # mined again (automine)
        c.rpc.call("evm_mine")
        hold.release()

        await settles_as_the_chain(api, node, c, orders)
        again = on_chain(c, orders)
        assert {t for t, _, _ in again} == {tx}
        assert [b for _, _, b in again] == [b + int(higher) for _, _, b in first]
        await wait_for(lambda: stored(node, orders) == again, timeout=20)
        assert set(reverted.txs) == ({tx} if higher else set())
        code, rec = await api.get(f"/v1/orders/{resting.hash_hex}")
        assert code == 200 and rec["metaData"]["status"] == "filled"


async def test_a_peers_notice_fill_reorged_out_before_the_watcher_got_there_is_deleted(
    chain: Chain, tmp_path: Path
) -> None:
    """Bob fills Alice's ask on chain in block n+1 while the watcher is held in block n; a
    peer's notice of it stores the fill and closes the order. The chain goes back to n and
    mines other blocks: the fill is deleted (``reverted``), the order open again."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        resting, hold = await held_ask(c, node, api)
        await hold.inside(c.weth.approve(c.sender(ALICE), c.exchange.address, E18).block_number)
        snap = str(c.rpc.call("evm_snapshot"))
        mined = c.exchange.fill_order(c.sender(BOB), resting, 300 * E6)
        peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
        body = json.dumps({"txHash": mined.tx_hash}).encode()
        assert (
            await _raw_signed_post(peer, api.base, "/p2p/settlements", body, addressee(node)) == 200
        )
        assert [t for t, _, _ in stored(node, [resting])] == [mined.tx_hash.lower()]
        reverted = Reverted(node)
        assert c.rpc.call("evm_revert", snap) is True
        forget_nonces(c)
        c.rpc.call("evm_mine")
        c.rpc.call("evm_mine")
        hold.release()

        await settles_as_the_chain(api, node, c, [resting])
        await wait_for(lambda: stored(node, [resting]) == [], timeout=20)
        assert on_chain(c, [resting]) == [] and reverted.txs == [mined.tx_hash.lower()]
        code, rec = await api.get(f"/v1/orders/{resting.hash_hex}")
        assert code == 200 and rec["metaData"]["status"] == "open"


async def test_an_own_fill_a_devnet_rewinds_below_with_nothing_mined_since_is_deleted(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain rewound to the watcher's head, nothing mined: once the receipt is dropped
    (``sdex.watch.own``), so is its fill, above the chain's head (said ``reverted``)."""
    monkeypatch.setattr(fork, "BEHIND_SECONDS", 1.0)
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", new_heads=False)) as (node, api):
        hold, snap, resting, taker = await settled_past_the_watcher(c, node, api)
        first = stored(node, [resting, taker])
        reverted = Reverted(node)
        assert c.rpc.call("evm_revert", snap) is True
        forget_nonces(c)
        hold.release()  # nothing mined

        await wait_for(lambda: set(reverted.txs) == {t for t, _, _ in first}, timeout=30)
        # (the orders, judged again, settle anew: tests/test_mirror_ahead.py follows them)
        await synced(node, c)
        await wait_for(lambda: stored(node, [resting, taker]) == on_chain(c, [resting, taker]))


def row(block: int, tx: int, i: int = 0) -> StoredFill:
    return StoredFill(
        bytes([tx]) * 32, "0x" + "01" * 20, "0x" + "02" * 20, 1, 2, "0x" + "00" * 20, 0,
        block, "0x" + f"{tx:064x}", i,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("low", "high", "chain", "txs", "deleted"),
    [
        (5, 6, [(5, 1), (6, 2)], None, []),  # all the chain's: nothing
        (5, 6, [(6, 2)], None, [(5, 1)]),  # block 5's not the chain's
        (5, 5, [], None, [(5, 1)]),  # only the range: 4 and 6 stay
        (5, 6, [(7, 1), (6, 2)], None, [(5, 1)]),  # its tx elsewhere: not at 5
        (5, 6, [], [2], [(6, 2)]),  # only those transactions
        (7, 2**62, [], None, []),  # none above
    ],
)
async def test_remove_fills_except_deletes_only_the_ranges_fills_the_chain_lacks(
    tmp_path: Path,
    low: int,
    high: int,
    chain: list[tuple[int, int]],
    txs: list[int] | None,
    deleted: list[tuple[int, int]],
) -> None:
    """``Store.remove_fills_except`` on a real SQLite store: fills of blocks 4, 5 and 6."""
    store = Store(tmp_path / "s.db", ChainIdentity(1, "0x" + "ab" * 20, "0x" + "cd" * 32),
                  Domain(1, "0x" + "ab" * 20))  # fmt: skip
    try:
        store.add_fills([row(4, 3), row(5, 1), row(6, 2)])
        keys = [fill_key(row(b, t)) for b, t in chain]
        named = None if txs is None else {row(0, t).tx_hash for t in txs}
        gone = await store.remove_fills_except(low, high, keys, named)
        assert [(f.block_number, f.order_hash[0]) for f in gone] == deleted
        _, left = store.fills()
        want = {(4, 3), (5, 1), (6, 2)} - set(deleted)
        assert {(f.block_number, f.order_hash[0]) for f in left} == want
    finally:
        store.close()
