"""The console's readline history, kept across sessions when a person is typing (moved out of
``sdex.console``, which neared 500 lines)."""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Iterator
from pathlib import Path

HISTORY_FILE = Path("~/.sdex/console_history")
MAX_HISTORY = 1 << 20
"""Bytes of history read at most (1,000 lines of commands are far less)."""


@contextlib.contextmanager
def readline_history(typing: bool) -> Iterator[None]:
    """Persist readline's history across sessions while the block runs, if ``typing`` (a
    person at a terminal: a script read from stdin leaves the history alone)."""
    if not typing:
        yield
        return
    try:
        import readline
    except ImportError:  # no readline (Windows): no history, the prompt still works
        yield
        return
    path = HISTORY_FILE.expanduser()
    if _usable(path):
        with contextlib.suppress(OSError):
            readline.read_history_file(path)
    readline.set_history_length(1000)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            if _usable(path):
                readline.write_history_file(path)


def _usable(path: Path) -> bool:
    """Whether the history file is absent or a regular file of at most ``MAX_HISTORY`` bytes:
    readline opens it blocking and reads it whole, so a FIFO there hung the console at its
    start and a huge file was read whole (wallet80); anything else is left alone, unread."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size <= MAX_HISTORY
