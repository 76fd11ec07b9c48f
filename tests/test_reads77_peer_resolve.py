"""reads77: the gossip client's host names (peers' URLs) and the newHeads subscription's are
looked up through ``arpc.BoundedResolver``, peers' names in a pool of their own
(``arpc.PEER_LOOKUPS``), as left75 gave the chain client.

Before: both sessions used aiohttp's default resolver, ``getaddrinfo`` in the loop's default
executor (``min(32, cpus + 4)`` threads). A peer may give any name (its URL, one it
introduces): names whose resolver never answers held those threads past every call's
timeout, so ``asyncio.to_thread`` work (the store's reads) queued behind them, and
``asyncio.run``'s end waited for them (the node exited only when the resolver gave up); the
subscription's lookup, asked again every ``RESUBSCRIBE``, held one more each time. And in
one pool with the chain's, a peer's names would fill the lookups the chain client needs.

Each case runs in a process of its own with left75's patched resolver
(tests/test_wallet74_resolve.py: ``slow-dns-name`` hangs ``HANG`` s, ``quick-dns-name`` is
127.0.0.1), the chain a real aiohttp server on loopback in that process."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from tests.test_wallet74_resolve import HANG, _run

TIMEOUT = 1.5

SERVER = """
import asyncio, os, threading, time
from aiohttp import web
from sdex.chain import arpc
from sdex.chain.arpc import AsyncRpc
from sdex.chain.deadline import MAX_RESOLVING
MAX_PEER_RESOLVING = getattr(arpc, "MAX_PEER_RESOLVING", 0)  # (0: before reads77)

async def chain_id(request):
    body = await request.json()
    return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": "0x7a69"})

async def serve():
    app = web.Application()
    app.router.add_post("/", chain_id)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]

async def after(port):
    started = time.monotonic()
    try:
        async with asyncio.timeout(10):
            await asyncio.to_thread(time.monotonic)
        print("TO-THREAD", round(time.monotonic() - started, 2))
    except TimeoutError:
        print("TO-THREAD waited 10 s")
    held = sum(t.name == "sdex-resolve" for t in threading.enumerate())
    print("RESOLVING", held, "of", MAX_PEER_RESOLVING, "+", MAX_RESOLVING)
    quick = AsyncRpc(f"http://quick-dns-name:{port}", timeout=10)
    try:
        print("QUICK", await quick.call("eth_chainId"))
    except Exception as e:
        print("QUICK failed", type(e).__name__, e)
    await quick.close()
"""

PEERS = f"""
from sdex.gossip.client import PeerCallError, PeerClient, peer_session
from sdex.gossip.identity import NodeKey

async def main():
    runner, port = await serve()
    workers = min(32, (os.cpu_count() or 1) + 4)  # (the default executor's threads)
    session = peer_session({TIMEOUT})
    client = PeerClient(session, NodeKey.generate(), "http://127.0.0.1:1")
    # peers' URLs on as many names as the executor has threads and the chain lookups
    urls = [f"http://slow-dns-name:{{1 + i}}" for i in range(workers + MAX_RESOLVING)]
    started = time.monotonic()
    got = await asyncio.gather(
        *(client.call("POST", u, "/p2p/hello", {{}}) for u in urls), return_exceptions=True
    )
    print("CALLS", round(time.monotonic() - started, 2), sorted({{type(e).__name__ for e in got}}))
    await after(port)
    await session.close()
    await runner.cleanup()

asyncio.run(main())
"""

HEADS = """
from sdex.watch import heads

async def main():
    runner, port = await serve()
    heads.RESUBSCRIBE = 0.05  # (each attempt a lookup of its own with aiohttp's resolver)
    subscribed = []
    follow = asyncio.create_task(
        heads.follow_heads("http://slow-dns-name:8545", lambda h: None, subscribed.append)
    )
    await asyncio.sleep(1.0)  # (the subscription tries while the name does not resolve)
    follow.cancel()
    print("SUBSCRIBED", subscribed.count(True))
    await after(port)
    await runner.cleanup()

asyncio.run(main())
"""


def _checked(out: str, code: int, since: float) -> None:
    assert code == 0 and "Traceback" not in out, out
    # the loop's default executor is free (before: its threads held by the lookups)
    took = re.search(r"TO-THREAD ([0-9.]+)", out)
    assert took is not None and float(took.group(1)) < 2.0, out
    # the chain's own name is still looked up (the peers' names hold their own pool)
    assert "QUICK 0x7a69" in out, out
    resolving = re.search(r"RESOLVING (\d+) of (\d+) \+ (\d+)", out)
    assert resolving is not None, out
    held, peers, chain = map(int, resolving.groups())
    assert held <= peers + chain, out
    # and the process exits (before: asyncio.run's end waited for the lookups, HANG s)
    assert 0 < since < HANG - 10.0, out


def test_peers_names_hold_no_loop_thread_and_no_chain_lookup(tmp_path: Path) -> None:
    """Peers' URLs on names that never resolve, more than the default executor's threads
    and the chain's lookups together: each call fails by its timeout, the executor is free,
    the chain client still resolves its name, at most ``MAX_PEER_RESOLVING`` threads wait
    on peers' names, and the process exits."""
    since, out, code = _run(tmp_path, ["-c", textwrap.dedent(SERVER + PEERS)])
    calls = re.search(r"CALLS ([0-9.]+) \[(.*)\]", out)
    assert calls is not None, out
    assert float(calls.group(1)) < TIMEOUT + 5.0 and "Error" in calls.group(2), out
    _checked(out, code, since)
    assert re.search(r"RESOLVING [0-4] of 4 ", out), out  # (the peers' pool only)


def test_the_heads_subscription_holds_no_loop_thread(tmp_path: Path) -> None:
    """The newHeads subscription to a chain URL whose name never resolves, tried again and
    again: no thread of the loop's executor held, and the process exits."""
    since, out, code = _run(tmp_path, ["-c", textwrap.dedent(SERVER + HEADS)])
    assert "SUBSCRIBED 0" in out, out
    _checked(out, code, since)
