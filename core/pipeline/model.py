"""A decision pipeline driven by a fitted classifier (a registered model version).

Per bar, :meth:`ModelPipeline.step`:

1. absorbs the bar into :class:`~core.pipeline.online_features.OnlineFeatures` and reads
   the model's features at this bar (bars ``<= t`` only: no look-ahead);
2. scores them with :class:`~core.ml.inference.OneBarPredictor`: ``p`` = probability of
   an up move (NaN while any feature is still warming up: flat);
3. maps ``p`` to a signal in [-1, 1] with :func:`core.ml.signal_positions`
   (``threshold`` 0.5 and shorts allowed: ``2 p - 1``);
4. sizes it like :class:`~core.pipeline.DecisionPipeline`: ``signal * vol_target /
   realized vol`` (the same EW volatility), capped at ``max_position``; the regime model
   (when given) labels the bar and, with ``confidence_scaling``, scales the target;
5. clips to the book's bounds, sizes the order and asks the risk hook
   (:func:`~core.pipeline.pipeline.place_order`, shared with the ensemble).

The :class:`~core.pipeline.Decision` carries ``probability``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.pipeline.online_features import OnlineFeatures
from core.pipeline.pipeline import (
    Decision,
    RiskHook,
    SizingSpec,
    SymbolBook,
    _target,
    _vol_scale,
    _VolState,
    place_order,
)

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from core.regime import FilteredRegimeModel


def model_signal(p: float, *, threshold: float = 0.5, allow_short: bool = True) -> float:
    """The position in [-1, 1] of an up-move probability (NaN: flat).

    >>> model_signal(0.75), model_signal(0.25), model_signal(float("nan"))
    (0.5, -0.5, 0.0)
    """
    from core.ml.evaluate import signal_positions

    if not math.isfinite(p):
        return 0.0
    return float(signal_positions(np.array([p]), threshold, allow_short=allow_short)[0])


class ModelPipeline:
    """Per-symbol pipeline whose signal is a fitted classifier's probability.

    Parameters
    ----------
    model : Pipeline
        Fitted binary classifier with feature names (the registry's ``load_model``).
    label : str
        The agent's name in decisions (e.g. ``"model:alpha v3"``).
    sizing : SizingSpec, optional
        Default: vol target 15 %, no regime confidence scaling.
    regime_model : FilteredRegimeModel, optional
        Labels each bar's regime (kept as a reset copy).
    risk_hook : RiskHook, optional
    threshold, allow_short : float, bool
        Of :func:`model_signal`.
    symbol : str
    """

    def __init__(
        self,
        *,
        model: Pipeline,
        label: str = "model",
        sizing: SizingSpec | None = None,
        regime_model: FilteredRegimeModel | None = None,
        risk_hook: RiskHook | None = None,
        threshold: float = 0.5,
        allow_short: bool = True,
        symbol: str = "",
    ) -> None:
        from core.ml.inference import OneBarPredictor

        self.model = model
        self.predictor = OneBarPredictor(model)
        self.features = self.predictor.features
        self.label = label
        self.sizing = sizing or SizingSpec(confidence_scaling=False)
        self.regime_model = regime_model.fresh() if regime_model is not None else None
        self.risk_hook = risk_hook
        self.threshold = float(threshold)
        self.allow_short = bool(allow_short)
        self.symbol = symbol
        self.names = (label,)
        self.reset()

    def reset(self) -> None:
        """Forget all bars."""
        self.online = OnlineFeatures(self.features, periods_per_year=self.sizing.periods_per_year)
        self._vol = _VolState(self.sizing.vol_halflife)
        if self.regime_model is not None:
            self.regime_model.reset()

    def fresh(self, symbol: str | None = None) -> ModelPipeline:
        """A new pipeline with the same model and settings and no history."""
        return ModelPipeline(
            model=self.model,
            label=self.label,
            sizing=self.sizing,
            regime_model=self.regime_model,
            risk_hook=self.risk_hook,
            threshold=self.threshold,
            allow_short=self.allow_short,
            symbol=self.symbol if symbol is None else symbol,
        )

    def _absorb(self, bar: Mapping[str, Any]) -> tuple[float, np.ndarray | None]:
        close = float(bar["close"])
        open_ = bar.get("open")
        self.online.absorb(
            float(open_) if open_ is not None else math.nan,
            float(bar.get("high", close)),
            float(bar.get("low", close)),
            close,
            float(bar.get("volume", math.nan)),
        )
        self._vol.update(close)
        probs = (
            self.regime_model.update({"close": close}) if self.regime_model is not None else None
        )
        return close, probs

    def probability(self) -> float:
        """The model's up-move probability at the latest bar (NaN during warm-up)."""
        row = self.online.values()
        if not np.isfinite(row).all():
            return math.nan
        return float(self.predictor(row))

    def step(self, bar: Mapping[str, Any], state: SymbolBook) -> Decision:
        """Decide at the close of ``bar`` (keys ``ts, open, high, low, close, volume``)."""
        t0 = time.perf_counter_ns()
        close, probs = self._absorb(bar)
        p = self.probability()
        signal = model_signal(p, threshold=self.threshold, allow_short=self.allow_short)
        confidence = float(probs.max()) if probs is not None else 1.0
        target = _target(
            signal, _vol_scale(self._vol.var, self._vol.n, self.sizing), confidence, self.sizing
        )
        symbol = str(bar.get("symbol", self.symbol))
        order = place_order(target, state, close, symbol, bar.get("ts"), self.risk_hook)
        if probs is not None:
            from core.regime import LABELS

            regime = LABELS[int(np.argmax(probs))]
            regime_probs = dict(zip(LABELS, probs.tolist(), strict=True))
        else:
            regime, regime_probs = "", {}
        return Decision(
            ts=bar.get("ts"),
            symbol=symbol,
            regime=regime,
            regime_probs=regime_probs,
            weights={self.label: 1.0},
            agent_positions={self.label: signal},
            signal=signal,
            target_position=order.target,
            order_qty=order.qty,
            approved=order.approved,
            approved_qty=order.approved_qty,
            risk_reason=order.reason,
            explanation=(
                f"{self.label}: P(up) {p:.3f} -> signal {signal:+.3f}"
                if math.isfinite(p)
                else f"{self.label}: features warming up ({self.online.n} bars), flat"
            ),
            latency_us=(time.perf_counter_ns() - t0) / 1e3,
            sized_by=order.sized_by,
            probability=p,
        )

    def warm_up(self, prices: pd.DataFrame) -> None:
        """Reset, then absorb ``prices`` (features, volatility, regime; no scoring)."""
        self.reset()
        cols = [c for c in ("open", "high", "low", "close", "volume") if c in prices.columns]
        frame = prices[cols]
        for row in frame.itertuples(index=False, name=None):
            self._absorb(dict(zip(cols, row, strict=True)))


def model_targets(
    prices: pd.DataFrame, pipeline: ModelPipeline, *, equity: float = 1.0
) -> pd.DataFrame:
    """Step a fresh copy of ``pipeline`` over ``prices`` with a flat book of ``equity``
    (no fills): the probability, signal and target of every bar."""
    pipe = pipeline.fresh()
    rows: list[dict[str, Any]] = []
    book = SymbolBook(equity=equity)
    cols: Sequence[str] = [
        c for c in ("open", "high", "low", "close", "volume") if c in prices.columns
    ]
    for ts, row in zip(prices.index, prices[list(cols)].itertuples(index=False), strict=True):
        bar = dict(zip(cols, row, strict=True))
        bar["ts"] = ts
        d = pipe.step(bar, book)
        rows.append({"probability": d.probability, "signal": d.signal, "target": d.target_position})
    return pd.DataFrame(rows, index=prices.index)


__all__ = ["ModelPipeline", "model_signal", "model_targets"]
