"""left75: the node's async JSON-RPC client (``sdex.chain.arpc.AsyncRpc``) looks host names up
as the sync clients do (wallet74: ``sdex.chain.deadline.lookup``), through
``arpc.BoundedResolver``: each name in a daemon thread of its own, at most ``MAX_RESOLVING``.

Before: aiohttp's default resolver ran ``getaddrinfo`` in the loop's default executor. A
name whose resolver never answered held one of its threads (``min(32, cpus + 4)``, 6 on this
machine) past the call's total timeout: the call failed in time, but ``asyncio.to_thread``
work (the store's reads, soft cancels' signatures) queued behind the stuck lookups, and
``asyncio.run`` waited for them at its end: the process did not exit until the resolver gave
up. As in tests/test_wallet74_resolve.py, each case runs in a process of its own whose
``socket.getaddrinfo`` (a ``sitecustomize``) sleeps ``HANG`` seconds for ``slow-dns-name``
(asked on as many ports as the default executor has threads: a lookup each) and resolves
``quick-dns-name`` to 127.0.0.1; the chain it reaches is a real aiohttp server on loopback
in that process."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from tests.test_wallet74_resolve import HANG, _run

TIMEOUT = 1.5

PROGRAM = f"""
import asyncio, os, time
from aiohttp import web
from sdex.chain.arpc import AsyncRpc

async def chain_id(request):
    body = await request.json()
    return web.json_response({{"jsonrpc": "2.0", "id": body["id"], "result": "0x7a69"}})

async def main():
    app = web.Application()
    app.router.add_post("/", chain_id)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    workers = min(32, (os.cpu_count() or 1) + 4)  # (the default executor's threads)
    slow = [AsyncRpc(f"http://slow-dns-name:{{1 + i}}", timeout={TIMEOUT}) for i in range(workers)]
    started = time.monotonic()
    got = await asyncio.gather(*(r.call("eth_chainId") for r in slow), return_exceptions=True)
    print("CALLS", round(time.monotonic() - started, 2), sorted({{type(e).__name__ for e in got}}))
    started = time.monotonic()
    try:
        async with asyncio.timeout(10):
            await asyncio.to_thread(time.monotonic)
        print("TO-THREAD", round(time.monotonic() - started, 2))
    except TimeoutError:
        print("TO-THREAD waited 10 s")
    quick = AsyncRpc(f"http://quick-dns-name:{{port}}", timeout=10)
    print("QUICK", await quick.call("eth_chainId"))
    for r in [*slow, quick]:
        await r.close()
    await runner.cleanup()

asyncio.run(main())
"""


def test_a_hung_resolver_holds_no_loop_thread_and_no_exit(tmp_path: Path) -> None:
    since, out, code = _run(tmp_path, ["-c", textwrap.dedent(PROGRAM)])
    assert code == 0 and "Traceback" not in out, out
    calls = re.search(r"CALLS ([0-9.]+) \[(.*)\]", out)
    assert calls is not None, out
    assert float(calls.group(1)) < TIMEOUT + 5.0, out  # (each call ends by its timeout)
    assert "Error" in calls.group(2), out
    # the loop's default executor is free (before: "waited 10 s", its threads all held)
    took = re.search(r"TO-THREAD ([0-9.]+)", out)
    assert took is not None and float(took.group(1)) < 2.0, out
    # a name that resolves is still reached through the bounded lookup
    assert "QUICK 0x7a69" in out, out
    # and the process exits (before: asyncio.run's end waited for the lookups, HANG s)
    assert 0 < since < HANG - 10.0, out
