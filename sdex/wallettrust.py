"""What a wallet checks of a node's ``order_config`` before it signs (``sdex order``, ``sdex
cancel``, the console): its chain id, Exchange, and each token's address, decimals and symbol,
against a source the wallet trusts, not the node (left77: a node saying USDC has 18 decimals
had ``sdex order buy 1500 0.5`` print "750 USDC" and sign 750·10^18 base units).

The sources: the deployment file (``--deployment``, else ``sdex.deployment.DEFAULT_PATH``
when it is there), which names the network's Exchange and tokens; and the chain (``--rpc``):
its ``eth_chainId``, the Exchange's ``eip712Domain()`` at the node's address, and each of the
market's tokens' ``decimals()`` and ``symbol()``. The chain cannot tell which contract is the
token you mean (a node may name a copy that answers "USDC" and 6), nor the network's Exchange
from another deployment of it: only the file can. A difference is one ``ListingDiffers``
naming the field, the node's value and the trusted one; with no source, a warning says the
node's listing is signed unchecked and how to check it.

``sdex balance`` and ``sdex book`` sign nothing but show amounts in the listing's decimals
(wallet78: a node listing USDC with 18 decimals had ``sdex balance`` show a balance 10^12 too
small, and a user then signed for the wrong amount): they check it the same way (``SHOW``),
``sdex balance`` each shown token's ``decimals()`` and ``symbol()`` on the chain it reads.

``OrderConfig.from_json`` already holds the node's ``domain`` to its own chainId and exchange
(wallet74): checking those two here checks the domain every signature is made in."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
import requests
from rich.console import Console
from rich.markup import escape

from sdex.client import OrderConfig
from sdex.deployment import DEFAULT_PATH, DEMO_PATH, Deployment, TokenInfo
from sdex.errors import ChainError, SdexError
from sdex.order import to_checksum
from sdex.wallet import Market
from sdex.walletchain import rpc_failure

if TYPE_CHECKING:
    from sdex.chain import Rpc

CHAIN_TIMEOUT = 10.0
"""Seconds each read of the chain (``--rpc``) may take."""


class ListingDiffers(SdexError):
    """The node's ``order_config`` differs from a trusted source: nothing is signed."""


@dataclass(frozen=True, slots=True)
class Purpose:
    """What the listing is used for, in a refusal's and a warning's words."""

    refusing: str
    nothing: str
    unchecked: str
    before: str
    blame: str = ""
    """Why a difference is, when the caller knows (else the two causes the source allows)."""


SIGN = Purpose(
    "refusing to sign",
    "nothing was signed or sent",
    "is signed as the node says it, unchecked",
    "before signing",
)
DEMO = Purpose(
    "refusing to sign",
    "nothing was signed or sent",
    "",
    "",
    "the demo started that node on that deployment: it misstates its listing",
)
REPOST = Purpose(
    "refusing to post",
    "nothing was sent",
    "is used as the node says it to show the order's amounts, unchecked",
    "before the order is posted",
)
SHOW = Purpose(
    "refusing to show amounts in the node's units",
    "nothing was shown",
    "is used as the node says it to show amounts, unchecked",
    "before showing amounts",
)


@dataclass(frozen=True, slots=True)
class Trusted:
    """Where a wallet command may check a node's listing: the deployment file (``given``:
    named by ``--deployment``, so it must be there; else read only when it is) and the chain
    (``rpc``, ``--rpc``), either or both."""

    deployment_path: Path = DEFAULT_PATH
    deployment_given: bool = False
    rpc: str | None = None

    def deployment(self) -> Deployment | None:
        """The deployment file, None when it was not named and nothing is at the default path;
        ``DeploymentError`` for one named and missing, or one there that cannot be used (a
        FIFO, a directory, a link to nothing there was taken for no file, wallet80)."""
        if not self.deployment_given and not os.path.lexists(self.deployment_path):
            return None
        return Deployment.load(self.deployment_path)

    @classmethod
    def from_options(cls, rpc: str | None, deployment_path: Path) -> Trusted:
        """A wallet command's ``--rpc`` and ``--deployment``: ``--deployment`` named on the
        command line must be there; the default is read if it is."""
        source = click.get_current_context().get_parameter_source("deployment_path")
        given = source not in (None, click.core.ParameterSource.DEFAULT)
        return cls(deployment_path, given, rpc)


def check_listing(
    config: OrderConfig,
    trusted: Trusted,
    err: Console,
    market: Market | None = None,
    *,
    chain: bool = True,
    purpose: Purpose = SIGN,
) -> None:
    """``ListingDiffers`` if the node's listing differs from a trusted source: its chain id
    and Exchange, each token it lists that the deployment file lists too (``market``'s two
    must be in the file), and (``--rpc``) the chain's answers for ``market``'s tokens; a
    warning on ``err`` when there is no source to check against. ``chain`` False: the
    caller checks the chain itself (``sdex.walletchain.node_chain``: the Exchange's domain
    at the node's address, which holds the chain id too). ``purpose``: what the listing is
    used for (``SIGN``; ``SHOW``: amounts shown), said by a refusal or the warning."""
    d = check_file(config, trusted, market, purpose)
    if trusted.rpc is not None and chain:
        _check_chain(config, trusted.rpc, market, purpose)
    if d is None and trusted.rpc is None:
        err.print(
            "[yellow]warning:[/] the node's order_config (its chain id, Exchange, token "
            f"addresses and decimals) {purpose.unchecked}: there is no "
            f"deployment file at {escape(str(trusted.deployment_path))} and no --rpc; pass "
            "--deployment PATH (the network's deployment file, `sdex devnet` writes one) or "
            f"--rpc URL (its chain) to check it {purpose.before}" + escape(_demo_hint(trusted))
        )
    elif d is None and market is not None:
        err.print(
            "[yellow]note:[/] the token addresses are the node's: --rpc checks each one's "
            "decimals and symbol on chain, not that it is the token you mean; --deployment PATH "
            "checks them too"
        )


def check_file(
    config: OrderConfig, trusted: Trusted, market: Market | None, purpose: Purpose = SIGN
) -> Deployment | None:
    """``ListingDiffers`` if the node's listing differs from the deployment file (``check_listing``
    without the chain), which is returned; None when there is none to check against."""
    d = trusted.deployment()
    if d is not None:
        source = f"the deployment file {trusted.deployment_path}"
        _check_file(config, d, source, market, purpose)
    return d


def check_known(
    config: OrderConfig, d: Deployment, source: str, market: Market, purpose: Purpose = DEMO
) -> None:
    """``ListingDiffers`` if the node's listing differs from ``d``, a deployment the caller
    made itself (``sdex demo``'s devnet; ``source`` names it), or from the chain at its
    ``rpc``: its chain id, Exchange and ``market``'s tokens' decimals and symbols (wallet79:
    the demo signed whatever its nodes listed)."""
    _check_file(config, d, source, market, purpose)
    _check_chain(config, d.rpc, market, purpose)


def check_tokens_on_chain(rpc: Rpc, tokens: dict[str, TokenInfo], purpose: Purpose = SHOW) -> None:
    """``ListingDiffers`` if a token's ``decimals()`` or ``symbol()`` on the chain at ``rpc``
    is not what the node lists (``sdex balance``: the chain it reads the balances from)."""
    try:
        for sym, t in tokens.items():
            _check_token_on_chain(rpc, sym, t, f"the chain at {rpc.url}", purpose)
    except requests.RequestException as e:
        raise rpc_failure(e, rpc.url) from e


def _demo_hint(trusted: Trusted) -> str:
    """Where ``make demo KEEP=1`` keeps its network's file, when it is there (its nodes are on
    it, not on the default file's network)."""
    if DEMO_PATH.is_file() and trusted.deployment_path.resolve() != DEMO_PATH.resolve():
        return f" (`make demo KEEP=1` writes its network's to {DEMO_PATH}, while it runs)"
    return ""


def _differs(
    field: str, node: object, trusted: object, source: str, purpose: Purpose
) -> ListingDiffers:
    """The one line a difference is said in; ``source`` is a file or "the chain at URL"."""
    at = "on" if source.startswith("the chain") else "in"
    why = purpose.blame or (
        "the node is on another chain than --rpc's, or misstates its listing"
        if at == "on"
        else "the node is on another network than that file's (--deployment PATH names the "
        "right one), or misstates its listing"
    )
    return ListingDiffers(
        f"{purpose.refusing}: the node's order_config differs from {source}: {field} is "
        f"{node} at the node, {trusted} {at} {source}; {purpose.nothing} ({why})"
    )


def _check_file(
    config: OrderConfig, d: Deployment, source: str, market: Market | None, purpose: Purpose
) -> None:
    if config.chain_id != d.chain_id:
        raise _differs("chainId", config.chain_id, d.chain_id, source, purpose)
    if config.exchange != d.exchange:
        ours = to_checksum(d.exchange)
        raise _differs("exchange", to_checksum(config.exchange), ours, source, purpose)
    wanted = {market.base.upper(), market.quote.upper()} if market is not None else set()
    for sym, t in config.tokens.items():
        _check_token(sym, t, d, source, sym.upper() in wanted, purpose)


def _check_token(
    sym: str, t: TokenInfo, d: Deployment, source: str, must: bool, purpose: Purpose
) -> None:
    """The node's token ``sym`` against the file: the file's symbol for its address, then the
    address and decimals the file gives the symbol; one the file lacks under either only if
    ``must`` (the market's: it is signed)."""
    named = d.symbol_of(t.address)
    if named is not None and named.upper() != sym.upper():
        where = f"the symbol of token {to_checksum(t.address)}"
        raise _differs(where, sym, named, source, purpose)
    ours = next((info for s, info in d.tokens.items() if s.upper() == sym.upper()), None)
    if ours is None:
        if must:
            raise _differs(
                f"tokens.{sym}",
                f"listed (at {to_checksum(t.address)})",
                "not listed",
                source,
                purpose,
            )
        return
    if t.address != ours.address:
        raise _differs(
            f"tokens.{sym}.address",
            to_checksum(t.address),
            to_checksum(ours.address),
            source,
            purpose,
        )
    if t.decimals != ours.decimals:
        raise _differs(f"tokens.{sym}.decimals", t.decimals, ours.decimals, source, purpose)


def _check_chain(
    config: OrderConfig, rpc_url: str, market: Market | None, purpose: Purpose
) -> None:
    from sdex.chain import Rpc  # (sdex.chain's import: only with --rpc)

    rpc = Rpc(rpc_url, timeout=CHAIN_TIMEOUT)
    source = f"the chain at {rpc_url}"
    try:
        chain_id = int(str(rpc.call("eth_chainId")), 16)
        if chain_id != config.chain_id:
            raise _differs("chainId", config.chain_id, chain_id, source, purpose)
        _check_exchange(rpc, config, source, purpose)
        if market is not None:
            for sym, t in ((market.base, market.base_token), (market.quote, market.quote_token)):
                _check_token_on_chain(rpc, sym, t, source, purpose)
    except requests.RequestException as e:  # (said as ``node_chain`` says it)
        raise rpc_failure(e, rpc_url) from e
    except ValueError as e:  # (an eth_chainId that is no number)
        raise ChainError(f"{rpc_url} answered eth_chainId with no chain id: {e}") from None
    finally:
        rpc.close()


def _check_exchange(rpc: Rpc, config: OrderConfig, source: str, purpose: Purpose) -> None:
    from sdex.chain import Exchange

    where = to_checksum(config.exchange)
    code = str(rpc.call("eth_getCode", config.exchange, "latest"))
    if code in ("0x", "0x0", ""):
        raise _differs("exchange", where, "no contract at that address", source, purpose)
    try:
        domain = Exchange(rpc, config.exchange).domain()
    except ChainError:
        domain = None
    if domain != config.domain:
        raise _differs(
            "exchange", where, "a contract there that is not an SDEX Exchange of this chain",
            source, purpose,
        )  # fmt: skip


def _check_token_on_chain(rpc: Rpc, sym: str, t: TokenInfo, source: str, purpose: Purpose) -> None:
    from sdex.chain import Token

    token = Token(rpc, t.address)
    where = f"tokens.{sym} ({to_checksum(t.address)})"
    try:
        decimals = token.decimals()
    except ChainError as e:
        unread = f"unread ({e})"[:120]
        raise _differs(f"{where}.decimals", t.decimals, unread, source, purpose) from None
    if decimals != t.decimals:
        said = f"{decimals} (its decimals())"
        raise _differs(f"{where}.decimals", t.decimals, said, source, purpose)
    try:
        symbol = token.symbol()
    except ChainError as e:
        unread = f"unread ({e})"[:120]
        raise _differs(f"{where}'s symbol", sym, unread, source, purpose) from None
    if symbol.upper() != sym.upper():
        said = f"{ascii(symbol)[:40]} (its symbol())"
        raise _differs(f"{where}'s symbol", sym, said, source, purpose)
