"""wallet74: a call's host name is resolved within the call's deadline (``sdex.chain.deadline
.resolve``), by a wallet's ``NodeClient`` (the CLI) and by the sync JSON-RPC client, on both its
paths (``http.client`` for plain http, ``requests`` for the rest).

Before: ``getaddrinfo`` ran on the calling thread with no bound (it takes no timeout), so
``sdex order --node http://slow-dns-name:...`` hung for as long as the system's resolver
cared to, past the call's 10 s. A resolver that hangs cannot be had for real here: glibc
takes its name servers from /etc/resolv.conf only (no environment variable names one), and
pointing the machine's resolver at a silent server would hang every other process on it.
So each case runs in a process of its own whose ``socket.getaddrinfo`` (a ``sitecustomize``
on its path) sleeps ``HANG`` seconds for ``slow-dns-name`` and resolves ``quick-dns-name`` to
127.0.0.1 at once; the node that name leads to is a real aiohttp server on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.fakenode import KEY, closed_port, fake_node

ROOT = Path(__file__).resolve().parents[1]
HANG = 40.0
"""Seconds the patched resolver takes for ``slow-dns-name`` (then it fails, as EAI_AGAIN)."""
TIMEOUT = 1.5

SITECUSTOMIZE = f"""
import atexit, socket, sys, time
_real = socket.getaddrinfo
_asked = []
def _since():
    if _asked:
        print("SINCE-LOOKUP", round(time.monotonic() - _asked[0], 2), file=sys.stderr)
atexit.register(_since)
def _getaddrinfo(host, port, *args, **kwargs):
    if host == "slow-dns-name":
        _asked.append(time.monotonic())
        time.sleep({HANG})
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    if host == "quick-dns-name":
        host = "127.0.0.1"
    return _real(host, port, *args, **kwargs)
socket.getaddrinfo = _getaddrinfo
"""


def _run(tmp_path: Path, args: list[str], **extra: str) -> tuple[float, str, int]:
    """``python args`` with the patched resolver: the seconds from its first lookup of
    ``slow-dns-name`` to its exit (the machine is shared: its start-up, ~100 modules imported,
    takes seconds at a load of 18), its output, its exit status."""
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "COLUMNS": "300", **extra}
    try:
        r = subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, timeout=HANG + 60, env=env
        )
    except subprocess.TimeoutExpired:
        return float("inf"), "(killed)", -1
    out = r.stdout + r.stderr
    since = re.search(r"SINCE-LOOKUP ([0-9.]+)", out)
    return float(since.group(1)) if since else 0.0, out, r.returncode


CALLS = {
    "wallet": (
        "from sdex.client import NodeClient\n"
        "NodeClient('http://{host}:{port}', timeout={timeout}).order_config()"
    ),
    "rpc http": (
        "from sdex.chain.rpc import Rpc\n"
        "Rpc('http://{host}:{port}', timeout={timeout}).call('eth_chainId')"
    ),
    "rpc https": (  # (``requests``: TLS is not served there; the name is what is tested)
        "from sdex.chain.rpc import Rpc\n"
        "Rpc('https://{host}:{port}', timeout={timeout}).call('eth_chainId')"
    ),
}


def _program(what: str, host: str, port: int) -> str:
    call = CALLS[what].format(host=host, port=port, timeout=TIMEOUT)
    return textwrap.dedent(f"""
        import time
        started = time.monotonic()
        try:
            {call.replace(chr(10), chr(10) + "            ")}
        except Exception as e:
            print("ERROR", type(e).__name__, e)
        else:
            print("OK")
        print("TOOK", round(time.monotonic() - started, 2))
    """)


@pytest.mark.parametrize("what", sorted(CALLS))
def test_a_name_whose_resolver_hangs_ends_by_the_calls_deadline(tmp_path: Path, what: str) -> None:
    took, out, _ = _run(tmp_path, ["-c", _program(what, "slow-dns-name", closed_port())])
    assert 0 < took < TIMEOUT + 5.0, (took, out)  # before: HANG seconds (40)
    assert "ERROR" in out and "Traceback" not in out, out
    if what == "wallet":
        assert "'slow-dns-name' was not resolved in time" in out, out
        assert f"within {TIMEOUT:g}s" in out, out


def test_a_name_that_resolves_is_still_reached(tmp_path: Path) -> None:
    """The lookup in its own thread hands the addresses back: the call is answered."""
    with fake_node() as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        _, out, _ = _run(tmp_path, ["-c", _program("wallet", "quick-dns-name", port)])
    assert "OK" in out, out


def test_the_cli_says_the_name_was_not_resolved(tmp_path: Path) -> None:
    """``sdex order`` as a real process: one line, exit 1, by its timeout (``TIMEOUT`` here,
    by ``$SDEX_WALLET_TIMEOUT``: nothing is answered in it; by default 10 s)."""
    args = ["order", "buy", "2000", "1", "--key", "0x" + KEY.hex()]
    node = f"http://slow-dns-name:{closed_port()}"
    quick = {"SDEX_WALLET_TIMEOUT": f"{TIMEOUT:g}"}
    took, out, code = _run(tmp_path, ["-m", "sdex", *args, "--node", node], **quick)
    assert code == 1, (code, out)
    assert 0 < took < TIMEOUT + 5.0, (took, out)  # before: HANG seconds
    assert "Traceback" not in out, out
    assert "'slow-dns-name' was not resolved in time" in out, out
    assert f"within {TIMEOUT:g}s" in out, out


def test_lookups_in_flight_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver that never answers holds at most ``MAX_RESOLVING`` threads: past them a call
    is refused at once. In this process, with a lookup that waits on an event."""
    import socket
    import threading

    from sdex.chain import deadline

    release = threading.Event()
    real = socket.getaddrinfo

    def stuck(host: str, *args: object, **kwargs: object) -> object:
        if host.startswith("stuck-"):
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "no")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    try:
        for i in range(deadline.MAX_RESOLVING):
            with pytest.raises(deadline.ResolveTimeout, match="not resolved in time"):
                deadline.resolve(f"stuck-{i}", 80, 0, time.monotonic() + 0.05)
        started = time.monotonic()
        with pytest.raises(deadline.ResolveTimeout, match="lookups are still unanswered"):
            deadline.resolve("stuck-more", 80, 0, time.monotonic() + 5.0)
        assert time.monotonic() - started < 1.0
        # one name asked again shares its lookup: no new thread
        with pytest.raises(deadline.ResolveTimeout, match="not resolved in time"):
            deadline.resolve("stuck-0", 80, 0, time.monotonic() + 0.05)
        assert deadline.resolve("127.0.0.1", 80, 0, time.monotonic() + 0.05)  # (no lookup)
    finally:
        release.set()
    end = time.monotonic() + 10
    while deadline.CHAIN.held and time.monotonic() < end:
        release.wait(0.05)
    assert not deadline.CHAIN.held


def test_a_lookup_whose_thread_cannot_start_holds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """left76: ``Thread.start`` failing (out of threads: ``RuntimeError``) is refused with a
    clear error, and the name's lookup is not kept: the name is looked up again once a thread
    can start, and the slot is free. A process out of threads cannot be had here without
    starving the shared machine, so ``threading.Thread.start`` is patched to raise: the only
    way to reach it. Before: the ``RuntimeError`` itself, and the name's unanswered lookup kept
    for the process's life (each later call for it "not resolved in time"), a slot taken."""
    import threading

    from sdex.chain import deadline

    real = threading.Thread.start

    def out_of_threads(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", out_of_threads)
    with pytest.raises(deadline.ResolveTimeout, match=r"no thread could be started.*new thread"):
        deadline.resolve("localhost", 80, 0, time.monotonic() + 5.0)
    assert "localhost" not in {k[0] for k in deadline.CHAIN.held}
    monkeypatch.setattr(threading.Thread, "start", real)
    assert deadline.resolve("localhost", 80, 0, time.monotonic() + 10.0)  # (looked up again)
