"""``sdex simulate`` says how far it is on stderr (user64: ``sdex simulate -n 1000 ...``, the
README's command, printed nothing for 400 s on a loaded machine): a line when each network
size starts, then the simulated time reached and the events run, at most once every
``--progress`` seconds of wall time; the JSON figures on stdout are unchanged."""

from __future__ import annotations

import itertools
import json
import time

from click.testing import CliRunner

from sdex.cli import main


def test_simulate_prints_progress_to_stderr_at_a_bounded_rate() -> None:
    every = 0.05
    args = ["simulate", "-n", "60", "--orders", "30", "--seed", "3", "--progress", str(every)]
    left = time.monotonic()
    res = CliRunner().invoke(main, args)
    took = time.monotonic() - left
    assert res.exit_code == 0, res.output
    (run,) = json.loads(res.stdout)["runs"]
    assert run["nodes"] == 60 and run["coverage"] == 1.0
    lines = [json.loads(line) for line in res.stderr.splitlines()]
    assert lines[0] == {"nodes": 60, "orders": 30, "started": True}, lines
    assert lines[-1] == {"nodes": 60, "done": True}, lines
    steps = lines[1:-1]
    assert len(steps) >= 2, (took, lines)  # (the run takes seconds: many times ``every``)
    assert len(steps) <= took / every + 1, (took, len(steps))
    assert all(s.keys() == {"nodes", "simulated_s", "events", "wall_s"} for s in steps), steps
    assert all(a["events"] < b["events"] for a, b in itertools.pairwise(steps)), steps
    assert all(a["simulated_s"] <= b["simulated_s"] for a, b in itertools.pairwise(steps))
    assert steps[-1]["events"] <= run["events"], (steps, run["events"])

    quiet = CliRunner().invoke(main, [*args[:-2], "--progress", "0"])
    assert quiet.exit_code == 0, quiet.output
    assert [json.loads(x) for x in quiet.stderr.splitlines()] == [lines[0], lines[-1]]
