"""Risk-limit services: the versioned, audited limits in force, and changes to them.

Every change needs the ``risk`` role and a reason, and is stored as a new version with
who, when, the old and the new values. The newest version applies from the next
decision: readers call :func:`current_limits` each cycle, nothing is cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from core.risk import RiskLimits
from core.store.db import session_scope
from core.store.risk_limits import RiskLimitRepository

#: Attempts for a change without ``expected_version`` when concurrent writers take the
#: next version number first (each attempt re-reads the limits in force).
MAX_ATTEMPTS = 32


@dataclass(frozen=True)
class LimitChange:
    """One audited version of the limits."""

    version: int
    limits: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]
    changed_by: str
    role: str
    reason: str
    created_at: datetime


class LimitsConflict(ValueError):
    """Someone else changed the limits after ``loaded``: reload and apply again."""

    def __init__(self, *, loaded: int | None, current: int, by: str, at: datetime) -> None:
        self.loaded, self.current, self.changed_by, self.changed_at = loaded, current, by, at
        since = f"you loaded version {loaded}" if loaded is not None else "concurrent changes"
        super().__init__(
            f"limits changed by {by} at {at:%Y-%m-%d %H:%M:%S} UTC (now version {current}; "
            f"{since}); reload and apply your change again"
        )


def current_limits() -> tuple[int, RiskLimits]:
    """The version number and limits in force (version 0 = built-in defaults)."""
    with session_scope(get_engine()) as session:
        row = RiskLimitRepository(session).latest()
        if row is None:
            return 0, RiskLimits()
        return row.version, RiskLimits.model_validate(row.limits)


class _VersionTaken(Exception):
    """A concurrent writer stored ``version`` first (the column is unique)."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


def _conflict(loaded: int | None) -> LimitsConflict:
    """The conflict with the version in force (who changed the limits last, and when)."""
    with session_scope(get_engine()) as session:
        row = RiskLimitRepository(session).latest()
        assert row is not None  # only called after another writer stored a version
        return LimitsConflict(
            loaded=loaded, current=row.version, by=row.changed_by, at=row.created_at
        )


def _apply_once(
    values: dict[str, Any], reason: str, actor: Actor, expected: int | None
) -> LimitChange:
    with session_scope(get_engine()) as session:
        repo = RiskLimitRepository(session)
        row = repo.latest()
        version = row.version if row else 0
        if expected is not None and expected > version:
            raise ValueError(
                f"expected_version: version {expected} does not exist; the limits in force "
                f"are version {version} (reload them)"
            )
        if expected is not None and expected != version:
            assert row is not None  # a newer version exists
            raise LimitsConflict(
                loaded=expected, current=version, by=row.changed_by, at=row.created_at
            )
        old = RiskLimits.model_validate(row.limits) if row else RiskLimits()
        new = RiskLimits.model_validate({**old.model_dump(), **values})
        changes = {
            k: (getattr(old, k), getattr(new, k))
            for k in RiskLimits.model_fields
            if getattr(old, k) != getattr(new, k)
        }
        if not changes:
            raise ValueError("nothing changed: the new limits equal the ones in force")
        try:
            record = repo.add(
                version=version + 1,
                limits=new.model_dump(mode="json"),
                previous=old.model_dump(mode="json"),
                changed_by=actor.name,
                role="risk",
                reason=reason,
            )
        except IntegrityError as exc:
            raise _VersionTaken(version + 1) from exc
        return LimitChange(
            record.version, record.limits, changes, actor.name, "risk", reason, record.created_at
        )


def set_limits(
    values: dict[str, Any],
    *,
    reason: str,
    actor: Actor = LOCAL,
    expected_version: int | None = None,
) -> LimitChange:
    """Validate and store new limits as the next version.

    Parameters
    ----------
    values
        Fields to change; others keep their current values.
    reason
        Why (required, shown in the history).
    expected_version
        Optimistic lock: the version the change was made against. If another change
        landed since, nothing is stored and :class:`LimitsConflict` says who changed the
        limits and when. Without it the change applies on top of whatever is in force,
        retried (re-read and re-validated) when a concurrent writer wins the race.

    Raises
    ------
    LimitsConflict
        Another change landed first (a ``ValueError``, as are bad values and a missing reason).
    """
    require(actor, "risk", "changing risk limits")
    if not reason or not reason.strip():
        raise ValueError("reason: say why the limits change (kept in the audit history)")
    for _ in range(MAX_ATTEMPTS):
        try:
            return _apply_once(values, reason.strip(), actor, expected_version)
        except _VersionTaken as taken:
            conflict = _conflict(expected_version)
            if conflict.current < taken.version:  # not a version race: a real fault
                raise taken.__cause__ from None  # type: ignore[misc]
            if expected_version is not None:
                raise conflict from None
    raise _conflict(None)


def history() -> list[LimitChange]:
    """Every version, newest first, with the fields it changed."""
    with session_scope(get_engine()) as session:
        out = []
        for r in RiskLimitRepository(session).history():
            previous = r.previous or RiskLimits().model_dump(mode="json")
            changes = {k: (previous.get(k), v) for k, v in r.limits.items() if previous.get(k) != v}
            out.append(
                LimitChange(
                    r.version, r.limits, changes, r.changed_by, r.role, r.reason, r.created_at
                )
            )
        return out


def check_order(
    *,
    symbol: str,
    qty: float,
    side: str,
    dataset: str = "ohlcv_daily",
    session: str | None = None,
    price: float | None = None,
) -> dict[str, Any]:
    """Pre-trade check of one order against a paper session's book (or an empty 100k
    account), at the symbol's latest embedded close unless ``price`` is given."""
    import pandas as pd

    from app.services import paper
    from app.services.data import load_prices
    from core.risk import PortfolioState, ProposedOrder, pre_trade_check

    if side not in ("buy", "sell"):
        raise ValueError(f"side must be buy or sell, got {side!r}")
    if not (math.isfinite(qty) and qty > 0):
        raise ValueError(f"qty must be positive and finite (a number of shares), got {qty}")
    if price is not None and not (math.isfinite(price) and price > 0):
        raise ValueError(f"price must be positive and finite, got {price}")
    view = paper.monitor(session)
    if session and view.session is None:
        raise LookupError(f"no paper session named {session!r}; leave it out for the newest")
    positions = (
        {r.symbol: r.qty for r in view.positions.itertuples()} if len(view.positions) else {}
    )
    symbols = sorted({symbol, *positions})
    closes = pd.DataFrame({s: load_prices(dataset, s)["close"] for s in symbols}).dropna()
    if view.session and view.session.get("cursor_ts") is not None:
        closes = closes.loc[: pd.Timestamp(view.session["cursor_ts"]).tz_localize(None)]
    prices = closes.iloc[-1].to_dict()
    if price is not None:
        prices[symbol] = price
    equity = view.account["equity"] if view.account else 100_000.0
    cash = view.account["cash"] if view.account else 100_000.0
    state = PortfolioState(
        equity=equity,
        cash=cash,
        positions=positions,
        prices=prices,
        start_of_day_equity=equity,
        peak_equity=max(equity, (view.session or {}).get("peak_equity", equity)),
        returns_history=closes.pct_change().dropna().tail(250),
    )
    version, limits = current_limits()
    decision = pre_trade_check(ProposedOrder(symbol, side, qty), state, limits)
    return {
        **decision.to_dict(),
        "limits_version": version,
        "price": prices[symbol],
        "equity": equity,
    }
