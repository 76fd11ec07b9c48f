"""A file of this machine read bounded (wallet80): the kept orders (``sdex.walletkeep``), the
deployment file, a node's key file. ``Path.read_bytes`` or ``open`` of a FIFO blocks until a
writer comes (``sdex repost`` hung for ever on one planted at an order's file), of a device
(``/dev/zero``) reads without end, of a directory fails in words naming no file. Here the
file is opened without blocking, then held to be a regular file (a FIFO, a device, a socket
or a directory refused in words), and read to its bound plus one byte: a bigger file is
refused, never read whole.

A symbolic link is followed where a user may well keep one (a deployment file, a key mounted
as a secret), and refused where the file is the wallet's own (``links=False``: it writes its
kept orders itself, never as links)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from sdex.errors import SdexError


class LocalFileError(SdexError, OSError):
    """The file is not there, not a regular file, over its bound, or cannot be read; its
    ``str`` says which, in words that name no path (the caller names the file)."""

    def __init__(self, said: str, missing: bool = False) -> None:
        super().__init__(said)
        self.missing = missing


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def kind_of(mode: int) -> str:
    """What a file of ``mode`` is, in words ("a regular file" for one)."""
    return next((said for test, said in _KINDS if test(mode)), "a regular file")


def read_bounded(path: Path, max_bytes: int, *, links: bool = True) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes``; ``LocalFileError``
    for anything else (``missing`` set when nothing is there). Never blocks on a FIFO, never
    reads past ``max_bytes + 1``. ``links=False``: a symbolic link at ``path`` is refused."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise LocalFileError("there is no such file", missing=True) from None
    except OSError as e:
        if e.errno == errno.ELOOP and not links and os.path.islink(path):
            raise LocalFileError("it is a symbolic link, not a file this wallet wrote") from None
        raise LocalFileError(f"it cannot be opened: {e.strerror or e}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise LocalFileError(f"it is {kind_of(mode)}, not a regular file")
        os.set_blocking(fd, True)
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        if isinstance(e, LocalFileError):
            raise
        raise LocalFileError(f"it cannot be read: {e.strerror or e}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise LocalFileError(f"it is over {max_bytes} bytes")
    return data
