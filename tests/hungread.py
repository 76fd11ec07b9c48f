"""A real ``sdex node`` process behind a loopback proxy that holds the reads a test picks once
it is armed (a hung or slow endpoint): the set-up of the stall check's tests (watch89's
starved node, review91's starved hang).

Real Hardhat (the suite's chain), a real node process (``node_up``) and a real proxy
(``tests/rpcfault.py``'s ``_proxy``)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import Api, node_up, wait_for
from tests.rpcfault import Answer, _proxy


@dataclass
class HungReads:
    """The proxy's state: ``armed`` set by the test, ``held`` once a picked read is held (its
    handler waits for ``release``), ``reads`` the picked reads it saw."""

    armed: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    reads: int = 0


@asynccontextmanager
async def node_behind_hung_reads(
    chain: Chain,
    tmp_path: Path,
    picks: Callable[[object], bool],
    first_only: bool,
    bound: float,
) -> AsyncIterator[tuple[subprocess.Popen[bytes], Api, HungReads, Callable[[], str]]]:
    """A node on ``tmp_path / "n.db"`` behind a proxy that, once ``armed``, holds the reads
    ``picks`` takes (the first only, or each, with ``first_only``) till ``release`` is set (at
    most ``bound`` s); yielded once it polled 5 picked reads through the proxy and said the
    chain ``ok``. Yields the process, its API, the proxy's state and its log since then."""
    hung = HungReads()

    def intercept(req: object) -> Answer | None:
        if not picks(req):
            return None
        hung.reads += 1
        if hung.armed.is_set() and not (first_only and hung.held.is_set()):
            hung.held.set()
            hung.release.wait(bound)  # (hung: it took the read and says nothing)
        return None

    db = tmp_path / "n.db"
    log = db.with_suffix(".log")
    with _proxy(chain.rpc.url, intercept) as url:
        try:
            async with node_up(chain, db, rpc=url) as (proc, api):
                await wait_for(lambda: hung.reads >= 5, timeout=60)  # (polling through it)
                code, h = await api.get("/health")
                assert code == 200 and h["chain"] == "ok", h
                since = log.stat().st_size
                yield proc, api, hung, lambda: log.read_text(errors="replace")[since:]
        finally:
            hung.release.set()  # (before the proxy closes: it joins its handlers' threads)
