"""What the wallet commands say where a new user trips (user29's trial, against real nodes on
the test devnet):

- ``--expiry 1h`` read "'1h' is not a valid integer range." and ``--expiry 0`` "0 is not in
  the range x>=1.": click's words, no unit; now both say it is whole seconds from now;
  ``--wait 1h`` likewise ("'1h' is not a valid float range.");
- ``sdex order sell 3000 100000`` (a slip of units: 100000 WETH from a wallet holding 1,000)
  said only "rests in the book, no match yet": the book offers what the wallet can pay, and
  nothing said so; now a note says how much of it the balance covers;
- ``sdex book`` of a node that cannot read its chain showed the book as if current, though
  the node marks the page (``chainStatus``); now a warning line says the book may be stale
  (and the console's ``book``, ``get_dump`` and ``fills`` the same);
- the console echoed ``send_order sell limit 1WETH 5`` as "got '1weth'", not what was typed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sdex.cli import main
from tests.conftest import Chain
from tests.nodeutil import free_port, node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_cli_node import node

ALICE = 1


def cli(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, env={"COLUMNS": "200"})


def one_line(text: str) -> str:
    return " ".join(text.split())


def key(c: Chain, i: int) -> str:
    return "0x" + c.keys[i].hex()


EXPIRY_SAID = "--expiry is whole seconds from now (e.g. 3600 for an hour)"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("1h", f"{EXPIRY_SAID}, got '1h'"),
        ("90m", f"{EXPIRY_SAID}, got '90m'"),
        ("1.5", f"{EXPIRY_SAID}, got '1.5'"),
        ("3_600", f"{EXPIRY_SAID}, got '3_600'"),
        ("0", "--expiry must be at least 1 second, got '0'"),
        ("-10", "--expiry must be at least 1 second, got '-10'"),
        ("9" * 40, f"{EXPIRY_SAID}, got '{'9' * 40}'"),
    ],
)
def test_an_expiry_in_other_units_says_seconds(given: str, said: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # (refused before any node is asked)
    r = cli("order", "buy", "2000", "1", "--node", dead, "--key", "0x" + "11" * 32,
            "--expiry", given)  # fmt: skip
    assert r.exit_code == 2, r.output
    assert said in one_line(r.output), r.output
    assert "integer range" not in r.output and "x>=1" not in r.output


WAIT_SAID = "--wait is seconds to wait for the settlement, 0 to 600 (e.g. 30; 0: do not wait)"


@pytest.mark.parametrize("given", ["1h", "nan", "inf", "-1", "601", "1e3", "30s", "9" * 40])
def test_a_wait_in_other_units_says_seconds(given: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    r = cli("order", "buy", "2000", "1", "--node", dead, "--key", "0x" + "11" * 32,
            "--wait", given)  # fmt: skip
    assert r.exit_code == 2, r.output
    assert f"{WAIT_SAID}, got '{given}'" in one_line(r.output), r.output


def test_an_order_larger_than_the_wallet_says_what_the_book_offers(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    held = c.weth.balance_of(c.address(ALICE))
    with node(c, tmp_path) as (url, _):
        asked = held * 100 // 10**18  # (whole WETH: a hundred times what the wallet holds)
        r = cli("order", "sell", "3000", str(asked), "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 0, r.output
        out = one_line(r.output)
        assert "rests in the book, no match yet" in out, out
        covered = f"{held // 10**18:,}".replace(",", "")
        assert (
            "note: the wallet's balance and allowance (shared by its open orders) cover "
            f"{covered} WETH of it now; the book offers that much, the rest once the wallet "
            "holds more"
        ) in out, out
        # another order of the same wallet: its balance is taken by the first
        r = cli("order", "sell", "3100", "1", "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 0, r.output
        assert (
            "note: the wallet's balance and allowance (shared by its open orders) cover none "
            "of it now; the book offers none of it until the wallet holds more"
        ) in one_line(r.output), r.output
        # a funded order says nothing of the kind (another wallet: alice's balance is taken)
        r = cli("order", "sell", "3000", "1", "--node", url, "--key", key(c, ALICE + 1))
        assert r.exit_code == 0 and "cover" not in r.output, r.output


@contextmanager
def cuttable(upstream: str) -> Iterator[tuple[str, threading.Event]]:
    """A proxy to the chain that answers 502 to everything once the event is set."""
    cut = threading.Event()

    def intercept(req: object) -> Answer | None:
        return (502, b"bad gateway") if cut.is_set() else None

    with _proxy(upstream, intercept) as url:
        yield url, cut


async def test_the_book_of_a_node_that_cannot_read_its_chain_says_so(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with cuttable(c.deployment.rpc) as (rpc, cut):
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=rpc)
        async with running_node(cfg) as (_node, api):
            url = api.base
            network = tmp_path / "devnet.json"  # (the listing checked against it: wallet78)
            c.deployment.save(network)
            book = ("book", "--node", url, "--deployment", str(network))
            r = await asyncio.to_thread(cli, *book)
            assert r.exit_code == 0 and "warning" not in r.output, r.output
            cut.set()

            async def unreachable() -> bool:
                _code, h = await api.get("/health")
                return bool(h.get("chain") == "unreachable")

            await wait_for(unreachable, timeout=60)
            r = await asyncio.to_thread(cli, *book)
            assert r.exit_code == 0, r.output
            assert (
                "warning: the node cannot reach its chain now (chainStatus unreachable): this "
                "book is as it last read the chain"
            ) in one_line(r.output), r.output
            # the console's listings say it too (get_dump, fills: their pages carry it)
            r = await asyncio.to_thread(
                cli, "console", "--node", url, "--key", key(c, ALICE),
                stdin="get_dump\nfills\n",
            )  # fmt: skip
            out = one_line(r.output)
            for what in ("these orders are", "these fills are"):
                assert (
                    "warning: the node cannot reach its chain now (chainStatus unreachable): "
                    f"{what} as it last read the chain"
                ) in out, out


def test_the_console_says_back_what_was_typed(chain: Chain, tmp_path: Path) -> None:
    c = chain
    with node(c, tmp_path) as (url, _):
        script = "send_order sell limit 1WETH 5\nsend_order Buy limit 10 5 DAY\n"
        r = cli("console", "--node", url, "--key", key(c, ALICE), stdin=script)
        out = one_line(r.output)
        assert "PRICE must be a plain positive decimal like 2000.5, got '1WETH'" in out, out
        assert "time in force is gtc, ioc or fok, got 'DAY'" in out, out
