"""``sdex devnet``: the engines, and a busy port refused before anything is deployed."""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdex.chain import Exchange, Rpc, Sender, Token
from sdex.chainnode import ANVIL_PACKAGES, INTERVAL_BLOCK_GAS, AnvilNode, HardhatNode
from sdex.cli import main
from sdex.devnet import Devnet, free_port
from sdex.errors import DevnetError
from sdex.order import to_checksum
from tests.devnetproc import devnet_running


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port that a listening socket holds for the test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_busy_port_refused_before_starting_anything(busy_port: int) -> None:
    net = Devnet(port=busy_port, engine="anvil")
    with pytest.raises(DevnetError, match=f"port {busy_port} on 127.0.0.1 is already in use"):
        net.start()
    assert net.node.proc is None  # no chain process was started
    assert net.deployment is None


def test_cli_busy_port_exits_1_naming_the_port(busy_port: int, tmp_path: Path) -> None:
    out = tmp_path / "devnet.json"
    res = CliRunner().invoke(main, ["devnet", "--port", str(busy_port), "--deployment", str(out)])
    assert res.exit_code == 1
    assert f"port {busy_port}" in res.output
    assert not out.exists()  # no deployment file written


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_devnet_runs_in_a_fresh_checkout(tmp_path: Path, sig: signal.Signals) -> None:
    """``sdex devnet`` where ``.sdex/`` does not exist yet (a fresh clone that has not run
    ``make demo``; the README's first command): it died with a FileNotFoundError traceback
    opening ``.sdex/devnet.log``. It makes the directory, deploys, and stops on SIGINT sent
    as soon as it says it runs (1 of 2 runs on a loaded machine exited 1, click's "Aborted!":
    the handlers were installed after that line). It names each token's minimum order size.
    On SIGINT or SIGTERM it says it stopped, as a node does (ux49: SIGTERM said nothing)."""
    port = free_port()
    with devnet_running(tmp_path, port, ["--engine", "anvil"]) as (proc, lines):
        assert proc.stdout is not None
        text = "\n".join(line.rstrip() for line in lines)
        # each token's minimum order size, the nodes' default (user28: a new user met it only
        # as a refusal)
        saved = json.loads((tmp_path / ".sdex" / "devnet.json").read_text())
        weth, usdc = (to_checksum(saved["tokens"][s]["address"]) for s in ("WETH", "USDC"))
        assert f"\nWETH  {weth} (18 decimals; minimum order 0.0001 WETH)\n" in text, text
        assert f"\nUSDC  {usdc} (6 decimals; minimum order 0.1 USDC)\n" in text, text  # users89
        assert saved["rpc"] == f"http://127.0.0.1:{port}"
        proc.send_signal(sig)
        rest = proc.stdout.read()  # (to its exit)
        assert proc.wait(timeout=30) == 0
        assert re.fullmatch(r"stopped in \d+\.\d{3} s\n", rest), rest


def test_cli_rejects_unknown_engine() -> None:
    res = CliRunner().invoke(main, ["devnet", "--engine", "geth", "--port", str(free_port())])
    assert res.exit_code == 2
    assert "geth" in res.output


@pytest.mark.parametrize("engine", ["hardhat", "anvil"])
def test_engine_deploys_the_same_deployment(engine: str, tmp_path: Path) -> None:
    path = tmp_path / "devnet.json"
    with Devnet(deployment_path=path, accounts=3, engine=engine) as d:  # type: ignore[arg-type]
        assert d.chain_id == 31337
        rpc = Rpc(d.rpc)
        try:
            assert Exchange(rpc, d.exchange).domain().verifying_contract == d.exchange
            weth = Token(rpc, d.token("WETH").address)
            # Hardhat's and anvil's first dev account are the same key (the same mnemonic)
            assert d.accounts[0].address == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
            assert weth.balance_of(d.accounts[2].address) == 1_000 * 10**18
        finally:
            rpc.close()
    saved = path.read_text()
    assert d.exchange in saved and '"chainId": 31337' in saved


def test_hardhat_runs_without_transparent_huge_pages(devnet: Devnet) -> None:
    """Hardhat's EDR asks for huge pages, and zeroing a fresh 2 MB page per fault cost it
    more CPU than the transactions did (docs/BENCHMARKS.md): the devnet turns them off."""
    if devnet.engine != "hardhat" or not Path("/proc/self/status").exists():
        pytest.skip("Linux and Hardhat only")
    assert devnet.node.proc is not None
    status = Path(f"/proc/{devnet.node.proc.pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if "THP_enabled" not in fields:
        pytest.skip("this kernel does not report THP_enabled")
    assert fields["THP_enabled"].strip() == "0"


def test_hardhat_keeps_freed_memory_a_second(devnet: Devnet) -> None:
    """EDR's trace of each mined transaction (~1 MB a settled match) was handed back to the OS
    10 ms after it was freed and faulted in again for the next one (docs/BENCHMARKS.md,
    hardhat50): the devnet's Hardhat keeps freed memory a second (mimalloc's purge delay)."""
    if devnet.engine != "hardhat" or not Path("/proc/self/environ").exists():
        pytest.skip("Linux and Hardhat only")
    if "MIMALLOC_PURGE_DELAY" in os.environ:
        pytest.skip("the caller set mimalloc's purge delay itself")
    assert devnet.node.proc is not None
    raw = Path(f"/proc/{devnet.node.proc.pid}/environ").read_bytes()
    env = dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    assert env.get(b"MIMALLOC_PURGE_DELAY") == b"1000"


def test_hardhat_purge_delay_of_the_caller_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``MIMALLOC_PURGE_DELAY`` in the caller's environment is passed on as it is (an A/B of
    the allocator's settings: docs/BENCHMARKS.md, hardhat50)."""
    node = HardhatNode(free_port())
    monkeypatch.delenv("MIMALLOC_PURGE_DELAY", raising=False)
    assert node.env()["MIMALLOC_PURGE_DELAY"] == "1000"
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "-1")
    assert node.env()["MIMALLOC_PURGE_DELAY"] == "-1"


def test_anvil_extra_args_follow_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/anvil_raw.py and ``bench/node.py --anvil-args`` add options to anvil's command
    line (an A/B of anvil's own options); by default nothing is added."""
    if platform.machine() not in ANVIL_PACKAGES:
        pytest.skip("no anvil package for this machine")
    base = AnvilNode(free_port()).command()
    assert base[-1] == "--silent"
    monkeypatch.setattr(AnvilNode, "extra_args", ("--prune-history", "64"))
    assert AnvilNode(free_port()).command()[-3:] == ["--silent", "--prune-history", "64"]


def test_anvil_keeps_its_states_in_its_own_directory_removed_at_stop() -> None:
    """Past ~500 blocks anvil moves states out of memory to files, a file a block; left to
    itself it wrote them to ``~/.foundry/anvil/tmp/`` and left them when it stopped (2.2 GB
    from past runs on this machine, anvil35). Now they go to the chain's own directory
    (``--cache-path``), removed when the devnet stops it."""
    if platform.machine() not in ANVIL_PACKAGES:
        pytest.skip("no anvil package for this machine")
    node = AnvilNode(free_port())
    rpc = node.start()
    try:
        cache = node.cache_dir
        assert cache is not None and cache.is_dir()
        rpc.call("anvil_mine", hex(800))
        deadline = time.monotonic() + 30
        while not any(cache.rglob("*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(p.is_file() for p in cache.rglob("*"))  # anvil wrote its states here
    finally:
        rpc.close()
        node.stop()
    assert not cache.exists() and node.cache_dir is None


def test_anvil_block_time_mines_what_was_sent_meanwhile_in_one_bigger_block() -> None:
    """``sdex devnet --engine anvil --block-time S``: a block every S seconds (interval
    mining) with a 200M block gas limit, so that transactions sent between two blocks share
    one (a node's settlement batches in flight: anvil's work is mostly per block). The
    deployment goes through it as through automine."""
    if platform.machine() not in ANVIL_PACKAGES:
        pytest.skip("no anvil package for this machine")
    with Devnet(accounts=3, engine="anvil", block_time=0.5) as d:
        rpc = Rpc(d.rpc)
        try:
            senders = [Sender(rpc, bytes.fromhex(a.key[2:]), d.chain_id) for a in d.accounts[1:3]]
            weth = d.token("WETH").address
            # a no-op call each (balanceOf), sent back to back: the interval mines both at once
            txs = [s.sign(weth, bytes.fromhex("70a08231") + bytes(32), 60_000) for s in senders]
            for s, tx in zip(senders, txs, strict=True):
                s.broadcast(tx)
            blocks = {senders[0].wait(tx.tx_hash, timeout=10).block_number for tx in txs}
            assert len(blocks) == 1
            block = rpc.call("eth_getBlockByNumber", hex(blocks.pop()), False)
            assert len(block["transactions"]) == 2
            assert int(block["gasLimit"], 16) == INTERVAL_BLOCK_GAS == 200_000_000
        finally:
            rpc.close()


def test_block_time_is_refused_for_hardhat_before_anything_starts(tmp_path: Path) -> None:
    """Hardhat stays automine (what ``make demo`` and the tests' order-to-receipt use):
    ``--block-time`` with it is one error line, exit 1, no chain started, no file written."""
    out = tmp_path / "devnet.json"
    port = free_port()
    res = CliRunner().invoke(
        main, ["devnet", "--port", str(port), "--deployment", str(out), "--block-time", "0.05"]
    )
    assert res.exit_code == 1
    assert "--engine anvil only" in res.output
    assert not out.exists()
    with socket.socket() as s:  # nothing listens on the port
        assert s.connect_ex(("127.0.0.1", port)) != 0
    with pytest.raises(DevnetError, match=r"from 0\.001 to 60"):
        AnvilNode(port, block_time=0)
