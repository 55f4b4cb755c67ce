"""Dataset loaders behind one interface: embedded, imported, synthetic and online.

Every loader returns the canonical frame produced by
:func:`core.data.validation.validate_frame`, so downstream code sees one shape.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.config import get_settings
from core.data.listing import EMBEDDED_FILES, DatasetInfo, SymbolInfo, verified_entry

if TYPE_CHECKING:  # pandas, the validation rules and the generator load with the frames
    import pandas as pd


class DataSourceError(RuntimeError):
    """A data source could not deliver (offline, timed out, unknown symbol, no keys)."""


class DataSource(Protocol):
    """What every loader provides."""

    name: str
    description: str
    source: str
    license: str

    def symbols(self) -> list[str]:
        """Symbols this source can load."""
        ...

    def load(self, symbol: str) -> pd.DataFrame:
        """The canonical frame of one symbol."""
        ...


def interval_text(index: pd.Index) -> str:
    """A frame's bar interval as listed (``1D``, ``1min``...; ``1D`` when none can be read)."""
    from core.data.frequency import freq_of

    try:
        return freq_of(index)
    except ValueError:
        return "1D"


def _symbol_info(symbol: str, frame: pd.DataFrame) -> SymbolInfo:
    return SymbolInfo(
        symbol,
        frame.index[0].date(),
        frame.index[-1].date(),
        len(frame),
        tuple(frame.columns),
        interval_text(frame.index),
    )


def _unknown(dataset: str, symbol: str, known: list[str]) -> DataSourceError:
    return DataSourceError(
        f"dataset '{dataset}' has no symbol '{symbol}'; choose one of {', '.join(known)}"
    )


class EmbeddedOHLCV:
    """Daily OHLCV of AAPL, IBM, MSFT, GOOG (2000-2013) and SP500, NASDAQ (1999-2018)."""

    name = "ohlcv_daily"
    description = "Daily split-adjusted OHLCV: 4 US stocks 2000-2013, S&P 500 and NASDAQ 1999-2018"
    source = "bokeh-sampledata (Quandl WIKI stocks); arch (S&P 500, NASDAQ Composite)"
    license = "Public domain (stocks); NCSA (arch datasets)"

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def _long(self) -> pd.DataFrame:
        return _read_parquet(self._path)

    def symbols(self) -> list[str]:
        """Symbols in file order."""
        return sorted(self._long["symbol"].unique().tolist())

    def load(self, symbol: str) -> pd.DataFrame:
        """Canonical frame for ``symbol``."""
        long = self._long
        rows = long[long["symbol"] == symbol]
        if rows.empty:
            raise _unknown(self.name, symbol, self.symbols())
        raw = rows.drop(columns="symbol").set_index("date")
        if _listed(self._path, self.name) and _canonical(raw):
            return _as_canonical(raw)
        from core.data.validation import validate_frame

        return validate_frame(raw, source=f"{self.name}/{symbol}", ohlc="warn").frame


class EmbeddedCloses:
    """Adjusted daily closes of 20 large US stocks and the S&P 500, 1990-2022."""

    name = "sp500_closes"
    description = "Adjusted daily closes: 20 large US stocks and the S&P 500 index, 1990-2022"
    source = "skfolio (sp500_dataset, sp500_index)"
    license = "BSD-3-Clause"

    def __init__(self, path: Path) -> None:
        self._path = path

    def symbols(self) -> list[str]:
        """Column order of the file."""
        return list(_read_parquet(self._path).columns)

    def load(self, symbol: str) -> pd.DataFrame:
        """Close-only canonical frame for ``symbol``."""
        wide = _read_parquet(self._path)
        if symbol not in wide.columns:
            raise _unknown(self.name, symbol, list(wide.columns))
        raw = wide[[symbol]].rename(columns={symbol: "close"})
        if _listed(self._path, self.name) and _canonical(raw):
            return _as_canonical(raw)
        from core.data.validation import validate_frame

        return validate_frame(raw, source=f"{self.name}/{symbol}", ohlc="warn").frame


class SyntheticSource:
    """Seeded regime-switching prices; symbols are ``seed-<N>``."""

    name = "synthetic"
    description = "Seeded regime-switching prices with known regimes (5,000 bars)"
    source = "core.data.synthetic (generated)"
    license = "n/a"

    def symbols(self) -> list[str]:
        """Five ready-made seeds."""
        return [f"seed-{n}" for n in range(1, 6)]

    def load(self, symbol: str) -> pd.DataFrame:
        """Canonical frame for ``seed-N``."""
        from core.data.synthetic import SyntheticSpec, generate

        try:
            seed = int(symbol.removeprefix("seed-"))
        except ValueError as exc:
            raise _unknown(self.name, symbol, self.symbols()) from exc
        prices, _ = generate(SyntheticSpec(seed=seed))
        return prices


class SyntheticMinutesSource:
    """Seeded 1-minute bars on NYSE hours (20 sessions from 4 Mar 2024, UTC close times),
    under the tickers of ``ohlcv_daily`` so that a session's symbols exist in both."""

    name = "synthetic_minutes"
    description = (
        "Seeded synthetic 1-minute bars on NYSE hours, 20 sessions (7,800 bars; 20% vol, 5% drift)"
    )
    source = "core.data.synthetic.synthetic_intraday (generated)"
    license = "n/a"
    START, DAYS = "2024-03-04", 20
    SYMBOLS = ("AAPL", "GOOG", "IBM", "MSFT", "NASDAQ", "SP500")

    def symbols(self) -> list[str]:
        """The tickers of ``ohlcv_daily``."""
        return list(self.SYMBOLS)

    def load(self, symbol: str) -> pd.DataFrame:
        """Canonical frame of one symbol (its own seed: loading one never needs the others)."""
        from core.data.synthetic import synthetic_intraday

        if symbol not in self.SYMBOLS:
            raise _unknown(self.name, symbol, self.symbols())
        seed = 1_000 + self.SYMBOLS.index(symbol)
        bars = synthetic_intraday([symbol], start=self.START, days=self.DAYS, seed=seed)
        return bars[symbol]


def _with_deadline(fn: Callable[[], pd.DataFrame], *, seconds: float, what: str) -> pd.DataFrame:
    pool = cf.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn)
    try:
        return future.result(timeout=seconds)
    except cf.TimeoutError as exc:
        raise DataSourceError(
            f"{what} did not answer within {seconds:.0f} s; you may be offline. "
            "Use an embedded dataset, or raise WORKBENCH_ONLINE_TIMEOUT_S"
        ) from exc
    except DataSourceError:
        raise
    except Exception as exc:
        raise DataSourceError(f"{what} failed: {exc}. Use an embedded dataset instead.") from exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class YFinanceSource:
    """Yahoo Finance daily bars through yfinance (online, optional)."""

    name = "yfinance"
    description = "Yahoo Finance daily bars (online)"
    source = "yfinance"
    license = "Yahoo terms of use; personal research only"

    def __init__(self, *, timeout_s: float, start: str = "2000-01-01") -> None:
        self._timeout = timeout_s
        self._start = start

    def symbols(self) -> list[str]:
        """Any ticker Yahoo knows; none listed offline."""
        return []

    def load(self, symbol: str) -> pd.DataFrame:
        """Download and validate daily bars for ``symbol``."""

        def fetch() -> pd.DataFrame:
            import yfinance as yf

            raw = yf.Ticker(symbol).history(
                start=self._start, interval="1d", auto_adjust=True, timeout=self._timeout
            )
            if raw is None or raw.empty:
                raise DataSourceError(f"yfinance returned no rows for '{symbol}'")
            return raw

        raw = _with_deadline(fetch, seconds=self._timeout, what=f"yfinance ({symbol})")
        from core.data.validation import validate_frame

        raw.index = raw.index.tz_localize(None) if raw.index.tz is not None else raw.index
        cols = ["Open", "High", "Low", "Close", "Volume"]
        return validate_frame(raw[cols], source=f"yfinance/{symbol}", ohlc="warn").frame


class AlpacaSource:
    """Alpaca daily bars through alpaca-py's ``StockHistoricalDataClient`` (online)."""

    name = "alpaca"
    description = "Alpaca market data, daily bars (online, needs API keys)"
    source = "alpaca-py"
    license = "Alpaca market data terms"

    def __init__(
        self, *, timeout_s: float, start: str = "2016-01-01", url_override: str | None = None
    ) -> None:
        self._timeout = timeout_s
        self._start = start
        self._url = url_override

    def symbols(self) -> list[str]:
        """Any US equity; none listed offline."""
        return []

    def load(self, symbol: str) -> pd.DataFrame:
        """Download and validate daily bars for ``symbol``.

        The endpoint is ``url_override``, else ``WORKBENCH_ALPACA_DATA_URL``, else
        Alpaca's public data API. Daily bars are stamped at midnight New York time;
        their New York date becomes the index.
        """
        settings = get_settings()
        key, secret = settings.secret("ALPACA_API_KEY"), settings.secret("ALPACA_SECRET_KEY")
        if key is None or secret is None:
            raise DataSourceError(
                "Alpaca keys missing: set ALPACA_API_KEY and ALPACA_SECRET_KEY in the "
                "environment or in .streamlit/secrets.toml"
            )
        url = self._url or settings.alpaca_data_url or None
        import pandas as pd

        from core.data.validation import validate_frame

        def fetch() -> pd.DataFrame:
            from alpaca.common.exceptions import APIError
            from alpaca.data.historical import StockHistoricalDataClient
            from alpaca.data.requests import StockBarsRequest
            from alpaca.data.timeframe import TimeFrame

            client = StockHistoricalDataClient(
                key.get_secret_value(), secret.get_secret_value(), url_override=url
            )
            request = StockBarsRequest(
                symbol_or_symbols=symbol,
                timeframe=TimeFrame.Day,
                start=pd.Timestamp(self._start).to_pydatetime(),
            )
            try:
                # a BarSet unless raw_data=True; alpaca-py's annotation has no overload for it
                bars = client.get_stock_bars(request).df  # type: ignore[union-attr]
            except APIError as exc:
                status = getattr(exc, "status_code", None)
                if status in (401, 403):
                    raise DataSourceError(
                        f"Alpaca refused the API keys (HTTP {status}: {exc.message}); check "
                        "ALPACA_API_KEY and ALPACA_SECRET_KEY"
                    ) from exc
                raise DataSourceError(f"Alpaca answered HTTP {status}: {exc.message}") from exc
            if bars.empty:
                raise DataSourceError(f"Alpaca returned no bars for '{symbol}'")
            return bars

        bars = _with_deadline(fetch, seconds=self._timeout, what=f"Alpaca ({symbol})")
        if isinstance(bars.index, pd.MultiIndex):
            bars = bars.xs(symbol, level="symbol")
        stamps = pd.DatetimeIndex(bars.index)
        stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps
        bars.index = stamps.tz_convert("America/New_York").tz_localize(None).normalize()
        bars.index.name = "date"
        cols = ["open", "high", "low", "close", "volume"]
        return validate_frame(bars[cols], source=f"alpaca/{symbol}", ohlc="warn").frame


_CANONICAL_ORDER = ("open", "high", "low", "close", "volume")


def _listed(path: Path, dataset: str) -> bool:
    """Whether ``path`` still has the SHA-256 recorded in the stored listing for ``dataset``.

    The listing (``CATALOG.json``, :func:`core.data.catalog.write_listing`) is written after
    every symbol of the file passed :func:`~core.data.validation.validate_frame`; a match
    means these exact bytes were validated, so loading them need not validate again. The
    answer is cached per file version (size and modification time), so a file replaced
    while the process runs is checked again.
    """
    try:
        stat = path.stat()
    except OSError:
        return False
    return _listed_version(path, dataset, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _listed_version(path: Path, dataset: str, _size: int, _mtime_ns: int) -> bool:
    entry = verified_entry(path.parent, dataset)
    return entry is not None and entry.get("file") == path.name and bool(entry.get("sha256"))


def _canonical(raw: pd.DataFrame) -> bool:
    """Whether ``raw`` already has the canonical shape (then validation returns it as is,
    up to the index unit): a sorted, unique, naive ``date`` index and finite float64
    columns in canonical order."""
    import numpy as np
    import pandas as pd

    index = raw.index
    columns = [str(c) for c in raw.columns]
    return (
        isinstance(index, pd.DatetimeIndex)
        and index.tz is None
        and index.name == "date"
        and index.is_monotonic_increasing
        and index.is_unique
        and "close" in columns
        and columns == [c for c in _CANONICAL_ORDER if c in columns]
        and all(dtype == np.float64 for dtype in raw.dtypes)
        and bool(np.isfinite(raw.to_numpy()).all())
    )


def _as_canonical(raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` with the validated frame's nanosecond index (a copy, not a view)."""
    frame = raw.copy()
    frame.index = frame.index.as_unit("ns")
    return frame


@lru_cache(maxsize=8)
def _read_parquet(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataSourceError(
            f"embedded data file {path} is missing; run `make data` or restore it from git"
        )
    # ``pd.read_parquet`` goes through pyarrow.dataset (10-15 ms to import) for one file
    # that a ParquetFile reads into the same frame (pandas metadata included).
    import pyarrow.parquet as pq  # type: ignore[import-untyped]  # pyarrow ships no stubs

    frame: pd.DataFrame = pq.ParquetFile(path).read().to_pandas()
    return frame


def embedded_sources(data_dir: Path | None = None) -> dict[str, DataSource]:
    """The offline datasets, by name."""
    folder = data_dir or get_settings().data_dir
    return {
        "ohlcv_daily": EmbeddedOHLCV(folder / str(EMBEDDED_FILES["ohlcv_daily"])),
        "sp500_closes": EmbeddedCloses(folder / str(EMBEDDED_FILES["sp500_closes"])),
        "synthetic": SyntheticSource(),
        "synthetic_minutes": SyntheticMinutesSource(),
    }


def describe(source: DataSource, *, description: str, origin: str, license: str) -> DatasetInfo:
    """Build a :class:`DatasetInfo` by loading each symbol of ``source``."""
    infos = tuple(_symbol_info(sym, source.load(sym)) for sym in source.symbols())
    return DatasetInfo(source.name, description, origin, license, infos)
