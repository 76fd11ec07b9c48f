"""``sdex repost HASH``: an order this wallet signed and kept (``sdex.walletkeep``) posted
again, the same signed order (its hash and signature as they were: no new salt, so no second
order can come of it), to the node it went to or another of its network (wallet79: an order
whose answer was lost, or that a node dropped, could only be signed anew).

Nothing is signed. The node's network must be the order's (its chain id and Exchange: the
EIP-712 domain it was signed in) and its market's tokens the order's, else it is refused
before anything is sent; its listing is checked as ``sdex book``'s is (its amounts are
shown in its decimals), a difference refused, nothing sent (``sdex.wallettrust``). Then the
post goes as ``sdex order``'s does (``sdex.walletui.post_signed``): the node's answer, or
what is known of it, and the settlement followed."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from sdex.client import NodeApiError, NodeClient, OrderConfig
from sdex.cliopts import (
    converter,
    deployment_option,
    node_url_check,
    one_line_errors,
    rpc_option,
    wait_option,
)
from sdex.errors import SdexError
from sdex.order import to_checksum
from sdex.urls import UrlError, check_url
from sdex.wallet import (
    Market,
    WalletInputError,
    fee_for,
    fmt_amount,
    fmt_price,
    parse_order_hash,
    parse_pair,
)
from sdex.walletkeep import Kept, KeptOrderError, load
from sdex.walletout import stderr_console, stdout_console
from sdex.wallettrust import REPOST, Trusted, check_listing
from sdex.walletui import post_signed, utc_time


class RepostRefused(SdexError):
    """The node is not of the order's network, or lists its market at other tokens."""


@click.command()
@click.argument("order_hash", metavar="HASH", callback=converter(parse_order_hash))
@click.option(
    "--node", "node_url", default=None, metavar="URL", callback=node_url_check,
    envvar="SDEX_NODE", show_envvar=True,
    help="The node to post it to, e.g. http://127.0.0.1:8001; also read from $SDEX_NODE "
    "[default: the node it was posted to when signed].",
)  # fmt: skip
@wait_option
@rpc_option(
    "JSON-RPC endpoint of the node's chain: its chain id, Exchange and the market's tokens' "
    "decimals and symbols are checked there before the order's amounts are shown."
)
@deployment_option(
    "Deployment file of the node's network: the node's chain id, Exchange and token addresses "
    "and decimals are checked against it (when it is there) before the amounts are shown."
)
def repost(
    order_hash: bytes,
    node_url: str | None,
    settle_wait: float,
    rpc: str | None,
    deployment_path: Path,
) -> None:
    """Post again an order this wallet signed: the same signed order, never signed anew.

    `sdex order` and the console keep each order they sign (in ~/.sdex/wallet/orders, or
    $SDEX_WALLET_DIR/orders) before posting it: one whose answer was lost, or that a node
    dropped (restarted without its database), is posted again by its hash, to that node or
    another of its network (--node; by default the node it was posted to). A node that has
    it answers that it already had it. An order is kept until it is cancelled (`sdex
    cancel`), an hour past its expiry, or the oldest of over 1,000 kept."""
    out = stdout_console()
    with one_line_errors():
        kept = load("0x" + order_hash.hex())
        url = node_url or _kept_node(kept)
    with one_line_errors(), NodeClient(url) as client:
        config = client.order_config()
        market = _market(config, kept, client.base_url)
        sources = Trusted.from_options(rpc, deployment_path)
        check_listing(config, sources, stderr_console(), market, purpose=REPOST)
        _print_kept(out, market, kept, client.base_url)
        left = kept.signed.order.expiry - int(time.time())
        try:
            post_signed(
                out, client, market, kept.side, kept.signed, kept.tif,
                expiry_seconds=max(left, 0), settle_wait=settle_wait,
            )  # fmt: skip
        except NodeApiError as e:
            if e.rejection != "FEE_REQUIRED":
                raise
            raise RepostRefused(_fee_refused(config, market, kept, client.base_url)) from None


def _kept_node(kept: Kept) -> str:
    """The node the kept order was posted to when signed, its URL checked as ``--node``'s."""
    try:
        return check_url(kept.node)
    except UrlError as e:
        raise KeptOrderError(
            f"the kept order {kept.path} names no node to post it to ({e}): give --node URL"
        ) from None


def _market(config: OrderConfig, kept: Kept, node: str) -> Market:
    """The kept order's market at the node; ``RepostRefused`` if the node is of another
    network than the order's (its domain) or lists the market at other tokens."""
    order, domain = kept.signed.order, kept.domain
    ours = f"chain {domain.chain_id}, Exchange {to_checksum(domain.verifying_contract)}"
    theirs = f"chain {config.chain_id}, Exchange {to_checksum(config.exchange)}"
    if ours != theirs:
        raise RepostRefused(
            f"refusing to post: order {kept.signed.hash_hex} was signed for {ours}; the node "
            f"at {node} is on {theirs}; nothing was sent (give --node a node of the order's "
            "network)"
        )
    try:
        market = parse_pair(kept.pair, config)
    except WalletInputError:  # (its words name --pair, which repost has not)
        listed = ", ".join(f"{b}/{q}" for b, q in config.pairs) or "none"
        raise RepostRefused(
            f"refusing to post: the node at {node} does not list {kept.pair}, the market of "
            f"order {kept.signed.hash_hex} (it lists: {listed}); nothing was sent"
        ) from None
    if market.side_of(order) is not kept.side:
        raise RepostRefused(
            f"refusing to post: the node at {node} lists {market.name} at other token addresses "
            f"({to_checksum(market.base_token.address)}, "
            f"{to_checksum(market.quote_token.address)}) than order {kept.signed.hash_hex} "
            f"trades ({to_checksum(order.maker_token)} for {to_checksum(order.taker_token)}); "
            "nothing was sent"
        )
    return market


def _fee_refused(config: OrderConfig, m: Market, kept: Kept, node: str) -> str:
    """The node's ``FEE_REQUIRED`` for a kept order, said with what to do (user81: it read
    only "this node asks feeRecipient 0x... and feeAmount >= 1250000000000000"): what the
    order pays, what the node asks, that a signed order's fee cannot change, and the ways
    out (a node that asks no more, a new order for this one)."""
    o, h = kept.signed.order, kept.signed.hash_hex
    token = m.base_token if o.taker_token == m.base_token.address else m.quote_token
    sym = m.base if token is m.base_token else m.quote
    asked = fmt_amount(fee_for(o.taker_amount, config.fee_bps), token.decimals)
    pays = (
        "pays no fee"
        if o.fee_amount == 0
        else f"pays a fee of {fmt_amount(o.fee_amount, token.decimals)} {sym} to "
        f"{to_checksum(o.fee_recipient)}"
    )
    signed_at = kept.node.rstrip("/")
    elsewhere = (
        f"post it to a node that asks no more, e.g. the one it was signed for: `sdex repost "
        f"{h} --node {signed_at}`; or "
        if signed_at != node.rstrip("/")
        else "(the node asked less when it was signed) "
    )
    return (
        f"the node at {node} asks a fee of {config.fee_bps} bps of what an order receives "
        f"({asked} {sym} of this one, to {to_checksum(config.fee_recipient)}), and order {h} "
        f"{pays}: a signed order's fee cannot change, so the node refused it; {elsewhere}"
        "sign a new order for this node with `sdex order` (it pays the node's fee, up to "
        "--max-fee-bps)"
    )


def _print_kept(out: Console, m: Market, kept: Kept, node: str) -> None:
    """The kept order in ``sdex order``'s words, and that it goes again as signed."""
    o = kept.signed.order
    base, quote = m.base_and_quote(kept.side, o.maker_amount, o.taker_amount)
    word = "at most" if kept.side.value == "buy" else "at least"
    out.print(
        f"[bold]{kept.side.value.upper()}[/] {fmt_amount(base, m.base_token.decimals)} {m.base} "
        f"for {word} {fmt_amount(quote, m.quote_token.decimals)} {m.quote} (limit "
        f"{fmt_price(m.price(base, quote))} {m.quote}/{m.base}), {kept.tif}"
    )
    signed_at = f", {utc_time(kept.signed_at)}" if kept.signed_at else ""
    out.print(
        f"signed by {to_checksum(o.maker)}{signed_at}"
    )  # (the file's path, a hash in it: user44)
    out.print(f"kept in {escape(str(kept.path.parent))}")
    out.print(f"expires {utc_time(o.expiry)} (unix {o.expiry})")
    out.print(
        f"posting it again, the same signed order (nothing is signed anew), to {escape(node)}"
    )
