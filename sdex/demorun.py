"""``sdex demo``'s run: a devnet started, the story told (``sdex.demo.Story``), then the
network kept up for the browser (``--keep``) or stopped; Ctrl-C and SIGTERM stop every
process it started."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.markup import escape

from sdex.demo import DemoFailed, Story, minimums_line, say_panel
from sdex.devnet import Devnet
from sdex.errors import DevnetError
from sdex.order import to_checksum


def kept_text(nodes: list[tuple[str, str]]) -> str:
    """What ``--keep`` says in its panel: each node's page, where the dev keys are, and which
    wallet commands take which option (the commands themselves follow the panel:
    ``kept_commands``). Each line fits an 80-column panel (user31: a bracketed hint was
    broken in two) whatever the log directory: no path is in it (users83: a long
    ``--log-dir`` broke the deployment file's path across the panel's lines). Each option
    names the commands that take it (ux49: "--key: ..." under ``sdex book`` read as one of
    book's, which takes none). ``--deployment`` is every wallet command's (wallet79: it was
    said for balance and cancel --onchain only, where order, book, cancel and the console
    check the node's listing against it, and without it warn that it is unchecked)."""
    urls = "\n".join(f"{name}: {url}/" for name, url in nodes)
    return (
        f"{urls}\ndev accounts: in the deployment file below (the page lists them)\n"
        "  --key for order, cancel, balance and console: a key from that file\n"
        "  --deployment FILE for book, each of these, and audit:\n"
        "    order, book, cancel and console check the node's listing against it\n"
        "    (without it they warn), balance and cancel --onchain read its chain\n"
        "Ctrl-C stops everything"
    )


def kept_commands(nodes: list[tuple[str, str]], log_dir: Path) -> list[str]:
    """The lines after ``kept_text``'s panel, each printed whole (never wrapped: copied as
    one): the deployment file and a ``sdex book`` pointed at the first node with it (users83:
    the example had no ``--deployment``, so it warned that the listing was unchecked)."""
    d = log_dir / "devnet.json"
    return [
        f"deployment file: {d}",
        f"from the command line: .venv/bin/sdex book --node {nodes[0][1]} --deployment {d}",
    ]


def keep_running(console: Console, story: Story, poll: float = 0.5) -> None:
    """``--keep``: leave the devnet and the nodes up for the browser until Ctrl-C (or until a
    node exits on its own). The nodes by name (left75: in start order they read node-1,
    node-3, node-2)."""
    nodes = [(n.name, n.proc.url) for n in sorted(story.nodes.values(), key=lambda n: n.name)]
    say_panel(console, kept_text(nodes), "The network stays up: open a node's page")
    for line in kept_commands(nodes, story.log_dir):
        console.print(escape(line), soft_wrap=True, highlight=False)
    try:
        while all(n.proc.running() for n in story.nodes.values()):
            time.sleep(poll)
        console.print("[red]a node exited[/]: stopping the network")
    except KeyboardInterrupt:
        console.print("stopping the network")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C and SIGTERM both stop the demo through its ``finally``, so no node or chain
    process outlives it. Set explicitly: a shell that starts us in the background ignores
    SIGINT, and Python then never raises KeyboardInterrupt; SIGTERM would kill us at once
    and orphan the processes we started."""
    old = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


LOCK_FILE = "demo.lock"


def hold_log_dir(log_dir: Path) -> IO[str] | None:
    """The log directory held for one demo (an exclusive ``flock`` on its ``demo.lock``, which
    says the holder's PID), until the returned file is closed, as at the process's exit; None
    if another demo holds it. ux70: a second demo there deleted the running one's databases
    and wrote its deployment file and logs over the kept network's."""
    f = (log_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    f.truncate(0)
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def busy_text(log_dir: Path) -> str:
    """Why a demo does not start in ``log_dir``: another runs there (its PID, as it wrote it)."""
    pid = ""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        pid = (log_dir / LOCK_FILE).read_text()[:20].strip()
    shown = f" (pid {pid})" if pid.isdigit() else ""
    return (
        f"another `sdex demo`{shown} runs in {log_dir}: this one would delete its nodes' "
        "databases and write over its deployment file and logs; stop it first (Ctrl-C), or "
        "run this one elsewhere: .venv/bin/sdex demo --log-dir .sdex/demo-2"
    )


def run_demo(console: Console, log_dir: Path, keep: bool = False) -> int:
    log_dir.mkdir(parents=True, exist_ok=True)
    held = hold_log_dir(log_dir)
    if held is None:
        console.print(f"[red]error:[/] {escape(busy_text(log_dir))}")
        return 1
    with held, interruptible():
        return _run_demo(console, log_dir, keep)


def _run_demo(console: Console, log_dir: Path, keep: bool) -> int:
    for stale in log_dir.glob("node-*.db*"):
        stale.unlink()
    started = time.monotonic()
    devnet = Devnet(deployment_path=log_dir / "devnet.json", log_path=log_dir / "hardhat.log")
    ok = False
    story: Story | None = None
    try:
        with console.status("starting a Hardhat devnet; deploying the Exchange, WETH and USDC"):
            d = devnet.start()
        say_panel(
            console,
            f"chain {d.chain_id} at {d.rpc}\nExchange {to_checksum(d.exchange)}\n"
            + "\n".join(
                f"{s} {to_checksum(t.address)} ({t.decimals} decimals)" for s, t in d.tokens.items()
            )
            + minimums_line(d)
            + f"\n{len(d.accounts)} dev wallets funded and approved",
            "SDEX devnet",
        )
        story = Story(console, d, log_dir, keep)
        ok = story.run()
        if keep:
            keep_running(console, story)
    except (DemoFailed, DevnetError) as e:  # (the chain not started: one line, no traceback)
        console.print(f"[red]demo failed:[/] {e}")
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]: stopping the network")
    finally:
        if story is not None:
            story.stop()
        devnet.stop()
        console.print(f"every process stopped; logs in:\n{log_dir}")  # (a long path: 80 cols)
        verdict = "[green]OK[/]" if ok else "[red]FAILED[/]"
        console.print(f"demo finished in {time.monotonic() - started:.1f}s: {verdict}")
        if console.record:
            console.save_text(str(log_dir / "demo.log"))
    return 0 if ok else 1
