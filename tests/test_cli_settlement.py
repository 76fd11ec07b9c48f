"""review17's leftover: ``sdex order`` printed only the node's answer at posting, so a buy
matched in full read ``status partially_filled`` (the status counts mined fills only) and
the user never learnt how the match ended. Now it waits (``--wait``, bounded) for the
settlement and says what the chain did: the amounts mined, their transaction and the
order's status then. A real ``sdex node`` process on Hardhat (automine)."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sdex.chain.tx import fees_of
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
        assert "still settling after 1 s (status partially_filled): see GET /v1/orders/0x" in out
        assert "settled on chain:" not in out, out


def _mempool(c: Chain) -> int:
    return len(c.rpc.call("eth_getBlockByNumber", "pending", False)["transactions"])


def test_a_settlement_that_reverts_is_said_to_have_failed(chain: Chain, tmp_path: Path) -> None:
    """Blocks mined on demand: once the match's settlement waits in the mempool, the resting
    seller sends her WETH away with a higher tip, so it is mined first and the settlement
    reverts: the waiting CLI says the settlement failed and nothing traded."""
    c = chain
    with node(c, tmp_path) as (url, _):
        assert (
            cli("order", "sell", "2000", "1", "--node", url, "--key", key(c, ALICE)).exit_code == 0
        )
        c.rpc.call("evm_setAutomine", False)
        try:
            with ThreadPoolExecutor(1) as pool:
                buy = ("order", "buy", "2000", "1", "--node", url, "--key", key(c, BOB))
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
        out = one_line(r.output)
        assert "settlement failed, nothing traded; the order rests in the book (status open)" in out
        assert "settled on chain:" not in out, out
