"""left33: a node-wide ceiling on chain reads, with a share kept for wallets and for peers.

budget33's buckets are per sender (a client address, an IPv6 /64, a proven peer key): many
senders add up to an unbounded read rate against the chain (each burner order with a fresh
salt grows Hardhat's memory ~7.5 MB for good). ``NodeConfig.chain_read_total`` bounds them all
together; half of it is the wallets', half the peers' (a lane may borrow from the other only
what the other is not using: it never takes the other's last half-burst), so neither starves
the other. Over it: a wallet gets the same 429, code 103, ``Retry-After``; a peer's copy is
``rejected`` with no verdict kept. And concurrent first orders of one new account share one
read and one token (the mirror learns the account from the first)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdex.httpkit import RateLimit
from sdex.node.cliconfig import read_bounds
from sdex.node.config import NodeConfig
from sdex.node.readbudget import ReadBudget, ReadCeiling
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack30_gas_gated_wallet import gas_gated_wallet
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import client_at, contract_ask
from tests.test_node import ALICE, BOB, E6, E18, ask

TOTAL = RateLimit(rate=0.05, burst=4)
"""A ceiling a test spends at once (one read in 20 s): a lane of 2 each, wallets and peers."""


async def test_many_clients_together_meet_the_ceiling(chain: Chain, tmp_path: Path) -> None:
    """Six client addresses, one burner order each: the wallets' lane (2) and what they may
    borrow of the peers' idle one (1: its last half-burst is kept) are read, then 429 code
    103 with ``Retry-After``; a peer's order still has its share; orders the mirror judges
    cost nothing."""
    c = chain
    w, honest_wallet = burner(c), gas_gated_wallet(c)
    cfg = node_config(c, tmp_path / "n.db", chain_read_total=TOTAL)
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        # two first-seen accounts known first (a wallet read each), then the lanes refill
        reads = node.intake.read
        answers = []
        for k in range(6):
            async with client_at(api.base, f"127.0.0.{k + 2}") as hostile:
                answers.append(await hostile.post_order(contract_ask(c, w)))
        codes = [code for code, _ in answers]
        assert codes == [400] * 3 + [429] * 3, answers
        assert all(body["code"] == 103 for _, body in answers[3:]), answers
        assert node.intake.read - reads == 3  # the chain read 3 times for 6 clients
        async with (
            client_at(api.base, "127.0.0.9") as late,
            late.session.post(
                late.base + "/v1/orders", json=dict(contract_ask(c, w).to_json())
            ) as r,
        ):
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        # the peers' kept share: a peer's order that needs a read is read and accepted
        peer = "0x" + "ab" * 20
        first = contract_ask(c, honest_wallet)
        assert await node.submit_from_peer(dict(first.to_json()), peer) == "accepted"
        second = contract_ask(c, honest_wallet)  # the peers' lane is spent now: not kept
        assert await node.submit_from_peer(dict(second.to_json()), peer) == "rejected"
        assert not node.refused(peer, second.hash_hex)
        # /health says which lane the ceiling refused, and why (leftovers38: only the sum of
        # every refusal, both lanes and both causes, was shown)
        code, health = await api.get("/health")
        assert code == 200, health
        lanes = health["chainMirror"]["chainReadLanes"]
        assert lanes["wallets"]["refusedByCeiling"] == 4, lanes  # (3 posts and the late one)
        assert lanes["wallets"]["refusedBySender"] == 0, lanes
        assert lanes["wallets"]["borrowed"] >= 1, lanes
        assert lanes["peers"] == {
            "read": 1, "borrowed": 0, "refusedBySender": 0, "refusedByCeiling": 1
        }, lanes  # fmt: skip


def test_a_lane_keeps_its_last_half_burst() -> None:
    """A lane borrows only what the other holds past half its burst; the total never goes
    past the ceiling's burst; each lane alone refills at its share of the rate."""
    ceiling = ReadCeiling(RateLimit(rate=0.001, burst=8))
    wallets, peers = ceiling.lane("wallets"), ceiling.lane("peers")
    assert sum(wallets() for _ in range(20)) == 4 + 2  # its own 4, then 2 of the peers' 4
    assert sum(peers() for _ in range(20)) == 2  # its kept half-burst
    assert not wallets() and not peers()


def test_each_lanes_reads_and_refusals_are_counted() -> None:
    """``ReadBudget.stats`` (``/health``'s ``chainMirror.chainReadLanes``): per lane, the
    reads it took (and borrowed of them), the refusals of a sender's own budget and those of
    the ceiling, apart."""
    ceiling = ReadCeiling(RateLimit(rate=0.001, burst=8))
    wallets = ReadBudget(RateLimit(rate=0.001, burst=100), ceiling, "wallets")
    peers = ReadBudget(RateLimit(rate=0.001, burst=1), ceiling, "peers")
    assert sum(wallets.take(f"10.0.0.{i}") for i in range(20)) == 6
    assert wallets.stats() == {
        "read": 6, "borrowed": 2, "refusedBySender": 0, "refusedByCeiling": 14
    }  # fmt: skip
    assert [peers.take(k) for k in ("a", "b", "a", "c", "d")] == [True, True, False, False, False]
    assert peers.stats() == {"read": 2, "borrowed": 0, "refusedBySender": 1, "refusedByCeiling": 2}
    alone = ReadBudget(RateLimit(rate=0.001, burst=1))  # (no ceiling: none refuses)
    assert [alone.take("a"), alone.take("a")] == [True, False]
    assert alone.stats() == {"read": 1, "borrowed": 0, "refusedBySender": 1, "refusedByCeiling": 0}


def test_the_ceiling_is_an_option(tmp_path: Path) -> None:
    """``--chain-read-total`` (``read_bounds``' ``total``): orders a second, bursts of 10 s."""
    cfg = NodeConfig("http://x", 31337, "0x" + "11" * 20, 0, {}, bytes(32), tmp_path / "n.db")
    assert cfg.chain_read_total == RateLimit(rate=200, burst=2_000)
    assert read_bounds(cfg, total=50).chain_read_total == RateLimit(rate=50, burst=500)
    for bad in (0, -1, float("nan"), 1e12):
        with pytest.raises(ValueError, match="chain-read-total"):
            read_bounds(cfg, total=bad)


async def test_concurrent_first_orders_share_one_read(chain: Chain, tmp_path: Path) -> None:
    """Five orders of an account the node has not seen, posted at once by one client whose
    budget holds one read: one read, one token, five orders accepted."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", chain_read_limit=RateLimit(rate=0.05, burst=1))
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        reads = node.intake.read
        orders = [c.sign(ask(c, BOB, E18 + k, 3000 * E6)) for k in range(5)]
        answers = await asyncio.gather(*(api.post_order(o) for o in orders))
        assert [code for code, _ in answers] == [201] * 5, answers
        assert node.intake.read - reads == 1
        code, body = await api.post_order(c.sign(ask(c, ALICE, E18, 3000 * E6)))
        assert code == 429 and body["code"] == 103, body  # (the budget's one token was spent)
