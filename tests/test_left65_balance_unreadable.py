"""``sdex balance`` with a listed token it cannot read (review of user63's command): a token
whose address holds no contract (its ``eth_call`` answers ``0x``) or whose call reverts
stopped the whole command with one ChainError, the other tokens unsaid. Now each such token
is shown as unreadable, with why, the others as usual, and the exit status is 1. A real
in-process node on the session's Hardhat devnet, its deployment listing two such
tokens."""

from __future__ import annotations

import json
from pathlib import Path

from sdex.deployment import TokenInfo
from sdex.order import to_checksum
from tests.conftest import Chain
from tests.test_cli_node import cli, key, node, one_line

ME = 5
NOWHERE = "0x" + "5d" * 20  # (no contract: eth_call answers 0x)


def test_balance_shows_an_unreadable_token_as_such_and_the_others(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    me = c.address(ME)
    tokens = {
        **c.deployment.tokens,
        "NOPE": TokenInfo(NOWHERE, 18),
        # the Exchange answers no balanceOf: its call reverts
        "XCHG": TokenInfo(c.exchange.address.lower(), 18),
    }
    with node(c, tmp_path, tokens) as (url, deployment):
        args = ["balance", "--node", url, "--deployment", str(deployment), "--key", key(c, ME)]
        r = cli(*args, "--json")
        assert r.exit_code == 1, r.output
        body = json.loads(r.output)
        weth = body["tokens"]["WETH"]
        assert int(weth["balance"]) == c.weth.balance_of(me) and int(weth["free"]) > 0, body
        assert int(body["tokens"]["USDC"]["balance"]) == c.usdc.balance_of(me), body
        nope, xchg = body["tokens"]["NOPE"], body["tokens"]["XCHG"]
        assert "balance" not in nope and "free" not in nope, body
        assert nope["error"] == f"no contract at {to_checksum(NOWHERE)} on this chain", body
        assert "balance" not in xchg, body
        assert xchg["error"].startswith("its balanceOf reverted"), body

        r = cli(*args)
        assert r.exit_code == 1, r.output
        out = one_line(r.output)
        assert "│ WETH │" in out and "│ USDC │" in out, out
        assert "│ NOPE │ unreadable │" in out, out
        assert f"NOPE: not read: no contract at {to_checksum(NOWHERE)} on this chain" in out, out
        assert "XCHG: not read: its balanceOf reverted" in out, out
