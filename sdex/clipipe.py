"""A command whose output's reader stopped early (``sdex audit ... | head -1``) ends quietly
with ``PIPE_CLOSED``, as a Unix filter that SIGPIPE ends.

click's own ``main`` takes a broken pipe for a failure and exits 1, silently: for
``sdex audit`` 1 means "discrepancy", and a script with ``set -o pipefail`` read a clean
audit, cut short by its reader, as a failed one (left67). Python ignores SIGPIPE, so a
write to a pipe nobody reads raises ``BrokenPipeError`` instead of ending the process; the
sockets of the HTTP and JSON-RPC clients are not concerned (requests and ``LeanPost`` raise
their failures as ``requests.ConnectionError``), so a raw ``BrokenPipeError`` out of a
command is its stdout or stderr. Why not SIGPIPE's default action at start instead: it would
also end a command silently whose connection to a node or a chain broke mid-request, where
now it says so in one line.

The consoles whose writes end up here are ``sdex.walletout.PipeConsole``: not in this module,
which ``sdex.cli`` imports for every command, ``sdex node`` included, so that rich (~45
modules) is imported only by the commands that print through it (import91).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import NoReturn

import click

PIPE_CLOSED = 141
"""The exit status of a command whose output's reader went away: 128 + SIGPIPE (13), what a
shell reports for a process SIGPIPE ended (``head``'s writer in ``set -o pipefail``), so a
script treats it alike. None of the commands' own (the audit's 0 clean, 1 discrepancy,
2 cannot audit; a wallet command's 1 failed, 2 bad input)."""


@contextlib.contextmanager
def closed_output_ends_quietly() -> Iterator[None]:
    """A ``BrokenPipeError`` (the command's stdout or stderr closed by its reader) raised in
    the block becomes a quiet exit with ``PIPE_CLOSED``: nothing said (there is nobody to say
    it to on a closed stdout, and the user stopped reading on purpose), and the stream's
    unwritten rest is sent to the null device so the interpreter's last flush at exit does
    not say "Exception ignored ... BrokenPipeError" and exit 120."""
    try:
        yield
    except BrokenPipeError:
        end_quietly()


def end_quietly() -> NoReturn:
    """End the command with ``PIPE_CLOSED``, its closed streams' unwritten rest dropped
    (``closed_output_ends_quietly``)."""
    for stream in (sys.stdout, sys.stderr):
        _drop_if_closed(stream)
    raise click.exceptions.Exit(PIPE_CLOSED) from None


def _drop_if_closed(stream: object) -> None:
    """Point ``stream``'s file descriptor at the null device if its reader went away (its
    flush breaks the pipe); a stream still read (stderr on a terminal) is left as it is."""
    try:
        flush = getattr(stream, "flush", None)
        if flush is not None:
            flush()
        return
    except BrokenPipeError:
        pass
    except (OSError, ValueError):  # (closed, or no file: nothing to flush at exit either)
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fd = stream.fileno()  # type: ignore[attr-defined]
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
