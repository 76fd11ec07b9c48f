"""reads76: a contract wallet's held reads hold no other chain read, and no order waits on
its read past ``Intake.read_deadline``.

The node's intake read the chain on one client of 8 connections, shared with the
settler's receipts and the node's own reads. A contract maker's order is read with its
``isValidSignature`` (anyone's code, as slow as it makes the call, or as a path to the
chain that holds it); orders posted in separate 2 ms windows are separate calls, so 8 of a
hostile wallet's orders held all 8 connections, and every other read (an honest first-seen
maker's, a receipt) waited for one, its order up to the client's 30 s. EIP-1271 verdicts
now go on a client of their own (``CONTRACT_CONNECTIONS``), and an order whose read has not
ended at ``read_deadline`` is answered ``CHAIN_UNAVAILABLE`` (a wallet's 503; a peer's
order rejected, its sender not blamed).

A real node on a real Hardhat, its RPC behind a proxy that holds every ``eth_call``
naming the hostile wallet (``holding_reads``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from sdex.order import SignedOrder, sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack30_gas_gated_wallet import OWNER, gas_gated_wallet
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import contract_ask
from tests.test_checks75_held_reads import HOSTILE, done, held_node, push
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_review74b_group_reads import X, Y

HELD = 8
"""The hostile wallet's orders whose reads are held: as many as the intake's connections."""


def contract_asks(c: Chain, wallet: str, n: int) -> list[SignedOrder]:
    """``n`` distinct orders of the contract maker ``wallet`` (signed by its owner)."""
    return [
        sign_order(
            replace(ask(c, ALICE, E18, (3000 + k) * E6), maker=wallet), c.domain, c.keys[OWNER]
        )
        for k in range(n)
    ]


async def test_held_contract_reads_hold_no_other_read(chain: Chain, tmp_path: Path) -> None:
    """Eight of the hostile wallet's orders, each its own read, held: a first-seen maker's
    order is still answered (its read on the node's client), and so is any other read of
    that client (the settler's receipts)."""
    c = chain
    w = burner(c)
    async with held_node(c, tmp_path / "n.db", w) as (node, api, proxy):
        most = node.contract_sigs.share(w)  # (one maker's share: reads77, reads78)
        hostile = []
        for k, order in enumerate(contract_asks(c, w, HELD)):
            hostile.append(asyncio.ensure_future(node.submit_wallet(order.to_json())))
            await wait_for(lambda k=k: node.intake.read == k + 1, 20)
            await wait_for(lambda k=k: proxy.held >= min(k + 1, most), 20)
        honest = c.sign(ask(c, BOB, E18, 3200 * E6))  # (Bob's account: first seen, a read)
        status, body = await api.post_order(honest)
        assert status == 201, body
        async with asyncio.timeout(5):  # (a receipt's read: the client's connections free)
            await node.rpc.call("eth_blockNumber")
        assert not any(t.done() for t in hostile)  # (their reads still held)
        proxy.release.set()
        await wait_for(lambda: all(t.done() for t in hostile), 30)


async def test_a_held_read_is_answered_at_the_deadline(chain: Chain, tmp_path: Path) -> None:
    """A wallet's order whose read is held is answered 503 ``CHAIN_UNAVAILABLE`` once
    ``read_deadline`` passes; a peer's is rejected, the peer not blamed."""
    c = chain
    w = burner(c)
    async with held_node(c, tmp_path / "n.db", w) as (node, _api, proxy):
        node.intake.read_deadline = node.peer_intake.read_deadline = 0.5
        wallet_order, peer_order = contract_asks(c, w, 2)
        answer = asyncio.ensure_future(node.submit_wallet(wallet_order.to_json()))
        await wait_for(done(answer), 10)
        assert answer.result().status == 503, answer.result()
        assert answer.result().body["rejection"] == "CHAIN_UNAVAILABLE"
        assert node.intake.late == 1  # (its read given up, its request ended: reads77)
        g = node.gossip
        assert g is not None
        pushed = push(g, HOSTILE, peer_order)
        await wait_for(done(pushed), 10)
        assert pushed.result() == {"accepted": 0, "known": 0, "rejected": 1}, pushed.result()
        assert g.peers.standing(HOSTILE).invalid == 0 and node.peer_intake.late == 1
        proxy.release.set()


async def test_a_held_contract_read_holds_no_other_makers_in_its_window(
    chain: Chain, tmp_path: Path
) -> None:
    """The hostile wallet's order and an honest contract maker's, posted in one turn (one
    2 ms window of the verdicts' batcher): each maker's rows go in a read of their own, and
    the honest order is accepted while the hostile one's read is held."""
    c = chain
    w, honest_wallet = burner(c), gas_gated_wallet(c)
    async with held_node(c, tmp_path / "n.db", w) as (node, _api, proxy):
        hostile, honest = contract_ask(c, w), contract_ask(c, honest_wallet)
        futs = [  # (tasks: one turn, one group, one window)
            asyncio.ensure_future(node.submit_wallet(hostile.to_json(), client=X)),
            asyncio.ensure_future(node.submit_wallet(honest.to_json(), client=Y)),
        ]
        await wait_for(done(futs[1]), 6)  # (within the read deadline: its own read)
        assert futs[1].result().status == 201, futs[1].result()
        assert proxy.held == 1 and not futs[0].done()
        proxy.release.set()
        await wait_for(done(futs[0]), 30)
        assert futs[0].result().status in (400, 503), futs[0].result()


async def test_a_window_of_many_makers_makes_at_most_max_parts_reads(
    chain: Chain, tmp_path: Path
) -> None:
    """A peer's chunk of bad signatures in many makers' names (one window): one read per
    maker up to ``max_parts``, the rest sharing the last; every order judged."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _api):
        await wait_for(node.mirror_ready)
        sigs = node.contract_sigs
        makers = [f"0x{k:040x}" for k in range(0x1000, 0x1000 + 3 * sigs.max_parts)]
        chunk = [
            sign_order(replace(ask(c, ALICE, E18, 3000 * E6), maker=m), c.domain, c.keys[OWNER])
            for m in makers
        ]
        calls, split = sigs.calls, sigs.split
        heads = node.contract_rpc.calls["eth_blockNumber"]
        got = await node.submit_many_from_peer([dict(s.to_json()) for s in chunk], "cd" * 32)
        assert got == ["rejected"] * len(chunk), got  # (their charge waits: signer78)
        assert len(node.unproven) == len(chunk)
        assert sigs.calls - calls == sigs.max_parts and sigs.split - split == sigs.max_parts - 1
        assert node.contract_rpc.calls["eth_blockNumber"] == heads + 1  # (one block for all)
