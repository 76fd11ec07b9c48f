"""``sdex console`` with a node it cannot use (console27).

At start it is like ``sdex book``: a node that cannot be reached, or answers but not as an SDEX
node, is the same red line on stderr and exit 1, with no greeting and no prompt (a new user's
console used to greet, print "cannot reach" and exit 0 at the end of its input). Once the
console is running, a node that goes down ends no session: each command that needs it says so
in one red line, the prompt goes on, and the node is used again when it is back. Real aiohttp
servers on loopback, as in ``tests/test_console.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from rich.console import Console

from sdex.client import NodeClient
from sdex.console import WalletShell
from tests.fakenode import KEY, FakeNode, closed_port, fake_node, network_file, run_cli


@contextlib.contextmanager
def serve(app: web.Application, port: int = 0) -> Iterator[str]:
    """``app`` served on 127.0.0.1 (at ``port``, else any free one) in its own thread and loop;
    its URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", port)
    loop.run_until_complete(site.start())
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


@contextlib.contextmanager
def not_a_node() -> Iterator[str]:
    """A server with no routes: every path is a 404, like a URL of some other web server."""
    with serve(web.Application()) as url:
        yield url


def as_node(fake: FakeNode) -> web.Application:
    """An app that answers the console's requests with ``fake``'s handlers and state: the same
    node, served again after ``fake`` stopped."""
    app = web.Application()
    app.router.add_get("/v1/order_config", fake.get_config)
    app.router.add_get("/v1/orderbook", fake.get_book)
    app.router.add_get("/v1/orders", fake.get_orders)
    app.router.add_get("/v1/fills", fake.get_fills)
    return app


@contextlib.contextmanager
def refused() -> Iterator[str]:
    yield f"127.0.0.1:{closed_port()}"


@contextlib.contextmanager
def malformed_config() -> Iterator[str]:
    with fake_node() as fake:
        fake.config = {"chainId": 31337}  # no exchange, no tokens
        yield fake.url


REFUSED = (
    "error: cannot reach the node at {url}: [Errno 111] Connection refused; "
    "is `sdex node` running on that port?"
)
NOT_A_NODE = "error: {url} has no /v1/order_config (HTTP 404): not an SDEX node's URL?"
# The node's own words; like `sdex book`, this one does not name the URL (sdex.client's message).
MALFORMED = "error: order_config lacks 'exchange'"


@pytest.mark.parametrize(
    ("node", "expected"),
    [(refused, REFUSED), (not_a_node, NOT_A_NODE), (malformed_config, MALFORMED)],
    ids=["refused", "not-a-node", "malformed-config"],
)
def test_a_node_it_cannot_use_at_start_is_one_line_and_exit_1(
    node: Callable[[], contextlib.AbstractContextManager[str]], expected: str
) -> None:
    with node() as url:
        book = run_cli("book", "--node", url)
        r = run_cli("console", "--node", url, "--key", KEY.hex(), input="book\nfills\nquit\n")
    url = url if url.startswith("http://") else "http://" + url
    assert r.exit_code == 1, r.output
    assert r.stdout == ""  # no greeting, no prompt, no command run
    (line,) = r.stderr.splitlines()
    assert line.startswith("startup: " + expected.format(url=url)), line
    # The same line and exit code as the one-shot wallet command's, after "startup: " (a
    # script's input: none of its lines ran; leftovers38)
    assert (r.stderr, r.exit_code) == ("startup: " + book.stderr, book.exit_code)


class Script(io.StringIO):
    """A console's stdin that runs an action between two lines (the node going down)."""

    def __init__(self, *steps: str | Callable[[], None]) -> None:
        super().__init__()
        self.steps = list(steps)

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]  # (typeshed)
        while self.steps:
            step = self.steps.pop(0)
            if isinstance(step, str):
                return step + "\n"
            step()
        return ""  # end of input

    def isatty(self) -> bool:
        return False


def test_a_node_that_goes_down_ends_no_session_and_is_used_again_when_back(
    tmp_path: Path,
) -> None:
    out, err = io.StringIO(), io.StringIO()
    fake = FakeNode()
    fake.start()
    port = int(fake.url.rsplit(":", 1)[1])
    with contextlib.ExitStack() as stack:
        down = threading.Event()
        stack.callback(lambda: None if down.is_set() else fake.stop())

        def go_down() -> None:
            fake.stop()
            down.set()

        def come_back() -> None:
            stack.enter_context(serve(as_node(fake), port))

        script = Script(
            "book",
            go_down,
            *("book", "fills", "get_dump", "help book"),
            come_back,
            *("book", "quit", "book"),
        )
        client = stack.enter_context(NodeClient(fake.url))
        shell = WalletShell(
            client,
            KEY,
            "WETH/USDC",
            out=Console(file=out, width=200),
            err=Console(file=err, width=200),
            stdin=script,
            deployment_path=network_file(fake, tmp_path / "devnet.json"),
            deployment_given=True,  # (its network's file: the listing checked, silently)
        )
        shell.start()
        shell.run()
    refused = REFUSED.format(url=fake.url)
    assert err.getvalue().splitlines() == [  # each, with its line and command (ux37)
        f"line {n}: {command}: {refused}"
        for n, command in [(2, "book"), (3, "fills"), (4, "get_dump")]
    ]
    assert "Show the node's order book" in out.getvalue()  # help still answers while down
    assert out.getvalue().count("bids (0)") == 2  # the book before it went down and after
    assert script.steps == ["book"]  # quit ended the session, not the failures
