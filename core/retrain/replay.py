"""What a retraining policy would have done over history, with a fast rule-based model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.backtest.spec import BacktestSpec
from core.ensemble import bar_legs, position_returns
from core.retrain._kinds import ReplayModel
from core.retrain.ml_factory import ml_signal_factory
from core.retrain.policy import (
    CompareFn,
    ModelHandle,
    RetrainController,
    RetrainDecision,
    RetrainPolicy,
)
from core.strategies import run_strategy, validate_params
from core.sweep import sweep_ma_crossover

Progress = Callable[[float, str], None]
"""``progress(fraction, message)``: fraction in [0, 1], message for the user."""

CheckCancel = Callable[[], None]
"""Called between chunks of bars; it raises to stop the replay (e.g. ``CancelToken.check``)."""

PROGRESS_BARS = 250
"""Bars between two progress reports (and cancellation checks) of a replay."""


@dataclass(frozen=True, kw_only=True)
class RuleModel:
    """A trained rule strategy: registered name and parameters."""

    strategy: str
    params: dict[str, object]

    def positions(self, prices: pd.DataFrame) -> pd.Series:
        """Causal target positions on ``prices``."""
        return run_strategy(self.strategy, prices, self.params)


ModelFactory = Callable[[pd.DataFrame], RuleModel]


def ma_crossover_factory(
    fast: Sequence[int] = (5, 10, 20, 50),
    slow: Sequence[int] = (30, 50, 100, 200),
    *,
    spec: BacktestSpec | None = None,
    allow_short: bool = False,
) -> ModelFactory:
    """A trainable MA-crossover: re-tunes ``(fast, slow)`` by Sharpe with a sweep."""

    def _train(prices_train: pd.DataFrame) -> RuleModel:
        result = sweep_ma_crossover(prices_train, fast, slow, spec, allow_short=allow_short)
        params = validate_params("ma_crossover", result.best_params("sharpe")).model_dump()
        return RuleModel(strategy="ma_crossover", params=params)

    return _train


def model_factory(kind: ReplayModel, *, spec: BacktestSpec | None = None) -> ModelFactory:
    """The trainable model of a replay: :func:`ma_crossover_factory` (re-tuned with the
    costs of ``spec``) or :func:`core.retrain.ml_signal_factory` for a classifier."""
    if kind == "ma_crossover":
        return ma_crossover_factory(spec=spec)
    return ml_signal_factory(kind)  # type: ignore[return-value]  # same interface


def replay_model_name(dataset: str, symbol: str, kind: ReplayModel = "ma_crossover") -> str:
    """The name under which a replay's decisions are recorded.

    >>> replay_model_name("ohlcv_daily", "SP500")
    'replay:ohlcv_daily/SP500'
    >>> replay_model_name("ohlcv_daily", "SP500", "logistic")
    'replay:logistic:ohlcv_daily/SP500'
    """
    prefix = "replay:" if kind == "ma_crossover" else f"replay:{kind}:"
    return f"{prefix}{dataset}/{symbol}"


def replay_policy(
    prices: pd.DataFrame,
    policy: RetrainPolicy,
    *,
    model_factory: ModelFactory | None = None,
    initial_train_bars: int = 750,
    train_window_bars: int | None = 750,
    spec: BacktestSpec | None = None,
    compare_fn: CompareFn | None = None,
    progress: Progress | None = None,
    cancel: CheckCancel | None = None,
) -> list[RetrainDecision]:
    """Step :class:`RetrainController` through ``prices`` and return its decisions.

    The first champion is trained on bars ``0 .. initial_train_bars - 1``; from then on
    the controller sees one more bar at a time. A model trained up to bar ``end`` uses
    the trailing ``train_window_bars`` bars before ``end`` (all of them when None). Its
    out-of-sample returns are those of its positions under the workbench execution
    convention with ``fees + slippage`` per unit traded.

    Parameters
    ----------
    prices : DataFrame
    policy : RetrainPolicy
    model_factory : callable ``(prices_train) -> RuleModel``, optional
        Default :func:`ma_crossover_factory`.
    initial_train_bars, train_window_bars : int
    spec : BacktestSpec, optional
    compare_fn : optional
        Overrides the policy's comparison.
    progress : callable, optional
        ``progress(fraction, message)`` every :data:`PROGRESS_BARS` bars and at the end.
    cancel : callable, optional
        Called before the first champion is trained and every :data:`PROGRESS_BARS` bars;
        it raises to stop the replay.
    """
    spec = spec or BacktestSpec()
    factory = model_factory or ma_crossover_factory(spec=spec)
    if not 260 <= initial_train_bars < len(prices):
        raise ValueError(
            f"initial_train_bars must be in [260, {len(prices) - 1}], got {initial_train_bars}"
        )
    gap, session = bar_legs(prices)
    cost = spec.fees + spec.slippage
    returns_cache: dict[str, np.ndarray] = {}

    def train(end: int) -> ModelHandle:
        lo = 0 if train_window_bars is None else max(0, end - train_window_bars)
        model = factory(prices.iloc[lo:end])
        args = ",".join(f"{k}={v}" for k, v in model.params.items() if k != "allow_short")
        model_id = f"{model.strategy}({args})@{prices.index[end - 1].date()}"
        if model_id not in returns_cache:
            pos = model.positions(prices).to_numpy(dtype=np.float64)
            returns_cache[model_id] = position_returns(pos, gap, session, cost)
        return ModelHandle(id=model_id, trained_until=end, payload=model, description=args)

    def evaluate(model: ModelHandle, start: int, end: int) -> pd.Series:
        return pd.Series(returns_cache[model.id][start:end], index=prices.index[start:end])

    controller = RetrainController(
        policy=policy, train_fn=train, evaluate_fn=evaluate, compare_fn=compare_fn
    )
    if cancel is not None:
        cancel()
    controller.start(initial_train_bars)
    first, total = initial_train_bars + 1, len(prices) - initial_train_bars
    for t in range(first, len(prices) + 1):
        controller.on_bar(t, as_of=prices.index[t - 1])
        done = t - initial_train_bars
        if done % PROGRESS_BARS == 0 and done < total:
            if progress is not None:
                progress(done / total, f"{done:,}/{total:,} bars replayed")
            if cancel is not None:
                cancel()
    if progress is not None:
        progress(1.0, f"{len(controller.decisions)} decisions over {total:,} bars")
    return controller.decisions


def decisions_frame(decisions: Sequence[RetrainDecision]) -> pd.DataFrame:
    """Decisions as a table (numbers flattened into ``n_<name>`` columns)."""
    rows = []
    for d in decisions:
        row = d.as_dict()
        numbers = row.pop("numbers")
        row.update({f"n_{k}": v for k, v in numbers.items()})
        rows.append(row)
    return pd.DataFrame(rows)
