"""share78: one flooding peer cannot take the node-wide ceiling's peers' lane whole.

left33's ceiling gives the peers half the node's chain reads (the ``peers`` lane, 100 a
second, bursts of 1,000), and each peer with a budget of its own may spend up to its budget
of them: one peer whose budget is as large as the lane (an operator's ``--peer-chain-read-
limit``) spent the lane's burst and what the wallets' lane could spare, and every other
peer's first-seen account was refused until the lane refilled. Now each of the lane's
senders (the peers with a budget of their own and the strangers) has a fair share of it;
past its share a sender takes only from the lane's upper half (``ReadBudget``).

A real node's budgets (its ``peer_read_budget`` and ceiling, as it wires them)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.httpkit import RateLimit
from sdex.node.readbudget import STRANGERS
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

FLOOD = "0x" + "f1" * 20
OTHERS = ["0x" + f"{k:02x}" * 20 for k in range(1, 4)]


async def test_a_flooding_peer_leaves_the_others_their_share(chain: Chain, tmp_path: Path) -> None:
    """A peer whose budget exceeds the lane takes reads until refused: each other peer, and
    the strangers, still get reads of their own (before: every one refused)."""
    limit = RateLimit(rate=1, burst=10 * 1_000)  # (a budget far past the lane's burst)
    base = replace(node_config(chain, tmp_path / "n.db"), peer_chain_read_limit=limit)
    async with running_node(base) as (node, _api):
        budget = node.peer_read_budget
        taken = 0
        while budget.take(FLOOD) and taken < limit.burst:
            taken += 1
        assert taken < limit.burst  # (the ceiling stopped it, not its own budget)
        for other in [*OTHERS, STRANGERS]:
            assert budget.take(other), (other, taken)
