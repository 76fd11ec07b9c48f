"""An order whose price crosses the wallet's own resting order, from the command line
(user38's trial): ``sdex order`` and the console's ``send_order`` said the node's words,
"Validation Failed (HTTP 400, code 100, SELF_TRADE): maker: it would trade with the same
maker's resting order 0x5de6...", with no next step (the page has said what to do since
user28). They now say it is your own order, which one, and what to do."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import Chain
from tests.fakenode import run_cli
from tests.test_cli_node import ALICE, cli, key, node, one_line

HASH = re.compile(r"order (0x[0-9a-f]{64})")


def test_a_self_trade_is_said_with_the_order_and_a_next_step(chain: Chain, tmp_path: Path) -> None:
    c = chain
    with node(c, tmp_path) as (url, _):
        r = cli("order", "sell", "2010", "0.3", "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 0, r.output
        found = HASH.search(r.output)
        assert found, r.output
        own = found.group(1)
        r = cli("order", "buy", "2020", "0.1", "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 1, r.output
        said = one_line(r.output)
        assert (
            f"error: this order's price crosses your own resting order {own} (an account never "
            "trades with itself, even behind others' better orders): cancel that order "
            f"(sdex cancel {own}) or change the price; nothing was posted"
        ) in said, said
        assert "Validation Failed" not in said, said


def test_the_consoles_self_trade_names_its_own_cancel_command(chain: Chain, tmp_path: Path) -> None:
    """ux65's trial: the console's ``send_order`` said to cancel with ``sdex cancel 0x...``,
    a command of the shell, not of the prompt it was typed at, where ``cancel 0x...`` does it."""
    c = chain
    with node(c, tmp_path) as (url, _):
        me = ["--node", url, "--key", key(c, ALICE)]
        r = cli("order", "buy", "10", "10", *me)
        assert r.exit_code == 0, r.output
        found = HASH.search(r.output)
        assert found, r.output
        own = found.group(1)
        r = run_cli("console", *me, input="send_order sell market 5\n")
        assert r.exit_code == 1, r.output
        said = one_line(r.stderr)
        assert f"cancel that order (cancel {own}) or change the price" in said, said
        assert "sdex cancel" not in said, said
