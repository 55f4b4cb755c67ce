"""Backtest service: regime-filtered backtests (no look-ahead) and multi-asset portfolios."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from app.operations.backtest import BacktestRequest, PortfolioRequest
from app.services.backtest import run_backtest, run_portfolio
from app.services.data import load_prices
from core.backtest.weights import target_weights

BASE = {"dataset": "ohlcv_daily", "symbol": "SP500", "strategy": "buy_and_hold"}


def test_regime_filter_positions_do_not_depend_on_later_data() -> None:
    short = run_backtest(
        BacktestRequest(
            **BASE,
            start=date(2005, 1, 3),
            end=date(2010, 12, 31),
            regime_mode="filter",
            regimes=["bull", "sideways"],
        ),
        save=False,
    )
    long = run_backtest(
        BacktestRequest(
            **BASE,
            start=date(2005, 1, 3),
            end=date(2018, 12, 31),
            regime_mode="filter",
            regimes=["bull", "sideways"],
        ),
        save=False,
    )
    overlap = short.positions.index
    pd.testing.assert_series_equal(short.positions, long.positions.loc[overlap])
    assert 0.3 < short.positions.mean() < 0.95  # the filter really gates
    assert "fitted on 750 bars 2002-01-10..2004-12-31" in short.regime_note


def test_regime_filter_flattens_bear_bars_and_scale_shrinks_size() -> None:
    gated = run_backtest(
        BacktestRequest(
            **BASE,
            start=date(2005, 1, 3),
            regime_mode="filter",
            regimes=["bull"],
            regime_min_prob=0.9,
        ),
        save=False,
    )
    plain = run_backtest(BacktestRequest(**BASE, start=date(2005, 1, 3)), save=False)
    assert gated.metrics["exposure"] < plain.metrics["exposure"] - 0.2
    scaled = run_backtest(BacktestRequest(**BASE, regime_mode="scale"), save=False)
    pos = scaled.positions
    assert (pos.loc[:"2001-12-27"] == 0).all()  # training bars stay flat
    later = pos.loc["2002-01-02":]
    assert later.between(0.25, 1.0).all() and later.min() < 0.99


def test_regime_filter_needs_regimes() -> None:
    with pytest.raises(ValidationError, match="choose at least one regime"):
        BacktestRequest(**BASE, regime_mode="filter", regimes=[])


def test_equal_weight_portfolio_matches_hand_rebalanced_book() -> None:
    request = PortfolioRequest(
        dataset="sp500_closes",
        symbols=["KO", "PG"],
        weighting="equal",
        rebalance="none",
        fees=0.0,
        slippage=0.0,
        start=date(2015, 1, 2),
        end=date(2015, 12, 31),
    )
    outcome = run_portfolio(request, save=False)
    closes = pd.DataFrame(
        {
            s: load_prices("sp500_closes", s, start=request.start, end=request.end)["close"]
            for s in request.symbols
        }
    )
    # No costs, closes only, weights set once (bar 0 target filled at bar 1's close), then drift.
    shares = 0.5 * request.init_cash / closes.iloc[1]
    expected = (closes.iloc[1:] * shares).sum(axis=1)
    np.testing.assert_allclose(outcome.equity.iloc[1:].to_numpy(), expected.to_numpy(), rtol=1e-9)


def test_inverse_vol_weights_are_causal_and_sum_to_gross() -> None:
    closes = pd.DataFrame(
        {s: load_prices("sp500_closes", s)["close"] for s in ("AAPL", "KO", "XOM")}
    )
    request = PortfolioRequest(
        dataset="sp500_closes", symbols=list(closes), weighting="inverse_vol", gross=0.8
    )
    options = {"weighting": request.weighting, "vol_window": request.vol_window, "gross": 0.8}
    weights = target_weights(closes, **options)
    cut = 3000
    truncated = target_weights(closes.iloc[: cut + 1], **options)
    pd.testing.assert_series_equal(weights.iloc[cut], truncated.iloc[cut])
    np.testing.assert_allclose(weights.iloc[100:].sum(axis=1), 0.8, atol=1e-12)
    # The calmest stock (KO) gets more weight than the most volatile (AAPL).
    assert (weights.iloc[100:]["KO"] > weights.iloc[100:]["AAPL"]).mean() > 0.9


def test_portfolio_rejects_duplicates_and_single_symbol() -> None:
    with pytest.raises(ValidationError):
        PortfolioRequest(dataset="sp500_closes", symbols=["KO"])
    with pytest.raises(ValidationError, match="once"):
        PortfolioRequest(dataset="sp500_closes", symbols=["KO", "KO"])
