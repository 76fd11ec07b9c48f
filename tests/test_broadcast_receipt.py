"""The receipt asked with a send on Hardhat (``Sender.broadcast_then_receipt``): the send, then
the receipt asked at once on the same connection, comes back every time (asked in the send's
own JSON-RPC batch it came back empty for 6-52% of sends: Hardhat answers a batch's requests
concurrently), a mined revert gives its receipt with the lane's nonce kept, and a receipt ask
that fails after a send that went loses neither the transaction nor the nonce."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.chain import Sender
from sdex.chain.rpc import Rpc
from sdex.errors import RpcError
from sdex.settlement.broadcast import Broadcaster
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain, Engine
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

SENDS = 40
"""Lone matches sent one after another (at the batch's miss rate of >= 6%, 40 sends missed
at least once in >= 9 of 10 runs)."""


def _broadcaster(c: Chain, tmp_path: Path, lane: Sender) -> tuple[Broadcaster, Store]:
    identity = ChainIdentity(c.deployment.chain_id, c.exchange.address, "0x" + "00" * 32)
    store = Store(tmp_path / "b.db", identity, c.domain)
    b = Broadcaster(lane, store, c.exchange)
    b.sync = False  # (Hardhat does not serve eth_sendRawTransactionSync)
    return b, store


def test_every_lone_match_comes_back_with_its_receipt(
    chain: Chain, engine: Engine, tmp_path: Path
) -> None:
    if engine == "anvil":
        pytest.skip("anvil answers a send before it mines (its receipt is the sync send's)")
    c = chain
    lane = c.sender(1)
    b, store = _broadcaster(c, tmp_path, lane)
    try:
        for i in range(SENDS):
            price = 3000 * E6 + i  # (a fresh pair each time: new order hashes)
            pair = (
                c.sign(ask(c, ALICE, E18 // 100, price)),
                c.sign(bid(c, BOB, E18 // 100, price)),
            )
            data = c.exchange.encode_settlement([(*pair, 2**256 - 1)])
            signed = lane.sign(c.exchange.address, data, 400_000)
            b.queued(signed)
            receipt = b.send(signed)
            assert receipt is not None, f"send {i}: no receipt with the send"
            assert receipt.tx_hash == signed.tx_hash and receipt.status == 1
            assert len(c.exchange.fills(receipt.logs)) == 2
        assert b.batched_asks == SENDS and b.batched_misses == 0
        assert lane.next_nonce == signed.nonce + 1
    finally:
        store.close()


def test_a_reverted_send_gives_its_receipt_and_keeps_the_nonce(
    chain: Chain, engine: Engine, tmp_path: Path
) -> None:
    """A lone ``matchOrders`` goes without a pre-flight: one that reverts is mined (its nonce
    used; Hardhat answers the send with the revert). Its receipt comes back (status 0) and
    the lane's next nonce is kept, not read again while later ones may be signed."""
    if engine == "anvil":
        pytest.skip("anvil answers a send before it mines")
    c = chain
    expired = c.sign(replace(ask(c, ALICE, E18, 3000 * E6), expiry=c.now() - 5))
    data = c.exchange.encode_settlement(
        [(expired, c.sign(bid(c, BOB, E18, 3000 * E6)), 2**256 - 1)]
    )
    lane = c.sender(1)
    b, store = _broadcaster(c, tmp_path, lane)
    try:
        signed = lane.sign(c.exchange.address, data, 300_000)
        b.queued(signed)
        receipt = b.send(signed)
        assert receipt is not None and receipt.status == 0
        assert lane.next_nonce == signed.nonce + 1
    finally:
        store.close()


class _ReceiptAskFails(Rpc):
    """Sends go through; every ``eth_getTransactionReceipt`` fails (a chain that errs on the
    ask, or the connection lost between the two requests)."""

    def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        if method == "eth_getTransactionReceipt":
            raise RpcError(-32603, "internal error", None)
        return super().call(method, *params, timeout=timeout)


def test_a_failed_receipt_ask_after_the_send_keeps_the_nonce(chain: Chain, tmp_path: Path) -> None:
    """The send went: the ask's failure is no reason to doubt it. No receipt (it is polled),
    no error raised (the settler would count the transaction's fate unknown), the nonce
    kept, and the transaction mined."""
    c = chain
    lane = Sender(_ReceiptAskFails(c.rpc.url), c.keys[1], c.deployment.chain_id)
    b, store = _broadcaster(c, tmp_path, lane)
    try:
        signed = lane.sign(c.address(2), b"", 21_000)
        b.queued(signed)
        assert b.send(signed) is None
        assert lane.next_nonce == signed.nonce + 1
        assert b.batched_misses == 1
        assert c.sender(1).wait(signed.tx_hash).status == 1
    finally:
        store.close()
