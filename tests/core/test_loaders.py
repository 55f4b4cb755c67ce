"""Embedded datasets, synthetic generator and online-source failure modes."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from core.data.loaders import AlpacaSource, DataSourceError, YFinanceSource, embedded_sources
from core.data.synthetic import REGIMES, SyntheticSpec, generate, regime_params


def test_ohlcv_daily_symbols_and_ranges() -> None:
    src = embedded_sources()["ohlcv_daily"]
    assert src.symbols() == ["AAPL", "GOOG", "IBM", "MSFT", "NASDAQ", "SP500"]
    sp = src.load("SP500")
    assert len(sp) == 5031
    assert sp.index[0] == pd.Timestamp("1999-01-04") and sp.index[-1] == pd.Timestamp("2018-12-31")
    # Published S&P 500 closes, independent of our pipeline.
    assert sp.loc["2018-12-31", "close"] == pytest.approx(2506.850098)
    assert sp.loc["1999-01-04", "close"] == pytest.approx(1228.099976)


def test_stocks_are_split_adjusted() -> None:
    aapl = embedded_sources()["ohlcv_daily"].load("AAPL")
    # AAPL split 2:1 on 2005-02-28; an unadjusted series would fall ~50% overnight.
    jump = aapl.loc["2005-02-28", "open"] / aapl.loc["2005-02-25", "close"] - 1
    assert abs(jump) < 0.1
    assert (aapl["high"] >= aapl["low"]).all()
    assert list(aapl.columns) == ["open", "high", "low", "close", "volume"]


def test_sp500_closes_has_21_close_only_symbols() -> None:
    src = embedded_sources()["sp500_closes"]
    assert len(src.symbols()) == 21 and "SP500" in src.symbols()
    msft = src.load("MSFT")
    assert list(msft.columns) == ["close"]
    assert msft.index[0] == pd.Timestamp("1990-01-02") and len(msft) == 8313


def test_unknown_symbol_lists_choices() -> None:
    with pytest.raises(DataSourceError, match=r"choose one of .*SP500"):
        embedded_sources()["ohlcv_daily"].load("TSLA")


def test_synthetic_generator_is_seeded_and_matches_its_parameters() -> None:
    spec = SyntheticSpec(bars=20000, seed=7)
    a, regimes = generate(spec)
    b, _ = generate(spec)
    pd.testing.assert_frame_equal(a, b)
    log_ret = np.log(a["close"]).diff()
    mu, sd = regime_params(spec)
    for k, name in enumerate(REGIMES):
        observed = log_ret[regimes == name].dropna()
        assert observed.std() == pytest.approx(sd[k], rel=0.08)
        assert observed.mean() == pytest.approx(mu[k], abs=4 * sd[k] / np.sqrt(len(observed)))
    durations = regimes.ne(regimes.shift()).cumsum().value_counts()
    assert durations.mean() == pytest.approx(60, rel=0.25)


def test_yfinance_fails_fast_offline() -> None:
    started = time.monotonic()
    with pytest.raises(DataSourceError, match="yfinance"):
        YFinanceSource(timeout_s=3).load("AAPL")
    assert time.monotonic() - started < 10


def test_alpaca_without_keys_says_which_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALPACA_API_KEY", raising=False)
    monkeypatch.delenv("ALPACA_SECRET_KEY", raising=False)
    with pytest.raises(DataSourceError, match="ALPACA_API_KEY"):
        AlpacaSource(timeout_s=2).load("AAPL")


def test_alpaca_times_out_against_a_silent_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    monkeypatch.setenv("ALPACA_API_KEY", "k")
    monkeypatch.setenv("ALPACA_SECRET_KEY", "s")
    started = time.monotonic()
    with pytest.raises(DataSourceError, match="did not answer within 2 s"):
        AlpacaSource(timeout_s=2, url_override=f"http://127.0.0.1:{port}").load("AAPL")
    assert time.monotonic() - started < 5
    server.close()
