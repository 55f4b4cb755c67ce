"""Deterministic, unambiguous order ids of the paper trader.

An id must be the same every time a bar is re-decided (crash-resume idempotency), at
most 128 characters of ``[A-Za-z0-9._:-]`` (Alpaca's limit), and different for any two
different ``(session, symbol, bar date, tag)``: a plain ``wb-{session}-{symbol}-...``
is not (session ``a`` with symbol ``b-c`` and session ``a-b`` with symbol ``c`` collide).

Each field is escaped with a prefix-free code in which ``-`` never appears, so ``-``
separates the fields unambiguously and the mapping is injective:

* letters, digits and ``.`` or ``:`` stand for themselves;
* ``_`` is written ``__`` and ``-`` is written ``_d``;
* any other character is written ``_x<hex code point>.``.

When the readable form would exceed 128 characters, the id is ``wbx-`` followed by the
SHA-256 of the length-prefixed tuple (64 hex digits); the ``wbx-`` prefix can never start
a readable id (readable ids start with ``wb-``).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

MAX_LEN = 128
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:")


def escape_field(text: str) -> str:
    """Escape one field so that it contains no ``-``.

    >>> escape_field("b-c"), escape_field("my_sess"), escape_field("^GSPC")
    ('b_dc', 'my__sess', '_x5e.GSPC')
    """
    out = []
    for ch in text:
        if ch in _PLAIN:
            out.append(ch)
        elif ch == "_":
            out.append("__")
        elif ch == "-":
            out.append("_d")
        else:
            out.append(f"_x{ord(ch):x}.")
    return "".join(out)


def unescape_field(text: str) -> str:
    """Invert :func:`escape_field`.

    >>> unescape_field(escape_field("a-b_c^d"))
    'a-b_c^d'
    """
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != "_":
            out.append(ch)
            i += 1
            continue
        code = text[i + 1]
        if code == "_":
            out.append("_")
            i += 2
        elif code == "d":
            out.append("-")
            i += 2
        elif code == "x":
            end = text.index(".", i + 2)
            out.append(chr(int(text[i + 2 : end], 16)))
            i = end + 1
        else:
            raise ValueError(f"bad escape {text[i : i + 2]!r} in {text!r}")
    return "".join(out)


def client_order_id(session: str, symbol: str, ts: date | datetime, tag: str = "t") -> str:
    """Idempotency key of the order ``session`` sends for ``symbol`` on the bar of ``ts``.

    >>> client_order_id("demo", "SP500", datetime(2010, 1, 4))
    'wb-demo-SP500-20100104-t'
    >>> client_order_id("a", "b-c", datetime(2010, 1, 4)) != client_order_id(
    ...     "a-b", "c", datetime(2010, 1, 4))
    True

    An intraday bar (a time of day) adds its time, so two bars of one day differ:

    >>> client_order_id("demo", "AAPL", datetime(2026, 11, 30, 14, 31))
    'wb-demo-AAPL-20261130T143100-t'
    """
    day = f"{ts:%Y%m%d}"
    if isinstance(ts, datetime) and ts.time() != datetime.min.time():
        day += f"T{ts:%H%M%S}" + (f".{ts.microsecond:06d}" if ts.microsecond else "")
    readable = "-".join(
        ["wb", *(escape_field(f) for f in (session, symbol)), day, escape_field(tag)]
    )
    if len(readable) <= MAX_LEN:
        return readable
    blob = "".join(f"{len(f)}:{f}" for f in (session, symbol, day, tag)).encode("utf-8")
    return f"wbx-{hashlib.sha256(blob).hexdigest()}"
