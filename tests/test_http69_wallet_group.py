"""Wallet orders posted in one loop turn go through the intake together
(``sdex.node.walletgroup``, http69): each keeps its own verdict and answer, a bad one
changes nothing for the others, and no 2xx comes before its own row is committed."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from sdex.matching import TimeInForce
from sdex.node.core import Node
from sdex.node.records import SubmitResult
from sdex.order import SignedOrder, sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, stall_writer, wait_for
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


def one_turn(
    node: Node, bodies: list[Any], tif: TimeInForce = TimeInForce.GTC
) -> list[asyncio.Task[SubmitResult]]:
    """``submit_wallet`` of every body, each in a task of its own begun in this very turn:
    they join one group in the next (as a turn's requests do); their answers to come."""
    return [asyncio.ensure_future(node.submit_wallet(b, tif, "127.0.0.1")) for b in bodies]


async def test_a_turns_orders_each_get_their_own_verdict_and_answer(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        good = [c.sign(ask(c, ALICE, E18, 3000 * E6 + i)) for i in range(3)] + [
            c.sign(bid(c, BOB, E18, 2000 * E6))
        ]
        forged_order = ask(c, CAROL, E18, 3100 * E6)  # signed by Bob's key, not Carol's
        forged = sign_order(forged_order, c.domain, c.keys[BOB])
        malformed = {**good[0].to_json(), "makerAmount": "-1"}
        expired = c.sign(ask(c, ALICE, E18, 3200 * E6, expiry=1))
        bodies: list[Any] = [
            good[0].to_json(),
            malformed,
            good[1].to_json(),
            forged.to_json(),
            good[2].to_json(),
            expired.to_json(),
            good[3].to_json(),
            good[1].to_json(),  # the same order twice in one group
        ]
        groups = node.wallet_group.groups
        answers: list[SubmitResult] = await asyncio.wait_for(
            asyncio.gather(*one_turn(node, bodies)), 60
        )
        assert node.wallet_group.groups == groups + 1  # (taken together, not one by one)
        codes = [a.status for a in answers]
        assert codes[0] == codes[2] == codes[4] == codes[6] == 201, answers
        assert codes[1] == codes[3] == codes[5] == 400, answers
        assert codes[7] == 200, answers  # (held already: its record)
        rejections = [answers[k].body["rejection"] for k in (1, 3, 5)]
        assert rejections == ["MALFORMED", "INVALID_SIGNATURE", "EXPIRED"], answers
        for signed, a in zip(good, [answers[0], answers[2], answers[4], answers[6]], strict=True):
            assert a.body["orderHash"] == signed.hash_hex, a.body
            assert node.registry.held(signed.hash)
            assert node.store.order_now(signed.hash_hex) is not None  # committed before it
        assert answers[7].body["metaData"]["orderHash"] == good[1].hash_hex, answers[7]
        for bad in (forged, expired):
            assert not node.registry.held(bad.hash)
        # the same answers over HTTP, whichever turns the posts land in
        more = [c.sign(ask(c, ALICE, E18, 3300 * E6 + i)) for i in range(6)]
        got = await asyncio.gather(*(api.post_order(s) for s in more), api.post_order(forged))
        assert [code for code, _ in got] == [201] * 6 + [400], got
        assert [b["orderHash"] for _, b in got[:6]] == [s.hash_hex for s in more]


async def test_a_group_answers_no_2xx_before_its_rows_are_committed(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _api):
        orders: list[SignedOrder] = [c.sign(ask(c, ALICE, E18, 3000 * E6 + i)) for i in range(4)]
        gate = threading.Event()
        await stall_writer(node, gate, "hold_rows BEFORE INSERT ON orders")
        try:
            futs = one_turn(node, [o.to_json() for o in orders])
            await wait_for(lambda: all(node.registry.held(o.hash) for o in orders), 30)
            assert not any(f.done() for f in futs)  # accepted, not committed: no answer yet
        finally:
            gate.set()
        answers = await asyncio.wait_for(asyncio.gather(*futs), 60)
        assert [a.status for a in answers] == [201] * 4
        for o in orders:
            assert node.store.order_now(o.hash_hex) is not None
