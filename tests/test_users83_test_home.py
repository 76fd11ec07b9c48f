"""users83: no test writes into the real home's wallet (``~/.sdex``).

Every order ``sdex order`` or the console signs is kept (``sdex.walletkeep``), in
``$SDEX_WALLET_DIR``, else ``~/.sdex/wallet``. The suite set ``$SDEX_WALLET_DIR`` once for a
session, only when it was not set: a developer's own (their real wallet) was written into,
and every test of a session shared one directory (a test saw another's kept orders). Now
each test has a wallet directory of its own under its temporary files, and a test that
writes into the real home's ``~/.sdex`` fails (``conftest.real_home_untouched``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sdex.walletkeep import WALLET_DIR_ENV, wallet_dir
from tests.conftest import REAL_HOME, home_marks, home_written


def test_each_test_keeps_its_wallet_in_a_directory_of_its_own(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    kept = wallet_dir()
    assert kept.is_relative_to(tmp_path_factory.getbasetemp()), kept
    assert not kept.is_relative_to(REAL_HOME / ".sdex"), kept
    assert not (kept / "orders").exists()  # (nothing of another test's)
    assert os.environ[WALLET_DIR_ENV] == str(kept)


def _add(home: Path) -> None:
    (home / ".sdex/wallet/orders").mkdir(parents=True, exist_ok=True)
    (home / ".sdex/wallet/orders/0xab.json").write_text("{}")


def _new(home: Path) -> None:
    (home / ".sdex/wallet/orders/0xcd.json").write_text("{}")


def _replace(home: Path) -> None:  # (as ``walletkeep.keep`` writes: a temporary file renamed)
    (home / ".sdex/wallet/orders/0xab.json.tmp").write_text("{}")
    os.replace(home / ".sdex/wallet/orders/0xab.json.tmp", home / ".sdex/wallet/orders/0xab.json")


def _history(home: Path) -> None:
    (home / ".sdex/console_history").write_text("book\n")


def _remove(home: Path) -> None:
    (home / ".sdex/wallet/orders/0xab.json").unlink()


@pytest.mark.parametrize(
    ("write", "said"),
    [
        (_new, ".sdex/wallet/orders"),
        (_replace, ".sdex/wallet/orders"),
        (_history, ".sdex/console_history"),
        (_remove, ".sdex/wallet/orders"),
    ],
)
def test_a_write_into_a_home_is_found(
    tmp_path: Path, write: Callable[[Path], None], said: str
) -> None:
    home = tmp_path / "home"
    _add(home)
    (home / ".sdex/console_history").write_text("")
    before = home_marks(home)
    assert home_written(before, home) == []
    os.utime(home / ".sdex/wallet/orders", ns=(0, 0))  # (a write is seen whatever the clock)
    os.utime(home / ".sdex/console_history", ns=(0, 0))
    before = home_marks(home)
    write(home)
    assert str(home / said) in home_written(before, home)
