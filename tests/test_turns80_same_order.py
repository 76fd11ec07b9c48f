"""turns80: ``Turns`` finds the calls to serve through its indexes instead of walking the line
at each turn's end; it serves the same calls in the same order at the same loop turn as the
walk did (``tests.turnswalk.WalkTurns``, the code before), for any arrivals, holds,
cancellations, timeouts and bounds that change while calls wait (hypothesis): the same
script runs against each on a loop of its own, and everything each call saw is logged, with
the turns taken and the passed counts after every step (deterministic: no clock but the
loop's turns)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdex.chain.arpcturns import OVERTAKEN_MOST, Turns
from tests.turnswalk import WalkTurns

KEYS = "abcde"

CALL = st.tuples(
    st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True),
    st.integers(0, 12),
    st.integers(0, 4),
    st.one_of(st.none(), st.tuples(st.sampled_from(("cancel", "timeout")), st.integers(0, 14))),
)
"""A call: its keys, the step it comes at, the loop turns it holds them, and whether it is
cancelled (its task) or times out (its ``asyncio.timeout`` due) and how many steps after it
came (waiting or holding by then, or done)."""

BOUNDS = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(KEYS), st.lists(st.integers(1, 3), min_size=1, max_size=3), max_size=3
    ),
)
"""Each key's bound over the steps (``limit``: a key's list, one entry every 3 steps, round
and round; other keys ``per_key``): bounds that rise and fall while calls wait (a maker's
record lapsing or made: ``ReadKeys.limit``)."""


@dataclass
class Run:
    log: list[tuple[object, ...]] = field(default_factory=list)
    passed_most: int = 0


async def play(
    cls: type[Turns] | type[WalkTurns],
    per_key: int,
    calls: list[tuple[list[str], int, int, tuple[str, int] | None]],
    bounds: dict[str, list[int]] | None,
    ceiling: bool = False,
) -> Run:
    """The script against ``cls``: what each call saw, in the order seen. ``ceiling``: the
    indexed ``Turns`` told the most each key's bound may be (3 for a key in ``bounds``,
    ``per_key`` for the others: peers81, only the keys below it, or whose room came back,
    asked at a pass)."""
    run, clock = Run(), [0]

    def limit(key: str) -> int:
        if bounds is None or key not in bounds:
            return per_key
        steps = bounds[key]
        return steps[clock[0] // 3 % len(steps)]

    def most(key: str) -> int:
        return 3 if bounds is not None and key in bounds else per_key

    turns = cls(per_key, limit, most) if ceiling and cls is Turns else cls(per_key, limit)
    timeouts: dict[int, asyncio.Timeout] = {}

    async def call(i: int, keys: list[str], hold: int) -> None:
        try:
            async with asyncio.timeout(None) as timeout:
                timeouts[i] = timeout
                async with turns.turns(keys):
                    run.log.append(("in", i, clock[0]))
                    for _ in range(hold):
                        await asyncio.sleep(0)
                    run.log.append(("out", i, clock[0]))
        except TimeoutError:
            run.log.append(("timed out", i, clock[0]))
        except asyncio.CancelledError:
            run.log.append(("cancelled", i, clock[0]))

    tasks: dict[int, asyncio.Task[None]] = {}
    last = max(at + (fate[1] if fate else 0) for _, at, _, fate in calls)
    for step in range(last + 1):
        clock[0] = step
        for i, (keys, at, hold, _) in enumerate(calls):
            if at == step:
                tasks[i] = asyncio.ensure_future(call(i, keys, hold))
        for i, (_, at, _, fate) in enumerate(calls):
            if fate is not None and at + fate[1] == step:
                if fate[0] == "cancel":
                    tasks[i].cancel()
                elif i in timeouts and not tasks[i].done():  # (not begun, or done: none due)
                    timeouts[i].reschedule(asyncio.get_running_loop().time())
        await asyncio.sleep(0)
        passed = sorted(turns._passed.values())
        run.passed_most = max([run.passed_most, *passed])
        run.log.append(("step", step, sorted(turns._busy.items()), passed, turns.waited))
    clock[0] = last + 1
    async with asyncio.timeout(30):  # (a call never served: a deadlock)
        await asyncio.gather(*tasks.values(), return_exceptions=True)  # (some never began)
    run.log.append(("end", sorted(turns._busy.items()), turns.waited))
    run.log.append(("never began", sorted(i for i, t in tasks.items() if t.cancelled())))
    assert not turns._busy and not turns._waiting and not turns._passed
    if isinstance(turns, Turns):  # (nothing left in its indexes: no call leaks)
        assert not (turns._at or turns._fresh or turns._parked or turns._kept or turns._open)
    return run


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    per_key=st.integers(1, 3),
    calls=st.lists(CALL, min_size=1, max_size=40),
    bounds=BOUNDS,
)
def test_the_indexed_turns_serve_what_the_walk_served(
    per_key: int,
    calls: list[tuple[list[str], int, int, tuple[str, int] | None]],
    bounds: dict[str, list[int]] | None,
) -> None:
    walk = asyncio.run(play(WalkTurns, per_key, calls, bounds))
    indexed = asyncio.run(play(Turns, per_key, calls, bounds))
    assert indexed.log == walk.log
    assert asyncio.run(play(Turns, per_key, calls, bounds, ceiling=True)).log == walk.log


def test_the_same_with_many_calls_and_many_kept() -> None:
    """Hundreds of calls on few keys, cancellations and timeouts among them: many calls
    passed ``OVERTAKEN_MOST`` times keep turns (the property's examples are small)."""
    import random

    for seed in range(6):
        rng = random.Random(seed)
        calls: list[tuple[list[str], int, int, tuple[str, int] | None]] = []
        for _ in range(400):
            keys = rng.sample(KEYS, rng.choice((1, 1, 2, 3)))
            fate = None
            if rng.random() < 0.2:
                fate = (rng.choice(("cancel", "timeout")), rng.randint(0, 30))
            calls.append((keys, rng.randint(0, 40), rng.randint(0, 3), fate))
        bounds = {"a": [1, 2], "c": [3, 1, 2]} if seed % 2 else None
        walk = asyncio.run(play(WalkTurns, 1 + seed % 3, calls, bounds))
        indexed = asyncio.run(play(Turns, 1 + seed % 3, calls, bounds))
        assert walk.passed_most >= OVERTAKEN_MOST  # (calls kept turns in this script)
        assert indexed.log == walk.log, seed
        ceiling = asyncio.run(play(Turns, 1 + seed % 3, calls, bounds, ceiling=True))
        assert ceiling.log == walk.log, seed
