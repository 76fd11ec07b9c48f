"""The chain a wallet command reads or sends to (``sdex cancel --onchain``, ``sdex balance``):
``--rpc``, else the deployment file's ``rpc``, checked to be the node's chain and Exchange
before anything is read or sent."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from sdex.client import OrderConfig
from sdex.deployment import Deployment
from sdex.errors import ChainError, ContractRevert
from sdex.order import to_checksum
from sdex.walletout import short_error

if TYPE_CHECKING:
    from sdex.chain import Rpc


@contextlib.contextmanager
def node_chain(config: OrderConfig, rpc_url: str | None, deployment_path: Path) -> Iterator[Rpc]:
    """An ``Rpc`` of the node's chain, closed on exit: ``ChainError`` when it is another
    chain or Exchange than the node's (``config``), or does not answer (said with where its
    URL came from: a deployment file left by a devnet that is no longer running named a port
    the user never typed)."""
    from sdex.chain import Exchange, Rpc  # (sdex.chain's import: only for these commands)

    origin = ""
    if rpc_url is None:
        rpc_url = Deployment.load(deployment_path).rpc
        origin = (
            f" (the rpc of {deployment_path}: is that chain still running? "
            "Pass --rpc URL or --deployment PATH)"
        )
    rpc = Rpc(rpc_url)
    try:
        try:
            domain = Exchange(rpc, config.exchange).domain()
        except ContractRevert:
            domain = None
        if domain != config.domain:
            raise ChainError(
                f"the chain at {rpc_url} is not the node's (chain {config.chain_id}, "
                f"exchange {to_checksum(config.exchange)})"
            )
        yield rpc
    except requests.RequestException as e:
        raise rpc_failure(e, rpc_url, origin) from e
    finally:
        rpc.close()


def rpc_failure(e: requests.RequestException, rpc_url: str, origin: str = "") -> ChainError:
    """A JSON-RPC endpoint's failure in words: not a chain's (an HTTP error: it read "cannot
    reach ...: HTTPError", user63), or not reached; ``origin``: where its URL came from."""
    if isinstance(e, requests.HTTPError):
        answered = str(e).split(" for url")[0].strip() or type(e).__name__
        return ChainError(
            f"{rpc_url}{origin} is not a chain's JSON-RPC endpoint: it answered HTTP "
            f"{answered} (--rpc takes the chain's URL, e.g. the deployment file's rpc, not a "
            "node's)"
        )
    return ChainError(f"cannot reach the JSON-RPC endpoint {rpc_url}{origin}: {short_error(e)}")
