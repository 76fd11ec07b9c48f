"""reads77: ``sdex.chain.arpcturns.Turns`` under random calls, keys and cancellations
(hypothesis): never more than ``per_key`` of one key's turns at once, each key's calls
served in their order, a call cancelled while waiting or just handed its turn leaves
nothing taken, and every call not cancelled gets its turn."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.chain.arpcturns import Turns

CALLS = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(0, 3), st.booleans()), min_size=1, max_size=30
)
"""Each call: its key, the loop turns it holds its turn, whether it is cancelled."""


@settings(max_examples=60, deadline=None)
@given(per_key=st.integers(1, 3), calls=CALLS, cancel_at=st.integers(0, 4))
def test_turns_bound_each_key_and_serve_it_in_order(
    per_key: int, calls: list[tuple[str, int, bool]], cancel_at: int
) -> None:
    async def run() -> None:
        turns = Turns(per_key)
        inside: dict[str, int] = {}
        served: dict[str, list[int]] = {}

        async def call(i: int, key: str, hold: int) -> None:
            async with turns.turn(key):
                inside[key] = inside.get(key, 0) + 1
                assert inside[key] <= per_key
                served.setdefault(key, []).append(i)
                try:
                    for _ in range(hold):
                        await asyncio.sleep(0)
                finally:
                    inside[key] -= 1

        tasks = [asyncio.ensure_future(call(i, k, h)) for i, (k, h, _) in enumerate(calls)]
        for _ in range(cancel_at):
            await asyncio.sleep(0)
        for t, (_, _, cancel) in zip(tasks, calls, strict=True):
            if cancel:
                t.cancel()
        async with asyncio.timeout(10):
            await asyncio.gather(*tasks, return_exceptions=True)
        for key, order in served.items():
            assert order == sorted(order), (key, order)  # (each key's in its order)
        for i, (t, (key, _, _)) in enumerate(zip(tasks, calls, strict=True)):
            if not t.cancelled():
                assert i in served.get(key, []), (i, key)
        assert not turns._busy and not turns._waiting  # (nothing left taken)

    asyncio.run(run())


MANY = st.lists(
    st.tuples(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4, unique=True),
              st.integers(0, 3), st.booleans()),
    min_size=1, max_size=30,
)  # fmt: skip
"""Each call: its keys, in any order (a window's read shared by several makers: review77c),
the loop turns it holds them, whether it is cancelled."""


@settings(max_examples=60, deadline=None)
@given(per_key=st.integers(1, 3), calls=MANY, cancel_at=st.integers(0, 4))
def test_turns_of_many_keys_bound_each_and_never_deadlock(
    per_key: int, calls: list[tuple[list[str], int, bool]], cancel_at: int
) -> None:
    """review77c: calls each taking turns of several keys at once (``Turns.turns``) never
    hold more than ``per_key`` of a key, all end (no two wait on each other's keys), and
    leave nothing taken."""

    async def run() -> None:
        turns = Turns(per_key)
        inside: dict[str, int] = {}
        served: list[int] = []

        async def call(i: int, keys: list[str], hold: int) -> None:
            async with turns.turns(keys):
                for key in keys:
                    inside[key] = inside.get(key, 0) + 1
                    assert inside[key] <= per_key
                served.append(i)
                try:
                    for _ in range(hold):
                        await asyncio.sleep(0)
                finally:
                    for key in keys:
                        inside[key] -= 1

        tasks = [asyncio.ensure_future(call(i, k, h)) for i, (k, h, _) in enumerate(calls)]
        for _ in range(cancel_at):
            await asyncio.sleep(0)
        for t, (_, _, cancel) in zip(tasks, calls, strict=True):
            if cancel:
                t.cancel()
        async with asyncio.timeout(10):  # (a deadlock: never all done)
            await asyncio.gather(*tasks, return_exceptions=True)
        for i, t in enumerate(tasks):
            if not t.cancelled():
                assert i in served, i
        assert not turns._busy and not turns._waiting  # (nothing left taken)

    asyncio.run(run())
