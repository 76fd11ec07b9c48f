"""ux70's trial of main as a new user: what the README's steps met, each fixed and kept so.
The console's ``help`` said the balance command as "held, approved to the Exchange,         in
its open orders" (its docstring's line break and indentation kept in the summary); a node's
redirect, refused, was said to the audit as "a wallet talks only to the node it is given"; an
``--expiry`` past the latest expiry an order carries read "expiry 18446744075506097804 is outside
uint64", a number the user never typed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest

from sdex.client import NodeClient, NodeProtocolError
from tests.fakenode import FakeNode, fake_node, run_cli, wallet_args
from tests.nodeutil import serving
from tests.test_wallet69_redirects import hostile


@pytest.fixture
def fake() -> Iterator[FakeNode]:
    with fake_node() as node:
        yield node


def test_console_help_says_each_summary_with_single_spaces(fake: FakeNode) -> None:
    r = run_cli("console", *wallet_args(fake), input="help\n", env={"COLUMNS": "240"})
    assert r.exit_code == 0, r.output
    assert "held, approved to the Exchange, in its open orders at the node" in r.output, r.output
    for line in r.output.splitlines():
        if line.startswith(("balance", "send_order", "get_dump", "fills", "cancel", "book")):
            summary = re.split(r"\s{2,}", line.strip(), maxsplit=1)[-1]  # (after the usage)
            assert "  " not in summary, line


async def test_a_refused_redirect_names_no_wallet() -> None:
    """The client the wallet commands, the console and the audit share says whose rule it is
    in words true for each of them (the audit's discrepancy read "a wallet talks only...")."""
    async with serving(hostile("", 302)) as url:
        with pytest.raises(NodeProtocolError) as caught:
            await asyncio.to_thread(lambda: NodeClient(url, timeout=5.0).health())
    said = str(caught.value)
    assert "wallet" not in said, said
    assert f"not followed (sdex talks only to the node it is given, {url})" in said, said


def test_an_expiry_past_uint64_names_the_option_and_the_most_it_takes(fake: FakeNode) -> None:
    typed = str(2**64 - 1)
    r = run_cli("order", "buy", "2000", "1", *wallet_args(fake), "--expiry", typed)
    out = " ".join(r.output.split())
    assert r.exit_code == 2, out
    said = re.search(r"--expiry (\d+) ends past the latest expiry an order can carry \(unix "
                     rf"{2**64 - 1}\): at most (\d+) seconds from now", out)  # fmt: skip
    assert said is not None and said[1] == typed, out
    assert 0 < 2**64 - 1 - int(said[2]) < 2 * 10**9, out  # (now, as unix seconds)
    assert fake.posted == [], fake.posted  # nothing signed or sent
