"""wallet78: an order whose POST did not end with a plain answer was said alike whatever was
known of it. The read back by its hash (review77b, left77) answers from the node's memory: an
order held, not one stored (a restart loses it), yet the wallet said "it was taken" and no
more; and a POST never sent (the node accepted no connection within the wallet's 10 s) was
read back as if sent, ending "order 0x... may have been taken", where nothing can have been.
Now:

- a connection not accepted in time is "cannot reach the node ...: it did not accept a
  connection within 10s; nothing was sent" (exit 1), no read back;
- an order read back held is posted again, the same signed order (one hash: no second
  order), and the node's answer to a copy of an order it holds, 200 once its row is
  committed, says "and stored"; a 503 naming it again "not yet stored"; anything else
  "whether it is stored is not known";
- ``--wait`` follows a settlement of an order read back too (it was skipped).

A real in-process node on Hardhat behind a real loopback proxy (aiohttp) holding the
node's first answer to ``POST /v1/orders`` until the wallet posts again, or dropping the
test's SQLite trigger refusing the node's order rows once the node answered 503; a real
listening socket whose accept queue is full (the kernel drops the wallet's SYN)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from aiohttp import web
from click.testing import CliRunner, Result

from sdex.cli import main
from tests.conftest import Chain
from tests.httpproxy import HOLD_BOUND, WALLET_ENV, WALLET_TIMEOUT, passed_on, served_in_thread
from tests.test_cli_node import ALICE, BOB, key, node, one_line
from tests.test_left77_unstored_order import orders_refused


@dataclass
class Proxy:
    url: str = ""
    hold_first: bool = False
    """The node's answer to the first ``POST /v1/orders`` held until the next one comes."""
    on_503: Callable[[], None] | None = None
    """Run when the node answers a ``POST /v1/orders`` 503, before it is passed on."""
    posts: list[int] = field(default_factory=list)
    """Each ``POST /v1/orders``'s status from the node, in order."""


@contextlib.contextmanager
def proxy_to(upstream: str) -> Iterator[Proxy]:
    proxy, second = Proxy(), threading.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        posting = request.method == "POST" and request.path == "/v1/orders"
        first = posting and not second.is_set() and len(proxy.posts) == 0
        if posting and not first:
            second.set()
        status, ctype, answer = await passed_on(upstream, request)
        if posting:
            proxy.posts.append(status)
            if status == 503 and proxy.on_503 is not None:
                await asyncio.to_thread(proxy.on_503)
            if first and proxy.hold_first:
                await asyncio.to_thread(second.wait, HOLD_BOUND)
        return web.Response(body=answer, status=status, headers={"Content-Type": ctype})

    with served_in_thread(handle) as proxy.url:
        try:
            yield proxy
        finally:
            second.set()  # (before the server closes: a held handler ends first)


@contextlib.contextmanager
def rows_refused(db_path: Path) -> Iterator[Callable[[], None]]:
    """left77's trigger refusing the node's new order rows, and a call that drops it."""
    db = sqlite3.connect(db_path, isolation_level=None, timeout=30, check_same_thread=False)
    drop = "DROP TRIGGER IF EXISTS wallet78_refuse"
    try:
        db.execute(
            "CREATE TRIGGER wallet78_refuse BEFORE INSERT ON orders"
            " BEGIN SELECT RAISE(ABORT, 'wallet78: refused'); END"
        )
        yield lambda: db.execute(drop) and None
    finally:
        db.execute(drop)
        db.close()


@pytest.fixture
def wallet_dir(chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The wallet's directory, the chain's deployment file at the default path (the listing
    checked silently, whatever a developer keeps at the repository's root)."""
    home = tmp_path / "wallet"
    (home / ".sdex").mkdir(parents=True)
    chain.deployment.save(home / ".sdex" / "devnet.json")
    monkeypatch.chdir(home)
    return home


def _order(c: Chain, node_url: str, side: str, price: str, *extra: str, who: int = ALICE) -> Result:
    return CliRunner().invoke(
        main,
        ["order", side, price, "0.5", "--node", node_url, "--key", key(c, who), *extra],
        env=WALLET_ENV,  # (the wallet gives up after WALLET_TIMEOUT, not 10 s)
    )


def _makers_orders(url: str, maker: str) -> list[str]:
    r = requests.get(f"{url}/v1/orders", params={"maker": maker}, timeout=10)
    r.raise_for_status()
    return [rec["metaData"]["orderHash"] for rec in r.json()["records"]]


def test_a_late_answer_read_back_held_is_posted_again_and_said_stored(
    chain: Chain, tmp_path: Path, wallet_dir: Path
) -> None:
    c = chain
    with node(c, tmp_path) as (url, _), proxy_to(url) as proxy:
        proxy.hold_first = True
        r = _order(c, proxy.url, "buy", "1500")
        said = one_line(r.output)
        assert r.exit_code == 0, r.output
        (order_hash,) = set(re.findall(r"order (0x[0-9a-f]{64})", said))
        bound = f"within {WALLET_TIMEOUT:g}s"
        assert f"did not answer POST /v1/orders {bound}; read back, it holds the order" in said
        assert "it was taken, and stored (posted again, the same signed order" in said, said
        assert "may have been taken" not in said, said
        assert f"order {order_hash} status open (read back)" in said, said
        assert proxy.posts[:2] == [201, 200], proxy.posts  # (taken, then: it has it stored)
        assert _makers_orders(url, c.address(ALICE)) == [order_hash]


def test_a_503_naming_the_order_then_stored_is_said_stored(
    chain: Chain, tmp_path: Path, wallet_dir: Path
) -> None:
    c = chain
    with node(c, tmp_path) as (url, _), proxy_to(url) as proxy:
        with rows_refused(tmp_path / "n.db") as allow:  # (allowed at the node's first 503)
            proxy.on_503 = allow
            r = _order(c, proxy.url, "buy", "1500")
        said = one_line(r.output)
        assert r.exit_code == 0, r.output
        assert proxy.posts[:2] == [503, 200], proxy.posts
        (order_hash,) = _makers_orders(url, c.address(ALICE))
        assert f"answered HTTP 503: the node holds order {order_hash}" in said, said
        assert "read back, it holds the order: it was taken, and stored" in said, said
        assert "not yet stored" not in said, said


def test_a_503_naming_the_order_still_unstored_is_said_not_yet_stored(
    chain: Chain, tmp_path: Path, wallet_dir: Path
) -> None:
    c = chain
    with node(c, tmp_path) as (url, _), proxy_to(url) as proxy:
        with orders_refused(tmp_path / "n.db"):
            r = _order(c, proxy.url, "buy", "1500")
        said = one_line(r.output)
        assert r.exit_code == 0, r.output
        assert proxy.posts[:2] == [503, 503], proxy.posts
        assert (
            "it was taken, not yet stored (posted again, the same signed order: the node " in said
        )
        assert "answered it has not stored it yet" in said, said


@contextlib.contextmanager
def full_accept_queue(upstream: str) -> Iterator[str]:
    """A loopback server that answers one request (passed on to ``upstream``, its connection
    then closed) and accepts no more: its accept queue (backlog 0) filled by a connection of
    its own before that answer goes out, so the kernel drops every later SYN and the
    wallet's next connect times out. Its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    fillers: list[socket.socket] = []
    failed: list[BaseException] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(30)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                path = head.split(b" ", 2)[1].decode()
                answer = requests.get(upstream + path, timeout=30).content
                filler = socket.create_connection(listener.getsockname(), timeout=10)
                fillers.append(filler)  # (queued, never accepted: the queue is full)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )
        except BaseException as e:  # (said by the test)
            failed.append(e)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        thread.join(timeout=30)
        for s in fillers:
            s.close()
        listener.close()
        assert not failed, failed


def test_a_post_never_sent_is_said_so_not_read_back(
    chain: Chain, tmp_path: Path, wallet_dir: Path
) -> None:
    c = chain
    with node(c, tmp_path) as (url, _):
        with full_accept_queue(url) as blackhole:
            r = _order(c, blackhole, "buy", "1500")
        said = one_line(r.output)
        assert r.exit_code == 1, r.output
        bound = f"within {WALLET_TIMEOUT:g}s"
        assert f"did not accept a connection {bound}; nothing was sent" in said, said
        assert "may have been taken" not in said and "read back" not in said, said
        assert _makers_orders(url, c.address(ALICE)) == []


def test_wait_follows_the_settlement_of_an_order_read_back(
    chain: Chain, tmp_path: Path, wallet_dir: Path
) -> None:
    """The node's settlement held in the chain's pool (automine off) until the wallet has
    read its order back and posted it again: ``--wait`` then follows it to the chain (it
    returned at once: an order read back lists no matches)."""
    c = chain
    with node(c, tmp_path) as (url, _), proxy_to(url) as proxy:
        r = _order(c, url, "sell", "1500", who=BOB)  # (resting: the buy below takes it)
        assert r.exit_code == 0 and "rests in the book" in one_line(r.output), r.output
        proxy.hold_first = True
        got: list[Result] = []
        c.rpc.call("evm_setAutomine", False)
        try:
            wallet = threading.Thread(
                target=lambda: got.append(_order(c, proxy.url, "buy", "1500", "--wait", "90"))
            )
            wallet.start()
            end = time.monotonic() + 90
            while len(proxy.posts) < 2 and time.monotonic() < end:  # (its repost answered)
                time.sleep(0.1)
            assert len(proxy.posts) >= 2, proxy.posts
        finally:
            c.rpc.call("evm_setAutomine", True)
            c.rpc.call("evm_mine")
        wallet.join(timeout=120)
    (r,) = got
    said = one_line(r.output)
    assert r.exit_code == 0, r.output
    assert "read back, it holds the order: it was taken, and stored" in said, said
    assert "waiting for the settlement on chain (at most 90 s)" in said, said
    assert "settled on chain: bought 0.5 WETH for 750 USDC" in said, said
