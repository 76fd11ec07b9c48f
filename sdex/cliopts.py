"""The command line's shared click pieces: argument converters, the wallet commands'
options, the pair as a market, and expected failures as one red line and an exit code."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import click
from click.decorators import FC

from sdex.client import OrderConfig
from sdex.clirange import FloatBetween, IntBetween
from sdex.deployment import DEFAULT_PATH, DeploymentError
from sdex.errors import SdexError
from sdex.urls import UrlError, check_host, check_url
from sdex.wallet import (
    DEFAULT_PAIR,
    MAX_FEE_BPS,
    Market,
    WalletInputError,
    parse_decimal,
    parse_key,
    parse_pair,
    split_pair,
)

T = TypeVar("T")


def converter(
    parse: Callable[[str], T],
) -> Callable[[click.Context, click.Parameter, object], T | None]:
    """A click callback that parses an argument with ``parse`` (a ``WalletInputError`` becomes
    a usage error naming the parameter); ``None`` (an unset option) passes through."""

    def callback(ctx: click.Context, param: click.Parameter, value: object) -> T | None:
        if value is None:
            return None
        try:
            return parse(str(value))
        except WalletInputError as e:
            raise click.BadParameter(str(e), ctx, param) from None

    return callback


def url_callback(
    *, path: bool = False, example: str = "http://127.0.0.1:8001"
) -> Callable[[click.Context, click.Parameter, object], object]:
    """A click callback that checks a URL option (``sdex.urls.check_url``; each value of a
    repeatable one): a URL no client could reach is a usage error naming the option (exit 2),
    said before anything runs."""

    def one(ctx: click.Context, param: click.Parameter, value: str) -> str:
        try:
            return check_url(value, path=path, example=example)
        except UrlError as e:
            raise click.BadParameter(str(e), ctx, param) from None

    def callback(ctx: click.Context, param: click.Parameter, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, tuple):
            return tuple(one(ctx, param, str(v)) for v in value)
        return one(ctx, param, str(value))

    return callback


RPC_EXAMPLE = "http://127.0.0.1:8545"
rpc_url_check = url_callback(path=True, example=RPC_EXAMPLE)
"""``--rpc``: a JSON-RPC endpoint may have a path (``https://host/v3/KEY``)."""
node_url_check = url_callback()
"""``--node``, ``--peer``: a node's base URL."""


def host_callback(ctx: click.Context, param: click.Parameter, value: object) -> object:
    """``--host``: an interface name or address (no scheme, no port); an IPv6 address
    without its brackets (``[::1]`` is bound as ``::1``: the brackets are a URL's, and
    ``getaddrinfo`` resolves no such name)."""
    if value is None:
        return None
    try:
        return check_host(str(value)).removeprefix("[").removesuffix("]")
    except UrlError as e:
        raise click.BadParameter(f"{e} (e.g. 127.0.0.1, ::1 or 0.0.0.0)", ctx, param) from None


def writable_file(ctx: click.Context, param: click.Parameter, value: object) -> object:
    """An output file option (``--out``): checked before the work that writes it, so that a
    path that cannot be written (no such directory, a directory, no permission) is a usage
    error at once (exit 2), not a failure after the run. Nothing is created here."""
    if value is None:
        return None
    path = Path(str(value))
    parent = path.parent
    if path.is_dir():
        problem = "is a directory"
    elif path.exists():
        problem = "" if os.access(path, os.W_OK) else "cannot be written (permission denied)"
    elif not parent.is_dir():
        problem = f"cannot be created: {str(parent)!r} is not a directory"
    elif not os.access(parent, os.W_OK | os.X_OK):
        problem = f"cannot be created in {str(parent)!r} (permission denied)"
    else:
        problem = ""
    if problem:
        raise click.BadParameter(f"{str(path)!r} {problem}", ctx, param)
    return path


def check_new_file_dirs(paths: dict[str, Path | None], create: bool) -> None:
    """``sdex node``'s ``--db`` and ``--node-key`` in a directory that does not exist: a typo
    (``--db ~/sdx/n.db``) silently made the directory and a new, empty database (or a new
    gossip identity) there (user31). Refused as a usage error unless ``--mkdir`` asks for it;
    a file where the directory should be, or a directory named as the file, either way."""
    for option, path in paths.items():
        if path is None:
            continue
        if path.is_dir():
            example = path / ("node.db" if option == "--db" else "node.key")
            raise click.BadParameter(
                f"{str(path)!r} is a directory: name a file in it, e.g. {str(example)!r}",
                param_hint=f"'{option}'",
            )
        parent = path.parent
        if parent.is_dir():
            continue
        what = "a new, empty database" if option == "--db" else "a new gossip identity"
        if parent.exists():
            problem = f"{str(parent)!r} is not a directory"
        elif create:
            continue
        else:
            problem = (
                f"the directory {str(parent)!r} does not exist (a typo would start {what} "
                "there): create it, or pass --mkdir to have the node create it"
            )
        raise click.BadParameter(f"{str(path)!r}: {problem}", param_hint=f"'{option}'")


_NEGATIVE = re.compile(r"-[0-9.][0-9.]*")


class DecimalArgsCommand(click.Command):
    """A command whose arguments are decimals (``sdex order``): a negative one reads as an
    unknown option to click, which said "No such option '-5'" (or '-0' for -0.5, '-.' for
    -.5); name the argument and what it must be instead (user25)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        typed_args = list(args)  # (click's parser consumes the list it is given)
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as e:
            typed = next(
                (a for a in typed_args if a.startswith(e.option_name) and _NEGATIVE.fullmatch(a)),
                None,
            )
            if typed is None:
                raise
            name = self._argument_at(typed_args, typed)
            # (ux49: with click's "Invalid value for 'PRICE':" as every other bad value has)
            hint = f"'{name}'" if name in ("PRICE", "AMOUNT") else "'PRICE' / 'AMOUNT'"
            raise click.BadParameter(
                f"{name} must be a plain positive decimal like 2000.5, got '{typed}'",
                ctx,
                param_hint=hint,
            ) from None

    def _argument_at(self, args: list[str], typed: str) -> str:
        """Which argument the negative ``typed`` stands for (user30: "PRICE and AMOUNT must
        be ...", for either): its place among the words that are not options or their values."""
        takes_value = {
            name for p in self.params if isinstance(p, click.Option) and not p.is_flag
            for name in p.opts
        }  # fmt: skip
        words, skip = [], False
        for a in args:
            if skip:
                skip = False
            elif a in takes_value:
                skip = True
            elif not a.startswith("--"):
                words.append(a)
        names = [str(p.human_readable_name) for p in self.params if isinstance(p, click.Argument)]
        place = words.index(typed) if typed in words else -1
        name = names[place] if 0 <= place < len(names) else ""
        return name if name in ("PRICE", "AMOUNT") else "PRICE and AMOUNT each"


def decimal_arg(name: str) -> Callable[[str], Fraction]:
    return lambda text: parse_decimal(text, name)


def parse_expiry(text: str) -> int:
    """``--expiry``: whole seconds from now, in ASCII digits (user29: ``1h`` read "'1h' is not
    a valid integer range", ``0`` "0 is not in the range x>=1", and ``3_600`` was taken)."""
    t = text.strip()
    digits = t.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 20:
        raise WalletInputError(
            f"--expiry is whole seconds from now (e.g. 3600 for an hour), got {text!r}"
        )
    if t.startswith("-") or int(t) < 1:
        raise WalletInputError(f"--expiry must be at least 1 second, got {text!r}")
    return int(t)


def parse_depth(text: str) -> int:
    """``sdex book --depth``: orders a side, 1 to 1000, in ASCII digits (user30: ``0`` read
    "0 is not in the range 1<=x<=1000.", ``abc`` "'abc' is not a valid integer range.")."""
    t = text.strip()
    if not (t.isascii() and t.isdigit() and len(t) <= 4 and 1 <= int(t) <= 1000):
        raise WalletInputError(
            f"--depth is how many orders to show on each side, 1 to 1000, got {text!r}"
        )
    return int(t)


def checked_pair(text: str) -> str:
    """The pair as typed, once it has the BASE/QUOTE form (the node says which it lists)."""
    split_pair(text)
    return text


node_option = click.option(
    "--node", "node_url", required=True, metavar="URL", callback=node_url_check,
    envvar="SDEX_NODE", show_envvar=True,
    help="The node's HTTP API, e.g. http://127.0.0.1:8001; also read from $SDEX_NODE.",
)  # fmt: skip


key_option = click.option(
    "--key", required=True, callback=converter(parse_key), metavar="HEX", envvar="SDEX_KEY",
    show_envvar=True, help="The wallet's private key (hex); also read from $SDEX_KEY.",
)  # fmt: skip


def rpc_option(help: str) -> Callable[[FC], FC]:
    """``--rpc URL`` (checked), None when not given."""
    return click.option("--rpc", metavar="URL", default=None, callback=rpc_url_check, help=help)


def deployment_option(help: str) -> Callable[[FC], FC]:
    """``--deployment PATH`` (``deployment_path``), ``sdex.deployment.DEFAULT_PATH`` when not
    given."""
    return click.option(
        "--deployment", "deployment_path", type=click.Path(path_type=Path),
        default=DEFAULT_PATH, show_default=True, help=help,
    )  # fmt: skip


pair_option = click.option(
    "--pair", default=DEFAULT_PAIR, show_default=True, metavar="BASE/QUOTE",
    callback=converter(checked_pair),
    help="The market: prices are QUOTE per BASE, amounts are in BASE.",
)  # fmt: skip


def parse_wait(text: str) -> float:
    """``--wait``: seconds, 0 to 600, as a plain decimal (user29: ``1h`` read "'1h' is not a
    valid float range"; review19: ``nan``, which a float range lets through, waited forever)."""
    t = text.strip()
    if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,6})?", t) or float(t) > 600:
        raise WalletInputError(
            "--wait is seconds to wait for the settlement, 0 to 600 (e.g. 30; 0: do not wait), "
            f"got {text!r}"
        )
    return float(t)


wait_option = click.option(
    "--wait", "settle_wait", type=str, default="30", show_default=True,
    metavar="SECONDS", callback=converter(parse_wait),
    help="Wait at most this long for a match's settlement on chain and say how it ended "
    "(0: do not wait).",
)  # fmt: skip


max_fee_option = click.option(
    "--max-fee-bps", "max_fee_bps", type=IntBetween(0, 10_000, "basis points"),
    default=MAX_FEE_BPS, show_default=True, metavar="BPS",
    help="The largest fee the node may ask, in basis points of what an order receives: a "
    "node asking more is refused and nothing is signed.",
)  # fmt: skip


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Show an expected failure (node refused or unreachable, chain error) as one red line
    on stderr and exit 1, without a traceback; a deployment file that cannot be used the
    same way with exit 2 (bad input, as click's usage errors). A broken pipe of the output
    is not a failure to say: it passes (``sdex.clipipe``)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except DeploymentError as e:
        from sdex.walletout import print_error, stderr_console  # (rich: import91)

        print_error(stderr_console(), e)
        raise click.exceptions.Exit(2) from None
    except (SdexError, OSError) as e:  # requests' errors are OSErrors too
        from sdex.walletout import print_error, stderr_console

        print_error(stderr_console(), e)
        raise click.exceptions.Exit(1) from None


def pair_market(config: OrderConfig, pair: str) -> Market:
    try:
        return parse_pair(pair, config)
    except WalletInputError as e:
        raise click.BadParameter(str(e), param_hint="'--pair'") from None


def trusted_proxy_callback(ctx: click.Context, param: click.Parameter, value: object) -> object:
    """``--trusted-proxy``: each an address or a network (``sdex.httpkit.parse_network``)."""
    from sdex.httpkit import parse_network  # (aiohttp's import: only for this option)

    if not isinstance(value, tuple):
        return value
    try:
        return tuple(parse_network(str(v)) for v in value)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx, param) from None


_NODE_LIMITS = [
    click.option(
        "--max-http-per-client", type=IntBetween(1), default=None, metavar="N",
        help="HTTP connections (websockets and peer streams included) one client address "
        "holds at once; an IPv6 client counts by its /64, and its /56 and /48 hold at most "
        "1/16 and 1/8 of --max-http (at least N). At the bound a new one closes its oldest idle "
        "one, or is refused (429) when all are busy [default: 512].",
    ),
    click.option(
        "--max-http", type=IntBetween(1), default=None, metavar="N",
        help="HTTP connections in all (at most half the process's file descriptor limit); "
        "past it the oldest idle one is closed, or the new one refused (503) [default: 4096].",
    ),
    click.option(
        "--fronts", type=IntBetween(0, 64), default=0, metavar="N",
        help="Front processes that accept the HTTP connections and check wallets' orders "
        "(parse, hash, signature) on other cores; every other request passes to the node "
        "[default: 0: the node accepts them itself].",
    ),
    click.option(
        "--http-idle-timeout", type=FloatBetween(0, 86_400, "seconds", min_open=True), default=None,
        metavar="SECONDS",
        help="Seconds an HTTP connection with no request in progress stays open [default: 30].",
    ),
    click.option(
        "--listing-rate-limit", type=float, default=None, metavar="RECORDS",
        help="Records a second one client address may list (/v1/orders, /v1/orderbook, "
        "/v1/fills, /web/orders; a page is charged its records), bursts of 5 s of it "
        "[default: 2000].",
    ),
    click.option(
        "--listing-rate-total", type=float, default=None, metavar="RECORDS",
        help="Records a second all clients together may list: pages past it wait their turn, "
        "each client's in turn [default: 20000].",
    ),
    click.option(
        "--chain-read-limit", type=float, default=None, metavar="ORDERS",
        help="Orders a second one client address may post that need a chain read (a contract "
        "maker's, an account new to the node; the ones its chain mirror judges are free), "
        "bursts of 10 s of it; past it 429 [default: 10].",
    ),
    click.option(
        "--peer-chain-read-limit", type=float, default=None, metavar="ORDERS",
        help="The same per peer node (all strangers together as one), bursts of 10 s of it; "
        "past it its orders wait for a later anti-entropy round [default: 100].",
    ),
    click.option(
        "--drop-closed-after", type=FloatBetween(0, 10**9, "seconds"), default=None,
        metavar="SECONDS",
        help="Delete the stored row of an order that never traded and closed cancelled or "
        "expired this many seconds past its expiry (by the chain's clock); GET "
        "/v1/orders/{hash} then answers 404 for it. Bounds the store under a stream of "
        "short-lived orders [default: off, every accepted order is kept].",
    ),
    click.option(
        "--refuse-damaged-rows", is_flag=True, default=False,
        help="Refuse to start while the store holds order rows known damaged (an edit, a disk "
        "error), naming them, instead of starting with those orders out of the book and "
        "named in /health store.damagedRows [default: start].",
    ),
    click.option(
        "--chain-read-total", type=float, default=None, metavar="ORDERS",
        help="The same for all clients and peers together (half kept for each kind: neither "
        "can starve the other), bursts of 10 s of it [default: 200].",
    ),
    click.option(
        "--max-base-fee", type=IntBetween(1, 10**9, "gwei"), default=None, metavar="GWEI",
        envvar="SDEX_MAX_BASE_FEE", show_envvar=True,
        help="The highest base fee (gwei a gas) the node believes and signs its settlements "
        "with (their fee cap is twice it plus the tip); while the chain's is above it nothing "
        "settles and /health's chainMirror.baseFee says so. Raise it for a chain of higher "
        "fees; also read from $SDEX_MAX_BASE_FEE [default: 100000].",
    ),
    click.option(
        "--trusted-proxy", "trusted_proxies", multiple=True, metavar="CIDR",
        callback=trusted_proxy_callback,
        help="A reverse proxy's address or network (e.g. 10.0.0.0/8, ::1; repeatable) whose "
        "X-Forwarded-For names the client (its rightmost entry that is not a trusted proxy) "
        "for the per-client bounds; from anyone else the header is ignored [default: none].",
    ),
]  # fmt: skip


def node_limit_options(f: Callable[..., T]) -> Callable[..., T]:
    """``sdex node``'s bounds on its clients (HTTP connections, listings, trusted proxies),
    and on its store (``--drop-closed-after``, ``--refuse-damaged-rows``), passed on to
    ``run_node`` as keywords of the same names."""
    for option in reversed(_NODE_LIMITS):
        f = option(f)
    return f
