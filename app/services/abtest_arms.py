"""A/B arms: what each arm is called and its daily returns (:mod:`app.services.abtest`
tests them together)."""

from __future__ import annotations

from typing import Any, cast

import pandas as pd

from app.operations.abtest import CompareRequest, parse_arm
from app.operations.backtest import BacktestRequest
from app.services import runs as run_store
from app.services.backtest import run_backtest as backtest_strategy


def arm_label(arm: str) -> str:
    """What the user reads for an arm: a registered model's name and version
    ("momentum_lr v2"), a saved run's id and title ("run #7 ma_crossover SP500 fast=20"),
    a strategy with its parameters ("ma_crossover (fast=20, slow=100)").

    An id that names nothing keeps the arm's own text (building the arm then says so).
    """
    kind, payload = parse_arm(arm)
    if kind == "model":
        from app.services import registry

        version = next((v for v in registry.list_versions() if v.id == payload), None)
        return arm if version is None else f"{version.name} v{version.version}"
    if kind == "run":
        try:
            run = run_store.get_run(int(payload))  # type: ignore[arg-type]
        except LookupError:
            return arm
        return f"run #{run.id} {run.title}"
    params = ", ".join(f"{k}={v}" for k, v in cast(dict[str, Any], payload).items())
    return f"{kind} ({params})" if params else kind


def arm_labels(arms: list[str]) -> list[str]:
    """:func:`arm_label` of each arm, made unique by the arm's letter when two read alike
    (``"ma_crossover (fast=20) [A]"``)."""
    labels = [arm_label(arm) for arm in arms]
    return [
        f"{label} [{'ABCDEF'[i]}]" if labels.count(label) > 1 else label
        for i, label in enumerate(labels)
    ]


def arm_returns(request: CompareRequest, arm: str) -> pd.Series:
    """Daily returns of one arm (named by the arm's text)."""
    kind, payload = parse_arm(arm)
    if kind == "model":
        return _model_returns(request, int(payload), arm)  # type: ignore[arg-type]
    if kind == "run":
        run = run_store.get_run(int(payload))  # type: ignore[arg-type]
        if run.kind != "backtest":
            raise ValueError(f"run {payload} is a {run.kind}; pick a saved backtest")
        return run_store.load_frame(run, "curves")["returns"].rename(arm)
    outcome = backtest_strategy(
        BacktestRequest(
            dataset=request.dataset,
            symbol=request.symbol,
            strategy=kind,
            params=payload,
            fees=request.fees,
            slippage=request.slippage,  # type: ignore[arg-type]
            start=request.start,
            end=request.end,
        ),
        save=False,
    )
    return outcome.returns.rename(arm)


def _model_returns(request: CompareRequest, version_id: int, arm: str) -> pd.Series:
    """Daily returns of a registered model's signal, on dates after its training data."""
    from app.services import registry
    from app.services.data import load_prices
    from core.backtest import run_backtest
    from core.backtest.spec import BacktestSpec
    from core.features import compute_features
    from core.ml import signal_positions

    version = next((v for v in registry.list_versions() if v.id == version_id), None)
    if version is None:
        raise LookupError(f"no model version with id {version_id}")
    model = registry.load_version(version_id)  # checksum verified
    prices = load_prices(request.dataset, request.symbol, start=request.start, end=request.end)
    features = compute_features(prices, version.features).dropna()
    features = features.loc[features.index > pd.Timestamp(version.train_end)]
    if len(features) < 30:
        raise ValueError(
            f"model {version.name} v{version.version} was trained up to {version.train_end}; "
            f"{request.dataset}/{request.symbol} has too few later bars to test it out of sample"
        )
    proba = pd.Series(model.predict_proba(features)[:, 1], index=features.index)
    window = prices.loc[features.index[0] :]
    signal = cast(pd.Series, signal_positions(proba, 0.5))  # Series in, Series out
    positions = signal.reindex(window.index).fillna(0.0)
    costs = BacktestSpec(fees=request.fees, slippage=request.slippage)
    return run_backtest(window, positions, costs).returns.rename(arm)
