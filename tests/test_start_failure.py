"""A start that fails closes everything it opened: the store (its writer thread, its SQLite
connections), the settlement chain thread, the chain clients.

Before (leftovers17), ``Node.prepare`` failing after it had opened the store (a bad node key
file, the chain failing a read, ...) closed only the chain clients (``serve``:
``close_clients``): the store's writer thread and connections were left open, and so was
a ``Store`` whose binding to the chain failed after its writer started."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.node.main import serve
from sdex.order import Domain
from sdex.store import ChainIdentity, Store, StoreError
from tests.conftest import Chain
from tests.nodeutil import node_config
from tests.rpcfault import Answer, _proxy

OPENED = ("sdex-store", "sdex-settle")
"""The names of the threads a start opens (the store's writer, the settlement chain's)."""


def _threads() -> dict[str, int]:
    names = [t.name for t in threading.enumerate()]
    return {p: sum(n.startswith(p) for n in names) for p in OPENED}


@contextmanager
def _latest_fails(upstream: str) -> Iterator[str]:
    """A proxy whose answer to ``eth_getBlockByNumber("latest")``, the read ``prepare`` makes
    after it opened the store, is a JSON-RPC error."""

    def intercept(req: object) -> Answer | None:
        if isinstance(req, dict) and req.get("params", [None])[:1] == ["latest"]:
            body = {"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32000, "message": "x"}}
            return 200, json.dumps(body).encode()
        return None

    with _proxy(upstream, intercept) as url:
        yield url


@pytest.mark.parametrize("failure", ["bad node key file", "chain read fails", "port unusable"])
async def test_a_failed_start_closes_what_it_opened(
    chain: Chain, tmp_path: Path, failure: str
) -> None:
    cfg = node_config(chain, tmp_path / "n.db")
    before = _threads()
    with _latest_fails(chain.deployment.rpc) as failing_rpc, socket.socket() as holder:
        if failure == "bad node key file":
            cfg.node_key_path.write_text("not a key\n")
        elif failure == "chain read fails":
            cfg = replace(cfg, rpc=failing_rpc)
        else:  # another socket listens on the node's loopback port: the bind fails
            holder.bind((cfg.host, 0))
            holder.listen()
            cfg = replace(cfg, port=holder.getsockname()[1])
        with pytest.raises(Exception) as raised:
            async with serve(cfg):
                raise AssertionError("started")
    assert not isinstance(raised.value, AssertionError), raised.value
    assert _threads() == before, (failure, raised.value)
    with sqlite3.connect(cfg.db, timeout=0) as db:  # no connection left holding the file
        db.execute("BEGIN EXCLUSIVE")
        db.execute("ROLLBACK")


def test_a_store_that_fails_to_bind_closes_its_writer(tmp_path: Path) -> None:
    """A database whose ``meta`` table is not a node's: ``Store`` raises, its writer thread
    and connections closed."""
    path = tmp_path / "bad.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT)")
    domain = Domain(31337, "0x" + "ab" * 20)
    before = _threads()
    with pytest.raises(StoreError):
        Store(path, ChainIdentity(31337, "0x" + "ab" * 20, "0x" + "cd" * 32), domain)
    assert _threads() == before
