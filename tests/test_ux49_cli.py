"""ux49, a new user's trial: ``sdex node`` on a trading wallet's key said nothing; ``sdex demo
--keep``'s panel put ``--key`` under ``sdex book``, which takes no key; ``sdex devnet``
stopped on SIGTERM without a word while each node says "stopped in ..." (that one in
tests/test_devnet.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import click

from sdex.cli import main
from sdex.demorun import kept_commands, kept_text
from sdex.devnet import free_port
from sdex.orderparse import to_checksum
from tests.conftest import Chain
from tests.nodeutil import PORT_TRIES, ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}


def _stop(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout=30)


def _node_stderr(c: Chain, tmp_path: Path, index: int) -> str:
    """What ``sdex node`` started on dev account ``index``'s key says on stderr up to its
    ``listening on`` line and its stop."""
    deployment = tmp_path / "devnet.json"
    c.deployment.save(deployment)
    err = tmp_path / f"node-{index}.err"
    for _ in range(PORT_TRIES):  # (another process may take ``free_port``'s pick first)
        with err.open("w") as err_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sdex.cli", "node", "--port", str(free_port()),
                 "--deployment", str(deployment), "--key", "0x" + c.keys[index].hex(),
                 "--db", str(tmp_path / f"node-{index}.db")],
                env=ENV, stdout=subprocess.PIPE, stderr=err_file, text=True,
            )  # fmt: skip
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()  # (bounded by the node's start: it exits on failure)
            finally:
                code = _stop(proc)
        if line or "already in use" not in err.read_text():
            break
    assert line.startswith("listening on "), (line, err.read_text())
    assert code == 0, err.read_text()
    return err.read_text()


def test_a_node_on_a_trading_wallets_key_warns_once_naming_it(chain: Chain, tmp_path: Path) -> None:
    alice = to_checksum(chain.deployment.accounts[1].address)
    said = _node_stderr(chain, tmp_path, 1)
    warnings = [line for line in said.splitlines() if "warning:" in line]
    assert len(warnings) == 1, said
    named = f"the operator key (--key) is the dev account accounts[1] {alice} (the demo's alice)"
    assert named in warnings[0], said
    # an operator account (the devnet summary's last two, the demo's last three): no word
    assert "warning:" not in _node_stderr(chain, tmp_path, 19)


def _options(command: str) -> set[str]:
    cmd = main.commands[command]  # type: ignore[attr-defined]
    return {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts}


def test_the_kept_panel_names_for_each_option_commands_that_take_it() -> None:
    """Each line's options belong to the commands it names: those before the first command
    word to every command of the line, those after one to it alone; a line naming no command
    reads as more of the line before (as "--key: a dev account's key" read, under ``sdex book
    --node URL``)."""
    commands = set(main.commands)  # type: ignore[attr-defined]
    nodes = [("node-1", "http://127.0.0.1:8001")]
    said = "\n".join([kept_text(nodes), *kept_commands(nodes, Path(".sdex/demo"))])
    before: list[str] = []
    checked = 0
    for line in said.splitlines():
        words = [w.strip(",:()") for w in line.split()]
        words = [w for w in words if "/" not in w and "." not in w]
        named = [w for w in words if w in commands]
        owner: str | None = None
        for w in words:
            if w in commands:
                owner = w
            elif re.fullmatch(r"--[a-z-]+", w):
                for command in [owner] if owner else (named or before):
                    assert w in _options(command), f"{command} takes no {w}: {line!r}\n{said}"
                    checked += 1
        before = named or before
    assert checked >= 6, said  # book --node; --key x3; --deployment x2 (and cancel --onchain)
