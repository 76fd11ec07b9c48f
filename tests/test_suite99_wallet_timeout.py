"""suite99: the wallet's timeout for each call to a node (``sdex.client.DEFAULT_TIMEOUT``, 10 s)
had no setting: a user on a slow link could not wait longer, and the suite's tests of an answer
held past it waited the whole 10 s each time. ``$SDEX_WALLET_TIMEOUT`` (seconds, 1 to 600)
sets it; anything else is refused in one line (exit 1), never taken as some other bound."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sdex.cli import main
from sdex.client import DEFAULT_TIMEOUT, TIMEOUT_ENV, NodeClient, TimeoutSettingError
from tests.fakenode import KEY, closed_port


def test_the_default_is_ten_seconds_and_the_setting_changes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)
    with NodeClient("127.0.0.1:1") as client:
        assert client.timeout == DEFAULT_TIMEOUT == 10.0
    for raw, seconds in (("2.5", 2.5), (" 30 ", 30.0), ("1", 1.0), ("600", 600.0), ("", 10.0)):
        monkeypatch.setenv(TIMEOUT_ENV, raw)
        with NodeClient("127.0.0.1:1") as client:
            assert client.timeout == seconds, raw
        with NodeClient("127.0.0.1:1", timeout=3.0) as client:  # (a caller's own wins)
            assert client.timeout == 3.0


@pytest.mark.parametrize("raw", ["0", "0.5", "601", "-5", "nan", "inf", "ten", "1e309", "9" * 500])
def test_a_setting_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, raw)
    with pytest.raises(TimeoutSettingError, match="seconds from 1 to 600") as e:
        NodeClient("127.0.0.1:1")
    assert len(str(e.value)) < 120  # (the value's first 40 characters at most)


def test_the_cli_says_a_bad_setting_in_one_line() -> None:
    args = ["order", "buy", "2000", "1", "--key", "0x" + KEY.hex()]
    node = f"http://127.0.0.1:{closed_port()}"
    r = CliRunner().invoke(
        main, [*args, "--node", node], env={"COLUMNS": "200", TIMEOUT_ENV: "forever"}
    )
    assert r.exit_code == 1, r.output
    assert "$SDEX_WALLET_TIMEOUT must be seconds from 1 to 600, not 'forever'" in r.output
    assert "Traceback" not in r.output
