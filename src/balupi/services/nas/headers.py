"""The headers of a request passed through to the NAS, and of its answer passed back.

What describes the hop (``Connection`` and what it names, ``Keep-Alive``, ``Host``, the Pi's own
``Date``) stays on its side; what describes the request goes on, with ``X-Forwarded-For`` and
``X-Forwarded-Proto`` saying where it came from. Apart from ``passthrough.py`` because these
rules are plain functions of header lists, tested without a NAS.
"""

from __future__ import annotations

from collections.abc import Iterable

Headers = list[tuple[str, str]]

# RFC 9110 §7.6.1 plus the pre-standard ``Keep-Alive`` and ``Proxy-*``; headers that the
# ``Connection`` header names are hop-by-hop as well.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"}
)
# Request headers that describe the hop to the Pi, not the request: the Pi's HTTP client sets
# ``Host`` for the NAS, the Pi's server already answered ``Expect: 100-continue``, and a
# conditional header could make the NAS answer 304, a 3xx no client may see.
REQUEST_ONLY = frozenset({"host", "expect", "if-none-match", "if-modified-since"})
# The Pi's server writes its own, as nginx does; two ``Date`` headers would confuse clients.
RESPONSE_ONLY = frozenset({"date", "server"})
FORWARDED_FOR = "x-forwarded-for"
FORWARDED_PROTO = "x-forwarded-proto"


def strip_hop_by_hop(headers: Iterable[tuple[str, str]], extra: frozenset[str]) -> Headers:
    """``headers`` (names in lower case) without hop-by-hop ones and the names in ``extra``."""
    listed = list(headers)
    named = {
        token.strip().lower()
        for name, value in listed
        if name == "connection"
        for token in value.split(",")
    }
    dropped = HOP_BY_HOP | extra | named
    return [(k, v) for k, v in listed if k not in dropped and not k.startswith("proxy-")]


def forward_headers(
    headers: Iterable[tuple[str, str]], *, client: str | None, scheme: str
) -> Headers:
    """The headers the NAS gets: the client's, minus hop-by-hop ones, plus ``X-Forwarded-*``.

    Without an ``Accept-Encoding`` of the client's, ``identity`` is sent: the Pi's HTTP client
    would otherwise ask for gzip, and the compressed body would reach a client that never asked.
    """
    listed = [(k.lower(), v) for k, v in headers]
    kept = strip_hop_by_hop(listed, REQUEST_ONLY | {FORWARDED_FOR, FORWARDED_PROTO})
    if not any(k == "accept-encoding" for k, _ in kept):
        kept.append(("accept-encoding", "identity"))
    chain = [hop.strip() for k, v in listed if k == FORWARDED_FOR for hop in v.split(",")]
    # Behind a trusted local proxy Uvicorn already took the client from this chain's end.
    if client and (not chain or chain[-1] != client):
        chain.append(client)
    if chain:
        kept.append((FORWARDED_FOR, ", ".join(chain)))
    kept.append((FORWARDED_PROTO, scheme))
    return kept
