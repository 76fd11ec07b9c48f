"""user81: the wallet commands' leftovers, as a user meets them (``sdex cancel``, ``sdex
repost``, the kept orders' pruning). Real Hardhat (the suite's chain), real nodes
(in-process; ``sdex node`` processes where one restarts), the CLI run in-process (click's
runner), real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.wallet import Side
from sdex.walletkeep import keep, kept_path
from tests.conftest import Chain
from tests.test_cli_node import ALICE, key, node, one_line
from tests.test_node import E18, ask
from tests.test_wallet79_repost import _run

E6 = 10**6


def test_a_cancel_the_node_keeps_forgets_the_kept_order(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kept order the node does not hold (its post was lost: ``sdex order`` keeps it
    before posting), cancelled: the node keeps the signed cancel (202 ``kept``) for the
    order, if it comes. The wallet said "nothing was cancelled yet" and left the kept file:
    ``sdex repost`` then posted the cancelled order, to a node that never saw the cancel an
    open order again. Now the kept file goes with the cancel, and the line says so."""
    c = chain
    wallet = tmp_path / "wallet"
    monkeypatch.setenv("SDEX_WALLET_DIR", str(wallet))
    with node(c, tmp_path) as (url, dep):
        signed = c.sign(ask(c, ALICE, E18, 2000 * E6, salt=81_200 + c.now()))
        keep(signed, c.domain, "gtc", "WETH/USDC", Side.SELL, url)  # (its post never came)
        h = signed.hash_hex
        assert kept_path(h).is_file()
        trust = ("--node", url, "--key", key(c, ALICE), "--deployment", str(dep))
        r = _run(wallet, "cancel", h, *trust)
        said = one_line(r.output)
        assert r.exit_code == 1, r.output  # (nothing cancelled yet: the node waits for it)
        assert f"order {h} is not known to the node at {url}" in said, said
        assert "keeps the signed cancel for a day" in said, said
        assert "kept copy of it is removed: `sdex repost` will not post it" in said, said
        assert not kept_path(h).exists()  # (was: left, and repostable)
        r = _run(wallet, "repost", h, "--node", url, "--deployment", str(dep))
        assert r.exit_code == 1 and f"no order {h} is kept" in one_line(r.output), r.output


OLD_KEPT = 300
"""Kept orders, all written over ``EXPIRED_FOR`` ago and none expired, in the pruning test."""


def test_pruning_reads_a_bounded_number_of_old_kept_orders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once every kept order was written over an hour ago (a wallet's long-lived orders), each
    order kept read every one of them for its expiry: 1,000 files a write. Now ``MAX_READS``
    of them at most, the ones whose names follow the new order's (round); one of those that
    expired an hour ago goes, and the bound of ``MAX_KEPT`` holds without reading the rest."""
    import os
    import time

    from sdex import localfile, walletkeep
    from tests.test_wallet80_files import keep_one

    monkeypatch.setenv("SDEX_WALLET_DIR", str(tmp_path))
    prune = walletkeep.prune
    monkeypatch.setattr(walletkeep, "prune", lambda *a, **k: [])  # (none while set up)
    now = int(time.time())
    live = [keep_one(expiry=now + 30 * 86_400) for _ in range(OLD_KEPT)]
    expired = keep_one(expiry=now - walletkeep.EXPIRED_FOR - 60)
    old = now - walletkeep.EXPIRED_FOR - 600  # (all written before the expired one expired)
    for h in [*live, expired]:
        os.utime(kept_path(h), (old, old))
    reads: list[str] = []
    read_bounded = localfile.read_bounded

    def counted(path: Path, *a: object, **k: object) -> bytes:
        reads.append(Path(path).name)
        return read_bounded(path, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(localfile, "read_bounded", counted)
    monkeypatch.setattr(walletkeep, "prune", prune)
    orders = tmp_path / "orders"
    most = getattr(walletkeep, "MAX_READS", OLD_KEPT)
    names = sorted(p.name for p in orders.iterdir())
    # (kept just before the expired one's name: it is the first of the next ones read)
    before = names[names.index(f"{expired}.json") - 1]
    assert prune(orders, keep=before, now=now) == [f"{expired}.json"]
    assert len(reads) <= most < OLD_KEPT, len(reads)  # (was all 301)
    reads.clear()
    newest = keep_one(expiry=now + 86_400)
    assert len(reads) <= most, len(reads)  # (was all 300)
    monkeypatch.setattr(walletkeep, "MAX_KEPT", OLD_KEPT)  # (one past it: the oldest goes)
    reads.clear()
    assert len(prune(orders, keep=f"{newest}.json", now=now)) == 1
    assert len(reads) <= most + 1, len(reads)
    assert len(list(orders.iterdir())) == OLD_KEPT


def test_a_repost_to_a_node_asking_a_fee_says_what_to_do(chain: Chain, tmp_path: Path) -> None:
    """An order signed at a node asking no fee, reposted to one that asks 25 bps: the node
    refuses it (``FEE_REQUIRED``), and the wallet said only the node's words ("this node asks
    feeRecipient 0x... and feeAmount >= 1250000000000000"), with no hint that a signed
    order's fee cannot change, nor what to do. Now it says what the order pays, what the node
    asks, and the ways out: a node asking no more (the one it was signed for), or a new order."""
    from tests.nodethread import node_thread
    from tests.test_wallet79_repost import _posted_hash

    c = chain
    wallet = tmp_path / "wallet"
    with (
        node(c, tmp_path / "a") as (url, dep),
        node_thread(dep, c.keys[18], tmp_path / "b.db", fee_bps=25) as (_, fee_url),
    ):
        trust = ("--deployment", str(dep))
        r = _run(wallet, "order", "buy", "1500", "0.5", "--node", url, "--key",
                 key(c, ALICE), *trust)  # fmt: skip
        h = _posted_hash(r)
        r = _run(wallet, "repost", h, "--node", fee_url, *trust)
        said = one_line(r.output)
        assert r.exit_code == 1, r.output
        assert "asks a fee of 25 bps" in said and "(0.00125 WETH of this one" in said, said
        assert f"order {h} pays no fee" in said, said
        assert "a signed order's fee cannot change" in said, said
        assert f"sdex repost {h} --node {url}" in said, said  # (where it was signed)
        assert "sign a new order for this node with `sdex order`" in said, said


def test_the_console_after_its_nodes_fee_rose_says_so_and_signs_for_it_next(
    chain: Chain, tmp_path: Path
) -> None:
    """The console reads the node's order_config once a session. Its node restarted asking
    a fee (``--fee-bps 25``): the next ``send_order`` was signed for no fee and refused with
    the node's words only ("feeAmount >= ..."), and every one after it too (the fee read at
    the start, kept). Now the refusal says the node's fee changed and that signing again
    reads it anew, and the next ``send_order`` does: signed for the node's fee, it rests."""
    import os
    import subprocess
    import sys
    import threading

    from sdex.node.process import NodeProcess
    from tests.nodeutil import ROOT, node_ready

    c = chain
    dep = tmp_path / "devnet.json"
    c.deployment.save(dep)

    def make(port: int) -> NodeProcess:
        return NodeProcess(port, dep, c.keys[18], tmp_path / "n.db", tmp_path / "n.log")

    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200",
           "SDEX_WALLET_DIR": str(tmp_path / "wallet")}  # fmt: skip
    console = None
    with node_ready(make) as first:  # (its port picked again if taken first)
        second = NodeProcess(
            first.port, dep, c.keys[18], tmp_path / "n.db", tmp_path / "n2.log", fee_bps=25
        )
        try:
            console = subprocess.Popen(
                [sys.executable, "-m", "sdex.cli", "console", "--node", first.url, "--key",
                 key(c, ALICE), "--deployment", str(dep)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env=env,
            )  # fmt: skip
            assert console.stdin is not None and console.stdout is not None
            lines: list[str] = []
            started = threading.Event()

            def read() -> None:
                assert console is not None and console.stdout is not None
                for line in console.stdout:
                    lines.append(line)
                    if "Type help" in line:
                        started.set()

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            assert started.wait(60), "".join(lines)  # (its order_config read: no fee)
            first.stop()
            second.start().wait_ready()  # (the same node, now asking 25 bps)
            order = f"send_order buy limit 1500 0.{81_000 + c.now() % 1000}\n"
            console.stdin.write(order + order + "quit\n")
            console.stdin.close()
            assert console.wait(timeout=120) is not None
            reader.join(timeout=30)
            said = one_line("".join(lines))
            assert "the node refused this order's fee: it asks a fee of 25 bps now" in said, said
            assert "sign the order again, which reads the node's fee anew" in said, said
            assert said.count("FEE_REQUIRED") <= 1, said  # (was: both refused)
            assert "rests in the book" in said, said  # (the second: signed for the fee)
        finally:
            if console is not None and console.poll() is None:
                console.kill()
                console.wait(timeout=10)
            first.kill()
            second.kill()
