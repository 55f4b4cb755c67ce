"""The pre-trade check's fast path: what does not change from one order to the next, once.

Each check reads the limits version (``max(version)``) and the book's fingerprint (session
row, account, positions; count, last id and sum of equity snapshots and stored bars). Kept:
the limits per version (a change applies to the very next check), the book's snapshot (its
closes, returns, covariance) per (database, session, fingerprint, each symbol's data version,
order symbol): :func:`core.risk.book.book_market`, then :func:`~core.risk.book.check_in_market`."""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache, partial
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, func, select

from app.operations.risk import RiskCheckRequest
from app.services.db import get_engine
from core.config import get_settings
from core.data.catalog import UPLOADS, load_prices
from core.data.listing import EMBEDDED_FILES
from core.risk import book as rb
from core.risk.limits import RiskLimits
from core.risk.versions import limits_in_force
from core.store import live, paper, risk_limits, trading
from core.store.db import session_scope

SNAPSHOTS_MAX = 256  # book snapshots kept (the oldest dropped first)

_S, _E, _L = paper.PaperSession, paper.EquitySnapshot, live.LiveBar
_A, _P = trading.TradingAccount, trading.TradingPosition
_SUMS = (  # the account's money; count, last id and sum of equity snapshots and stored bars
    *(select(c).where(_A.id == _S.account_id).scalar_subquery() for c in (_A.cash, _A.equity)),
    *(select(f).where(t.session_id == _S.id).scalar_subquery()
      for t, v in ((_E, _E.equity), (_L, _L.close))
      for f in (func.count(t.id), func.max(t.id), func.sum(v))),
)  # fmt: skip
_ROW = select(_S.id, _S.account_id, _S.cursor, _S.cursor_ts, _S.peak_equity, *_SUMS, _S.symbols)
_NAMED = _ROW.add_columns(_S.config).where(_S.name == bindparam("name"))
_LATEST = _ROW.add_columns(_S.config).order_by(_S.updated_at.desc()).limit(1)
_VERSION = select(func.max(risk_limits.RiskLimitVersion.version))
_HELD = select(_P.symbol, _P.qty).where(_P.account_id == bindparam("a")).order_by(_P.id)


class Snapshot(NamedTuple):  # the book and what a check derives from it, not the order
    book: rb.PaperBook
    market: rb.BookMarket


_LIMITS: dict[tuple[str, int], RiskLimits] = {}  # by database and version
_SNAPSHOTS: OrderedDict[tuple[Any, ...], Snapshot] = OrderedDict()


def fingerprint(conn: Connection, name: str | None) -> tuple[int, tuple[Any, ...]]:
    """The limits version and what session ``name``'s book (default the newest) is made of."""
    version = int(conn.execute(_VERSION).scalar() or 0)
    row = conn.execute(_NAMED, {"name": name}).first() if name else conn.execute(_LATEST).first()
    if row is None:  # no such session
        return version, ()
    held = tuple(map(tuple, conn.execute(_HELD, {"a": row.account_id}).all()))
    return version, (*row[:-2], repr(row.symbols), repr(row.config), held)


def limits(engine: Engine, version: int) -> tuple[int, RiskLimits]:
    """``version`` (or a newer one landed since) and its limits, read once per database."""
    if (str(engine.url), version) not in _LIMITS:
        with session_scope(engine) as session:
            version, found = limits_in_force(session)
        _LIMITS[(str(engine.url), version)] = found
    return version, _LIMITS[(str(engine.url), version)]


def data_version(dataset: str, symbol: str) -> str | None:
    """What changes with a symbol's bars (None: online, or no such import; never cached)."""
    if (file := EMBEDDED_FILES.get(dataset, "")) is None:
        return "generated"
    if file:
        stat = (get_settings().data_dir / file).stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    if dataset != UPLOADS:
        return None
    from core.store.repositories import DatasetRepository  # the catalog's tables: imports only

    with session_scope(get_engine()) as session:
        record = DatasetRepository(session).get(symbol)
    return None if record is None else record.file_sha256


@lru_cache(maxsize=64)
def _kept(engine: Engine, dataset: str, symbol: str, _data: str | None) -> pd.Series:
    return load_prices(lambda: session_scope(engine), dataset, symbol)["close"]


def _closes(engine: Engine, dataset: str, symbol: str) -> pd.Series:  # kept per data version
    data = data_version(dataset, symbol)
    return (_kept if data is not None else _kept.__wrapped__)(engine, dataset, symbol, data)


def check(engine: Engine, r: RiskCheckRequest) -> rb.OrderCheck:
    """:func:`core.risk.book.check_order` of the order ``r`` on the cached limits and book."""
    with engine.connect() as conn:
        version, book_key = fingerprint(conn, r.session)
    version, in_force = limits(engine, version)
    held = {row[0] for row in book_key[-1]} if book_key else set()
    data = tuple(data_version(r.dataset, s) for s in sorted({r.symbol, *held}))
    key = (str(engine.url), r.session, book_key, r.dataset, data, r.symbol)
    snap = _SNAPSHOTS.get(key)
    if snap is None:  # core's check; the snapshot kept if the book did not change meanwhile
        with session_scope(engine) as session:
            book = rb.paper_book(session, r.session)  # LookupError: no session of that name
        snap = Snapshot(book, rb.book_market(book, r.symbol, partial(_closes, engine, r.dataset)))
        with engine.connect() as conn:
            if fingerprint(conn, r.session) == (version, book_key) and None not in data:
                _SNAPSHOTS[key] = snap  # one dict operation each: atomic under the GIL
                if len(_SNAPSHOTS) > SNAPSHOTS_MAX:
                    _SNAPSHOTS.popitem(last=False)
    return rb.check_in_market(
        snap.book, snap.market, symbol=r.symbol, side=r.side, qty=r.qty, limits=in_force,
        limits_version=version, price=r.price,
    )  # fmt: skip


__all__ = ["SNAPSHOTS_MAX", "Snapshot", "check", "data_version", "fingerprint", "limits"]
