"""``sdex book --depth`` in words (user30's trial): ``--depth 0`` said click's "0 is not in
the range 1<=x<=1000." and ``--depth abc`` "'abc' is not a valid integer range." (no unit,
and no range at all); the console's ``book 0`` already said "1 to 1000 orders a side". Each
is refused before any node is asked (the node here is a closed port), in the console's words."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sdex.cli import main

NOWHERE = "http://127.0.0.1:1"  # (nothing listens: a refusal must come before any request)


@pytest.mark.parametrize("depth", ["0", "abc", "1001", "-1", "2.5", "1e3", "", " 5x"])
def test_a_bad_depth_says_what_it_is_and_its_range(depth: str) -> None:
    got = CliRunner().invoke(
        main, ["book", "--node", NOWHERE, "--depth", depth], env={"COLUMNS": "200"}
    )
    assert got.exit_code == 2, got.output
    said = got.output.splitlines()[-1]
    assert said == (
        "Error: Invalid value for '--depth': --depth is how many orders to show on each side, "
        f"1 to 1000, got {depth!r}"
    ), got.output
    assert "integer range" not in got.output and "cannot reach" not in got.output


def test_the_help_names_the_depth_plainly() -> None:
    got = CliRunner().invoke(main, ["book", "--help"], env={"COLUMNS": "200"})
    assert got.exit_code == 0
    assert "--depth N" in got.output and "INTEGER RANGE" not in got.output, got.output
    assert "1 to 1000" in got.output, got.output


@pytest.mark.parametrize("depth", ["1", "20", "1000", " 7 "])
def test_a_good_depth_is_taken(depth: str) -> None:
    """(then the closed port is said: the depth passed)"""
    got = CliRunner().invoke(
        main, ["book", "--node", NOWHERE, "--depth", depth], env={"COLUMNS": "200"}
    )
    assert got.exit_code == 1 and "cannot reach the node" in got.output, got.output
