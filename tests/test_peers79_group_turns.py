"""peers79: sybil keys, however many, leave a new honest peer of another host group a verdict
turn.

share78 gave each key its one turn of the shared submitter's (strangers and peers of little
standing: 2 at once), and keys are free: two sybil keys' copies of slow fresh deployments'
orders held both, and a new honest peer's copy of a contract maker's order waited for one to
its read deadline. Now the turn is a group's (``readbudget.turns_of``): a newcomer's host
group's one of the newcomers' two, all strangers' (keys not in the peer table) one of their
own.

A real node on a real Hardhat behind reads78's proxies (each holding its wallet's
``eth_call``s); the sybils are strangers or newcomers admitted on loopback URLs (one host
group), the honest newcomer at a name of another; copies through the node's peer intake."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_attack30_gas_gated_wallet import gas_gated_wallet
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import contract_ask
from tests.test_reads76_held_pool import contract_asks
from tests.test_reads78_verdict_pool import held, held_each_node

SYBILS = ("0x" + "5b" * 20, "0x" + "5c" * 20)
HONEST = "0x" + "4e" * 20

CASES = [
    # (which sybils are admitted peers (loopback: one host group), their reads held after)
    pytest.param((False, False), 1, id="two-strangers"),
    pytest.param((True, True), 1, id="two-newcomers-one-host"),
    pytest.param((False, True), 2, id="a-stranger-and-a-newcomer"),
]


@pytest.mark.parametrize(("admitted", "holding"), CASES)
async def test_sybil_keys_leave_a_new_peer_of_another_host_a_turn(
    chain: Chain, tmp_path: Path, admitted: tuple[bool, bool], holding: int
) -> None:
    """Two sybil keys' copies of two hostile fresh deployments' orders (2 each, reads held):
    they hold ``holding`` reads (before: 2, both shared turns), and a newcomer of another
    host group has its copy of an honest contract maker's order accepted (before: it waited
    for a turn to its read deadline)."""
    c = chain
    hostile = [burner(c), burner(c)]
    honest = gas_gated_wallet(c)
    async with held_each_node(c, tmp_path / "n.db", hostile) as (node, _api, holders):
        g = node.gossip
        assert g is not None
        node.peer_intake.read_deadline = 60.0  # (the sybils' reads stay held meanwhile)
        node.contract_sigs.max_wait = 0.0  # (each copy a window of its own)
        for k, (key, peer) in enumerate(zip(SYBILS, admitted, strict=True)):
            if peer:
                assert g.peers.admit(key, f"http://127.0.0.1:{9100 + k}") is not None
        assert g.peers.admit(HONEST, "http://node.honest.example:9000") is not None
        copies = []
        for key, w in zip(SYBILS, hostile, strict=True):
            for order in contract_asks(c, w, 2):
                copies.append(asyncio.ensure_future(node.submit_from_peer(order.to_json(), key)))
                n = len(copies)
                await wait_for(lambda n=n: node.peer_intake.read == n, 20)
        await wait_for(lambda: held(holders) >= holding, 20)
        async with asyncio.timeout(20):
            verdict = await node.submit_from_peer(contract_ask(c, honest).to_json(), HONEST)
        assert verdict == "accepted", verdict
        assert held(holders) == holding, [h.held for h in holders]
        assert not any(p.done() for p in copies)
        for h in holders:
            h.release.set()
        await wait_for(lambda: all(p.done() for p in copies), 30)
