"""Processes a test started that outlive it, killed (by their PIDs) once its teardown is over;
any a fixture wider than a test left, at the session's end (a pytest plugin: tests/conftest.py's
``pytest_plugins``).

harden93: a helper stops what it started when its block ends, but a block never entered or
left another way leaves its processes behind: a ``Cluster`` whose start failed (fixed in
nodeutil), a node started with ``.start()`` and stopped at the test's last line when the
test fails or pytest-timeout fails it before, a child's own children. Each ran on for the
rest of the run (or past it), holding its port and CPU on a loaded 2-core CI machine. Here
the test process's children (``/proc``: Linux; elsewhere nothing is done) before a test's
setup and after its teardown are compared: a new one still running is the test's, killed
with every process under it. Processes a fixture wider than a test started (the session's
Hardhat, a module's anvil) are its fixture's to stop (``pytest_fixture_setup``)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Generator
from pathlib import Path

import pytest

KEPT: set[tuple[int, int]] = set()
"""(PID, start time) of the processes fixtures wider than a test started."""
BEFORE: dict[str, set[tuple[int, int]]] = {}
"""Each running test's (by node id) children at its setup's start."""


def children(pid: int | None = None) -> set[tuple[int, int]]:
    """The running children of ``pid`` (this process by default): (PID, start time) each."""
    out: set[tuple[int, int]] = set()
    for listed in Path(f"/proc/{pid or os.getpid()}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in listed.read_text().split():
                if (started := start_time(int(child))) is not None:
                    out.add((int(child), started))
    return out


def start_time(pid: int) -> int | None:
    """``pid``'s start time (clock ticks since boot; None: gone, or a zombie): with the PID,
    a process's identity (a PID is used again once its process is reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in "ZX" else int(fields[19])


def tree(pid: int) -> list[int]:
    """``pid`` and every process under it, read before any is killed (a killed parent's
    children are taken by another)."""
    out = [pid]
    for child, _ in children(pid):
        out += tree(child)
    return out


def kill(strays: set[tuple[int, int]]) -> list[str]:
    """SIGKILL each of ``strays`` still the same process, and all under it; reaped (a while
    at most). What was killed, as lines of the test's report."""
    said = []
    for pid, started in sorted(strays):
        if start_time(pid) != started:
            continue
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()[:300].replace(b"\0", b" ")
            said.append(f"{pid}: {cmd.decode(errors='replace').strip()}")
        for each in tree(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:  # (its Popen, if any, finds it reaped: returncode 0)
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.01)
    return said


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[object], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    if fixturedef.scope == "function":
        return (yield)
    before = children()
    try:
        return (yield)
    finally:
        KEPT.update(children() - before)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    BEFORE[item.nodeid] = children()
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    try:
        return (yield)
    finally:
        before = BEFORE.pop(item.nodeid, None)
        if before is not None and (said := kill(children() - before - KEPT)):
            item.add_report_section("teardown", "strays", "killed:\n" + "\n".join(said))


SECTION = "Captured strays teardown"
"""The title pytest gives the section above in a test's report (sent to xdist's controller)."""
LEAKED: dict[str, str] = {}
"""What each test left running (by node id), from its reports: for the terminal summary."""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for title, text in report.sections:
        if title == SECTION:
            LEAKED[report.nodeid] = text


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """flake95: which test left which processes running (each killed; a passing test's report
    sections are not shown, so a leak went unseen): said, the test not failed for it."""
    if not LEAKED:
        return
    said = f"strays: {len(LEAKED)} test(s) left processes running (killed)"
    terminalreporter.write_sep("=", said, yellow=True)
    for nodeid, text in sorted(LEAKED.items()):
        terminalreporter.write_line(nodeid)
        for line in text.removeprefix("killed:").strip().splitlines():
            terminalreporter.write_line(f"    {line}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    kill(children() & KEPT)  # (after every fixture's teardown: whatever a fixture left)
