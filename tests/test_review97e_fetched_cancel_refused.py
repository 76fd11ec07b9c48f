"""review97e: store97 made ``Node.soft_cancel`` answer 503 (nothing checked, applied or kept:
send the same cancel again) when the store refuses to read the row of a closed order out of
memory. A pushed cancel's sender hears the 503 and sends it again; one anti-entropy fetched
has no sender to hear it (``sdex.gossip.fetchedcancels``): ``FetchedCancels.take`` took any
answer >= 300 as final and dropped it, and no later round fetches a closed order's cancel
again: the maker's cancel, acknowledged at the peer, never reached this node's row (a reorg
undoing the fill reopened the order here alone). Now a 5xx is taken again after the backoff,
as a failed commit is, till it is applied.

Real Hardhat, a real node in this process on its SQLite store, the refusal a real SQLite
authorizer on its reader; the node's own ``FetchedCancels`` driver takes the cancel as the
gossip's anti-entropy hands it over."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from sdex.gossip import fetchedcancels
from sdex.gossip.fetchedcancels import FetchedCancels
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import forgotten
from tests.test_attack38_soft_cancel_sync import status_at
from tests.test_node import ALICE, CAROL, E6, E18, ask
from tests.test_store95_follow_refused import refusing_reads


async def test_a_fetched_cancel_refused_503_is_taken_again(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALICE's ask filled whole, closed, evicted; the reader refusing every read of the
    orders, a peer's fetched cancel of it is taken: 503 (nothing applied); the store reading
    again, the same cancel is taken again and kept on the record (``cancelledAtBlock``),
    before: dropped at the 503, the record never held it."""
    monkeypatch.setattr(fetchedcancels, "RETRY_FIRST", 0.2)
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        whole = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await api.post_taken(whole))[0] == 201
        assert c.exchange.fill_order(c.sender(CAROL), whole, 1000 * E6).status == 1

        async def filled() -> bool:
            return await status_at(api, whole) == "filled"

        await wait_for(filled, 60)
        node.registry.grace = 0.0
        await forgotten(node, whole)
        tasks: set[asyncio.Task[None]] = set()

        def spawn(coro: Coroutine[Any, Any, None], name: str) -> None:
            t = asyncio.ensure_future(coro)
            tasks.add(t)
            t.add_done_callback(tasks.discard)

        fetched = FetchedCancels(node, spawn)
        sig = "0x" + sign_cancel(c.domain, whole.hash, c.keys[ALICE]).hex()
        reader, refused = refusing_reads(node)
        try:
            fetched.take("peer-a", {"orderHash": whole.hash_hex, "signature": sig})
            assert refused, "the order's row was never read"  # (taken at once: a 503)
        finally:
            reader.set_authorizer(None)

        async def kept() -> bool:
            code, rec = await api.get(f"/v1/orders/{whole.hash_hex}")
            return code == 200 and "cancelledAtBlock" in rec["metaData"]

        await wait_for(kept, 30)  # (before: never; the 503 dropped it)
        await wait_for(lambda: not tasks, 30)
        assert fetched.retried >= 1 and fetched.unstored >= 1  # (the 503, counted)
        code, rec = await api.get(f"/v1/orders/{whole.hash_hex}")
        assert (code, rec["metaData"]["status"]) == (200, "filled"), rec
