"""The pre-trade check of one order against a paper session's book, as the CLI runs it.

The book (positions, cash, equity, peak equity and the bar the session stands at) is read
from the store; prices are each symbol's close at that bar, or the last close when no
session has run. Without any paper session the book is an empty 100,000 account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import pandas as pd
from sqlalchemy.orm import Session

from core.risk.limits import RiskLimits
from core.risk.pretrade import ProposedOrder, RiskDecision, pre_trade_check
from core.risk.state import (
    NO_HISTORY,
    HistoryArrays,
    build_portfolio_state,
    history_arrays,
    with_history,
)
from core.store.live import LiveBarRepository
from core.store.paper import PaperSessionRepository
from core.store.trading import PositionRepository, TradingAccount

EMPTY_ACCOUNT = 100_000.0
"""Cash and equity of the book when no paper session exists."""

Closes = Callable[[str], pd.Series]
"""``closes(symbol)``: the symbol's daily closes (a DatetimeIndex, naive)."""


@dataclass(frozen=True)
class PaperBook:
    """What a paper session holds now."""

    session: str | None
    positions: dict[str, float]
    equity: float
    cash: float
    peak_equity: float
    cursor_ts: datetime | None
    bar: int | None = None
    """The last completed bar (the session's cursor)."""
    equity_at_close: dict[int, float] = field(default_factory=dict)
    """Equity at the close of each completed bar (the day's loss starts at the one before)."""
    stored_closes: dict[str, pd.Series] = field(default_factory=dict)
    """A live (alpaca or simulated) session's closes from the bars it stored, per symbol
    (empty for a replay: its closes are its dataset's)."""


@dataclass(frozen=True)
class OrderCheck:
    """The decision on one order, with the limits version and the numbers it used."""

    decision: RiskDecision
    limits_version: int
    price: float
    equity: float


def paper_book(session: Session, name: str | None = None) -> PaperBook:
    """The book of paper session ``name`` (default: the newest one).

    Raises
    ------
    LookupError
        ``name`` is given and no paper session has it.
    """
    repo = PaperSessionRepository(session)
    row = repo.get(name) if name else repo.latest()
    if name and row is None:
        raise LookupError(
            f"none of the paper sessions is named {name!r}; leave --session out for the newest"
        )
    if row is None:
        return PaperBook(None, {}, EMPTY_ACCOUNT, EMPTY_ACCOUNT, EMPTY_ACCOUNT, None)
    account, positions = None, {}
    if row.account_id is not None:
        account = session.get(TradingAccount, row.account_id)
        held = PositionRepository(session).list(row.account_id, include_flat=True)
        positions = {p.symbol: p.qty for p in held}
    equity = account.equity if account is not None else EMPTY_ACCOUNT
    cash = account.cash if account is not None else EMPTY_ACCOUNT
    closes = {e.bar: e.equity for e in repo.equity(row.id)}
    peak = max(equity, row.peak_equity or equity)
    stored: dict[str, pd.Series] = {}
    if dict(row.config or {}).get("feed", "replay") != "replay":
        frames = LiveBarRepository(session).frames(row.id, row.symbols)
        stored = {sym: f["close"] for sym, f in frames.items() if len(f)}
    return PaperBook(
        row.name, positions, equity, cash, peak, row.cursor_ts, row.cursor, closes, stored
    )


@dataclass(frozen=True)
class BookMarket:
    """What a check reads of the market at the bar a book stands at, whatever the order:
    each symbol's close, the last 250 bar returns, and their derived arrays (computed once,
    so checks of many orders on one book share one covariance)."""

    prices: dict[str, float]
    returns: pd.DataFrame
    history: HistoryArrays


def book_market(book: PaperBook, symbol: str, closes: Closes) -> BookMarket:
    """The market of ``book`` and the order's ``symbol`` at the close of the book's bar.

    The order's symbol and the held ones are priced from the bars a live session stored
    (:attr:`PaperBook.stored_closes`), others by ``closes``.

    Raises
    ------
    LookupError
        The symbols share no bar up to the session's last bar.
    """
    symbols = sorted({symbol, *book.positions})
    series = {s: book.stored_closes[s] if s in book.stored_closes else closes(s) for s in symbols}
    frame = pd.DataFrame(series).dropna()
    if book.cursor_ts is not None:
        frame = frame.loc[: pd.Timestamp(book.cursor_ts).tz_localize(None)]
    if frame.empty:
        raise LookupError(
            f"{symbol} has no close at the bars of paper session {book.session!r} "
            f"(its symbols: {', '.join(sorted(book.stored_closes)) or 'none stored'}); "
            "check an order for one of them, or leave --session out"
        )
    returns = frame.pct_change().dropna().tail(250)
    clean = returns.dropna(how="any")  # as PortfolioState derives its history
    history = NO_HISTORY if returns.empty else history_arrays(clean.to_numpy(), clean.columns)
    prices = {str(k): float(v) for k, v in frame.iloc[-1].items()}
    return BookMarket(prices, returns, history)


def check_in_market(
    book: PaperBook,
    market: BookMarket,
    *,
    symbol: str,
    side: Literal["buy", "sell"],
    qty: float,
    limits: RiskLimits,
    limits_version: int,
    price: float | None = None,
) -> OrderCheck:
    """Check one order against ``book`` in ``market`` (:func:`book_market` of the book and
    the order's symbol); ``price`` (when given) replaces the symbol's close."""
    prices = {**market.prices, **({symbol: price} if price is not None else {})}
    state = build_portfolio_state(
        equity=book.equity,
        cash=book.cash,
        positions=book.positions,
        prices=prices,
        bar=book.bar,
        equity_at_close=book.equity_at_close,
        peak_equity=book.peak_equity,
        returns_history=market.returns,
    )
    order = ProposedOrder(symbol, side, qty)
    decision = pre_trade_check(order, with_history(state, market.history), limits)
    return OrderCheck(decision, limits_version, prices[symbol], book.equity)


def check_order(
    book: PaperBook,
    *,
    symbol: str,
    side: Literal["buy", "sell"],
    qty: float,
    closes: Closes,
    limits: RiskLimits,
    limits_version: int,
    price: float | None = None,
) -> OrderCheck:
    """Check one order against ``book`` at the close of the bar the book stands at
    (:func:`book_market`, then :func:`check_in_market`).

    Raises
    ------
    LookupError
        The symbols share no bar up to the session's last bar.
    """
    return check_in_market(
        book,
        book_market(book, symbol, closes),
        symbol=symbol,
        side=side,
        qty=qty,
        limits=limits,
        limits_version=limits_version,
        price=price,
    )


__all__ = [
    "EMPTY_ACCOUNT",
    "BookMarket",
    "OrderCheck",
    "PaperBook",
    "book_market",
    "check_in_market",
    "check_order",
    "paper_book",
]
