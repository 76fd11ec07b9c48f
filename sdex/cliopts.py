"""The command line's shared click pieces: argument converters, the wallet commands'
options, the pair as a market, and expected failures as one red line and an exit code."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import TypeVar

import click

from sdex.client import OrderConfig
from sdex.deployment import DeploymentError
from sdex.errors import SdexError
from sdex.wallet import (
    DEFAULT_PAIR,
    Market,
    WalletInputError,
    parse_decimal,
    parse_key,
    parse_pair,
    split_pair,
)
from sdex.walletui import print_error, stderr_console

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


def decimal_arg(name: str) -> Callable[[str], Fraction]:
    return lambda text: parse_decimal(text, name)


def checked_pair(text: str) -> str:
    """The pair as typed, once it has the BASE/QUOTE form (the node says which it lists)."""
    split_pair(text)
    return text


node_option = click.option(
    "--node", "node_url", required=True, metavar="URL",
    help="The node's HTTP API, e.g. http://127.0.0.1:8001.",
)  # fmt: skip


key_option = click.option(
    "--key", required=True, callback=converter(parse_key), metavar="HEX", envvar="SDEX_KEY",
    show_envvar=True, help="The wallet's private key (hex); also read from $SDEX_KEY.",
)  # fmt: skip


pair_option = click.option(
    "--pair", default=DEFAULT_PAIR, show_default=True, metavar="BASE/QUOTE",
    callback=converter(checked_pair),
    help="The market: prices are QUOTE per BASE, amounts are in BASE.",
)  # fmt: skip


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Show an expected failure (node refused or unreachable, chain error) as one red line
    on stderr and exit 1, without a traceback; a deployment file that cannot be used the
    same way with exit 2 (bad input, as click's usage errors)."""
    try:
        yield
    except DeploymentError as e:
        print_error(stderr_console(), e)
        raise click.exceptions.Exit(2) from None
    except (SdexError, OSError) as e:  # requests' errors are OSErrors too
        print_error(stderr_console(), e)
        raise click.exceptions.Exit(1) from None


def pair_market(config: OrderConfig, pair: str) -> Market:
    try:
        return parse_pair(pair, config)
    except WalletInputError as e:
        raise click.BadParameter(str(e), param_hint="'--pair'") from None
