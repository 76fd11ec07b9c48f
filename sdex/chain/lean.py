"""JSON-RPC POSTs over plain ``http.client`` keep-alive connections, for ``sdex.chain.rpc``.

``requests`` costs ~0.9-1.5 ms of CPU a call on this machine (its session merges the
environment's proxy settings, prepares the URL, walks adapters and hooks on every request);
``http.client`` ~0.2 ms (``bench/rpc_call.py``). The settlement thread's sends and receipt
asks go through the sync client hundreds of times a second, and every millisecond it holds
the GIL is one the event loop waits for (receipt20, docs/BENCHMARKS.md). Used for a plain
``http://`` endpoint that no proxy setting of the environment covers (read once, when the
client is made); every other URL keeps ``requests`` (TLS, proxies).

What ``requests`` gave and this keeps: answers read against the call's deadline
(``sdex.chain.deadline.within``: the same deadline-aware response class), a kept-alive
connection that the server closed while idle is not written to (checked before reuse, as
urllib3 does), connections are never shared by two threads at once (a small free list), a
non-2xx answer raises ``requests.HTTPError`` and a connection that fails raises
``requests.ConnectionError`` (callers catch ``requests.RequestException``).
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies

from sdex.chain.deadline import _connect_by, _DeadlineResponse, within
from sdex.redirects import REDIRECTS

_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
MAX_IDLE_CONNECTIONS = 4
"""Kept-alive connections kept for reuse (one thread uses one at a time)."""


class _Response(_DeadlineResponse):
    def _safe_read(self, amt: int) -> bytes:
        # ``http.client`` (3.11) takes a chunk size of "-1" as given: ``fp.read(-1)`` then
        # reads to the end of the stream, however long; a negative size is no chunk at all.
        if amt < 0:
            raise http.client.IncompleteRead(b"")
        return super()._safe_read(amt)  # type: ignore[misc,no-any-return]


class _Conn(http.client.HTTPConnection):
    response_class = _Response
    deadline: float | None = None
    """When a connect, name resolution and all (``_connect_by``), must be done
    (``time.monotonic()``), set before each ``connect``; None: the connect's own timeout from
    now (wallet74: ``http.client`` resolved the name with no bound at all)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._create_connection = self._connect_within

    def _connect_within(
        self, address: tuple[str, int], timeout: float, source: tuple[str, int] | None = None
    ) -> socket.socket:
        deadline = time.monotonic() + timeout if self.deadline is None else self.deadline
        return _connect_by(deadline, *address, timeout, source, None)


class LeanPost:
    """POSTs of JSON bodies to one plain-HTTP URL; ``post`` returns the answer's bytes."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"not a plain http URL: {url!r}")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 80
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._idle: list[tuple[_Conn, float]] = []  # (connection, when last used)
        self._lock = threading.Lock()

    @staticmethod
    def serves(url: str) -> bool:
        """Whether ``url`` is plain http that no proxy of the environment covers."""
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            return False
        try:
            proxies = get_environ_proxies(url)
        except Exception:  # (a malformed proxy setting: leave it to requests)
            return False
        return not (proxies.get("http") or proxies.get("all"))

    def _take(self, idle_reuse: float, timeout: float) -> _Conn:
        now = time.monotonic()
        with self._lock:
            while self._idle:
                conn, used = self._idle.pop()
                if now - used <= idle_reuse and not _dropped(conn):
                    conn.timeout = timeout  # (for a connect anew)
                    return conn
                conn.close()
        return _Conn(self.host, self.port, timeout=timeout)

    def _give_back(self, conn: _Conn) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def post(
        self,
        body: bytes,
        connect_timeout: float,
        read_timeout: float,
        deadline: float,
        limit: int,
        idle_reuse: float,
    ) -> bytes | None:
        """POST ``body``; the answer's body (at most ``limit`` + 1 bytes), or None when
        ``deadline`` (``time.monotonic()``) passed first, or a read waited ``read_timeout``
        (the connection is then closed; the request's fate unknown). ``connect_timeout``
        bounds a new connection; ``idle_reuse``: seconds a kept-alive connection may have
        sat unused and still be written to."""
        conn = self._take(idle_reuse, connect_timeout)
        keep = False
        try:
            try:
                if conn.sock is None:
                    conn.deadline = deadline
                    conn.connect()
                assert conn.sock is not None
                conn.sock.settimeout(read_timeout)
            except TimeoutError:
                raise requests.ConnectTimeout(f"{self.url}: no connection in time") from None
            except OSError as e:
                raise requests.ConnectionError(f"{self.url}: {e or type(e).__name__}") from e
            try:
                conn.request("POST", self.target, body, _HEADERS)
                with within(deadline):
                    resp = conn.getresponse()
                    raw = resp.read(limit + 1)
            except TimeoutError:
                return None
            except (OSError, http.client.HTTPException) as e:
                raise requests.ConnectionError(f"{self.url}: {e or type(e).__name__}") from e
            if time.monotonic() > deadline:
                return None
            if resp.status in REDIRECTS:  # (never followed: ``sdex.chain.rpc.not_followed``)
                where = (resp.getheader("Location") or "")[:120]
                raise requests.HTTPError(
                    f"{self.url} answered HTTP {resp.status}, a redirect to {where!r}: "
                    "not followed (give that URL)"
                )
            if not 200 <= resp.status < 300:
                raise requests.HTTPError(f"{resp.status} {resp.reason} for url: {self.url}")
            keep = not resp.will_close and resp.isclosed()  # (read to the end: reusable)
            return raw
        finally:
            if keep:
                self._give_back(conn)
            else:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


def _dropped(conn: _Conn) -> bool:
    """Whether a kept-alive connection can no longer be written to: closed, or readable
    while no answer is due (the server closed it, or sent junk)."""
    if conn.sock is None:
        return False  # (not connected yet, or closed cleanly: ``request`` connects anew)
    try:  # (poll, not select: a node serving many clients has descriptors past 1024)
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
