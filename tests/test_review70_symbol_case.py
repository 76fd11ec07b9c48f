"""review70: wallet69 made a token symbol 1 to 32 ASCII letters, digits and ``. _ + -``, no
two alike but for case, and gave ``USDC.e`` as one (README, ``sdex.deployment.SYMBOL``). But
``sdex node --min-amount`` looked a symbol up upper-cased: ``USDC.e=1`` (or ``usdc.e=1``)
was refused ("expected SYMBOL=AMOUNT, SYMBOL one of WETH, USDC.e"), so the operator of such a
deployment could not set that token's minimum at all (``Deployment.token`` the same). Now
looked up without case, as a wallet does (the symbols are distinct so)."""

from __future__ import annotations

import json
from pathlib import Path

from sdex.deployment import Deployment
from tests.conftest import Chain
from tests.test_user28_min_defaults import _config


def test_a_mixed_case_symbols_minimum_is_taken_as_typed_or_in_any_case(
    chain: Chain, tmp_path: Path
) -> None:
    obj = chain.deployment.to_json()
    obj["tokens"]["USDC.e"] = obj["tokens"].pop("USDC")
    path = tmp_path / "bridged.json"
    path.write_text(json.dumps(obj))
    usdc = chain.usdc.address
    assert _config(chain, path, "USDC.e=1")[usdc] == 10**6  # before: refused, ValueError
    assert _config(chain, path, "usdc.E=2")[usdc] == 2 * 10**6
    assert _config(chain, path, "weth=0") == {usdc: 10**5}  # (0: none; the file's for USDC.e)
    assert Deployment.load(path).token("USDC.e").address == usdc  # before: KeyError
