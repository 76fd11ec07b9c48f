"""left77: a wallet's order whose row the node could not commit within its wait (its store
stalled or refused the write) was answered 503 "the order was not stored", though the node
had taken it into its book (matched there, perhaps passed on to peers: it cannot be taken
back) and stored it once the store moved. The user, told it was not taken, signed it again:
two orders resting. The node's 503 now names the order's hash and says it holds it (it may
still be stored, and trade), and the wallet reads the order back by that hash, as it does
after a late answer (review77b), and says what is true.

A real in-process node on Hardhat whose SQLite file is held locked by the test (a real
stall of its store's writer: another process's write transaction on the node's database)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import requests
from click.testing import CliRunner

from sdex.cli import main
from tests.conftest import Chain
from tests.test_cli_node import ALICE, node
from tests.test_user25_cli_errors import key, one_line


@contextlib.contextmanager
def orders_refused(db_path: Path) -> Iterator[None]:
    """The node's database refusing every new order row until the block ends: a trigger of
    the test's own in the node's file (its writer's insert fails, as on a full or failing
    disk; the node's connection sees the schema change)."""
    db = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    try:
        db.execute(
            "CREATE TRIGGER left77_refuse BEFORE INSERT ON orders"
            " BEGIN SELECT RAISE(ABORT, 'left77: refused'); END"
        )
        yield
    finally:
        db.execute("DROP TRIGGER IF EXISTS left77_refuse")
        db.close()


def test_an_order_the_node_holds_but_did_not_store_is_read_back(
    chain: Chain, tmp_path: Path
) -> None:
    with node(chain, tmp_path) as (url, _):
        maker = ["--key", key(chain, ALICE)]
        with orders_refused(tmp_path / "n.db"):
            r = CliRunner().invoke(
                main, ["order", "buy", "1500", "0.5", "--node", url, *maker], env={"COLUMNS": "200"}
            )
        said = one_line(r.output)
        # the node took it: it rests in its book (the user, told "not stored", signed again)
        tokens = chain.deployment.tokens
        q = f"baseToken={tokens['WETH'].address}&quoteToken={tokens['USDC'].address}"
        book = requests.get(f"{url}/v1/orderbook?{q}", timeout=10).json()
        (rec,) = book["bids"]["records"]
        order_hash = rec["metaData"]["orderHash"]
        assert rec["metaData"]["status"] == "open", rec
        assert r.exit_code == 0, r.output
        assert f"answered HTTP 503: the node holds order {order_hash}" in said, said
        assert "read back, it holds the order: it was taken, not yet stored" in said, said
        assert f"order {order_hash} status open (read back)" in said, said
        # the same signed order posted again, the store taking rows: stored, answered 200
        again = requests.post(f"{url}/v1/orders", json=rec["order"], timeout=30)
        assert again.status_code == 200, again.text
        listed = requests.get(f"{url}/v1/orders?maker={rec['order']['maker']}", timeout=10)
        assert [r["metaData"]["orderHash"] for r in listed.json()["records"]] == [order_hash]
