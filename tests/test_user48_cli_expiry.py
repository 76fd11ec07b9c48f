"""An order the chain's clock has already expired, said with an expiry that works (user48's
trial): on a devnet whose clock ran 56 s ahead, `sdex order ... --expiry 60` and 70 were
refused saying the expiry "is not after the chain's latest block" (it was: the node also
counts a settlement's time to land, and a margin) and "sign it again with a longer
--expiry", so a newcomer guessed. The node now names the earliest expiry it takes, and the
wallet turns it into the `--expiry` to give, which the node then takes."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.conftest import Chain
from tests.test_cli_node import node
from tests.test_user25_cli_errors import ALICE, cli, key, one_line

AHEAD = 600  # (s the chain's clock is moved past this machine's)


def test_an_expired_order_says_the_expiry_the_node_takes(chain: Chain, tmp_path: Path) -> None:
    c = chain
    c.rpc.call("evm_increaseTime", AHEAD)
    c.rpc.call("evm_mine")
    with node(c, tmp_path) as (url, _):
        base = ["order", "buy", "1000", "0.5", "--node", url, "--key", key(c, ALICE)]
        r = cli(*base, "--expiry", "60")
        out = one_line(r.output)
        assert r.exit_code == 1, out
        assert "expired before the node took it" in out, out
        assert "not after the chain's latest block" not in out, out  # (it was after it)
        said = re.search(r"sign it again with an --expiry of at least (\d+)", out)
        assert said is not None, out
        at_least = int(said[1])
        block = c.rpc.call("eth_getBlockByNumber", "latest", False)
        lead = int(block["timestamp"], 16) - time.time()  # (other tests may move it too)
        assert lead < at_least < lead + 120, (lead, out)  # (the chain's lead, not a guess)
        r = cli(*base, "--expiry", str(at_least), "--wait", "0")
        assert r.exit_code == 0, one_line(r.output)
        assert "rests in the book" in one_line(r.output), one_line(r.output)
