"""The bars a live (or simulated-live) paper session used, so a restart sees the same calendar.

Every bar a session with a live feed uses (its warm-up history and every live bar) is a
row here, unique per (session, ts, symbol): a restarted worker rebuilds the identical
calendar from these rows, resumes after the session's cursor and fills the gap from the
feed's history. Repositories take a caller-owned Session and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.store.base import Base

if TYPE_CHECKING:  # pandas loads with the first bar read or written, not with the tables
    import pandas as pd

COLUMNS = ("open", "high", "low", "close", "volume")


class LiveBar(Base):
    """One symbol's closed bar as a live session used it (see the module docstring)."""

    __tablename__ = "live_bars"
    __table_args__ = (
        UniqueConstraint("session_id", "ts", "symbol", name="uq_live_bars_session_ts_symbol"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("paper_sessions.id"), index=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    symbol: Mapped[str] = mapped_column(String(32))
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float, default=0.0)
    warmup: Mapped[bool] = mapped_column(Boolean, default=False)
    filled: Mapped[bool] = mapped_column(Boolean, default=False)
    """The bar came from a gap fill or was carried forward (no trade in the interval)."""


def bar_rows(
    session_id: int,
    ts: pd.Timestamp,
    bars: Mapping[str, Mapping[str, float]],
    *,
    warmup: bool = False,
    filled: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The rows of one bar set (for :meth:`LiveBarRepository.add_rows`)."""
    import pandas as pd

    when = pd.Timestamp(ts).to_pydatetime()
    return [
        {
            "session_id": session_id,
            "ts": when,
            "symbol": symbol,
            **{k: float(bar.get(k, 0.0) if k == "volume" else bar[k]) for k in COLUMNS},
            "warmup": warmup,
            "filled": symbol in filled,
        }
        for symbol, bar in bars.items()
    ]


class LiveBarRepository:
    """The stored bars of live sessions over a caller-owned Session."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        """Insert rows (:func:`bar_rows`) in one executemany INSERT."""
        if rows:
            self._s.execute(insert(LiveBar), rows)

    def add_frames(self, session_id: int, frames: Mapping[str, pd.DataFrame]) -> int:
        """Store whole frames as warm-up bars; returns the rows written."""
        import pandas as pd

        rows: list[dict[str, Any]] = []
        for symbol, frame in frames.items():
            values = frame.reindex(columns=list(COLUMNS)).fillna({"volume": 0.0})
            for ts, row in zip(values.index, values.itertuples(index=False), strict=True):
                rows.append(
                    {
                        "session_id": session_id,
                        "ts": pd.Timestamp(ts).to_pydatetime(),
                        "symbol": symbol,
                        **{k: float(v) for k, v in zip(COLUMNS, row, strict=True)},
                        "warmup": True,
                        "filled": False,
                    }
                )
        self.add_rows(rows)
        return len(rows)

    def frames(self, session_id: int, symbols: Sequence[str]) -> dict[str, pd.DataFrame]:
        """Each symbol's stored bars in time order (empty frames when none are stored),
        canonical frames (index named ``date``)."""
        import pandas as pd

        rows = self._s.execute(
            select(LiveBar.symbol, LiveBar.ts, *(getattr(LiveBar, k) for k in COLUMNS))
            .where(LiveBar.session_id == session_id)
            .order_by(LiveBar.ts, LiveBar.symbol)
        ).all()
        table = pd.DataFrame(rows, columns=["symbol", "date", *COLUMNS])
        out: dict[str, pd.DataFrame] = {}
        for symbol in symbols:
            part = table[table["symbol"] == symbol].drop(columns="symbol").set_index("date")
            part.index = pd.DatetimeIndex(part.index, name="date").as_unit("ns")
            out[symbol] = part.astype("float64")
        return out

    def count(self, session_id: int) -> int:
        """How many bars (symbol rows) the session stored."""
        query = select(func.count()).select_from(LiveBar).where(LiveBar.session_id == session_id)
        return int(self._s.scalar(query) or 0)

    def delete_session(self, session_id: int) -> None:
        """Forget a session's bars."""
        self._s.execute(delete(LiveBar).where(LiveBar.session_id == session_id))


__all__ = ["COLUMNS", "LiveBar", "LiveBarRepository", "bar_rows"]
