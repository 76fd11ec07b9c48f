"""settle93 (left42, "Settlement"): a settlement's receipt is believed only once a read on a
connection of its own gives it too (``sdex.settlement.confirm``), before its matches are
counted settled and its orders filled.

Before, one answer through the node's pooled client was believed (``poll_receipt``). A
balancer that pins each kept-alive connection to one backend (sticky sessions) answered every
receipt ask from the backend it had placed them on: one that lies (or follows another chain)
told a receipt of the pooled settlement (its two fills, in a block the chain followed does
not have), the settlement was counted mined and its orders filled, though its transaction was
in no block (had it been dropped, the orders were closed for good).

Real Hardhat mining only when told (the settlement pools); a real node and SQLite store
behind settle89's real loopback balancer (aiohttp, keep-alive) whose connections open once
the settlement pooled are pinned to a backend that answers its receipt with one of another
block (status 1, the pair's two ``OrderFilled`` logs); connections opened since reach the
chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sdex.chain import Receipt
from sdex.chain.rpc import quantity
from sdex.keccak import keccak
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement.confirm import holds, same
from tests.conftest import Chain
from tests.nodeutil import Api, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settle89_sticky_receipt import Said, pooled_behind_sticky

__all__ = ["pooling"]

LIES = 4
"""Receipts told before the test looks: one made a settlement before."""


def _word(value: int | bytes) -> str:
    return (value if isinstance(value, bytes) else value.to_bytes(32, "big")).rjust(32, b"\0").hex()


def _fill(c: Chain, o: SignedOrder, other: SignedOrder, index: int, head: int, tx: str) -> object:
    """An ``OrderFilled`` log of ``o`` filled whole by ``other``'s maker (a block past
    ``head``, the ``index``-th log of ``tx``)."""
    maker, taker = o.order.maker, other.order.maker
    topics = [c.exchange._fill_topic, o.hash, bytes.fromhex(maker[2:]), bytes.fromhex(taker[2:])]
    data = (o.order.maker_amount, o.order.taker_amount, 0, 0)
    return {
        "address": c.exchange.address,
        "topics": ["0x" + _word(t) for t in topics],
        "data": "0x" + "".join(_word(d) for d in data),
        "blockNumber": hex(head + 1),
        "blockHash": "0x" + keccak(b"another chain").hex(),
        "transactionHash": tx,
        "transactionIndex": "0x0",
        "logIndex": hex(index),
        "removed": False,
    }


def told_receipt(
    c: Chain, tx: str, operator: str, at: int, block_hash: str, logs: list[object], bloom: str
) -> dict[str, object]:
    """The receipt a liar tells of the pooled settlement ``tx``: status 1, its ``logs``, in
    the block ``block_hash`` at ``at``."""
    return {
        "transactionHash": tx,
        "transactionIndex": "0x0",
        "blockHash": block_hash,
        "blockNumber": hex(at),
        "from": operator,
        "to": c.exchange.address,
        "cumulativeGasUsed": hex(150_000),
        "gasUsed": hex(150_000),
        "effectiveGasPrice": hex(10**9),
        "contractAddress": None,
        "logs": logs,
        "logsBloom": bloom,
        "status": "0x1",
        "type": "0x2",
    }


async def counted_once_mined(
    c: Chain,
    node: Node,
    api: Api,
    maker: SignedOrder,
    count: int,
    lied: Callable[[], bool],
    honest: Callable[[], None],
    *why: object,
) -> None:
    """While the liar tells the receipt of the node's one pooled settlement (till ``lied``):
    not counted settled, still in flight, ``maker`` not filled, the transaction pooled
    (``why``: said with a failure). Then ``honest`` (the liar out of the balancer) and a
    block: ``maker`` filled, the nonce taken once, the pair counted settled once."""
    s = node.settler
    [tx] = s.in_flight
    await wait_for(lambda: lied() or s.settled > 0, timeout=60)
    assert s.settled == 0 and tx in s.in_flight, (s.settled, *why)
    assert await api.status(maker) != "filled"
    assert c.rpc.call("eth_getTransactionReceipt", tx) is None  # (pooled)
    honest()
    c.rpc.call("evm_mine")

    async def filled() -> bool:
        return await api.status(maker) == "filled" and not s.in_flight

    await wait_for(filled, timeout=30)
    assert nonce(c.rpc, node.sender.address) == count + 1
    assert (s.settled, s.lost, s.failed) == (1, 0, 0), (s.settled, s.lost, s.failed)


async def test_a_sticky_backends_receipt_counts_no_pooled_settlement_mined(
    pooling: Chain, tmp_path: Path
) -> None:
    c = pooling
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    lies: list[int] = []
    pinned: set[int] = set()
    async with pooled_behind_sticky(c, tmp_path, maker, taker) as (b, node, api, count):
        s = node.settler
        operator = node.sender.address
        [tx] = s.in_flight
        head = quantity(c.rpc.call("eth_blockNumber"))
        logs = [_fill(c, maker, taker, 0, head, tx), _fill(c, taker, maker, 1, head, tx)]
        another = "0x" + keccak(b"another chain").hex()
        told = told_receipt(c, tx, operator, head + 1, another, logs, "0x" + "00" * 256)

        def answer(call: object, port: int) -> Said:  # (its receipt, of another block)
            if port not in pinned or not isinstance(call, dict):
                return None
            if call.get("method") != "eth_getTransactionReceipt":
                return None
            if call.get("params") != [tx]:
                return None
            lies.append(port)
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": told}

        pinned.update(b.ports)  # (the connections open now: the lying backend's)
        b.answer = answer
        # before: the receipt believed at the first lie, the pair counted settled and
        # both orders filled while the settlement was pooled
        await counted_once_mined(
            c, node, api, maker, count, lambda: len(lies) >= LIES, pinned.clear, lies
        )  # (pinned cleared: the lying backend out of the balancer)
    mined = c.rpc.call("eth_getTransactionReceipt", tx)
    assert mined["blockHash"] != told["blockHash"] and quantity(mined["status"]) == 1
    assert c.exchange.order_info(maker.order).filled == E18
    # (the confirming read: the block holds it and its bloom the logs; a fill of another
    # order's hash, or one told of another block, is not confirmed)
    got = Receipt.from_rpc(mined)
    block = c.rpc.call("eth_getBlockByHash", mined["blockHash"], False)
    assert holds(block, got) and not holds(block, Receipt.from_rpc(told))
    first = got.logs[0]
    other = first._replace(topics=[first.topics[0], b"\x01" * 32, *first.topics[2:]])
    assert not holds(block, replace(got, logs=[other, *got.logs[1:]]))
    # (a chain whose blooms are empty: the receipt itself read again, ``same``)
    assert holds({**block, "logsBloom": "0x" + "00" * 256}, got) is None
    assert same(got, Receipt.from_rpc(mined)) and not same(got, Receipt.from_rpc(told))
