"""user81: a held wallet order's verdict is due ``ANSWER_WITHIN`` from its POST's arrival.

replay80 bounded a held order's hold, gather and shared read by ``ANSWER_WITHIN`` (9 s) from
the start of its hold: an order that waited before the hold (here its body, sent slowly, as
a wallet on a slow link sends it) was answered that much later, past the wallet client's
10 s (``sdex.client.DEFAULT_TIMEOUT``, which counts from its connection). Now both the hold
(``HOLD_SECONDS``) and the verdict count from the POST's arrival.

Real Hardhat (the suite's chain), a real node and SQLite store, a real proxy on loopback
(``tests/rpcfault.py``) holding the replay's last read and the held order's state read, and
a raw TCP client on loopback that sends its body late (``tests.heldread``)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

from sdex.ingest.holds import ANSWER_WITHIN
from sdex.node.replayhold import HOLD_SECONDS
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.heldread import held_order_read
from tests.test_replay80 import SLACK

E15 = 10**15
BODY_LATE = 4.0
"""Seconds the client waits between its request's head (and half its body) and the rest:
its order reaches the hold that late (under ``ANSWER_WITHIN - HOLD_SECONDS - GATHER``)."""


async def slow_post(base: str, signed: SignedOrder, late: float) -> tuple[int, dict[str, object]]:
    """``POST /v1/orders`` of ``signed`` over a raw connection, the second half of its body
    sent ``late`` seconds after the head: the status and the JSON answer."""
    body = json.dumps(signed.to_json()).encode()
    code, answer = await slow_request(base, "/v1/orders", body, late)
    assert isinstance(answer, dict), answer
    return code, answer


async def slow_request(base: str, path: str, body: bytes, late: float) -> tuple[int, object]:
    """``POST path`` of ``body`` over a raw connection, its second half sent ``late`` seconds
    after the head: the status and the JSON answer."""
    url = urlsplit(base)
    assert url.hostname is not None and url.port is not None
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head + body[: len(body) // 2])
        await writer.drain()
        await asyncio.sleep(late)  # (the subject: a wallet whose body comes slowly)
        writer.write(body[len(body) // 2 :])
        await writer.drain()
        async with asyncio.timeout(60):
            answer = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


async def test_a_held_orders_verdict_is_due_from_its_posts_arrival(
    chain: Chain, tmp_path: Path
) -> None:
    async with held_order_read(chain, tmp_path, salt=81_000) as held:
        began = time.monotonic()
        code, body = await slow_post(held.api.base, held.signed, BODY_LATE)
        took = time.monotonic() - began
        assert held.node.replay_hold.timed_out == 1  # (held to its bound, then read)
        assert held.read.held.is_set()  # (its read was asked, and hung)
        assert code == 503 and "try again" in str(body), body  # (nothing taken)
        # (was BODY_LATE + 9.0 s: the hold's 5 s, the gather, the read's 3.5 s counted
        # from the hold's start; the client gives up 10 s after it connected)
        assert HOLD_SECONDS < took <= ANSWER_WITHIN + SLACK, took
        await held.taken_after_release()
