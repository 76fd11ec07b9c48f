"""``sdex audit``'s first word with the chain (``say_if_silent``) closes its connection: it
left it to the garbage collector, a ResourceWarning ("unclosed <socket.socket ...>") each
audit run in the suite, an error wherever warnings are."""

from __future__ import annotations

import gc
import warnings

from sdex.audit.cli import say_if_silent
from tests.conftest import Chain


def test_the_chain_notice_leaves_no_connection_open(chain: Chain) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        say_if_silent(chain.rpc.url)
        gc.collect()
    leaks = [w for w in seen if issubclass(w.category, ResourceWarning)]
    assert leaks == [], [str(w.message) for w in leaks]
