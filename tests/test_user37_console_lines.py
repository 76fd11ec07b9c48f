"""A console script read from stdin names the line and command of each error (ux37): a new
user's script printed "error: no asks in WETH/USDC ..." with nothing saying which of its
lines failed. Input that is not a terminal now prefixes each error with "line N: COMMAND:"
(blank lines count: N is the line in the file); a person at the prompt sees the line they
just typed, so gets no prefix."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from rich.console import Console

from sdex.client import NodeClient
from sdex.console import WalletShell, run_console
from tests.fakenode import KEY, FakeNode, closed_port, network_file, run_cli
from tests.test_console import book_of, console, fake

__all__ = ["fake"]  # (test_console's fake node fixture)


def test_a_scripts_errors_name_their_line_and_command(fake: FakeNode) -> None:
    fake.book = book_of(asks=[], bids=[(2000 * 10**6, 10**18)])
    r = console(
        fake,
        "book",
        "",
        "get_orders",
        "send_order buy market 1",
        "  cancel   0x1234  ",
        "x" * 200,
    )
    assert r.exit_code == 1, r.output
    assert r.stderr.splitlines() == [
        "line 3: get_orders: unknown command 'get_orders': type help for the commands",
        "line 4: send_order buy market 1: error: no asks in WETH/USDC: a market buy has nothing "
        "to take (send a limit order instead)",
        "line 5: cancel 0x1234: error: an order hash is 0x and 64 hex digits, got '0x1234'",
        "usage: cancel HASH",
        f"line 6: {'x' * 60}…: unknown command '{'x' * 200}': type help for the commands",
    ]


def test_at_a_terminal_an_error_has_no_prefix(fake: FakeNode, tmp_path: Path) -> None:
    """A person typing (a real pseudo-terminal) sees the line they typed just above."""
    master, slave = os.openpty()
    try:
        os.write(master, b"get_orders\nquit\n")
        err = io.StringIO()
        with open(slave, closefd=False) as tty, NodeClient(fake.url) as client:
            shell = WalletShell(
                client,
                KEY,
                "WETH/USDC",
                out=Console(file=io.StringIO()),
                err=Console(file=err, width=200),
                stdin=tty,
                deployment_path=network_file(fake, tmp_path / "devnet.json"),
                deployment_given=True,  # (its network's file: the listing checked, silently)
            )
            assert shell.interactive
            shell.start()
            shell.run()
    finally:
        os.close(master)
        os.close(slave)
    assert err.getvalue().splitlines() == [
        "unknown command 'get_orders': type help for the commands"
    ]


def test_a_scripts_start_up_errors_say_no_line_ran(fake: FakeNode) -> None:
    """Before any line of a script is read, the console's own start-up errors (its node
    unreachable or not an SDEX node: exit 1; a pair the node does not list: exit 2) start
    with "startup: " (leftovers38: they had no prefix while every later error named its
    line, and exit 1 is also a script whose line failed: a script's reader could not tell
    that none of its lines ran). Click's own errors of the command line (``Usage:``, exit 2,
    as for every sdex command) keep click's shape."""
    url = f"http://127.0.0.1:{closed_port()}"
    r = run_cli("console", "--node", url, "--key", KEY.hex(), input="book\nquit\n")
    assert r.exit_code == 1 and r.stdout == "", r.output
    assert r.stderr.splitlines() == [
        f"startup: error: cannot reach the node at {url}: [Errno 111] Connection refused; "
        "is `sdex node` running on that port?"
    ]
    r = console(fake, "book", args=("--pair", "WETH/DAI"))
    assert r.exit_code == 2 and fake.queries == [], r.output
    assert r.stderr.splitlines() == [
        "startup: error: --pair: the node does not list token DAI (it lists: USDC, WETH)"
    ]


def test_at_a_terminal_a_start_up_error_has_no_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """A person at the prompt sees one red line, as ``sdex book`` prints it."""
    url = f"http://127.0.0.1:{closed_port()}"
    master, slave = os.openpty()
    try:
        with open(slave, closefd=False) as tty:
            monkeypatch.setattr(sys, "stdin", tty)
            err = io.StringIO()
            code = run_console(url, KEY, "WETH/USDC", 100, out=Console(file=io.StringIO()),
                               err=Console(file=err, width=200))  # fmt: skip
    finally:
        os.close(master)
        os.close(slave)
    assert code == 1
    assert err.getvalue().startswith(f"error: cannot reach the node at {url}:"), err.getvalue()
