"""What every benchmark shares: the machine it ran on, and its section of BENCHMARKS.md."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]

T = TypeVar("T")


def us_per_call(
    call: Callable[[T], object], batches: Iterable[Sequence[T]], check: Callable[[object], bool]
) -> list[float]:
    """Microseconds per ``call`` over each batch (one figure a batch; a batch is built before
    its clock starts); ``check`` must hold for each batch's last result."""
    times = []
    for batch in batches:
        began = time.perf_counter()
        for item in batch:
            result = call(item)
        took = time.perf_counter() - began
        assert check(result), result
        times.append(took / len(batch) * 1e6)
    return times


def best_us(
    fn: Callable[[], object],
    rounds: int,
    number: int,
    clock: Callable[[], float] = time.thread_time,
) -> float:
    """The least of ``rounds`` means over ``number`` calls of ``fn``, in us, by ``clock``
    (thread CPU time by default: a machine shared by other processes stretches it less than
    the wall clock)."""
    best = float("inf")
    for _ in range(rounds):
        began = clock()
        for _ in range(number):
            fn()
        best = min(best, (clock() - began) / number)
    return best * 1e6


def ab_parser(
    doc: str, repeat: int, ref_help: str = "the reference tree (e.g. main)"
) -> argparse.ArgumentParser:
    """The parser of a benchmark that runs this tree and a reference tree alternately:
    ``--ref`` (that tree, required) and ``--repeat`` (how many rounds); the benchmark adds
    its own options. The description: ``doc``'s first paragraph (the module's docstring)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--ref", type=Path, required=True, help=ref_help)
    ap.add_argument("--repeat", type=int, default=repeat, help="rounds, the trees alternated")
    return ap


def ab_variants(ref: Path) -> list[tuple[str, Path]]:
    """The two trees an A/B benchmark runs: ``("ref", ref)`` and ``("new", this tree)``."""
    return [("ref", ref.resolve()), ("new", ROOT)]


def alternated(variants: list[tuple[str, Path]], round_: int) -> list[tuple[str, Path]]:
    """The order ``variants`` run in in round ``round_``: each first in turn (ref, new; then
    new, ref; ...), so that a drift of the shared machine falls on both alike."""
    k = round_ % len(variants)
    return variants[k:] + variants[:k]


def measured_in(script: str, root: Path) -> dict[str, float]:
    """The figures ``script --measure`` prints (one JSON object), run in the tree ``root`` (its
    own ``sdex`` first on the path) in a process of its own: one side of an in-process A/B."""
    done = subprocess.run(
        [sys.executable, str(Path(script).resolve()), "--measure"], cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True,
        check=True, timeout=600,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def measure_args(
    doc: str, rounds: int, measure: Callable[[], dict[str, float]]
) -> argparse.Namespace | None:
    """The options of such an A/B (``--ref-root``, the reference checkout; ``--rounds``); with
    ``--measure`` (how ``measured_in`` runs a side) ``measure()``'s figures are printed and
    None returned: the caller stops there."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--ref-root", type=Path, default=None, help="the reference checkout")
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure()))
        return None
    return args


def measured_rounds(script: str, args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    """``args.rounds`` rounds of ``measured_in``: this tree (``"this"``) and, with
    ``args.ref_root``, the reference (``"reference"``), which one goes first alternated."""
    runs: dict[str, list[dict[str, float]]] = {"this": [], "reference": []}
    for i in range(args.rounds):
        sides = [("this", ROOT)]
        if args.ref_root is not None:
            sides.append(("reference", args.ref_root.resolve()))
        for side, root in sides if i % 2 == 0 else sides[::-1]:
            runs[side].append(measured_in(script, root))
    return runs


def spreads(runs: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Each side's figures of ``measured_rounds`` as [median, min, max]."""
    return {
        side: {
            k: [
                statistics.median(f[k] for f in figures),
                min(f[k] for f in figures),
                max(f[k] for f in figures),
            ]
            for k in figures[0]
        }
        for side, figures in runs.items()
        if figures
    }


def print_ab(head: dict[str, Any], runs: dict[str, list[dict[str, float]]], keys: Any) -> None:
    """``measured_rounds``' figures as JSON: ``head``, each side's spreads, this tree's
    median over the reference's for each of ``keys``, and the machine."""
    out: dict[str, Any] = {**head, **spreads(runs)}
    if runs["reference"]:
        for k in keys:
            out[f"{k}_ratio_this_over_reference"] = round(
                out["this"][k][0] / out["reference"][k][0], 4
            )
    out["machine"] = machine()
    print(json.dumps(out, indent=1))


def machine() -> dict[str, Any]:
    """Cores, CPU model, OS, Python and Hardhat versions."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as f:
        cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    try:
        hardhat = json.loads((ROOT / "node_modules/hardhat/package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        hardhat = "unknown"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "hardhat": hardhat,
    }


def machine_line() -> str:
    m = machine()
    return f"{m['os']}, {m['nproc']} cores, {m['cpu']}"


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all processes, all cores) so far."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)  # idle + iowait
    return (sum(parts[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def write_section(path: Path, title: str, body: str) -> None:
    """Replace (or append) the section headed ``## title`` in ``path``; the others stay."""
    text = path.read_text() if path.exists() else "# SDEX benchmarks\n"
    head = f"## {title}\n"
    start = text.find(head)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + head + body
    else:
        end = text.find("\n## ", start + len(head))
        text = text[:start] + head + body + (text[end + 1 :] if end != -1 else "")
    path.write_text(text)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process this bench started, by its PID: SIGTERM, SIGKILL after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
