"""Chunked bodies whose trailer section never ends: the memory they hold in a node's HTTP
server, with this tree's request-head bound and with ``--ref``'s (review28).

aiohttp parses a chunked body's trailer fields as it parses a head's (128 fields of 8,190
bytes at most, head and trailers together) and keeps them until the section ends; before
review28 ``sdex.node.headlimit`` did not count them (a body was due), so a client held
~1 MB a connection for the body timeout. Each run starts a server process (``BoundedRunner``
with the node's handler, ``POST /echo`` reading its body as the node's routes do) whose
``HeadBoundedHandler`` is this tree's or ``--ref``'s (``git show REF:sdex/node/headlimit.py``),
opens ``--conns`` connections from 4 loopback addresses, each sending a body of 5 bytes,
its last chunk and ``--lines`` trailer fields of 8,000 bytes never ended, and reads the
server's RSS once it stops growing. Alternated ref/new, ``--rounds`` pairs. JSON out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ROOT, machine

from sdex.devnet import free_port

SERVER = r"""
import asyncio, importlib.util, sys
from aiohttp import web
sys.path.insert(0, sys.argv[1])
from sdex.node import conns
if sys.argv[3] != "-":  # the reference tree's handler
    spec = importlib.util.spec_from_file_location("ref_headlimit", sys.argv[3])
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    conns.HeadBoundedHandler = mod.HeadBoundedHandler

async def echo(request):
    return web.Response(text=str(len(await request.read())))

async def main():
    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/echo", echo)
    runner = conns.BoundedRunner(app, conns.ConnectionSlots(1024, 4096), idle_timeout=60)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[2])).start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def attack(port: int, conns: int, lines: int) -> tuple[list[asyncio.StreamWriter], int]:
    """The connections, each with its trailers sent (never ended); how many the server
    answered (431) at once."""
    writers: list[asyncio.StreamWriter] = []
    answered = 0
    field = b"v" * 8000

    async def one(i: int) -> None:
        nonlocal answered
        source = f"127.0.0.{2 + i % 4}"
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writers.append(writer)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"5\r\nhello\r\n0\r\n")
        with contextlib.suppress(ConnectionError):
            for k in range(lines):
                writer.write(b"X-T%d: " % k + field + b"\r\n")
                await writer.drain()
        with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.5)
            answered += head.startswith(b"HTTP/1.1 431")

    await asyncio.gather(*(one(i) for i in range(conns)))
    return writers, answered


async def settled_rss(pid: int, bound: float = 30.0) -> float:
    """The server's RSS once it changed by under 1 MB in 1 s (at most ``bound`` s)."""
    end = time.monotonic() + bound
    last = rss_mb(pid)
    while time.monotonic() < end:
        await asyncio.sleep(1.0)
        now = rss_mb(pid)
        if abs(now - last) < 1.0:
            return now
        last = now
    return last


async def run(handler: str, conns: int, lines: int) -> dict[str, Any]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(ROOT), str(port), handler],
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        before = await settled_rss(proc.pid)
        writers, answered = await attack(port, conns, lines)
        during = await settled_rss(proc.pid)
        for w in writers:
            w.close()
        return {
            "rss_before_mb": round(before, 1),
            "rss_held_mb": round(during, 1),
            "held_per_conn_kb": round((during - before) * 1024 / conns, 1),
            "answered_431": answered,
        }
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ref", default="859bac3", help="git ref of the reference headlimit.py")
    p.add_argument("--conns", type=int, default=200)
    p.add_argument("--lines", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ref_file = Path(tmp) / "ref_headlimit.py"
        ref_file.write_bytes(
            subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{a.ref}:sdex/node/headlimit.py"],
                check=True, capture_output=True,
            ).stdout
        )  # fmt: skip
        runs: list[dict[str, Any]] = []
        for r in range(a.rounds):
            order = [("ref", str(ref_file)), ("new", "-")]
            for name, handler in order if r % 2 == 0 else order[::-1]:
                out = asyncio.run(run(handler, a.conns, a.lines))
                runs.append({"tree": name, "round": r, **out})
                print(json.dumps(runs[-1]), flush=True)
    summary = {
        name: sorted(x["held_per_conn_kb"] for x in runs if x["tree"] == name)
        for name in ("ref", "new")
    }
    print(json.dumps({"machine": machine(), "conns": a.conns, "lines": a.lines,
                      "held_per_conn_kb": summary}))  # fmt: skip


if __name__ == "__main__":
    main()
