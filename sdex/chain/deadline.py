"""A ``requests`` session whose answers are read against one deadline per call.

``requests`` bounds each socket read by its timeout, not a call as a whole: an endpoint that
sends its answer (status line, headers or body) a byte at a time, each within the read
timeout, is never done. Here every socket read of an answer waits at most until the call's
deadline (``within``): the socket's timeout is set, before each ``recv``, to what is left of
it, and a read that starts past it raises ``TimeoutError``. ``urllib3`` turns either into its
``ReadTimeoutError`` (``requests``' ``ReadTimeout`` in the header phase) and closes the
connection, so it is never reused.

Why not a watchdog thread that shuts the socket down at the deadline: a ``threading.Timer``
per call costs a thread start (tens of microseconds) on a path that makes hundreds of calls a
second, and a watchdog that fires as a call ends races the next call, which may reuse the
same connection. Deadline-aware reads need no thread and no lock: the cost is a clock read
and a ``settimeout`` per ``recv`` (an answer is one or two).

The same deadline bounds the call's connect and its request's sends (wallet69): each address
a name resolves to is tried with what is left of it (``urllib3`` gives each the whole connect
timeout: a name with N addresses that never answer held a call N times its timeout), and each
``sendall`` is given what is left (each was given the connect timeout: a slow connect, then a
body read slowly by the other end, held a call well past its deadline). And the name's
resolution (wallet74: ``getaddrinfo`` blocks and takes no timeout, so a name whose resolver
never answers held a call as long as the system's resolver cared to, past any deadline): a
host that is not an IP literal is resolved in a thread of its own, waited for until the
deadline (``resolve``). The node's async client (``sdex.chain.arpc.BoundedResolver``) looks
names up through the same threads (``lookup``: left75, aiohttp's own lookups held the loop's
default executor).

The deadline is passed through a thread-local (``within``): ``requests`` gives no way to hand
a value to the connection that will read the answer. Only sessions made by ``session()``
look at it.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import io
import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.util.connection import allowed_gai_family

_local = threading.local()


@contextmanager
def within(deadline: float) -> Iterator[None]:
    """Answers read by this thread's ``session()`` requests in the block end by ``deadline``
    (``time.monotonic()``)."""
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = None


class _DeadlineIO(io.RawIOBase):
    """The socket's reads, each given at most what is left until ``deadline``."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline
        per_read = sock.gettimeout()
        self._per_read = float("inf") if per_read is None else per_read

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the call's deadline passed")
        self._sock.settimeout(min(self._per_read, left))
        return self._raw.readinto(b)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()  # (the socket's own reference from ``makefile``)
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        deadline: float | None = getattr(_local, "deadline", None)
        if deadline is not None:
            raw = self.fp.detach()  # (nothing buffered yet: the answer is read after this)
            self.fp = io.BufferedReader(_DeadlineIO(raw, sock, deadline))


def _left(deadline: float) -> float:
    """What is left until ``deadline``; ``TimeoutError`` if nothing is."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the call's deadline passed")
    return left


MAX_RESOLVING = 8
"""Name lookups in flight at once, at most (``resolve``). A lookup past its call's deadline
goes on in its thread until the system's resolver gives up (a thread cannot be stopped): this
bounds the threads a resolver that never answers can hold; past it a call is refused at once.
Calls for one name share one lookup."""


class ResolveTimeout(TimeoutError):
    """A host name not resolved by the call's deadline (``resolve``)."""

    def __init__(self, host: str, why: str) -> None:
        super().__init__(f"the host name {host[:80]!r} {why}")
        self.host = host[:80]


class LookupsFull(ResolveTimeout):
    """A name not looked up at all: its pool's lookups were all in flight, or no thread
    could be started (``Lookups.lookup``). This node's shortage, not the name's owner's
    failure (sybil77: a peer reached by name had each call refused so counted against it
    while others' names hung, and was evicted)."""


def resolve_timeout_in(e: BaseException) -> ResolveTimeout | None:
    """The ``ResolveTimeout`` that caused ``e`` (``requests`` and ``urllib3`` wrap it twice:
    a ``MaxRetryError``'s ``reason``, then that error's cause), if one did."""
    seen: list[BaseException] = []
    todo: list[object] = [e]
    while todo and len(seen) < 16:
        err = todo.pop()
        if not isinstance(err, BaseException) or err in seen:
            continue
        if isinstance(err, ResolveTimeout):
            return err
        seen.append(err)
        todo += [err.__cause__, err.__context__, getattr(err, "reason", None), *err.args[:1]]
    return None


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.partition("%")[0])  # (an IPv6 scope id: fe80::1%eth0)
    except ValueError:
        return False
    return True


class Lookups:
    """Name lookups, each in a daemon thread of its own, at most ``cap`` in flight (past them
    ``ResolveTimeout`` at once); calls for one name share one lookup. A pool of its own for
    each kind of name: the node's own (its chain's, the operator's: ``CHAIN``) and names
    peers gave (``sdex.chain.arpc.PEER_LOOKUPS``), so a peer's names that never resolve
    hold none of the lookups the chain client needs (reads77)."""

    def __init__(self, cap: int, name: str) -> None:
        self.cap = cap
        self.name = name
        self.held: dict[tuple[str, int, int], concurrent.futures.Future[list[Any]]] = {}
        """The lookups in flight, by (host, port, family)."""
        self._lock = threading.Lock()

    def _run(self, key: tuple[str, int, int], done: concurrent.futures.Future[list[Any]]) -> None:
        host, port, family = key
        try:
            done.set_result(socket.getaddrinfo(host, port, family, socket.SOCK_STREAM))
        except BaseException as e:  # (handed to the waiting call, raised there)
            done.set_exception(e)
        finally:
            with self._lock:
                self.held.pop(key, None)

    def lookup(self, host: str, port: int, family: int) -> concurrent.futures.Future[list[Any]]:
        """``socket.getaddrinfo(host, port, family, SOCK_STREAM)`` in a daemon thread of its
        own, or the one in flight for the same arguments; ``ResolveTimeout`` at once when
        ``cap`` are in flight. Never cancel what it returns: others may share it."""
        key = (host, port, family)
        with self._lock:
            done = self.held.get(key)
            if done is None:
                if len(self.held) >= self.cap:
                    raise LookupsFull(
                        host,
                        f"was not looked up: {self.cap} {self.name} lookups are still unanswered",
                    )
                done = self.held[key] = concurrent.futures.Future()
                thread = threading.Thread(
                    target=self._run, args=(key, done), name="sdex-resolve", daemon=True
                )
                try:
                    thread.start()
                except RuntimeError as e:  # (out of threads: left76, the name's lookup and
                    del self.held[key]  # its slot were held for good, its future unanswered)
                    raise LookupsFull(
                        host, f"was not looked up: no thread could be started for it ({e})"
                    ) from e
        return done


CHAIN = Lookups(MAX_RESOLVING, "chain")
"""The node's own names' lookups (its chain RPC's, a wallet's node): ``lookup``, ``resolve``."""
lookup = CHAIN.lookup


def resolve(host: str, port: int, family: int, deadline: float) -> list[Any]:
    """``socket.getaddrinfo(host, port, family, SOCK_STREAM)``, given until ``deadline``
    (``time.monotonic()``): ``TimeoutError`` past it. An IP literal is resolved here, at once
    (no lookup); a name in a daemon thread (``lookup``; ``ResolveTimeout`` at once if none
    can be started)."""
    if _literal(host):
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    done = lookup(host, port, family)
    try:
        return done.result(timeout=_left(deadline))
    except concurrent.futures.TimeoutError:
        raise ResolveTimeout(
            host, "was not resolved in time (its resolver did not answer)"
        ) from None


def _connect_by(
    deadline: float,
    host: str,
    port: int,
    per_try: float | None,
    source: tuple[str, int] | None,
    options: Any,
) -> socket.socket:
    """``urllib3.util.connection.create_connection``, but each address ``host`` resolves to is
    tried with at most what is left until ``deadline`` (and ``per_try``)."""
    err: OSError | None = None
    family = allowed_gai_family()
    for af, kind, proto, _, address in resolve(host.strip("[]"), port, family, deadline):
        sock = socket.socket(af, kind, proto)
        try:
            for option in options or ():
                sock.setsockopt(*option)
            left = _left(deadline)
            sock.settimeout(left if per_try is None else min(per_try, left))
            if source:
                sock.bind(source)
            sock.connect(address)
            sock.settimeout(min(sock.gettimeout() or float("inf"), _left(deadline)))
            return sock  # (what is left bounds what follows: a TLS handshake, the first send)
        except OSError as e:
            sock.close()
            if isinstance(e, TimeoutError) and time.monotonic() >= deadline:
                raise  # (nothing left for the next address)
            err = e
    raise err if err is not None else OSError("getaddrinfo returned no address")


class _Conn(HTTPConnection):
    """A connection whose connect, sends and reads end by the thread's deadline (``within``)."""

    response_class = _DeadlineResponse

    def _new_conn(self) -> socket.socket:
        deadline: float | None = getattr(_local, "deadline", None)
        if deadline is None:
            return super()._new_conn()
        per_try = self.timeout if isinstance(self.timeout, (int, float)) else None
        try:  # (urllib3's own errors for each failure, as its ``_new_conn`` gives them)
            self.host.encode("idna")
            sock = _connect_by(
                deadline, self._dns_host, self.port or 80, per_try,
                self.source_address, self.socket_options,
            )  # fmt: skip
        except UnicodeError:
            raise LocationParseError(f"'{self.host}', label empty or too long") from None
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e
        except TimeoutError as e:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from e
        except OSError as e:
            raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock

    def send(self, data: Any) -> None:
        deadline: float | None = getattr(_local, "deadline", None)
        if deadline is not None:
            if self.sock is None:  # (``http.client`` connects at the first send)
                self.connect()
            assert self.sock is not None
            per_op = self.sock.gettimeout()
            left = _left(deadline)
            self.sock.settimeout(left if per_op is None else min(per_op, left))
        super().send(data)


class _TLSConn(_Conn, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Conn


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConn


_POOLS = {"http": _Pool, "https": _TLSPool}


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if type(manager) is ProxyManager:  # (not SOCKS: its connections are its own)
            manager.pool_classes_by_scheme = _POOLS
        return manager


def session() -> requests.Session:
    """A ``requests.Session`` whose answers honour ``within``."""
    s = requests.Session()
    adapter = _Adapter()
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def read_body(resp: requests.Response, deadline: float, limit: int) -> bytes | None:
    """``resp``'s body, at most ``limit`` + 1 bytes (the caller's size check sees the excess);
    None when ``deadline`` (``time.monotonic()``) passed first, checked between chunks too,
    whatever the connection's reads do (a plain session bounds each read only)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = resp.raw.read1(min(1 << 16, limit + 1 - size), decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            return None
    return b"".join(chunks)
