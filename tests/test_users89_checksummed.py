"""users89, a new user's trial: `sdex order` and `sdex repost` said "signed by 0x7099…79c8"
in lower case where `sdex balance` said "funds of 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
so one wallet read as two; `sdex devnet`, the audit and `/health` named the Exchange and the
operator in lower case too. Every address a user reads is now in one form, EIP-55
checksummed, and an address typed in either case is taken. A table over the commands,
against a real `sdex node` process on Hardhat."""

from __future__ import annotations

import re
from pathlib import Path

import requests
from click.testing import CliRunner

from sdex.cli import main
from sdex.order import address_of, to_checksum
from sdex.wallet import token_line
from tests.conftest import Chain
from tests.test_cli_node import ALICE, BOB, cli, key, node

ADDRESS = re.compile(r"(?<![0-9a-fA-Fx])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")


def lower_ones(text: str) -> list[str]:
    """The whole addresses in ``text`` not in their checksummed form."""
    return [a for a in ADDRESS.findall(text) if a != to_checksum(a)]


def test_every_command_says_addresses_checksummed(chain: Chain, tmp_path: Path) -> None:
    c = chain
    alice = to_checksum(address_of(c.keys[ALICE]))
    bob = to_checksum(address_of(c.keys[BOB]))
    exchange = to_checksum(c.deployment.exchange)
    with node(c, tmp_path) as (url, deployment):
        dep = ("--deployment", str(deployment))
        sold = cli("order", "sell", "2000", "1", "--node", url, "--key", key(c, ALICE), *dep)
        assert sold.exit_code == 0, sold.output
        (order_hash,) = re.findall(r"order (0x[0-9a-f]{64})", sold.output)
        table: list[tuple[str, tuple[str, ...], int, str]] = [
            # (what, the command's words, its exit status, the address it must say)
            ("order", (), 0, f"signed by {alice}"),
            ("repost", ("repost", order_hash, "--node", url, *dep), 0, f"signed by {alice}"),
            ("balance", ("balance", "--node", url, "--key", key(c, ALICE), *dep), 0,
             f"funds of {alice}"),
            ("balance, a lower-case --address", ("balance", "--node", url, "--address",
             alice.lower(), *dep), 0, f"funds of {alice}"),
            ("balance, a checksummed --address", ("balance", "--node", url, "--address", alice,
             *dep), 0, f"funds of {alice}"),
            ("cancel by another key", ("cancel", order_hash, "--node", url, "--key",
             key(c, BOB), *dep), 1, f"only the order's maker {alice} can cancel it"),
            ("cancel --onchain by another key", ("cancel", order_hash, "--node", url, "--key",
             key(c, BOB), "--onchain", *dep), 2, f"this key is {bob}"),
            ("audit", ("audit", *dep), 0, f"audit of Exchange {exchange}"),
        ]  # fmt: skip
        for what, args, status, said in table:
            r = sold if what == "order" else cli(*args)
            out = r.output + (str(r.exception) if r.exception else "")
            assert r.exit_code == status, (what, out)
            assert said in " ".join(out.split()), (what, out)
            assert lower_ones(out) == [], (what, out)
        # the console: its wallet, and another maker's orders shortened from the checksummed
        console = ("console", "--node", url, "--key", key(c, BOB), *dep)
        r = CliRunner().invoke(main, console, input="get_dump\nquit\n", env={"COLUMNS": "200"})
        assert r.exit_code == 0, r.output
        assert f"wallet {bob}" in r.output and f"{alice[:10]}…{alice[-4:]}" in r.output, r.output
        assert lower_ones(r.output) == [], r.output
        # `sdex devnet`'s summary lines of its tokens
        for sym, t in c.deployment.tokens.items():
            line = token_line(sym, t)
            assert to_checksum(t.address) in line and lower_ones(line) == [], line
        health = requests.get(f"{url}/health", timeout=10).json()
        assert health["exchange"] == exchange, health["exchange"]
        assert health["operator"] == to_checksum(health["operator"]), health["operator"]
