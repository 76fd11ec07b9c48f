"""A request head bounded in bytes: aiohttp bounds its lines and fields, not their sum.

aiohttp takes up to 128 header lines of 8,190 bytes each (about 1 MB) and keeps what it
parsed, raw and decoded, until the head ends. A client that sends 127 such lines and never
ends its head held that for the idle timeout (``NodeConfig.http_idle_timeout``, 30 s) per
connection: attack27 measured 1,000 such connections from 10 loopback addresses take a node
from 411 MB to 2,093 MB of RSS, kept after they closed; the connection bounds
(``sdex.node.conns``) allow 4,096, ~7 GB. The node's routes need a few hundred bytes of
head; a browser's cookies for the host may add some kilobytes.

``HeadBoundedHandler`` counts the bytes a connection sends while no request body is due
(between requests, or before its first one), and while one is due, those since it last
grew (a chunked body's trailer section, kept as a head is): past ``MAX_HEAD`` the
connection is answered 431 with the SRA error body and closed. A body (``client_max_size``
and the body timeout bound it) and a later request's head are not counted with it.

A head aiohttp's parser refuses (a line past 8,190 bytes, more than 128 header lines, a byte
no URL or header may hold, a method that is no token) is answered 400 with the SRA error body
too, its reason without the client's bytes, and logged at debug (``handle_error``). attack93:
aiohttp answered such a head in plain text that quoted what the client sent, and logged each
one at ERROR with a 10-line traceback: any client could write ~1 KB of error log a request.
Both refusals are counted (``REFUSED``, the node's ``sdex_http_heads_refused_total``): at
debug, nothing else told of them (review93d).

An ``Expect`` other than ``100-continue`` is answered 417 with the SRA error body
(``expectations_checked``, the server's handler of every route, the fronts' included) and
the client's value not in it: aiohttp's route-level default answered in plain text, before
any middleware, "Unknown Expect: " and the value as sent (edge94). The app's
``EXPECT_REFUSED_KEY`` (the node's: ``sdex.node.api``) answers it instead: the refusal is
charged to the client's request budget (a 429 past it; a ``/p2p/`` one to its address's
budget of refusals: ``sdex.node.expectrefused``) and counted on ``/metrics`` as any
refused request (attack95: 30k such answers in 5 s, uncounted and free of the budget); a
front process hands such a request to the node, which answers it so (``sdex.node.front``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.streams import StreamReader
from aiohttp.web_request import BaseRequest

from sdex.httpkit import CONTINUE_OWED
from sdex.model import VALIDATION_FAILED, error_body
from sdex.node.writedeadline import WriteDeadline

log = logging.getLogger("sdex.api")

MAX_HEAD = 32 * 1024
"""Bytes of one request's head (request line and header lines) a connection may send: 4
of nginx's default 8 KiB header buffers."""


class HeadsRefused:
    """Request heads refused in this process so far: past ``MAX_HEAD`` (431) or by the
    parser (400)."""

    __slots__ = ("bad", "too_large")

    def __init__(self) -> None:
        self.too_large = 0
        self.bad = 0


REFUSED = HeadsRefused()
"""The process's count (a node process serves one app: its ``/metrics`` shows it)."""


def too_large() -> bytes:
    """The whole 431 answer: the SRA body, closed."""
    reason = f"Request head too large: at most {MAX_HEAD} bytes"
    body = json.dumps(error_body(VALIDATION_FAILED, reason)).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}\r\n\r\n"
    )
    return head.encode() + body


def bad_head_reason(exc: HttpProcessingError) -> str:
    """The 400's reason for a head the parser refused: what was wrong, never the client's
    bytes (aiohttp's message quotes them after a colon)."""
    if isinstance(exc, LineTooLong):
        return "Bad HTTP request: a request or header line longer than 8190 bytes"
    said = exc.message.split(":", 1)[0].strip()[:80]
    return f"Bad HTTP request: {said}" if said else "Bad HTTP request"


Served = Callable[[BaseRequest], Awaitable[web.StreamResponse]]
"""A server's handler of its requests (``web.Server``'s first argument)."""

Refusing = Callable[[BaseRequest, web.Response], Awaitable[web.StreamResponse]]
"""Told of each request refused 417 (with that answer): the answer to send (it, or another;
a front's: the node's, the request handed over)."""

EXPECT_REFUSED_KEY: web.AppKey[Refusing] = web.AppKey("expect-refused")
"""An app's ``Refusing`` of its requests refused 417 (none: the 417 as it is)."""


def expectations_checked(handler: Served, refusing: Refusing | None = None) -> Served:
    """``handler`` (a server's: the app's, every route and every 404), with a request that
    expects more than ``100-continue`` of HTTP/1.1 answered 417 with the SRA body ahead of it
    (aiohttp's rule: an HTTP/1.0 request's ``Expect`` is ignored), or what ``refusing`` makes
    of that answer; ``100-continue``'s interim 100 is owed (``CONTINUE_OWED``), sent once the
    request passed its budget (``httpkit.continued``), never to one refused before."""

    async def checked(request: BaseRequest) -> web.StreamResponse:
        expect = request.headers.get(hdrs.EXPECT)
        if expect and request.version == HttpVersion11:
            if expect.lower() != "100-continue":
                reason = "Expectation failed: only Expect: 100-continue is supported"
                resp = web.json_response(error_body(VALIDATION_FAILED, reason), status=417)
                return resp if refusing is None else await refusing(request, resp)
            # (aiohttp's route default sends the 100 before any middleware: it is held till
            # the request passed its budget, ``httpkit.continued``; gossip98)
            headers = request.headers.copy()
            del headers[hdrs.EXPECT]
            request = request.clone(headers=headers)
            request[CONTINUE_OWED] = True
        return await handler(request)

    return checked


class HeadBoundedHandler(WriteDeadline):
    """aiohttp's request handler with each request head bounded at ``MAX_HEAD`` bytes (and
    its unsent bytes under a deadline: ``sdex.node.writedeadline``)."""

    __slots__ = ("_body", "_head_bytes")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        """Bytes sent since the last request's head ended (its body excluded)."""
        self._body: StreamReader | None = None
        """The last request's body, while more of it may come."""

    def data_received(self, data: bytes) -> None:
        if self._force_close or self._close or self._upgraded or self._payload_parser:
            super().data_received(data)  # (closing, a websocket, a body read aside: no head)
            return
        body = self._body
        heading = body is None or body.is_eof()  # no body due: these bytes are a head's
        had = 0 if body is None else body.total_bytes
        queued = len(self._messages)
        super().data_received(data)
        if len(self._messages) > queued:  # a head ended (or was refused): the next starts
            self._head_bytes = 0
            payload = self._messages[-1][1]
            self._body = None if payload.is_eof() else payload
        elif heading or body is None or body.total_bytes == had:
            # Counted once parsed: one read may end a head and carry its body. (The bytes of
            # one read that ends a head or a body and starts the next head go uncounted: at
            # most one read's bytes, 256 KiB, over the bound, and only while parsed.) While a
            # body is due, a read that adds nothing to it is counted too: a chunked body's
            # trailer section is parsed and kept as a head is (review28: 100 fields of 8 KB,
            # never ended, were held for the body timeout), and its framing is not data.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD:
                self.head_too_large()
        else:  # the body grew: what came before it was framing, not a head
            self._head_bytes = 0

    def head_too_large(self) -> None:
        """Answer 431 and close: the transport sends the answer before it closes."""
        REFUSED.too_large += 1
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(too_large())
        body = self._body
        if body is not None and not body.is_eof():
            # (a trailer section's: the handler reading that body ends as a 431, not with
            # the closed connection's RuntimeError, which the node logs as unexpected)
            body.set_exception(web.HTTPRequestHeaderFieldsTooLarge())
        self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's, but a head its parser refused gets the SRA body (code 100), said at
        debug: a client's malformed bytes are no error of the node's."""
        if not isinstance(exc, HttpProcessingError) or not 400 <= status < 500:
            return super().handle_error(request, status, exc, message)
        REFUSED.bad += 1
        log.debug("bad HTTP request from %s: %s", request.remote, exc.message)
        if request.writer.output_size > 0:  # (as aiohttp: an answer already begun)
            raise ConnectionError("Response is sent already, cannot send another response")
        reason = bad_head_reason(exc)
        resp = web.json_response(error_body(VALIDATION_FAILED, reason), status=status)
        resp.force_close()
        return resp
