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
from sdex.order import SignedOrder
from tests.conftest import Chain
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


def fee_walked_to(c: Chain, fee: int) -> None:
    """The chain's base fee brought to ``fee``, block by block, each at most an eighth over its
    parent's (EIP-1559's most: a node's reads of the blocks believe each; fee93), the blocks
    mined; a fall at once."""
    now = quantity(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"])
    while now != fee:
        now = fee if fee < now else min(fee, now + max(now // 8, 1))
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(now))
        c.rpc.call("evm_mine")
