"""share78: one stranger key cannot hold both of the shared submitter's verdict turns.

reads78 gave every submitter 2 verdict reads at once (``SUBMITTER_READS``), and all strangers
and peers of little standing are one submitter (``(strangers)``): one free key's copies of
two slow fresh deployments' orders held both turns, and every other such peer's copy of an
honest contract maker's order waited for one to its read deadline (rejected: anti-entropy
fetches it again, to wait again). Now a read of the shared submitter's takes a turn of its
sender's key too, one at a time (``readturns.one_of``).

A real node on a real Hardhat behind reads78's proxies (each holding its wallet's
``eth_call``s); the copies through the node's peer intake (``submit_from_peer``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_attack30_gas_gated_wallet import gas_gated_wallet
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import contract_ask
from tests.test_reads76_held_pool import contract_asks
from tests.test_reads78_verdict_pool import held, held_each_node

SYBIL = "0x" + "5b" * 20
HONEST = "0x" + "4e" * 20


async def test_one_stranger_key_leaves_the_shared_turns_to_others(
    chain: Chain, tmp_path: Path
) -> None:
    """A stranger's copies of two hostile fresh deployments' orders (reads held): at most
    one held at once, and another stranger's copy of an honest contract maker's order is
    accepted well within the read deadline (before: both turns held, it waited to it). The
    other is a newcomer (peers79: all strangers hold one turn together)."""
    c = chain
    hostile = [burner(c), burner(c)]
    honest = gas_gated_wallet(c)
    async with held_each_node(c, tmp_path / "n.db", hostile) as (node, _api, holders):
        node.contract_sigs.max_wait = 0.0  # (each copy a window of its own)
        g = node.gossip  # (peers79: strangers share one turn; the other is a newcomer's)
        assert g is not None and g.peers.admit(HONEST, "http://127.0.0.1:9000") is not None
        copies = []
        for w in hostile:
            for order in contract_asks(c, w, 2):
                copies.append(asyncio.ensure_future(node.submit_from_peer(order.to_json(), SYBIL)))
                n = len(copies)
                await wait_for(lambda n=n: node.peer_intake.read == n, 20)
        await wait_for(lambda: held(holders) >= 1, 20)
        before = held(holders)
        async with asyncio.timeout(node.intake.read_deadline - 2):
            verdict = await node.submit_from_peer(contract_ask(c, honest).to_json(), HONEST)
        assert verdict == "accepted", verdict
        assert held(holders) == before == 1, [h.held for h in holders]
        assert not any(p.done() for p in copies)
        for h in holders:
            h.release.set()
        await wait_for(lambda: all(p.done() for p in copies), 30)
