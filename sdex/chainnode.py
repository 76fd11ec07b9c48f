"""A local chain process on a loopback port: ``hardhat node`` (the default engine) or
``anvil``, with the same chain id, accounts (the well-known test mnemonic) and gas settings,
started and stopped by its own PID, and the loopback ports it and the tests' servers take.
``sdex.devnet`` deploys onto it.

anvil comes from the npm package ``@foundry-rs/anvil``, whose platform sub-package
(``@foundry-rs/anvil-linux-amd64``) holds the binary; ``npm ci`` installs it from the lock
file and nothing downloads at run time.
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from sdex.chain import Rpc
from sdex.chain.abi import REPO_ROOT
from sdex.errors import DevnetError

HARDHAT_MNEMONIC = "test test test test test test test test test test test junk"
Engine = Literal["hardhat", "anvil"]
ENGINES: tuple[Engine, ...] = ("hardhat", "anvil")
ANVIL_PACKAGES = {"x86_64": "anvil-linux-amd64", "aarch64": "anvil-linux-arm64"}
"""machine -> the npm sub-package of @foundry-rs/anvil that holds its binary"""
PORTS_FROM = 20_000
"""``free_port`` picks from here up to the kernel's ephemeral range."""


def free_port() -> int:
    """A loopback TCP port free now, for a server started a moment later. Picked below the
    kernel's ephemeral range (``ip_local_port_range``), where every outgoing connection of
    the machine takes its local port: a port picked there can be taken by a connection
    before the server binds it (seen: "address already in use" for 2 of 5 test nodes on a
    busy machine). At random, each tried by binding it; the kernel's pick if none is."""
    low = _ephemeral_low()
    pick = random.SystemRandom()
    if low - PORTS_FROM >= 1_000:
        for _ in range(64):
            port = pick.randrange(PORTS_FROM, low)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's default when unknown)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def check_port_free(port: int) -> None:
    """Refuse a port that something already listens on, before any deployment (said here
    at once, not by the engine's failed bind seconds later)."""
    with socket.socket() as s:
        # REUSEADDR: a closed socket's TIME_WAIT on this port is no reason to refuse it
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            raise PortTaken(port, e.strerror or "") from None


class PortTaken(DevnetError):
    """Another process listens on the chain's port (before it started, or took it first)."""

    def __init__(self, port: int, why: str) -> None:
        super().__init__(
            f"port {port} on 127.0.0.1 is already in use ({why}): stop what listens there "
            "or pick another with --port"
        )


PORT_TRIES = 3
"""Ports a chain whose port is its own pick (``ChainNode(None)``) tries when another process
listens on the one it picked before it binds it (Hardhat binds seconds after the pick)."""
SAID_LIMIT = 64 * 1024
"""Bytes of a starting chain's output read for its "listening" line (it comes first)."""


class ChainNode:
    """A local chain process on 127.0.0.1; stopped by its own PID. Subclasses give the command."""

    name = "chain"

    def __init__(self, port: int | None, log_path: Path | None = None, accounts: int = 20) -> None:
        """``port`` None: one picked here (``free_port``), and picked again at ``start`` if
        another process takes it first; a port given is refused then (``PortTaken``)."""
        self.picked = port is None
        self.port = free_port() if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.accounts = accounts
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def after_start(self, rpc: Rpc) -> None:
        """Engine settings applied once the node answers."""

    def listens(self, said: str) -> bool:
        """Whether this start's process said it listens on ``url``; ``said``: its output."""
        raise NotImplementedError

    def start(self, timeout: float = 60.0) -> Rpc:
        """The chain, up once its own process said it listens on ``url`` (``listens``) and it
        answers there: not whatever answers there (another test's or checkout's chain that
        took the port between ``free_port``'s pick and this bind answers ``eth_chainId``
        too, and the deployment landed on it). A port of its own pick that another process
        took first is picked again, at most ``PORT_TRIES`` times."""
        for attempt in range(1, PORT_TRIES + 1):
            try:
                return self._start(timeout)
            except PortTaken:
                if not self.picked or attempt == PORT_TRIES:
                    raise
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> Rpc:
        check_port_free(self.port)
        cmd = self.command()
        if self.log_path:  # (.sdex/ on a fresh clone: the deployment file goes beside it)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # its output, read back from this start's first byte on (the log is appended to)
        out = open(self.log_path, "a+b") if self.log_path else tempfile.TemporaryFile()  # noqa: SIM115
        with out:
            since = os.fstat(out.fileno()).st_size
            self.proc = subprocess.Popen(
                cmd, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=self.env(),
            )  # fmt: skip
            rpc = Rpc(self.url)
            try:
                self._wait_up(rpc, lambda: os.pread(out.fileno(), SAID_LIMIT, since), timeout)
            except BaseException:
                rpc.close()
                ChainNode.stop(self)  # (the process only: a retry keeps the rest)
                raise
        self.after_start(rpc)
        return rpc

    def _wait_up(self, rpc: Rpc, output: Callable[[], bytes], timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            said = output().decode(errors="replace")
            if self.proc.poll() is not None:
                if "address already in use" in said.lower():
                    raise PortTaken(self.port, f"taken before {self.name} bound it")
                where = f"see {self.log_path}" if self.log_path else said.strip()[-300:]
                raise DevnetError(f"{self.name} exited with {self.proc.returncode} ({where})")
            if self.listens(said):
                try:
                    rpc.call("eth_chainId")
                    return
                except Exception:
                    pass
            if time.monotonic() > deadline:
                raise DevnetError(f"{self.name} did not answer on {self.url} in {timeout}s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


class HardhatNode(ChainNode):
    """``hardhat node`` (chain 31337, cancun, accounts from hardhat.config.js)."""

    name = "hardhat node"

    def command(self) -> list[str]:
        hardhat = REPO_ROOT / "node_modules" / ".bin" / "hardhat"
        if not hardhat.exists():
            raise DevnetError("node_modules is missing: run `make setup` (npm ci) first")
        cmd = [str(hardhat), "node", "--hostname", "127.0.0.1", "--port", str(self.port)]
        return [*NO_HUGE_PAGES, *cmd] if sys.platform == "linux" else cmd

    def listens(self, said: str) -> bool:
        return f"JSON-RPC server at {self.url}/" in said

    def env(self) -> dict[str, str]:
        return {
            **HARDHAT_ALLOCATOR,
            **os.environ,
            "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
            "SDEX_DEV_ACCOUNTS": str(max(20, self.accounts)),
        }

    def after_start(self, rpc: Rpc) -> None:
        # Hardhat logs every JSON-RPC call; that costs throughput and fills the log.
        rpc.call("hardhat_setLoggingEnabled", False)


HARDHAT_ALLOCATOR = {"MIMALLOC_PURGE_DELAY": "1000"}
"""Hardhat's EDR allocates with mimalloc, which hands freed memory back to the OS 10 ms
after it is unused by default (and ten times that for its arenas); EDR records every EVM step
of a transaction it mines (its trace, for stack traces), ~1 MB a settled match, so each
``batchMatchOrders`` of 64 took tens of MB of fresh pages from the OS, faulted in and zeroed
one by one. Kept a second, the next transaction's trace reuses them: Hardhat's page faults a
raw match ~100 -> ~10-25, its CPU a raw match 0.81-0.87x, a node's settled match 0.94x
(docs/BENCHMARKS.md, hardhat50), for 40-175 MB more memory while it mines; an idle devnet
still gives it back. A ``MIMALLOC_PURGE_DELAY`` of the caller's own wins."""

NO_HUGE_PAGES = [
    sys.executable,
    "-c",
    "import ctypes, os, sys; ctypes.CDLL(None).prctl(41, 1, 0, 0, 0); "
    "os.execv(sys.argv[1], sys.argv[1:])",
]
"""Hardhat is started through this: no transparent huge pages for it (Linux
``PR_SET_THP_DISABLE`` = 41, kept across exec, same PID). Its EDR asks for them, and a fault
on a fresh 2 MB page zeroes all of it: perf showed 35-40% of Hardhat's CPU in
``clear_page_erms`` under ``do_huge_pmd_anonymous_page`` while a node settled, its system
time up to 3x its user time (docs/BENCHMARKS.md). (A wrapper, not ``preexec_fn``: that is
unsafe in a process with threads.)"""


def anvil_binary() -> Path:
    """The anvil binary of the installed npm sub-package for this machine."""
    package = ANVIL_PACKAGES.get(platform.machine())
    if package is None or sys.platform != "linux":
        raise DevnetError(f"no anvil package pinned for {sys.platform}/{platform.machine()}")
    binary = REPO_ROOT / "node_modules" / "@foundry-rs" / package / "bin" / "anvil"
    if not binary.exists():
        raise DevnetError(f"{binary} is missing: run `make setup` (npm ci) first")
    return binary


BLOCK_GAS = 30_000_000
"""Hardhat's block gas limit, anvil's too while it mines a block a transaction."""
INTERVAL_BLOCK_GAS = 200_000_000
"""anvil's block gas limit with interval mining: room for a node's settlement batches in
flight in one block (``sdex.settlement.settler.MAX_IN_FLIGHT`` x 16 M gas each) and others.
anvil's work a block is mostly per block, not per gas (docs/BENCHMARKS.md, anvil38)."""
STARTED = "started.json"  # (anvil's --config-out file beside its cache_dir: written once bound)
BLOCK_TIMES = (0.001, 60.0)
"""Interval mining's block time bounds, seconds."""


class AnvilNode(ChainNode):
    """anvil with Hardhat's settings: chain 31337, cancun, the same mnemonic and accounts,
    automine, Hardhat's per-transaction gas cap, so the deployment and tests carry over.
    With ``block_time``, a block every ``block_time`` seconds instead (interval mining)
    with a bigger block gas limit: whatever was sent meanwhile shares a block, which costs
    anvil about what a block of one transaction does."""

    name = "anvil"
    extra_args: tuple[str, ...] = ()
    """Options added after these (bench/anvil_raw.py's A/B of anvil's own options)."""
    cache_dir: Path | None = None
    """Where this chain's anvil writes the states it moves out of memory (``--cache-path``),
    removed at ``stop``. Left to itself, anvil 1.7 writes a JSON file a block to
    ``~/.foundry/anvil/tmp/`` once ~500 blocks are held and leaves them when it stops, even
    on SIGTERM: 2.2 GB there from past test and bench runs on this machine (anvil35)."""

    def __init__(
        self,
        port: int | None,
        log_path: Path | None = None,
        accounts: int = 20,
        block_time: float | None = None,
    ) -> None:
        super().__init__(port, log_path, accounts)
        if block_time is not None and not BLOCK_TIMES[0] <= block_time <= BLOCK_TIMES[1]:
            low, high = BLOCK_TIMES
            raise DevnetError(f"block time {block_time:g} s: expected from {low:g} to {high:g}")
        self.block_time = block_time
        self.gas_limit = BLOCK_GAS if block_time is None else INTERVAL_BLOCK_GAS

    def start(self, timeout: float = 60.0) -> Rpc:
        self.cache_dir = Path(tempfile.mkdtemp(prefix="sdex-anvil-")) / "states"
        self.cache_dir.mkdir()
        try:
            return super().start(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.cache_dir is not None:
                shutil.rmtree(self.cache_dir.parent, ignore_errors=True)
                self.cache_dir = None

    def listens(self, said: str) -> bool:
        # (--silent: no "Listening on" line; the config file is written once it is bound)
        return self.cache_dir is not None and (self.cache_dir.parent / STARTED).exists()

    def command(self) -> list[str]:
        cache = () if self.cache_dir is None else (
            "--cache-path", str(self.cache_dir),
            "--config-out", str(self.cache_dir.parent / STARTED),
        )  # fmt: skip
        return [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", "31337",
            "--hardfork", "cancun",
            "--mnemonic", HARDHAT_MNEMONIC,
            "--accounts", str(max(20, self.accounts)),
            "--gas-limit", str(self.gas_limit),
            "--silent",
            *(() if self.block_time is None else ("--block-time", f"{self.block_time:g}")),
            *cache,
            *self.extra_args,
        ]  # fmt: skip


def chain_node(
    engine: Engine,
    port: int | None,
    log_path: Path | None = None,
    accounts: int = 20,
    block_time: float | None = None,
) -> ChainNode:
    """``block_time`` (interval mining): anvil only; Hardhat mines a block a transaction."""
    if engine == "hardhat" and block_time is None:
        return HardhatNode(port, log_path, accounts)
    if engine == "hardhat":
        raise DevnetError("a block time is for --engine anvil only (Hardhat: automine)")
    if engine == "anvil":
        return AnvilNode(port, log_path, accounts, block_time)
    raise DevnetError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
