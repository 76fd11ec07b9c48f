"""review77c: a hostile contract maker's reads hold at most its share of the verdicts'
connections also when it rotates into a window's shared read (``(rest)``).

reads77 gave each maker ``MAKER_READS`` (2) of the verdicts' 4 connections at once, a
window's makers past ``max_parts`` sharing one key, ``(rest)``. A maker's rows in a
``(rest)`` read counted against that key only, not its own: a hostile wallet whose reads are
held took its 2 turns with orders each in a window of their own, then 2 more of ``(rest)``'s
with orders posted behind 7 decoys in names nobody uses (untracked makers sort as they came:
a read each, cheap), and held all 4 again; an honest contract maker's order waited for one,
answered 503 at the read deadline.

A real node on a real Hardhat, its RPC behind checks75's proxy holding every ``eth_call``
naming the hostile wallet (``holding_reads``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from sdex.order import SignedOrder, sign_order
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_attack30_gas_gated_wallet import OWNER, gas_gated_wallet
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import contract_ask
from tests.test_checks75_held_reads import held_node
from tests.test_node import ALICE, E6, E18, ask
from tests.test_reads76_held_pool import contract_asks


def decoys(c: Chain, n: int) -> list[SignedOrder]:
    """``n`` orders in the names of addresses nobody uses (no code, no valid signature: a
    read each, not tracked), signed by a key that is not theirs."""
    return [
        sign_order(
            replace(ask(c, ALICE, E18, 3000 * E6), maker="0x" + f"{0xDEC0 + k:040x}"),
            c.domain,
            c.keys[OWNER],
        )
        for k in range(n)
    ]


async def test_a_hostile_maker_in_rest_holds_only_its_share(chain: Chain, tmp_path: Path) -> None:
    """The hostile wallet's orders: as many alone as its share, then as many again each
    behind ``max_parts - 1`` decoys in one window (the hostile one in ``(rest)``): at most
    its share of its reads are held at once, and an honest contract maker's order is
    answered 201 well within the read deadline."""
    c = chain
    w, honest_wallet = burner(c), gas_gated_wallet(c)
    async with held_node(c, tmp_path / "n.db", w) as (node, api, proxy):
        sigs = node.contract_sigs
        share = sigs.share(w)  # (a maker without a record: one at a time, reads78)
        hostile_orders = contract_asks(c, w, 2 * share)
        answers = []
        for k, order in enumerate(hostile_orders[:share]):  # (its own key's turns)
            answers.append(asyncio.ensure_future(sigs.get(order)))
            await wait_for(lambda k=k: proxy.held == k + 1, 20)
        sigs.max_wait = 0.5  # (one window for a decoy group and the hostile order after it)
        for k, order in enumerate(hostile_orders[share:]):
            group = decoys(c, sigs.max_parts - 1)
            for signed in group:
                answers.append(asyncio.ensure_future(sigs.get(signed)))
            answers.append(asyncio.ensure_future(sigs.get(order)))  # (behind them: (rest))
            await wait_for(lambda k=k: sigs.split >= (k + 1) * (sigs.max_parts - 1), 20)
        sigs.max_wait = 0.002
        # its (rest) reads held (before review77c), or waiting for its own turns
        await wait_for(lambda: proxy.held == 2 * share or sigs.turns.waited >= share, 20)
        async with asyncio.timeout(node.intake.read_deadline - 2):
            status, body = await api.post_order(contract_ask(c, honest_wallet))
        assert status == 201, body
        assert proxy.held <= share, proxy.held  # (its reads: never more than its share)
        proxy.release.set()
        await wait_for(lambda: all(a.done() for a in answers), 30)
