"""The node's large answers: written here, then let go of; how many at once, how long.

A listing page (``/v1/orders``, ``/v1/orderbook``, ``/v1/fills`` at ``perPage=1000``) is about
1 MB of JSON. aiohttp keeps a connection's last answer, body and all, until the next request
on it: an idle keep-alive connection that had asked one held ~1 MB until it sent another or
was closed (``http_idle_timeout``, 30 s). attack13: 300 connections that each read a 1 MB
answer and stayed idle held 300 answers (+415 MiB); a client can keep any number of its
512 connections (4,096 in all) so, about 1 MB each, re-asking before the idle timeout. So an
answer of ``BIG_ANSWER`` (16 KiB) or more is written here, before aiohttp would, and its body
dropped once written (``NodeConfig``'s ``max_large_answers_per_client`` 8,
``max_large_answers`` 64, ``send_timeout`` 30 s):

- at most ``per_client`` of them per client (``sdex.httpkit.client_group``) and ``total`` in
  all are being written at once; one more is refused at once (503, code 103, ``Retry-After``),
  its body dropped: nothing waits holding one. (Its bytes in the socket's transport, not yet
  taken by the kernel, are held while it is written: ``total`` of them at most.)
- each must be taken by the client within ``send_timeout`` seconds (written through to the
  kernel's socket buffer), else its connection is aborted and what it held is freed (attack95:
  ``force_close``, a ``transport.close()``, kept the socket until the client read the rest).

A file of the web page (``sdex.web.WholeFile``, whatever its size: sent by ``sendfile``, it
holds a descriptor of the file while it is sent) is such an answer too. attack95: files went
around these bounds; a client that asked for ethers' bundle 30 times on a connection and never
read held the connection busy for ever (past the idle and send timeouts) with a descriptor of
the file: two descriptors a connection, up to its 512, where ``max_http`` counts one.

A client that reads its answers (a wallet, the web page, ``sdex audit``) holds a slot for the
time its bytes take to reach the kernel: on loopback the kernel takes a 1 MB answer at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry

from sdex.httpkit import ApiError, ClientSlots, client_group
from sdex.metrics import counter, gauge
from sdex.node.writedeadline import abandon

log = logging.getLogger("sdex.node")

BIG_ANSWER = 16 * 1024
"""Bytes of body from which an answer is written here (an order record is about 1 KB in a
listing: a page of 16 or more). A smaller one is left to aiohttp: 4,096 idle connections
keeping one each hold at most 64 MiB."""
SEND_TIMEOUT = 30.0
"""Seconds a client has to read a big answer before its connection is closed."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AnswerSlots(ClientSlots):
    """How many big answers each client, and all together, have being written now."""

    def __init__(self, per_client: int = 8, total: int = 64) -> None:
        super().__init__(
            per_client,
            total,
            "too many large answers to this address at once: at most {}",
            "too many large answers at once: at most {}",
        )
        self.unread = 0
        """Connections closed because a big answer on them was not read in time."""


def bound_answers(
    app: web.Application, slots: AnswerSlots, send_timeout: float = SEND_TIMEOUT
) -> None:
    """Write ``app``'s big answers under ``slots``, each read within ``send_timeout`` seconds
    (the outermost middleware: the answer as the others left it, headers and all)."""

    @web.middleware
    async def bounded(request: web.Request, handler: Handler) -> web.StreamResponse:
        resp = await handler(request)
        if resp.prepared:
            return resp
        if isinstance(resp, web.Response):
            body = resp.body
            if not isinstance(body, bytes) or len(body) < BIG_ANSWER:
                return resp
        elif not isinstance(resp, web.FileResponse):
            return resp
        client = client_group(request.remote)
        if (refused := slots.take(client)) is not None:
            error = ApiError(503, 103, f"Throttled: {refused}", headers={"Retry-After": "1"})
            return error.response()
        try:
            async with asyncio.timeout(send_timeout):
                await resp.prepare(request)
                await resp.write_eof()  # (returns once the kernel took nearly all)
            if isinstance(resp, web.Response):
                resp.body = None  # (written: the idle connection keeps ``resp``, not its body)
        except TimeoutError:
            slots.unread += 1
            log.info("closed a connection from %s: a large answer unread", request.remote)
            abandon(request.protocol)  # (its unsent bytes dropped: ``close`` waits for them)
        except ConnectionError:
            # The client went away mid-answer: nothing to report, as aiohttp's own writer
            # has it (raised, aiohttp logged "Error handling request" and a traceback at
            # ERROR for each such client: a loop of pages reset mid-answer filled the log).
            abandon(request.protocol)
        finally:
            slots.give(client)
        return resp

    app.middlewares.insert(0, bounded)


def add_metrics(registry: CollectorRegistry, slots: AnswerSlots) -> None:
    """``sdex_large_answers`` (being written now), and the counters
    ``sdex_large_answers_refused_total`` and ``sdex_large_answers_unread_total`` (so far) on
    the node's ``/metrics``."""
    gauge(registry, "sdex_large_answers", "Large answers being written now", lambda: len(slots))
    counter(
        registry,
        "sdex_large_answers_refused",
        "Large answers refused: the client's or the node's slots were all taken",
        lambda: slots.refused,
    )
    counter(
        registry,
        "sdex_large_answers_unread",
        "Connections closed because a large answer on them was not read in time",
        lambda: slots.unread,
    )
