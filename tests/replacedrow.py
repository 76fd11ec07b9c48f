"""A settlement the killed run left pooled, and a restart behind a proxy that answers some of
its judging calls as the test says (settle83, settle84, review86b: a pooled row replaced by a
transfer at the start; settle86, settle87, settle88: a row stuck under a risen base fee, the
chain's fee set back after): the set-up they share.

Real chain of the suite's engine, its mining on the send turned off (``pooling``), a real
``sdex node`` process killed by its PID (``tests.test_reconcile77_too_high``), a real proxy
on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sdex.chain.rpc import quantity
from sdex.keccak import keccak
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, wait_for
from tests.rpcfault import _answering, _proxy
from tests.test_reconcile77_too_high import pending_rows, pooled_and_killed


async def pooled_row(c: Chain, db: Path) -> tuple[SignedOrder, int, str, dict[str, Any]]:
    """The first run's settlement pooled (not mined), the node killed: the resting ask, the
    operator's count before, the pending row's hash, and its transaction as the chain has it."""
    maker, count = await pooled_and_killed(c, db, None)
    (tx,) = pending_rows(db)
    got = c.rpc.call("eth_getTransactionByHash", tx)
    assert got is not None and got.get("blockNumber") is None, got  # (pooled)
    return maker, count, tx, got


@contextmanager
def answering(c: Chain, answer: Callable[[object], dict[str, object] | None]) -> Iterator[str]:
    """The URL of a proxy to ``c`` whose answer to each call (alone or in a batch) is
    ``answer``'s where it gives one, the chain's else."""
    with _proxy(c.rpc.url, lambda req: _answering(c.rpc.url, req, answer)) as url:
        yield url


@contextmanager
def base_fee_kept(c: Chain) -> Iterator[int]:
    """The latest block's base fee; at the end the next block's again, that block mined (the
    shared chain as the next test expects it, after blocks set over a row's fee cap)."""
    base = quantity(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"])
    try:
        yield base
    finally:
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(base))
        c.rpc.call("evm_mine")


async def fee_walked_to(c: Chain, fee: int, node: Node | None = None) -> None:
    """The chain's base fee brought to ``fee``, block by block, each at most an eighth over its
    parent's (EIP-1559's most: a node's reads of the blocks believe each; fee93), the blocks
    mined; a fall at once. ``node``: one running (in this process) during the walk, each block
    read by its watcher before the next is mined (fee97: a walk mined unwatched let the watcher
    catch up by one range, the blocks deeper than its reorg depth below the tip passed unread,
    their rise no step (fee95's ``passed``), the climb's fee refused: sensitive under load).
    Without one (the node down, or not started yet), a later start reads the walk as the chain
    it finds."""
    now = quantity(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"])
    while now != fee:
        now = fee if fee < now else min(fee, now + max(now // 8, 1))
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(now))
        c.rpc.call("evm_mine")
        if node is not None:
            on, w = quantity(c.rpc.call("eth_blockNumber")), node.watcher
            await wait_for(lambda: w.applied is not None and w.applied.number >= on, 60)  # noqa: B023


async def withheld_for_fee(
    c: Chain, node: Node, api: Api, row: dict[str, Any], pooled: bool
) -> None:
    """(fee93) A restart's row ``row`` (its transaction as the chain had it) adopted, the
    chain's fee set over its cap in one block, past EIP-1559's reach of the blocks the
    node's mirror read: while no block brings it within reach, nothing is signed at its
    nonce (no replacement, no transfer signed again), the fee read again and refused again
    (never believed for being read twice), /health's ``chainMirror.baseFee`` saying why,
    and the row judged again before any send of its bytes (``rejudged``: fix93, one the
    start judged at its own fees, the fees of now not believed, was re-priced unjudged as
    soon as they were). ``pooled``: the row still pooled (else its bytes not sent again)."""
    s, tx = node.settler, str(row["hash"])
    cancel = s.cancels.get(tx)  # (the start's transfer, if it sent one)

    async def fees() -> dict[str, Any]:
        return dict((await api.get("/health"))[1]["chainMirror"]["baseFee"])

    first = (await fees())["readUntrusted"]

    async def refused_again() -> bool:
        now = await fees()
        return now["refusing"] is True and now["readUntrusted"] >= first + 2

    await wait_for(refused_again, timeout=30)
    said = await fees()
    assert "not signed with till its reads of the chain come within reach" in str(
        said["lastUntrusted"]
    ), said
    assert tx in s.rejudged, s.rejudged
    signed = (s.replaced, s.cancels_repriced, s.cancelled, s.gap_fills, s.pool_nudges)
    assert signed == (0, 0, 0, 0, 0) and s.cancels.get(tx) is cancel, (signed, s.cancels)
    known = c.rpc.call("eth_getTransactionByHash", tx)  # (pooled: still; else not sent again)
    assert (known is not None and known.get("blockNumber") is None) == pooled, known


def foreign_receipt(tx: str, row: dict[str, Any], head: int, status: str) -> dict[str, object]:
    """A receipt for the pooled ``row``'s ``tx`` in a block of another chain (the block after
    ``head``, no logs): a lie a backend tells, ``status`` ``"0x0"`` reverted or ``"0x1"`` mined
    with no fills (short of its match's)."""
    return {
        "transactionHash": tx,
        "transactionIndex": "0x0",
        "blockHash": "0x" + keccak(b"another chain").hex(),
        "blockNumber": hex(head + 1),
        "from": str(row["from"]),
        "to": str(row["to"]),
        "cumulativeGasUsed": hex(150_000),
        "gasUsed": hex(150_000),
        "effectiveGasPrice": hex(10**9),
        "contractAddress": None,
        "logs": [],
        "logsBloom": "0x" + "00" * 256,
        "status": status,
        "type": "0x2",
    }
