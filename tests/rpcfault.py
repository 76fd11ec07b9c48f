"""JSON-RPC proxies on loopback in front of the test chain: one that answers one method with
a fault (a method-allowlist proxy's HTTP 403, a JSON-RPC error, a slow refusal), one that
holds the chain reads a node's start makes, one that holds a chosen request (``Gate``); all
forward everything else."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sdex.keccak import keccak

Answer = tuple[int, bytes]
"""An HTTP status and body the proxy answers instead of forwarding."""


@contextmanager
def _proxy(upstream: str, intercept: Callable[[object], Answer | None]) -> Iterator[str]:
    """The URL of a proxy to ``upstream``: each request's JSON goes to ``intercept`` first
    (which may wait), whose answer is sent instead of forwarding when it gives one."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            answer = intercept(json.loads(body))
            if answer is None:
                fwd = urllib.request.Request(
                    upstream, body, {"Content-Type": "application/json"}, method="POST"
                )
                with urllib.request.urlopen(fwd, timeout=30) as resp:
                    answer = (resp.status, resp.read())
            status, data = answer
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def forwarded(upstream: str, req: object) -> Any:
    """``req`` (a call or a batch) sent to ``upstream`` as it is: the JSON it answers."""
    headers = {"Content-Type": "application/json"}
    fwd = urllib.request.Request(upstream, json.dumps(req).encode(), headers)
    with urllib.request.urlopen(fwd, timeout=30) as resp:
        return json.loads(resp.read())


def raw_sends(req: object) -> tuple[list[dict[str, object]], list[str]]:
    """A request's calls (one, or a batch's), and the raw transactions its sends
    (``eth_sendRawTransaction``, ``...Sync``) carry."""
    calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
    raws = [
        str((c.get("params") or [""])[0])
        for c in calls
        if str(c.get("method", "")).startswith("eth_sendRaw")
    ]
    return calls, raws


def lone_send(req: object) -> str | None:
    """The hash of the raw transaction a lone send (``eth_sendRaw...``, not in a batch)
    carries; None for any other request."""
    if not isinstance(req, dict) or not str(req.get("method", "")).startswith("eth_sendRaw"):
        return None
    raw = str((req.get("params") or [""])[0])
    return "0x" + keccak(bytes.fromhex(raw.removeprefix("0x"))).hex()


@contextmanager
def faulty_proxy(upstream: str, method: str, fault: str) -> Iterator[str]:
    """The URL of a proxy to ``upstream`` whose answer to ``method`` is ``fault``: "403",
    "-32600", "-32000" (JSON-RPC errors) or "slow" (-32601 after 0.8 s)."""

    def intercept(req: object) -> Answer | None:
        if not (isinstance(req, dict) and req.get("method") == method):
            return None
        if fault == "403":
            return 403, b"forbidden"
        if fault == "slow":
            time.sleep(0.8)
        code = -32601 if fault == "slow" else int(fault)
        error = {"code": code, "message": "Unsupported method / method not allowed"}
        return 200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": error}).encode()

    with _proxy(upstream, intercept) as url:
        yield url


DOMAIN_SELECTOR = "0x84b0196e"
"""``eip712Domain()``: the one ``eth_call`` a node makes before it loads its stored orders."""


@contextmanager
def holding_proxy(upstream: str) -> Iterator[tuple[str, threading.Event]]:
    """The URL of a proxy to ``upstream`` that holds every ``eth_call`` but ``eip712Domain()``
    (alone or in a batch) until the event it yields is set (at most 60 s), and forwards the
    rest at once: a node whose start reads its stored orders' state waits there."""
    release = threading.Event()

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        for c in calls:
            if isinstance(c, dict) and c.get("method") == "eth_call":
                data = str((c.get("params") or [{}])[0].get("data") or "")
                if not data.startswith(DOMAIN_SELECTOR):
                    release.wait(60)
                    break
        return None

    with _proxy(upstream, intercept) as url:
        try:
            yield url, release
        finally:
            release.set()  # (before the server closes: it joins its handlers' threads)


@contextmanager
def stamping_proxy(upstream: str) -> Iterator[tuple[str, dict[int, int]]]:
    """The URL of a proxy to ``upstream`` that answers every block it serves whose number is
    a key of the dict it yields with that value added to its ``timestamp`` (alone or in a
    batch): an endpoint lying about one block's time, its hash kept."""
    lies: dict[int, int] = {}

    def stamped(block: object) -> None:
        number = block.get("number") if isinstance(block, dict) else None
        if isinstance(number, str) and (more := lies.get(int(number, 16))) is not None:
            assert isinstance(block, dict)
            block["timestamp"] = hex(int(block["timestamp"], 16) + more)

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        if not any(
            isinstance(c, dict) and str(c.get("method", "")).startswith("eth_getBlockBy")
            for c in calls
        ):
            return None
        fwd = urllib.request.Request(
            upstream, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            status, answer = resp.status, json.loads(resp.read())
        for a in answer if isinstance(answer, list) else [answer]:
            if isinstance(a, dict):
                stamped(a.get("result"))
        return status, json.dumps(answer).encode()

    with _proxy(upstream, intercept) as url:
        yield url, lies


Calls = list[dict[str, object]]
"""A request's calls (one, or a batch's)."""

HOLD = 60.0
"""Seconds at most a ``Gate`` holds the request it caught."""
NOT_HUNG = 2 * HOLD
"""A watcher's ``stall`` (``sdex.watch.loop.STALL``, 5 s) for a test whose ``Gate`` holds one
of its polls' reads: the hold is a slow read, not a hung chain. flake78b: at 5 s a hold that
a loaded machine stretched past it (the test's own steps between its hold and its orders)
had the watcher say ``unreachable``, and intake refused the test's order 503 "it cannot
reach the chain" (as it should of a hung chain: left33)."""


@dataclass
class Gate:
    """Holds the first request ``picks`` chooses once ``armed`` is set (at most ``HOLD``), until
    ``release``; ``held`` is set when it caught one. ``fail`` (as it is released): answered
    with a JSON-RPC error instead of forwarded (a chain outage)."""

    picks: Callable[[Calls], bool]
    fail: bool = False
    armed: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def head_polls(calls: Calls) -> bool:
    """``calls`` hold the watcher's poll of the chain's head (a ``Gate``'s ``picks``)."""
    return any(call.get("params") == ["latest", False] for call in calls)


def sends(calls: Calls) -> bool:
    """``calls`` send a raw transaction (``eth_sendRawTransaction``, ``...Sync``: a ``Gate``'s
    ``picks``)."""
    return any(str(call.get("method", "")).startswith("eth_sendRaw") for call in calls)


def reads_from(below: list[int]) -> Callable[[Calls], bool]:
    """A ``Gate``'s ``picks``: the watcher's reads of block ``below[0]`` or above (its header
    by number, or logs up to it), the number set once it is known."""

    def picks(calls: Calls) -> bool:
        for call in calls:
            p = call.get("params")
            if not isinstance(p, list) or not p:
                continue
            if call.get("method") == "eth_getBlockByNumber" and p[0] == hex(below[0]):
                return True
            logs = call.get("method") == "eth_getLogs" and isinstance(p[0], dict)
            if logs and int(str(p[0].get("toBlock", "0x0")), 16) >= below[0]:
                return True
        return False

    return picks


def replays_from(block: int) -> Callable[[Calls], bool]:
    """A ``Gate``'s ``picks``: a reset's first read, its logs from ``block`` (the deployment
    block)."""
    start = hex(block)

    def picks(calls: Calls) -> bool:
        logs = [call.get("params") for call in calls if call.get("method") == "eth_getLogs"]
        return any(isinstance(p, list) and p[0].get("fromBlock") == start for p in logs)

    return picks


def _errors(req: object) -> object:
    """A JSON-RPC error answer to each call of ``req`` (one, or a batch's)."""
    calls = req if isinstance(req, list) else [req]
    error = {"code": -32000, "message": "upstream unavailable"}
    out = [
        {"jsonrpc": "2.0", "id": c.get("id"), "error": error} for c in calls if isinstance(c, dict)
    ]
    return out if isinstance(req, list) else out[0]


def gates_answer(gates: list[Gate], req: object, lock: threading.Lock) -> Answer | None:
    """(A proxy's ``intercept``) ``req`` held by each of ``gates`` that picks it (``Gate``),
    one after another, ``lock`` guarding their catch: a failing gate's error answer once it
    is released, else None (forwarded)."""
    calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
    for g in gates:
        with lock:
            caught = g.armed.is_set() and not g.held.is_set() and g.picks(calls)
            if caught:
                g.held.set()
        if caught:
            g.release.wait(HOLD)
            if g.fail:
                return 200, json.dumps(_errors(req)).encode()
    return None


@contextmanager
def gated_proxy(upstream: str, gates: list[Gate]) -> Iterator[str]:
    """The URL of a proxy to ``upstream`` holding each of ``gates``' request (``Gate``)."""
    lock = threading.Lock()
    with _proxy(upstream, lambda req: gates_answer(gates, req, lock)) as url:
        try:
            yield url
        finally:
            for g in gates:  # (before the server closes: it joins its handlers' threads)
                g.release.set()


@contextmanager
def flapping_proxy(
    upstream: str, number: int, wrong: str, at: int = 1
) -> Iterator[tuple[str, list[int]]]:
    """The URL of a proxy to ``upstream`` whose ``at``-th answer to ``eth_getBlockByNumber``
    of block ``number`` (alone) gives ``wrong`` for its hash, the rest forwarded; and a list
    holding the count of such answers given (an endpoint that flapped once)."""
    told, asked = [0], [0]

    def intercept(req: object) -> Answer | None:
        if told[0] or not isinstance(req, dict) or req.get("method") != "eth_getBlockByNumber":
            return None
        if (req.get("params") or [None])[0] != hex(number):
            return None
        asked[0] += 1
        if asked[0] != at:
            return None
        fwd = urllib.request.Request(
            upstream, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            status, answer = resp.status, json.loads(resp.read())
        answer["result"]["hash"] = wrong
        told[0] += 1
        return status, json.dumps(answer).encode()

    with _proxy(upstream, intercept) as url:
        yield url, told


@contextmanager
def stale_logs_proxy(
    upstream: str,
) -> Iterator[tuple[str, list[dict[str, object]], list[int]]]:
    """The URL of a proxy to ``upstream`` whose every ``eth_getLogs`` answer (alone or in a
    batch) also holds the logs of the list it yields that fall in the asked range and
    addresses (one backend of an endpoint still on an older chain, answering the logs while
    the other answers the headers); and a list holding the count of answers given so."""
    stale: list[dict[str, object]] = []
    told = [0]

    def wanted(filt: dict[str, object]) -> list[dict[str, object]]:
        lo, hi = int(str(filt["fromBlock"]), 16), int(str(filt["toBlock"]), 16)
        addresses = {str(a).lower() for a in filt.get("address") or []}  # type: ignore[attr-defined]
        return [
            lg
            for lg in stale
            if lo <= int(str(lg["blockNumber"]), 16) <= hi
            and (not addresses or str(lg["address"]).lower() in addresses)
        ]

    def intercept(req: object) -> Answer | None:
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        logs = {c["id"]: c["params"][0] for c in calls if c.get("method") == "eth_getLogs"}
        if not stale or not logs:
            return None
        fwd = urllib.request.Request(
            upstream, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            status, answer = resp.status, json.loads(resp.read())
        for a in answer if isinstance(answer, list) else [answer]:
            ours = isinstance(a, dict) and isinstance(a.get("result"), list)
            if ours and a.get("id") in logs and (more := wanted(logs[a["id"]])):
                a["result"] = [*more, *a["result"]]
                told[0] += 1
        return status, json.dumps(answer).encode()

    with _proxy(upstream, intercept) as url:
        yield url, stale, told


@contextmanager
def side_block_proxy(upstream: str, block: dict[str, object]) -> Iterator[str]:
    """The URL of a proxy to ``upstream`` that answers ``eth_getBlockByHash`` of ``block``'s
    hash (alone) with ``block``: an endpoint serving a block by hash that is not its chain's
    (geth keeps a replaced branch's blocks; a backend still on an older chain)."""
    wanted = str(block["hash"]).lower()

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, dict) or req.get("method") != "eth_getBlockByHash":
            return None
        if str((req.get("params") or [""])[0]).lower() != wanted:
            return None
        return 200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": block}).encode()

    with _proxy(upstream, intercept) as url:
        yield url


@contextmanager
def nulling_proxy(
    upstream: str, number: int, at: int = 1, in_batch: bool = False, times: int = 2**62
) -> Iterator[tuple[str, list[int]]]:
    """The URL of a proxy to ``upstream`` that answers ``eth_getBlockByNumber`` of block
    ``number`` (alone; ``in_batch``: in a batch instead, its other calls forwarded) with
    null from its ``at``-th ask on, ``times`` times at most (a backend still below it), the
    rest forwarded; and a list holding the count of such answers given."""
    told, asked = [0], [0]
    lock = threading.Lock()

    def nulled(call: object) -> bool:  # (the lock held)
        if not isinstance(call, dict) or call.get("method") != "eth_getBlockByNumber":
            return False
        if (call.get("params") or [None])[0] != hex(number):
            return False
        asked[0] += 1
        if asked[0] < at or told[0] >= times:
            return False
        told[0] += 1
        return True

    def intercept(req: object) -> Answer | None:
        if isinstance(req, list) != in_batch:
            return None
        if isinstance(req, list):
            with lock:
                ids = {c.get("id") for c in req if isinstance(c, dict) and nulled(c)}
            if not ids:
                return None
            fwd = urllib.request.Request(
                upstream, json.dumps(req).encode(), {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(fwd, timeout=30) as resp:
                status, answer = resp.status, json.loads(resp.read())
            for a in answer if isinstance(answer, list) else []:
                if isinstance(a, dict) and a.get("id") in ids:
                    a["result"] = None
            return status, json.dumps(answer).encode()
        with lock:
            if not isinstance(req, dict) or not nulled(req):
                return None
        return 200, json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": None}).encode()

    with _proxy(upstream, intercept) as url:
        yield url, told


def _answering(
    upstream: str, req: object, answer: Callable[[object], dict[str, object] | None]
) -> Answer | None:
    """``req`` (a call or a batch) with the calls ``answer`` answers answered by it and the
    batch's others forwarded to ``upstream``, in the batch's order; None (all forwarded)
    when it answers none."""
    calls = req if isinstance(req, list) else [req]
    answered = {id(c): a for c in calls if (a := answer(c)) is not None}
    if not answered:
        return None
    if not isinstance(req, list):
        return 200, json.dumps(answered[id(req)]).encode()
    rest = [c for c in calls if id(c) not in answered]
    got = json.loads(_forward(upstream, rest)[1]) if rest else []
    by_id = {a.get("id"): a for a in got if isinstance(a, dict)}
    out = [answered.get(id(c)) or by_id.get(c.get("id")) for c in calls]
    return 200, json.dumps(out).encode()


@contextmanager
def dropping_proxy(upstream: str, drops: Callable[[str], bool]) -> Iterator[tuple[str, list[str]]]:
    """The URL of a proxy to ``upstream`` that answers a send (``eth_sendRawTransaction``,
    alone or in a batch, the batch's other calls forwarded) of a raw transaction ``drops``
    chooses with its hash, as taken, and forwards nothing of it (an endpoint whose pool drops
    it at once: one that drops what would revert); and the list of the raw transactions
    dropped so."""
    dropped: list[str] = []

    def taken(call: object) -> dict[str, object] | None:
        if not isinstance(call, dict) or call.get("method") != "eth_sendRawTransaction":
            return None
        raw = str((call.get("params") or [""])[0])
        if not drops(raw):
            return None
        dropped.append(raw)
        tx_hash = "0x" + keccak(bytes.fromhex(raw.removeprefix("0x"))).hex()
        return {"jsonrpc": "2.0", "id": call.get("id"), "result": tx_hash}

    with _proxy(upstream, lambda req: _answering(upstream, req, taken)) as url:
        yield url, dropped


OTHER_COUNT = 0x10000
"""The sender's count ``other_chain_proxy`` answers while flipped: past any nonce of ours."""


OTHER_LIES = {
    "eth_getTransactionCount": hex(OTHER_COUNT),
    "eth_getTransactionReceipt": None,
    "eth_getTransactionByHash": None,
}
"""What a backend of another chain answers of our transactions, by method."""


def other_chains(call: object) -> dict[str, object] | None:
    """A backend of another chain's answer to ``call`` (``OTHER_LIES``); None for a call of
    another method."""
    if not isinstance(call, dict) or call.get("method") not in OTHER_LIES:
        return None
    return {"jsonrpc": "2.0", "id": call.get("id"), "result": OTHER_LIES[str(call["method"])]}


@contextmanager
def other_chain_proxy(upstream: str) -> Iterator[tuple[str, threading.Event, list[int]]]:
    """The URL of a proxy to ``upstream`` that, while its event is set, answers what a
    backend of another chain would of our transactions (alone or in a batch, the batch's
    other calls forwarded): any sender's count ``OTHER_COUNT``, no receipt and no
    transaction by hash; and the count of such answers given. The answers that make a
    chain's identity doubtful (held79: its count past a settlement's nonce, its receipt
    null, counted it lost)."""
    flipped, told = threading.Event(), [0]

    def lied(call: object) -> dict[str, object] | None:
        answer = other_chains(call)
        told[0] += answer is not None
        return answer

    def intercept(req: object) -> Answer | None:
        return _answering(upstream, req, lied) if flipped.is_set() else None

    with _proxy(upstream, intercept) as url:
        yield url, flipped, told


@dataclass
class Balancer:
    """What ``retrying_balancer`` does: once ``armed``, the next request sending a raw
    transaction goes to the first backend, then again to the second, whose answer it gives
    (a balancer that took the first backend's answer for lost and tried another), and so the
    next ``sends`` - 1 too; then the next ``lagging`` requests asking for a transaction by
    hash, or the sender's pending count (alone, or in a batch), go to the second too."""

    armed: threading.Event = field(default_factory=threading.Event)
    sends: int = 1
    """Sends tried again at the second backend once armed (then disarmed)."""
    lagging: int = 1
    reads: bool = False
    """The asks by hash lag from the start, no send tried again first (a balancer whose
    reads alone meet the backend that lags: the settlement pooled at the first)."""
    retried: list[object] = field(default_factory=list)
    """The second backend's answers to the sends it was given."""
    lagged: int = 0
    """Requests for a transaction by hash answered by the second backend."""
    tried: int = 0
    """Sends tried again at the second backend."""


def _forward(url: str, req: object) -> Answer:
    fwd = urllib.request.Request(
        url, json.dumps(req).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(fwd, timeout=30) as resp:
        return resp.status, resp.read()


@contextmanager
def retrying_balancer(first: str, second: str) -> Iterator[tuple[str, Balancer]]:
    """The URL of a balancer in front of two backends, ``first`` (the chain) and ``second``
    (a node behind it: a lower count, the transactions since unknown), forwarding
    everything to ``first`` but what its ``Balancer`` says."""
    b = Balancer()
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        methods = {c.get("method") for c in calls}
        with lock:
            send = "eth_sendRawTransaction" in methods and b.armed.is_set()
            if send:
                b.tried += 1
                if b.tried >= b.sends:
                    b.armed.clear()
            asks = not send and ("eth_getTransactionByHash" in methods or _pending_count(calls))
            lag = asks and (bool(b.retried) or b.reads) and b.lagging > b.lagged
            if lag:
                b.lagged += 1
        if send:
            _forward(first, req)  # (taken there; its answer lost on the way back)
            status, body = _forward(second, req)
            b.retried.append(json.loads(body))
            return status, body
        return _forward(second, req) if lag else None

    with _proxy(first, intercept) as url:
        yield url, b


def _pending_count(calls: list[dict[str, object]]) -> bool:
    """Whether ``calls`` are a loss check asking the sender's pending count with receipts
    (settle81's asks it before, and instead of, the transaction by hash when it says the
    nonce is pooled); not the signing's read of the nonce."""
    methods = {c.get("method") for c in calls}
    pending = any(
        c.get("method") == "eth_getTransactionCount" and c.get("params", [""])[-1] == "pending"  # type: ignore[index]
        for c in calls
    )
    return pending and "eth_getTransactionReceipt" in methods


FLAPPED = {"hash": "0x" + "cd" * 32, "id": "0x1"}
"""``lagging_proxy``'s flapped answers: another hash for the deployment block, another chain's
id."""


@contextmanager
def lagging_proxy(
    upstream: str, deploy_block: int, flap: str, lie: Callable[[str, int], bool]
) -> Iterator[tuple[str, threading.Event, dict[str, int]]]:
    """The URL of a proxy to ``upstream`` that, once the event it yields is set, answers a
    lone ask of the "latest" block with block ``deploy_block`` + 1 (a replica far behind), and
    a batch's read of block ``deploy_block`` (``flap`` "hash") or of the chain id (``flap``
    "id") with ``FLAPPED``'s answer for the first such call (a load balancer's lagging
    backend): the ``n``-th such ask since (from 1) of kind "head" or ``flap`` each time
    ``lie(kind, n)`` says so, the rest forwarded. The dict it yields counts the lies told,
    by kind."""
    armed, lock = threading.Event(), threading.Lock()
    asked, lies = {"head": 0, flap: 0}, {"head": 0, flap: 0}
    deploy = hex(deploy_block)

    def told(kind: str) -> bool:
        with lock:
            asked[kind] += 1
            if not lie(kind, asked[kind]):
                return False
            lies[kind] += 1
            return True

    def flapped(call: object) -> bool:
        if not isinstance(call, dict):
            return False
        if flap == "id":
            return call.get("method") == "eth_chainId"
        read = call.get("method") == "eth_getBlockByNumber"
        return read and call.get("params", [None])[0] == deploy

    def intercept(req: object) -> Answer | None:
        if not armed.is_set():
            return None
        if isinstance(req, dict) and req.get("method") == "eth_getBlockByNumber":
            if req.get("params", [None])[0] != "latest" or not told("head"):
                return None
            return _forward(upstream, dict(req, params=[hex(deploy_block + 1), False]))
        ids = [c.get("id") for c in req if flapped(c)] if isinstance(req, list) else []
        if not ids or not told(flap):
            return None
        status, body = _forward(upstream, req)
        answer = json.loads(body)
        for a in answer:
            if a.get("id") != ids[0]:
                continue
            if flap == "id":
                a["result"] = FLAPPED["id"]
            elif isinstance(a.get("result"), dict):
                a["result"]["hash"] = FLAPPED["hash"]
        return status, json.dumps(answer).encode()

    with _proxy(upstream, intercept) as url:
        yield url, armed, lies


@contextmanager
def behind_proxy(upstream: str, lag: int = 1) -> Iterator[str]:
    """The URL of a proxy to ``upstream`` that is ``lag`` blocks behind it (a replica a block
    behind, or a node whose poll came a moment late): ``eth_blockNumber`` and every read at
    "latest" answered at the chain's head less ``lag``; the rest forwarded."""

    def head() -> str:
        _, body = _forward(upstream, {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber"})
        return hex(max(0, int(json.loads(body)["result"], 16) - lag))

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        if not any(isinstance(c, dict) and _reads_latest(c) for c in calls):
            return None
        at = head()
        answers: dict[object, object] = {}
        passed = []
        for c in calls:
            if c.get("method") == "eth_blockNumber":
                answers[c.get("id")] = {"jsonrpc": "2.0", "id": c.get("id"), "result": at}
            else:
                params = [at if p == "latest" else p for p in c.get("params") or []]
                passed.append(dict(c, params=params))
        if passed:
            _, body = _forward(upstream, passed)
            for a in json.loads(body):
                answers[a.get("id")] = a
        got = [answers[c.get("id")] for c in calls]
        return 200, json.dumps(got if isinstance(req, list) else got[0]).encode()

    with _proxy(upstream, intercept) as url:
        yield url


def _reads_latest(call: dict[str, object]) -> bool:
    params = call.get("params")
    return call.get("method") == "eth_blockNumber" or (
        isinstance(params, list) and "latest" in params
    )


@dataclass
class NoExchange:
    """What ``no_exchange_proxy`` saw; it answers as the other backend while ``armed``."""

    armed: threading.Event = field(default_factory=threading.Event)
    polls: int = 0
    """Head polls (``latest``) while armed, ours and the other backend's."""
    wrong: int = 0
    """Batches with the Exchange's code read answered as the other backend."""


@contextmanager
def no_exchange_proxy(
    upstream: str, exchange: str, below: int, failing: bool = False
) -> Iterator[tuple[str, NoExchange]]:
    """A proxy to ``upstream`` as a balancer one of whose backends has no Exchange yet (a
    devnet restarted, not deployed to; or one lagging below the deployment block): while
    armed, every other head poll answered by it, its head ``below`` (under the deployment
    block), no block there, no code at ``exchange`` (review78, signer78). ``failing``: a
    third backend's failures between (a poll in four each: ours, failed, ours, the other's)."""
    said, lock = NoExchange(), threading.Lock()

    def intercept(req: object) -> Answer | None:
        if not said.armed.is_set():
            return None
        if isinstance(req, dict) and req.get("method") == "eth_getBlockByNumber":
            if req.get("params", [None])[0] != "latest":
                return None
            with lock:
                said.polls += 1
                n = said.polls % (4 if failing else 2)
            if n == 2 and failing:  # (the failing backend)
                error = {"code": -32000, "message": "backend unavailable"}
                return 200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": error}).encode()
            if n % 2:
                return None  # (ours)
            return _forward(upstream, dict(req, params=[hex(below), False]))
        calls = req if isinstance(req, list) else []
        code = [
            call.get("id")
            for call in calls
            if isinstance(call, dict)
            and call.get("method") == "eth_getCode"
            and str(call.get("params", [""])[0]).lower() == exchange.lower()
        ]
        if not code:
            return None
        status, raw = _forward(upstream, req)
        answer = json.loads(raw)
        for a in answer:  # (that backend: no deployment block yet, no Exchange)
            if a.get("id") == code[0]:
                a["result"] = "0x"
            elif isinstance(a.get("result"), dict):
                a["result"] = None
        with lock:
            said.wrong += 1
        return status, json.dumps(answer).encode()

    with _proxy(upstream, intercept) as url:
        yield url, said


@contextmanager
def outage_proxy(upstream: str) -> Iterator[tuple[str, threading.Event]]:
    """The URL of a proxy to ``upstream`` that answers every request with a JSON-RPC error
    while the event it yields is set (the chain's backend down: its load balancer answers
    for it), and forwards everything otherwise."""
    down = threading.Event()

    def intercept(req: object) -> Answer | None:
        return (200, json.dumps(_errors(req)).encode()) if down.is_set() else None

    with _proxy(upstream, intercept) as url:
        yield url, down
