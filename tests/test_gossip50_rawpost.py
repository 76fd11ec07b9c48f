"""``bench/rawpost.py``: the benchmark's lean poster sends what aiohttp's client sends (the
node parses the same request), reads each answer whole, keeps connections alive, drops one
the server closes, and fails (never hangs) on an answer it cannot read."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]


def bench_module(monkeypatch: pytest.MonkeyPatch, name: str) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Server:
    """A real aiohttp server on loopback that records what each request carried."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, str], bytes, int]] = []  # headers, body, peer port
        self.url = ""

    async def post(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.seen.append((dict(request.headers), body, peer[1] if peer else 0))
        if body == b"close":
            return web.json_response({"c": 1}, status=429, headers={"Connection": "close"})
        if body == b"chunked":
            resp = web.StreamResponse(status=200)
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            await resp.write(b"abc")
            await resp.write_eof()
            return resp
        return web.json_response({"echo": body.decode()}, status=201)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    app = web.Application()
    app.router.add_post("/v1/orders", srv.post)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)  # (bound at once: nothing takes it first)
    await site.start()
    srv.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield srv
    finally:
        await runner.cleanup()


async def test_same_request_as_aiohttp_same_answer_and_kept_alive(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    rawpost = bench_module(monkeypatch, "rawpost")
    headers = {"Content-Type": "application/json"}
    url = server.url + "/v1/orders"
    async with aiohttp.ClientSession() as s, s.post(url, data=b'{"a":1}', headers=headers) as r:
        want = (r.status, await r.read())
    poster = rawpost.RawPoster(timeout=10)
    try:
        got = [await poster.post(server.url, "/v1/orders", b'{"a":1}') for _ in range(3)]
    finally:
        poster.close()
    assert got == [want] * 3 and want[0] == 201
    (theirs, body0, _), *ours = server.seen
    for h, body, _port in ours:
        assert body == body0
        assert {k.lower(): v for k, v in h.items()} == {k.lower(): v for k, v in theirs.items()}
    assert len({port for _h, _b, port in ours}) == 1  # one keep-alive connection


async def test_a_closed_connection_is_dropped_and_an_unreadable_answer_fails(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    rawpost = bench_module(monkeypatch, "rawpost")
    poster = rawpost.RawPoster(timeout=10)
    try:
        assert (await poster.post(server.url, "/v1/orders", b"close"))[0] == 429
        assert (await poster.post(server.url, "/v1/orders", b"x"))[0] == 201
        ports = [port for _h, _b, port in server.seen]
        assert ports[0] != ports[1]  # (the server said close: a new connection)
        with pytest.raises(rawpost.RawPostError, match="unreadable answer head"):
            await poster.post(server.url, "/v1/orders", b"chunked")
        assert not poster.open  # (it took the idle connection, which failed: closed)
        assert (await poster.post(server.url, "/v1/orders", b"y")) == (201, b'{"echo": "y"}')
    finally:
        poster.close()


async def test_post_paced_counts_what_the_raw_poster_got(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    gossip = bench_module(monkeypatch, "gossip")
    rawpost = bench_module(monkeypatch, "rawpost")
    orders = [(f"h{i}", b"close" if i % 5 == 0 else b"ok") for i in range(40)]
    poster = rawpost.RawPoster(timeout=10)
    try:
        async with aiohttp.ClientSession() as s:
            # (20 a second: a 2 s window. Orders whose time comes after it are not posted,
            # by design: on a loaded machine some are (23 of 40 at 400 a second, 7 of 40 at
            # 40 on the thirty-fourth session's fresh clone at load 14), so the assertions are
            # on the counts agreeing with what was posted, whatever that was)
            p = await gossip.post_paced(s, [server.url], orders, [0] * 40, 20.0, 4, poster)
    finally:
        poster.close()
    posted = set(p["sent"])
    assert p["not_posted"] + len(posted) == 40 and len(posted) >= 20
    assert posted == {h for h, _ in orders[: len(posted)]}  # (in their order: the first ones)
    closes = sum(1 for h, b in orders if h in posted and b == b"close")
    assert p["not_201"] == closes and p["errors"][0].startswith("429")
    assert sum(1 for c in p["status"].values() if c == 201) == len(posted) - closes
    assert p["poster_cpu_s"] > 0 and len(server.seen) == len(posted)


def test_the_profiled_launcher_is_not_rewritten_while_nodes_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``--profile`` every node runs ``profiled_node.py``; written again for each node,
    it was truncated while the nodes started before were reading it, and they exited at once
    with 0 (a run under load: "node 2 exited with 0"). Real processes; each one's launcher
    is read back as the process saw it (``print`` of its own source's length)."""
    gossip = bench_module(monkeypatch, "gossip")
    monkeypatch.setattr(gossip, "SAMPLED_NODE", "import sys; print(len(open(sys.argv[0]).read()))")
    want = len(gossip.SAMPLED_NODE)
    nodes = gossip.NodeProcs(4, tmp_path / "d.json", tmp_path, "bootstrap", tmp_path, sample=True)
    writes: list[int] = []
    real_popen = gossip.subprocess.Popen

    def popen(*a: object, **k: object) -> object:
        writes.append((tmp_path / "profiled_node.py").stat().st_mtime_ns)
        return real_popen(*a, **k)  # type: ignore[call-overload]

    monkeypatch.setattr(gossip.subprocess, "Popen", popen)
    nodes.start(["0x00"] * 4)
    for p in nodes.procs:
        p.wait(timeout=60)
    logs = [(tmp_path / f"node-{i}.log").read_text().strip() for i in range(4)]
    assert logs == [str(want)] * 4
    assert len(set(writes)) == 1  # (written once, before the first node started)
