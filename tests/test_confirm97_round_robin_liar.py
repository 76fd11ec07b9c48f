"""confirm97 (left44, "Settlement confirmation"; review96d): a settlement's receipt told by one
backend is believed only on the watcher's read of its block, or, when the watcher has read its
block number and cannot say, on ``CONFIRM_READS`` reads apart in a row giving it and none
saying otherwise (``sdex.settlement.confirm``).

Before, a receipt the watcher's read did not confirm (it said "not the chain's", or had not
read its block within ``WATCH_FIRST`` s) went to a read on a connection of its own, asked again
every ``CONFIRM_EVERY``, and the first read to confirm it counted: behind a balancer that
places each new connection on the next backend (round robin, each connection then sticky),
one of the reads reached the backend that told the receipt, which confirmed its own block,
and the pooled settlement was counted mined, its orders filled.

Real Hardhat mining only when told (the settlement pools); a real node and SQLite store behind
settle89's real loopback balancer (aiohttp, keep-alive), made round robin over two backends:
the connections open once the settlement pooled, and each second one opened since, are the
lying backend's, which answers the settlement's receipt with one of a block of its own making
(status 1, the pair's two ``OrderFilled`` logs; at the head's number, which the watcher read,
or the next one, which it has not) and that block by its hash (the transaction among its
own, the logs in its bloom); the other backend is the chain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sdex.chain import Receipt
from sdex.chain.rpc import quantity
from sdex.keccak import keccak
from sdex.settlement.confirm import holds
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_settle89_sticky_receipt import Said, pooled_behind_sticky
from tests.test_settle93_sticky_receipt import _fill, counted_once_mined, told_receipt

__all__ = ["pooling"]

LIES = 6
"""Receipts the liar told before the test looks (before: a read apart of the first two or
three reached it and made a settlement)."""


def bloom_of(logs: list[dict[str, object]]) -> str:
    """A ``logsBloom`` holding ``logs``' addresses and topics (``confirm.in_bloom``'s bits)."""
    bloom = bytearray(256)
    for lg in logs:
        items = [bytes.fromhex(str(lg["address"])[2:])]
        items += [bytes.fromhex(str(t)[2:]) for t in lg["topics"]]  # type: ignore[attr-defined]
        for item in items:
            h = keccak(item)
            for i in (0, 2, 4):
                bit = ((h[i] << 8) | h[i + 1]) & 2047
                bloom[255 - bit // 8] |= 1 << (bit % 8)
    return "0x" + bloom.hex()


def round_robin_liar(
    backend: dict[int, int],
    fake: str,
    block: object,
    tx: str,
    told: object,
    lying: list[bool],
    seen: tuple[list[int], list[int], list[int]],
    opened: int = 0,
) -> Callable[[object, int], Said]:
    """A sticky balancer's answer (``Said``): each new connection (by its client port) the
    next of two backends, round robin (counted past the ``opened`` ones already placed), 0 the
    liar — while ``lying`` — telling ``told`` for ``tx`` and the block ``fake`` (``block``),
    1 honest (no such block). ``seen``: the ports of the liar's receipts, its blocks and the
    honest backend's block reads, appended as asked."""
    lies, confirms, honest = seen

    def answer(call: object, port: int) -> Said:
        if port not in backend:  # (a new connection: the next backend, round robin)
            backend[port] = (len(backend) - opened) % 2
        if not lying or not isinstance(call, dict):
            return None
        method, params = call.get("method"), call.get("params")
        if method == "eth_getBlockByHash" and params and params[0] == fake:
            (confirms if backend[port] == 0 else honest).append(port)
            result: object = block if backend[port] == 0 else None
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": result}
        if backend[port] == 0 and method == "eth_getTransactionReceipt" and params == [tx]:
            lies.append(port)
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": told}
        return None

    return answer


@pytest.mark.parametrize("ahead", [0, 1], ids=["a-block-the-watcher-read", "the-next-block"])
async def test_a_round_robin_liars_receipt_counts_no_pooled_settlement_mined(
    pooling: Chain, tmp_path: Path, ahead: int
) -> None:
    c = pooling
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    lies: list[int] = []  # (receipts told)
    confirms: list[int] = []  # (the liar's block answered to a confirming read)
    honest: list[int] = []  # (confirming reads that reached the chain)
    backend: dict[int, int] = {}  # (a connection's backend by its client port: 0 the liar)
    async with pooled_behind_sticky(c, tmp_path, maker, taker) as (b, node, api, count):
        s, m = node.settler, node.mirror
        operator = node.sender.address
        [tx] = s.in_flight
        head = quantity(c.rpc.call("eth_blockNumber"))
        await wait_for(lambda: m.head is not None and m.head.number >= head, timeout=30)
        at = head + ahead
        fake = "0x" + keccak(b"the liar's block").hex()
        logs = [_fill(c, maker, taker, 0, at - 1, tx), _fill(c, taker, maker, 1, at - 1, tx)]
        for lg in logs:
            lg["blockHash"] = fake  # type: ignore[index]
        told = told_receipt(c, tx, operator, at, fake, logs, bloom_of(logs))
        block = {
            **c.rpc.call("eth_getBlockByNumber", hex(head), False),
            "hash": fake, "number": hex(at), "transactions": [tx], "logsBloom": told["logsBloom"],
        }  # fmt: skip
        assert holds(block, Receipt.from_rpc(told))  # (the liar's block confirms its receipt)
        lying = [True]  # (emptied: the liar out)

        answer = round_robin_liar(backend, fake, block, tx, told, lying, (lies, confirms, honest))
        backend.update((p, 0) for p in b.ports)  # (the connections open now: the liar's)
        b.answer = answer
        # before: the watcher's "no" (its block at that number is another) or its silence
        # (the next block, not read) sent the receipt to reads apart, asked again every
        # CONFIRM_EVERY, and the first read that reached the liar confirmed it
        await counted_once_mined(
            c,
            node,
            api,
            maker,
            count,
            lambda: len(lies) >= LIES,
            lying.clear,
            lies,
            confirms,
            honest,
        )  # (lying cleared: the lying backend out of the balancer)
    mined = c.rpc.call("eth_getTransactionReceipt", tx)
    assert mined["blockHash"] != fake and quantity(mined["status"]) == 1
    assert c.exchange.order_info(maker.order).filled == E18
