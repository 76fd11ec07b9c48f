"""review97b (confirm97's worry): a settlement's real receipt that one read apart said is not the
chain's (an honest backend on a short fork at that moment: no block of that hash, its head at
the receipt's number or past it) was barred for the rest of its wait, and only the watcher's
read of its block could believe it. The watcher cannot say of a status 0 receipt (no logs to
read): its wait never ended, the settlement in flight for good, its orders never given back.
Now a bar is judged again after ``REJUDGE_AFTER`` s once the watcher's read has the receipt's
block at its number (``Tally.due``): reads apart again, ``CONFIRM_READS`` in a row.

Real Hardhat mining only when told (the settlement pools, then reverts: the maker's WETH sent
away first at a higher tip); a real node and SQLite store behind settle89's real loopback
balancer, whose first ``eth_getBlockByHash`` of the settlement's block is answered null (the
head's number, asked next on that connection, the chain's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain.tx import fees_of
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settle81_unsettled_restart import status_of
from tests.test_settle89_sticky_receipt import Said, pooled_behind_sticky

__all__ = ["pooling"]


async def test_a_reverted_settlement_one_read_apart_denied_ends_its_wait(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    monkeypatch.setattr("sdex.settlement.tally.REJUDGE_AFTER", 3.0)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    mined: list[str] = []  # (the settlement's block, once mined)
    denied: list[int] = []  # (reads of it answered null)
    async with pooled_behind_sticky(c, tmp_path, maker, taker) as (b, node, api, count):
        s = node.settler
        operator = node.sender.address
        [tx] = s.in_flight

        def answer(call: object, port: int) -> Said:
            if not isinstance(call, dict) or denied or not mined:
                return None
            if (
                call.get("method") == "eth_getBlockByHash"
                and call.get("params", [None])[0] == mined[0]
            ):
                denied.append(port)  # (a backend on a short fork: no such block, head past it)
                return {"jsonrpc": "2.0", "id": call.get("id"), "result": None}
            return None

        b.answer = answer
        alice = c.sender(ALICE)  # (her WETH sent away at a higher tip: mined first)
        away = c.weth.balance_of(c.address(ALICE))
        data = c.weth.abi.fn("transfer").encode(c.address(9), away)
        base_fee = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
        alice.broadcast(alice.sign(c.weth.address, data, 100_000, fees=(base_fee, 10**11)))
        c.rpc.call("evm_mine")  # (no await since: the node reads nothing before ``mined``)
        got = c.rpc.call("eth_getTransactionReceipt", tx)
        assert got is not None and int(got["status"], 16) == 0, got
        mined.append(str(got["blockHash"]))
        await wait_for(lambda: bool(denied), timeout=30)
        # before: barred for the wait, the watcher silent on a status 0: in flight for good
        await wait_for(lambda: tx not in s.in_flight, timeout=60)
        assert (s.settled, s.lost, s.failed) == (0, 0, 1), (s.settled, s.lost, s.failed)
        db = tmp_path / "n.db"  # (its row's mark written by the store's writer: a moment later)
        await wait_for(lambda: status_of(db, tx) == "failed", timeout=30)
        assert nonce(c.rpc, operator) == count + 1  # (nothing sent again: matched once)

        async def rests() -> bool:  # (the innocent bid given back: it rests)
            return await api.status(taker) == "open"

        await wait_for(rests, timeout=30)
        assert c.exchange.order_info(maker.order).filled == 0
