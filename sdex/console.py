"""``sdex console``: the seed's interactive prompt, as a client of a node's HTTP API.

Each command is a few HTTP requests through ``sdex.client``; the console keeps no book of its
own and never blocks a node. Orders are built and signed here with ``sdex.wallet`` and shown
with the same rendering as ``sdex order``, ``book`` and ``cancel`` (``sdex.walletui``,
``sdex.walletbook``, ``sdex.walletcancel``). A market
order is an IOC limit order at the best opposite price moved by a slippage bound, so it never
trades worse than that bound. A command's data flows: its words are parsed here, the node is
asked (and what it did not say resolved: a fill's market through its order), and the records
are drawn by ``sdex.consoletables``, which neither talks to a node nor keeps state.

A failure from the node (``SdexError``, or an ``OSError`` from the transport) prints one red
line; bad input (``WalletInputError``) prints what is wrong and the command's usage. Either
way the prompt goes on: a node that goes down ends no session (a script read from stdin
runs to its end, then exits 1 if any of its commands failed; each error of a script starts
with its line and command, or "startup: " before any line ran). Only at start must the node
answer, as for ``sdex book``: one that cannot be reached, or is not an SDEX node, is one red
line and exit 1, with no prompt. History and tab completion come from the stdlib ``cmd`` +
``readline``.
"""

from __future__ import annotations

import cmd
import sys
from fractions import Fraction
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.markup import escape

from sdex.client import (
    TIME_IN_FORCE,
    NodeApiError,
    NodeClient,
    OrderConfig,
)
from sdex.consolehistory import readline_history
from sdex.consolemarket import ConsoleError, decimal_word, market_limit, parse_bps
from sdex.consoletables import fills_table, help_table, orders_table
from sdex.deployment import DEFAULT_PATH, DeploymentError
from sdex.errors import SdexError
from sdex.model import OPEN_STATUSES, FillEvent
from sdex.order import Order, address_of, to_checksum
from sdex.wallet import (
    MAX_FEE_BPS,
    Market,
    Side,
    WalletInputError,
    parse_order_hash,
    parse_pair,
)
from sdex.walletbook import check_record, order_view, show_book, stale_warning
from sdex.walletcancel import soft_cancel
from sdex.walletfunds import MAX_TOKENS, market_tokens, read_funds, say_funds
from sdex.walletout import print_error
from sdex.wallettrust import Trusted, check_listing
from sdex.walletui import place_order

DEFAULT_SLIPPAGE_BPS = 100
PAGE_SIZE = 1000  # the API's largest perPage: fewest requests for get_dump and fills
DEFAULT_DEPTH = 20

USAGE: dict[str, tuple[str, ...]] = {
    "send_order": (
        "send_order buy|sell limit PRICE AMOUNT [gtc|ioc|fok]",
        "send_order buy|sell market AMOUNT [SLIPPAGE_BPS]",
    ),
    "get_dump": ("get_dump [all]",),
    "cancel": ("cancel HASH",),
    "book": ("book [DEPTH]",),
    "fills": ("fills",),
    "balance": ("balance [BASE/QUOTE]",),
    "help": ("help [COMMAND]",),
    "quit": ("quit, exit or Ctrl-D",),
}


class WalletShell(cmd.Cmd):
    """The prompt. ``run()`` loops until quit or EOF; tests drive ``onecmd`` directly."""

    def __init__(
        self,
        client: NodeClient,
        key: bytes,
        pair: str,
        *,
        out: Console,
        err: Console,
        slippage_bps: int = DEFAULT_SLIPPAGE_BPS,
        rpc: str | None = None,
        deployment_path: Path = DEFAULT_PATH,
        stdin: IO[str] | None = None,
        max_fee_bps: int = MAX_FEE_BPS,
        deployment_given: bool = False,
    ) -> None:
        """``deployment_given``: ``deployment_path`` must be there (a missing one refused as
        the listing is checked); ``sdex console`` leaves it False: a file named and missing
        leaves the listing unchecked, warned, and ``balance`` says where to give one."""
        super().__init__(stdin=stdin)
        if stdin is not None:
            self.use_rawinput = False
        self.client = client
        self.key = key
        self.me = address_of(key)
        self.pair = pair
        self.slippage_bps = slippage_bps
        self.max_fee_bps = max_fee_bps  # (the largest fee its orders are signed with)
        self.rpc = rpc  # (the chain ``balance`` reads: --rpc, else the deployment file's)
        self.deployment_path = deployment_path
        self.trusted = Trusted(deployment_path, deployment_given, rpc)
        self.out = out
        self.err = err
        self.interactive = (stdin or sys.stdin).isatty()
        # A script piped in gets no prompts between its outputs.
        self.prompt = f"sdex {pair}> " if self.interactive else ""
        self.failures = 0  # commands that failed: a script's exit code (``run_console``)
        self.lineno = 0  # the input's lines read so far, blank ones too (``_at``)
        self._line = ""
        self._config: OrderConfig | None = None
        self._orders: dict[str, Order] = {}  # by hash; an order never changes, its status does
        self._mine: set[str] = set()  # hashes of this wallet's orders seen open, for completion

    # -- the loop ----------------------------------------------------------------------------
    def start(self) -> None:
        """Greet: the node, its chain, the market and the wallet. Raises what reading the
        node's order_config raised (``SdexError`` or ``OSError``: a console that cannot reach
        its node at start has nothing to offer), ``WalletInputError`` for a pair the node does
        not list."""
        config = self._fetch_config()
        parse_pair(self.pair, config)
        # (four short lines: two were 108 and 132 columns piped, user38)
        self.out.print(f"[bold]SDEX console[/]: node {escape(self.client.base_url)}")
        self.out.print(f"chain {config.chain_id}, exchange {to_checksum(config.exchange)}")
        self.out.print(f"market {escape(self.pair.upper())}, wallet {to_checksum(self.me)}")
        self.out.print(
            f"market orders slip at most {self.slippage_bps} bps. Type help for the commands."
        )

    def run(self) -> None:
        """Read and run commands until quit or EOF. Ctrl-C drops the line being typed (or a
        request that hangs), not the console."""
        with readline_history(self.use_rawinput and sys.stdin.isatty()):
            while True:
                try:
                    self.cmdloop()
                    return
                except KeyboardInterrupt:
                    self.out.print("^C")

    def onecmd(self, line: str) -> bool:
        """Run one line; failures are printed here so the prompt continues."""
        name = self.parseline(line)[0] or ""
        try:
            return bool(super().onecmd(line))
        except BrokenPipeError:  # (the output's reader went away: not a line's failure)
            raise
        except WalletInputError as e:
            self.failures += 1
            self._usage(name, str(e))
        except (SdexError, OSError) as e:  # requests' errors are OSErrors too
            self.failures += 1
            print_error(self.err, e, self._at())
        return False

    def precmd(self, line: str) -> str:
        if line != "EOF":  # (cmd's end of input)
            self.lineno += 1
            self._line = line
        return line

    def _at(self) -> str:
        """Rich markup "line N: COMMAND: " that starts an error of a script (input that is not
        a terminal: which of its lines failed, ux37); "" at a terminal, where the line was just
        typed. COMMAND: its words, 60 characters at most."""
        if self.interactive or not self.lineno:
            return ""
        said = " ".join(self._line.split())
        said = said if len(said) <= 60 else said[:60] + "…"
        return escape(f"line {self.lineno}: {said}: ")

    def parseline(self, line: str) -> tuple[str | None, str | None, str]:
        name, arg, line = super().parseline(line)
        if name and name != "EOF":  # cmd's end of input keeps its name
            name = name.lower()  # SEND_ORDER works too
        return name, arg, line

    def emptyline(self) -> bool:
        return False  # cmd's default repeats the last command: never resend an order

    def default(self, line: str) -> None:
        word = line.split()[0]
        self.failures += 1
        self.err.print(
            f"{self._at()}[yellow]unknown command {escape(word)!r}[/]: type help for the commands"
        )

    def _usage(self, name: str, problem: str) -> None:
        self.err.print(f"{self._at()}[bold red]error:[/] {escape(problem)}")
        for i, usage in enumerate(USAGE.get(name, ())):
            self.err.print(("usage: " if i == 0 else "       ") + escape(usage))

    # -- commands ----------------------------------------------------------------------------
    def do_send_order(self, arg: str) -> None:
        """Sign an order and post it. A limit order rests in the book (gtc) unless told ioc or
        fok; a market order is an IOC limit order at the best opposite price moved by the
        slippage bound (the console's --slippage unless given), refused if there is none; a
        market buy spends what its amount costs at the asks now, for at least that over the
        bound in base."""
        typed = arg.split()  # (said back as typed: "got '1WETH'", not '1weth', user29)
        words = [w.lower() for w in typed]
        if len(words) < 3 or words[0] not in ("buy", "sell") or words[1] not in ("limit", "market"):
            raise WalletInputError("send_order takes a side (buy|sell), limit or market, numbers")
        side = Side(words[0])
        price: Fraction | None = None
        if words[1] == "limit":
            if len(words) not in (4, 5):
                raise WalletInputError("a limit order takes PRICE AMOUNT, then gtc, ioc or fok")
            price = decimal_word(typed[2], "PRICE")
            amount = decimal_word(typed[3], "AMOUNT")
            tif = words[4] if len(words) == 5 else "gtc"
            if tif not in TIME_IN_FORCE:
                raise WalletInputError(f"time in force is gtc, ioc or fok, got {typed[4]!r}")
        else:
            if len(words) not in (3, 4):
                raise WalletInputError("a market order takes AMOUNT, then a slippage in bps")
            amount = decimal_word(typed[2], "AMOUNT")
            slippage = parse_bps(typed[3]) if len(words) == 4 else self.slippage_bps
            tif = "ioc"
        config, m = self._market()
        if price is None:
            price, amount = market_limit(self.out, self.client, config, m, side, amount, slippage)
        try:
            posted = place_order(
                self.out, self.client, config, m, side, price, amount, self.key, tif=tif,
                cancel_with="cancel", max_fee_bps=self.max_fee_bps,
            )  # fmt: skip
        except NodeApiError as e:
            if e.rejection == "FEE_REQUIRED":  # (its fee changed since it was read: user81)
                self._config = None  # (read anew, and checked, at the next command)
            raise
        if posted.status in OPEN_STATUSES:
            self._mine.add(posted.order_hash)

    def do_get_dump(self, arg: str) -> None:
        """Show the node's open orders, every page of GET /v1/orders (all: every status)."""
        words = arg.lower().split()
        if words not in ([], ["all"]):
            raise WalletInputError(f"get_dump takes nothing or all, got {arg.strip()!r}")
        config, m = self._market()
        records = list(self.client.all_orders(per_page=PAGE_SIZE))  # (by cursor: each once)
        shown = records if words else [r for r in records if r.status in OPEN_STATUSES]
        for rec in records:
            check_record(config, rec, "orders")
            self._orders[rec.order_hash] = rec.order
            if rec.order.maker == self.me and rec.status in OPEN_STATUSES:
                self._mine.add(rec.order_hash)
            else:
                self._mine.discard(rec.order_hash)
        what = "orders" if words else "open orders"
        title = f"the node's {what}"
        stale_warning(self.out, self.client.chain_status, "these orders are")
        self.out.print(orders_table(config, m, title, shown, me=self.me, width=self.out.width))

    def do_cancel(self, arg: str) -> None:
        """Soft-cancel one of your orders at the node (a signed CancelOrder)."""
        words = arg.split()
        if len(words) != 1:
            raise WalletInputError("cancel takes one order hash")
        order_hash = parse_order_hash(words[0])
        config, _ = self._market()
        soft_cancel(self.out, self.client, config, order_hash, self.key)
        self._mine.discard("0x" + order_hash.hex())

    def do_book(self, arg: str) -> None:
        """Show the node's order book for the console's market, best first."""
        words = arg.split()
        if len(words) > 1 or (words and not (words[0].isdigit() and 1 <= int(words[0]) <= 1000)):
            raise WalletInputError("book takes an optional depth, 1 to 1000 orders a side")
        config, m = self._market()
        show_book(self.out, self.client, config, m, int(words[0]) if words else DEFAULT_DEPTH)

    def do_fills(self, arg: str) -> None:
        """Show the fills the node knows (settled on chain), every page of GET /v1/fills."""
        if arg.strip():
            raise WalletInputError("fills takes no arguments")
        config, m = self._market()
        fills = list(self.client.all_fills(per_page=PAGE_SIZE))
        by_tx: dict[str, list[FillEvent]] = {}
        for f in fills:
            by_tx.setdefault(f.tx_hash, []).append(f)
        seen = [
            (f, self._fill_view(config, m, f) or self._other_side(config, m, f, by_tx))
            for f in fills
        ]
        stale_warning(self.out, self.client.chain_status, "these fills are")
        self.out.print(fills_table(seen, me=self.me, width=self.out.width))

    def do_balance(self, arg: str) -> None:
        """Show the wallet's funds per token, as `sdex balance`: held, approved to the Exchange,
        in its open orders at the node, and free for new orders (every listed token, or one
        market's two). Read from the chain the console's --rpc or --deployment names."""
        words = arg.split()
        if len(words) > 1:
            raise WalletInputError("balance takes nothing or one market, BASE/QUOTE")
        config = self._fetch_config()
        if words:
            tokens = market_tokens(parse_pair(words[0], config))
        elif len(config.tokens) > MAX_TOKENS:
            raise WalletInputError(
                f"the node lists {len(config.tokens)} tokens: name one market, balance BASE/QUOTE"
            )
        else:
            tokens = dict(config.tokens)
        me = self.me.lower()
        try:
            got = read_funds(self.client, config, me, tokens, self.rpc, self.deployment_path)
        except DeploymentError as e:  # (its "pass --deployment PATH": to the console's start)
            raise ConsoleError(f"{e}; the console takes --deployment or --rpc as it starts") from e
        say_funds(self.out, self.client, me, config, got)
        if not got.complete:  # (as `sdex balance` exits 1: a script must not miss it)
            raise ConsoleError("not every figure above was read (said under the table)")

    def do_help(self, arg: str) -> None:
        """Show the commands, or one command's usage and what it does."""
        name = arg.strip().lower()
        if name in ("exit", "eof"):
            name = "quit"
        if not name:
            entries = [(u, _summary(getattr(self, f"do_{c}"))) for c, u in USAGE.items()]
            self.out.print(help_table(entries))
            return
        if name not in USAGE:
            self.failures += 1
            self.err.print(
                f"{self._at()}[yellow]no command {escape(name)!r}[/]: type help for the commands"
            )
            return
        for usage in USAGE[name]:
            self.out.print(escape(usage))
        self.out.print(" ".join((getattr(self, f"do_{name}").__doc__ or "").split()))

    def do_quit(self, arg: str) -> bool:
        """Leave the console."""  # (user50: its usage names exit and Ctrl-D already)
        return True

    do_exit = do_quit

    def do_EOF(self, arg: str) -> bool:  # cmd's name for the end of input
        self.out.print()
        return True

    # -- completion (readline calls these on Tab) --------------------------------------------
    def completenames(self, text: str, *ignored: object) -> list[str]:
        return [n for n in super().completenames(text, *ignored) if n != "EOF"]

    def complete_send_order(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        before = line[:begidx].lower().split()  # the command and the words already typed
        options: tuple[str, ...] = ()
        if len(before) == 1:
            options = ("buy", "sell")
        elif len(before) == 2:
            options = ("limit", "market")
        elif len(before) == 5 and before[2] == "limit":
            options = TIME_IN_FORCE
        return [o + " " for o in options if o.startswith(text.lower())]

    def complete_cancel(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return sorted(h for h in self._mine if h.startswith(text.lower()))

    def complete_get_dump(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return ["all"] if "all".startswith(text.lower()) else []

    # -- node state --------------------------------------------------------------------------
    def _fetch_config(self) -> OrderConfig:
        """The node's order_config, fetched once and checked then against the deployment file
        and the chain (``sdex.wallettrust``), before anything can be signed with it: at start,
        or at the first command of a shell not started."""
        if self._config is None:
            config = self.client.order_config()
            try:
                market: Market | None = parse_pair(self.pair, config)
            except WalletInputError:  # (said by ``start``, refused by ``_market``)
                market = None
            check_listing(config, self.trusted, self.err, market)
            self._config = config
        return self._config

    def _market(self) -> tuple[OrderConfig, Market]:
        """The node's order_config (fetched once) and the console's market in it."""
        config = self._fetch_config()
        try:
            return config, parse_pair(self.pair, config)
        except WalletInputError as e:  # not the command's input: the console's --pair
            raise ConsoleError(str(e)) from None

    def _fill_view(
        self, config: OrderConfig, m: Market, f: FillEvent
    ) -> tuple[Market, Side] | None:
        order = self._order("0x" + f.order_hash.hex())
        return None if order is None else order_view(config, m, order)

    def _other_side(
        self, config: OrderConfig, m: Market, f: FillEvent, by_tx: dict[str, list[FillEvent]]
    ) -> tuple[Market, Side] | None:
        """A fill of an order the node never held (a taker matched in full on another node
        is never gossiped), seen through its match's other fill: same transaction, the
        parties the other way round, the other side of the same market."""
        for g in by_tx.get(f.tx_hash, ()):
            if (g.maker, g.taker) == (f.taker, f.maker) and g is not f:
                view = self._fill_view(config, m, g)
                if view is not None:
                    vm, side = view
                    return vm, Side.SELL if side is Side.BUY else Side.BUY
        return None

    def _order(self, order_hash: str) -> Order | None:
        """An order by hash, from what the console has seen or else the node; None if the
        node never had it."""
        if order_hash not in self._orders:
            try:
                self._orders[order_hash] = self.client.get_order(order_hash).order
            except NodeApiError as e:
                if e.status != 404:
                    raise
                return None
        return self._orders[order_hash]


def _summary(method: object) -> str:
    """A command's first sentence, its docstring's line breaks and indentation one space each
    (ux70: "approved to the Exchange,         in its open orders" in ``help``)."""
    doc = getattr(method, "__doc__", None) or ""
    return " ".join(doc.split(".")[0].split())


def run_console(
    node_url: str,
    key: bytes,
    pair: str,
    slippage_bps: int,
    *,
    out: Console,
    err: Console,
    rpc: str | None = None,
    deployment_path: Path = DEFAULT_PATH,
    max_fee_bps: int = MAX_FEE_BPS,
) -> int:
    """``sdex console``'s body; the exit code. As ``sdex book``: 1 with one red line if the
    node cannot be reached or does not answer as an SDEX node at start, 2 if it does not list
    ``pair``. Once running, a session at a terminal ends with 0 whatever its commands met;
    a script (input that is not a terminal) with 1 if any of its commands failed (each said
    so as it ran, and the script went on to its end), so a shell or a CI job can tell; a
    script's start-up error begins with "startup: " (none of its lines ran), as each later
    one with "line N: COMMAND: "."""
    with NodeClient(node_url) as client:
        shell = WalletShell(
            client, key, pair, out=out, err=err, slippage_bps=slippage_bps, rpc=rpc,
            deployment_path=deployment_path, max_fee_bps=max_fee_bps,
        )  # fmt: skip
        at = "" if shell.interactive else "startup: "  # (a script's: none of its lines ran)
        try:
            shell.start()
        except WalletInputError as e:
            err.print(f"{at}[bold red]error:[/] --pair: {escape(str(e))}")
            return 2
        except BrokenPipeError:  # (``sdex.clipipe``)
            raise
        except (SdexError, OSError) as e:  # requests' errors are OSErrors too
            print_error(err, e, at)
            return 1
        shell.run()
    return 1 if shell.failures and not shell.interactive else 0
