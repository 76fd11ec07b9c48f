"""``sdex devnet``: a local Hardhat node with the Exchange and test tokens deployed.

Starts ``hardhat node`` on a chosen port, deploys the Exchange, WETH (18 decimals) and USDC
(6 decimals), mints both to the dev accounts (Hardhat's well-known mnemonic), approves the
Exchange from each, and writes the deployment file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from eth_account import Account

from sdex.chain import Exchange, Rpc, Sender, Token, deploy
from sdex.chain.abi import REPO_ROOT
from sdex.deployment import Deployment, DevAccount, TokenInfo
from sdex.errors import DevnetError

HARDHAT_MNEMONIC = "test test test test test test test test test test test junk"
UINT256_MAX = 2**256 - 1
DEV_TOKENS = (("WETH", "Wrapped Ether", 18, 1_000), ("USDC", "USD Coin", 6, 10_000_000))
"""(symbol, name, decimals, whole units minted to each dev account)"""


def dev_keys(count: int) -> list[bytes]:
    """Private keys of Hardhat's default accounts 0..count-1."""
    Account.enable_unaudited_hdwallet_features()
    return [
        bytes(Account.from_mnemonic(HARDHAT_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key)
        for i in range(count)
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HardhatNode:
    """A ``hardhat node`` child process on 127.0.0.1; stopped by its own PID."""

    def __init__(self, port: int, log_path: Path | None = None, accounts: int = 20) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.accounts = accounts
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Rpc:
        hardhat = REPO_ROOT / "node_modules" / ".bin" / "hardhat"
        if not hardhat.exists():
            raise DevnetError("node_modules is missing: run `make setup` (npm ci) first")
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(hardhat), "node", "--hostname", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={
                **os.environ,
                "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
                "SDEX_DEV_ACCOUNTS": str(max(20, self.accounts)),
            },
        )
        rpc = Rpc(self.url)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise DevnetError(
                    f"hardhat node exited with {self.proc.returncode} (see {self.log_path})"
                )
            try:
                rpc.call("eth_chainId")
                break
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise DevnetError(
                        f"hardhat node did not answer on {self.url} in {timeout}s"
                    ) from None
                time.sleep(0.1)
        # Hardhat logs every JSON-RPC call; that costs throughput and fills the log.
        rpc.call("hardhat_setLoggingEnabled", False)
        return rpc

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def deploy_devnet(rpc: Rpc, url: str, accounts: int = 20) -> Deployment:
    """Deploy the Exchange and dev tokens and fund + approve ``accounts`` dev accounts."""
    keys = dev_keys(accounts)
    chain_id = int(rpc.call("eth_chainId"), 16)
    senders = [Sender(rpc, k, chain_id) for k in keys]
    deployer = senders[0]
    exchange_address = deploy(deployer, "Exchange")
    deploy_block = int(rpc.call("eth_blockNumber"), 16)
    tokens: dict[str, TokenInfo] = {}
    for symbol, name, decimals, units in DEV_TOKENS:
        token = Token(rpc, deploy(deployer, "TestToken", name, symbol, decimals))
        tokens[symbol] = TokenInfo(token.address, decimals)
        for s in senders:
            token.mint(deployer, s.address, units * 10**decimals)
            token.approve(s, exchange_address, UINT256_MAX)
    Exchange(rpc, exchange_address).domain()  # proves the deployment answers ERC-5267
    return Deployment(
        chain_id=chain_id,
        rpc=url,
        exchange=exchange_address,
        deploy_block=deploy_block,
        tokens=tokens,
        accounts=[
            DevAccount(s.address, "0x" + k.hex()) for s, k in zip(senders, keys, strict=True)
        ],
    )


class Devnet:
    """A running Hardhat node with everything deployed; a context manager that stops it."""

    def __init__(
        self,
        port: int | None = None,
        deployment_path: Path | None = None,
        log_path: Path | None = None,
        accounts: int = 20,
    ) -> None:
        self.node = HardhatNode(port or free_port(), log_path, accounts)
        self.deployment_path = deployment_path
        self.accounts = accounts
        self.rpc: Rpc | None = None
        self.deployment: Deployment | None = None

    def start(self) -> Deployment:
        self.rpc = self.node.start()
        try:
            self.deployment = deploy_devnet(self.rpc, self.node.url, self.accounts)
        except BaseException:
            self.node.stop()
            raise
        if self.deployment_path is not None:
            self.deployment.save(self.deployment_path)
        return self.deployment

    def stop(self) -> None:
        if self.rpc is not None:
            self.rpc.close()
        self.node.stop()

    def __enter__(self) -> Deployment:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.contextmanager
def running_devnet(**kwargs: object) -> Iterator[tuple[Devnet, Deployment]]:
    devnet = Devnet(**kwargs)  # type: ignore[arg-type]
    try:
        yield devnet, devnet.start()
    finally:
        devnet.stop()
