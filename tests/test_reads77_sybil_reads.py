"""reads77: peers admitted at once, each with its bound of slow reads pending, fill no more
than one shared bound: an established peer's orders still go in.

checks75 bounded the peers' orders pending on chain reads per peer (4) and in all (64), all
strangers' keys as one peer. But admission is cheap (a signed hello from a URL): 16
admitted peers, 4 slow reads each (a contract wallet whose view burns its gas, or a read the
path to the chain holds), held all 64, and every other peer's next group, an honest one's
orders that need no read too, waited for one of them to end. Now a peer's pending reads
have a bound of their own only once its score reached ``reads_own_score`` (points earned by
new orders accepted, lost by forged ones); strangers and peers new or of little standing
share one (``sdex.gossip.checks.reads_owner``).

A real node on a real Hardhat, its RPC behind checks75's proxy holding every read of the
hostile wallet; the peers' pushes checked through the node's own gossip driver, each peer
admitted to its table with a loopback URL of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.gossip.gossip import Gossip
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_attack30_verdict_gas import burner
from tests.test_checks75_held_reads import (
    ReadHolder,
    held_node,
    honest_taken,
    known_alice,
    push,
)
from tests.test_reads76_held_pool import contract_asks

SYBILS, EACH = 16, 4
"""Peers admitted at once, and the hostile wallet's orders each pushes (its bound)."""


async def swarm_held(
    c: Chain, g: Gossip, proxy: ReadHolder, w: str, keys: list[str]
) -> list[asyncio.Task[dict[str, int]]]:
    """Each of ``keys`` pushes ``EACH`` of the hostile wallet ``w``'s orders, as a peer of no
    standing: their checks, once every one of their orders is pending on its read (or its
    check set aside) and a read is held (reads78, sybil77 too)."""
    orders = contract_asks(c, w, len(keys) * EACH)
    sybils = [
        push(g, key, *orders[EACH * k : EACH * (k + 1)], standing=False)
        for k, key in enumerate(keys)
    ]
    # every one of their orders pending on its read, or its check set aside
    await wait_for(lambda: g.checks.pending_reads + EACH * g.checks.parked == len(orders), 30)
    await wait_for(lambda: proxy.held > 0, 30)
    return sybils


async def swarm_released(
    g: Gossip, proxy: ReadHolder, sybils: list[asyncio.Task[dict[str, int]]], refused: bool = True
) -> None:
    """The swarm's checks still held, then their reads let go: all answered (``refused``:
    none of their orders accepted), no read pending, no check parked."""
    assert not any(t.done() for t in sybils) and proxy.held > 0  # (still held)
    proxy.release.set()
    await wait_for(lambda: all(t.done() for t in sybils), 60)
    for t in sybils if refused else ():
        assert sum(t.result().values()) == EACH and not t.result()["accepted"], t.result()
    assert g.checks.pending_reads == 0 and not g.checks.parked


async def test_new_peers_slow_reads_hold_no_established_peers_check(
    chain: Chain, tmp_path: Path
) -> None:
    """16 new peers push 4 of the hostile wallet's orders each (their reads held); an
    established peer's orders, one the mirror judges and a first-seen account's (a read of
    its own), are accepted while those reads are still held."""
    c = chain
    w = burner(c)
    async with held_node(c, tmp_path / "n.db", w) as (node, api, proxy):
        g = await known_alice(c, node, api)
        keys = ["0x" + f"{0x10 + k:02x}" * 32 for k in range(SYBILS)]
        sybils = await swarm_held(c, g, proxy, w, keys)
        await honest_taken(c, g)
        await swarm_released(g, proxy, sybils)
