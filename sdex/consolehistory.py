"""The console's readline history, kept across sessions when a person is typing (moved out of
``sdex.console``, which neared 500 lines)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

HISTORY_FILE = Path("~/.sdex/console_history")


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
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
