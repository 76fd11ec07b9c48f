"""One authenticated stream per peer link: gossip calls as websocket frames, not one signed
HTTP request each.

Why: profiled at 100 orders/s on 8 nodes (py-spy, docs/BENCHMARKS.md), a node spent about
30% of its event loop on signed HTTP calls: the client's request machinery, the server's
request parsing and response, and four secp256k1 operations (sign, recover, sign the
answer, recover it) per push. On a stream a call is one frame each way and an HMAC.

**Handshake.** The dialer opens ``GET /p2p/stream?nonce=<32 random bytes, hex>&to=<the
acceptor's id>`` as a websocket upgrade, signed like every ``/p2p/`` request
(``sdex.gossip.identity``; naming its target, it cannot be replayed at another node): the
acceptor learns the dialer's id *and public key* from the signature, and refuses the upgrade
as it refuses any request (stale, replayed, banned, over its rate limit, a cut link) or when
the id is not an admitted peer (the dialer then keeps using HTTP). The acceptor's first
message (text) is ``{"nonce": hex, "signature": hex}``: 32 random bytes of its own, signed
as the answer to that request (status 101). The dialer recovers the acceptor's id and key
from it and drops the stream unless it is the peer it meant to reach. Both sides derive

    master = HMAC-SHA256(ECDH(own key, other's key), tag ‖ dialer nonce ‖ acceptor nonce ‖ ids)

and one key per direction from it. Someone who saw the handshake knows neither private key,
so cannot compute the keys; fresh nonces on both sides make every stream's keys new.

**Frames** (binary): ``seq`` (8 bytes, big-endian, from 0 in each direction) ‖
HMAC-SHA256(direction key, direction ‖ seq ‖ payload) ‖ payload (JSON, read through
``sdex.jsonio``). The dialer sends requests ``{"i": id, "m": method, "p": path, "q": query,
"b": body}``; the acceptor answers ``{"r": id, "s": status, "b": body}``, in any order, or,
to a dialer that asked (``acks=1`` in the upgrade), the answers ready in one turn of its
loop together: ``{"a": [[id, status, body], ...]}`` (at most ``MAX_ANSWERS`` and ``MAX_ANSWER``
bytes, a large one alone; pushes checked together are answered together: one frame). An
answer over ``MAX_ANSWER``, more than the dialer reads, is not sent: that request alone is
answered with a bounded error (``sdex.gossip.frames``), and the stream carries on. A
frame with a bad MAC, out of sequence (replayed, reordered, dropped) or malformed closes the
stream; only a malformed frame whose MAC and sequence checked out costs the peer its score
(the others anyone on the path could have injected). Each side calls on the stream it
dialed; a call with no stream open goes over signed HTTP (``sdex.gossip.client``), so older
peers still work.
The acceptor runs each request through the same route code as HTTP (``sdex.gossip.routes``),
with the same limits: a frame is charged to the peer's rate limit before its JSON is read
(over it, or no longer admitted: the stream closes), is at most ``MAX_P2P_BODY`` plus its
envelope, at most ``MAX_IN_FLIGHT`` requests run at once per stream (more are answered 429),
a stream idle for ``IDLE`` seconds is closed, and an answer or a close that the peer does
not take within ``SEND_TIMEOUT`` / ``CLOSE_TIMEOUT`` ends the stream. A peer holds at most
two streams to a node (a redial replaces the oldest), a node at most ``2 * MAX_PEERS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import aiohttp
import yarl
from aiohttp import web

from sdex import jsonio
from sdex.errors import JsonLimitError
from sdex.futures import retrieved
from sdex.gossip import frames
from sdex.gossip.client import MAX_ANSWER
from sdex.gossip.codec import HEAD as HEAD
from sdex.gossip.codec import Codec, FrameError
from sdex.gossip.deadlines import Deadlines
from sdex.gossip.frames import MAX_ANSWERS as MAX_ANSWERS
from sdex.gossip.frames import envelope
from sdex.gossip.handshake import ACCEPTOR as ACCEPTOR
from sdex.gossip.handshake import DIALER as DIALER
from sdex.gossip.handshake import NONCE as NONCE
from sdex.gossip.handshake import accept as accept
from sdex.gossip.handshake import session_keys as session_keys
from sdex.gossip.identity import (
    HEADER_SIG,
    AuthError,
    NodeKey,
    answer_digest,
    recover_key,
    started_at,
)
from sdex.gossip.payload import request as _request

log = logging.getLogger("sdex.gossip")

PATH = "/p2p/stream"
MAX_P2P_BODY = 4 * 1024 * 1024
"""The largest request body a peer may send (HTTP or one frame's body)."""
ENVELOPE = 4096
"""Room for a frame's header and envelope around the largest body."""
MAX_IN_FLIGHT = 16
IDLE = 120.0
SEND_TIMEOUT = 10.0
"""Seconds an answer's frame may wait for the peer to read (then the stream closes)."""
CLOSE_TIMEOUT = 5.0
"""Seconds a close may wait for the peer (then its connection is dropped)."""
RETRY = (1.0, 60.0)
"""Seconds before a peer that refused a stream is asked again: the first wait, doubled
after each refusal up to the second (a peer not yet admitted there soon is; an older node
that takes no streams costs one refused upgrade a minute)."""

Dispatch = Callable[[str, str, Mapping[str, str], Any, int], Awaitable[tuple[int, object]]]
"""(method, path, query, body, frame size) -> (status, answer body): the routes."""
NOW_MOST = 16 * 1024
"""The largest request frame ``Link.send_now`` writes in its caller's turn (a larger one, or
any while the socket holds unsent bytes, goes by ``Link.request``, with aiohttp's flow
control): so small a write to an empty socket buffer never has aiohttp wait to drain it."""
Answered = Callable[["tuple[int, Any] | BaseException"], None]
"""Told a ``Link.send_now`` call's (status, body), or ``TimeoutError`` (no answer in time)
or ``StreamDown`` (the stream closed first)."""
AnswerNow = Callable[[str, str, Mapping[str, str], Any, int], tuple[int, object] | None]
"""The same, for a request answered in the reader's own turn (a push of orders all held
already): its answer, or ``None`` (nothing done) to have it dispatched in a task."""


class StreamDown(Exception):
    """No stream to that peer, or it closed: the call goes over HTTP instead."""


# ---- the dialer's side ----------------------------------------------------------------------


async def dial(
    session: aiohttp.ClientSession,
    key: NodeKey,
    me: str,
    url: str,
    peer: str,
    on_bad: Callable[[str], None],
    grouped: bool = True,
) -> Link:
    """Open a stream to the peer ``peer`` at ``url``; ``StreamDown`` if it cannot be had.
    ``grouped``: ask for a turn's answers in one frame (``acks=1``; an older node ignores it)."""
    nonce = secrets.token_bytes(NONCE)
    path_qs = f"{PATH}?nonce={nonce.hex()}&to={peer}"  # signed: not replayable elsewhere
    path_qs += "&acks=1" if grouped else ""
    for again in (True, False):  # (``PeerClient.call``'s: once more after a start told)
        headers = key.request_headers("GET", path_qs, b"", me, to=peer)
        try:
            ws = await session.ws_connect(
                yarl.URL(url + path_qs, encoded=True),
                headers=headers,
                max_msg_size=MAX_ANSWER + ENVELOPE,
                compress=0,
                autoping=True,
            )
            break
        except (aiohttp.ClientError, ValueError) as e:
            refused = isinstance(e, aiohttp.WSServerHandshakeError) and e.status == 401
            said = e.headers if isinstance(e, aiohttp.WSServerHandshakeError) else None
            started = started_at(said) if refused and said else None
            if not (again and started is not None and key.sign_after(peer.lower(), started)):
                raise StreamDown(f"{url}: {type(e).__name__} {e}") from None
    try:
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise StreamDown(f"{url}: no stream hello")
        hello = jsonio.loads(msg.data, max_bytes=1024, max_depth=2)
        theirs = bytes.fromhex(str(hello["nonce"]))
        if len(theirs) != NONCE:
            raise StreamDown(f"{url}: a nonce of {len(theirs)} bytes")
        digest = answer_digest(headers[HEADER_SIG], 101, "0x" + theirs.hex())
        signer, pub = recover_key(digest, str(hello["signature"]))
        if signer != peer:
            raise StreamDown(f"{url} answered as {signer}, not {peer}")
    except (StreamDown, AuthError, JsonLimitError, KeyError, TypeError, ValueError) as e:
        await close_ws(ws)
        raise StreamDown(f"{url}: bad stream hello: {e}") from None
    except BaseException:
        await close_ws(ws)
        raise
    d2a, a2d = session_keys(key, pub, (nonce, theirs), (key.node_id, peer))
    return Link(ws, peer, Codec((d2a, DIALER), (a2d, ACCEPTOR)), on_bad)


async def close_ws(ws: aiohttp.ClientWebSocketResponse | web.WebSocketResponse) -> None:
    """Close a websocket without waiting long for a peer that stopped reading: past
    ``CLOSE_TIMEOUT`` aiohttp drops the connection (its close is cancelled)."""
    with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await ws.close()


async def cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until each has ended (whatever it raised: retrieved, not
    re-raised). A cancel of the caller itself is not swallowed (cancel19: each ``await t``
    under ``suppress(CancelledError)`` took it for the task's, so a stop that was itself
    cancelled went on, and one task ignoring its cancel held it for good)."""
    tasks = list(tasks)
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for t in tasks:
        retrieved(t)  # (no "Task exception was never retrieved")


class _Stream:
    """One side of a stream: its websocket, the peer's proven id, the frame codec."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
        peer: str,
        codec: Codec,
        on_bad: Callable[[str], None],
    ) -> None:
        self.ws = ws
        self.peer = peer
        self.codec = codec
        self.on_bad = on_bad


class Link(_Stream):
    """The stream this node dialed to one peer: its calls go out as frames."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        peer: str,
        codec: Codec,
        on_bad: Callable[[str], None],
    ) -> None:
        super().__init__(ws, peer, codec, on_bad)
        self.open = True
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[int, Any]]] = {}
        self._told: dict[int, Answered] = {}
        """``send_now``'s calls: whom the reader tells of their answers."""
        self._sending: set[int] = set()
        self._behind = False
        """A call ``send_now`` declined may not be written yet (``_declined``)."""
        self._closer: asyncio.Task[None] | None = None
        self._deadlines = Deadlines(self._expired)
        """Each call's timeout, one timer for the stream (not one per call)."""
        self._reader = asyncio.create_task(self._read(), name="gossip-stream-read")

    async def request(
        self, method: str, path: str, query: Mapping[str, str] | None, body: object, timeout: float
    ) -> tuple[int, Any]:
        """(status, body) of one call; ``StreamDown`` if the stream is (or goes) down,
        ``TimeoutError`` if the peer does not answer in time."""
        if not self.open:
            raise StreamDown("the stream closed")
        rid = next(self._ids)
        payload = _request(rid, method, path, query or {}, body)
        if len(payload) > MAX_P2P_BODY:
            raise StreamDown("too large for a frame")
        fut: asyncio.Future[tuple[int, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self._deadlines.set(rid, timeout)  # past it: TimeoutError (``_expired``)
        try:
            self._sending.add(rid)
            try:
                await self.ws.send_bytes(self.codec.seal(payload))
            except (ConnectionError, RuntimeError) as e:
                raise StreamDown(f"send failed: {e}") from None
            finally:
                self._sending.discard(rid)
            return await fut
        finally:
            self._pending.pop(rid, None)
            self._deadlines.discard(rid)

    def send_now(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None,
        body: object,
        timeout: float,
        answered: Answered,
    ) -> bool:
        """One call written in this turn, no task: the reader tells ``answered`` of its
        answer (or the deadline of ``TimeoutError``, the stream's end of ``StreamDown``).
        False, nothing sent: the stream is closing, its socket holds unsent bytes or is not
        known, the frame is over ``NOW_MOST``, or a call declined this turn may not be
        written yet (``_declined``); the caller uses ``request``."""
        if not self.open or self.ws.closed:
            return False
        writer = getattr(self.ws, "_writer", None)  # (aiohttp's; unknown: ``request``)
        transport = getattr(writer, "transport", None)
        if (
            self._behind
            or not isinstance(transport, asyncio.WriteTransport)
            or transport.is_closing()
            or transport.get_write_buffer_size()
        ):
            return self._declined()
        rid = next(self._ids)
        payload = _request(rid, method, path, query or {}, body)
        if len(payload) > NOW_MOST:
            return self._declined()
        sending = self.ws.send_bytes(self.codec.seal(payload))
        try:  # (an uncompressed frame is written before ``send_bytes`` first waits)
            sending.send(None)
        except StopIteration:
            pass
        except (ConnectionError, RuntimeError) as e:  # (as ``request``'s failed send)
            log.debug("stream to %s: send failed: %s", self.peer, e)
            self.open = False
            return False
        else:  # waited to drain (written already): the next call goes by ``request``
            sending.close()
        self._told[rid] = answered
        self._deadlines.set(rid, timeout)
        return True

    def _declined(self) -> bool:
        """A call this turn's caller sends by ``request`` (a task, writing in the next turn):
        none is written ahead of it, so ``send_now`` declines every call until the turn after
        that task first ran (review24: a push too large to write now was overtaken by the
        smaller ones the core asked for after it, in the same turn)."""
        if not self._behind:
            self._behind = True
            loop = asyncio.get_running_loop()
            loop.call_soon(loop.call_soon, self._caught_up)  # (two turns: after the task's)
        return False

    def _caught_up(self) -> None:
        self._behind = False

    def _tell(self, rid: int, result: tuple[int, Any] | BaseException) -> bool:
        answered = self._told.pop(rid, None)
        if answered is None:
            return False
        self._deadlines.discard(rid)
        try:
            answered(result)
        except Exception:  # (the reader goes on whatever the caller did with it)
            log.exception("stream to %s: an answer's handler failed", self.peer)
        return True

    def _expired(self, rids: list[int]) -> None:
        """Calls whose time is up: their callers get ``TimeoutError``; a call still being
        sent means the peer stopped reading, so the stream closes (the send then fails)."""
        for rid in rids:
            if self._tell(rid, TimeoutError()):
                continue
            fut = self._pending.get(rid)
            if rid in self._sending:
                if self._closer is None:
                    log.debug("stream to %s: a call not taken in time: closed", self.peer)
                    self.open = False
                    self._closer = asyncio.create_task(close_ws(self.ws))
            elif fut is not None and not fut.done():
                fut.set_exception(TimeoutError())

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.ERROR:
                    break
                if msg.type != aiohttp.WSMsgType.BINARY:
                    raise FrameError(f"a {msg.type.name} message", proven=False)
                frame = envelope(self.codec.open(msg.data), MAX_ANSWER + ENVELOPE)
                for rid, status, body in frames.answers(frame):
                    if self._told and self._tell(rid, (status, body)):
                        continue
                    fut = self._pending.get(rid)
                    if fut is not None and not fut.done():
                        fut.set_result((status, body))
        except FrameError as e:
            log.warning("stream to %s: %s: closed", self.peer, e)
            if e.proven:
                self.on_bad(self.peer)
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as e:
            log.debug("stream to %s broke: %s", self.peer, e)
        finally:
            self._down()
            await close_ws(self.ws)

    def _down(self) -> None:
        """The stream ended: every call not yet answered gets ``StreamDown``."""
        self.open = False
        self._deadlines.close()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(StreamDown("the stream closed"))
        for rid in list(self._told):
            self._tell(rid, StreamDown("the stream closed"))

    async def close(self) -> None:
        self.open = False
        await cancel_all([self._reader])
        self._down()  # (a reader cancelled before it first ran never ran its ``finally``)
        await close_ws(self.ws)
