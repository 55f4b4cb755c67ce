"""The pre-trade check's fast path: what does not change from one order to the next, once.

Each check reads the limits version (``max(version)``) and the book's fingerprint (session
row, account, positions; count, last id and sum of equity snapshots and stored bars). The
limits are kept per version (a change applies to the very next check); the book's snapshot
(closes at its bar, returns, covariance) per (database, session, fingerprint, data version
of each symbol, order symbol), if the fingerprint is unchanged after reading the book (online
prices: never). A miss is :func:`core.risk.book.check_order`; a hit rebuilds its state."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, func, select

from app.operations.risk import RiskCheckRequest
from app.services.predict_online import data_version
from core.data.catalog import load_prices
from core.risk import state as rs
from core.risk.book import OrderCheck, PaperBook, paper_book
from core.risk.book import check_order as check_against_book
from core.risk.limits import RiskLimits
from core.risk.pretrade import ProposedOrder, pre_trade_check
from core.risk.versions import limits_in_force
from core.store.db import session_scope
from core.store.live import LiveBar as _L
from core.store.paper import EquitySnapshot as _E
from core.store.paper import PaperSession as _S
from core.store.risk_limits import RiskLimitVersion
from core.store.trading import TradingAccount as _A
from core.store.trading import TradingPosition as _P

SNAPSHOTS_MAX = 256  # book snapshots kept (the oldest dropped first)

_ROW = select(_S.id, _S.account_id, _S.cursor, _S.cursor_ts, _S.peak_equity, _S.symbols, _S.config)
_NAMED = _ROW.where(_S.name == bindparam("name"))
_LATEST = _ROW.order_by(_S.updated_at.desc()).limit(1)
_VERSION = select(func.max(RiskLimitVersion.version))
_MONEY = select(_A.cash, _A.equity).where(_A.id == bindparam("a"))
_HELD = select(_P.symbol, _P.qty).where(_P.account_id == bindparam("a")).order_by(_P.id)


_COUNTS = select(  # count, last id and sum of the session's equity snapshots and stored bars
    *(select(f).where(t.session_id == bindparam("s")).scalar_subquery()
      for t, v in ((_E, _E.equity), (_L, _L.close))
      for f in (func.count(t.id), func.max(t.id), func.sum(v)))
)  # fmt: skip


@dataclass(frozen=True)
class Snapshot:
    """The book and what a check derives from it before looking at the order."""

    book: PaperBook
    prices: dict[str, float]
    returns: pd.DataFrame
    history: rs.HistoryArrays


_LIMITS: dict[tuple[str, int], RiskLimits] = {}  # by database and version
_SNAPSHOTS: OrderedDict[tuple[Any, ...], Snapshot] = OrderedDict()


def fingerprint(conn: Connection, name: str | None) -> tuple[int, tuple[Any, ...]]:
    """The limits version in force and what the book of session ``name`` (default the
    newest) is made of (``()``: no such session)."""
    version = int(conn.execute(_VERSION).scalar() or 0)
    row = conn.execute(_NAMED, {"name": name}).first() if name else conn.execute(_LATEST).first()
    if row is None:
        return version, ()
    a, s = {"a": row.account_id}, {"s": row.id}
    money = tuple(conn.execute(_MONEY, a).first() or ()) if row.account_id else ()
    held = tuple(map(tuple, conn.execute(_HELD, a).all())) if row.account_id else ()
    counts = tuple(conn.execute(_COUNTS, s).one())
    return version, (*row[:5], repr(row.symbols), repr(row.config), money, held, counts)


def limits(engine: Engine, version: int) -> tuple[int, RiskLimits]:
    """The limits of ``version`` (read once per version and database), or of a newer one
    that landed since: the version read and its limits."""
    if (str(engine.url), version) not in _LIMITS:
        with session_scope(engine) as session:
            version, found = limits_in_force(session)
        _LIMITS[(str(engine.url), version)] = found
    return version, _LIMITS[(str(engine.url), version)]


@lru_cache(maxsize=64)
def _kept(engine: Engine, dataset: str, symbol: str, _data: str | None) -> pd.Series:
    return load_prices(lambda: session_scope(engine), dataset, symbol)["close"]


def _closes(engine: Engine, dataset: str, symbol: str) -> pd.Series:
    """The symbol's closes, kept per data version (online sources: read every time)."""
    data = data_version(dataset, symbol)
    return (_kept if data is not None else _kept.__wrapped__)(engine, dataset, symbol, data)


def _snapshot(book: PaperBook, symbol: str, dataset: str, engine: Engine) -> Snapshot:
    """The closes at the book's bar and their returns, as :func:`check_against_book`
    derives them (after it checked that the symbols share a bar)."""
    stored, read = book.stored_closes, partial(_closes, engine, dataset)
    symbols = sorted({symbol, *book.positions})
    frame = pd.DataFrame({s: stored[s] if s in stored else read(s) for s in symbols}).dropna()
    if book.cursor_ts is not None:
        frame = frame.loc[: pd.Timestamp(book.cursor_ts).tz_localize(None)]
    returns = frame.pct_change().dropna().tail(250)
    clean = returns.dropna(how="any")  # as PortfolioState derives its history
    history = rs.NO_HISTORY if returns.empty else rs.history_arrays(clean.to_numpy(), clean.columns)
    return Snapshot(book, {str(k): float(v) for k, v in frame.iloc[-1].items()}, returns, history)


def check(engine: Engine, r: RiskCheckRequest) -> OrderCheck:
    """:func:`core.risk.book.check_order` of the order ``r`` on the cached limits and book."""
    with engine.connect() as conn:
        version, book_key = fingerprint(conn, r.session)
    version, in_force = limits(engine, version)
    held = {row[0] for row in book_key[-2]} if book_key else set()
    data = tuple(data_version(r.dataset, s) for s in sorted({r.symbol, *held}))
    key = (str(engine.url), r.session, book_key, r.dataset, data, r.symbol)
    snap = _SNAPSHOTS.get(key)
    if snap is None:  # core's check, then the snapshot its next orders start from
        with session_scope(engine) as session:
            book = paper_book(session, r.session)  # LookupError: no session of that name
        done = check_against_book(
            book, symbol=r.symbol, side=r.side, qty=r.qty, limits=in_force,
            closes=partial(_closes, engine, r.dataset), limits_version=version, price=r.price,
        )  # fmt: skip
        snap = _snapshot(book, r.symbol, r.dataset, engine)
        with engine.connect() as conn:
            if fingerprint(conn, r.session) == (version, book_key) and None not in data:
                _SNAPSHOTS[key] = snap  # one dict operation each: atomic under the GIL
                if len(_SNAPSHOTS) > SNAPSHOTS_MAX:
                    _SNAPSHOTS.popitem(last=False)
        return done
    prices, b = {**snap.prices, **({r.symbol: r.price} if r.price is not None else {})}, snap.book
    state = rs.build_portfolio_state(
        equity=b.equity, cash=b.cash, positions=b.positions, prices=prices, bar=b.bar,
        equity_at_close=b.equity_at_close, peak_equity=b.peak_equity, returns_history=snap.returns,
    )  # fmt: skip
    order = ProposedOrder(r.symbol, r.side, r.qty)
    decision = pre_trade_check(order, rs.with_history(state, snap.history), in_force)
    return OrderCheck(decision, version, prices[r.symbol], b.equity)


__all__ = ["SNAPSHOTS_MAX", "Snapshot", "check", "fingerprint", "limits"]
