"""``sdex devnet``: a local chain with the Exchange and test tokens deployed.

Starts ``hardhat node`` (the default engine) or ``anvil`` on a chosen port (the process:
``sdex.chainnode``), deploys the Exchange, WETH (18 decimals) and USDC (6 decimals), mints
both to the dev accounts (the well-known test mnemonic, which both engines fund), approves
the Exchange from each, and writes the deployment file (the same shape for either engine).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from eth_account import Account

from sdex.chain import Exchange, Rpc, Sender, Token, deploy
from sdex.chain.exchange import deployed
from sdex.chain.rpc import quantity
from sdex.chain.tx import refused_for_nonce as refused_for_nonce
from sdex.chainnode import HARDHAT_MNEMONIC, Engine, chain_node
from sdex.chainnode import free_port as free_port  # (imported from here by many tests)
from sdex.deployment import Deployment, DevAccount, TokenInfo
from sdex.errors import ChainError, DevnetError, RpcError

UINT256_MAX = 2**256 - 1
DEV_TOKENS = (
    ("WETH", "Wrapped Ether", 18, 1_000, 10**14),
    ("USDC", "USD Coin", 6, 10_000_000, 10**5),
)
"""(symbol, name, decimals, whole units minted to each dev account, minimum order size in
base units: 0.0001 WETH and 0.1 USDC, about the same worth at a few thousand USDC a WETH;
the deployment file's ``minAmount``, ``sdex node``'s default)"""


def dev_keys(count: int) -> list[bytes]:
    """Private keys of Hardhat's default accounts 0..count-1."""
    Account.enable_unaudited_hdwallet_features()
    return [
        bytes(Account.from_mnemonic(HARDHAT_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key)
        for i in range(count)
    ]


NONCE_TRIES = 5
"""Sends of one deployment transaction refused for its nonce before the deployment fails."""

T = TypeVar("T")


def _past_others(send: Callable[[], T]) -> T:
    """``send()``, signed again at the chain's count when refused for its nonce: a node
    still running against a devnet restarted on its port may send from a dev account (its
    operator key) while the deployment funds and approves from it (the sender forgets its
    count on a failed send and reads the chain's next time). A refused send was not taken,
    so signing it again sends it once (``eth_sendRawTransaction`` is answered once, with the
    hash or the refusal, and neither client writes a request twice: ``sdex.chain.lean``
    never retries, ``requests`` retries no POST). Any other failure, after which the send
    may have landed (no answer in time, junk), is raised: the deployment fails, nothing is
    sent twice (``refused_for_nonce``)."""
    for attempt in range(1, NONCE_TRIES + 1):
        try:
            return send()
        except RpcError as e:
            if not refused_for_nonce(e) or attempt == NONCE_TRIES:
                raise
    raise AssertionError("unreachable")


def deploy_devnet(rpc: Rpc, url: str, accounts: int = 20) -> Deployment:
    """Deploy the Exchange and dev tokens and fund + approve ``accounts`` dev accounts."""
    keys = dev_keys(accounts)
    chain_id = quantity(rpc.call("eth_chainId"))
    senders = [Sender(rpc, k, chain_id) for k in keys]
    deployer = senders[0]
    # (the block the Exchange was created in, not the head after: another's transaction may
    # be mined in between, and the mirror reads the Exchange's logs from this block on)
    exchange_address, deploy_block = _past_others(partial(deployed, deployer, "Exchange"))
    tokens: dict[str, TokenInfo] = {}
    for symbol, name, decimals, units, least in DEV_TOKENS:
        token_data = partial(deploy, deployer, "TestToken", name, symbol, decimals)
        token = Token(rpc, _past_others(token_data))
        tokens[symbol] = TokenInfo(token.address, decimals, least)
        for s in senders:
            _past_others(partial(token.mint, deployer, s.address, units * 10**decimals))
            _past_others(partial(token.approve, s, exchange_address, UINT256_MAX))
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
    """A running chain (Hardhat or anvil) with everything deployed; a context manager that
    stops it."""

    def __init__(
        self,
        port: int | None = None,
        deployment_path: Path | None = None,
        log_path: Path | None = None,
        accounts: int = 20,
        engine: Engine = "hardhat",
        block_time: float | None = None,
    ) -> None:
        self.engine = engine
        self.node = chain_node(engine, port, log_path, accounts, block_time)
        self.deployment_path = deployment_path
        self.accounts = accounts
        self.rpc: Rpc | None = None
        self.deployment: Deployment | None = None

    def start(self) -> Deployment:
        self.rpc = self.node.start()
        try:
            self.deployment = deploy_devnet(self.rpc, self.node.url, self.accounts)
        except (ChainError, OSError, ValueError) as e:  # (requests' errors are OSErrors)
            # review26: the chain died or broke mid-deployment: one line, not a traceback
            code = self.node.proc.poll() if self.node.proc is not None else None
            self.node.stop()
            why = f"{self.node.name} exited with {code}" if code is not None else str(e)
            log = f" (see {self.node.log_path})" if self.node.log_path else ""
            raise DevnetError(f"the deployment failed: {why[:300]}{log}") from e
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
