"""``sdex demo``: the devnet story, end to end, printed for a newcomer.

A Hardhat devnet, three ``sdex node`` processes that find each other by gossip, and dev
wallets that sign real orders and post them over HTTP, as any wallet would:

1. the seed's example on node 1: buy 10 WETH @ 10 USDC, then a partial sell 5 @ 10, settled;
2. node 2 joins late and loads the book from a peer;
3. a sell posted to node 2 fills against node 1's buy;
4. a double spend: one maker's order taken at the same moment through node 2 and node 3;
   the chain takes one settlement, the other fails and the order leaves every book;
5. a cancel, which leaves every book too;
6. the audit's verdict over the chain and the three nodes.

Everything it starts it stops; the whole story is also written to ``demo.log``.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from sdex.chain import Exchange, Rpc
from sdex.client import NodeClient, OrderConfig, PostedOrder
from sdex.deployment import DEMO_TRADERS, Deployment
from sdex.devnet import free_port
from sdex.errors import SdexError
from sdex.model import OPEN_STATUSES
from sdex.node.process import NodeProcess
from sdex.order import Order, SignedOrder
from sdex.wallet import (
    Market,
    Side,
    fmt_amount,
    fmt_price,
    parse_pair,
    sign_cancel,
    sign_limit_order,
)
from sdex.wallettrust import check_known

WAIT = 20.0
"""Seconds any one step may take before the demo gives up (it never hangs)."""


def short(h: str) -> str:
    return h[:10] + "…"


def book_price(m: Market, side: str, order: Order) -> str:
    """A book row's limit price as the CLI, the console and the page write it ("10", not
    the float "10.0" the demo printed: user27)."""
    return fmt_price(m.order_price(Side.SELL if side == "ask" else Side.BUY, order))


def words_lines(words: str) -> list[str]:
    """A posted order's ``posted_words`` under its line, indented, wrapped at 80 columns
    between words (user38: the two on one line were 102 columns piped)."""
    pad = " " * 10
    return textwrap.wrap(
        words, 80, initial_indent=pad, subsequent_indent=pad, break_long_words=False,
        break_on_hyphens=False,
    )  # fmt: skip


def posted_words(posted: PostedOrder) -> str:
    """What matching did with a posted order. A match's status is the node's while its
    settlement is in flight (``partially_filled`` for an order matched in full): it read
    "partially_filled, matched 0x…", as if only part had traded (user25)."""
    if not posted.matches:
        return f"{posted.status}, rests in the book"
    said = ", ".join(f"matched {short(m.resting_order_hash)}" for m in posted.matches)
    rest = "; the rest rests in the book" if posted.outcome == "rested" else ""
    return f"{said}, settlement pending on chain{rest}"


def race_words(winner: str, loser: str, loser_node: str, loser_matched: bool, failed: int) -> str:
    """What the double spend's race came to (demo80: a run said "frank's got a failed
    settlement", then "failed settlements across the nodes: 0 (handled)"; another "frank's got
    no match" under a chapter saying each node settles: both read as the story gone wrong).
    The loser's node either matched and learned of the winner's fill before its transaction
    went (withdrawn: not a ``matchesFailed`` of ``/health``, which counts the chain's refusals)
    or after (the chain refused it), or read the fill before the loser's order came."""
    said = f"the chain settled {winner}'s match; "
    if not loser_matched:
        return said + (
            f"{loser}'s found nothing to match: {loser_node} already knew dave's order was "
            "taken, so only one settlement was sent"
        )
    how = (
        f"the chain refused its settlement ({failed} refused across the nodes)"
        if failed
        else "it learned of the fill first and withdrew its settlement unsent (none refused)"
    )
    return said + f"{loser}'s matched too on {loser_node}: {how}"


class DemoFailed(Exception):
    pass


@dataclass
class Wallet:
    name: str
    key: bytes
    address: str


@dataclass
class Node:
    name: str
    proc: NodeProcess
    client: NodeClient


def minimums_line(d: Deployment) -> str:
    """The nodes' default minimum order size of each token that has one, as a panel line."""
    shown = [
        f"{fmt_amount(t.min_amount, t.decimals)} {s}" for s, t in d.tokens.items() if t.min_amount
    ]
    return f"\nminimum order size: {', '.join(shown)}" if shown else ""


class Story:
    def __init__(self, console: Console, d: Deployment, log_dir: Path, keep: bool = False) -> None:
        self.out = console
        self.keep = keep
        self.d = d
        self.log_dir = log_dir
        self.rpc = Rpc(d.rpc)
        self.exchange = Exchange(self.rpc, d.exchange)
        self.wallets = {
            n: Wallet(n, bytes.fromhex(a.key[2:]), a.address)
            for n, a in zip(DEMO_TRADERS, d.accounts[1:], strict=False)
        }
        self.nodes: dict[str, Node] = {}
        self.config: OrderConfig | None = None
        self.market: Market | None = None
        self.signed: dict[str, SignedOrder] = {}

    # ---- nodes ---------------------------------------------------------------------------

    def start_node(self, name: str, index: int, peers: list[str]) -> Node:
        operator = self.d.accounts[len(self.d.accounts) - index]  # the last accounts operate
        proc = NodeProcess(
            free_port(),
            self.log_dir / "devnet.json",
            bytes.fromhex(operator.key[2:]),
            self.log_dir / f"{name}.db",
            self.log_dir / f"{name}.log",
            peers=peers,
            dev_wallets=True,  # a devnet: the web page may offer the dev accounts
        ).start()
        node = Node(name, proc, NodeClient(proc.url))
        self.nodes[name] = node
        return node

    def listing(self, node: Node) -> tuple[OrderConfig, Market]:
        """``node``'s ``order_config`` and its WETH/USDC market, checked before anything is
        signed against the deployment the demo made and its chain, as ``sdex order`` checks
        a node's (``sdex.wallettrust``; wallet79: the demo signed whatever node-1 listed, and
        a node misstating USDC's decimals had it sign other amounts than it printed).
        ``DemoFailed`` saying the difference."""
        config = node.client.order_config()
        try:
            market = parse_pair("WETH/USDC", config)
            check_known(config, self.d, f"the demo's deployment {self.log_dir / 'devnet.json'}",
                        market)  # fmt: skip
        except SdexError as e:  # (a pair not listed too: WalletInputError)
            raise DemoFailed(f"{node.name} at {node.proc.url}: {e}") from None
        return config, market

    def stop(self) -> None:
        for node in self.nodes.values():  # all at once: they shut down side by side
            node.client.close()
            node.proc.terminate()
        for node in self.nodes.values():
            node.proc.stop()
        self.rpc.close()

    # ---- wallets -------------------------------------------------------------------------

    def post(self, node: Node, who: str, side: Side, price: str, amount: str) -> PostedOrder:
        assert self.config is not None and self.market is not None
        w = self.wallets[who]
        signed = sign_limit_order(
            self.config, self.market, side, Fraction(price), Fraction(amount), w.key
        )
        posted = node.client.post_order(signed, "gtc")
        label = f"{who}: {side.value} {amount} WETH @ {price}"
        self.signed[label] = signed
        self.out.print(
            f"  {w.name:>5} → {node.name}: [bold]{side.value} {amount} WETH @ {price} USDC[/]"
            f"  {short(posted.order_hash)}"
        )
        for line in words_lines(posted_words(posted)):
            self.out.print(line)
        return posted

    # ---- looking ---------------------------------------------------------------------------

    @staticmethod
    def short(h: str) -> str:
        return short(h)

    def wait(self, what: str, cond: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not cond():
            if time.monotonic() > deadline:
                raise DemoFailed(f"timed out waiting for: {what}")
            for node in self.nodes.values():
                if not node.proc.running():
                    raise DemoFailed(f"{node.name} exited; see {node.proc.log}")
            time.sleep(0.05)
        self.out.print(f"  [green]✓[/] {what}")

    def status(self, node: Node, order_hash: str) -> str:
        try:
            return node.client.get_order(order_hash).status
        except Exception:
            return "unknown"

    def open_on(self, node: Node) -> set[str]:
        records = node.client.all_orders(per_page=1000)
        return {r.order_hash for r in records if r.status in OPEN_STATUSES}

    def chain_filled(self, h: str) -> int:
        signed = next(s for s in self.signed.values() if s.hash_hex == h)
        return self.exchange.order_info(signed.order).filled

    def book(self, node: Node) -> None:
        assert self.market is not None
        m = self.market
        ob = node.client.orderbook(m.base_token.address, m.quote_token.address)
        t = Table(title=f"{node.name}'s book (WETH/USDC)", title_justify="left")
        for col in ("side", "price", "WETH fillable", "maker", "order"):
            t.add_column(col)
        rows = [("ask", r) for r in reversed(ob.asks.records)] + [
            ("bid", r) for r in ob.bids.records
        ]
        for side, r in rows:
            o = r.order
            # (an ask offers base; a bid offers quote, its base at the bid's price)
            base = r.remaining if side == "ask" else r.remaining * o.taker_amount // o.maker_amount
            who = next((w.name for w in self.wallets.values() if w.address == o.maker), o.maker)
            color = "red" if side == "ask" else "green"
            t.add_row(
                f"[{color}]{side}[/]", book_price(m, side, o),
                fmt_amount(base, m.base_token.decimals), who, self.short(r.order_hash),
            )  # fmt: skip
        if not rows:
            t.add_row("—", "empty", "", "", "")
        self.out.print(t)

    def health(self, node: Node) -> dict[str, object]:
        return node.client.health()

    def chapter(self, title: str, text: str) -> None:
        self.out.print()
        say_panel(self.out, text, title)

    # ---- the story -------------------------------------------------------------------------

    def run(self) -> bool:
        self.chapter(
            "1. Two nodes",
            "node-1 starts alone; node-3 starts knowing only node-1's address and finds it by "
            "gossip (peer exchange). Each node signs its settlements with its own operator key.",
        )
        n1 = self.start_node("node-1", 1, [])
        n1.proc.wait_ready()
        self.config, self.market = self.listing(n1)
        n3 = self.start_node("node-3", 3, [n1.proc.url])
        n3.proc.wait_ready()
        self.listing(n3)
        self.out.print(f"  node-1 at {n1.proc.url}, node-3 at {n3.proc.url}")
        for line in watch_line(f"[bold]{n1.proc.url}[/]", self.keep).splitlines():
            self.out.print(f"  {line}")
        self.wait(
            "node-1 and node-3 know each other",
            lambda: any(p["url"] == n3.proc.url for p in self._peers(n1)),
        )

        self.chapter(
            "2. The seed's example, settled on chain",
            "alice signs buy 10 WETH @ 10 USDC and posts it to node-1; bob signs a partial "
            "sell 5 @ 10. node-1 matches them and settles the match with the Exchange.",
        )
        buy = self.post(n1, "alice", Side.BUY, "10", "10")
        sell = self.post(n1, "bob", Side.SELL, "10", "5")
        self.wait(
            "bob's sell is filled on chain", lambda: self.status(n1, sell.order_hash) == "filled"
        )
        self.wait(
            "alice's buy is half filled (50 of 100 USDC), the rest rests",
            lambda: (
                self.chain_filled(buy.order_hash) == 50 * 10**6
                and self.status(n1, buy.order_hash) == "partially_filled"
            ),
        )
        fills = n1.client.fills().records
        # (the hash on its own line: with it, the line was 94 columns piped, user38)
        self.out.print(f"  settlement tx in block {fills[0].block_number}:\n  {fills[0].tx_hash}")
        self.wait(
            "node-3 received alice's order by gossip",
            lambda: buy.order_hash in self.open_on(n3),
        )

        self.chapter(
            "3. node-2 joins late",
            "node-2 starts knowing only node-3. It learns the other peers and loads the open "
            "orders from a peer's snapshot; each order goes through node-2's own checks.",
        )
        n2 = self.start_node("node-2", 2, [n3.proc.url])
        n2.proc.wait_ready()
        self.listing(n2)
        self.wait(
            "node-2 loaded alice's order from a peer", lambda: buy.order_hash in self.open_on(n2)
        )
        self.book(n2)

        self.chapter(
            "4. An order on node-2 fills node-1's order",
            "carol sells 5 WETH @ 10 on node-2; node-2 matches it against alice's buy (which "
            "came from node-1) and settles it. node-1 sees the fill and closes alice's order.",
        )
        carol = self.post(n2, "carol", Side.SELL, "10", "5")
        self.wait("carol's sell is filled", lambda: self.status(n2, carol.order_hash) == "filled")
        self.wait(
            "alice's buy is fully filled and node-1 knows",
            lambda: self.status(n1, buy.order_hash) == "filled",
        )

        self.chapter(
            "5. A double spend",
            "dave sells 2 WETH @ 11 on node-1. erin (on node-2) and frank (on node-3) both buy "
            "all of it at the same moment. The chain is the judge: it settles one match only; "
            "a node that matched too learns of the fill (before its transaction goes, or when "
            "the chain refuses it), drops dave's spent order and puts its buyer back in the "
            "book.",
        )
        dave = self.post(n1, "dave", Side.SELL, "11", "2")
        self.wait(
            "dave's order is in every book",
            lambda: all(dave.order_hash in self.open_on(n) for n in (n1, n2, n3)),
        )
        with ThreadPoolExecutor(2) as pool:
            races = list(
                pool.map(
                    lambda args: self.post(*args),
                    [(n2, "erin", Side.BUY, "11", "2"), (n3, "frank", Side.BUY, "11", "2")],
                )
            )
        self.wait(
            "dave's order is filled on chain, exactly once",
            lambda: self.chain_filled(dave.order_hash) == 2 * 10**18,
        )
        erin, frank = races
        filled = {
            name: self.chain_filled(p.order_hash) for name, p in (("erin", erin), ("frank", frank))
        }
        winner = max(filled, key=lambda k: filled[k])
        loser_name = "frank" if winner == "erin" else "erin"
        loser = frank if winner == "erin" else erin
        loser_node = n3 if winner == "erin" else n2
        self.wait(
            "dave's order left every book",
            lambda: all(dave.order_hash not in self.open_on(n) for n in (n1, n2, n3)),
        )
        self.wait(
            f"{loser_name}'s buy is back in the book, waiting for a seller",
            lambda: all(loser.order_hash in self.open_on(n) for n in (n1, n2, n3)),
        )
        failed = sum(int(str(self.health(n)["matchesFailed"])) for n in (n1, n2, n3))
        said = race_words(winner, loser_name, loser_node.name, bool(loser.matches), failed)
        for line in textwrap.wrap(said, 80, initial_indent="  ", subsequent_indent="  "):
            self.out.print(line)

        self.chapter(
            "6. A cancel",
            f"{loser_name} signs a cancel for the buy and sends it to {loser_node.name}; the "
            "cancel travels by gossip and every node checks the maker's signature.",
        )
        assert self.config is not None
        sig = sign_cancel(
            self.config.domain, bytes.fromhex(loser.order_hash[2:]), self.wallets[loser_name].key
        )
        status = loser_node.client.cancel_order(loser.order_hash, sig)
        self.out.print(f"  {loser_node.name} answers: {status}")
        self.wait(
            f"{loser_name}'s buy left every book",
            lambda: all(loser.order_hash not in self.open_on(n) for n in (n1, n2, n3)),
        )
        for n in (n1, n2, n3):
            self.book(n)
        return self.audit([n1, n2, n3])

    def _peers(self, node: Node) -> list[dict[str, object]]:
        gossip = self.health(node).get("gossip")
        peers = gossip.get("peers", []) if isinstance(gossip, dict) else []
        return [p for p in peers if isinstance(p, dict)]

    def audit(self, nodes: list[Node]) -> bool:
        self.chapter(
            "7. The audit",
            "sdex audit reads every Exchange event since deployment and checks each fill "
            "against its signed order (from its transaction's calldata: no node is trusted "
            "for it), the token transfers against the fills, and each node's book and fills "
            "against the chain.",
        )
        from sdex.audit import audit_network

        report = audit_network(self.d, [n.proc.url for n in nodes])
        report.print(self.out)
        return report.ok


def say_panel(console: Console, text: str, title: str) -> None:
    """A boxed paragraph of the story, wrapped at the terminal's width: the demo's console
    does not wrap (``soft_wrap``, so hashes and URLs stay whole), and a panel printed with it
    cut its text at the box's edge (user30: "... and finds i")."""
    box = Panel(text, title=f"[bold]{title}[/]", title_align="left", expand=False)
    console.print(box, soft_wrap=False)


def watch_line(url: str, keep: bool) -> str:
    """Where to watch the story; without ``--keep``, that the page goes with the network
    (user29: the page was gone six seconds after its address was printed)."""
    said = f"watch it in a browser: {url}/ (every node serves the page)\n"
    if keep:  # (two lines: one was 152 columns piped, user38)
        return said + "the network stays up after the story, until Ctrl-C"
    return said + "the network stops when the story ends: `make demo KEEP=1` keeps it up"
