"""review17's leftover: ``sdex order`` printed only the node's answer at posting, so a buy
matched in full read ``status partially_filled`` (the status counts mined fills only) and
the user never learnt how the match ended. Now it waits (``--wait``, bounded) for the
settlement and says what the chain did: the amounts mined, their transaction and the
order's status then. A real in-process node on Hardhat (automine)."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import pytest

from sdex.chain.tx import fees_of
from sdex.client import NodeClient
from sdex.wallet import Side, parse_pair, sign_limit_order
from tests.conftest import Chain
from tests.test_cli_node import ALICE, BOB, cli, key, node, one_line


def test_a_matched_order_waits_for_its_settlement_and_names_the_tx(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with node(c, tmp_path) as (url, _):
        r = cli("order", "sell", "2000", "1", "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 0, r.output
        assert "waiting for the settlement" not in r.output  # (no match: nothing to wait for)
        r = cli("order", "buy", "2000", "1", "--node", url, "--key", key(c, BOB), "--wait", "30")
        assert r.exit_code == 0, r.output
        out = one_line(r.output)
        assert "matched in full, settlement pending on chain" in out, out
        assert "waiting for the settlement on chain (at most 30 s)..." in out, out
        settled = re.search(r"settled on chain: bought 1 WETH for 2000 USDC \(tx (0x[0-9a-f]{64})"
                            r"; status filled\)", out)  # fmt: skip
        assert settled is not None, out
        receipt = c.rpc.call("eth_getTransactionReceipt", settled.group(1))
        assert receipt is not None and int(receipt["status"], 16) == 1


def test_wait_0_does_not_wait(chain: Chain, tmp_path: Path) -> None:
    c = chain
    with node(c, tmp_path) as (url, _):
        assert (
            cli("order", "sell", "2000", "1", "--node", url, "--key", key(c, ALICE)).exit_code == 0
        )
        r = cli("order", "buy", "2000", "1", "--node", url, "--key", key(c, BOB), "--wait", "0")
        assert r.exit_code == 0, r.output
        out = one_line(r.output)
        assert "matched in full, settlement pending on chain" in out, out
        assert "waiting" not in out and "settled on chain:" not in out, out


def test_a_settlement_not_mined_within_the_wait_is_said_to_be_still_settling(
    chain: Chain, tmp_path: Path
) -> None:
    """Blocks mined on demand: the settlement stays in the mempool past ``--wait 1``, so the
    CLI says it is still settling (exit 0: the order was taken), then mines."""
    c = chain
    with node(c, tmp_path) as (url, _):
        assert (
            cli("order", "sell", "2000", "1", "--node", url, "--key", key(c, ALICE)).exit_code == 0
        )
        c.rpc.call("evm_setAutomine", False)
        try:
            r = cli("order", "buy", "2000", "1", "--node", url, "--key", key(c, BOB), "--wait", "1")
        finally:
            c.rpc.call("evm_setAutomine", True)
            c.rpc.call("evm_mine")
        assert r.exit_code == 0, r.output
        out = one_line(r.output)
        said = "still settling after 1 s (status partially_filled); its status:"
        assert f"{said} {url}/v1/orders/0x" in out, out  # (the URL whole: users89)
        assert "settled on chain:" not in out, out


def _mempool(c: Chain) -> int:
    return len(c.rpc.call("eth_getBlockByNumber", "pending", False)["transactions"])


def _reverted(c: Chain, url: str, tif: str) -> str:
    """``sdex order buy 2000 1 --tif TIF --wait 60`` matched with Alice's resting sell, whose
    settlement waits in the mempool (blocks mined on demand) until Alice sends her WETH away
    with a higher tip, so that it is mined first and the settlement reverts: the CLI's
    output, on one line."""
    assert cli("order", "sell", "2000", "1", "--node", url, "--key", key(c, ALICE)).exit_code == 0
    c.rpc.call("evm_setAutomine", False)
    try:
        with ThreadPoolExecutor(1) as pool:
            buy = ("order", "buy", "2000", "1", "--node", url, "--key", key(c, BOB), "--tif", tif)
            waited = pool.submit(cli, *buy, "--wait", "60")
            end = time.monotonic() + 30
            while not _mempool(c):
                assert time.monotonic() < end and not waited.done(), "no settlement sent"
                time.sleep(0.05)
            alice = c.sender(ALICE)
            away = c.weth.balance_of(c.address(ALICE))
            data = c.weth.abi.fn("transfer").encode(c.address(9), away)
            base_fee = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
            alice.broadcast(alice.sign(c.weth.address, data, 100_000, fees=(base_fee, 10**11)))
            c.rpc.call("evm_mine")
            r = waited.result(timeout=90)
    finally:
        c.rpc.call("evm_setAutomine", True)
    assert r.exit_code == 0, r.output
    return one_line(r.output)


def test_a_settlement_that_reverts_is_said_to_have_failed(chain: Chain, tmp_path: Path) -> None:
    """The settlement reverts (``_reverted``): the waiting CLI says the settlement failed
    and nothing traded; the innocent GTC buy rests."""
    c = chain
    with node(c, tmp_path) as (url, _):
        out = _reverted(c, url, "gtc")
        assert "settlement failed, nothing traded; the order rests in the book (status open)" in out
        assert "settled on chain:" not in out, out


@pytest.mark.parametrize("tif", ["ioc", "fok"])
def test_an_ioc_or_fok_order_whose_settlement_reverts_is_closed(
    chain: Chain, tmp_path: Path, tif: str
) -> None:
    """review19: an IOC or FOK taker whose match failed to settle was given its amount back
    but never closed: ``GET /v1/orders/{hash}`` said ``open`` (remainingFillable 0) until it
    expired, an hour later, and ``sdex order`` said "the order rests in the book". It never
    rests: it closes (``removed``, its unmatched rest dropped), as at its arrival."""
    c = chain
    with node(c, tmp_path) as (url, _):
        out = _reverted(c, url, tif)
        said = f"settlement failed, nothing traded: {tif}: dropped after its match failed to settle"
        assert f"{said} (status removed)" in out, out
        assert "rests in the book" not in out, out
        order_hash = re.search(r"order (0x[0-9a-f]{64})", out)
        assert order_hash is not None, out
        with NodeClient(url) as client:
            rec = client.get_order(order_hash.group(1))
            assert rec.status == "removed", rec.meta_data
            assert rec.meta_data["filledMakerAmount"] == "0", rec.meta_data
            listed = [r.order_hash for r in client.all_orders(status="open")]
            assert order_hash.group(1) not in listed, listed


def test_a_settled_order_is_told_all_its_fills_past_a_page(chain: Chain, tmp_path: Path) -> None:
    """review19: the settlement's line summed the first page (100) of the order's fills only:
    a buy that took 101 resting sells of 0.01 WETH at 2000 was said to have bought 1.01 WETH
    for 2000 USDC (the 101st fill's 20 missing). It reads every page (by cursor)."""
    c = chain
    with node(c, tmp_path) as (url, _), NodeClient(url) as client:
        config = client.order_config()
        market = parse_pair("WETH/USDC", config)
        alice = bytes.fromhex(key(c, ALICE)[2:])
        for _ in range(101):
            sell = sign_limit_order(
                config, market, Side.SELL, Fraction(2000), Fraction(1, 100), alice
            )
            assert client.post_order(sell).status == "open"
        buy = ("order", "buy", "2000", "1.01", "--node", url, "--key", key(c, BOB), "--wait", "120")
        r = cli(*buy)
        assert r.exit_code == 0, r.output
        out = one_line(r.output)
        assert "settled on chain: bought 1.01 WETH for 2020 USDC (tx 0x" in out, out
        assert "status filled" in out, out
