"""wallet69: a wallet's call to a node (``NodeClient``) ends by its timeout as a whole: connect,
the request's send and the answer under one deadline (``sdex.chain.deadline``).

Before: only the answer was read against the call's deadline (review67); the connect had the
whole timeout for each address its host name gave, and each send of the request the whole
timeout again, so a node that accepted slowly (its listening queue full: the wallet's connect
waits for the kernel's SYN retry) and then read the body slowly held ``post_order`` for the
connect's time plus the whole timeout. A real hostile node on loopback: plain sockets (its
listening queue and receive buffer are what is being played, which no HTTP server exposes).

The body here is a contract wallet's signature of 4 MiB, far past any an honest wallet sends
(``MAX_SIGNATURE_BYTES``, 4 KiB): a request of a few KiB fits the kernel's send buffer and
its send never waits on the node; a body that does not fit shows the send's bound."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sdex.client import NodeClient, NodeUnreachableError
from sdex.order import SignedOrder
from tests.fakenode import USDC, WETH, signed

TIMEOUT = 3.5
"""The wallet's timeout: past the node's slow accept (the SYN retried at 1 to 3 s)."""
ACCEPT_AT = 1.5
"""When the node frees its listening queue (the wallet's first SYN was dropped by then)."""


@dataclass
class SlowNode:
    url: str
    accepted_at: list[float] = field(default_factory=list)
    read: list[int] = field(default_factory=lambda: [0])


def _serve(
    srv: socket.socket, filler: socket.socket, node: SlowNode, stop: threading.Event
) -> None:
    started = time.monotonic()
    stop.wait(ACCEPT_AT)
    first, _ = srv.accept()  # (the filler's: the queue is free again)
    first.close()
    filler.close()
    srv.settimeout(10.0)
    try:
        conn, _ = srv.accept()
    except OSError:
        return
    node.accepted_at.append(time.monotonic() - started)
    with conn:
        conn.settimeout(0.5)
        while not stop.is_set():  # a byte every 50 ms, never an answer
            try:
                got = conn.recv(1)
            except TimeoutError:
                continue
            except OSError:
                return
            if not got:
                return
            node.read[0] += 1
            stop.wait(0.05)


@contextmanager
def slow_node() -> Iterator[SlowNode]:
    """A node whose listening queue (one connection) is full until ``ACCEPT_AT``, and that
    then reads through a receive buffer of the kernel's least size, a byte at a time."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # (the accepted socket's too)
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    filler = socket.create_connection(srv.getsockname(), timeout=5.0)
    node = SlowNode(f"http://127.0.0.1:{srv.getsockname()[1]}")
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(srv, filler, node, stop), daemon=True)
    thread.start()
    try:
        yield node
    finally:
        stop.set()
        thread.join(15)
        srv.close()


def test_a_slow_accept_and_a_slow_read_end_by_the_calls_timeout() -> None:
    base = signed(WETH, USDC, 10**18, 2000 * 10**6)
    big = SignedOrder(base.order, b"\x01" * (4 << 20), base.hash)
    with slow_node() as node, NodeClient(node.url, timeout=TIMEOUT) as client:
        started = time.monotonic()
        try:
            client.post_order(big)
        except NodeUnreachableError as e:
            err: Exception = e
        took = time.monotonic() - started
    assert node.accepted_at, "the wallet's connect never reached the node"
    assert node.accepted_at[0] > ACCEPT_AT  # (the connect waited for the SYN's retry)
    assert node.read[0] > 0  # (and its send had begun)
    assert took < TIMEOUT + 1.0, (took, node.accepted_at)  # before: ~2 s and TIMEOUT more
    assert f"did not answer POST /v1/orders within {TIMEOUT:g}s" in str(err), str(err)
