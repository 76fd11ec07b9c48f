"""Every refusal a wallet user can meet with bad input, against a real in-process node
on the test devnet (user25's trial): each says what is wrong in one line, exits non-zero,
and changes nothing (no order at the node, no transaction on chain).

Found by hand and fixed here: a negative PRICE or AMOUNT read "No such option '-5'" (click
took it for an option; '-0' for -0.5); an order the chain's clock had already expired said
only "expiry ... is not after the latest block"; a cancel of a hash the node never had said
"order not found (HTTP 404, code 100)", naming neither the order nor the node."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from sdex.cli import main
from tests.conftest import Chain
from tests.nodeutil import free_port
from tests.test_cli_node import node

ALICE = 1
UNKNOWN_HASH = "0x" + "ab" * 32


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


def one_line(text: str) -> str:
    return " ".join(text.split())


def key(c: Chain, i: int) -> str:
    return "0x" + c.keys[i].hex()


# (arguments after the command, with {node} and {key} filled in; exit code; words said)
BAD_ORDERS: list[tuple[str, list[str], int, str]] = [
    ("key too short", ["buy", "2000", "1", "--key", "0x1234"], 2,
     "the key must be 32 bytes of hex"),
    ("key not hex", ["buy", "2000", "1", "--key", "0x" + "zz" * 32], 2,
     "the key must be 32 bytes of hex"),
    ("key zero", ["buy", "2000", "1", "--key", "0x" + "00" * 32], 2,
     "not a valid secp256k1 private key"),
    ("unknown token", ["buy", "2000", "1", "--pair", "FOO/USDC"], 2,
     "the node does not list token FOO (it lists: USDC, WETH)"),
    ("pair reversed", ["buy", "2000", "1", "--pair", "USDC/WETH"], 2,
     "USDC/WETH is not a listed market; the node lists WETH/USDC"),
    ("pair not a pair", ["buy", "2000", "1", "--pair", "WETH"], 2,
     "a pair is BASE/QUOTE like WETH/USDC, got 'WETH'"),
    ("zero amount", ["buy", "2000", "0"], 2, "AMOUNT must be greater than zero, got '0'"),
    ("zero price", ["sell", "0", "1"], 2, "PRICE must be greater than zero, got '0'"),
    # (user30: each named, not "PRICE and AMOUNT must be ...")
    ("negative price", ["buy", "-5", "1"], 2,
     "Error: Invalid value for 'PRICE': "
     "PRICE must be a plain positive decimal like 2000.5, got '-5'"),
    ("negative fraction", ["sell", "2000", "-0.5"], 2,
     "Error: Invalid value for 'AMOUNT': "
     "AMOUNT must be a plain positive decimal like 2000.5, got '-0.5'"),
    ("negative leading dot", ["sell", "-.5", "1"], 2,
     "Error: Invalid value for 'PRICE': "
     "PRICE must be a plain positive decimal like 2000.5, got '-.5'"),
    ("negative after an option", ["sell", "--tif", "ioc", "2000", "-1"], 2,
     "Error: Invalid value for 'AMOUNT': "
     "AMOUNT must be a plain positive decimal like 2000.5, got '-1'"),
    ("both negative", ["sell", "-1", "-1"], 2,
     "Error: Invalid value for 'PRICE': "
     "PRICE must be a plain positive decimal like 2000.5, got '-1'"),
    ("exponent", ["buy", "1e3", "1"], 2, "PRICE must be a plain positive decimal like 2000.5"),
    ("not a number", ["buy", "nan", "1"], 2, "PRICE must be a plain positive decimal"),
    ("amount finer than the token", ["buy", "2000", "1.0000000000000000001"], 2,
     "AMOUNT 1.0000000000000000001 has more decimal places than WETH's 18"),
    ("costs less than a quote unit", ["buy", "0.000001", "0.000000000001"], 2,
     "costs less than one unit of USDC"),
    ("side", ["hold", "2000", "1"], 2, "'hold' is not one of 'buy', 'sell'"),
    ("time in force", ["buy", "2000", "1", "--tif", "day"], 2, "'day' is not one of"),
    ("expiry zero", ["buy", "2000", "1", "--expiry", "0"], 2,
     "--expiry must be at least 1 second, got '0'"),
    ("expiry negative", ["buy", "2000", "1", "--expiry", "-10"], 2,
     "--expiry must be at least 1 second, got '-10'"),  # (user29: click's "x>=1" before)
    ("expired by the chain's clock", ["buy", "2000", "1", "--expiry", "1"], 1,
     "expired before the node took it"),
    ("node down", ["buy", "2000", "1", "--node", "http://127.0.0.1:{dead}"], 1,
     "cannot reach the node at http://127.0.0.1:{dead}"),
    ("node without a port", ["buy", "2000", "1", "--node", "127.0.0.1"], 2,
     "'127.0.0.1' has no port"),
]  # fmt: skip

BAD_CANCELS: list[tuple[str, list[str], int, str]] = [
    ("hash too short", ["0x1234"], 2, "an order hash is 0x and 64 hex digits, got '0x1234'"),
    ("unknown hash", [UNKNOWN_HASH], 1,
     f"order {UNKNOWN_HASH} is not known to the node at {{node}}: nothing was cancelled"),
    ("unknown hash on chain", [UNKNOWN_HASH, "--onchain"], 1,
     f"order {UNKNOWN_HASH} is not known to the node at {{node}}: nothing was cancelled"),
    ("node down", [UNKNOWN_HASH, "--node", "http://127.0.0.1:{dead}"], 1,
     "cannot reach the node at http://127.0.0.1:{dead}"),
]  # fmt: skip


def _orders_of(url: str, maker: str) -> int:
    r = requests.get(f"{url}/v1/orders", params={"maker": maker}, timeout=10)
    r.raise_for_status()
    return int(r.json()["total"])


def test_every_bad_input_is_one_clear_line_and_changes_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    # the chain's clock an hour ahead of this machine's: `--expiry 1` is already past it
    c.rpc.call("evm_increaseTime", 3600)
    c.rpc.call("evm_mine")
    dead = str(free_port())
    with node(c, tmp_path) as (url, _):
        maker = c.address(ALICE)
        block = c.rpc.call("eth_blockNumber")
        failures = []
        for command, table in (("order", BAD_ORDERS), ("cancel", BAD_CANCELS)):
            for name, args, code, says in table:
                argv = [a.replace("{dead}", dead) for a in args]
                if "--node" not in argv:
                    argv += ["--node", url]
                if "--key" not in argv:
                    argv += ["--key", key(c, ALICE)]
                if "--onchain" in argv:
                    argv += ["--deployment", str(tmp_path / "devnet.json")]
                r = cli(command, *argv)
                want = says.replace("{dead}", dead).replace("{node}", url)
                out = one_line(r.output)
                if r.exit_code != code or want not in out or "Traceback" in out:
                    failures.append(f"{command} {name}: exit {r.exit_code}: {out}")
        # the console says the same for its own commands
        lines = [
            f"cancel {UNKNOWN_HASH}",
            "send_order buy limit -1 10",
            "send_order buy limit 10 0",
        ]
        r = CliRunner().invoke(
            main, ["console", "--node", url, "--key", key(c, ALICE)],
            input="\n".join(lines) + "\n", env={"COLUMNS": "200"},
        )  # fmt: skip
        out = one_line(r.output)
        for want in (
            f"order {UNKNOWN_HASH} is not known to the node at {url}: nothing was cancelled",
            # (not this node's URL, which answers 404: the node it was posted to)
            f"its status: GET /v1/orders/{UNKNOWN_HASH} at that node)",
            "PRICE must be a plain positive decimal like 2000.5, got '-1'",
            "AMOUNT must be greater than zero, got '0'",
        ):
            if want not in out:
                failures.append(f"console: {want!r} not in {out}")
        assert failures == []
        assert _orders_of(url, maker) == 0
        assert c.rpc.call("eth_blockNumber") == block


@pytest.mark.parametrize("typed", ["-5", "-0.5", "-.5", "-2000.25"])
def test_a_negative_number_is_named_without_a_node(typed: str) -> None:
    """(refused while parsing the arguments: before any node is asked)"""
    for args, name in ((["buy", typed, "1"], "PRICE"), (["sell", "1", typed], "AMOUNT")):
        r = cli("order", *args, "--node", "http://127.0.0.1:1", "--key", "0x" + "11" * 32)
        assert r.exit_code == 2, r.output
        assert f"{name} must be a plain positive decimal like 2000.5, got '{typed}'" in r.output


def test_an_unknown_option_is_still_named() -> None:
    r = cli("order", "buy", "1", "1", "--prce", "5", "--node", "http://127.0.0.1:1")
    assert r.exit_code == 2 and "No such option '--prce'" in r.output, r.output


def test_a_devnet_port_in_use_is_one_error_line() -> None:
    """(it printed the sentence alone, on stdout, with no ``error:`` as every other command)"""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = CliRunner().invoke(
            main, ["devnet", "--port", str(port), "--deployment", "/nonexistent/d.json"],
            env={"COLUMNS": "200"},
        )  # fmt: skip
    assert r.exit_code == 1, r.output
    assert r.stdout == ""
    assert one_line(r.stderr).startswith(f"error: port {port} on 127.0.0.1 is already in use")
