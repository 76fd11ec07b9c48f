"""``sdex console`` reading a script from stdin (user28's trial): ``printf 'send_order ...\\n'
| sdex console ...`` printed a command's failure and exited 0, so a shell script or a CI job
could not tell that an order was never placed. Read from something that is not a terminal,
the console now exits 1 when any command failed (each failure still said where it happened,
and the script still run to its end); a person at the prompt ends with 0 as before. Against
the canned node of ``tests.fakenode`` (a real aiohttp server on loopback)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.fakenode import E6, E18, FakeNode, fake_node, run_cli, wallet_args
from tests.test_console import book_of


@pytest.fixture
def fake() -> Iterator[FakeNode]:
    with fake_node() as node:
        node.book = book_of(asks=[(E18, 2000 * E6)], bids=[(2000 * E6, E18)])
        yield node


def _refuse(fake: FakeNode) -> None:
    fake.on_post = lambda s: (
        400,
        {"code": 100, "reason": "Validation Failed", "validationErrors": []},
    )


# (why, the script's lines, a set-up of the node, the exit code)
CASES: list[tuple[str, list[str], Callable[[FakeNode], None] | None, int]] = [
    ("clean", ["book", "fills", "get_dump", "help"], None, 0),
    ("clean-quit", ["book", "quit", "bogus"], None, 0),  # nothing runs after quit
    ("usage", ["book", "send_order buy limit 2e3 1", "book"], None, 1),
    ("unknown", ["get_orders", "book"], None, 1),
    ("help-unknown", ["help get_orders"], None, 1),
    ("node-refused", ["send_order buy limit 2000 1", "book"], _refuse, 1),
    ("market-empty", ["send_order buy market 1"], lambda f: setattr(f, "book", book_of([], [])), 1),
    ("bad-hash", ["cancel 0x1234"], None, 1),
    ("fail-then-quit", ["fills 5", "quit"], None, 1),
]


@pytest.mark.parametrize(
    ("lines", "setup", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_script_with_a_failed_command_exits_1(
    fake: FakeNode, lines: list[str], setup: Callable[[FakeNode], None] | None, code: int
) -> None:
    if setup is not None:
        setup(fake)
    r = run_cli("console", *wallet_args(fake), input="".join(x + "\n" for x in lines))
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    if code:
        assert r.stderr.strip()  # each failure said where it happened
    if lines[-1] == "book" and "quit" not in lines:
        assert r.output.count("bids (") == lines.count("book")  # the script ran to its end
