"""Where a wallet command's words go: its consoles (stdout and stderr, wrapped for a pipe
as for a terminal) and an expected failure as one red line; shared by the wallet commands,
``sdex console``, ``sdex audit`` and ``sdex devnet`` (split from ``sdex.walletui``)."""

from __future__ import annotations

import errno
import os
import re
import sys
from typing import IO, cast

import requests
from rich.console import Console
from rich.markup import escape

from sdex.client import describe_request_error


class PipeConsole(Console):
    """A rich ``Console`` whose write to a closed pipe raises ``BrokenPipeError``, for
    ``sdex.clipipe.closed_output_ends_quietly`` to end the command with ``PIPE_CLOSED``:
    rich's own ``on_broken_pipe`` raises ``SystemExit(1)``, a failure's status."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # (nothing more is written to it)
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def stdout_console() -> Console:
    """At a terminal, long lines (hashes, addresses) are left whole for the terminal to
    wrap, so they copy and paste intact. Piped (``| tee``, ``> log``) they break between
    words at the width, 80 unless ``$COLUMNS`` says (user44: ``signed by 0x…; expires …``
    ran to 103 columns, ``settled on chain: …`` to 150): a hash is one word, whole on its
    line. Tables fit the width either way."""
    console = PipeConsole(highlight=False)
    if console.is_terminal:
        console.soft_wrap = True
        return console
    return PipeConsole(highlight=False, file=cast(IO[str], _TrimmedStdout()))  # (writes str)


class _TrimmedStdout:
    """``sys.stdout`` as it is at each write (a test's runner swaps it), each line's trailing
    spaces dropped: a line wrapped between words kept the space it broke at."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        return sys.stdout.write(_TRAILING_SPACES.sub("\n", text))

    def flush(self) -> None:
        sys.stdout.flush()

    def isatty(self) -> bool:
        return False


_TRAILING_SPACES = re.compile(r" +\n")


def stderr_console() -> Console:
    # An error stays one line, piped too (a log's reader greps it): ``print_error``.
    return PipeConsole(stderr=True, highlight=False, soft_wrap=True)


def print_error(err: Console, e: BaseException, where: str = "") -> None:
    """An expected failure as one red line (the wallet commands, the console), after
    ``where`` (Rich markup: a console script's "line N: COMMAND: ")."""
    err.print(f"{where}[bold red]error:[/] {escape(plain(short_error(e)))}")


def plain(text: str) -> str:
    """``text`` (a node's or a chain's words) with each character a terminal acts on shown
    escaped (``\\x1b``): review67, a node's error reason cleared the user's screen."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def short_error(e: BaseException) -> str:
    """An error's message without urllib3's connection-pool noise."""
    if isinstance(e, requests.RequestException):
        return describe_request_error(e)
    return str(e) or type(e).__name__
