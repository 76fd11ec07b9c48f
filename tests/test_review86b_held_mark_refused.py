"""review86b: an error in a held start's hold task (doubt83's ``_judge_held``) kept the
hold for ever, and with it review85's 503 on soft cancels of the orders a pooled row names
(``_pooled_held`` was cleared only after ``_adopt`` returned).

review85's test_review85_held_store_refused released the store's write lock at the first
refusal logged anywhere; here the lock is held till the hold task itself is refused: at the
mark of the last run's row that landed at or below the block the held orders were read at
(``_adopt`` -> ``record_landed``, an awaited ``set_settlement_status``), or with no such
row at the read of a kill's rechecks (``_recheck_stored``'s ``store.rechecks()``). Before
held86 the error propagated out of ``_judged_held``, was logged ("the held orders not
judged; matching stays held") and nothing tried again: once the lock was gone the store
took writes, yet the node stayed held, nothing matched or settled, the orders' soft cancels
refused 503 for good. Now the step is tried again (``_held_step``), ``/health``'s
``chainMirror.startHold`` saying so meanwhile, and the hold ends once the lock is gone. A
defect (an error that is no refusal of the store's or the chain's) keeps the hold, and
``/health`` says so and to restart the node (before: only logged).

Real chain of the suite's engine, a real node on its SQLite store restarted behind
review85's loopback proxies (a doubt at the start, reads by block hash and the orders' reads
refused till the test opens them), another SQLite connection holding the write lock."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.node import Node
from sdex.node.config import NodeConfig
from sdex.order import SignedOrder, sign_hash
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.heldstart import held_reads, states_selector
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_chaos69_refused_row import write_locked
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_review66_adopt_landed import FEES, OPERATOR
from tests.test_review74a_flapped_head import _saved_head

pytestmark = pytest.mark.usefixtures("quick_doubt_reads")  # (the hold, not the start's tries)

NOT_JUDGED = "the held orders not judged"
LANDED = "landed at the start: not adopted"


async def _health(api: Api) -> dict[str, Any]:
    """``/health``'s ``chainMirror`` (503 while held: the body says)."""
    return dict((await api.get("/health"))[1]["chainMirror"])


async def _last_run(
    c: Chain, tmp_path: Path, salt: int, row: bool
) -> tuple[NodeConfig, int, SignedOrder, int | None]:
    """A first run (a head saved), then two crossing orders stored open as a stop left them,
    and with ``row`` the last run's settlement of half of each, mined above the saved head:
    the config, the saved head, the resting order and the row's block (None: no row)."""
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    first = c.sign(ask(c, CAROL, E18, 9000 * E6, salt=salt))
    async with running_node(cfg) as (_, api):
        assert (await api.post_order(first))[0] == 201
    head = _saved_head(cfg.db)
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6, salt=salt + 1))
    incoming = c.sign(bid(c, BOB, 2 * E18, 6000 * E6, salt=salt + 2))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, 1001, "open", "api")
    store.add_order(incoming, 1002, "open", "api")
    mined = None
    if row:
        data = c.exchange.encode_settlement([(resting, incoming, E18)])  # (half of each)
        tx = c.sender(OPERATOR).sign(c.exchange.address, data, 400_000, fees=FEES)
        pairs = [(resting.hash_hex, incoming.hash_hex)]
        await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    if row:
        c.rpc.call("eth_sendRawTransaction", tx.raw)  # (mined before the start, above the head)
        mined = int(c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)["blockNumber"], 16)
    return cfg, head, resting, mined


@pytest.mark.parametrize(
    ("row", "salt"),
    [
        (True, 8611),  # the landed row's mark refused (``record_landed``)
        (False, 8631),  # no row: the read of a kill's rechecks refused (``store.rechecks``)
    ],
)
async def test_a_refused_step_in_the_hold_task_does_not_hold_for_ever(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture, row: bool, salt: int
) -> None:
    caplog.set_level(logging.INFO, logger="sdex.node")
    c = chain
    cfg, head, resting, mined = await _last_run(c, tmp_path, salt, row)
    with held_reads(c.rpc.url, head, states_selector(c, resting)) as (url, gate, doubts):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            flapped, second = doubts
            assert flapped == [1] and second == [1] and node.held_why()
            await wait_for(node.replayed, timeout=60)
            # (the mirror past the row's block: the held read's bound holds it, so the hold
            # task marks the row as its receipt says instead of adopting it)
            await wait_for(
                lambda: node.mirror.head is not None and node.mirror.head.number >= (mined or 0),
                timeout=60,
            )
            async with write_locked(node, cfg.db):
                gate.set()

                def refused() -> bool:  # (before: the hold task's error, logged once)
                    return "refused" in node.held_why() or NOT_JUDGED in caplog.text

                await wait_for(refused, timeout=60)
                said = (await _health(api)).get("startHold")  # (tried again meanwhile)
                counted = node.settler.settled
            assert (LANDED in caplog.text) is row, "the row was not marked by the hold task"
            # the lock gone, the store takes writes again: the hold ends (before: never)
            sig = "0x" + sign_hash(c.domain.cancel_digest(resting.hash), c.keys[ALICE]).hex()
            cancel = f"/v1/orders/{resting.hash_hex}/cancel"
            try:
                await wait_for(lambda: not node.held_why(), timeout=60)
            except (AssertionError, TimeoutError) as e:
                code, body = await api.post(cancel, {"signature": sig})
                raise AssertionError(f"held for ever; a soft cancel answered {code} {body}") from e
            assert isinstance(said, str) and "refused" in said, said
            assert counted == 0  # (a refused mark counts nothing: counted once, once stored)
            assert (await _health(api))["startHold"] is None
            code, body = await api.post(cancel, {"signature": sig})
            assert code == 200, body


async def test_a_defect_in_the_hold_task_is_said_in_health(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error that is no refusal of the store's or the chain's (a defect, put in by the
    test) keeps the hold (nothing matched on a book half judged): ``/health`` says why and to
    restart the node (before: the start's first reason, the defect only logged)."""
    c = chain
    cfg, head, resting, _ = await _last_run(c, tmp_path, 8641, row=False)

    async def defect(self: Node) -> None:
        raise RuntimeError("a defect put in by the test")

    monkeypatch.setattr(Node, "_recheck_stored", defect)
    with held_reads(c.rpc.url, head, states_selector(c, resting)) as (url, gate, doubts):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            flapped, second = doubts
            assert flapped == [1] and second == [1] and node.held_why()
            gate.set()

            async def said() -> bool:
                held = (await _health(api)).get("startHold")
                return isinstance(held, str) and "restart the node" in held

            await wait_for(said, timeout=60)
            assert "a defect put in by the test" in node.held_why()
            code, body = await api.get("/health")
            assert code == 503 and body["chain"] == "unproven", body
