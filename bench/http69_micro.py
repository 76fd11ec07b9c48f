#!/usr/bin/env python3
"""In-process micro-benchmark of a wallet order's way through the intake (issue 11, http69):
would compiling ``sdex/ingest/intake.py`` (and ``rules.py``, split from it since) and
``sdex/ingest/verdicts.py`` with mypyc (as the book is) cut the node's CPU a request by >= 5%?

``--build DIR`` first compiles copies of those modules under other names (``h69intake``,
``h69rules``, ``h69verdicts``) into DIR with mypyc, one group (without
``Intake.submit_each``, a peer chunk's: mypyc has no async generators); then each round
times, on the thread's CPU clock with GC off, ``--orders`` signed wallet orders (their JSON,
as ``read_json`` gives it) through ``Intake.submit`` and ``Intake.admit`` on one event loop,
once with the source's ``Intake`` and once with the compiled copy's, alternated. The ECDSA
verdicts are remembered before (``ecdsa_ok``'s cache: every side's recovery is the same C
call) and no core is spare (the check on the loop, as on a loaded machine), so what differs
is the intake's own Python. The chain's state comes from a stand-in mirror (a fixed funded
state: what the node's mirror answers for a known account). Prints JSON: µs an order each
side by round, compiled ÷ source, and the µs saved (median)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdex.chain import OrderState, OrderStatus  # noqa: E402
from sdex.ingest.cores import SpareCore  # noqa: E402
from sdex.ingest.intake import Intake  # noqa: E402
from sdex.ingest.limits import Limits  # noqa: E402
from sdex.ingest.verify import ecdsa_ok  # noqa: E402
from sdex.order import Domain, Order, sign_order  # noqa: E402
from sdex.signature import address_of  # noqa: E402

MODULES = {
    "h69intake": "sdex/ingest/intake.py",
    "h69rules": "sdex/ingest/rules.py",
    "h69verdicts": "sdex/ingest/verdicts.py",
}


def build(out: Path) -> None:
    """Copies of the intake's modules under their own names, compiled by mypyc into ``out``."""
    from mypyc.build import mypycify
    from setuptools import setup  # type: ignore[import-untyped]

    out.mkdir(parents=True, exist_ok=True)
    for name, src in MODULES.items():
        text = (ROOT / src).read_text().replace("sdex.ingest.verdicts", "h69verdicts")
        text = text.replace("sdex.ingest.rules", "h69rules")
        if "    async def submit_each(" in text:  # (mypyc: async generators unimplemented)
            a = text.index("    async def submit_each(")
            text = text[:a] + text[text.index("    def _after_ecdsa(", a) :]
        (out / f"{name}.py").write_text(text)
    cwd = os.getcwd()
    os.chdir(out)
    try:
        setup(
            name="h69",
            ext_modules=mypycify([f"{n}.py" for n in MODULES], opt_level="3", group_name="h69"),
            script_args=["--quiet", "build_ext", "--inplace"],
        )
    finally:
        os.chdir(cwd)
    shutil.rmtree(out / "build", ignore_errors=True)


class FundedMirror:
    """Stand-in for the node's mirror once it knows the maker's account: a funded state."""

    def __init__(self) -> None:
        self.head = None

    def state(self, signed: Any, signature_valid: bool = True) -> OrderState:
        return OrderState(signed.hash, OrderStatus.FILLABLE, 0, True, 10**30, 10**30)


def crowded() -> SpareCore:
    core = SpareCore(read=lambda: None)
    core.last_spare = False
    core.spare = lambda: False  # type: ignore[method-assign]
    return core


def make(cls: Any, domain: Domain, spare: bool = False) -> Any:
    intake = cls(domain, None, known=lambda h: False, open_count=lambda m: 0,
                 now=lambda: 1_000, limits=Limits(), mirror=FundedMirror())  # fmt: skip
    intake.ecdsa.spare_core = SpareCore(read=lambda: None) if spare else crowded()
    return intake


def orders(domain: Domain, n: int) -> list[dict[str, str]]:
    key = bytes.fromhex("11" * 32)
    maker = address_of(key)
    out = []
    for i in range(n):
        o = Order(maker=maker, taker="0x" + "00" * 20, maker_token="0x" + "aa" * 20,
                  taker_token="0x" + "bb" * 20, maker_amount=10**18 + i, taker_amount=2 * 10**18,
                  fee_recipient="0x" + "00" * 20, fee_amount=0, expiry=10**9, salt=i)  # fmt: skip
        signed = sign_order(o, domain, key)
        assert ecdsa_ok(signed) is True  # (remembered: not timed again)
        out.append(signed.to_json())
    return out


def on_loop(run: Callable[[], Coroutine[Any, Any, None]], n: int) -> float:
    """µs of this thread's CPU an order for ``run()`` (``n`` orders) on a new loop, GC off."""
    loop = asyncio.new_event_loop()
    try:
        gc.disable()
        t = time.thread_time()
        loop.run_until_complete(run())
        spent = time.thread_time() - t
    finally:
        gc.enable()
        loop.close()
    return spent / n * 1e6


async def through(intake: Any, obj: dict[str, str]) -> None:
    """One wallet order through ``submit`` then ``admit``, as the node runs them."""
    result = await intake.submit(obj, True, None, None, None)
    assert type(result).__name__ == "Accepted", result
    intake.admit(result)


def timed(intake: Any, objs: list[dict[str, str]]) -> float:
    """µs of thread CPU an order, one after the other."""

    async def run() -> None:
        for obj in objs:
            await through(intake, obj)

    return on_loop(run, len(objs))


def turns(intake: Any, objs: list[dict[str, str]], in_flight: int) -> float:
    """µs of the loop thread's CPU an order: ``in_flight`` orders a turn, a task each (as
    the node's requests are)."""

    async def run() -> None:
        for k in range(0, len(objs), in_flight):
            await asyncio.gather(*(through(intake, o) for o in objs[k : k + in_flight]))

    return on_loop(run, len(objs))


def handoff(domain: Domain, objs: list[dict[str, str]], rounds: int) -> dict[str, object]:
    """The ECDSA hand-over's cost to the loop: a turn's 48 orders with a core spare (their
    checks go to the worker thread together, each task woken by its verdict's delivery)
    against none spare (each checked at once on the loop: no future, no wait, no wake),
    the verdicts remembered on both sides (the recovery itself not timed)."""
    thread: list[float] = []
    inline: list[float] = []
    for r in range(rounds):
        sides = [(True, thread), (False, inline)]
        for spare, into in sides if r % 2 == 0 else sides[::-1]:
            intake = make(Intake, domain, spare)
            into.append(turns(intake, objs, 48))
            assert (intake.ecdsa.checked > 0) is spare
    return {
        "thread_us_per_order": sorted(round(x, 2) for x in thread),
        "inline_us_per_order": sorted(round(x, 2) for x in inline),
        "median_handoff_us": round(statistics.median(thread) - statistics.median(inline), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, help="compile the copies into this directory first")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/h69build"))
    ap.add_argument("--orders", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--piece", choices=("compiled", "handoff"), default="compiled")
    args = ap.parse_args()
    if args.piece == "handoff":
        domain = Domain(31337, "0x" + "cc" * 20)
        out = handoff(domain, orders(domain, args.orders), args.rounds)
        print(json.dumps({**out, "load_average": os.getloadavg()[0]}, indent=1))
        return
    where = args.build or args.dir
    if args.build:
        build(args.build)
    sys.path.insert(0, str(where))
    compiled = importlib.import_module("h69intake")
    assert str(compiled.__file__).endswith(".so"), compiled.__file__
    domain = Domain(31337, "0x" + "cc" * 20)
    objs = orders(domain, args.orders)
    pure_us: list[float] = []
    comp_us: list[float] = []
    for r in range(args.rounds):
        sides = [(Intake, pure_us), (compiled.Intake, comp_us)]
        for cls, into in sides if r % 2 == 0 else sides[::-1]:
            into.append(timed(make(cls, domain), objs))
    ratios = [c / p for p, c in zip(pure_us, comp_us, strict=True)]
    print(json.dumps({
        "orders": args.orders,
        "source_us_per_order": sorted(round(x, 2) for x in pure_us),
        "compiled_us_per_order": sorted(round(x, 2) for x in comp_us),
        "compiled_over_source": sorted(round(x, 3) for x in ratios),
        "median_ratio": round(statistics.median(ratios), 3),
        "median_saved_us": round(statistics.median(pure_us) - statistics.median(comp_us), 2),
        "load_average": os.getloadavg()[0],
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
