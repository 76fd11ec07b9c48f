"""Two crossing pairs stored open before a node starts on the store, and two settlements of
other pairs signed at one nonce (the second superseding the first), both stored pending: the
set-up settle97_superseded_rows and review97d_superseded_start share; one of them pooled for
a start (review97d, restart98). Real SQLite store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sdex.chain.tx import SignedTx
from sdex.errors import ChainError
from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from sdex.settlement.batchtx import BatchTx
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_review66_adopt_landed import OPERATOR


def stored_pairs(
    c: Chain, cfg: NodeConfig, orders: list[SignedOrder] | None = None
) -> tuple[Store, list[SignedOrder]]:
    """``cfg``'s store (the caller closes it) with two crossing pairs added open: ``orders``
    (ask, bid, ask, bid), else ALICE's ask and BOB's bid of 2 WETH for 6000 USDC, then of 1
    WETH for 3000 USDC."""
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    orders = orders or [
        c.sign(ask(c, ALICE, 2 * E18, 6000 * E6)),
        c.sign(bid(c, BOB, 2 * E18, 6000 * E6)),
        c.sign(ask(c, ALICE, E18, 3000 * E6)),
        c.sign(bid(c, BOB, E18, 3000 * E6)),
    ]
    for seq, so in enumerate(orders, 1):
        store.add_order(so, seq, "open", "api")
    return store, orders


async def superseded_rows(
    c: Chain,
    cfg: NodeConfig,
    fees: tuple[int, int],
    later_fees: tuple[int, int] | None = None,
    orders: list[SignedOrder] | None = None,
) -> tuple[list[SignedOrder], SignedTx, SignedTx]:
    """``stored_pairs``, then OPERATOR's settlement of the first pair in full and, signed
    after it at its nonce (at ``later_fees``, else ``fees`` too), one of the second pair,
    both stored pending (in that order) and neither sent: (the orders, the first, the
    later)."""
    store, orders = stored_pairs(c, cfg, orders)
    sender = c.sender(OPERATOR)
    one = c.exchange.encode_settlement([(orders[0], orders[1], orders[0].order.maker_amount)])
    other = c.exchange.encode_settlement([(orders[2], orders[3], orders[2].order.maker_amount)])
    first = sender.sign(c.exchange.address, one, 400_000, fees=fees)
    later = sender.sign_at(first.nonce, c.exchange.address, other, 400_000, fees=later_fees or fees)
    try:
        pairs = [(orders[0].hash_hex, orders[1].hash_hex)]
        await asyncio.wrap_future(
            store.add_settlement(first.tx_hash, first.nonce, first.raw, pairs)
        )
        await asyncio.sleep(0.01)  # (read back in the order signed)
        pairs = [(orders[2].hash_hex, orders[3].hash_hex)]
        await asyncio.wrap_future(
            store.add_settlement(later.tx_hash, later.nonce, later.raw, pairs)
        )
    finally:
        store.close()
    return orders, first, later


async def one_pooled(
    c: Chain,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fees: tuple[int, int],
    unknown: float,
    pool_later: bool,
) -> tuple[NodeConfig, list[SignedOrder], SignedTx, SignedTx]:
    """A start's set-up: its receipt waits short (``RESTART_RECEIPT_WAIT`` 1 s,
    ``UNKNOWN_TIMEOUT`` ``unknown``), ``superseded_rows`` at ``fees`` stored for OPERATOR's
    node on ``tmp_path / "n.db"``, the chain mining only when told, and one row's bytes
    pooled (the later's if ``pool_later``, else the first's): the config, then the rows."""
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    monkeypatch.setattr("sdex.settlement.receipts.UNKNOWN_TIMEOUT", unknown)
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    orders, first, later = await superseded_rows(c, cfg, fees)
    c.rpc.call("evm_setAutomine", False)
    # (pooled: the other never went)
    c.rpc.call("eth_sendRawTransaction", (later if pool_later else first).raw)
    return cfg, orders, first, later


def later_given_up(monkeypatch: pytest.MonkeyPatch, later: SignedTx) -> asyncio.Event:
    """The later settlement's landing wait (``BatchTx._landing``) held till the event is set,
    then an outage's error told (it is given up); the others' waits as they are."""
    go = asyncio.Event()
    real = BatchTx._landing

    async def landing(self: Any, batch: Any, signed: Any, *args: Any, **kw: Any) -> Any:
        if signed.tx_hash != later.tx_hash:
            return await real(self, batch, signed, *args, **kw)
        await go.wait()  # (the later's wait: an outage's error once told)
        raise ChainError("the chain's answers failed (an outage)")

    monkeypatch.setattr(BatchTx, "_landing", landing)
    return go
