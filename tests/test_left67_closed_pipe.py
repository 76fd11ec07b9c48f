"""left67: a wallet or script command whose output's reader stops early (``sdex audit ... |
head -1``, ``sdex book | head -1``) ends quietly with 141, the status a shell reports for a
process SIGPIPE ended.

Before, click's ``main`` took the broken pipe for a failure and exited 1, silently: for
``sdex audit`` exit 1 means "discrepancy", so a script with ``set -o pipefail`` read a clean
audit as a failed one. A broken pipe inside a wallet command's ``one_line_errors`` (an
``OSError``) said "error: [Errno 32] Broken pipe" on stderr, exit 1; a console script went
on and said it for each of its lines.

The reader here is a real pipe whose read end is closed before the command starts, so every
write the command makes to its stdout fails (``head -1`` closes it after its first line: the
same, from some write on); the commands are real processes, the node a real one on loopback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sdex.clipipe import PIPE_CLOSED
from tests.conftest import Chain
from tests.nodeutil import ROOT, node_config, running_node, url_of

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
ENDS_WITHIN = 120.0
"""Seconds a command may take to start and end (a loaded machine's imports, the audit's reads)."""


def closed_pipe() -> int:
    """The write end of a pipe whose read end is already closed."""
    r, w = os.pipe()
    os.close(r)
    return w


def run_into_closed_pipe(*args: str, stdin: bytes = b"") -> tuple[int, str]:
    """``sdex ARGS`` with its stdout a closed pipe: its exit status and its stderr."""
    w = closed_pipe()
    try:
        res = subprocess.run(
            [sys.executable, "-m", "sdex", *args], input=stdin, stdout=w, stderr=subprocess.PIPE,
            env=ENV, timeout=ENDS_WITHIN, check=False,
        )  # fmt: skip
    finally:
        os.close(w)
    return res.returncode, res.stderr.decode(errors="replace")


def test_a_clean_audit_into_a_closed_pipe_is_not_a_discrepancy(
    chain: Chain, tmp_path: Path
) -> None:
    assert PIPE_CLOSED == 141  # (128 + SIGPIPE, as a shell reports a process SIGPIPE ended)
    assert PIPE_CLOSED not in (0, 1, 2)  # the audit's: clean, discrepancy, cannot audit
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    audit = ["audit", "--deployment", str(deployment)]
    clean = subprocess.run(
        [sys.executable, "-m", "sdex", *audit], capture_output=True, env=ENV,
        timeout=ENDS_WITHIN, check=False,
    )  # fmt: skip
    assert clean.returncode == 0, clean.stderr  # (the same audit, read to its end: clean)
    for argv in (audit, [*audit, "--json"]):
        code, err = run_into_closed_pipe(*argv)
        assert (code, err) == (PIPE_CLOSED, ""), argv


def test_help_into_a_closed_pipe_ends_quietly() -> None:
    for argv in (["--help"], ["audit", "--help"], ["--version"]):
        assert run_into_closed_pipe(*argv) == (PIPE_CLOSED, ""), argv


async def started(argv: list[str], stdout: int) -> asyncio.subprocess.Process:
    """``sdex ARGV`` started (the loop free to serve the in-process node meanwhile), ``stdout``
    its stdout (closed here once the process has it), its stdin and stderr pipes."""
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sdex", *argv, stdin=subprocess.PIPE, stdout=stdout,
            stderr=subprocess.PIPE, env=ENV,
        )  # fmt: skip
    finally:
        os.close(stdout)


async def ended(proc: asyncio.subprocess.Process, stdin: bytes = b"") -> tuple[int | None, str]:
    """``proc`` given ``stdin`` and run to its end: its exit status and its stderr."""
    _, err = await asyncio.wait_for(proc.communicate(stdin), ENDS_WITHIN)
    return proc.returncode, err.decode(errors="replace")


async def test_wallet_commands_into_a_closed_pipe_end_quietly(chain: Chain, tmp_path: Path) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        url = url_of(node)
        key = "0x" + chain.keys[1].hex()
        network = _network(chain, tmp_path)  # (the listing checked against it: nothing said)
        for argv in (
            ["book", "--node", url, *network],
            ["order", "buy", "1000", "0.5", "--node", url, "--key", key, *network],
            ["console", "--node", url, "--key", key, *network],
        ):
            assert await ended(await started(argv, closed_pipe())) == (PIPE_CLOSED, ""), argv


async def test_a_console_script_whose_reader_stops_ends_there(chain: Chain, tmp_path: Path) -> None:
    """The reader goes away after the console's greeting, as ``head -4`` would: the script's
    lines after it are not each a failure said on stderr (``line 1: book: error: [Errno 32]
    Broken pipe``, then the same for every line, exit 1)."""
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        argv = ["console", "--node", url_of(node), "--key", "0x" + chain.keys[1].hex()]
        argv += _network(chain, tmp_path)
        r, w = os.pipe()
        proc = await started(argv, w)
        try:
            greeting = asyncio.get_running_loop().run_in_executor(None, read_until, r, b"help")
            assert b"Type help" in await asyncio.wait_for(greeting, ENDS_WITHIN)
        finally:
            os.close(r)  # (the reader stops: the script's lines, sent now, write to no one)
        assert await ended(proc, b"book\nget_dump\nbook\n") == (PIPE_CLOSED, "")


def _network(chain: Chain, tmp: Path) -> list[str]:
    """``--deployment`` of the chain's network, what a wallet checks its node's listing
    against (trust77: with none, a warning on stderr)."""
    path = tmp / "devnet.json"
    chain.deployment.save(path)
    return ["--deployment", str(path)]


def read_until(fd: int, said: bytes) -> bytes:
    """What ``fd`` gives until ``said`` is in it (or its end)."""
    got = b""
    while said not in got:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        got += chunk
    return got
