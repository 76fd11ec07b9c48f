"""http70: the wallet group (``sdex.node.walletgroup``, http69) attacked: one client filling a
group, the read budget per order and per client, the intake failing midway, a client gone
mid-group, the node stopped with a group in a chain read, and the writer stalled."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sdex.ingest.cores import SpareCore
from sdex.ingest.verdicts import IntakeResult
from sdex.node.records import SubmitResult
from sdex.node.walletgroup import MAX_GROUP
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, stall_writer, wait_for
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import TINY, contract_ask
from tests.test_http69_wallet_group import one_turn
from tests.test_node import ALICE, E6, E18, ask
from tests.test_resend68_replaced_chain import Calls, holding_proxy

X, Y = "127.0.0.2", "127.0.0.3"
"""Two wallet clients (their budgets of chain reads are their own)."""


def asks(c: Chain, n: int, maker: int = ALICE, first: int = 0) -> list[SignedOrder]:
    """``n`` small asks of ``maker``'s at distinct prices."""
    return [c.sign(ask(c, maker, E18 // 1000, 3 * E6 + first + i)) for i in range(n)]


def stored_hashes(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {h for (h,) in conn.execute("SELECT hash FROM orders")}


async def test_one_client_filling_a_group_leaves_each_order_its_own_budget(
    chain: Chain, tmp_path: Path
) -> None:
    """X's orders fill a group (``MAX_GROUP``) and start the next; Y's order in the same turn
    is read on Y's budget, and each of X's reads takes a token of X's: past X's budget only
    X's orders that need a read are throttled (429), one by one, not the group."""
    c = chain
    w = burner(c)  # (a contract maker: each of its orders needs a chain read)
    async with running_node(node_config(c, tmp_path / "n.db", chain_read_limit=TINY)) as (
        node,
        api,
    ):
        await wait_for(node.mirror_ready)
        assert (await api.post_order(asks(c, 1, first=999)[0]))[0] == 201  # (its account known)
        plain = asks(c, MAX_GROUP - 3)
        burnt = [contract_ask(c, w) for _ in range(5)]
        mine = [(s.to_json(), X) for s in plain + burnt]
        theirs = (contract_ask(c, w).to_json(), Y)
        groups, reads = node.wallet_group.groups, node.intake.read
        futs = [node.submit_wallet(o, client=who) for o, who in [*mine, theirs]]
        answers: list[SubmitResult] = await asyncio.wait_for(asyncio.gather(*futs), 120)
        assert node.wallet_group.groups == groups + 2  # (full at MAX_GROUP: the next began)
        codes = [a.status for a in answers]
        assert codes[: len(plain)] == [201] * len(plain), answers[: len(plain)]
        # X's budget (TINY: 3 reads) read three of its contract orders, throttled the others
        assert codes[len(plain) : -1] == [400, 400, 400, 429, 429], answers[len(plain) :]
        assert answers[-1].status == 400  # Y's own budget read it: not throttled
        assert "signature" in json.dumps(answers[-1].body).lower(), answers[-1]
        assert node.intake.read - reads == 4
        stored = stored_hashes(tmp_path / "n.db")
        assert {s.hash_hex for s in plain} <= stored


async def test_the_intake_failing_midway_fails_only_the_unanswered(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intake raises on the third order of a group (after its signature check): the
    orders answered before (a 201, a 400) keep their answers and the first is stored; the
    third and the one after it fail (a 500 over HTTP) and none of them is held or stored."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        assert (await api.post_order(asks(c, 1, first=999)[0]))[0] == 201
        good, doomed, after = asks(c, 3)
        malformed = {**good.to_json(), "makerAmount": "-1"}
        intake = node.intake
        real = intake._after_ecdsa

        def failing(signed: SignedOrder, ok: bool | None) -> IntakeResult | None:
            if signed.hash == doomed.hash:
                raise RuntimeError("the intake failed midway")
            return real(signed, ok)

        monkeypatch.setattr(intake, "_after_ecdsa", failing)
        futs = one_turn(node, [good.to_json(), malformed, doomed.to_json(), after.to_json()])
        done = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), 60)
        assert isinstance(done[0], SubmitResult) and done[0].status == 201, done
        assert isinstance(done[1], SubmitResult) and done[1].status == 400, done
        assert [type(d) for d in done[2:]] == [RuntimeError, RuntimeError], done
        for s in (doomed, after):
            assert not node.registry.held(s.hash)
        assert good.hash_hex in stored_hashes(tmp_path / "n.db")
        # over HTTP the same: the unanswered ones are a 500, the node serves on
        code, _ = await api.post_order(doomed)
        assert code == 500
        monkeypatch.undo()
        assert (await api.post_order(doomed))[0] == 201


async def test_a_client_gone_mid_group_leaves_its_orders_taken_and_nothing_behind(
    chain: Chain, tmp_path: Path
) -> None:
    """Clients post a group's orders, then go away (their connections closed) while the
    store's writer stalls: their orders are taken anyway (stored once the writer moves on),
    nothing is left waiting (no group task, no signature check in flight, no connection's
    slot), and a post again is answered 200 with the order's record."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        assert (await api.post_order(asks(c, 1, first=999)[0]))[0] == 201
        orders = asks(c, 6)
        gate = threading.Event()
        await stall_writer(node, gate, "hold_rows BEFORE INSERT ON orders")
        try:
            session = aiohttp.ClientSession()
            posts = [
                asyncio.ensure_future(session.post(api.base + "/v1/orders", json=o.to_json()))
                for o in orders
            ]
            await wait_for(lambda: all(node.registry.held(o.hash) for o in orders), 30)
            for p in posts:
                p.cancel()
            await asyncio.wait(posts)
            await session.close()
        finally:
            gate.set()
        await wait_for(lambda: orders[-1].hash_hex in stored_hashes(tmp_path / "n.db"), 30)
        assert {o.hash_hex for o in orders} <= stored_hashes(tmp_path / "n.db")
        await wait_for(lambda: not node.wallet_group.running(), 30)
        assert not node.intake.ecdsa._in_flight
        for o in orders:
            code, body = await api.post_order(o)
            assert code == 200 and body["metaData"]["orderHash"] == o.hash_hex, body


async def test_a_stop_with_a_group_in_a_chain_read_leaves_no_task_and_acknowledges_nothing_lost(
    chain: Chain, tmp_path: Path
) -> None:
    """The node stops while a group waits on a chain read (a contract maker's verdict, held
    by a proxy in front of the chain): once ``stop`` returns no task of the group runs on,
    every answer is settled, and every 2xx given is a stored row."""
    c = chain
    w = burner(c)
    needle = w.lower().removeprefix("0x")

    def contract_read(calls: Calls) -> bool:
        return any(x.get("method") == "eth_call" and needle in json.dumps(x).lower() for x in calls)

    base = node_config(c, tmp_path / "n.db")
    async with holding_proxy(base.rpc, contract_read) as proxy:
        futs: list[asyncio.Future[SubmitResult]] = []
        async with running_node(replace(base, rpc=proxy.url)) as (node, api):
            await wait_for(node.mirror_ready)
            assert (await api.post_order(asks(c, 1, first=999)[0]))[0] == 201
            plain = asks(c, 2)
            futs = one_turn(
                node, [plain[0].to_json(), contract_ask(c, w).to_json(), plain[1].to_json()]
            )
            await wait_for(lambda: proxy.held, 30)
        assert not node.wallet_group.running()  # stopped: no group task runs on
        assert all(f.done() for f in futs)
        stored = stored_hashes(tmp_path / "n.db")
        for f in futs:
            if not f.cancelled() and f.exception() is None and f.result().status < 300:
                body: dict[str, Any] = f.result().body
                assert body["orderHash"] in stored, body


async def test_a_group_past_the_stores_wait_is_answered_503_and_stored_later(
    chain: Chain, tmp_path: Path
) -> None:
    """The writer stalls past ``store_wait``: every order of a group is answered 503 (not
    stored: never a 2xx before its own commit), a group's repeat of a held order too; once
    the writer moves on their rows are committed and a post again is answered 200."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        assert (await api.post_order(asks(c, 1, first=999)[0]))[0] == 201
        orders = asks(c, 4)
        node.store_wait = 0.5
        gate = threading.Event()
        await stall_writer(node, gate, "hold_rows BEFORE INSERT ON orders")
        try:
            bodies = [o.to_json() for o in orders]
            answers = await asyncio.wait_for(asyncio.gather(*one_turn(node, bodies)), 30)
            assert [a.status for a in answers] == [503] * 4, answers
            again = await asyncio.wait_for(asyncio.gather(*one_turn(node, bodies[:2])), 30)
            assert [a.status for a in again] == [503] * 2, again  # (held, not yet stored)
        finally:
            gate.set()
        await wait_for(lambda: orders[-1].hash_hex in stored_hashes(tmp_path / "n.db"), 30)
        for o in orders:
            code, body = await api.post_order(o)
            assert code == 200 and body["metaData"]["orderHash"] == o.hash_hex, body
        await wait_for(lambda: not node.wallet_group.running(), 30)


async def test_a_groups_orders_are_timed_as_one_intake_call_in_forward_timing(
    chain: Chain, tmp_path: Path
) -> None:
    """With a peer to pass orders on to, a group's orders are in ``/health``'s
    ``forwardTiming`` (http69 timed lone orders only): one intake call, every order it
    handed over, the clocks read once past its start (as a peer's chunk)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        assert node.gossip is not None
        assert node.gossip.peers.admit("ab" * 32, "http://127.0.0.1:19") is not None
        assert (await api.post_order(asks(c, 1, first=999)[0]))[0] == 201
        fw = node.forwarding
        fw.every = 1  # (every call timed)
        before = fw.to_json()["wallet"]
        orders = asks(c, 5)
        answers = await asyncio.wait_for(
            asyncio.gather(*one_turn(node, [o.to_json() for o in orders])), 60
        )
        assert [a.status for a in answers] == [201] * 5, answers
        _, health = await api.get("/health")
        w = health["forwardTiming"]["wallet"]
        assert w["calls"] - before["calls"] == 1  # (the group: one intake call)
        assert w["orders"] - before["orders"] == 5, w
        assert w["cpuS"] > before["cpuS"] and w["wallS"] > before["wallS"], (before, w)
        assert w["handWallS"] > before["handWallS"], (before, w)


async def test_a_groups_signatures_come_back_in_one_part(chain: Chain, tmp_path: Path) -> None:
    """With a core spare, a group's signatures go to the worker thread in one hand-over and
    come back in one part (before: 8, 16, 32, ... each resuming the group, which answered in
    parts: the next turns' groups were smaller)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        assert (await api.post_order(asks(c, 1, first=999)[0]))[0] == 201
        ecdsa = node.intake.ecdsa
        ecdsa.spare_core = SpareCore(read=lambda: None)  # (no schedstat: a core is spare)
        orders = asks(c, 40)
        parts, handovers = ecdsa.batches, ecdsa.handovers
        answers = await asyncio.wait_for(
            asyncio.gather(*one_turn(node, [o.to_json() for o in orders])), 60
        )
        assert [a.status for a in answers] == [201] * 40, answers
        assert (ecdsa.handovers - handovers, ecdsa.batches - parts) == (1, 1)
