"""Embedded datasets, synthetic generator and online-source failure modes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from core.data.loaders import AlpacaSource, DataSourceError, YFinanceSource, embedded_sources
from core.data.synthetic import REGIMES, SyntheticSpec, generate, regime_params
from tests.fakes.alpaca_data_server import FakeAlpacaData, seeded_bars


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


# ------------------------------------------------------------------ Alpaca data, faked
@pytest.fixture
def fake_data() -> Iterator[FakeAlpacaData]:
    fake = FakeAlpacaData(page_size=40).start()
    try:
        yield fake
    finally:
        fake.close()


def _point_at(
    fake: FakeAlpacaData, monkeypatch: pytest.MonkeyPatch, secret: str | None = None
) -> None:
    from core.config import get_settings

    monkeypatch.setenv("ALPACA_API_KEY", fake.key)
    monkeypatch.setenv("ALPACA_SECRET_KEY", secret or fake.secret)
    monkeypatch.setenv("WORKBENCH_ALPACA_DATA_URL", fake.url)
    get_settings.cache_clear()


def test_alpaca_loader_honours_the_data_url_and_reads_every_page(
    fake_data: FakeAlpacaData, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 100 bars across the 2021-03-14 DST change, served 40 per page: 3 requests.
    fake_data.bars["AAPL"] = bars = seeded_bars(100, seed=3, start="2021-02-01")
    _point_at(fake_data, monkeypatch)
    frame = AlpacaSource(timeout_s=20).load("AAPL")
    assert [path for path, _ in fake_data.requests] == ["/v2/stocks/bars"] * 3
    assert fake_data.requests[0][1]["timeframe"] == "1Day"
    assert fake_data.requests[0][1]["symbols"] == "AAPL"
    assert len(frame) == 100
    # New York dates, not UTC ones, and exactly the values served
    assert list(frame.index) == [pd.Timestamp(b.day) for b in bars]
    assert frame["close"].tolist() == [b.close for b in bars]
    assert frame["volume"].tolist() == [b.volume for b in bars]
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]


def test_alpaca_data_service_uses_the_configured_url(
    fake_data: FakeAlpacaData, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services import data

    fake_data.bars["MSFT"] = seeded_bars(5, seed=4)
    _point_at(fake_data, monkeypatch)
    frame = data.load_prices("alpaca", "MSFT")
    assert frame["close"].tolist() == [b.close for b in fake_data.bars["MSFT"]]


def test_alpaca_wrong_secret_is_a_clear_error(
    fake_data: FakeAlpacaData, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_data.bars["AAPL"] = seeded_bars(5, seed=5)
    _point_at(fake_data, monkeypatch, secret="wrong-secret")
    with pytest.raises(
        DataSourceError, match=r"refused the API keys \(HTTP 401.*ALPACA_SECRET_KEY"
    ):
        AlpacaSource(timeout_s=20).load("AAPL")


def test_embedded_source_defects_are_kept_with_a_warning_not_hidden() -> None:
    # The Quandl AAPL series has 10 bars whose close or open lies outside [low, high]
    # (checked with pandas directly on the Parquet file); uploads would be refused.
    long = pd.read_parquet(embedded_sources()["ohlcv_daily"]._path)
    aapl = long[long["symbol"] == "AAPL"]
    outside = (
        (aapl["close"] > aapl["high"])
        | (aapl["close"] < aapl["low"])
        | (aapl["open"] > aapl["high"])
        | (aapl["open"] < aapl["low"])
    )
    assert int(outside.sum()) == 10
    from core.data.validation import DataValidationError, validate_frame

    raw = aapl.drop(columns="symbol").set_index("date")
    with pytest.raises(DataValidationError):
        validate_frame(raw)
    kept = validate_frame(raw, ohlc="warn")
    assert len(kept.frame) == len(aapl)
    assert any("kept as supplied by the source" in w for w in kept.warnings)
