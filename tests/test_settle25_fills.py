"""settle25: a settlement's fills become ``StoredFill`` rows only when the node writes them
itself (no early write queued by the chain thread with the receipt, or that write failed);
with an early write they are not built twice. Real SQLite store; the node's method run on
an object that holds only what it reads (``store``)."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from types import SimpleNamespace

import pytest

from sdex.model import FillEvent
from sdex.node.settle import NodeSettlement
from sdex.order import Domain
from sdex.store import ChainIdentity, Store, StoredFill

DOMAIN = Domain(31337, "0x" + "ab" * 20)
IDENTITY = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "00" * 32)
TX = "0x" + "cd" * 32


def _fill(i: int) -> FillEvent:
    return FillEvent(
        order_hash=bytes([i]) * 32,
        maker="0x" + f"{i:02x}" * 20,
        taker="0x" + "ee" * 20,
        maker_filled=1000 + i,
        taker_filled=2000 + i,
        fee_recipient="0x" + "ff" * 20,
        fee=i,
        block_number=7,
        tx_hash=TX,
        log_index=i,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "n.db", IDENTITY, DOMAIN)


def _stored(store: Store) -> list[StoredFill]:
    return sorted(store.fills(per_page=100)[1], key=lambda f: f.log_index)


@pytest.mark.parametrize("early", ["none", "failed"])
async def test_the_nodes_own_write_stores_the_events_as_ours(store: Store, early: str) -> None:
    events = [_fill(i) for i in range(4)]
    fut: concurrent.futures.Future[list[StoredFill]] | None = None
    if early == "failed":
        fut = concurrent.futures.Future()
        fut.set_exception(RuntimeError("the early write failed"))
    node = SimpleNamespace(store=store)
    written = await NodeSettlement._fills_written(node, fut, events)  # type: ignore[arg-type]
    assert [f.log_index for f in written] == [0, 1, 2, 3]
    assert all(type(f) is StoredFill and f.ours for f in written)
    got = _stored(store)
    assert [(f.order_hash, f.maker_filled, f.log_index, f.ours) for f in got] == [
        (e.order_hash, e.maker_filled, e.log_index, True) for e in events
    ]


async def test_an_early_write_is_taken_as_it_is(store: Store) -> None:
    """The early write's rows are the answer; the events are not written again."""
    events = [_fill(i) for i in range(2)]
    early_rows = [StoredFill.of(f, True) for f in events]
    done = store.add_fills_soon(early_rows)
    written = await NodeSettlement._fills_written(
        SimpleNamespace(store=store),  # type: ignore[arg-type]
        done,
        events,
    )
    assert [f.log_index for f in written] == [0, 1]
    assert len(_stored(store)) == 2


async def test_no_events_no_write(store: Store) -> None:
    written = await NodeSettlement._fills_written(SimpleNamespace(store=store), None, [])  # type: ignore[arg-type]
    assert written == [] and _stored(store) == []
