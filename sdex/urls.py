"""The URLs and addresses a user types (``--peer``, ``--node``, ``--rpc``, ``--host``), checked
before anything runs: a URL a node or wallet would never reach (``localhost`` with no port,
which gossip would dial on port 80; a typo) is an error that says what to write.

Rules: the scheme is ``http`` or ``https`` (none: ``http``, ``host:port`` as the wallet
commands always took it); a host is present (a name, an IPv4 address or a
bracketed IPv6 one); an ``http`` URL names its port (no SDEX node or devnet listens on 80),
an ``https`` one may leave it to 443 (a node or endpoint behind TLS); no user info, query or
fragment; a path is kept (a JSON-RPC endpoint's ``/v3/KEY``, a node behind a proxy's
prefix), a node URL's trailing ``/`` dropped. Loopback or not is not checked: that is the
operator's business.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import yarl

from sdex.errors import SdexError

MAX_URL = 2000
"""Characters a URL may have (the gossip table keeps peers' URLs of at most 200; an RPC
endpoint's path may carry a key)."""
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)\Z", re.IGNORECASE)


class UrlError(SdexError, ValueError):
    """A URL or address typed by a user that no client could use; the message says why."""


def check_host(host: str) -> str:
    """``host`` if it is a DNS name, an IPv4 or an IPv6 address (brackets optional), else
    ``UrlError``."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
        return host
    except ValueError:
        pass
    name = host.removesuffix(".")
    labels = name.split(".")
    # (999.1.1.1, all digits: neither an IPv4 address nor a name)
    if 0 < len(name) <= 253 and all(map(_LABEL.match, labels)) and not labels[-1].isdigit():
        return host
    raise UrlError(f"{host[:80]!r} is not a host name or an IP address")


def check_url(text: str, *, path: bool = False, example: str = "http://127.0.0.1:8001") -> str:
    """``text`` (stripped; ``http://`` added to a bare ``host:port``; without a trailing
    ``/`` unless ``path``, a JSON-RPC endpoint's URL, kept as typed) if it is an http(s) URL
    a client can reach, else ``UrlError`` saying what is wrong and showing ``example``."""
    url = text.strip()
    hint = f" (e.g. {example})"
    if not url:
        raise UrlError(f"an empty URL{hint}")
    if len(url) > MAX_URL:
        raise UrlError(f"a URL of {len(url)} characters (at most {MAX_URL})")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise UrlError(f"{url[:80]!r} has a space or a control character")
    if "://" not in url:
        url = "http://" + url  # (host:port, as the wallet commands always took it)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:  # a port that is not a number, or above 65535; bad brackets
        raise UrlError(f"{url[:80]!r} is not a valid URL: {e}{hint}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UrlError(f"{url[:80]!r}: the scheme must be http or https, not {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise UrlError(f"{url[:80]!r} has user info (user@host): not supported")
    host = parts.hostname
    if not host:
        raise UrlError(f"{url[:80]!r} has no host{hint}")
    try:
        check_host(host)
    except UrlError as e:
        raise UrlError(f"{url[:80]!r}: {e}") from None
    if port is None and parts.scheme.lower() == "http":
        raise UrlError(f"{text.strip()[:80]!r} has no port: write {url[:80]}:PORT{hint}")
    if port == 0:
        raise UrlError(f"{url[:80]!r}: port 0 is not a port to connect to")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise UrlError(f"{url[:80]!r} has a query or a fragment: give the bare URL{hint}")
    try:  # (review16: urlsplit reads the host ::1 out of "h[::1]" or "[::1]x", which the
        # clients' own parser, aiohttp's yarl, refuses when the URL is dialled)
        yarl.URL(url)
    except (ValueError, IndexError) as e:  # (IndexError: yarl 1.x on some bad brackets)
        raise UrlError(f"{url[:80]!r} is not a valid URL: {e}{hint}") from None
    return url.rstrip("/") if not path else url
