"""Walk-forward validation: fold layout, stitching, no look-ahead, no edge on noise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from core.backtest import BacktestSpec
from core.ml.lookahead import LookaheadError
from core.ml.models import ModelSpec
from core.strategies import run_strategy
from core.sweep import equity_curves
from core.walkforward import (
    WalkForwardSpec,
    fold_windows,
    walk_forward_model,
    walk_forward_rule,
)
from tests.core.walkforward_golden_cases import noise_prices

GRID = {"fast": [5, 10, 20, 40], "slow": [50, 100, 150, 200]}
FEATURES = ["ret_1", "ret_5", "vol_21", "rsi_14", "zscore_20"]
H = 5


def _causal_planted(seed: int = 5, bars: int = 2000, beta: float = 0.002, phi: float = 0.8):
    """Prices whose next return follows a signal observed BEFORE it (knowable at t).

    ``signal`` is a unit-variance AR(1) (``phi``); ``r[t+1] = beta * signal[t] + e``, with
    ``e ~ N(0, 1%)``. The signal at t uses no later bar, so it passes the look-ahead
    check, and its information coefficient (about 0.19) is strong but plausible.
    """
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, 1.0, bars)
    signal = np.zeros(bars)
    for t in range(1, bars):
        signal[t] = phi * signal[t - 1] + np.sqrt(1 - phi**2) * shocks[t]
    ret = np.r_[0.0, beta * signal[:-1]] + rng.normal(0.0, 0.01, bars)
    idx = pd.bdate_range("2001-01-01", periods=bars, name="date")
    close = 100.0 * np.exp(np.cumsum(ret))
    prev = np.r_[100.0, close[:-1]]
    prices = pd.DataFrame(
        {
            "open": prev,
            "high": np.maximum(prev, close),
            "low": np.minimum(prev, close),
            "close": close,
            "volume": 1e6,
        },
        index=idx,
    )
    return prices, pd.DataFrame({"signal": signal}, index=idx)


def _assert_folds_layout(folds: pd.DataFrame, oos: pd.Series, index: pd.Index) -> None:
    assert (folds["train_end"] < folds["test_start"]).all()
    assert (folds["train_start"] <= folds["train_end"]).all()
    assert (folds["test_start"].iloc[1:].to_numpy() > folds["test_end"].iloc[:-1].to_numpy()).all()
    expected = np.concatenate(
        [
            index[(index >= r.test_start) & (index <= r.test_end)].to_numpy()
            for r in folds.itertuples()
        ]
    )
    np.testing.assert_array_equal(oos.index.to_numpy(), expected)
    assert oos.index.is_monotonic_increasing and oos.index.is_unique


def test_fold_windows() -> None:
    rolling = fold_windows(1000, WalkForwardSpec(train_bars=300, test_bars=100, step_bars=150))
    assert [(w.train_start, w.train_end, w.test_end) for w in rolling] == [
        (0, 300, 400),
        (150, 450, 550),
        (300, 600, 700),
        (450, 750, 850),
        (600, 900, 1000),
    ]
    anchored = fold_windows(1000, WalkForwardSpec(mode="anchored", train_bars=300, test_bars=100))
    assert all(w.train_start == 0 and w.train_end == w.test_start for w in anchored)
    assert len(anchored) == 7
    last = fold_windows(1000, WalkForwardSpec(train_bars=300, test_bars=100, folds=2))
    assert [w.test_start for w in last] == [800, 900]
    with pytest.raises(ValueError, match="folds fit"):
        fold_windows(1000, WalkForwardSpec(train_bars=300, test_bars=100, folds=8))
    with pytest.raises(ValueError, match="overlapping"):
        WalkForwardSpec(train_bars=300, test_bars=100, step_bars=50)


def test_rule_walk_forward_layout_and_positions() -> None:
    prices = noise_prices(1)
    bt = BacktestSpec()
    spec = WalkForwardSpec(train_bars=1000, test_bars=400)
    calls: list[float] = []
    wf = walk_forward_rule(
        prices, "ma_crossover", GRID, spec, bt, progress=lambda f, _: calls.append(f)
    )
    assert len(wf.folds) == 5 and wf.trials == 16
    assert all(isinstance(p["fast"], int) for p in wf.folds["params"])
    assert calls == sorted(calls) and calls[-1] == 1.0
    _assert_folds_layout(wf.folds, wf.oos_returns, prices.index)
    np.testing.assert_allclose(
        wf.oos_equity.to_numpy(), bt.init_cash * np.cumprod(1 + wf.oos_returns.to_numpy())
    )
    for row in wf.folds.itertuples():
        # causal: the OOS positions equal the chosen params run on the full sample
        full = run_strategy("ma_crossover", prices, row.params)
        window = wf.oos_positions.loc[row.test_start : row.test_end]
        np.testing.assert_array_equal(window.to_numpy(), full.loc[window.index].to_numpy())
        # each fold's returns equal a fresh backtest started flat on the last train bar
        lo = prices.index.get_loc(row.test_start)
        hi = prices.index.get_loc(row.test_end) + 1
        sub = prices.iloc[lo - 1 : hi]
        eq = equity_curves(sub, full.iloc[lo - 1 : hi].to_frame("p"), bt)["p"].to_numpy()
        np.testing.assert_allclose(
            wf.oos_returns.loc[row.test_start : row.test_end].to_numpy(), eq[1:] / eq[:-1] - 1
        )


def test_rule_walk_forward_uses_no_future_bars() -> None:
    """Cutting the data after fold 2's test window leaves folds 0-2 unchanged."""
    prices = noise_prices(2)
    spec = WalkForwardSpec(train_bars=1000, test_bars=400)
    full = walk_forward_rule(prices, "ma_crossover", GRID, spec)
    cut = walk_forward_rule(prices.iloc[: 1000 + 3 * 400], "ma_crossover", GRID, spec)
    assert len(cut.folds) == 3
    cols = ["params", "is_sharpe", "oos_sharpe", "oos_return"]
    pd.testing.assert_frame_equal(cut.folds[cols], full.folds[cols].iloc[:3])
    pd.testing.assert_series_equal(
        cut.oos_returns, full.oos_returns.loc[: cut.oos_returns.index[-1]]
    )


def test_rule_walk_forward_finds_no_edge_innoise_prices() -> None:
    """Driftless random walks: DSR never significant; PBO averages well above 0.

    CSCV on trend rules over a single random-walk path centres slightly below 0.5
    (about 0.4), because the path's realized drift is shared by the interleaved
    in-sample and out-of-sample blocks; single seeds scatter widely, so several are used.
    """
    spec = WalkForwardSpec(train_bars=1000, test_bars=400)
    dsr, pbo = [], []
    for seed in range(100, 108):
        wf = walk_forward_rule(noise_prices(seed), "ma_crossover", GRID, spec)
        dsr.append(wf.deflated_sharpe)
        pbo.append(wf.pbo)
        assert wf.pbo_detail is not None and wf.pbo_detail["n_combinations"] > 0
    assert max(dsr) < 0.95, dsr
    assert np.mean(pbo) >= 0.35, pbo


def test_rule_walk_forward_detects_a_real_trend_edge() -> None:
    """Control: on autocorrelated (trending) returns the same procedure finds the edge."""
    rng = np.random.default_rng(0)
    n = 3000
    shocks = rng.normal(0.0, 0.01, n)
    ret = np.empty(n)
    ret[0] = shocks[0]
    for t in range(1, n):
        ret[t] = 0.25 * ret[t - 1] + shocks[t]
    idx = pd.bdate_range("2000-01-03", periods=n, name="date")
    close = 100 * np.exp(np.cumsum(ret))
    # gapless bars (open = previous close), so a signal at close t earns bar t+1's return
    prices = pd.DataFrame({"open": np.r_[100.0, close[:-1]], "close": close}, index=idx)
    grid = {"fast": [1, 2, 3, 5], "slow": [5, 10, 20, 40]}
    wf = walk_forward_rule(
        prices,
        "ma_crossover",
        grid,
        WalkForwardSpec(train_bars=1000, test_bars=400),
        BacktestSpec(fees=0.0, slippage=0.0),
        fixed={"allow_short": True},
    )
    assert wf.deflated_sharpe > 0.95 and wf.pbo < 0.2 and wf.oos_sharpe > 1.0


@pytest.fixture(scope="module")
def planted_prices() -> tuple[pd.DataFrame, pd.DataFrame]:
    prices, signal = _causal_planted()
    from core.features import compute_features

    return prices, compute_features(prices, FEATURES).join(signal)


def test_model_walk_forward_learns_planted_signal(
    planted_prices: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """A signal knowable at t is found; the same model on price features alone is not."""
    prices, feats = planted_prices
    spec = WalkForwardSpec(train_bars=800, test_bars=240, folds=5)
    model = ModelSpec(kind="logistic")
    wf = walk_forward_model(prices, feats, model, spec, horizon=H)
    assert len(wf.folds) == 5 and wf.trials == 1 and wf.pbo is None
    assert wf.lookahead is not None and not wf.lookahead["leaky"]
    _assert_folds_layout(wf.folds, wf.oos_returns, prices.index)
    # the last H training rows have labels reaching into the test window: purged
    assert (wf.folds["n_purged"] == H).all()
    assert wf.oos_auc is not None and wf.oos_auc > 0.57, wf.oos_auc
    assert wf.oos_sharpe > 0.8 and wf.deflated_sharpe > 0.95
    assert wf.warnings == ()  # strong but plausible: no implausibility flag
    assert wf.oos_positions.between(0, 1).all()
    assert wf.oos_proba is not None and wf.oos_proba.index.equals(wf.oos_returns.index)
    control = walk_forward_model(prices, FEATURES, model, spec, horizon=H)
    assert control.oos_auc is not None and abs(control.oos_auc - 0.5) < 0.04, control.oos_auc
    assert wf.oos_auc > control.oos_auc + 0.05


def _next_return(prices: pd.DataFrame) -> pd.DataFrame:
    close = prices["close"]
    return pd.DataFrame({"next_return": close.shift(-1) / close - 1.0})


@pytest.mark.parametrize("as_callable", [False, True])
def test_a_feature_holding_the_next_return_is_refused(
    planted_prices: tuple[pd.DataFrame, pd.DataFrame], as_callable: bool
) -> None:
    """Regression: this leak used to give OOS Sharpe ~7, AUC 1.0, DSR 1.0 and no warning."""
    prices, _ = planted_prices
    leaky = _next_return if as_callable else _next_return(prices)
    spec = WalkForwardSpec(train_bars=800, test_bars=240, folds=3)
    with pytest.raises(LookaheadError, match="next_return") as caught:
        walk_forward_model(prices, leaky, ModelSpec(kind="logistic"), spec, horizon=1)
    assert "override the look-ahead check explicitly" in str(caught.value)
    assert caught.value.report.offending_columns == ("next_return",)


def test_an_overridden_leak_is_flagged_as_implausible(
    planted_prices: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    prices, _ = planted_prices
    spec = WalkForwardSpec(train_bars=800, test_bars=240, folds=3)
    wf = walk_forward_model(
        prices,
        _next_return(prices),
        ModelSpec(kind="logistic"),
        spec,
        horizon=1,
        allow_lookahead=True,
    )
    assert wf.oos_sharpe >= 4 and wf.oos_auc is not None and wf.oos_auc >= 0.9
    text = " | ".join(wf.warnings)
    assert "LOOK-AHEAD CHECK OVERRIDDEN" in text and "next_return" in text
    assert "implausible out-of-sample Sharpe" in text and "implausible out-of-sample AUC" in text
    assert wf.summary()["warnings"] == list(wf.warnings)


def test_model_walk_forward_uses_no_future_bars(
    planted_prices: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """Truncating after fold 1 leaves folds 0-1 identical (training purged of the test)."""
    prices, _ = planted_prices
    spec = WalkForwardSpec(train_bars=800, test_bars=300)
    model = ModelSpec(kind="logistic")
    full = walk_forward_model(prices, FEATURES, model, spec, horizon=H)
    cut = walk_forward_model(prices.iloc[: 800 + 2 * 300], FEATURES, model, spec, horizon=H)
    cols = ["n_train", "is_sharpe", "oos_sharpe", "oos_return"]
    pd.testing.assert_frame_equal(cut.folds[cols], full.folds[cols].iloc[:2])
    np.testing.assert_allclose(
        cut.oos_proba.to_numpy(), full.oos_proba.loc[: cut.oos_proba.index[-1]].to_numpy()
    )


def test_model_walk_forward_retunes(planted_prices: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    prices, feats = planted_prices
    spec = WalkForwardSpec(mode="anchored", train_bars=1200, test_bars=300, folds=2)
    wf = walk_forward_model(
        prices, feats, ModelSpec(kind="logistic"), spec, horizon=H, retune=True, n_trials=2
    )
    assert wf.trials == 2 and len(wf.folds) == 2
    assert all("C" in p for p in wf.folds["params"])
    assert wf.folds["train_start"].nunique() == 1  # anchored
    # DSR wiring: N = 2 tuning trials, V[SR] = 1 / (T - 1) (trials are scored by AUC)
    r = wf.oos_returns.to_numpy()
    expected = _bailey_lopez_de_prado_dsr(r, n_trials=2, sharpe_variance=1.0 / (len(r) - 1))
    assert wf.deflated_sharpe == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert wf.dsr["sr0"] > 0 and wf.deflated_sharpe < wf.dsr["psr"]
    assert "tuning trials" in wf.trial_counting


# ----- DSR wiring: recomputed from the walk-forward's own trials --------------------------
def _bailey_lopez_de_prado_dsr(r: np.ndarray, *, n_trials: int, sharpe_variance: float) -> float:
    """Deflated Sharpe ratio written out from Bailey & López de Prado (2014), eqs. 2 and 8.

    SR0 = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e))), g = Euler-Mascheroni;
    DSR = Z((SR - SR0) sqrt(T - 1) / sqrt(1 - skew SR + (kurt - 1) / 4 SR^2)).
    """
    from statistics import NormalDist

    z = NormalDist()
    gamma = 0.57721566490153286
    t = len(r)
    mean = r.mean()
    dev = r - mean
    sd = np.sqrt((dev**2).sum() / (t - 1))
    sr = mean / sd
    m2 = (dev**2).mean()
    # bias-corrected sample skewness and (Pearson) kurtosis, as in the paper's estimates
    g1 = (dev**3).mean() / m2**1.5
    skew = g1 * np.sqrt(t * (t - 1)) / (t - 2)
    g2 = (dev**4).mean() / m2**2 - 3.0
    kurt = ((t + 1) * g2 + 6.0) * (t - 1) / ((t - 2) * (t - 3)) + 3.0
    sr0 = 0.0  # the expected "maximum" of a single trial is its null mean
    if n_trials > 1:
        sr0 = np.sqrt(sharpe_variance) * (
            (1 - gamma) * z.inv_cdf(1 - 1 / n_trials) + gamma * z.inv_cdf(1 - 1 / (n_trials * np.e))
        )
    return z.cdf((sr - sr0) * np.sqrt(t - 1) / np.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))


def test_rule_walk_forward_dsr_is_deflated_by_its_own_trials() -> None:
    """Recompute the DSR from the 16 combinations' own out-of-sample Sharpe ratios.

    Fails if the number of trials were forced to 1 (SR0 would be 0 and DSR = PSR) or if
    the variance came from anything but these trials.
    """
    prices = noise_prices(3)
    bt = BacktestSpec()
    wf = walk_forward_rule(
        prices, "ma_crossover", GRID, WalkForwardSpec(train_bars=1000, test_bars=400), bt
    )
    assert wf.trials == 16 and wf.dsr["trials"] == 16
    lo = prices.index.get_loc(wf.folds["test_start"].iloc[0])
    hi = prices.index.get_loc(wf.folds["test_end"].iloc[-1]) + 1
    sharpes = []
    for fast in GRID["fast"]:
        for slow in GRID["slow"]:
            pos = run_strategy("ma_crossover", prices, {"fast": fast, "slow": slow})
            eq = equity_curves(prices, pos.to_frame("p"), bt)["p"].to_numpy()
            rets = np.r_[eq[0] / bt.init_cash - 1.0, eq[1:] / eq[:-1] - 1.0][lo:hi]
            sharpes.append(rets.mean() / rets.std(ddof=1))
    variance = float(np.var(sharpes, ddof=1))
    assert wf.dsr["sharpe_variance"] == pytest.approx(variance, rel=1e-9)
    r = wf.oos_returns.to_numpy()
    expected = _bailey_lopez_de_prado_dsr(r, n_trials=16, sharpe_variance=variance)
    assert wf.deflated_sharpe == pytest.approx(expected, rel=1e-9, abs=1e-12)
    undeflated = _bailey_lopez_de_prado_dsr(r, n_trials=1, sharpe_variance=variance)
    assert abs(undeflated - expected) > 0.01  # the deflation is material here
    assert "raw count of grid combinations" in wf.trial_counting
    assert 1.0 <= wf.dsr["effective_trials"] < 16  # correlated grid points: fewer effective


def test_model_walk_forward_dsr_without_tuning_is_the_psr(
    planted_prices: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """One model, one trial: SR0 = 0, so the DSR equals the PSR against 0 (recomputed)."""
    prices, feats = planted_prices
    spec = WalkForwardSpec(train_bars=800, test_bars=240, folds=3)
    wf = walk_forward_model(prices, feats, ModelSpec(kind="logistic"), spec, horizon=H)
    r = wf.oos_returns.to_numpy()
    expected = _bailey_lopez_de_prado_dsr(r, n_trials=1, sharpe_variance=1.0 / (len(r) - 1))
    assert wf.trials == 1 and wf.dsr["sr0"] == 0.0
    assert wf.deflated_sharpe == pytest.approx(expected, rel=1e-10, abs=1e-12)


# ----- progress and cancellation between folds ------------------------------------------
class _Stop(Exception):
    pass


def _cancel_after(calls: int) -> tuple[list[int], Callable[[], None]]:
    seen: list[int] = []

    def cancel() -> None:
        seen.append(len(seen))
        if len(seen) > calls:
            raise _Stop

    return seen, cancel


def test_rule_walk_forward_reports_each_fold_and_stops_when_cancelled() -> None:
    prices = noise_prices(1)
    spec = WalkForwardSpec(train_bars=1000, test_bars=400)  # 5 folds on 3,000 bars
    steps: list[tuple[float, str]] = []
    wf = walk_forward_rule(
        prices, "ma_crossover", GRID, spec, progress=lambda f, m: steps.append((f, m))
    )
    assert len(wf.folds) == 5
    assert steps == [(k / 6, f"fold {k} of 5 done") for k in range(1, 6)] + [(1.0, "done")]

    steps.clear()
    seen, cancel = _cancel_after(2)
    with pytest.raises(_Stop):
        walk_forward_rule(
            prices,
            "ma_crossover",
            GRID,
            spec,
            progress=lambda f, m: steps.append((f, m)),
            cancel=cancel,
        )
    # checked before folds 1, 2 and 3: the third check stops it after two folds
    assert len(seen) == 3 and [m for _, m in steps] == ["fold 1 of 5 done", "fold 2 of 5 done"]


def test_model_walk_forward_cancelled_before_the_first_fold_fits_nothing(
    planted_prices: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    prices, feats = planted_prices
    steps: list[str] = []
    seen, cancel = _cancel_after(0)
    with pytest.raises(_Stop):
        walk_forward_model(
            prices,
            feats,
            ModelSpec(kind="logistic"),
            WalkForwardSpec(train_bars=800, test_bars=240, folds=3),
            horizon=H,
            progress=lambda f, m: steps.append(m),
            cancel=cancel,
        )
    assert seen == [0] and steps == []
