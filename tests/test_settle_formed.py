"""Under load, the next settlement batch forms in the very callback that says the broadcast
under way ended: signed and recorded there (no task hops), with every match made meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sdex.chain import Sender
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all

OPERATOR = 19


def gate_first_send(sender: Sender) -> tuple[threading.Event, threading.Event]:
    """The lane's first broadcast (started: the settler knows it under way) waits for the
    returned ``gate`` (set by the test), and sets ``entered`` once it waits."""
    gate, entered = threading.Event(), threading.Event()
    real = {m: getattr(sender, m) for m in ("broadcast", "broadcast_sync", "broadcast_for_receipt")}

    def gated(method: str) -> Any:
        def call(*args: Any) -> Any:
            if not entered.is_set():
                entered.set()
                gate.wait(30)
            return real[method](*args)

        return call

    for m in real:
        setattr(sender, m, gated(m))
    return gate, entered


async def test_the_next_batch_forms_as_the_broadcast_under_way_ends(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        s = node.settler
        await post_all(api, [c.sign(ask(c, CAROL, E18, (3000 + i) * E6)) for i in range(4)])
        gate, entered = gate_first_send(s.sender)
        try:
            first = c.sign(bid(c, BOB, E18, 3000 * E6))
            assert (await api.post_order(first))[0] == 201
            await wait_for(entered.is_set)  # the first batch's broadcast is under way
            more = [c.sign(bid(c, BOB, E18, (3001 + i) * E6)) for i in range(3)]
            await post_all(api, more)
            # the run loop waits (a slot held) for that broadcast to end, three matches queued
            await wait_for(lambda: s._parked is not None and len(s._queue) == 3)
            assert s.formed_at_end == 0 and s.sent == 1
        finally:
            gate.set()

        async def filled() -> bool:
            return all([await api.status(o) == "filled" for o in [first, *more]])

        await wait_for(filled)
        # formed by the callback, all three in one transaction, signed there (no await)
        assert s.formed_at_end == 1 and s.sent == 2 and s.largest_batch == 3
        assert s.settled == 4 and s.failed == 0
        assert s.launched_now >= 1
