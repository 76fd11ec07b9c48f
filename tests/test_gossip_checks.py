"""Peers' checks in groups (``sdex.gossip.checks``): real gossip drivers, their routes on
real aiohttp servers on loopback, in-memory nodes behind them (``tests.p2putil``).

Each test breaks one promise of the groups: an order that makes the intake raise fails
only its sender's check (the orders the failed call had accepted keep that verdict, the
forged ones it found still cost their sender), a sender that goes away is still charged
for the forged orders it sent, a leader that goes away mid-group costs the others
nothing (no order checked twice, their verdicts theirs), and bookkeeping that fails after
the intake never leaves the queue wedged."""

from __future__ import annotations

import asyncio
from typing import Any

from sdex.gossip import GossipConfig
from sdex.gossip.actions import Check
from sdex.gossip.checks import PartialVerdicts
from tests.p2putil import Member, MemoryNode, gossip_net, order
from tests.test_stream import open_link, until

FAST = GossipConfig(dial_interval=0.1, ae_interval=0.3)
HOSTILE = "0x" + "77" * 20


class Intake:
    """``node``'s intake, watched: each call's orders recorded; an order marked ``poison``
    makes the call raise (a bug an order triggers); while ``holding``, a call that checked
    its orders waits for its gate (``gates[i]``) before it answers."""

    def __init__(self, node: MemoryNode) -> None:
        self.real = node.submit_many_from_peer
        self.calls: list[list[Any]] = []
        self.gates: list[asyncio.Event] = []
        self.holding = True
        node.submit_many_from_peer = self  # type: ignore[method-assign]

    async def __call__(self, objs: list[object], peer: str | list[str]) -> list[str]:
        self.calls.append(list(objs))
        gate = asyncio.Event()
        self.gates.append(gate)
        if any(isinstance(o, dict) and o.get("poison") for o in objs):
            raise RuntimeError("an order broke the intake")
        verdicts = await self.real(objs, peer)
        if self.holding:
            await gate.wait()
        return verdicts

    async def held(self, n: int) -> None:
        """Until ``n`` calls were made."""
        await until(lambda: len(self.calls) >= n)

    def release(self) -> None:
        self.holding = False
        for gate in self.gates:
            gate.set()


class Midway(Intake):
    """``Intake``, but a call goes through its orders in order, as the node's does: those
    before a poisoned one get their verdicts (accepted: held now), then it raises
    ``PartialVerdicts`` with them, from the error."""

    async def __call__(self, objs: list[object], peer: str | list[str]) -> list[str]:
        who = peer if isinstance(peer, list) else [peer] * len(objs)
        self.calls.append(list(objs))
        gate = asyncio.Event()
        self.gates.append(gate)
        verdicts: list[str] = []
        for o, p in zip(objs, who, strict=True):
            if isinstance(o, dict) and o.get("poison"):
                rest = [""] * (len(objs) - len(verdicts))
                raise PartialVerdicts(verdicts + rest) from RuntimeError("an order broke it")
            verdicts += await self.real([o], p)
        if self.holding:
            await gate.wait()
        return verdicts


def check(m: Member, sender: str, orders: list[object]) -> asyncio.Task[dict[str, int]]:
    return asyncio.create_task(m.gossip.run_check(m.gossip.core.receive(sender, orders)))


def queued(m: Member, n: int) -> Any:
    return until(lambda: len(m.gossip.checks._queue) == n)


def no_check_left(m: Member) -> bool:
    checks = m.gossip.checks
    waiting = [p for p in m.gossip.core._waiting.values() if isinstance(p.action, Check)]
    return not checks._queue and not checks._leading and not waiting


async def test_a_bad_order_fails_only_its_senders_check() -> None:
    """Checks that waited go in together; if one's order makes the intake raise, each
    check's share goes again on its own: the others get their verdicts, only the sender
    of the bad order gets the error (it is not handed from leader to leader)."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        ka, intake = a.gossip.node_id, Intake(b.node)
        lead = check(b, ka, [order(1)])
        await intake.held(1)
        before, poison = check(b, ka, [order(2)]), {**order(3), "poison": True}
        bad, after = check(b, HOSTILE, [poison]), check(b, ka, [order(4)])
        await queued(b, 4)
        intake.release()
        results = await asyncio.wait_for(
            asyncio.gather(lead, before, bad, after, return_exceptions=True), 10
        )
        assert [r if isinstance(r, BaseException) else r["accepted"] for r in results[:2]] == [
            1, 1
        ]  # fmt: skip
        assert isinstance(results[2], RuntimeError)
        assert not isinstance(results[3], BaseException) and results[3]["accepted"] == 1
        assert intake.calls == [[order(1)], [order(2), poison, order(4)], [order(2)], [poison],
                                [order(4)]]  # fmt: skip
        assert no_check_left(b)


async def test_orders_a_failed_group_call_accepted_keep_their_verdict() -> None:
    """A group's call accepts the first check's order, then an order of the next raises:
    the accepted order's verdict stands (its sender is told ``accepted`` and credited; it is
    not checked again); each other check's orders go again alone: the bad order's sender
    gets the error it raised, the check after it its verdict."""
    async with gossip_net(3, [FAST] * 3) as (a, b, c):
        ka, kc, intake = a.gossip.node_id, c.gossip.node_id, Midway(b.node)
        lead = check(b, ka, [order(1)])
        await intake.held(1)
        poison = {**order(3), "poison": True}
        first, bad, after = (
            check(b, kc, [order(2)]),
            check(b, HOSTILE, [poison]),
            check(b, ka, [order(4)]),
        )
        await queued(b, 4)
        score = b.gossip.peers.get(kc).score  # type: ignore[union-attr]
        intake.release()
        results = await asyncio.wait_for(
            asyncio.gather(lead, first, bad, after, return_exceptions=True), 10
        )
        assert intake.calls == [[order(1)], [order(2), poison, order(4)], [poison], [order(4)]]
        assert isinstance(results[2], RuntimeError) and str(results[2]) == "an order broke it"
        got = [(r["accepted"], r["known"]) for r in results if isinstance(r, dict)]
        assert got == [(1, 0), (1, 0), (1, 0)]
        assert b.gossip.peers.get(kc).score > score  # type: ignore[union-attr]
        assert no_check_left(b)


async def test_a_sender_whose_stream_closes_still_pays_for_its_forged_orders() -> None:
    """A peer pushes forged orders, then closes its stream while they are in another
    check's group: the intake checked them, so they still cost their sender."""
    async with gossip_net(3, [FAST] * 3) as (a, b, c):
        ka, kc = a.gossip.node_id, c.gossip.node_id
        c_to_b, intake = await open_link(c, b), Intake(b.node)
        lead = check(b, ka, [order(1)])
        await intake.held(1)
        other = check(b, ka, [order(2)])
        forged = [{**order(i), "forged": True} for i in (3, 4)]
        push = asyncio.create_task(c_to_b.request("POST", "/orders", None, {"orders": forged}, 30))
        await queued(b, 3)
        intake.gates[0].set()  # the next group: the other check leads it, the forged go with it
        await intake.held(2)
        assert intake.calls[1] == [order(2), *forged]
        before = b.gossip.peers.standing(kc).invalid
        await c_to_b.close()
        await queued(b, 1)  # (the push's check left as its stream closed)
        assert push.done()
        intake.release()
        assert (await lead)["accepted"] == 1 and (await other)["accepted"] == 1
        assert b.gossip.peers.standing(kc).invalid == before + 2
        assert no_check_left(b)


async def test_a_leader_that_goes_away_mid_group_costs_the_others_nothing() -> None:
    """The check leading a group that holds other checks' orders is cancelled (its stream
    closed) while the group is in the intake: the group goes on, the next check waits for
    it, and gets its own verdicts (accepted, not ``known`` on a second check); no order
    goes through the intake twice."""
    async with gossip_net(3, [FAST] * 3) as (a, b, c):
        ka, kc, intake = a.gossip.node_id, c.gossip.node_id, Intake(b.node)
        first = check(b, ka, [order(1)])
        await intake.held(1)
        leader, other = check(b, ka, [order(2)]), check(b, kc, [order(3)])
        await queued(b, 3)
        intake.gates[0].set()  # ``leader`` leads the next group: its order and ``other``'s
        await intake.held(2)
        assert intake.calls[1] == [order(2), order(3)]
        score = b.gossip.peers.get(kc).score  # type: ignore[union-attr]
        leader.cancel()
        await queued(b, 1)
        intake.release()
        assert (await first)["accepted"] == 1
        assert (await asyncio.wait_for(other, 10))["accepted"] == 1
        assert intake.calls == [[order(1)], [order(2), order(3)]]
        assert order(2)["hash"] in b.node.orders and leader.cancelled()
        assert b.gossip.peers.get(kc).score > score  # type: ignore[union-attr]
        assert no_check_left(b)


async def test_bookkeeping_that_fails_after_the_intake_wedges_nothing() -> None:
    """If judging a check's verdicts raises (a bug after the intake answered), the
    verdicts stand: that check and the others of its group still get theirs, and the
    queue goes on (it does not spin on orders taken with no verdict)."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        ka, g, intake = a.gossip.node_id, b.gossip, Intake(b.node)
        lead = check(b, ka, [order(1)])
        await intake.held(1)
        checks = [g.core.receive(ka, [order(2)]), g.core.receive(HOSTILE, [order(3)])]
        waiting = [asyncio.create_task(g.run_check(x)) for x in checks]
        await queued(b, 3)
        real = g.core.judge

        def judge(check_id: int, results: list[str]) -> Any:
            if check_id == checks[0].id:
                raise RuntimeError("judging broke")
            return real(check_id, results)

        g.core.judge = judge  # type: ignore[method-assign]
        intake.release()
        assert (await lead)["accepted"] == 1
        results = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 10)
        assert [r if isinstance(r, BaseException) else r["accepted"] for r in results] == [1, 1]
        assert intake.calls == [[order(1)], [order(2), order(3)]]
        assert no_check_left(b)


async def test_an_intake_that_answers_short_fails_those_checks_not_the_queue() -> None:
    """An intake call that gives fewer verdicts than orders (a bug) fails the checks whose
    orders got none (each check's alone again, then failed), instead of leaving them taken
    with no verdict for the next leader to spin on; a check whose orders all got theirs
    keeps them; the queue then goes on."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        ka, g, intake = a.gossip.node_id, b.gossip, Intake(b.node)
        real, short = intake.real, True

        async def answers(objs: list[object], peer: str | list[str]) -> list[str]:
            verdicts = await real(objs, peer)
            return verdicts[:-1] if short else verdicts

        intake.real = answers
        lead = check(b, ka, [order(1)])
        await intake.held(1)
        waiting = [check(b, ka, [order(2)]), check(b, HOSTILE, [order(3), order(4)])]
        await queued(b, 3)
        intake.release()
        results = await asyncio.wait_for(asyncio.gather(lead, *waiting, return_exceptions=True), 10)
        assert isinstance(results[0], RuntimeError) and isinstance(results[2], RuntimeError)
        assert results[1] == {**results[1], "accepted": 1}  # (its one order had its verdict)
        assert intake.calls[1:] == [[order(2), order(3), order(4)], [order(4)]]
        short = False
        assert (await g.run_check(g.core.receive(ka, [order(5)])))["accepted"] == 1
        assert no_check_left(b)


async def test_a_failed_check_still_pays_for_the_forged_orders_found_before() -> None:
    """A check's call finds two forged orders, then an order makes the intake raise: the
    check fails with that error, but the two forged orders cost their sender (the orders
    after the raise, never judged, cost nothing and are not held)."""
    async with gossip_net(3, [FAST] * 3) as (_a, b, c):
        kc, intake = c.gossip.node_id, Midway(b.node)
        intake.holding = False
        forged = [{**order(i), "forged": True} for i in (1, 2)]
        poison = {**order(3), "poison": True}
        before = b.gossip.peers.standing(kc).invalid
        result = await asyncio.wait_for(
            asyncio.gather(check(b, kc, [*forged, poison, order(4)]), return_exceptions=True), 10
        )
        assert isinstance(result[0], RuntimeError) and str(result[0]) == "an order broke it"
        assert intake.calls == [[*forged, poison, order(4)]]
        assert b.gossip.peers.standing(kc).invalid == before + 2
        assert order(4)["hash"] not in b.node.orders
        assert no_check_left(b)


async def test_forged_orders_a_failed_group_call_found_cost_their_sender() -> None:
    """A group's call finds a check's forged order, then that check's next order makes it
    raise; its order with no verdict goes again alone and raises at once: the check fails,
    and the forged order the group call found costs its sender, once; the other check of
    the group gets its verdict."""
    async with gossip_net(3, [FAST] * 3) as (a, b, c):
        ka, kc, intake = a.gossip.node_id, c.gossip.node_id, Midway(b.node)
        lead = check(b, ka, [order(1)])
        await intake.held(1)
        forged, poison = {**order(2), "forged": True}, {**order(3), "poison": True}
        bad, after = check(b, kc, [forged, poison]), check(b, ka, [order(4)])
        await queued(b, 3)
        before = b.gossip.peers.standing(kc).invalid
        midway = intake.__call__

        async def call(objs: list[object], peer: str | list[str]) -> list[str]:
            if len(intake.calls) >= 2 and poison in objs:  # (the share alone: at once)
                intake.calls.append(list(objs))
                raise RuntimeError("the intake broke at once")
            return await midway(objs, peer)

        b.node.submit_many_from_peer = call  # type: ignore[method-assign]
        intake.release()
        results = await asyncio.wait_for(
            asyncio.gather(lead, bad, after, return_exceptions=True), 10
        )
        assert intake.calls == [[order(1)], [forged, poison, order(4)], [poison], [order(4)]]
        assert isinstance(results[1], RuntimeError)
        assert str(results[1]) == "the intake broke at once"
        assert [r["accepted"] for r in (results[0], results[2]) if isinstance(r, dict)] == [1, 1]
        assert b.gossip.peers.standing(kc).invalid == before + 1
        assert no_check_left(b)
