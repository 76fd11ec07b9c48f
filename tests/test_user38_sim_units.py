"""``sdex simulate``'s JSON echoed its link model as the simulator holds it (user38's trial):
``--latency-ms 50 --bandwidth-mbit 10 --check-ms 2`` came back as ``"latency_median": 0.05``,
``"bandwidth": 1250000.0`` and ``"check_cost": 0.002`` (seconds and bytes a second, with no
unit said), among 30 more fields the command never sets (the benchmarks' calibrations, all
zero or null). Now each run says the command's own link options, in their units."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sdex.cli import main


def test_sdex_simulate_says_its_link_options_in_their_units() -> None:
    args = ["simulate", "-n", "20", "--orders", "5", "--seed", "2", "--latency-ms", "40"]
    res = CliRunner().invoke(main, [*args, "--bandwidth-mbit", "8", "--check-ms", "1.5"])
    assert res.exit_code == 0, res.output
    (run,) = json.loads(res.stdout)["runs"]
    assert run["links"] == {
        "latency_ms": 40.0,
        "sigma": 0.5,
        "bandwidth_mbit": 8.0,
        "check_ms": 1.5,
    }
