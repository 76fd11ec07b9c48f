"""Lazy answers on a stream (``sdex.gossip.answers``): a push marked lazy is answered with
the acceptor's next answer frame to that dialer, or ``LAZY_ACK`` seconds later; a refusal
at once. Real gossip members on loopback (``tests.p2putil``)."""

from __future__ import annotations

import asyncio

import pytest

from sdex.gossip import answers
from tests.p2putil import gossip_net, order
from tests.test_stream import FAST, dial_link, newest_served, until


async def test_a_lazy_push_is_answered_in_the_next_answer_frame() -> None:
    """Checked, its answer waits (no frame of its own); the next eager push's answer
    carries both: one answer frame for two pushes, each call its own counts."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await dial_link(a, b, True)
        try:
            ours = newest_served(b, a)
            before = ours.answer_frames
            body = {"orders": [order(1)]}
            lazy = asyncio.create_task(link.request("POST", "/orders", None, body, 30, True))
            await until(lambda: len(ours._lazy) == 1)  # checked; its answer waits
            assert not lazy.done() and ours.answer_frames == before
            body = {"orders": [order(2), order(1)]}
            eager = await link.request("POST", "/orders", None, body, 30)
            first = await asyncio.wait_for(lazy, 5)
            assert first == (200, {"accepted": 1, "known": 0, "rejected": 0})
            assert eager == (200, {"accepted": 1, "known": 1, "rejected": 0})
            assert ours.answer_frames - before == 1 and not ours._lazy
        finally:
            await link.close()


async def test_a_lone_lazy_answer_leaves_within_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """No other answer comes: the lazy one goes alone after ``LAZY_ACK``."""
    monkeypatch.setattr(answers, "LAZY_ACK", 0.3)
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await dial_link(a, b, True)
        try:
            ours = newest_served(b, a)
            before = ours.answer_frames
            loop = asyncio.get_running_loop()
            asked = loop.time()
            reply = await asyncio.wait_for(
                link.request("POST", "/orders", None, {"orders": [order(3)]}, 30, True), 5
            )
            assert reply[0] == 200 and reply[1]["accepted"] == 1
            assert loop.time() - asked >= 0.3 and ours.answer_frames - before == 1
        finally:
            await link.close()


@pytest.mark.parametrize("grouped", [True, False])
async def test_a_refused_lazy_push_and_an_older_dialers_are_answered_at_once(
    grouped: bool,
) -> None:
    """A lazy push refused (a malformed body: 400) is answered at once, as is any lazy
    push from a dialer that did not ask for grouped answers (``acks=1``): it would not read
    a group."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await dial_link(a, b, grouped)
        try:
            ours = newest_served(b, a)
            before = ours.answer_frames
            bad = await asyncio.wait_for(
                link.request("POST", "/orders", None, {"orders": "x"}, 30, True), 0.25
            )
            assert bad[0] == 400
            if not grouped:  # (answered at once, not held for ``LAZY_ACK``)
                ok = await asyncio.wait_for(
                    link.request("POST", "/orders", None, {"orders": [order(4)]}, 30, True), 0.4
                )
                assert ok[0] == 200
            assert ours.answer_frames - before == (1 if grouped else 2) and not ours._lazy
        finally:
            await link.close()


async def test_lazy_answers_waiting_go_before_the_stream_closes() -> None:
    """The acceptor closes the stream (say, it stops) with a lazy answer waiting: it is
    sent first, so the dialer's call is answered, not failed."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await dial_link(a, b, True)
        try:
            ours = newest_served(b, a)
            body = {"orders": [order(5)]}
            lazy = asyncio.create_task(link.request("POST", "/orders", None, body, 30, True))
            await until(lambda: len(ours._lazy) == 1)
            await ours.close()
            assert (await asyncio.wait_for(lazy, 5))[0] == 200
        finally:
            await link.close()
