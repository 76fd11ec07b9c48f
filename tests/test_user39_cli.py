"""user38, a new user's trial of the command line:

- ``sdex simulate --help`` listed ``--seed INTEGER  [default: 1]`` with no words.
- ``sdex devnet``'s summary did not say which of its accounts to give nodes as ``--key``
  (the README says the last two): a user took account 0, the one they then traded with.
"""

from __future__ import annotations

from click.testing import CliRunner

from sdex.cli import main
from sdex.clidevnet import node_key_lines
from sdex.demo import words_lines
from sdex.deployment import DevAccount
from sdex.devnet import dev_keys


def test_every_simulate_option_has_help() -> None:
    ctx = main.make_context("sdex", ["simulate", "--help"], resilient_parsing=True)
    sim = main.get_command(ctx, "simulate")
    assert sim is not None
    bare = [p.name for p in sim.params if getattr(p, "help", "x") in (None, "")]
    assert bare == [], bare
    out = CliRunner().invoke(main, ["simulate", "--help"], env={"COLUMNS": "80"}).output
    assert "--seed" in out and "random draws" in " ".join(out.split()), out


def test_the_devnet_summary_names_the_node_keys() -> None:
    keys = dev_keys(20)
    accounts = [DevAccount(address=f"0x{i:040x}", key="0x" + k.hex()) for i, k in enumerate(keys)]
    lines = node_key_lines(accounts)
    assert lines == [
        "node operator keys (--key; accounts[18] and [19], not traded with):",
        f"  --key 0x{keys[18].hex()}",
        f"  --key 0x{keys[19].hex()}",
    ]
    assert all(len(line) <= 80 for line in lines), lines
    assert node_key_lines(accounts[:3]) == []


def test_the_demos_posted_words_fit_80_columns_under_their_order() -> None:
    words = (
        "matched 0xcdcdcdcd…, matched 0xcdcdcdcd…, settlement pending on chain; the rest "
        "rests in the book"
    )
    lines = words_lines(words)
    assert len(lines) == 2 and all(line.startswith(" " * 10) for line in lines), lines
    assert all(len(line) <= 80 for line in lines), lines
    assert " ".join(" ".join(lines).split()) == words
