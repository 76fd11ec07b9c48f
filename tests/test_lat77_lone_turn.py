"""lat77 (issue 11): at a light load a lone wallet order's row goes to the store's writer with
the rest of its loop turn's rows, at the turn's end, as before the wallet groups' wait74.

wait74 handed each lone order's row to the writer the moment it was queued (``Store.hand_over``),
mid-turn: the writer's thread woke and took the GIL while the loop's turn still ran (the order's
gossip, the other requests and peers' frames of that turn), and the rows queued after it in the
same turn (peers' orders, taken lazily) waited for a hand-over and a commit of their own. At
100 orders/s on 8 nodes a wallet's POST and an order's p99 to every node rose (docs/BENCHMARKS.md,
lat77). A group (several posts in one turn: a crowded loop, wait74's case) still hands its rows
over at once (``tests/test_wait74_group_turns.py``), and so does a lone order while other wallet
orders are in flight (a busy node, where a turn is long).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sdex.matching.match import TimeInForce
from sdex.model import OrderStatus
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, stall_writer, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_wait74_group_turns import crowded


async def test_a_lone_orders_row_goes_to_the_writer_with_its_turns_other_rows(
    chain: Chain, tmp_path: Path
) -> None:
    """One wallet order posted alone (its check at once, on the loop: the turn it is taken in
    accepts it); later in that same turn a peer's order is stored (nobody waits for its row).
    Both rows go to the writer in one hand-over at the turn's end, and the wallet's 2xx comes
    once they are committed (before: the wallet's row handed over at once, mid-turn, and the
    peer's row in a hand-over of its own, up to ``LAZY_HANDOVER`` later)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        first = c.sign(ask(c, ALICE, E18 // 1000, 3 * E6 + 999))
        assert (await api.post_order(first))[0] == 201  # (the maker's account known: no read)
        node.intake.ecdsa.spare_core = crowded()  # (the check at once: no hand-over turn)
        writer = node.store._writer
        await wait_for(lambda: not writer._batch)  # (nothing left queued from before)
        lone = c.sign(ask(c, ALICE, E18 // 1000, 3 * E6 + 1))
        peer = c.sign(ask(c, BOB, E18 // 1000, 3 * E6 + 2))

        def peers_row() -> None:  # (a peer's order stored later in the lone order's turn)
            assert node.registry.held(lone.hash)  # (accepted earlier in this very turn)
            node.store.add_order_async(
                peer, node._seq + 1_000, OrderStatus.OPEN, "peer", "gtc", peer.to_json(), False
            )

        handed = writer.handovers
        post = asyncio.ensure_future(node.submit_wallet(lone.to_json(), TimeInForce.GTC, None))
        await asyncio.sleep(0)  # (turn 1: the post; its group's task to run in turn 2)
        asyncio.get_running_loop().call_soon(peers_row)  # (turn 2, after the group's task)
        await asyncio.sleep(0)  # (turn 2: the lone order taken, then the peer's row)
        assert node.registry.held(lone.hash)
        assert writer.handovers == handed, "a lone order's row was handed over mid-turn"
        assert len(writer._batch) == 2  # (both rows queued, for the turn's end)
        async with asyncio.timeout(60):
            answer = await post
        assert answer.status == 201, answer
        assert writer.handovers == handed + 1  # (one hand-over: the turn's rows together)
        assert node.store.order_now(peer.hash_hex) is not None  # (committed with the 2xx's)
        assert node.store.order_now(lone.hash_hex) is not None


async def test_a_lone_orders_row_goes_at_once_while_other_wallet_orders_are_in_flight(
    chain: Chain, tmp_path: Path
) -> None:
    """A busy node (another wallet order waits for its commit: the writer stalled here): a
    lone order's row is handed to the writer at once, in the turn it is taken (wait74's
    saving kept where a turn is long), and its 2xx still waits for its commit."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        first = c.sign(ask(c, ALICE, E18 // 1000, 3 * E6 + 999))
        assert (await api.post_order(first))[0] == 201  # (the maker's account known: no read)
        node.intake.ecdsa.spare_core = crowded()
        writer = node.store._writer
        gate = threading.Event()
        await stall_writer(node, gate, "hold_rows BEFORE INSERT ON orders")
        try:
            earlier = c.sign(ask(c, ALICE, E18 // 1000, 3 * E6 + 3))
            held = asyncio.ensure_future(
                node.submit_wallet(earlier.to_json(), TimeInForce.GTC, None)
            )
            await wait_for(lambda: node.registry.held(earlier.hash) and not writer._batch)
            lone = c.sign(ask(c, ALICE, E18 // 1000, 3 * E6 + 4))
            handed = writer.handovers
            post = asyncio.ensure_future(node.submit_wallet(lone.to_json(), TimeInForce.GTC, None))
            await asyncio.sleep(0)  # (turn 1: the post)
            await asyncio.sleep(0)  # (turn 2: taken alone, its row handed over at once)
            assert node.registry.held(lone.hash)
            assert writer.handovers == handed + 1 and not writer._batch
            assert not post.done() and not held.done()  # (nothing committed: no answer yet)
        finally:
            gate.set()
        async with asyncio.timeout(60):
            answers = await asyncio.gather(held, post)
        assert [a.status for a in answers] == [201, 201], answers
        assert node.store.order_now(lone.hash_hex) is not None
