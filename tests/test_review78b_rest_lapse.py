"""review78b: a window's shared read (``(rest)``) given up lapses no maker's record.

reads78: a maker whose verdict read was given up (every order's wait for it ended) counts as
one without a record for ``LAPSE_SECONDS`` (one verdict read at a time, in the pool that
fresh deployments fill). A window's makers past ``max_parts`` share one read, which any of
them may hold (a hostile wallet's ``isValidSignature``, a path that holds its calls); given
up, it lapsed every one of them: an honest maker with an open order here, pushed into that
read behind a tracked wallet's orders from ``max_parts - 1`` submitters, lost its record
to a hostile wallet's slowness, its reads then waiting in the pool the hostile wallets
fill. Now only a read of one maker alone lapses it (whose else could its slowness be).

A real node on a real Hardhat, its RPC behind checks75's proxy holding every ``eth_call``
naming the hostile wallet (``holding_reads``)."""

from __future__ import annotations

import asyncio
import contextvars
from pathlib import Path

from sdex.chain import OrderState
from sdex.ingest.readturns import SUBMITTER
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_attack30_gas_gated_wallet import gas_gated_wallet
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import contract_ask
from tests.test_checks75_held_reads import held_node
from tests.test_reads76_held_pool import contract_asks


def read_from(get: object, order: SignedOrder, submitter: str) -> asyncio.Task[OrderState]:
    """``get(order)`` as the intake runs it for ``submitter`` (its ``SUBMITTER``)."""
    ctx = contextvars.copy_context()
    ctx.run(SUBMITTER.set, submitter)
    assert callable(get)
    return asyncio.create_task(get(order), context=ctx)


async def test_a_given_up_rest_read_keeps_an_honest_makers_record(
    chain: Chain, tmp_path: Path
) -> None:
    """An honest contract maker with an open order here; one window: ``max_parts - 1``
    tracked wallets' orders, then the honest maker's order posted, then a hostile wallet's
    (its reads held): the last two share ``(rest)``, which the hostile wallet holds until
    both give up. Before: the honest maker lost its record (failed 3 of 3). Now it keeps
    it."""
    c = chain
    hostile, honest = burner(c), gas_gated_wallet(c)
    async with held_node(c, tmp_path / "n.db", hostile) as (node, api, proxy):
        sigs = node.contract_sigs
        tracked = [gas_gated_wallet(c) for _ in range(sigs.max_parts - 1)]
        for wallet in (*tracked, honest):  # (each: a valid verdict, an open order here)
            status, body = await api.post_order(contract_ask(c, wallet))
            assert status == 201, body
            assert sigs.mirror.sigs.tracks(wallet)
        assert sigs.keys.recorded(honest)
        node.intake.read_deadline = 3.0
        sigs.max_wait = 1.0  # (one window for all of them)
        ahead = [
            read_from(sigs.get, contract_asks(c, w, 2)[1], f"10.0.0.{k}")
            for k, w in enumerate(tracked, start=2)
        ]
        posted = asyncio.ensure_future(api.post_order(contract_asks(c, honest, 2)[1]))
        await wait_for(lambda: len(sigs._pending) == sigs.max_parts, 20)
        held = read_from(sigs.get, contract_ask(c, hostile), "10.0.1.1")
        await wait_for(lambda: proxy.held >= 1, 20)  # ((rest): the hostile row held)
        status, body = await posted  # (its read deadline: given up)
        assert status == 503, body
        held.cancel()  # (the hostile order's wait ends too: the read is given up)
        await wait_for(lambda: held.done() and all(t.done() for t in ahead), 20)
        assert sigs.keys.recorded(honest), sigs.keys._lapsed  # (before: lapsed with the hostile)
        proxy.release.set()


async def test_one_wallet_from_many_submitters_pushes_no_maker_into_rest(
    chain: Chain, tmp_path: Path
) -> None:
    """One window: a tracked wallet's orders from ``max_parts - 1`` submitters (a part each:
    reads78 parts a window by maker and submitter), then an honest maker's order, then a
    hostile wallet's (its reads held). Before: the honest order shared ``(rest)`` with the
    hostile one, answered 503 at its read deadline (failed 3 of 3): one deployment and 7
    client addresses did what took 7 deployments before reads78. Now a maker's parts past
    its first come after every maker's first: the honest order is read in a part of its
    own, 201."""
    c = chain
    hostile, tracked, honest = burner(c), gas_gated_wallet(c), gas_gated_wallet(c)
    async with held_node(c, tmp_path / "n.db", hostile) as (node, api, proxy):
        sigs = node.contract_sigs
        for wallet in (tracked, honest):  # (each: a valid verdict, an open order here)
            status, body = await api.post_order(contract_ask(c, wallet))
            assert status == 201, body
        node.intake.read_deadline = 3.0
        sigs.max_wait = 1.0  # (one window for all of them)
        orders = contract_asks(c, tracked, sigs.max_parts)[1:]  # (the first is open here)
        ahead = [read_from(sigs.get, o, f"10.0.0.{k}") for k, o in enumerate(orders, start=2)]
        posted = asyncio.ensure_future(api.post_order(contract_asks(c, honest, 2)[1]))
        await wait_for(lambda: len(sigs._pending) == sigs.max_parts, 20)
        held = read_from(sigs.get, contract_ask(c, hostile), "10.0.1.1")
        status, body = await posted
        assert status == 201, body  # (before: 503, its read held with the hostile one's)
        held.cancel()
        await wait_for(lambda: held.done() and all(t.done() for t in ahead), 20)
        proxy.release.set()
