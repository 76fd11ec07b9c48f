"""reads78: a new honest peer's orders pending on chain reads are bounded with its host
group's, not with a swarm of sybils of another machine.

reads77 gave every peer below the leading ones (``Peers.leading``) and every stranger one
bound of pending reads: admission is cheap, and a swarm's slow reads held it, so a new
honest peer's next check (an order of an account first seen here: a read) was parked behind
them until one of the swarm's reads ended. Now an admitted peer below the leading ones shares
a bound with the peers of its host group (``Peers``' per-host bound: an IPv4 /24, an IPv6
/32, a name's last two labels; loopback one), and all such groups count at most half the
bound in all, so they never hold the leading peers' next groups.

A real node on a real Hardhat, its RPC behind checks75's proxy holding every read of the
hostile wallet; 16 sybils admitted on loopback URLs, the honest newcomer at a name of
another host group; the pushes checked through the node's own gossip driver."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.gossip.checks import NEWCOMERS
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_attack30_verdict_gas import burner
from tests.test_checks75_held_reads import HONEST, done, held_node, known_alice, push
from tests.test_checks75_queue_props import slow_queue
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_reads77_sybil_reads import (
    SYBILS,
    swarm_held,
    swarm_released,
)

NEWCOMER = "0x" + "5e" * 32


async def test_a_swarm_of_one_host_holds_no_new_peer_of_another(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    w = burner(c)
    async with held_node(c, tmp_path / "n.db", w) as (node, api, proxy):
        g = await known_alice(c, node, api)
        assert g.peers.admit(NEWCOMER, "http://node.honest.example:9000") is not None
        keys = ["0x" + f"{0x30 + k:02x}" * 32 for k in range(SYBILS)]
        sybils = await swarm_held(c, g, proxy, w, keys)
        first_seen = push(g, NEWCOMER, c.sign(ask(c, BOB, E18, 3200 * E6)), standing=False)
        await wait_for(done(first_seen), 15)
        assert first_seen.result()["accepted"] == 1, first_seen.result()
        plain = push(g, HONEST, c.sign(ask(c, ALICE, E18, 3100 * E6)))  # (a leading peer)
        await wait_for(done(plain), 15)
        assert plain.result()["accepted"] == 1, plain.result()
        await swarm_released(g, proxy, sybils, refused=False)


async def test_newcomers_host_groups_count_half_the_bound_in_all() -> None:
    """Newcomers of 8 host groups, one held read each, against a bound in all of 4 (1 an
    owner): they count 2 toward it, so a leading peer's check still goes in; once a leading
    peer's own reads bring the count to the bound, the next group waits."""
    held = asyncio.Event()

    def owner(sender: str) -> str:
        return sender if sender.startswith("lead") else NEWCOMERS + sender

    q = slow_queue(held, 1, owner, reads=4, per_peer=1)
    async with asyncio.timeout(10):
        new = [asyncio.create_task(q.run(f"host-{k}", k, ["slow"])) for k in range(8)]
        while q.pending_reads < 8:
            await asyncio.sleep(0)
        assert (await q.run("lead-1", 10, ["fast"]))[0] == ["accepted"]  # (2 of 4 counted)
        leads = [asyncio.create_task(q.run(f"lead-{k}", 20 + k, ["slow"])) for k in (2, 3)]
        while q.pending_reads < 10:
            await asyncio.sleep(0)
        late = asyncio.create_task(q.run("lead-1", 30, ["fast"]))  # (4 of 4: it waits)
        for _ in range(20):
            await asyncio.sleep(0)
        assert not late.done() and q.bounded > 0
        held.set()
        await asyncio.gather(*new, *leads, late)
    assert q.pending_reads == 0 and not q._queue
