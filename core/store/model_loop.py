"""The model in a paper session's loop: live A/B tests, their path, shadow orders and
promotion requests (tables of migration 0012), over a caller-owned Session.

Only queries live here; the shadow accounting and the test are
:mod:`core.paper.shadow`'s, the promotion policy :mod:`core.registry.promotion`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.store.base import Base, utcnow


class LiveTest(Base):
    """One live SPRT of a session's champion against its shadow challenger."""

    __tablename__ = "model_loop_tests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(Integer, index=True)
    session_name: Mapped[str] = mapped_column(String(64))
    champion: Mapped[str] = mapped_column(String(160))
    champion_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    challenger: Mapped[str] = mapped_column(String(160))
    challenger_version_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="running", index=True)
    decision: Mapped[str] = mapped_column(String(16), default="continue")
    log_lr: Mapped[float | None] = mapped_column(Float, nullable=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    upper: Mapped[float] = mapped_column(Float)
    lower: Mapped[float] = mapped_column(Float)
    delta: Mapped[float] = mapped_column(Float)
    alpha: Mapped[float] = mapped_column(Float)
    beta: Mapped[float] = mapped_column(Float)
    promotion: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(Text, default="")
    last_t: Mapped[int] = mapped_column(Integer, default=-1)
    books: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LiveTestPoint(Base):
    """One bar of a live test: both books' realized returns and the log LR after it."""

    __tablename__ = "model_loop_points"
    __table_args__ = (UniqueConstraint("test_id", "t", name="uq_model_loop_points_test_t"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    test_id: Mapped[int] = mapped_column(Integer, index=True)
    t: Mapped[int] = mapped_column(Integer)
    ts: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(Integer)
    champion_return: Mapped[float] = mapped_column(Float)
    challenger_return: Mapped[float] = mapped_column(Float)
    log_lr: Mapped[float | None] = mapped_column(Float, nullable=True)
    decision: Mapped[str] = mapped_column(String(16))


class ShadowOrder(Base):
    """A would-be order of a shadow book (never sent): decided at bar t's close, filled
    at the next bar's open with the session's fees and slippage."""

    __tablename__ = "shadow_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    test_id: Mapped[int] = mapped_column(Integer, index=True)
    book: Mapped[str] = mapped_column(String(16))
    t: Mapped[int] = mapped_column(Integer)
    ts: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    target: Mapped[float] = mapped_column(Float)
    qty: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    fill_t: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fill_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    fee: Mapped[float | None] = mapped_column(Float, nullable=True)


class PromotionRequest(Base):
    """A promotion the live test asked for: pending until a PM approves or rejects it
    (``approval``), or ``promoted`` at once (``auto``)."""

    __tablename__ = "promotion_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    test_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model_name: Mapped[str] = mapped_column(String(64), index=True)
    version_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    rule: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ModelLoopRepository:
    """Live tests, their points, shadow orders and promotion requests."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def running_test(self, session_id: int, challenger_version_id: int) -> LiveTest | None:
        """The newest test of this session and challenger (running or decided)."""
        return self._s.scalar(
            select(LiveTest)
            .where(
                LiveTest.session_id == session_id,
                LiveTest.challenger_version_id == challenger_version_id,
            )
            .order_by(LiveTest.id.desc())
            .limit(1)
        )

    def add(self, record: Any) -> Any:
        """Stage a row, flushed so its id is known."""
        self._s.add(record)
        self._s.flush()
        return record

    def stage(self, record: Any) -> None:
        """Stage a row (sent with the next flush)."""
        self._s.add(record)

    def running_tests(self) -> list[LiveTest]:
        """Every test still running."""
        return list(self._s.scalars(select(LiveTest).where(LiveTest.state == "running")))

    def tests(self, *, limit: int = 50) -> list[LiveTest]:
        """The newest tests first."""
        return list(self._s.scalars(select(LiveTest).order_by(LiveTest.id.desc()).limit(limit)))

    def test(self, test_id: int) -> LiveTest | None:
        """One test by id."""
        return self._s.get(LiveTest, test_id)

    def points(self, test_id: int) -> list[LiveTestPoint]:
        """A test's path, in bar order."""
        query = select(LiveTestPoint).where(LiveTestPoint.test_id == test_id)
        return list(self._s.scalars(query.order_by(LiveTestPoint.t)))

    def orders(self, test_id: int, *, book: str | None = None) -> list[ShadowOrder]:
        """A test's shadow orders in bar order (one book's when given)."""
        query = select(ShadowOrder).where(ShadowOrder.test_id == test_id)
        if book is not None:
            query = query.where(ShadowOrder.book == book)
        return list(self._s.scalars(query.order_by(ShadowOrder.t, ShadowOrder.id)))

    def unfilled(self, test_id: int, t: int) -> list[ShadowOrder]:
        """Orders decided before bar ``t`` that have not filled yet."""
        query = select(ShadowOrder).where(
            ShadowOrder.test_id == test_id, ShadowOrder.t < t, ShadowOrder.fill_t.is_(None)
        )
        return list(self._s.scalars(query.order_by(ShadowOrder.id)))

    def promotion_requests(
        self, *, status: Sequence[str] | None = None, limit: int = 100
    ) -> list[PromotionRequest]:
        """Promotion requests, newest first (only ``status`` when given)."""
        query = select(PromotionRequest).order_by(PromotionRequest.id.desc()).limit(limit)
        if status is not None:
            query = query.where(PromotionRequest.status.in_(tuple(status)))
        return list(self._s.scalars(query))

    def promotion_request(self, request_id: int) -> PromotionRequest | None:
        """One promotion request by id."""
        return self._s.get(PromotionRequest, request_id)


__all__ = [
    "LiveTest",
    "LiveTestPoint",
    "ModelLoopRepository",
    "PromotionRequest",
    "ShadowOrder",
]
