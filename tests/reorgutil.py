"""Steps the reorg tests share, on a real node and real Hardhat (``evm_snapshot`` /
``evm_revert``): an order settled, filled or half filled, after a snapshot (a bitmap
sibling's fill closing it too); a soft cancel; the chain taken back to the snapshot onto a
longer branch; the settlement to send again; a closed record evicted; a kill after a reorg,
and the reset at the restart."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdex.chain.tx import RlpItem, rlp
from sdex.keccak import keccak
from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.order import SignedOrder, bitmap_salt, sign_hash
from tests.conftest import Chain
from tests.nodeutil import Api, running_node, wait_for
from tests.test_mirror import meta, revert, synced
from tests.test_mirror_lag import HoldBlock
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


def reorg(c: Chain, snap: str) -> None:
    """Back to ``snap``, then two blocks: a branch longer than the one undone."""
    revert(c, snap)
    c.rpc.call("evm_mine")
    c.rpc.call("evm_mine")


async def reorged(c: Chain, node: Node, snap: str) -> None:
    """``reorg``, applied by ``node`` (at the new head, a reorg counted)."""
    reorg(c, snap)
    await synced(node, c)
    assert node.watcher.reorgs >= 1


async def the_settlement(c: Chain, api: Api) -> tuple[str, str]:
    """The node's one settled fill's transaction: its hash (lower case) and its signed raw
    transaction (``raw_tx_of``), to be sent again after a reorg undid it."""
    _, fills = await api.get("/v1/fills")
    (tx,) = {f["transactionHash"].lower() for f in fills["records"]}
    return tx, raw_tx_of(c, tx)


def raw_tx_of(c: Chain, tx_hash: str) -> str:
    """The signed raw bytes (hex) of the mined EIP-1559 transaction ``tx_hash``, encoded
    again from the chain's own fields (Hardhat serves no ``eth_getRawTransactionByHash``;
    the node keeps a settlement's raw transaction only while it is pending), checked
    against the hash: what a reorg's test sends again to have it mined again."""
    t = c.rpc.call("eth_getTransactionByHash", tx_hash)
    assert int(t["type"], 16) == 2, t

    def q(k: str) -> int:
        return int(t[k], 16)

    def b(h: str) -> bytes:
        return bytes.fromhex(h[2:])

    access: list[RlpItem] = [
        [b(a["address"]), [b(k) for k in a["storageKeys"]]] for a in t["accessList"]
    ]
    y = q("yParity") if "yParity" in t else q("v")
    fields: list[RlpItem] = [
        q("chainId"), q("nonce"), q("maxPriorityFeePerGas"), q("maxFeePerGas"), q("gas"),
        b(t["to"]), q("value"), b(t["input"]), access, y, q("r"), q("s"),
    ]  # fmt: skip
    raw = b"\x02" + rlp(fields)
    assert "0x" + keccak(raw).hex() == tx_hash.lower(), "re-encoded, not the same transaction"
    return "0x" + raw.hex()


async def settled(c: Chain, node: Node, api: Api, signed: SignedOrder) -> None:
    """Nothing of ``signed`` in flight any more, and ``node`` at the chain's head."""

    async def done() -> bool:
        return (await meta(api, signed))["pendingMakerAmount"] == "0"

    await wait_for(done, timeout=20)
    await synced(node, c)


async def filled_far_below(c: Chain, node: Node, api: Api, whole: SignedOrder) -> str:
    """``whole`` (resting at ``node``) filled whole by BOB on chain after a snapshot (its id
    returned), then 63 blocks on it, all applied by ``node``: the fill far below the head."""
    await synced(node, c)
    snap = str(c.rpc.call("evm_snapshot"))
    c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
    c.rpc.call("hardhat_mine", hex(63))
    await synced(node, c)
    assert await api.status(whole) == "filled"
    return snap


async def forgotten(node: Node, signed: SignedOrder) -> None:
    """``signed``'s (closed) record has left ``node``'s memory."""

    async def gone() -> bool:
        await node.registry.evict()
        return signed.hash not in node.records

    await wait_for(gone, timeout=10)


async def soft_cancel(c: Chain, api: Api, signed: SignedOrder, maker: int) -> Any:
    """``maker`` cancels ``signed`` at the node (its signed ``CancelOrder``): taken (200);
    the answer's body."""
    sig = sign_hash(c.domain.cancel_digest(signed.hash), c.keys[maker])
    code, body = await api.post(
        f"/v1/orders/{signed.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
    )
    assert code == 200, body
    return body


async def half_filled_ask(c: Chain, node: Node, api: Api) -> tuple[SignedOrder, str]:
    """Alice's ask of 1 WETH for 3000 USDC rests; after a snapshot (returned with it) Bob
    fills half of it on chain, which ``node`` has applied."""
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    code, body = await api.post_taken(resting)
    assert code == 201, body
    snap = str(c.rpc.call("evm_snapshot"))
    c.exchange.fill_order(c.sender(BOB), resting, 1500 * E6)  # half of it
    await synced(node, c)
    return resting, snap


async def filled_ask(c: Chain, node: Node, api: Api) -> tuple[SignedOrder, str]:
    """Alice's ask of 1 WETH for 3000 USDC rests at ``node``; after a snapshot (returned with
    it) Bob fills it whole on chain, which ``node`` has applied: ``filled``."""
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    assert (await api.post_order(whole))[0] == 201
    await synced(node, c)
    snap = str(c.rpc.call("evm_snapshot"))
    c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
    await synced(node, c)
    assert await api.status(whole) == "filled"
    return whole, snap


async def closed_by_sibling(
    c: Chain, node: Node, api: Api, maker: int, taker: int, nonce: int
) -> tuple[SignedOrder, str]:
    """``maker``'s two asks on bitmap ``nonce`` (mirror31): the second, B, rests at ``node``;
    after a snapshot (returned with B) ``taker`` fills the first on chain, which closes B
    too (its bits); ``node`` has B ``filled``, its record evicted (``forgotten``)."""
    a = c.sign(c.order(maker, c.weth, E18, c.usdc, 3000 * E6, salt=bitmap_salt(nonce)))
    b = c.sign(c.order(maker, c.weth, E18, c.usdc, 3100 * E6, salt=bitmap_salt(nonce)))
    code, body = await api.post_order(b)
    assert code == 201 and body["status"] == "open", body
    await synced(node, c)
    snap = str(c.rpc.call("evm_snapshot"))
    c.exchange.fill_order(c.sender(taker), a, 3000 * E6)  # (B's bits: B closed too)

    async def b_filled() -> bool:
        return await api.status(b) == "filled"

    await wait_for(b_filled, timeout=60)
    await forgotten(node, b)
    return b, snap


async def held_ask(c: Chain, node: Node, api: Api) -> tuple[SignedOrder, HoldBlock]:
    """Once ``node`` has caught up: Alice's ask of 0.1 WETH for 300 USDC rests, and a
    ``HoldBlock`` is ready to stop its watcher inside a block."""
    await wait_for(lambda: node.watcher.caught_up.is_set())
    resting = c.sign(ask(c, ALICE, E18 // 10, 300 * E6))
    assert (await api.post_order(resting))[0] == 201
    return resting, HoldBlock(node)


async def killed_after_reorg(node: Node, signed: SignedOrder) -> None:
    """The state a kill right after a reorg the node applied leaves: the fills out of the
    store (the store's own reorg step, ``remove_fills_above``), the records as they were
    (their recheck, memory only, lost); ``signed``'s closed record evicted."""
    assert await node.store.remove_fills_above(0)
    await wait_for(lambda: signed.hash not in node.records, timeout=20)


def no_kept_blocks(db: Path | str) -> None:
    """The kept blocks a stopped node saved with its head deleted (an older version's store,
    which saved none): a restart that finds its saved head off the chain resets, as before
    watch81 (whose restart undoes the saved blocks to the fork point instead)."""
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM mirror_blocks")


@asynccontextmanager
async def reset_at_restart(
    c: Chain, cfg: NodeConfig, snap: str, signed: SignedOrder, kept: bool = False
) -> AsyncIterator[tuple[Node, Api]]:
    """``reorg`` to ``snap`` while the node is down (its saved head off the chain, the fill
    of ``signed`` undone), then the node on ``cfg`` again: the chain read anew (a reset: its
    saved kept blocks deleted first, as an older version's store has none), or (``kept``)
    the saved blocks undone to the fork point (watch81); ``signed`` at 0 filled (chaos61,
    chaos66: it kept the undone fill)."""
    reorg(c, snap)
    assert c.exchange.order_info(signed.order).filled == 0
    if not kept:
        no_kept_blocks(cfg.db)
    async with running_node(cfg) as (node, api):
        await synced(node, c)
        w = node.watcher
        assert (w.resets, w.reorgs >= 1) == ((0, True) if kept else (1, False))

        async def corrected() -> bool:
            return (await meta(api, signed))["filledMakerAmount"] == "0"

        await wait_for(corrected, timeout=20)
        yield node, api


@dataclass(frozen=True)
class RewoundLane:
    """A node's lane past the chain's count (``rewound_lane``): its operator, the next nonce
    it would sign, the chain's count after the rewind, and the settler's ends before it."""

    operator: str
    known: int
    count: int
    ended: int


async def rewound_lane(c: Chain, node: Node, api: Api, tag: str) -> RewoundLane:
    """A match settled after a snapshot, then the chain taken back to it with the watcher
    not polling: the settler's lane keeps a nonce past the chain's count (``tag``'s)."""
    s = node.settler
    await synced(node, c)
    snap = c.rpc.call("evm_snapshot")
    assert (await api.post_order(c.sign(ask(c, ALICE, E18, 3000 * E6))))[0] == 201
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    code, body = await api.post_order(taker, "ioc")
    assert code == 201 and len(body["matches"]) == 1, body
    await settled(c, node, api, taker)  # (its receipt woke the watcher: applied)
    operator, known = node.sender.address, s.sender.next_nonce
    revert(c, snap)
    count = int(c.rpc.call("eth_getTransactionCount", operator, tag), 16)
    assert known is not None and count < known
    return RewoundLane(operator, known, count, s.settled + s.lost + s.failed)


async def traded_again(c: Chain, node: Node, api: Api, lane: RewoundLane) -> SignedOrder:
    """A new crossing pair after ``rewound_lane``, its settlement ended without a loss or a
    failure: the IOC side, for its status."""
    s = node.settler
    again = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=7))
    other = c.sign(bid(c, BOB, E18, 3000 * E6, salt=8))
    assert (await api.post_order(again))[0] == 201
    code, body = await api.post_order(other, "ioc")
    assert code == 201 and len(body["matches"]) == 1, body
    await wait_for(lambda: s.settled + s.lost + s.failed > lane.ended, timeout=30)
    assert s.lost == 0 and s.failed == 0, (s.lost, s.failed)  # (was lost)
    return other
