"""A shadow challenger and the live A/B test that decides it (a :class:`BarObserver`).

Each bar, :class:`ShadowChallenger` keeps two shadow books on the session's bars, with
the same accounting for both, and never sends an order anywhere:

* ``challenger``: the challenger version's :class:`~core.pipeline.ModelPipeline`
  decides a target at the close (sized like the live pipeline, no risk limits);
* ``champion``: the live pipeline's own targets (``event.decisions[s].target_position``,
  after the limits' bounds).

A book's order decided at bar t's close fills at bar t+1's open (the workbench execution
convention) at ``open * (1 +/- slippage)`` plus ``fees`` of the traded value; fractional
shares. A book's realized return of bar t is its equity change from close t-1 to close t.
Wald's SPRT (:class:`core.abtest.sequential.SPRT`, the primary sequential test) takes
``challenger - champion`` each bar; on ``accept_h1`` the session's ``promotion`` policy
applies (:func:`core.registry.promotion.request_promotion`). Everything (test state with
the books, the path, the shadow orders) is written in the bar's transaction, so a bar that
rolls back leaves no trace and a restart continues from the stored state.

Settings read from the session's config: ``challenger`` (required), ``model``,
``promotion`` (``auto`` | ``approval``), ``fees``, ``slippage``, ``initial_cash``,
``sprt_delta_bps`` (the per-bar edge of H1, default 1 bp), ``sprt_alpha``, ``sprt_beta``,
``sprt_burn_in``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.abtest.sequential import SPRT
from core.paper.model_refs import load_version, model_pipeline, parse_model_ref, resolve_model_ref
from core.paper.observers import BarEvent
from core.pipeline import ModelPipeline, SymbolBook
from core.store.base import utcnow
from core.store.model_loop import LiveTest, LiveTestPoint, ModelLoopRepository, ShadowOrder

BOOKS = ("champion", "challenger")
_NO_TRADE = 1e-9


def sprt_rule(sprt: SPRT) -> str:
    """The test's rule in one sentence."""
    return (
        f"Wald SPRT on per-bar return differences (challenger - champion): H1 mean "
        f"{sprt.delta * 1e4:g} bp/bar vs H0 0, alpha {sprt.alpha:g}, beta {sprt.beta:g}; "
        f"accept H1 when log LR >= {sprt.upper:.3f}, H0 when <= {sprt.lower:.3f} "
        f"(plug-in sigma after {sprt.burn_in} bars)"
    )


def decided_rule(sprt: SPRT) -> str:
    """Which boundary decided, with the numbers."""
    if sprt.decision == "accept_h1":
        return (
            f"log LR {sprt.log_lr:.3f} >= {sprt.upper:.3f} after {sprt.n} bars: accept H1, "
            "the challenger earns more per bar than the champion"
        )
    if sprt.decision == "accept_h0":
        return (
            f"log LR {sprt.log_lr:.3f} <= {sprt.lower:.3f} after {sprt.n} bars: accept H0, "
            "no edge of the challenger"
        )
    return f"log LR {sprt.log_lr:.3f} after {sprt.n} bars: continue"


def _new_book(cash: float) -> dict[str, Any]:
    return {"cash": cash, "shares": {}, "equity": None}


class ShadowChallenger:
    """Observer running ``config["challenger"]`` in shadow (see the module docstring)."""

    def __init__(self, config: Mapping[str, Any], *, engine: Engine) -> None:
        self.config = dict(config)
        self.engine = engine
        self.ref = parse_model_ref(str(config["challenger"]))
        self.row, self.model = load_version(engine, self.ref)
        self.champion = str(config.get("model") or "ensemble")
        self.promotion = str(config.get("promotion", "approval"))
        if self.promotion not in ("auto", "approval"):
            raise ValueError(f"promotion must be 'auto' or 'approval', got {self.promotion!r}")
        self.fees = float(config.get("fees", 0.0005))
        self.slippage = float(config.get("slippage", 0.0005))
        self.cash = float(config.get("initial_cash", 100_000.0))
        self._sprt_args: dict[str, Any] = {
            "delta": float(config.get("sprt_delta_bps", 1.0)) / 1e4,
            "alpha": float(config.get("sprt_alpha", 0.05)),
            "beta": float(config.get("sprt_beta", 0.2)),
            "burn_in": int(config.get("sprt_burn_in", 20)),
        }
        SPRT(**self._sprt_args)  # bad settings fail now, with the test's own message
        self.pipes: dict[str, ModelPipeline] = {}
        self.seen: dict[str, int] = {}

    # ----- BarObserver -------------------------------------------------------------------
    def rebuild(self, upto: int, frames: Mapping[str, pd.DataFrame]) -> None:
        """Challenger pipelines warmed up on bars ``0 .. upto - 1``; the books and the
        test are read from the database at the next bar."""
        for symbol, frame in frames.items():
            self._warm(symbol, frame, upto)

    def on_bar(self, event: BarEvent, s: Session) -> None:
        """Fill, mark, test, then decide both books' would-be orders at this close."""
        repo = ModelLoopRepository(s)
        test = self._test(repo, s, event)
        if test.last_t >= event.t:
            return  # this bar is already in the stored state
        books = {b: dict(test.books.get(b) or _new_book(self.cash)) for b in BOOKS}
        bars = {sym: self._bar_of(frame) for sym, frame in event.frames.items()}
        self._fill(repo, test, books, bars, event.t)
        equity = {b: self._equity(books[b], bars) for b in BOOKS}
        returns = {
            b: (equity[b] / books[b]["equity"] - 1.0) if books[b]["equity"] else None for b in BOOKS
        }
        sprt = SPRT(**self._sprt_args)
        if test.books.get("sprt"):
            sprt.restore(test.books["sprt"])
        was = sprt.decision
        if returns["champion"] is not None and returns["challenger"] is not None:
            diff = float(returns["challenger"]) - float(returns["champion"])
            if was == "continue":
                sprt.update(diff)
            repo.stage(
                LiveTestPoint(
                    test_id=test.id,
                    t=event.t,
                    ts=str(event.ts),
                    n=sprt.n,
                    champion_return=float(returns["champion"]),
                    challenger_return=float(returns["challenger"]),
                    log_lr=sprt.log_lr if math.isfinite(sprt.log_lr) else None,
                    decision=sprt.decision,
                )
            )
        for b in BOOKS:
            books[b]["equity"] = equity[b]
        self._decide(repo, test, books, event, bars, equity)
        test.books = {**books, "sprt": sprt.state()}
        test.last_t = event.t
        test.n = sprt.n
        test.log_lr = sprt.log_lr if math.isfinite(sprt.log_lr) else None
        test.decision = sprt.decision
        if was == "continue" and sprt.decision != "continue":
            self._decided(s, test, sprt)

    # ----- pieces ------------------------------------------------------------------------
    def _warm(self, symbol: str, frame: pd.DataFrame, upto: int) -> ModelPipeline:
        pipe = self.pipes.get(symbol)
        if pipe is None:
            pipe = model_pipeline(frame, self.config, self.row, self.model, symbol=symbol)
            self.pipes[symbol] = pipe
        pipe.warm_up(frame.iloc[:upto])
        self.seen[symbol] = upto
        return pipe

    def _test(self, repo: ModelLoopRepository, s: Session, event: BarEvent) -> LiveTest:
        test = repo.running_test(event.session_id, self.row.id)
        if test is not None:
            return test
        champion_id = None
        if self.champion != "ensemble":
            champion_id = resolve_model_ref(s, self.champion).id
        sprt = SPRT(**self._sprt_args)
        record = LiveTest(
            session_id=event.session_id,
            session_name=event.session_name,
            champion=self.champion,
            champion_version_id=champion_id,
            challenger=f"{self.row.name}:{self.row.version}",
            challenger_version_id=self.row.id,
            state="running",
            decision="continue",
            n=0,
            upper=sprt.upper,
            lower=sprt.lower,
            delta=sprt.delta,
            alpha=sprt.alpha,
            beta=sprt.beta,
            promotion=self.promotion,
            rule=sprt_rule(sprt),
            last_t=-1,
            books={},
        )
        return repo.add(record)  # type: ignore[no-any-return]

    @staticmethod
    def _bar_of(frame: pd.DataFrame) -> dict[str, Any]:
        last = frame.iloc[-1]
        bar = {k: float(last[k]) for k in ("open", "high", "low", "close", "volume") if k in last}
        bar["ts"] = frame.index[-1]
        return bar

    def _fill(
        self,
        repo: ModelLoopRepository,
        test: LiveTest,
        books: dict[str, dict[str, Any]],
        bars: Mapping[str, Mapping[str, Any]],
        t: int,
    ) -> None:
        for order in repo.unfilled(test.id, t):
            bar = bars.get(order.symbol)
            if bar is None:
                continue
            open_ = bar.get("open", bar["close"])
            price = open_ * (1.0 + math.copysign(self.slippage, order.qty))
            fee = self.fees * abs(order.qty) * price
            book = books[order.book]
            shares = dict(book["shares"])
            shares[order.symbol] = shares.get(order.symbol, 0.0) + order.qty
            book["shares"] = shares
            book["cash"] = book["cash"] - order.qty * price - fee
            order.fill_t, order.fill_price, order.fee = t, price, fee

    @staticmethod
    def _equity(book: Mapping[str, Any], bars: Mapping[str, Mapping[str, Any]]) -> float:
        held = sum(q * bars[sym]["close"] for sym, q in book["shares"].items() if sym in bars)
        return float(book["cash"] + held)

    def _decide(
        self,
        repo: ModelLoopRepository,
        test: LiveTest,
        books: dict[str, dict[str, Any]],
        event: BarEvent,
        bars: Mapping[str, Mapping[str, Any]],
        equity: Mapping[str, float],
    ) -> None:
        for symbol, frame in event.frames.items():
            bar = dict(bars[symbol], symbol=symbol)
            close = float(bar["close"])
            if self.seen.get(symbol) != event.t:
                self._warm(symbol, frame, event.t)
            shares = {b: float(books[b]["shares"].get(symbol, 0.0)) for b in BOOKS}
            decision = self.pipes[symbol].step(
                bar, SymbolBook(equity=equity["challenger"], shares=shares["challenger"])
            )
            self.seen[symbol] = event.t + 1
            live = event.decisions.get(symbol)
            targets = {
                "challenger": float(decision.target_position),
                "champion": float(live.target_position) if live is not None else 0.0,
            }
            for b in BOOKS:
                qty = targets[b] * equity[b] / close - shares[b] if equity[b] > 0 else 0.0
                if abs(qty) * close <= _NO_TRADE * max(equity[b], 1.0):
                    continue
                repo.stage(
                    ShadowOrder(
                        test_id=test.id,
                        book=b,
                        t=event.t,
                        ts=str(event.ts),
                        symbol=symbol,
                        target=targets[b],
                        qty=qty,
                        price=close,
                    )
                )

    def _decided(self, s: Session, test: LiveTest, sprt: SPRT) -> None:
        from core.registry.promotion import request_promotion

        test.state = "decided"
        test.decided_at = utcnow()
        rule = f"live test #{test.id} ({test.session_name}): {decided_rule(sprt)}"
        test.rule = f"{sprt_rule(sprt)}. Decided: {decided_rule(sprt)}"
        if sprt.decision == "accept_h1":
            request_promotion(
                s,
                version_id=test.challenger_version_id,
                rule=rule,
                policy=self.promotion,
                test_id=test.id,
            )


__all__ = ["BOOKS", "ShadowChallenger", "decided_rule", "sprt_rule"]
